//! Tests for every mode, every operator switch and every kill-switch trigger.

use chrono::TimeZone;
use rust_decimal_macros::dec;

use super::*;

fn t(sec: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap() + chrono::Duration::seconds(sec)
}

fn stop() -> TradingMode {
    TradingMode::Stop { reason: StopReason::Operator { note: "test".into() } }
}

fn inputs(now: i64) -> KillSwitchInputs<'static> {
    KillSwitchInputs {
        now: t(now),
        realized_pnl: Decimal::ZERO,
        unrealized_pnl: Decimal::ZERO,
        reject_times: &[],
        disconnected_since: None,
    }
}

#[test]
fn each_mode_allows_exactly_its_actions() {
    use Action::*;
    let table = [
        (TradingMode::Normal, [true, true, true, true]),
        (stop(), [false, true, false, true]),
        (TradingMode::Observe, [false, false, true, true]),
    ];
    for (mode, expected) in table {
        let got = [NewOrder, Cancel, ComputeSignals, Record].map(|a| mode.allows(a));
        assert_eq!(got, expected, "{}", mode.as_str());
    }
}

#[test]
fn operator_switches_and_refusals() {
    let resume = ModeEvent::OperatorResume;
    let observe = ModeEvent::OperatorObserve;
    let op_stop = ModeEvent::OperatorStop { note: "lunch".into() };
    assert_eq!(transition(&TradingMode::Normal, &observe), Ok(TradingMode::Observe));
    assert_eq!(transition(&stop(), &observe), Ok(TradingMode::Observe));
    assert_eq!(transition(&TradingMode::Observe, &resume), Ok(TradingMode::Normal));
    assert_eq!(transition(&stop(), &resume), Ok(TradingMode::Normal));
    let stopped = transition(&TradingMode::Normal, &op_stop).unwrap();
    assert_eq!(stopped, TradingMode::Stop { reason: StopReason::Operator { note: "lunch".into() } });
    assert!(transition(&TradingMode::Normal, &resume).is_err());
    assert!(transition(&TradingMode::Observe, &observe).is_err());
    let err = transition(&stop(), &op_stop).unwrap_err();
    assert!(err.to_string().starts_with("invalid mode transition from STOP"), "{err}");
}

#[test]
fn kill_switch_trips_stop_from_normal_and_observe_and_keeps_the_first_reason() {
    let first = ModeEvent::KillSwitch { reason: StopReason::Reconciliation { detail: "005930 qty".into() } };
    let second = ModeEvent::KillSwitch { reason: StopReason::RepeatedRejects { count: 3, window_secs: 60 } };
    let stopped = transition(&TradingMode::Normal, &first).unwrap();
    assert!(!stopped.allows(Action::NewOrder) && stopped.allows(Action::Cancel));
    assert_eq!(transition(&stopped, &second), Ok(stopped.clone()));
    assert!(matches!(transition(&TradingMode::Observe, &second), Ok(TradingMode::Stop { .. })));
}

#[test]
fn modes_persist_as_tagged_json() {
    let json = serde_json::to_string(&stop()).unwrap();
    assert_eq!(json, r#"{"mode":"STOP","reason":{"kind":"OPERATOR","note":"test"}}"#);
    assert_eq!(serde_json::from_str::<TradingMode>(&json).unwrap(), stop());
    assert_eq!(serde_json::from_str::<TradingMode>(r#"{"mode":"OBSERVE"}"#).unwrap(), TradingMode::Observe);
}

#[test]
fn daily_loss_trigger_realized_and_optionally_unrealized() {
    let limit = DailyLossLimit { max_loss: dec!(100), include_unrealized: false, block_reducing: false };
    let cfg = KillSwitchConfig { daily_loss: Some(limit), ..KillSwitchConfig::default() };
    let mut i = inputs(0);
    i.realized_pnl = dec!(-99);
    i.unrealized_pnl = dec!(-50);
    assert_eq!(evaluate_kill_switch(&cfg, &i), None);
    let with_unrealized = KillSwitchConfig {
        daily_loss: Some(DailyLossLimit { include_unrealized: true, ..limit }),
        ..KillSwitchConfig::default()
    };
    assert_eq!(
        evaluate_kill_switch(&with_unrealized, &i),
        Some(StopReason::DailyLoss { loss: dec!(149), limit: dec!(100) })
    );
    i.realized_pnl = dec!(-100);
    assert!(matches!(evaluate_kill_switch(&cfg, &i), Some(StopReason::DailyLoss { .. })));
}

#[test]
fn repeated_rejects_trigger_counts_only_inside_the_window() {
    let cfg =
        KillSwitchConfig { max_rejects: Some(3), reject_window_secs: 60, ..KillSwitchConfig::default() };
    let rejects = [t(0), t(30), t(50), t(120)];
    let mut i = inputs(60);
    i.reject_times = &rejects;
    assert_eq!(evaluate_kill_switch(&cfg, &i), None, "t(0) is exactly one window old");
    i.now = t(120);
    assert_eq!(evaluate_kill_switch(&cfg, &i), None);
    i.now = t(59);
    assert_eq!(
        evaluate_kill_switch(&cfg, &i),
        Some(StopReason::RepeatedRejects { count: 3, window_secs: 60 })
    );
    let off = KillSwitchConfig::default();
    assert_eq!(evaluate_kill_switch(&off, &i), None);
}

#[test]
fn disconnection_trigger_fires_at_the_limit() {
    let cfg = KillSwitchConfig { max_disconnect_secs: Some(30), ..KillSwitchConfig::default() };
    let mut i = inputs(29);
    i.disconnected_since = Some(t(0));
    assert_eq!(evaluate_kill_switch(&cfg, &i), None);
    i.now = t(30);
    assert_eq!(
        evaluate_kill_switch(&cfg, &i),
        Some(StopReason::BrokerDisconnected { since: t(0), for_secs: 30 })
    );
    i.disconnected_since = None;
    assert_eq!(evaluate_kill_switch(&cfg, &i), None);
    let cfg: KillSwitchConfig = toml::from_str("max_rejects = 5\nmax_disconnect_secs = 60").unwrap();
    assert_eq!(cfg.reject_window_secs, 300);
}
