//! The order service against the fake broker: idempotency, every guardrail, every mode, the kill
//! switch triggers, unknown outcomes, cancels in stop mode and recovery.

use aegis::domain::Side;
use aegis::domain::market::{AccountHolding, AccountSnapshot, ExecutionEvent, FeedStatus};
use aegis::domain::mode::{Action, KillSwitchConfig, ModeEvent, StopReason, TradingMode};
use aegis::domain::order::OrderStatus;
use aegis::domain::price::{PriceBand, PriceContext, TickTable};
use aegis::domain::risk::{Breach, DailyLossLimit, ExposureLimit};
use aegis::ports::{Broker, BrokerError};
use aegis::trading::ModeStore;
use aegis::trading::orders::{Blocked, CancelOutcome, Resolution, SubmitOutcome};
use chrono::TimeDelta;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::{Env, env, intent, places, sym};
use crate::support::db::{events_of, sqlite};

fn sent_id(o: SubmitOutcome) -> i64 {
    match o {
        SubmitOutcome::Sent(s) => s.id,
        other => panic!("expected Sent, got {other:?}"),
    }
}

/// Sends an order and fills it completely at its price, handling the fill notice.
async fn filled(e: &Env, code: &str, side: Side, qty: i64, price: i64, signal: &str) -> i64 {
    let id = sent_id(e.core.submit(&intent(code, side, qty, price, signal)).await.unwrap());
    let stored = aegis::store::orders::get(e.db.store.conn(), id).await.unwrap().unwrap();
    let no = stored.order.broker_order_no().unwrap().number.clone();
    let fill = e.broker.fill(&no, Decimal::from(qty), Decimal::from(price)).unwrap();
    e.core.handle_execution(&ExecutionEvent::Fill(fill)).await.unwrap();
    id
}

fn blocked_by(o: &SubmitOutcome) -> Vec<Breach> {
    match o {
        SubmitOutcome::Blocked(Blocked::Guardrails(b)) => b.clone(),
        other => panic!("expected a guardrail block, got {other:?}"),
    }
}

#[tokio::test]
async fn the_same_signal_never_reaches_the_broker_twice() {
    let e = env(sqlite().await, |_| {}, KillSwitchConfig::default()).await;
    let i = intent("005930", Side::Buy, 1, 70_000, "sig");
    let first = sent_id(e.core.submit(&i).await.unwrap());
    let again = e.core.submit(&i).await.unwrap();
    assert!(matches!(again, SubmitOutcome::Existing(ref s) if s.id == first));
    assert_eq!(places(&e.broker), 1);
    assert_eq!(events_of(&e.db.store, "ORDER_CREATED").await.len(), 1);
}

#[tokio::test]
async fn per_symbol_exposure_blocks_and_records() {
    let e = env(
        sqlite().await,
        |c| c.risk.symbol_exposure = Some(ExposureLimit::Quantity(dec!(5))),
        Default::default(),
    )
    .await;
    let out = e.core.submit(&intent("005930", Side::Buy, 6, 70_000, "a")).await.unwrap();
    assert!(matches!(blocked_by(&out)[..], [Breach::SymbolExposure { .. }]));
    assert_eq!(places(&e.broker), 0);
    assert_eq!(events_of(&e.db.store, "GUARDRAIL_BREACH").await.len(), 1);
    sent_id(e.core.submit(&intent("005930", Side::Buy, 5, 70_000, "b")).await.unwrap());
}

#[tokio::test]
async fn open_positions_cap_blocks_a_new_instrument() {
    let e = env(sqlite().await, |c| c.risk.max_open_positions = Some(1), Default::default()).await;
    filled(&e, "005930", Side::Buy, 1, 70_000, "a").await;
    let out = e.core.submit(&intent("000660", Side::Buy, 1, 100_000, "b")).await.unwrap();
    assert!(matches!(blocked_by(&out)[..], [Breach::OpenPositions { open: 1, limit: 1 }]));
    sent_id(e.core.submit(&intent("005930", Side::Buy, 1, 70_000, "c")).await.unwrap());
}

#[tokio::test]
async fn order_value_cap_blocks_large_orders() {
    let e = env(sqlite().await, |c| c.risk.max_order_value = Some(dec!(100_000)), Default::default()).await;
    let out = e.core.submit(&intent("005930", Side::Buy, 2, 70_000, "a")).await.unwrap();
    assert!(matches!(blocked_by(&out)[..], [Breach::OrderValue { .. }]));
    assert_eq!(places(&e.broker), 0);
}

