//! The close stage against the fake broker on both backends: every order of the day ends in a
//! terminal state, the broker's orders of the day winning (fills adopted first, the remainder
//! expired by the exchange once the session has closed), or is alerted and recorded with the
//! reason it could not be settled.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, NaiveTime};
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tokio_util::sync::CancellationToken;

use super::Close;
use crate::domain::calendar::KrxCalendar;
use crate::domain::market::{AccountHolding, AccountSnapshot, kst_to_utc};
use crate::domain::order::OrderStatus;
use crate::domain::strategy::OrderIntent;
use crate::domain::{OrderType, Side, Symbol};
use crate::notify::{Notification, Notifier};
use crate::pipeline::stage::{Stage, StageContext};
use crate::pipeline::stages::{CloseOutput, StageDeps, StagesConfig};
use crate::ports::{Broker, BrokerError, Clock, FakeBroker, FakeClock};
use crate::store::testing::TestDb;
use crate::trading::orders::{CancelOutcome, SubmitOutcome};
use crate::trading::{ControlModeStore, Guard, TradingConfig, TradingCore};

#[derive(Debug, Default)]
struct Captured(Mutex<Vec<Notification>>);

impl Notifier for Captured {
    fn notify(&self, msg: Notification) -> BoxFuture<'_, ()> {
        self.0.lock().unwrap().push(msg);
        Box::pin(async {})
    }
}

impl Captured {
    fn alerts(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|n| match n {
                Notification::Alert(a) => Some(format!("{}: {}", a.kind.as_str(), a.text)),
                _ => None,
            })
            .collect()
    }
}

/// A Monday of the built-in calendar (regular session 09:00-15:30 KST).
fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn at(h: u32, m: u32) -> chrono::DateTime<chrono::Utc> {
    kst_to_utc(day(), NaiveTime::from_hms_opt(h, m, 0).unwrap())
}

struct Env {
    db: TestDb,
    clock: FakeClock,
    broker: Arc<FakeBroker>,
    captured: Arc<Captured>,
    deps: Arc<StageDeps>,
}

fn env(db: TestDb, now: chrono::DateTime<chrono::Utc>) -> Env {
    let clock = FakeClock::new(now);
    let c: Arc<dyn Clock> = Arc::new(clock.clone());
    let broker = Arc::new(FakeBroker::new(c.clone()));
    let captured = Arc::new(Captured::default());
    let config = StagesConfig::new(
        url::Url::parse("http://127.0.0.1:9/").unwrap(),
        std::env::temp_dir(),
        vec![Symbol::new("005930").unwrap()],
    );
    let b: Arc<dyn Broker> = broker.clone();
    let deps = StageDeps::new(b, c, Arc::new(KrxCalendar::builtin().unwrap()), captured.clone(), config);
    Env { db, clock, broker, captured, deps: Arc::new(deps) }
}

impl Env {
    /// The trading core intraday would have traded with (the same store, broker, clock and mode).
    async fn core(&self) -> TradingCore {
        let c: Arc<dyn Clock> = Arc::new(self.clock.clone());
        let modes = Arc::new(ControlModeStore::new(self.db.store.control(), "test"));
        let guard = Guard::load(modes, self.db.store.events(), c.clone(), Default::default()).await.unwrap();
        let b: Arc<dyn Broker> = self.broker.clone();
        TradingCore::new(
            self.db.store.clone(),
            b,
            c,
            Arc::new(guard),
            TradingConfig::new(day(), "mean_reversion"),
        )
    }

    async fn close(&self) -> CloseOutput {
        let mut ctx = StageContext {
            trade_date: day(),
            run_id: 1,
            attempt: 1,
            outputs: BTreeMap::new(),
            cancel: CancellationToken::new(),
            store: self.db.store.clone(),
        };
        Close::new(self.deps.clone()).run(&mut ctx).await.unwrap()
    }

    async fn statuses(&self) -> Vec<(i64, OrderStatus, Decimal)> {
        let day = crate::ports::TradingLog::load_day(&self.db.store, day()).await.unwrap();
        day.orders.iter().map(|o| (o.id, o.order.status(), o.order.filled_qty())).collect()
    }

