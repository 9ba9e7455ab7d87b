//! Issue #23, "KR and US subscriptions together on one socket": one `KisBroker` against the
//! simulator registers KRX quotes, trades and execution notices and US quotes, trades and
//! execution notices on its one WebSocket, within the 41-registration cap. The simulated clock is
//! frozen and moved by the test: two minutes of the KRX afternoon session (15:10 KST), then a
//! jump across both closes to two minutes of the New York morning (00:00 KST on 2026-03-04 =
//! 10:00 EST on 2026-03-03). The market stream carries prints of the KRX symbol and of the US
//! ticker, and the executions stream a KRX order's fill (KST trading date) and a US order's fill
//! (placed through `KisRest::us_place_order`; the ticker as symbol, the New York trading date).

use std::collections::BTreeMap;
use std::sync::Arc;

use aegis::app::SimTimeClock;
use aegis::domain::market::{
    ExecutionEvent, FeedStatus, MarketBatch, MarketEvent, OrderRequest, RegistrationState, Subscription,
};
use aegis::domain::overseas::{Ticker, UsExchange, UsOrderRequest, UsOrderType};
use aegis::domain::{Exchange, OrderType, Side};
use aegis::kis::http::client::KisRest;
use aegis::ports::{Broker, Clock, InMemoryTokenStore, TokenStore};
use aegis::sim::SimConfig;
use aegis::sim::market::Activity;
use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;
use tokio::sync::mpsc;

use super::*;
use crate::support::sim::ACCOUNT;

const KRX: &str = "005930";
const US: &str = "AAPL";

/// A paper simulator frozen at 15:10 KST on 2026-03-03 (KRX continuous session; New York is at
/// 01:10), with the US channels served on paper and both symbols printing several times a second.
fn both_markets() -> SimConfig {
    let mut cfg = crate::support::sim::frozen(&[KRX], 23, Some(10_000));
    cfg.start = Some(day_at(15, 10));
    cfg.us.paper_realtime = true;
    cfg.activity = BTreeMap::from([(KRX.to_owned(), Activity::LARGE), (US.to_owned(), Activity::LARGE)]);
    cfg
}

