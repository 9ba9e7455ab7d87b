//! Stop mode end to end against `aegis sim` (the KIS adapter over real sockets, on both database
//! backends): a daily-loss breach trips stop mode, new orders are blocked and recorded while a
//! cancel of a resting order still goes through at the sim; the mode lives in `control_state`, so
//! a restarted core is still stopped, and an operator resume from another process is adopted.

use std::sync::Arc;

use aegis::domain::Side;
use aegis::domain::mode::{KillSwitchConfig, ModeEvent, StopReason, TradingMode};
use aegis::domain::order::OrderStatus;
use aegis::domain::risk::{Breach, DailyLossLimit};
use aegis::ports::{Broker, Clock, FakeClock, TokenStore};
use aegis::sim::SimHandle;
use aegis::storage_test;
use aegis::store::control::ControlStore;
use aegis::store::testing::TestDb;
use aegis::store::tokens::DbTokenStore;
use aegis::trading::orders::{Blocked, CancelOutcome, SubmitOutcome};
use aegis::trading::{ControlModeStore, Guard, TradingConfig, TradingCore};
use chrono::{DateTime, Utc};
use rust_decimal_macros::dec;

use super::intent;
use crate::support::db::events_of;
use crate::support::sim;

async fn start_sim() -> SimHandle {
    sim::start(sim::frozen(&["005930", "000660"], 5, Some(100_000))).await
}

/// A trading core on the sim with the persisted mode store (what `aegis` runs, minus the loop).
async fn core(sim: &SimHandle, db: &TestDb, loss: DailyLossLimit) -> TradingCore {
    let now: DateTime<Utc> = sim.clock().now().with_timezone(&Utc);
    let clock: Arc<dyn Clock> = Arc::new(FakeClock::new(now));
    let kis = sim::kis_config(sim, "PS0000000000000000000000000000stop01", 1_000);
    let tokens: Arc<dyn TokenStore> = Arc::new(DbTokenStore::new(db.store.conn().clone()));
    let broker: Arc<dyn Broker> = Arc::new(sim::broker(&kis, tokens, clock.clone()));
    let modes = Arc::new(ControlModeStore::new(ControlStore::new(db.store.conn().clone()), "trader"));
    let kill = KillSwitchConfig { daily_loss: Some(loss), ..Default::default() };
    let guard = Guard::load(modes, db.store.events(), clock.clone(), kill).await.unwrap();
    let mut cfg =
        TradingConfig::new(now.with_timezone(&aegis::domain::market::kst()).date_naive(), "stop-test");
    cfg.risk.daily_loss = Some(loss);
    TradingCore::new(db.store.clone(), broker, clock, Arc::new(guard), cfg)
}

fn sent(o: SubmitOutcome) -> i64 {
    match o {
        SubmitOutcome::Sent(s) => s.id,
        other => panic!("expected Sent, got {other:?}"),
    }
}

/// Submits a marketable order and pulls its fills from the sim's order list.
async fn filled(core: &TradingCore, side: Side, price: i64, signal: &str) {
    let id = sent(core.submit(&intent("005930", side, 10, price, signal)).await.unwrap());
    core.apply_orders_snapshot(&core.broker().todays_orders().await.unwrap()).await.unwrap();
    let o = aegis::store::orders::get(core.store().conn(), id).await.unwrap().unwrap();
    assert_eq!(o.order.status(), OrderStatus::Filled, "{signal} fills at once");
}

fn sim_order(sim: &SimHandle, odno: &str) -> serde_json::Value {
    let n: u64 = odno.parse().unwrap();
    sim.state()["orders"].as_array().unwrap().iter().find(|o| o["odno"] == n).cloned().unwrap()
}

async fn breach_trips_stop_mode_and_cancels_still_reach_the_sim(db: TestDb) {
    let sim = start_sim().await;
    let loss = DailyLossLimit { max_loss: dec!(500), include_unrealized: false, block_reducing: false };
    let core = core(&sim, &db, loss).await;
    let resting = sent(core.submit(&intent("000660", Side::Buy, 1, 130_000, "rest")).await.unwrap());
    filled(&core, Side::Buy, 72_000, "buy").await;
    filled(&core, Side::Sell, 70_000, "sell").await;

    let out = core.submit(&intent("005930", Side::Buy, 1, 70_000, "again")).await.unwrap();
    assert!(
        matches!(out, SubmitOutcome::Blocked(Blocked::Guardrails(ref b)) if matches!(b[..], [Breach::DailyLoss { .. }])),
        "{out:?}"
    );
    let control = ControlStore::new(db.store.conn().clone());
    assert!(
        matches!(control.mode().await.unwrap(), TradingMode::Stop { reason: StopReason::DailyLoss { .. } }),
        "stop mode is persisted in control_state"
    );
    let out = core.submit(&intent("005930", Side::Buy, 1, 70_000, "after-stop")).await.unwrap();
    assert!(matches!(out, SubmitOutcome::Blocked(Blocked::Mode(_))), "{out:?}");
    assert_eq!(events_of(&db.store, "ORDER_BLOCKED_MODE").await.len(), 1);
    assert!(!events_of(&db.store, "GUARDRAIL_BREACH").await.is_empty());
    let orders_at_sim = sim.state()["orders"].as_array().unwrap().len();

    let CancelOutcome::Done(s) = core.cancel(resting).await.unwrap() else {
        panic!("cancel must go through")
    };
    assert_eq!(s.order.status(), OrderStatus::Canceled);
    let no = s.order.broker_order_no().unwrap().number.clone();
    let at_sim = sim_order(&sim, &no);
    assert_eq!((at_sim["status"].as_str(), at_sim["closed"].as_i64()), (Some("Closed"), Some(1)), "{at_sim}");
    assert_eq!(
        sim.state()["orders"].as_array().unwrap().len(),
        orders_at_sim + 1,
        "only the cancel reached the sim"
    );

    // A restarted core is still stopped; the operator's resume (another process) is adopted.
    let restarted = self::core(&sim, &db, loss).await;
    assert!(matches!(restarted.guard().mode(), TradingMode::Stop { .. }));
    let out = restarted.submit(&intent("005930", Side::Buy, 1, 70_000, "restarted")).await.unwrap();
    assert!(matches!(out, SubmitOutcome::Blocked(Blocked::Mode(_))), "{out:?}");
    control.apply(&ModeEvent::OperatorObserve, "operator", Utc::now()).await.unwrap();
    let out = restarted.submit(&intent("005930", Side::Buy, 1, 70_000, "observed")).await.unwrap();
    assert_eq!(out, SubmitOutcome::Observed);
    assert_eq!(restarted.guard().mode(), TradingMode::Observe);
    sim.shutdown().await;
}
storage_test!(breach_trips_stop_mode, breach_trips_stop_mode_and_cancels_still_reach_the_sim);
