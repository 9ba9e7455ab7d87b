//! The engine's statement budget, counted by the database driver through the store port: a
//! submitted order (signal → write-ahead row → broker → accepted) costs at most five statements
//! and a recorded fill at most three, on SQLite and on PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::engine::{Decision, Engine};
use super::executions::Handled;
use super::orders::SubmitOutcome;
use super::{Guard, InMemoryModeStore, TradingConfig, TradingCore};
use crate::domain::market::{ExecutionEvent, MarketEvent, TradeTick};
use crate::domain::strategy::{MarketInput, OrderIntent, Strategy, StrategyView};
use crate::domain::{OrderType, Side, Symbol};
use crate::ports::{Broker, Clock, FakeBroker, FakeClock};
use crate::store::testing::TestDb;

/// Orders placed (and fills recorded) per run.
const ORDERS: usize = 12;
/// Statements one submitted order may cost: the row; `SUBMITTING` and its events; the broker's
/// answer, its event and its `audit_log` row (`order.submit`, one transaction).
const PER_ORDER: u64 = 6;
/// Statements one recorded fill may cost.
const PER_FILL: u64 = 3;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).single().expect("time")
}

/// Buys one lot on every trade it sees.
struct EveryTrade;

impl Strategy for EveryTrade {
    fn id(&self) -> &str {
        "every-trade"
    }

