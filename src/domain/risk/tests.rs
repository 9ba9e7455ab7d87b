//! One test per guardrail, plus switches, exemptions and configuration parsing.

use rust_decimal_macros::dec;

use super::*;
use crate::domain::fill::Execution;
use crate::domain::position::FeeSchedule;
use crate::domain::types::OrderType;

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn intent(s: &str, side: Side, qty: Decimal, price: Option<Decimal>) -> OrderIntent {
    let order_type = if price.is_some() { OrderType::Limit } else { OrderType::Market };
    OrderIntent { symbol: sym(s), side, order_type, qty, price, reason: "t".into(), signal_id: "s".into() }
}

fn snap_holding(s: &str, qty: Decimal) -> RiskSnapshot {
    RiskSnapshot { holdings: [(sym(s), qty)].into_iter().collect(), ..RiskSnapshot::default() }
}

fn loss_cfg(include_unrealized: bool, block_reducing: bool) -> RiskConfig {
    let daily_loss = Some(DailyLossLimit { max_loss: dec!(100_000), include_unrealized, block_reducing });
    RiskConfig { daily_loss, ..RiskConfig::default() }
}

#[test]
fn all_checks_off_lets_everything_through_but_bad_quantities() {
    let cfg = RiskConfig::default();
    let snap = RiskSnapshot { realized_pnl: dec!(-1e9), orders_today: 10_000, ..RiskSnapshot::default() };
    assert_eq!(check_intent(&cfg, &snap, &intent("005930", Side::Buy, dec!(1e6), None)), Ok(()));
    let err = check_intent(&cfg, &snap, &intent("005930", Side::Buy, dec!(0.5), None)).unwrap_err();
    assert_eq!(err, vec![Breach::InvalidQuantity { qty: dec!(0.5) }]);
    assert!(check_intent(&cfg, &snap, &intent("005930", Side::Buy, dec!(1e13), None)).is_err());
}

#[test]
fn daily_loss_on_realized_optionally_with_unrealized_and_exits_exempt() {
    let buy = intent("005930", Side::Buy, dec!(1), Some(dec!(100)));
    let mut snap = snap_holding("005930", dec!(5));
    snap.realized_pnl = dec!(-60_000);
    snap.unrealized_pnl = dec!(-50_000);
    assert_eq!(check_intent(&loss_cfg(false, false), &snap, &buy), Ok(()));
    let err = check_intent(&loss_cfg(true, false), &snap, &buy).unwrap_err();
    assert_eq!(err, vec![Breach::DailyLoss { loss: dec!(110_000), limit: dec!(100_000) }]);
    snap.realized_pnl = dec!(-100_000);
    assert!(check_intent(&loss_cfg(false, false), &snap, &buy).is_err());
    let exit = intent("005930", Side::Sell, dec!(5), Some(dec!(100)));
    assert_eq!(check_intent(&loss_cfg(false, false), &snap, &exit), Ok(()));
    assert!(check_intent(&loss_cfg(false, true), &snap, &exit).is_err());
    let oversell = intent("005930", Side::Sell, dec!(6), Some(dec!(100)));
    assert!(check_intent(&loss_cfg(false, false), &snap, &oversell).is_err());
}

#[test]
fn symbol_exposure_by_quantity_and_by_value_counts_open_buys() {
    let mut snap = snap_holding("005930", dec!(5));
    snap.open_orders.push(OpenOrderView {
        symbol: sym("005930"),
        side: Side::Buy,
        leaves_qty: dec!(3),
        price: None,
    });
    let qty_cfg =
        RiskConfig { symbol_exposure: Some(ExposureLimit::Quantity(dec!(10))), ..RiskConfig::default() };
    assert_eq!(check_intent(&qty_cfg, &snap, &intent("005930", Side::Buy, dec!(2), Some(dec!(1)))), Ok(()));
    let err =
        check_intent(&qty_cfg, &snap, &intent("005930", Side::Buy, dec!(3), Some(dec!(1)))).unwrap_err();
    assert_eq!(
        err,
        vec![Breach::SymbolExposure { symbol: sym("005930"), projected: dec!(11), limit: dec!(10) }]
    );
    let val_cfg =
        RiskConfig { symbol_exposure: Some(ExposureLimit::Value(dec!(1_000_000))), ..RiskConfig::default() };
    assert_eq!(
        check_intent(&val_cfg, &snap, &intent("005930", Side::Buy, dec!(2), Some(dec!(100_000)))),
        Ok(())
    );
    let err = check_intent(&val_cfg, &snap, &intent("005930", Side::Buy, dec!(3), Some(dec!(100_000))))
        .unwrap_err();
    assert_eq!(
        err,
        vec![Breach::SymbolExposure {
            symbol: sym("005930"),
            projected: dec!(1_100_000),
            limit: dec!(1_000_000)
        }]
    );
    let market = intent("005930", Side::Buy, dec!(1), None);
    assert_eq!(
        check_intent(&val_cfg, &snap, &market).unwrap_err(),
        vec![Breach::NoReferencePrice { symbol: sym("005930") }]
    );
    snap.last_prices.insert(sym("005930"), dec!(1_000));
    assert_eq!(check_intent(&val_cfg, &snap, &market), Ok(()));
    let sell = intent("005930", Side::Sell, dec!(5), Some(dec!(1)));
    assert_eq!(check_intent(&qty_cfg, &snap_holding("005930", dec!(50)), &sell), Ok(()));
}