    async fn events(&self, kind: &str) -> Vec<crate::store::events::EventRecord> {
        let all = self.db.store.events().recent(10_000).await.unwrap();
        all.into_iter().filter(|e| e.kind == kind).collect()
    }

    fn holding(&self, qty: Decimal, price: Decimal) {
        let z = Decimal::ZERO;
        let holdings = if qty.is_zero() {
            Vec::new()
        } else {
            vec![AccountHolding {
                symbol: Symbol::new("005930").unwrap(),
                name: "005930".into(),
                qty,
                sellable_qty: qty,
                avg_price: price,
                purchase_amount: qty * price,
                current_price: price,
                eval_amount: qty * price,
                unrealized_pnl: z,
            }]
        };
        self.broker.set_account(AccountSnapshot {
            orderable_cash: dec!(10_000_000),
            cash_d0: dec!(10_000_000),
            cash_d2: dec!(10_000_000),
            holdings,
            purchase_total: z,
            eval_total: z,
            unrealized_pnl_total: z,
            account_total: z,
            net_asset: z,
        });
    }
}

fn buy(qty: i64, price: i64, signal: &str) -> OrderIntent {
    OrderIntent {
        symbol: Symbol::new("005930").unwrap(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty: Decimal::from(qty),
        price: Some(Decimal::from(price)),
        reason: "test".into(),
        signal_id: signal.into(),
    }
}

fn unknown(message: &str) -> BrokerError {
    BrokerError::OutcomeUnknown { message: message.into() }
}

/// Issue #20: a cancel sent before the close whose confirmation never came (the order partly
/// filled meanwhile, the fill's notice lost), an order left resting and a submission whose outcome
/// was never learnt are all settled by the close after the session: the broker's fills are adopted,
/// the remainder counts as expired by the exchange, and the order that never reached the broker is
/// dropped. Nothing is alerted.
async fn cancel_pending_after_the_session_is_settled_body(db: TestDb) {
    let e = env(db, at(14, 0));
    let core = e.core().await;
    let SubmitOutcome::Sent(pending) = core.submit(&buy(10, 70_000, "pending")).await.unwrap() else {
        panic!("sent")
    };
    let no = pending.order.broker_order_no().unwrap().number.clone();
    e.broker.fill_unnoticed(&no, dec!(4), dec!(70_000)).unwrap();
    e.broker.fail_next(unknown("cancel timed out"));
    let CancelOutcome::Pending(p) = core.cancel(pending.id).await.unwrap() else { panic!("pending") };
    assert_eq!(p.order.status(), OrderStatus::CancelPending);
    let SubmitOutcome::Sent(resting) = core.submit(&buy(5, 69_900, "resting")).await.unwrap() else {
        panic!("sent")
    };
    e.broker.fail_next(unknown("order timed out"));
    let SubmitOutcome::Unknown(lost) = core.submit(&buy(3, 69_800, "lost")).await.unwrap() else {
        panic!("unknown outcome")
    };
    drop(core);
    e.holding(dec!(4), dec!(70_000));

    e.clock.set(at(15, 35));
    let out = e.close().await;
    let statuses = e.statuses().await;
    assert!(
        statuses.iter().all(|(_, s, _)| s.is_terminal()),
        "every order terminal after the close: {statuses:?}"
    );
    assert_eq!(
        statuses,
        vec![
            (pending.id, OrderStatus::Canceled, dec!(4)),
            (resting.id, OrderStatus::Canceled, dec!(0)),
            (lost.id, OrderStatus::Canceled, dec!(0)),
        ],
        "broker wins: the unnoticed fill is adopted before the remainder expires"
    );
    assert_eq!(out.orders_by_status, BTreeMap::from([("CANCELED".to_owned(), 3)]));
    assert_eq!(out.open_orders_left_to_expire, 2, "{out:?}");
    assert_eq!(out.cancels_pending, 0, "{out:?}");
    assert_eq!(out.filled_qty, dec!(4));
    assert!(out.reconciliation.stopped.is_none(), "{out:?}");
    let expired: Vec<_> = e.events("ORDER_EXPIRED").await.iter().filter_map(|ev| ev.order_id).collect();
    assert_eq!(expired.len(), 2, "{expired:?}");
    assert!(expired.contains(&pending.id) && expired.contains(&resting.id));
    assert!(e.captured.alerts().is_empty(), "{:?}", e.captured.alerts());
    assert!(e.events("ORDER_UNSETTLED").await.is_empty());
}
crate::storage_test!(
    cancel_pending_after_the_session_is_settled,
    cancel_pending_after_the_session_is_settled_body
);

/// While the session is still open, an order whose cancel the broker never received can still
/// fill: the close cannot settle it, so it alerts with the order and the reason and records an
/// `ORDER_UNSETTLED` event on the order.
async fn unsettled_order_is_alerted_and_recorded_body(db: TestDb) {
    let e = env(db, at(14, 0));
    let core = e.core().await;
    let SubmitOutcome::Sent(open) = core.submit(&buy(10, 70_000, "open")).await.unwrap() else {
        panic!("sent")
    };
    drop(core);
    e.holding(Decimal::ZERO, Decimal::ZERO);

    e.clock.set(at(15, 10));
    e.broker.fail_next(unknown("cancel timed out"));
    let out = e.close().await;
    assert_eq!(e.statuses().await, vec![(open.id, OrderStatus::CancelPending, dec!(0))]);
    assert_eq!(out.cancels_pending, 1, "{out:?}");
    let alerts = e.captured.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let no = open.order.broker_order_no().unwrap().number.clone();
    assert!(
        alerts[0].starts_with("order_not_terminal: ")
            && alerts[0].contains(&format!("order {}", open.id))
            && alerts[0].contains(&no)
            && alerts[0].contains("CANCEL_PENDING")
            && alerts[0].contains("session is still open"),
        "{alerts:?}"
    );
    let recorded = e.events("ORDER_UNSETTLED").await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].order_id, Some(open.id));
    assert!(recorded[0].message.contains("session is still open"), "{}", recorded[0].message);
    assert_eq!(e.events("alert").await.len(), 1, "the alert is recorded too");
}
crate::storage_test!(unsettled_order_is_alerted_and_recorded, unsettled_order_is_alerted_and_recorded_body);

