//! Tests for positions, fees and the broker comparison.

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn ex(s: &str, side: Side, qty: Decimal, price: Decimal) -> Execution {
    Execution { symbol: sym(s), side, qty, amount: qty * price }
}

#[test]
fn krx_default_fees_truncate_to_whole_won() {
    let f = FeeSchedule::default();
    assert_eq!(f.fees(Side::Buy, dec!(1_000_000)), dec!(150));
    assert_eq!(f.fees(Side::Sell, dec!(1_000_000)), dec!(150) + dec!(1800));
    assert_eq!(f.fees(Side::Buy, dec!(9999)), dec!(1));
    let custom = FeeSchedule { commission_rate: dec!(0), sell_tax_rate: dec!(0.002), charge_dp: 2 };
    assert_eq!(custom.fees(Side::Sell, dec!(12345)), dec!(24.69));
}

#[test]
fn average_price_realized_and_unrealized_pnl() {
    let fees = FeeSchedule { commission_rate: dec!(0.001), sell_tax_rate: dec!(0.002), charge_dp: 0 };
    let fills = [
        ex("005930", Side::Buy, dec!(10), dec!(1000)),
        ex("005930", Side::Buy, dec!(10), dec!(2000)),
        ex("005930", Side::Sell, dec!(5), dec!(3000)),
    ];
    let mut p = Positions::from_fills(fees, &[], &fills).unwrap();
    let pos = p.get(&sym("005930")).unwrap();
    assert_eq!(pos.qty, dec!(15));
    assert_eq!(pos.avg_price(), Some(dec!(1500)));
    assert_eq!(pos.realized_gross, dec!(7500));
    // fees: buy 10 + 20, sell 15 commission + 30 tax.
    assert_eq!(pos.fees_paid, dec!(75));
    assert_eq!(p.realized_pnl(), dec!(7425));
    assert_eq!(p.unrealized_pnl(), Decimal::ZERO);
    p.mark(&sym("005930"), dec!(-1));
    assert_eq!(p.unrealized_pnl(), Decimal::ZERO);
    p.mark(&sym("005930"), dec!(1400));
    assert_eq!(p.unrealized_pnl(), dec!(-1500));
    assert_eq!(p.open_count(), 1);
}

#[test]
fn selling_everything_releases_the_whole_cost_and_oversells_are_refused() {
    let opening = [Holding { symbol: sym("000660"), qty: dec!(3), avg_price: dec!(100) }];
    let mut p = Positions::from_fills(FeeSchedule::default(), &opening, &[]).unwrap();
    p.apply(&ex("000660", Side::Buy, dec!(1), dec!(101))).unwrap();
    let before = p.clone();
    let err = p.apply(&ex("000660", Side::Sell, dec!(5), dec!(100))).unwrap_err();
    assert!(matches!(err, PositionError::Oversell { .. }));
    assert_eq!(p, before);
    p.apply(&ex("000660", Side::Sell, dec!(4), dec!(110))).unwrap();
    let pos = p.get(&sym("000660")).unwrap();
    assert_eq!((pos.qty, pos.cost, pos.realized_gross), (dec!(0), dec!(0), dec!(39)));
    assert_eq!(p.open_count(), 0);
    assert!(p.apply(&ex("000660", Side::Buy, dec!(0.5), dec!(1))).is_err());
    let bad = Holding { symbol: sym("000660"), qty: dec!(-1), avg_price: dec!(1) };
    assert!(p.open(&bad).is_err());
}

#[test]
fn partial_sells_of_an_uneven_cost_keep_the_books_exact() {
    let fills = [
        Execution { symbol: sym("005930"), side: Side::Buy, qty: dec!(3), amount: dec!(10) },
        ex("005930", Side::Buy, dec!(41), dec!(74_904)),
        ex("005930", Side::Sell, dec!(1), dec!(55_476)),
        ex("005930", Side::Sell, dec!(7), dec!(3)),
    ];
    let p = Positions::from_fills(FeeSchedule::default(), &[], &fills).unwrap();
    let pos = p.get(&sym("005930")).unwrap();
    let buys = dec!(10) + dec!(41) * dec!(74_904);
    let sells = dec!(55_476) + dec!(21);
    assert_eq!(pos.cost + sells - pos.realized_gross, buys);
    assert_eq!(pos.qty, dec!(36));
}

