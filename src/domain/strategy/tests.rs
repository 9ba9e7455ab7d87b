//! Tests for the parameter policy and the reference mean-reversion strategy.

use chrono::TimeZone;
use rust_decimal_macros::dec;
use serde_json::json;

use super::mean_reversion::SPECS;
use super::*;
use crate::domain::fill::Execution;
use crate::domain::position::FeeSchedule;

fn sym() -> Symbol {
    Symbol::new("005930").unwrap()
}

fn input(sec: i64, price: Decimal) -> MarketInput {
    let ts = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap() + chrono::Duration::seconds(sec);
    MarketInput { symbol: sym(), price, volume: dec!(1), ts }
}

fn strategy(extra: serde_json::Value) -> MeanReversion {
    let mut row = json!({"window": 3, "entry_pct": 2, "exit_pct": 1, "stop_loss_pct": 5,
        "order_qty": 2, "max_position_qty": 4, "cooldown_secs": 60});
    if let (Some(obj), Some(extra)) = (row.as_object_mut(), extra.as_object()) {
        obj.extend(extra.clone());
    }
    MeanReversion::new("mr", MeanReversionParams::from_json(&row).unwrap())
}

fn run(
    s: &mut MeanReversion,
    pos: &Positions,
    open: &[OpenOrderView],
    prices: &[(i64, Decimal)],
) -> Vec<OrderIntent> {
    let view = StrategyView { positions: pos, open_orders: open };
    prices.iter().flat_map(|(t, p)| s.on_market(&input(*t, *p), &view)).collect()
}

fn holding(qty: Decimal, price: Decimal) -> Positions {
    let e = Execution { symbol: sym(), side: Side::Buy, qty, amount: qty * price };
    Positions::from_fills(FeeSchedule::default(), &[], [&e]).unwrap()
}

#[test]
fn buys_a_dip_once_the_window_is_full_on_a_tick_with_a_stable_signal_id() {
    let mut s = strategy(json!({}));
    let flat = Positions::default();
    assert!(run(&mut s, &flat, &[], &[(0, dec!(10_000)), (1, dec!(9_000))]).is_empty());
    let out = run(&mut s, &flat, &[], &[(2, dec!(9_003))]);
    assert_eq!(out.len(), 1);
    let i = &out[0];
    assert_eq!(
        (i.side, i.qty, i.price, i.order_type),
        (Side::Buy, dec!(2), Some(dec!(9_000)), OrderType::Limit)
    );
    assert_eq!(i.signal_id, format!("005930-BUY-{}", input(2, dec!(1)).ts.timestamp_millis()));
    assert_eq!(s.id(), "mr");
}

#[test]
fn cooldown_and_position_cap_limit_entries() {
    let mut s = strategy(json!({}));
    let flat = Positions::default();
    let dips = [(0, dec!(10_000)), (1, dec!(10_000)), (2, dec!(9_000)), (30, dec!(8_000)), (90, dec!(7_000))];
    let out = run(&mut s, &flat, &[], &dips);
    assert_eq!(out.iter().map(|i| i.qty).collect::<Vec<_>>(), vec![dec!(2), dec!(2)]);
    let open = [OpenOrderView { symbol: sym(), side: Side::Buy, leaves_qty: dec!(2), price: None }];
    let mut s = strategy(json!({"cooldown_secs": 0}));
    let out = run(&mut s, &holding(dec!(1), dec!(6_000)), &open, &dips);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn exits_on_take_profit_and_stop_loss_but_not_twice() {
    let pos = holding(dec!(3), dec!(10_000));
    let mut s = strategy(json!({}));
    let out = run(&mut s, &pos, &[], &[(0, dec!(10_000)), (1, dec!(10_000)), (2, dec!(10_500))]);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].side, out[0].qty), (Side::Sell, dec!(3)));
    assert!(out[0].reason.starts_with("take profit"));
    let mut s = strategy(json!({"window": 2}));
    let out = run(&mut s, &pos, &[], &[(0, dec!(9_400)), (1, dec!(9_400))]);
    assert!(out[0].reason.starts_with("stop loss"), "{out:?}");
    let selling = [OpenOrderView { symbol: sym(), side: Side::Sell, leaves_qty: dec!(3), price: None }];
    let mut s = strategy(json!({"window": 2}));
    assert!(run(&mut s, &pos, &selling, &[(0, dec!(9_400)), (1, dec!(9_400))]).is_empty());
}

#[test]
fn parameter_rows_are_validated_with_cross_field_rules() {
    assert!(MeanReversionParams::from_json(&json!({})).is_ok());
    let err = MeanReversionParams::from_json(&json!({"order_qty": 20, "max_position_qty": 10})).unwrap_err();
    assert!(err.to_string().contains("order_qty 20 exceeds max_position_qty 10"), "{err}");
    assert!(MeanReversionParams::from_json(&json!({"window": 1})).is_err());
    assert_eq!(SPECS.len(), 7);
}

#[test]
fn params_policy_decides_what_runs_without_an_active_row() {
    let good = json!({"window": 5});
    let bad = json!({"window": 0});
    let d = |policy, today, last| decide_params(&SPECS, policy, today, last);
    assert!(matches!(d(ParamsPolicy::SkipTrading, Some(&good), None), Ok(ParamsDecision::Trade(_))));
    assert!(d(ParamsPolicy::ReuseLastActive, Some(&bad), Some(&good)).is_err());
    assert!(matches!(d(ParamsPolicy::SkipTrading, None, Some(&good)), Ok(ParamsDecision::Skip { .. })));
    match d(ParamsPolicy::ReuseLastActive, None, Some(&good)) {
        Ok(ParamsDecision::Trade(p)) => assert_eq!(p.get("window"), Some(dec!(5))),
        other => panic!("{other:?}"),
    }
    assert!(matches!(d(ParamsPolicy::ReuseLastActive, None, None), Ok(ParamsDecision::Skip { .. })));
    assert!(matches!(d(ParamsPolicy::ObserveOnly, None, Some(&good)), Ok(ParamsDecision::Observe(_))));
    match d(ParamsPolicy::ObserveOnly, None, None) {
        Ok(ParamsDecision::Observe(p)) => assert_eq!(p.get("window"), Some(dec!(20))),
        other => panic!("{other:?}"),
    }
    assert_eq!(serde_json::to_string(&ParamsPolicy::ReuseLastActive).unwrap(), "\"REUSE_LAST_ACTIVE\"");
}