/// The close deletes the audit rows past `AUDIT_RETENTION_DAYS` and keeps the day's own: the
/// unknown submit and its resolution at the close are audited order actions.
async fn close_prunes_the_audit_trail_body(db: TestDb) {
    let e = env(db, at(14, 0));
    let core = e.core().await;
    e.broker.fail_next(unknown("order timed out"));
    let SubmitOutcome::Unknown(_) = core.submit(&buy(3, 69_800, "lost")).await.unwrap() else {
        panic!("unknown outcome")
    };
    drop(core);
    e.holding(Decimal::ZERO, Decimal::ZERO);
    let old = crate::ports::trading_log::AuditNote {
        actor: "cli:alice".into(),
        action: "cli.halt".into(),
        target: "trading_mode".into(),
        details: serde_json::json!({ "result": "ok" }),
    };
    let long_ago = at(14, 0) - chrono::TimeDelta::days(366);
    crate::store::audit::record(&e.db.store, &old, long_ago).await.unwrap();

    e.clock.set(at(15, 35));
    e.close().await;
    let rows = crate::store::audit::list(&e.db.store, None, 100).await.unwrap();
    let actions: Vec<(&str, &str)> =
        rows.iter().map(|r| (r.action.as_str(), r.details["result"].as_str().unwrap_or(""))).collect();
    assert!(!actions.iter().any(|(a, _)| *a == "cli.halt"), "past the retention: {actions:?}");
    assert!(actions.contains(&("order.submit", "unknown")), "{actions:?}");
    assert!(actions.contains(&("order.resolve", "not_found")), "{actions:?}");
}
crate::storage_test!(close_prunes_the_audit_trail, close_prunes_the_audit_trail_body);