/// Reads market batches until one holds a print of `code`; panics after `secs` seconds.
async fn print_of(market: &mut mpsc::Receiver<MarketBatch>, code: &str, secs: u64) -> Vec<MarketEvent> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    loop {
        let batch = tokio::time::timeout_at(deadline, market.recv())
            .await
            .unwrap_or_else(|_| panic!("no print of {code}; saw {} events", seen.len()))
            .expect("market stream open");
        let hit = batch.iter().any(|e| matches!(e, MarketEvent::Trade(t) if t.symbol.as_str() == code));
        seen.extend(batch);
        if hit {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn krx_and_us_subscriptions_share_one_socket_and_both_markets_arrive_on_its_streams() {
    let sim = crate::support::sim::start(both_markets()).await;
    let cfg = kis_config(&sim, 62, 1_000);
    // The broker and the US REST client share the token store (the simulator throttles tokens).
    let tokens: Arc<dyn TokenStore> = Arc::new(InMemoryTokenStore::new());
    let clock: Arc<dyn Clock> = Arc::new(SimTimeClock(sim.clock().clone()));
    let broker = crate::support::sim::broker(&cfg, tokens.clone(), clock.clone());
    let rest = KisRest::new(&cfg, ACCOUNT, tokens, clock).unwrap();
    let mut streams = broker.take_streams().unwrap();

    let krx = symbol(KRX);
    let aapl = symbol(US);
    let subscriptions = [
        Subscription::Quotes(krx.clone()),
        Subscription::Trades(krx.clone()),
        Subscription::Executions,
        Subscription::UsQuotes(Exchange::Nasd, aapl.clone()),
        Subscription::UsTrades(Exchange::Nasd, aapl.clone()),
        Subscription::UsExecutions,
    ];
    for sub in subscriptions {
        broker.subscribe(sub).await.unwrap();
    }
    // Every registration acknowledged (subscribe returned), all on one session, within the cap.
    let open = sessions(&sim);
    assert_eq!(open.len(), 1, "one WebSocket session: {open:?}");
    let mut registered: Vec<(&str, &str)> = open[0].iter().map(|(t, k)| (t.as_str(), k.as_str())).collect();
    registered.sort_unstable();
    assert_eq!(
        registered,
        [
            ("H0GSCNI9", HTS),
            ("H0STASP0", KRX),
            ("H0STCNI9", HTS),
            ("H0STCNT0", KRX),
            ("HDFSASP0", "DNASAAPL"),
            ("HDFSCNT0", "DNASAAPL"),
        ]
    );
    assert!(registered.len() <= cfg.feed.max_registrations && cfg.feed.max_registrations == 41);
    // The feed's own report: the six registrations active (none refused and retried).
    until(&mut streams.executions, 10, |e| {
        matches!(e, ExecutionEvent::Status(FeedStatus::Registrations { connected: true, registrations, .. })
            if registrations.len() == 6
                && registrations.iter().all(|r| r.state == RegistrationState::Active))
    })
    .await;

    // The KRX afternoon: prints of the KRX symbol, and a market buy's fill with the KST date.
    sim.advance(Duration::from_secs(120));
    print_of(&mut streams.market, KRX, 10).await;
    let buy = OrderRequest {
        symbol: krx.clone(),
        side: Side::Buy,
        order_type: OrderType::Market,
        qty: Decimal::ONE,
        price: Decimal::ZERO,
        exchange: Exchange::Krx,
    };
    let kr_ack = broker.place_order(&buy).await.unwrap();
    let seen =
        until(&mut streams.executions, 10, |e| matches!(e, ExecutionEvent::Fill(f) if f.symbol == krx)).await;
    let Some(ExecutionEvent::Fill(kr_fill)) = seen.last() else { unreachable!() };
    assert_eq!(
        (kr_fill.broker_order_no.as_str(), kr_fill.trade_date, kr_fill.qty),
        (kr_ack.broker_order_no.as_str(), day_at(15, 10).date_naive(), Decimal::ONE)
    );

    // Across both closes into the New York morning: 2026-03-04 00:00 KST, 2026-03-03 10:00 EST.
    let us_morning = DateTime::parse_from_rfc3339("2026-03-04T00:00:00+09:00").unwrap();
    sim.set_time(us_morning);
    sim.advance(Duration::from_secs(120));
    let events = print_of(&mut streams.market, US, 10).await;
    let us_print = events
        .iter()
        .find_map(|e| match e {
            MarketEvent::Trade(t) if t.symbol == aapl => Some(t),
            _ => None,
        })
        .unwrap();
    // Printed in the New York session, which opened at 23:30 KST (09:30 EST).
    let us_open = DateTime::parse_from_rfc3339("2026-03-03T23:30:00+09:00").unwrap();
    assert!(us_print.price > Decimal::ZERO && us_print.at >= us_open.to_utc(), "{us_print:?}");

    // A US order through the overseas REST client: its fill on the same executions stream, the
    // ticker as symbol and New York's date (Seoul is a day ahead).
    let ticker = Ticker::new(US).unwrap();
    let quote = rest.us_quote(UsExchange::Nasdaq, &ticker).await.unwrap();
    let order = UsOrderRequest {
        exchange: UsExchange::Nasdaq,
        ticker,
        side: Side::Buy,
        order_type: UsOrderType::Limit,
        qty: Decimal::from(2),
        price: (quote.last * Decimal::new(101, 2)).round_dp(2),
    };
    let us_ack = rest.us_place_order(&order).await.unwrap();
    let seen =
        until(&mut streams.executions, 10, |e| matches!(e, ExecutionEvent::Fill(f) if f.symbol == aapl))
            .await;
    let Some(ExecutionEvent::Fill(us_fill)) = seen.last() else { unreachable!() };
    let new_york = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
    assert_eq!(
        (us_fill.broker_order_no.as_str(), us_fill.trade_date, us_fill.side),
        (us_ack.broker_order_no.as_str(), new_york, Side::Buy)
    );
    assert!(us_fill.price > Decimal::ZERO && us_fill.price <= order.price, "{us_fill:?}");
    assert!(
        seen.iter().any(|e| matches!(e, ExecutionEvent::Notice(n)
            if n.symbol == aapl && n.broker_order_no == us_ack.broker_order_no && n.trade_date == new_york)),
        "the US receipt came first: {seen:?}"
    );
    assert_eq!(sessions(&sim).len(), 1, "still one session");
}
