//! One test per guardrail, plus switches, exemptions and configuration parsing; a property test of
//! the gross exposure cap.

use proptest::prelude::*;
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

fn gross_cfg(limit: Decimal) -> RiskConfig {
    RiskConfig { max_gross_exposure: Some(limit), ..RiskConfig::default() }
}

fn open_buy(s: &str, qty: Decimal, price: Option<Decimal>) -> OpenOrderView {
    OpenOrderView { symbol: sym(s), side: Side::Buy, leaves_qty: qty, price }
}

#[test]
fn gross_exposure_counts_holdings_open_buys_and_the_intent_at_reference_prices() {
    // Holding 10 × 50_000 (last) + open buy 5 × 20_000 (its own price) + open sell (ignored).
    let mut snap = snap_holding("005930", dec!(10));
    snap.last_prices.insert(sym("005930"), dec!(50_000));
    snap.open_orders.push(open_buy("000660", dec!(5), Some(dec!(20_000))));
    snap.open_orders.push(OpenOrderView {
        symbol: sym("005930"),
        side: Side::Sell,
        leaves_qty: dec!(10),
        price: Some(dec!(1)),
    });
    let cfg = gross_cfg(dec!(700_000));
    // 500_000 + 100_000 + 1 × 100_000 = 700_000: at the limit passes.
    assert_eq!(check_intent(&cfg, &snap, &intent("035720", Side::Buy, dec!(1), Some(dec!(100_000)))), Ok(()));
    let err =
        check_intent(&cfg, &snap, &intent("035720", Side::Buy, dec!(2), Some(dec!(100_000)))).unwrap_err();
    assert_eq!(err, vec![Breach::GrossExposure { projected: dec!(800_000), limit: dec!(700_000) }]);
    // The last price wins over the order's price: 000660 now trades at 40_000.
    snap.last_prices.insert(sym("000660"), dec!(40_000));
    let err =
        check_intent(&cfg, &snap, &intent("035720", Side::Buy, dec!(1), Some(dec!(100_000)))).unwrap_err();
    assert_eq!(err, vec![Breach::GrossExposure { projected: dec!(800_000), limit: dec!(700_000) }]);
    // Sells are never blocked by it, even far above the limit.
    let sell = intent("005930", Side::Sell, dec!(10), Some(dec!(1_000_000)));
    assert_eq!(check_intent(&gross_cfg(dec!(1)), &snap, &sell), Ok(()));
    // Off by default.
    assert_eq!(
        check_intent(&RiskConfig::default(), &snap, &intent("035720", Side::Buy, dec!(9), None)),
        Ok(())
    );
}

#[test]
fn gross_exposure_fails_closed_without_a_reference_price() {
    // A holding without a last price (its price is unknown), a market buy without one either.
    let snap = snap_holding("005930", dec!(1));
    let cfg = gross_cfg(dec!(1e12));
    let err = check_intent(&cfg, &snap, &intent("000660", Side::Buy, dec!(1), None)).unwrap_err();
    assert_eq!(
        err,
        vec![
            Breach::NoReferencePrice { symbol: sym("005930") },
            Breach::NoReferencePrice { symbol: sym("000660") }
        ]
    );
    // Only one breach per instrument when another value check misses the same price.
    let both = RiskConfig { max_order_value: Some(dec!(1e12)), ..cfg };
    let mut snap = RiskSnapshot::default();
    snap.open_orders.push(open_buy("000660", dec!(1), Some(dec!(0))));
    let err = check_intent(&both, &snap, &intent("000660", Side::Buy, dec!(1), None)).unwrap_err();
    assert_eq!(err, vec![Breach::NoReferencePrice { symbol: sym("000660") }]);
}

#[test]
fn stored_configs_without_the_gross_exposure_field_still_parse() {
    let old = r#"{"daily_loss":null,"symbol_exposure":null,"max_open_positions":null,"max_order_value":null,"max_orders_per_day":200}"#;
    let cfg: RiskConfig = serde_json::from_str(old).unwrap();
    assert_eq!(cfg.max_gross_exposure, None);
    assert_eq!(cfg.max_orders_per_day, Some(DEFAULT_MAX_ORDERS_PER_DAY));
    let new = gross_cfg(dec!(5_000_000));
    let back: RiskConfig = serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
    assert_eq!(back, new);
}

proptest! {
    /// A buy passes the gross cap exactly when holdings + open buys + the intent, each at its
    /// reference price, stay within it; a smaller buy passes whenever a larger one does.
    #[test]
    fn gross_exposure_is_the_priced_sum(
        held in proptest::collection::vec((0u8..4, 1u32..1_000, 1u32..200_000), 0..4),
        open in proptest::collection::vec((0u8..4, 1u32..1_000, 1u32..200_000), 0..4),
        qty in 1u32..1_000,
        price in 1u32..200_000,
        limit in 1u64..2_000_000_000,
    ) {
        let codes = ["005930", "000660", "035720", "035420"];
        let mut snap = RiskSnapshot::default();
        let mut expected = Decimal::ZERO;
        for (i, q, p) in &held {
            let s = sym(codes[usize::from(*i)]);
            *snap.holdings.entry(s.clone()).or_default() += Decimal::from(*q);
            snap.last_prices.insert(s, Decimal::from(*p));
        }
        for (s, q) in &snap.holdings {
            expected += q * snap.last_prices[s];
        }
        for (i, q, p) in &open {
            let code = codes[usize::from(*i)];
            snap.open_orders.push(open_buy(code, Decimal::from(*q), Some(Decimal::from(*p))));
            let reference = snap.last_prices.get(&sym(code)).copied().unwrap_or(Decimal::from(*p));
            expected += Decimal::from(*q) * reference;
        }
        let buy = intent("086520", Side::Buy, Decimal::from(qty), Some(Decimal::from(price)));
        expected += Decimal::from(qty) * Decimal::from(price);
        let cfg = gross_cfg(Decimal::from(limit));
        let out = check_intent(&cfg, &snap, &buy);
        if expected <= Decimal::from(limit) {
            prop_assert_eq!(out, Ok(()));
            let smaller = intent("086520", Side::Buy, Decimal::ONE, Some(Decimal::from(price)));
            prop_assert_eq!(check_intent(&cfg, &snap, &smaller), Ok(()));
        } else {
            let breach = Breach::GrossExposure { projected: expected, limit: Decimal::from(limit) };
            prop_assert_eq!(out, Err(vec![breach]));
        }
    }
}
