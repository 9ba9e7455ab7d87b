//! The trading core on the US side of the simulator (issue #23), over real sockets: the KIS
//! adapter's US view (`KisBroker::us`) behind the same `Broker` port, the order service, the
//! store on SQLite and PostgreSQL.
//!
//! The life of an order: a US buy sent by the order service fills, its fill arrives as the
//! decrypted overseas notice on the adapter's socket and ends in the stored position.
//!
//! The crash: a core sends a resting US buy (`a`, left outstanding at the broker) and then dies
//! inside the submit of a second one (`b`) right after the broker accepted it and before the
//! answer was stored — the task panics at the `AfterSend` checkpoint, leaving `b` in
//! `SUBMITTING` — while a KRX order of the same date sits in the database. While it is down, `a`
//! fills at the broker. A new core then recovers: `b` is found at the broker by its content and
//! adopted (never sent twice), `a`'s fill is adopted from the order history, the US position
//! equals the broker's US holding, and the KRX order and position are left alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use aegis::app::SimTimeClock;
use aegis::domain::mode::KillSwitchConfig;
use aegis::domain::order::{NewOrder, OrderStatus};
use aegis::domain::overseas::UsExchange;
use aegis::domain::price::{PriceContext, TickTable};
use aegis::domain::strategy::OrderIntent;
use aegis::domain::{Exchange, MarketRegion, OrderType, Side, Symbol};
use aegis::kis::KisBroker;
use aegis::ports::{Broker, Clock};
use aegis::sim::{SimConfig, SimHandle};
use aegis::store::testing::TestDb;
use aegis::trading::{Checkpoint, Guard, InMemoryModeStore, TradingConfig, TradingCore};
use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sea_orm::EntityTrait;

use crate::support::sim::{ACCOUNT, dec as num};

/// Frozen at 2026-03-04 00:00 KST = 2026-03-03 10:00 in New York: the US regular session runs.
fn us_sim() -> SimConfig {
    SimConfig {
        start: Some(DateTime::parse_from_rfc3339("2026-03-04T00:00:00+09:00").unwrap()),
        ..crate::support::sim::frozen(&["005930"], 5, Some(10_000))
    }
}

/// The New York date of the session.
fn us_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 3).unwrap()
}

fn aapl() -> Symbol {
    Symbol::new("AAPL").unwrap()
}

/// The US side of the adapter, its token kept in the database as a real process keeps it (a
/// restarted process reuses it: KIS issues at most one a minute).
fn us_broker(sim: &SimHandle, db: &TestDb, key: u8) -> Arc<dyn Broker> {
    let cfg = crate::kis::kis_config(sim, key, 1_000);
    let clock: Arc<dyn Clock> = Arc::new(SimTimeClock(sim.clock().clone()));
    let kr = KisBroker::new(&cfg, ACCOUNT, Arc::new(db.store.tokens()), clock).unwrap();
    Arc::new(kr.us(BTreeMap::from([(aapl(), UsExchange::Nasdaq)])))
}

async fn us_core(db: &TestDb, sim: &SimHandle, broker: Arc<dyn Broker>) -> TradingCore {
    let clock: Arc<dyn Clock> = Arc::new(SimTimeClock(sim.clock().clone()));
    let modes = Arc::new(InMemoryModeStore::default());
    let guard =
        Guard::load(modes, db.store.events(), clock.clone(), KillSwitchConfig::default()).await.unwrap();
    let mut cfg = TradingConfig::new(us_day(), "us-test");
    cfg.region = MarketRegion::Us;
    cfg.avg_price_tolerance = dec!(0.01);
    let core = TradingCore::new(db.store.clone(), broker, clock, Arc::new(guard), cfg);
    core.set_price_context(
        &aapl(),
        PriceContext { exchange: Exchange::Nasd, table: TickTable::UsEquity, band: None },
    );
    core
}