#[test]
fn open_positions_cap_blocks_only_new_instruments() {
    let mut snap = snap_holding("005930", dec!(1));
    snap.open_orders.push(OpenOrderView {
        symbol: sym("000660"),
        side: Side::Buy,
        leaves_qty: dec!(1),
        price: None,
    });
    let cfg = RiskConfig { max_open_positions: Some(2), ..RiskConfig::default() };
    assert_eq!(check_intent(&cfg, &snap, &intent("000660", Side::Buy, dec!(1), Some(dec!(1)))), Ok(()));
    assert_eq!(check_intent(&cfg, &snap, &intent("005930", Side::Buy, dec!(1), Some(dec!(1)))), Ok(()));
    let err = check_intent(&cfg, &snap, &intent("035720", Side::Buy, dec!(1), Some(dec!(1)))).unwrap_err();
    assert_eq!(err, vec![Breach::OpenPositions { open: 2, limit: 2 }]);
}

#[test]
fn order_value_cap_uses_limit_price_or_last_price() {
    let cfg = RiskConfig { max_order_value: Some(dec!(1_000_000)), ..RiskConfig::default() };
    let mut snap = RiskSnapshot::default();
    assert_eq!(
        check_intent(&cfg, &snap, &intent("005930", Side::Buy, dec!(10), Some(dec!(100_000)))),
        Ok(())
    );
    let err =
        check_intent(&cfg, &snap, &intent("005930", Side::Sell, dec!(11), Some(dec!(100_000)))).unwrap_err();
    assert_eq!(err, vec![Breach::OrderValue { value: dec!(1_100_000), limit: dec!(1_000_000) }]);
    let market = intent("005930", Side::Buy, dec!(11), None);
    assert_eq!(
        check_intent(&cfg, &snap, &market).unwrap_err(),
        vec![Breach::NoReferencePrice { symbol: sym("005930") }]
    );
    snap.last_prices.insert(sym("005930"), dec!(100_000));
    assert!(matches!(check_intent(&cfg, &snap, &market).unwrap_err()[0], Breach::OrderValue { .. }));
}

#[test]
fn orders_per_day_cap_counts_orders_already_sent() {
    let cfg = RiskConfig { max_orders_per_day: Some(3), ..RiskConfig::default() };
    let mut snap = RiskSnapshot { orders_today: 2, ..RiskSnapshot::default() };
    let i = intent("005930", Side::Buy, dec!(1), Some(dec!(1)));
    assert_eq!(check_intent(&cfg, &snap, &i), Ok(()));
    snap.orders_today = 3;
    assert_eq!(check_intent(&cfg, &snap, &i).unwrap_err(), vec![Breach::OrdersPerDay { count: 3, limit: 3 }]);
}

#[test]
fn several_breaches_are_all_reported_and_snapshots_come_from_positions() {
    let e = Execution { symbol: sym("005930"), side: Side::Buy, qty: dec!(10), amount: dec!(1_000_000) };
    let mut p = Positions::from_fills(FeeSchedule::default(), &[], [&e]).unwrap();
    p.mark(&sym("005930"), dec!(90_000));
    let snap = RiskSnapshot::from_positions(&p, LastPrices::new(), Vec::new(), 7);
    assert_eq!(snap.unrealized_pnl, dec!(-100_000));
    assert_eq!(snap.realized_pnl, dec!(-150));
    assert_eq!(snap.holdings.get(&sym("005930")), Some(&dec!(10)));
    let cfg = RiskConfig {
        daily_loss: Some(DailyLossLimit {
            max_loss: dec!(50_000),
            include_unrealized: true,
            block_reducing: false,
        }),
        max_orders_per_day: Some(5),
        ..RiskConfig::default()
    };
    let err = check_intent(&cfg, &snap, &intent("000660", Side::Buy, dec!(1), Some(dec!(1)))).unwrap_err();
    assert_eq!(err.len(), 2);
}

#[test]
fn config_parses_from_toml_and_rejects_unknown_keys() {
    let cfg: RiskConfig = toml::from_str(
        "max_orders_per_day = 50\nsymbol_exposure = { kind = \"VALUE\", max = \"5000000\" }\n\
         [daily_loss]\nmax_loss = \"300000\"\ninclude_unrealized = true\n",
    )
    .unwrap();
    assert_eq!(cfg.max_orders_per_day, Some(50));
    assert_eq!(cfg.symbol_exposure, Some(ExposureLimit::Value(dec!(5_000_000))));
    assert!(cfg.daily_loss.is_some_and(|d| d.include_unrealized && !d.block_reducing));
    assert!(toml::from_str::<RiskConfig>("max_orders = 1").is_err());
}
