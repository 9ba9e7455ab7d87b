//! The KIS implementation of the [`Broker`] port: the typed REST client plus the real-time feed.
//! One adapter speaks for one market ([`MarketRegion`]): the domestic one is built with
//! [`KisBroker::new`], its US sibling with [`KisBroker::us`], which shares the client (token,
//! limiter, breakers) and the one real-time socket (`broker_us.rs` maps the port to the overseas
//! endpoints and channels).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDate;
use futures::future::BoxFuture;
use tokio::sync::mpsc;

use super::config::KisConfig;
use super::http::client::KisRest;
use super::ws::feed::{Feed, FeedBackend, FeedOutputs, FeedSettings};
use crate::domain::market::{
    AccountSnapshot, BrokerFill, BrokerOrder, CancelRequest, DailyBar, Holiday, ModifyRequest, OrderAck,
    OrderBook, OrderRequest, Quote, Subscription,
};
use crate::domain::overseas::UsExchange;
use crate::domain::{MarketRegion, Symbol};
use crate::ports::{Broker, BrokerError, BrokerFuture, BrokerStreams, Clock, Secret, TokenStore};

impl FeedBackend for KisRest {
    fn approval_key(&self, renew: bool) -> BoxFuture<'_, Result<Secret, BrokerError>> {
        Box::pin(self.tokens().approval_key(renew))
    }
}

/// A KIS account behind the [`Broker`] port, for one market.
#[derive(Debug)]
pub struct KisBroker {
    pub(super) rest: Arc<KisRest>,
    pub(super) feed: Arc<Feed>,
    streams: Arc<Mutex<Option<BrokerStreams>>>,
    pub(super) region: MarketRegion,
    /// The venue of each US instrument (the overseas endpoints name the exchange with every
    /// ticker; the port's calls give only the symbol).
    pub(super) us_venues: Arc<BTreeMap<Symbol, UsExchange>>,
}

impl KisBroker {
    /// Builds the adapter for `account` (`CANO-ACNT_PRDT_CD`); nothing is sent until first use.
    ///
    /// # Errors
    /// [`BrokerError::Invalid`] for a malformed account number (echoed masked) or a plain-http
    /// base URL that is not loopback.
    pub fn new(
        config: &KisConfig,
        account: &str,
        store: Arc<dyn TokenStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BrokerError> {
        if !matches!(config.feed.url.scheme(), "ws" | "wss") {
            return Err(BrokerError::Invalid { message: "websocket URL must be ws:// or wss://".into() });
        }
        let rest = Arc::new(KisRest::new(config, account, store, clock.clone())?);
        let (market_tx, market) = mpsc::channel(config.feed.market_buffer.max(1));
        let (exec_tx, executions) = mpsc::unbounded_channel();
        let settings = FeedSettings {
            config: config.feed.clone(),
            mode: config.mode,
            hts_id: config.hts_id.clone(),
            account: Secret::new(rest.account().ten_digits()),
            custtype: config.custtype.clone(),
        };
        let feed =
            Feed::new(settings, rest.clone(), clock, FeedOutputs { market: market_tx, executions: exec_tx });
        Ok(Self {
            rest,
            feed: Arc::new(feed),
            streams: Arc::new(Mutex::new(Some(BrokerStreams { market, executions }))),
            region: MarketRegion::Kr,
            us_venues: Arc::new(BTreeMap::new()),
        })
    }

    /// Returns the US side of the same account: the same client (token, approval key, limiter,
    /// breakers, order gate), the same real-time socket and the same event streams (taken once,
    /// by whichever side asks first), with the port's calls mapped to the overseas endpoints and
    /// channels. `venues` names the exchange of every US instrument it trades.
    #[must_use]
    pub fn us(&self, venues: BTreeMap<Symbol, UsExchange>) -> Self {
        Self {
            rest: self.rest.clone(),
            feed: self.feed.clone(),
            streams: self.streams.clone(),
            region: MarketRegion::Us,
            us_venues: Arc::new(venues),
        }
    }

    /// Returns the market this adapter speaks for.
    pub const fn region(&self) -> MarketRegion {
        self.region
    }

    /// Sends orders, modifies and cancels only while `fence` may act (see
    /// [`crate::ports::Fence::may_act`]); refused requests fail with [`BrokerError::NotLeader`]
    /// and never leave the process.
    #[must_use]
    pub fn with_order_gate(self, fence: Arc<crate::ports::Fence>) -> Self {
        self.rest.set_order_gate(fence);
        self
    }
}

/// The error of a port call the overseas endpoints do not offer.
pub(super) fn us_unsupported(what: &str) -> BrokerError {
    BrokerError::Invalid { message: format!("{what} are not offered for US stocks") }
}

impl Broker for KisBroker {
    fn authenticate(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async move { self.rest.tokens().token().await.map(drop) })
    }

