//! The ports the core calls: the broker, the clock, the token store and the repositories (the
//! trading log of orders, fills and positions; pipeline runs), all in domain types.
//!
//! Traits return boxed futures so the service layer can hold them as `Arc<dyn Broker>`.

pub mod clock;
pub mod correlation;
pub mod error;
pub mod event_log;
#[cfg(any(test, feature = "test-support"))]
pub mod fake_broker;
pub mod fence;
pub mod pipeline_runs;
pub mod store_error;
pub mod token_store;
pub mod trading_log;

use std::fmt;

use chrono::NaiveDate;
use futures::future::BoxFuture;
use tokio::sync::mpsc;

pub use clock::{Clock, FakeClock, SystemClock};
pub use error::BrokerError;
pub use event_log::{NewEvent, Severity};
#[cfg(any(test, feature = "test-support"))]
pub use fake_broker::FakeBroker;
pub use fence::{Fence, FenceToken};
pub use pipeline_runs::{
    AttemptUpdate, LeaseRecord, PipelineRunRecord, PipelineRuns, RequestKind, StageRequest, StageRunRecord,
};
pub use store_error::{DbFailure, StoreError};
pub use token_store::{InMemoryTokenStore, IssueFn, StoredToken, TokenKey, TokenStore, TokenStoreError};
pub use trading_log::{Inserted, OrderMeta, OrderWrite, StoredOrder, TradingLog, UpdateExtra};

use crate::domain::Symbol;
use crate::domain::market::{
    AccountSnapshot, BrokerFill, BrokerOrder, CancelRequest, DailyBar, ExecutionEvent, Holiday, MarketBatch,
    ModifyRequest, OrderAck, OrderBook, OrderRequest, Quote, Subscription,
};

/// A boxed future resolving to a broker result.
pub type BrokerFuture<'a, T> = BoxFuture<'a, Result<T, BrokerError>>;

pub use crate::config::Secret;

/// The real-time channels of a broker: market data (bounded, one batch per data frame; a whole
/// batch may be dropped under backpressure) and executions and feed status (unbounded; never
/// dropped).
#[derive(Debug)]
pub struct BrokerStreams {
    /// Quotes and trades, one batch per data frame.
    pub market: mpsc::Receiver<MarketBatch>,
    /// Notices, fills and feed status.
    pub executions: mpsc::UnboundedReceiver<ExecutionEvent>,
}

/// A brokerage account, spoken in domain types.
pub trait Broker: Send + Sync + fmt::Debug {
    /// Makes sure a valid access token is held (issuing one only when needed).
    ///
    /// # Errors
    /// Returns [`BrokerError::Authentication`] when credentials are refused.
    fn authenticate(&self) -> BrokerFuture<'_, ()>;

    /// Makes sure a real-time approval key is held.
    ///
    /// # Errors
    /// Returns [`BrokerError::Authentication`] when it cannot be issued.
    fn approval_key(&self) -> BrokerFuture<'_, ()>;

    /// Returns orderable cash, holdings and totals.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    fn account(&self) -> BrokerFuture<'_, AccountSnapshot>;

    /// Returns today's orders that still have an open quantity.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    fn open_orders(&self) -> BrokerFuture<'_, Vec<BrokerOrder>>;

    /// Returns all of today's orders (every page).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    fn todays_orders(&self) -> BrokerFuture<'_, Vec<BrokerOrder>>;

    /// Returns the cumulative fills of today's orders (every page).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    fn todays_fills(&self) -> BrokerFuture<'_, Vec<BrokerFill>>;

    /// Sends a new order and returns the broker order number and branch.
    ///
    /// # Errors
    /// [`BrokerError::Rejected`] on business rejection; [`BrokerError::OutcomeUnknown`] when the
    /// order may have reached the broker without an answer (never resent).
    fn place_order<'a>(&'a self, order: &'a OrderRequest) -> BrokerFuture<'a, OrderAck>;

    /// Modifies a resting order.
    ///
    /// # Errors
    /// As [`Broker::place_order`].
    fn modify_order<'a>(&'a self, request: &'a ModifyRequest) -> BrokerFuture<'a, OrderAck>;

    /// Cancels a resting order.
    ///
    /// # Errors
    /// As [`Broker::place_order`].
    fn cancel_order<'a>(&'a self, request: &'a CancelRequest) -> BrokerFuture<'a, OrderAck>;

    /// Returns the current price snapshot of an instrument.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    fn quote<'a>(&'a self, symbol: &'a Symbol) -> BrokerFuture<'a, Quote>;

    /// Returns the order book snapshot of an instrument.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    fn order_book<'a>(&'a self, symbol: &'a Symbol) -> BrokerFuture<'a, OrderBook>;

    /// Returns daily bars between `from` and `to` inclusive, oldest first.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    fn daily_bars<'a>(
        &'a self,
        symbol: &'a Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> BrokerFuture<'a, Vec<DailyBar>>;

    /// Returns the market status of the days starting at `from`.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    fn holidays(&self, from: NaiveDate) -> BrokerFuture<'_, Vec<Holiday>>;

    /// Registers a real-time subscription (opening the feed lazily). A registration the broker
    /// refuses is kept and retried by the feed: the call returns `Ok` and the refusal is reported
    /// as [`crate::domain::market::FeedStatus::RegistrationRefused`].
    ///
    /// # Errors
    /// [`BrokerError::Subscription`] when the feed's registration cap is reached;
    /// [`BrokerError::SessionInUse`] while another connection holds the app key's session (the
    /// registration is kept and restored once the feed reconnects).
    fn subscribe(&self, subscription: Subscription) -> BrokerFuture<'_, ()>;

    /// Removes a real-time subscription.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    fn unsubscribe(&self, subscription: Subscription) -> BrokerFuture<'_, ()>;

    /// Hands out the event channels; returns `None` after the first call.
    fn take_streams(&self) -> Option<BrokerStreams>;

    /// Takes the event channels back from whoever took them, for the next
    /// [`Broker::take_streams`] (another market's pipeline on the same client); returns them when
    /// the adapter does not keep them (the default), and the caller keeps them itself.
    fn return_streams(&self, streams: BrokerStreams) -> Option<BrokerStreams> {
        Some(streams)
    }

    /// Opens the real-time feed now instead of on the first subscription.
    ///
    /// # Errors
    /// [`BrokerError::Connection`] when the feed cannot be opened.
    fn connect(&self) -> BrokerFuture<'_, ()>;

    /// Unsubscribes everything and closes the real-time feed, giving the broker's one session per
    /// app key back; a later subscription opens it again.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    fn disconnect(&self) -> BrokerFuture<'_, ()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("abcdefghijklmnop");
        assert_eq!(format!("{s} {s:?}"), "REDACTED REDACTED");
        assert_eq!(s.preview(), "abcdefgh...");
        assert_eq!(s.expose(), "abcdefghijklmnop");
    }
}