#[tokio::test]
async fn orders_per_day_cap_counts_sent_orders() {
    let e = env(sqlite().await, |c| c.risk.max_orders_per_day = Some(1), Default::default()).await;
    sent_id(e.core.submit(&intent("005930", Side::Buy, 1, 70_000, "a")).await.unwrap());
    let out = e.core.submit(&intent("005930", Side::Buy, 1, 70_000, "b")).await.unwrap();
    assert!(matches!(blocked_by(&out)[..], [Breach::OrdersPerDay { count: 1, limit: 1 }]));
    assert_eq!(places(&e.broker), 1);
}

#[tokio::test]
async fn prices_off_tick_or_outside_the_band_are_not_sent() {
    let e = env(sqlite().await, |_| {}, Default::default()).await;
    let out = e.core.submit(&intent("005930", Side::Buy, 1, 70_050, "a")).await.unwrap();
    assert!(matches!(out, SubmitOutcome::Blocked(Blocked::Price(_))));
    let band = PriceBand::from_broker(dec!(49_700), dec!(92_300)).unwrap();
    e.core.set_price_context(
        &sym("005930"),
        PriceContext { table: TickTable::Stock, band: Some(band), ..PriceContext::default() },
    );
    let out = e.core.submit(&intent("005930", Side::Buy, 1, 92_400, "b")).await.unwrap();
    assert!(matches!(out, SubmitOutcome::Blocked(Blocked::Price(_))));
    assert_eq!(places(&e.broker), 0);
    assert_eq!(events_of(&e.db.store, "PRICE_CHECK_FAILED").await.len(), 2);
}

#[tokio::test]
async fn observe_mode_records_signals_and_sends_nothing() {
    let e = env(sqlite().await, |_| {}, Default::default()).await;
    let resting = sent_id(e.core.submit(&intent("005930", Side::Buy, 1, 60_000, "r")).await.unwrap());
    e.core.guard().apply(ModeEvent::OperatorObserve).await.unwrap();
    assert_eq!(e.modes.get().await.unwrap(), Some(TradingMode::Observe), "the mode is persisted");
    let out = e.core.submit(&intent("005930", Side::Buy, 1, 70_000, "a")).await.unwrap();
    assert_eq!(out, SubmitOutcome::Observed);
    assert_eq!(e.core.cancel(resting).await.unwrap(), CancelOutcome::Blocked);
    assert_eq!(places(&e.broker), 1);
    assert_eq!(events_of(&e.db.store, "SIGNAL_OBSERVED").await.len(), 1);
    e.core.guard().apply(ModeEvent::OperatorResume).await.unwrap();
    sent_id(e.core.submit(&intent("005930", Side::Buy, 1, 70_000, "a")).await.unwrap());
}

#[tokio::test]
async fn operator_stop_blocks_orders_and_allows_cancels() {
    let e = env(sqlite().await, |_| {}, Default::default()).await;
    let resting = sent_id(e.core.submit(&intent("005930", Side::Buy, 1, 60_000, "r")).await.unwrap());
    e.core.guard().apply(ModeEvent::OperatorStop { note: "lunch".into() }).await.unwrap();
    let out = e.core.submit(&intent("005930", Side::Buy, 1, 70_000, "a")).await.unwrap();
    assert!(matches!(out, SubmitOutcome::Blocked(Blocked::Mode(_))));
    let CancelOutcome::Done(s) = e.core.cancel(resting).await.unwrap() else {
        panic!("cancel must go through")
    };
    assert_eq!(s.order.status(), OrderStatus::Canceled);
    assert!(matches!(e.modes.get().await.unwrap(), Some(TradingMode::Stop { .. })));
}