    fn approval_key(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async move { self.rest.tokens().approval_key(false).await.map(drop) })
    }

    fn account(&self) -> BrokerFuture<'_, AccountSnapshot> {
        match self.region {
            MarketRegion::Kr => Box::pin(self.rest.account_snapshot()),
            MarketRegion::Us => Box::pin(self.us_account_snapshot()),
        }
    }

    fn open_orders(&self) -> BrokerFuture<'_, Vec<BrokerOrder>> {
        match self.region {
            MarketRegion::Kr => Box::pin(self.rest.open_orders()),
            MarketRegion::Us => Box::pin(self.us_open_orders()),
        }
    }

    fn todays_orders(&self) -> BrokerFuture<'_, Vec<BrokerOrder>> {
        match self.region {
            MarketRegion::Kr => Box::pin(self.rest.todays_orders()),
            MarketRegion::Us => Box::pin(self.us_todays_orders()),
        }
    }

    fn todays_fills(&self) -> BrokerFuture<'_, Vec<BrokerFill>> {
        match self.region {
            MarketRegion::Kr => Box::pin(self.rest.todays_fills()),
            MarketRegion::Us => Box::pin(self.us_todays_fills()),
        }
    }

    fn place_order<'a>(&'a self, order: &'a OrderRequest) -> BrokerFuture<'a, OrderAck> {
        match self.region {
            MarketRegion::Kr => Box::pin(self.rest.place_order(order)),
            MarketRegion::Us => Box::pin(self.us_place_order(order)),
        }
    }

    fn modify_order<'a>(&'a self, request: &'a ModifyRequest) -> BrokerFuture<'a, OrderAck> {
        match self.region {
            MarketRegion::Kr => Box::pin(self.rest.modify_order(request)),
            MarketRegion::Us => Box::pin(self.us_modify_order(request)),
        }
    }

    fn cancel_order<'a>(&'a self, request: &'a CancelRequest) -> BrokerFuture<'a, OrderAck> {
        match self.region {
            MarketRegion::Kr => Box::pin(self.rest.cancel_order(request)),
            MarketRegion::Us => Box::pin(self.us_cancel_order(request)),
        }
    }

    fn quote<'a>(&'a self, symbol: &'a Symbol) -> BrokerFuture<'a, Quote> {
        match self.region {
            MarketRegion::Kr => Box::pin(self.rest.quote(symbol)),
            MarketRegion::Us => Box::pin(self.us_quote(symbol)),
        }
    }

    fn order_book<'a>(&'a self, symbol: &'a Symbol) -> BrokerFuture<'a, OrderBook> {
        match self.region {
            MarketRegion::Kr => Box::pin(self.rest.order_book(symbol)),
            MarketRegion::Us => Box::pin(self.us_order_book(symbol)),
        }
    }

    fn daily_bars<'a>(
        &'a self,
        symbol: &'a Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> BrokerFuture<'a, Vec<DailyBar>> {
        match self.region {
            MarketRegion::Kr => Box::pin(self.rest.daily_bars(symbol, from, to)),
            MarketRegion::Us => Box::pin(std::future::ready(Err(us_unsupported("daily bars")))),
        }
    }

    fn holidays(&self, from: NaiveDate) -> BrokerFuture<'_, Vec<Holiday>> {
        match self.region {
            MarketRegion::Kr => Box::pin(self.rest.holidays(from)),
            // KIS publishes no overseas holiday inquiry: the US calendar is
            // `schedules/us_holidays.toml`, and the broker has nothing to override in it.
            MarketRegion::Us => Box::pin(std::future::ready(Ok(Vec::new()))),
        }
    }

    fn subscribe(&self, subscription: Subscription) -> BrokerFuture<'_, ()> {
        Box::pin(async move { self.feed.subscribe(self.registration(subscription)?).await })
    }

    fn unsubscribe(&self, subscription: Subscription) -> BrokerFuture<'_, ()> {
        Box::pin(async move { self.feed.unsubscribe(self.registration(subscription)?).await })
    }

    fn take_streams(&self) -> Option<BrokerStreams> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn return_streams(&self, streams: BrokerStreams) -> Option<BrokerStreams> {
        // Kept in the slot the KRX and the US side of the client share (see [`KisBroker::us`]).
        let mut slot = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_some() {
            return Some(streams);
        }
        *slot = Some(streams);
        None
    }

    fn connect(&self) -> BrokerFuture<'_, ()> {
        Box::pin(self.feed.connect())
    }

    fn disconnect(&self) -> BrokerFuture<'_, ()> {
        Box::pin(self.feed.close())
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use url::Url;

    use super::*;
    use crate::domain::Mode;
    use crate::ports::{FakeClock, InMemoryTokenStore};

    fn config() -> KisConfig {
        KisConfig::defaults(
            Mode::Paper,
            Secret::new("APPKEY-0123456789-abcdefghijklmnopqr"),
            Secret::new("SECRET-VALUE"),
            Secret::new("HTSLOGIN"),
        )
        .unwrap()
        .with_endpoints(
            Url::parse("http://127.0.0.1:9").unwrap(),
            Url::parse("ws://127.0.0.1:9/tryitout").unwrap(),
        )
    }

    #[test]
    fn builds_behind_the_port_and_never_prints_secrets() {
        let clock = Arc::new(FakeClock::new(DateTime::from_timestamp(0, 0).unwrap()));
        let broker: Arc<dyn Broker> = Arc::new(
            KisBroker::new(&config(), "12345678-01", Arc::new(InMemoryTokenStore::new()), clock).unwrap(),
        );
        let debug = format!("{broker:?} {:?}", config());
        for secret in ["APPKEY-0123456789", "SECRET-VALUE", "HTSLOGIN", "1234567801", "12345678"] {
            assert!(!debug.contains(secret), "{secret} leaked");
        }
        assert!(broker.take_streams().is_some());
        assert!(broker.take_streams().is_none());
    }

    #[test]
    fn the_us_side_takes_the_streams_the_krx_side_gave_back() {
        let clock = Arc::new(FakeClock::new(DateTime::from_timestamp(0, 0).unwrap()));
        let krx =
            KisBroker::new(&config(), "12345678-01", Arc::new(InMemoryTokenStore::new()), clock).unwrap();
        let us = krx.us(BTreeMap::new());
        let streams = krx.take_streams().expect("the first taker gets them");
        assert!(us.take_streams().is_none(), "handed out once");
        assert!(krx.return_streams(streams).is_none(), "kept by the client");
        let streams = us.take_streams().expect("the US pipeline takes them after the KRX one");
        assert!(us.return_streams(streams).is_none());
        assert!(krx.take_streams().is_some(), "and the KRX one the next day");
    }

    #[test]
    fn refuses_invalid_accounts() {
        let clock = Arc::new(FakeClock::new(DateTime::from_timestamp(0, 0).unwrap()));
        for bad in ["", "12345678", "1234567a-01", "12345678-1"] {
            let err = KisBroker::new(&config(), bad, Arc::new(InMemoryTokenStore::new()), clock.clone())
                .unwrap_err();
            assert!(matches!(err, BrokerError::Invalid { .. }), "{bad}");
        }
    }
}
