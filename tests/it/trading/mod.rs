//! Integration suites of the trading core: store mapping on SQLite and PostgreSQL, the order
//! service with its guardrails and modes (fake broker), convergence of notices and snapshots, and
//! the crash test (SIGKILL at checkpoints of the order life cycle, restart, recovery, checks).
//! This module holds a trading core on a test database with a fake broker and a fake clock.

mod convergence;
mod crash;
mod fencing;
mod service;
mod sim_stop;
mod store;
mod trace;
mod us;

use std::sync::Arc;

use aegis::domain::mode::KillSwitchConfig;
use aegis::domain::strategy::OrderIntent;
use aegis::domain::{OrderType, Side, Symbol};
use aegis::ports::{Broker, Clock, FakeBroker, FakeClock};
use aegis::store::testing::TestDb;
use aegis::trading::{Guard, InMemoryModeStore, TradingConfig, TradingCore};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;

pub fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap()
}

pub struct Env {
    pub db: TestDb,
    pub broker: Arc<FakeBroker>,
    pub clock: FakeClock,
    pub modes: Arc<InMemoryModeStore>,
    pub core: TradingCore,
}

pub async fn env(db: TestDb, tune: impl FnOnce(&mut TradingConfig), kill: KillSwitchConfig) -> Env {
    let clock = FakeClock::new(start());
    let c: Arc<dyn Clock> = Arc::new(clock.clone());
    let broker = Arc::new(FakeBroker::new(c.clone()));
    let modes = Arc::new(InMemoryModeStore::default());
    let guard = Guard::load(modes.clone(), db.store.events(), c.clone(), kill).await.unwrap();
    let mut cfg = TradingConfig::new(day(), "test-strategy");
    tune(&mut cfg);
    let b: Arc<dyn Broker> = broker.clone();
    let core = TradingCore::new(db.store.clone(), b, c, Arc::new(guard), cfg);
    Env { db, broker, clock, modes, core }
}

pub fn sym(code: &str) -> Symbol {
    Symbol::new(code).unwrap()
}

pub fn intent(code: &str, side: Side, qty: i64, price: i64, signal: &str) -> OrderIntent {
    OrderIntent {
        symbol: sym(code),
        side,
        order_type: OrderType::Limit,
        qty: Decimal::from(qty),
        price: Some(Decimal::from(price)),
        reason: "test".into(),
        signal_id: signal.into(),
    }
}

pub fn places(b: &FakeBroker) -> usize {
    b.calls().iter().filter(|c| matches!(c, aegis::ports::fake_broker::FakeCall::Place(_))).count()
}