#[tokio::test]
async fn a_daily_loss_breach_trips_stop_mode_and_cancels_still_go_through() {
    let loss = DailyLossLimit { max_loss: dec!(5_000), include_unrealized: false, block_reducing: false };
    let kill = KillSwitchConfig { daily_loss: Some(loss), ..Default::default() };
    let e = env(sqlite().await, |c| c.risk.daily_loss = Some(loss), kill).await;
    let resting = sent_id(e.core.submit(&intent("000660", Side::Buy, 1, 100_000, "rest")).await.unwrap());
    filled(&e, "005930", Side::Buy, 10, 70_000, "buy").await;
    filled(&e, "005930", Side::Sell, 10, 69_000, "sell").await;
    let out = e.core.submit(&intent("005930", Side::Buy, 1, 69_000, "again")).await.unwrap();
    assert!(matches!(blocked_by(&out)[..], [Breach::DailyLoss { .. }]));
    assert!(matches!(e.core.guard().mode(), TradingMode::Stop { reason: StopReason::DailyLoss { .. } }));
    assert!(!e.core.guard().allows(Action::NewOrder));
    let out = e.core.submit(&intent("005930", Side::Buy, 1, 69_000, "after-stop")).await.unwrap();
    assert!(matches!(out, SubmitOutcome::Blocked(Blocked::Mode(_))));
    let CancelOutcome::Done(s) = e.core.cancel(resting).await.unwrap() else {
        panic!("cancel must go through")
    };
    assert_eq!(s.order.status(), OrderStatus::Canceled);
    assert_eq!(places(&e.broker), 3);
    assert!(!events_of(&e.db.store, "MODE_CHANGED").await.is_empty());
}

#[tokio::test]
async fn repeated_rejects_trip_the_kill_switch() {
    let kill = KillSwitchConfig { max_rejects: Some(2), reject_window_secs: 60, ..Default::default() };
    let e = env(sqlite().await, |_| {}, kill).await;
    for s in ["a", "b"] {
        e.broker.fail_next(BrokerError::Rejected { msg_cd: "APBK0919".into(), msg1: "no cash".into() });
        let out = e.core.submit(&intent("005930", Side::Buy, 1, 70_000, s)).await.unwrap();
        assert!(matches!(out, SubmitOutcome::Rejected(ref o) if o.order.status() == OrderStatus::Rejected));
    }
    assert!(matches!(
        e.core.guard().mode(),
        TradingMode::Stop { reason: StopReason::RepeatedRejects { count: 2, .. } }
    ));
}

#[tokio::test]
async fn a_long_disconnection_trips_the_kill_switch() {
    let kill = KillSwitchConfig { max_disconnect_secs: Some(30), ..Default::default() };
    let e = env(sqlite().await, |_| {}, kill).await;
    let down = ExecutionEvent::Status(FeedStatus::Disconnected { reason: "eof".into() });
    e.core.handle_execution(&down).await.unwrap();
    assert_eq!(e.core.guard().mode(), TradingMode::Normal);
    e.clock.advance(TimeDelta::seconds(31));
    e.core.handle_execution(&down).await.unwrap();
    assert!(matches!(
        e.core.guard().mode(),
        TradingMode::Stop { reason: StopReason::BrokerDisconnected { .. } }
    ));
}

#[tokio::test]
async fn an_unknown_outcome_is_resolved_by_asking_the_broker() {
    let e = env(sqlite().await, |_| {}, Default::default()).await;
    // Lost: the broker never saw it; resent only once absence is proven (after the grace period).
    e.broker.fail_next(BrokerError::OutcomeUnknown { message: "timeout".into() });
    let i = intent("005930", Side::Buy, 1, 70_000, "lost");
    let SubmitOutcome::Unknown(s) = e.core.submit(&i).await.unwrap() else { panic!("unknown") };
    assert!(matches!(e.core.submit(&i).await.unwrap(), SubmitOutcome::Existing(_)));
    assert!(matches!(e.core.resolve_unknown(s.id).await.unwrap(), Resolution::StillUnknown(_)));
    e.clock.advance(TimeDelta::seconds(11));
    assert_eq!(e.core.resolve_unknown(s.id).await.unwrap(), Resolution::NotFound);
    sent_id(e.core.submit(&i).await.unwrap());
    // Arrived: the broker has it although the answer was lost; it is adopted, never resent.
    e.broker.fail_next(BrokerError::OutcomeUnknown { message: "timeout".into() });
    let j = intent("005930", Side::Buy, 2, 70_000, "arrived");
    let SubmitOutcome::Unknown(s) = e.core.submit(&j).await.unwrap() else { panic!("unknown") };
    let req = aegis::domain::market::OrderRequest {
        symbol: sym("005930"),
        side: Side::Buy,
        order_type: aegis::domain::OrderType::Limit,
        qty: dec!(2),
        price: dec!(70_000),
        exchange: aegis::domain::Exchange::Krx,
    };
    let ack = e.broker.place_order(&req).await.unwrap();
    e.broker.fill(&ack.broker_order_no, dec!(1), dec!(70_000)).unwrap();
    assert!(matches!(e.core.resolve_unknown(s.id).await.unwrap(), Resolution::Found(_)));
    let back = aegis::store::orders::get(e.db.store.conn(), s.id).await.unwrap().unwrap();
    assert_eq!((back.order.status(), back.order.filled_qty()), (OrderStatus::Partial, dec!(1)));
    assert!(matches!(e.core.submit(&j).await.unwrap(), SubmitOutcome::Existing(_)));
}