fn buy(qty: i64, price: Decimal, signal: &str) -> OrderIntent {
    OrderIntent {
        symbol: aapl(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty: Decimal::from(qty),
        price: Some(price),
        reason: "us test".into(),
        signal_id: signal.into(),
    }
}

/// The simulator's last AAPL price (USD).
fn last(sim: &SimHandle) -> Decimal {
    let state = sim.state();
    let m = state["us_markets"].as_array().unwrap().iter().find(|m| m["symbol"] == "AAPL").unwrap().clone();
    num(&m["last"])
}

/// The simulator's AAPL holding (shares).
fn sim_holding(sim: &SimHandle) -> Decimal {
    let state = sim.state();
    let account = state["accounts"].as_array().unwrap()[0].clone();
    let holdings = &account["usd"]["holdings"];
    holdings.get("AAPL").map_or(Decimal::ZERO, |h| num(&h["qty"]))
}

async fn us_order_outstanding_at_a_crash_is_recovered(db: TestDb) {
    let sim = crate::support::sim::start(us_sim()).await;
    let px = last(&sim);
    // A KRX order and position of the same date: the US core must neither load nor touch them.
    let kr = NewOrder {
        key: aegis::domain::order::IdempotencyKey::derive("kr", us_day(), "same-date"),
        symbol: Symbol::new("005930").unwrap(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty: dec!(1),
        price: Some(dec!(70000)),
        exchange: Exchange::Krx,
    };
    let meta = aegis::ports::OrderMeta { trade_date: us_day(), strategy_id: None };
    aegis::store::orders::insert_or_get(db.store.conn(), &kr, &meta, chrono::Utc::now(), None).await.unwrap();
    // It holds the number `b` gets in the US sequence (`a` is 1): KRX and US orders are numbered
    // apart, so a KRX and a US order of one date share numbers.
    let kr_id = aegis::store::orders::find_by_key(db.store.conn(), &kr.key).await.unwrap().unwrap().id;
    entity::order::Entity::update(entity::order::ActiveModel {
        id: sea_orm::Set(kr_id),
        broker_order_no: sea_orm::Set(Some("0000000002".into())),
        ..Default::default()
    })
    .exec(db.store.conn())
    .await
    .unwrap();

    let broker = us_broker(&sim, &db, 71);
    let core = us_core(&db, &sim, broker.clone()).await;
    let low = (px * dec!(0.9)).round_dp(2);
    let a = match core.submit(&buy(4, low, "a")).await.unwrap() {
        aegis::trading::orders::SubmitOutcome::Sent(s) => s,
        other => panic!("expected Sent, got {other:?}"),
    };
    assert_eq!(a.order.request().exchange, Exchange::Nasd);
    let a_no = a.order.broker_order_no().unwrap().number.clone();

    // Dies right after the broker accepted `b`, before the answer is stored.
    let dying = us_core(&db, &sim, broker.clone()).await.with_hook(Arc::new(|at, signal: &str| {
        assert!(!(at == Checkpoint::AfterSend && signal == "b"), "killed after the send");
    }));
    let crashed = tokio::spawn(async move { dying.submit(&buy(2, low, "b")).await }).await;
    assert!(crashed.is_err(), "the submit task died");
    drop(core);

    // While nobody watches, `a` fills at the broker.
    sim.set_us_price("AAPL", low - dec!(0.05)).unwrap();
    crate::support::wait::wait_for("a fills at the broker", 10, || {
        let held = sim_holding(&sim);
        async move { held >= dec!(4) }
    })
    .await;

    let core = us_core(&db, &sim, us_broker(&sim, &db, 71)).await;
    let report = core.recover().await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(report.resendable.is_empty(), "b reached the broker: never resent ({report:?})");
    let orders = core.orders().await.unwrap();
    assert_eq!(orders.len(), 2, "only the US orders are this core's: {orders:?}");
    let by_signal = |signal: &str| {
        let key = aegis::domain::order::IdempotencyKey::derive("us-test", us_day(), signal);
        orders.iter().find(|o| o.order.request().key == key).unwrap()
    };
    let a = by_signal("a");
    assert_eq!(a.order.broker_order_no().unwrap().number, a_no);
    assert!(
        matches!(a.order.status(), OrderStatus::Filled | OrderStatus::Partial),
        "the fill made while down is adopted: {a:?}"
    );
    let b = by_signal("b");
    assert!(b.order.broker_order_no().is_some(), "b found at the broker: {b:?}");
    assert_eq!(
        b.order.broker_order_no().unwrap().number,
        "0000000002",
        "b found under the number the KRX order of the date holds too: {b:?}"
    );
    assert!(!b.order.status().needs_resolution(), "{b:?}");

    let us_orders_at_broker = broker.todays_orders().await.unwrap();
    assert_eq!(us_orders_at_broker.len(), 2, "two orders at the broker, none twice: {us_orders_at_broker:?}");

    let positions = core.recompute_positions().await.unwrap();
    assert_eq!(positions.qty(&aapl()), sim_holding(&sim), "the US position is the broker's holding");
    let rows = aegis::store::positions::load(db.store.conn()).await.unwrap();
    assert!(rows.iter().all(|r| r.symbol.region() == MarketRegion::Us), "{rows:?}");
    let kr_row = aegis::store::orders::find_by_key(db.store.conn(), &kr.key).await.unwrap().unwrap();
    assert_eq!(kr_row.order.status(), OrderStatus::New, "the KRX order of the same date is untouched");
    assert_eq!(kr_row.order.broker_order_no().unwrap().number, "0000000002");
    assert!(kr_row.order.filled_qty().is_zero(), "{kr_row:?}");
}
aegis::storage_test!(us_crash_recovery, us_order_outstanding_at_a_crash_is_recovered);

/// A US order through the order service: the marketable limit buy is sent to Nasdaq, its fill
/// arrives as the decrypted overseas notice on the adapter's one socket, the engine applies it
/// (order `FILLED`, the fill recorded with the New York date) and the stored position equals the
/// broker's US holding.
async fn us_order_fills_through_the_notice_into_the_position(db: TestDb) {
    let sim = crate::support::sim::start(us_sim()).await;
    let broker = us_broker(&sim, &db, 72);
    let mut streams = broker.take_streams().unwrap();
    broker.subscribe(aegis::domain::market::Subscription::Executions).await.unwrap();
    let core = us_core(&db, &sim, broker.clone()).await;
    let price = (last(&sim) * dec!(1.01)).round_dp(2);
    let sent = match core.submit(&buy(3, price, "fill")).await.unwrap() {
        aegis::trading::orders::SubmitOutcome::Sent(s) => s,
        other => panic!("expected Sent, got {other:?}"),
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut fills = 0;
    while core.order(sent.id).await.unwrap().unwrap().order.status() != OrderStatus::Filled {
        let ev = tokio::time::timeout_at(deadline, streams.executions.recv())
            .await
            .expect("filled in time")
            .unwrap();
        if let aegis::domain::market::ExecutionEvent::Fill(f) = &ev {
            assert_eq!((f.symbol.as_str(), f.trade_date), ("AAPL", us_day()), "{f:?}");
            fills += 1;
        }
        core.handle_execution(&ev).await.unwrap();
    }
    assert!(fills >= 1, "the fill came by notice");
    let positions = core.flush_positions().await.unwrap();
    assert_eq!(positions.qty(&aapl()), dec!(3));
    let rows = aegis::store::positions::load(db.store.conn()).await.unwrap();
    assert_eq!(rows.iter().map(|r| (r.symbol.as_str(), r.qty)).collect::<Vec<_>>(), [("AAPL", dec!(3))]);
    assert_eq!(sim_holding(&sim), dec!(3), "the broker holds what the database says");
    let fill_rows = entity::fill::Entity::find().all(db.store.conn()).await.unwrap();
    assert!(!fill_rows.is_empty() && fill_rows.iter().all(|f| f.symbol == "AAPL"), "{fill_rows:?}");
}
aegis::storage_test!(us_order_notice_position, us_order_fills_through_the_notice_into_the_position);

/// The port's quote and book snapshot of a US stock come from the overseas price and asking-price
/// inquiries (the paper host's asking price is unconfirmed: the simulator serves it on paper
/// with `--us-paper-asking-price`).
#[tokio::test]
async fn us_quotes_and_books_through_the_port() {
    let mut cfg = us_sim();
    cfg.us.paper_asking_price = true;
    let sim = crate::support::sim::start(cfg).await;
    let db = crate::support::db::sqlite().await;
    let broker = us_broker(&sim, &db, 73);
    let quote = broker.quote(&aapl()).await.unwrap();
    assert_eq!((quote.exchange, quote.price), (Exchange::Nasd, last(&sim)));
    assert_eq!((quote.upper_limit, quote.tick_size), (Decimal::ZERO, dec!(0.01)), "no band, cent ticks");
    let book = broker.order_book(&aapl()).await.unwrap();
    let (bid, ask) = (book.bids[0], book.asks[0]);
    assert!(bid.price > Decimal::ZERO && bid.price < ask.price && bid.qty > Decimal::ZERO, "{book:?}");
    assert!(book.bids[1].price.is_zero() && book.total_bid_qty >= bid.qty, "level 1 only: {book:?}");
    assert!(broker.quote(&Symbol::new("IBM").unwrap()).await.is_err(), "no venue configured for IBM");
}