    fn on_market(&mut self, input: &MarketInput, _view: &StrategyView<'_>) -> Vec<OrderIntent> {
        vec![OrderIntent {
            symbol: input.symbol.clone(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            qty: dec!(1),
            price: Some(input.price),
            reason: "test".into(),
            signal_id: format!("sig-{}", input.ts.timestamp_millis()),
        }]
    }
}

fn trade(symbol: &Symbol, at: DateTime<Utc>, price: Decimal) -> MarketEvent {
    MarketEvent::Trade(TradeTick::print(symbol.clone(), at, price, dec!(10)))
}

async fn statement_budget_body(db: TestDb) {
    // The daemon's store is fenced: the lease check rides inside each order write, for free.
    let fence = Arc::new(crate::ports::Fence::new(crate::pipeline::PIPELINE_LEASE, "budget"));
    let ttl = chrono::TimeDelta::minutes(5);
    let epoch = db.store.pipeline().acquire_lease(fence.name(), fence.holder(), ttl, Utc::now()).await;
    fence.hold(epoch.expect("lease").expect("free lease"));
    let counter = Arc::new(AtomicU64::new(0));
    let mut store = db.store.clone().with_fence(fence);
    store.count_statements(counter.clone());
    let clock = FakeClock::new(start());
    let c: Arc<dyn Clock> = Arc::new(clock.clone());
    let broker = Arc::new(FakeBroker::new(c.clone()));
    let mut streams = broker.take_streams().expect("streams");
    let guard =
        Guard::load(Arc::new(InMemoryModeStore::default()), store.events(), c.clone(), Default::default())
            .await
            .expect("guard");
    let core =
        TradingCore::new(store, broker.clone(), c, Arc::new(guard), TradingConfig::new(day(), "budget"));
    let mut engine = Engine::start(core, Some(Box::new(EveryTrade)), true).await.expect("engine");
    let symbol = Symbol::new("005930").expect("symbol");
    let (mut order_statements, mut fill_statements) = (Vec::new(), Vec::new());
    for i in 0..ORDERS {
        clock.advance(chrono::TimeDelta::seconds(1));
        let ev = trade(&symbol, clock.now(), dec!(70000));
        counter.store(0, Ordering::Relaxed);
        let step = engine.on_market(&ev).await;
        order_statements.push(counter.load(Ordering::Relaxed));
        let [Ok(SubmitOutcome::Sent(sent))] = step.submitted.as_slice() else {
            panic!("order {i}: expected one sent order, got {step:?}");
        };
        let no = sent.order.broker_order_no().expect("accepted").number.clone();
        broker.fill(&no, dec!(1), dec!(70000)).expect("fill");
        let mut recorded = false;
        while let Ok(ev) = streams.executions.try_recv() {
            counter.store(0, Ordering::Relaxed);
            let handled = engine.on_execution(&ev).await.expect("execution");
            if matches!(ev, ExecutionEvent::Fill(_)) {
                assert!(matches!(handled, Handled::FillRecorded(_)), "order {i}: {handled:?}");
                fill_statements.push(counter.load(Ordering::Relaxed));
                recorded = true;
            }
        }
        assert!(recorded, "order {i}: no fill notice arrived");
    }
    assert!(
        order_statements.iter().all(|n| *n <= PER_ORDER),
        "statements per submitted order: {order_statements:?}"
    );
    assert!(
        fill_statements.iter().all(|n| *n <= PER_FILL),
        "statements per recorded fill: {fill_statements:?}"
    );
    // Nothing was skipped to get there: every order and fill is in the log, the positions add up.
    let day_log = crate::ports::TradingLog::load_day(&db.store, day()).await.expect("log");
    assert_eq!(day_log.orders.len(), ORDERS);
    assert!(day_log.orders.iter().all(|o| o.order.filled_qty() == dec!(1)));
    assert_eq!(day_log.executions.len(), ORDERS);
    let held = engine.core().risk_snapshot().await.expect("snapshot").holdings;
    assert_eq!(held.get(&symbol).copied(), Some(Decimal::from(ORDERS)));
    eprintln!("statements per submitted order {order_statements:?}, per recorded fill {fill_statements:?}");
}
crate::storage_test!(statement_budget, statement_budget_body);

async fn engine(db: &TestDb, clock: &FakeClock, tune: impl FnOnce(&mut TradingConfig), send: bool) -> Engine {
    let c: Arc<dyn Clock> = Arc::new(clock.clone());
    let broker = Arc::new(FakeBroker::new(c.clone()));
    let guard =
        Guard::load(Arc::new(InMemoryModeStore::default()), db.store.events(), c.clone(), Default::default())
            .await
            .expect("guard");
    let mut cfg = TradingConfig::new(day(), "decide");
    tune(&mut cfg);
    let core = TradingCore::new(db.store.clone(), broker, c, Arc::new(guard), cfg);
    Engine::start(core, Some(Box::new(EveryTrade)), send).await.expect("engine")
}

#[tokio::test]
async fn decisions_follow_the_guardrails_and_observe_mode() {
    let db = TestDb::new(crate::store::testing::Backend::Sqlite).await.expect("db").expect("sqlite");
    let clock = FakeClock::new(start());
    let symbol = Symbol::new("005930").expect("symbol");
    let ev = trade(&symbol, start(), dec!(70000));
    let mut capped = engine(&db, &clock, |c| c.risk.max_order_value = Some(dec!(1000)), true).await;
    assert!(matches!(capped.decide(&ev).as_slice(), [Decision::Blocked(_)]));
    let mut open = engine(&db, &clock, |_| {}, true).await;
    assert!(matches!(open.decide(&ev).as_slice(), [Decision::Send(_)]));
    let mut observing = engine(&db, &clock, |_| {}, false).await;
    assert!(matches!(observing.decide(&ev).as_slice(), [Decision::Observe(_)]));
    // An off-tick price (70,050 where the tick is 100) is blocked by the price rules.
    let off_tick = trade(&symbol, start(), dec!(70050));
    assert!(matches!(open.decide(&off_tick).as_slice(), [Decision::Blocked(_)]));
    observing.stop_strategy();
    assert!(observing.decide(&ev).is_empty());
}

/// Issue #20 (day rollover): the intraday stage takes the broker's market channel over from the
/// day before, and the last frames of yesterday's session (the closing prints arrive after its
/// loop ended) are still in it. A print of another trading date is not today's market: it neither
/// reaches today's strategy nor moves today's last price.
#[tokio::test]
async fn a_print_of_the_day_before_neither_reaches_the_strategy_nor_moves_the_price() {
    let db = TestDb::new(crate::store::testing::Backend::Sqlite).await.expect("db").expect("sqlite");
    let clock = FakeClock::new(start());
    let symbol = Symbol::new("005930").expect("symbol");
    let mut engine = engine(&db, &clock, |_| {}, true).await;
    // 15:30 KST of Friday 2026-11-20, the trading day before Monday 2026-11-23.
    let yesterday = Utc.with_ymd_and_hms(2026, 11, 20, 6, 30, 0).single().expect("time");
    assert!(engine.decide(&trade(&symbol, yesterday, dec!(69000))).is_empty());
    let last = |e: &Engine| e.core().with_book(|b| b.last_prices.get(&symbol).copied());
    assert_eq!(last(&engine), None, "yesterday's close is not today's last price");
    assert!(matches!(engine.decide(&trade(&symbol, start(), dec!(70000))).as_slice(), [Decision::Send(_)]));
    assert_eq!(last(&engine), Some(dec!(70000)));
}

/// A US session runs across KST midnight: its prints after midnight belong to its New York trade
/// date and reach the strategy; the previous New York day's do not.
#[tokio::test]
async fn a_us_print_after_kst_midnight_is_of_the_new_york_trade_date() {
    let db = TestDb::new(crate::store::testing::Backend::Sqlite).await.expect("db").expect("sqlite");
    // New York date 2026-11-23 (Monday): the session runs 23:30 KST on the 23rd to 06:00 on the
    // 24th.
    let open = Utc.with_ymd_and_hms(2026, 11, 23, 14, 30, 0).single().expect("time");
    let clock = FakeClock::new(open);
    let symbol = Symbol::new("AAPL").expect("ticker");
    let mut engine = engine(&db, &clock, |c| c.region = crate::domain::MarketRegion::Us, true).await;
    let ctx = crate::domain::price::PriceContext {
        exchange: crate::domain::Exchange::Nasd,
        table: crate::domain::price::TickTable::UsEquity,
        band: None,
    };
    engine.core().set_price_context(&symbol, ctx);
    let last = |e: &Engine| e.core().with_book(|b| b.last_prices.get(&symbol).copied());
    // 01:00 KST on the 24th is 11:00 in New York on the 23rd.
    let after_midnight = Utc.with_ymd_and_hms(2026, 11, 23, 16, 0, 0).single().expect("time");
    assert_eq!(crate::domain::market::to_kst(after_midnight).date_naive().to_string(), "2026-11-24");
    let decided = engine.decide(&trade(&symbol, after_midnight, dec!(231.25)));
    assert!(matches!(decided.as_slice(), [Decision::Send(_)]), "{decided:?}");
    assert_eq!(last(&engine), Some(dec!(231.25)));
    // The close of New York's Friday (16:00 on the 20th = 06:00 KST on Saturday the 21st).
    let friday = Utc.with_ymd_and_hms(2026, 11, 20, 21, 0, 0).single().expect("time");
    assert!(engine.decide(&trade(&symbol, friday, dec!(229.5))).is_empty());
    assert_eq!(last(&engine), Some(dec!(231.25)));
}