fn account(holdings: Vec<(&str, Decimal, Decimal)>) -> AccountSnapshot {
    let z = Decimal::ZERO;
    AccountSnapshot {
        orderable_cash: z,
        cash_d0: z,
        cash_d2: z,
        holdings: holdings
            .into_iter()
            .map(|(s, qty, avg)| AccountHolding {
                symbol: sym(s),
                name: String::new(),
                qty,
                sellable_qty: qty,
                avg_price: avg,
                purchase_amount: qty * avg,
                current_price: z,
                eval_amount: z,
                unrealized_pnl: z,
            })
            .collect(),
        purchase_total: z,
        eval_total: z,
        unrealized_pnl_total: z,
        account_total: z,
        net_asset: z,
    }
}

#[tokio::test]
async fn recovery_adopts_missed_fills_and_stops_on_unresolved_holdings() {
    let e = env(sqlite().await, |_| {}, Default::default()).await;
    let id = sent_id(e.core.submit(&intent("005930", Side::Buy, 5, 70_000, "a")).await.unwrap());
    e.broker.fill("0000000001", dec!(3), dec!(70_000)).unwrap();
    e.broker.set_account(account(vec![("005930", dec!(3), dec!(70_000))]));
    let report = e.core.recover().await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.differences.len(), 1, "{report:?}");
    let back = aegis::store::orders::get(e.db.store.conn(), id).await.unwrap().unwrap();
    assert_eq!(back.order.filled_qty(), dec!(3));
    assert_eq!(aegis::store::positions::load(e.db.store.conn()).await.unwrap()[0].qty, dec!(3));
    assert!(!events_of(&e.db.store, "RECOVERY_DIFFERENCE").await.is_empty());

    e.broker.set_account(account(vec![("005930", dec!(4), dec!(70_000))]));
    let report = e.core.recover().await.unwrap();
    assert!(report.stopped.is_some());
    assert!(matches!(e.core.guard().mode(), TradingMode::Stop { reason: StopReason::Reconciliation { .. } }));
}

/// The outage policy: from the loss of the feed until it is back and today's orders are
/// reconciled, new orders wait (no mode change, nothing sent); then they go out again by
/// themselves.
#[tokio::test]
async fn new_orders_pause_while_the_feed_is_down_and_resume_once_reconciled() {
    let e = env(sqlite().await, |_| {}, KillSwitchConfig::default()).await;
    let status = |s: FeedStatus| ExecutionEvent::Status(s);
    e.core.handle_execution(&status(FeedStatus::Disconnected { reason: "reset".into() })).await.unwrap();
    let held = e.core.submit(&intent("005930", Side::Buy, 1, 70_000, "during")).await.unwrap();
    assert!(matches!(held, SubmitOutcome::Blocked(Blocked::FeedDown(_))), "{held:?}");
    e.core.handle_execution(&status(FeedStatus::Connected { registrations: 2 })).await.unwrap();
    let held = e.core.submit(&intent("005930", Side::Buy, 1, 70_000, "between")).await.unwrap();
    assert!(matches!(held, SubmitOutcome::Blocked(Blocked::FeedDown(_))), "connected, not reconciled yet");
    assert_eq!(places(&e.broker), 0);
    e.core.handle_execution(&status(FeedStatus::Reconnected)).await.unwrap();
    let sent = e.core.submit(&intent("005930", Side::Buy, 1, 70_000, "after")).await.unwrap();
    assert!(matches!(sent, SubmitOutcome::Sent(_)), "{sent:?}");
    assert_eq!(places(&e.broker), 1);
    assert_eq!(events_of(&e.db.store, "ORDER_PAUSED").await.len(), 2);
    assert_eq!(events_of(&e.db.store, "ORDERS_RESUMED").await.len(), 1);
    assert!(events_of(&e.db.store, "ORDER_BLOCKED_MODE").await.is_empty(), "not a mode change");
}