#[test]
fn broker_comparison_lists_typed_differences() {
    let fills = [ex("005930", Side::Buy, dec!(10), dec!(100)), ex("000660", Side::Buy, dec!(2), dec!(50))];
    let p = Positions::from_fills(FeeSchedule::default(), &[], &fills).unwrap();
    let broker = [
        Holding { symbol: sym("005930"), qty: dec!(6), avg_price: dec!(100) },
        Holding { symbol: sym("005930"), qty: dec!(4), avg_price: dec!(103) },
        Holding { symbol: sym("035720"), qty: dec!(1), avg_price: dec!(10) },
    ];
    let diffs = p.diff_with_broker(&broker, dec!(0.5));
    assert_eq!(
        diffs,
        vec![
            HoldingDiff::QtyMismatch { symbol: sym("000660"), ours: dec!(2), broker: dec!(0) },
            HoldingDiff::AvgPriceMismatch { symbol: sym("005930"), ours: dec!(100), broker: dec!(101.2) },
            HoldingDiff::QtyMismatch { symbol: sym("035720"), ours: dec!(0), broker: dec!(1) },
        ]
    );
    assert!(
        p.diff_with_broker(&broker, dec!(2))
            .iter()
            .all(|d| !matches!(d, HoldingDiff::AvgPriceMismatch { .. }))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Quantity equals Σ buys − Σ sells per symbol; cost basis plus sell proceeds minus realized
    /// gross P&L equals Σ buy amounts; incremental application equals recomputation.
    #[test]
    fn positions_equal_the_sum_of_fills(
        raw in prop::collection::vec((0usize..3, any::<bool>(), 1i64..50, 1i64..100_000), 0..40),
    ) {
        let symbols = ["005930", "000660", "035720"];
        let mut p = Positions::new(FeeSchedule::default());
        let mut applied = Vec::new();
        for (s, buy, q, px) in raw {
            let side = if buy { Side::Buy } else { Side::Sell };
            let e = ex(symbols[s], side, Decimal::from(q), Decimal::from(px));
            if p.apply(&e).is_ok() {
                applied.push(e);
            } else {
                prop_assert!(side == Side::Sell);
            }
        }
        let again = Positions::from_fills(FeeSchedule::default(), &[], &applied).unwrap();
        prop_assert_eq!(&again, &p);
        for s in symbols {
            let sum = |side: Side, f: fn(&Execution) -> Decimal| -> Decimal {
                applied.iter().filter(|e| e.symbol.as_str() == s && e.side == side).map(f).sum()
            };
            let (bq, sq) = (sum(Side::Buy, |e| e.qty), sum(Side::Sell, |e| e.qty));
            let (ba, sa) = (sum(Side::Buy, |e| e.amount), sum(Side::Sell, |e| e.amount));
            let pos = p.get(&sym(s));
            prop_assert_eq!(p.qty(&sym(s)), bq - sq);
            if let Some(pos) = pos {
                prop_assert_eq!(pos.cost + sa - pos.realized_gross, ba);
                prop_assert!(pos.cost >= Decimal::ZERO);
                if pos.qty.is_zero() { prop_assert!(pos.cost.is_zero()); }
            }
        }
    }
}

/// Broker holdings come straight from the account inquiry (up to 18 significant digits each):
/// their product can leave `Decimal`'s range. The comparison reports them, it does not panic.
#[test]
fn broker_holdings_beyond_the_decimal_range_are_reported_not_a_panic() {
    let huge = dec!(999_999_999_999_999_999);
    let p =
        Positions::from_fills(FeeSchedule::default(), &[], &[ex("005930", Side::Buy, MAX_INPUT, dec!(10))])
            .unwrap();
    let broker = [
        Holding { symbol: sym("005930"), qty: MAX_INPUT, avg_price: huge },
        Holding { symbol: sym("000660"), qty: huge, avg_price: huge },
        Holding { symbol: sym("000660"), qty: Decimal::MAX, avg_price: huge },
    ];
    assert_eq!(
        p.diff_with_broker(&broker, dec!(0.5)),
        vec![
            HoldingDiff::QtyMismatch { symbol: sym("000660"), ours: dec!(0), broker: Decimal::MAX },
            HoldingDiff::AvgPriceOutOfRange { symbol: sym("005930"), ours: Some(dec!(10)) },
        ]
    );
}

/// Every running sum of a position is checked: executions that would take one beyond the range
/// are refused (typed) and leave the positions unchanged, however many there are.
#[test]
fn running_sums_beyond_the_range_are_refused_not_a_panic() {
    let max = MAX_INPUT;
    let fees = FeeSchedule { commission_rate: dec!(0), sell_tax_rate: dec!(0), charge_dp: 0 };
    let buy = ex("005930", Side::Buy, max, max);
    // Quantity and cost: a position is kept within one order input's range.
    let mut p = Positions::new(fees);
    let mut refused = None;
    for i in 0..100_000 {
        if let Err(e) = p.apply(&buy) {
            refused = Some((i, e));
            break;
        }
    }
    assert_eq!(refused, Some((1, PositionError::Invalid(sym("005930")))));
    // Realized P&L: round trips each losing (almost) the whole amount add up until refused.
    let sell = Execution { symbol: sym("005930"), side: Side::Sell, qty: max, amount: dec!(1) };
    let mut p = Positions::new(fees);
    let mut refused = None;
    for i in 0..200_000 {
        if let Err(e) = p.apply(&buy).and_then(|()| p.apply(&sell)) {
            refused = Some((i, e));
            break;
        }
    }
    let (at, err) = refused.expect("refused before overflowing");
    assert!(at > 70_000, "only at the edge of the range: {at}");
    assert_eq!(err, PositionError::Invalid(sym("005930")));
    let before = p.clone();
    assert!(p.apply(&sell).is_err());
    assert_eq!(p, before, "unchanged after a refusal");
    assert!(p.realized_pnl() < Decimal::ZERO);
}
