//! Tests for fill deduplication, snapshot deltas and the quantity cap.

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;
use crate::domain::order::Order;

fn bno() -> BrokerOrderNo {
    BrokerOrderNo::new("06010", "1569157").unwrap()
}

fn notice(sec: u32, qty: Decimal, price: Decimal) -> NoticeFill {
    let exec_time = NaiveTime::from_hms_opt(9, 0, 0).unwrap() + chrono::Duration::seconds(i64::from(sec));
    NoticeFill { broker_order_no: bno(), exec_time, qty, price }
}

fn snap(cum_qty: Decimal, cum_amount: Decimal) -> FillSnapshot {
    FillSnapshot { broker_order_no: bno(), cum_qty, cum_amount }
}

#[test]
fn the_same_notice_twice_counts_once() {
    let mut l = FillLedger::new(bno(), dec!(100));
    let n = notice(1, dec!(30), dec!(100));
    assert!(
        matches!(l.apply_notice(&n).unwrap(), LedgerOutcome::Recorded { new_qty, .. } if new_qty == dec!(30))
    );
    assert_eq!(l.apply_notice(&n).unwrap(), LedgerOutcome::Duplicate);
    assert_eq!((l.cum_qty(), l.cum_amount()), (dec!(30), dec!(3000)));
}

#[test]
fn a_snapshot_ahead_synthesizes_the_missing_quantity_at_the_implied_price() {
    let mut l = FillLedger::new(bno(), dec!(100));
    l.apply_notice(&notice(1, dec!(50), dec!(100))).unwrap();
    let out = l.apply_snapshot(&FillSnapshot::from_avg_price(bno(), dec!(70), dec!(101))).unwrap();
    assert_eq!(
        out,
        LedgerOutcome::Recorded { new_qty: dec!(20), delta_amount: dec!(2070), absorbed_qty: Decimal::ZERO }
    );
    let synth = l.fills().iter().find(|f| f.is_synthetic()).unwrap();
    assert_eq!(synth.price(), Some(dec!(103.5)));
    assert_eq!(l.cum_amount(), dec!(7070));
    let again = l.apply_snapshot(&snap(dec!(70), dec!(7070))).unwrap();
    assert!(matches!(again, LedgerOutcome::NotAhead { .. }));
    let stale = l.apply_snapshot(&snap(dec!(40), dec!(4000))).unwrap();
    assert!(matches!(stale, LedgerOutcome::NotAhead { .. }));
    assert_eq!(l.cum_qty(), dec!(70));
}

#[test]
fn a_notice_after_the_snapshot_replaces_synthetic_quantity_instead_of_adding() {
    let mut l = FillLedger::new(bno(), dec!(100));
    l.apply_snapshot(&snap(dec!(20), dec!(2000))).unwrap();
    let out = l.apply_notice(&notice(1, dec!(15), dec!(100))).unwrap();
    assert_eq!(
        out,
        LedgerOutcome::Recorded {
            new_qty: Decimal::ZERO,
            delta_amount: Decimal::ZERO,
            absorbed_qty: dec!(15)
        }
    );
    assert_eq!(l.cum_qty(), dec!(20));
    let out = l.apply_notice(&notice(2, dec!(10), dec!(100))).unwrap();
    assert_eq!(
        out,
        LedgerOutcome::Recorded { new_qty: dec!(5), delta_amount: dec!(500), absorbed_qty: dec!(5) }
    );
    assert_eq!((l.cum_qty(), l.cum_amount()), (dec!(25), dec!(2500)));
    assert!(l.fills().iter().all(|f| !f.is_synthetic()));
}

#[test]
fn fills_beyond_the_order_quantity_are_refused_and_leave_the_ledger_unchanged() {
    let mut l = FillLedger::new(bno(), dec!(10));
    l.apply_notice(&notice(1, dec!(8), dec!(100))).unwrap();
    let before = l.clone();
    let err = l.apply_notice(&notice(2, dec!(3), dec!(100))).unwrap_err();
    assert_eq!(err, FillError::ExceedsOrderQty { order_qty: dec!(10), cum_qty: dec!(11) });
    assert!(matches!(l.apply_snapshot(&snap(dec!(11), dec!(1100))), Err(FillError::ExceedsOrderQty { .. })));
    assert_eq!(l, before);
    assert_eq!(l.leaves_qty(), dec!(2));
}

#[test]
fn malformed_and_foreign_fills_are_refused() {
    let mut l = FillLedger::new(bno(), dec!(10));
    assert!(matches!(l.apply_notice(&notice(1, dec!(0), dec!(100))), Err(FillError::Invalid(_))));
    assert!(matches!(l.apply_notice(&notice(1, dec!(1.5), dec!(100))), Err(FillError::Invalid(_))));
    assert!(matches!(l.apply_notice(&notice(1, dec!(1), dec!(-1))), Err(FillError::Invalid(_))));
    assert!(matches!(l.apply_snapshot(&snap(dec!(2), dec!(0))), Err(FillError::Invalid(_))));
    let mut other = notice(1, dec!(1), dec!(1));
    other.broker_order_no = BrokerOrderNo::new("06010", "42").unwrap();
    assert!(matches!(l.apply_notice(&other), Err(FillError::WrongOrder { .. })));
}

#[test]
fn ledgers_restore_from_stored_fills_and_refuse_bad_ones() {
    let mut l = FillLedger::new(bno(), dec!(10));
    l.apply_snapshot(&snap(dec!(4), dec!(400))).unwrap();
    l.apply_notice(&notice(1, dec!(6), dec!(100))).unwrap();
    let back = FillLedger::restore(bno(), dec!(10), l.fills().to_vec()).unwrap();
    assert_eq!(back, l);
    assert!(FillLedger::restore(bno(), dec!(5), l.fills().to_vec()).is_err());
    let mut tampered = l.fills().to_vec();
    tampered[0].amount = dec!(1);
    assert!(FillLedger::restore(bno(), dec!(10), tampered).is_err());
    let sym = Symbol::new("005930").unwrap();
    let ex = l.executions(&sym, Side::Buy);
    assert_eq!(ex.iter().map(|e| e.qty).sum::<Decimal>(), dec!(6));
}

/// Feeds ledger totals into an order the way the order service does.
fn feed(order: &mut Order, ledger: &FillLedger) {
    let e = order.fill_event(ledger.cum_qty(), ledger.cum_amount());
    if !ledger.cum_qty().is_zero() {
        order.apply(&e).unwrap();
    }
}

#[test]
fn notices_first_or_snapshot_first_reach_the_same_order_state() {
    use crate::domain::order::{IdempotencyKey, NewOrder, OrderEvent};
    use crate::domain::types::{Exchange, OrderType};
    let req = NewOrder {
        key: IdempotencyKey::from_stored("k"),
        symbol: Symbol::new("005930").unwrap(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty: dec!(10),
        price: Some(dec!(100)),
        exchange: Exchange::Krx,
    };
    let fresh = || {
        let mut o = Order::new(uuid::Uuid::nil(), req.clone()).unwrap();
        o.apply(&OrderEvent::Submit).unwrap();
        o.apply(&OrderEvent::Accepted { broker_order_no: bno() }).unwrap();
        (o, FillLedger::new(bno(), dec!(10)))
    };
    let notices = [notice(1, dec!(4), dec!(100)), notice(2, dec!(6), dec!(99))];
    let total = snap(dec!(10), dec!(994));
    let (mut a, mut la) = fresh();
    for n in &notices {
        la.apply_notice(n).unwrap();
        feed(&mut a, &la);
    }
    la.apply_snapshot(&total).unwrap();
    feed(&mut a, &la);
    let (mut b, mut lb) = fresh();
    lb.apply_snapshot(&total).unwrap();
    feed(&mut b, &lb);
    for n in notices.iter().chain(&notices) {
        lb.apply_notice(n).unwrap();
        feed(&mut b, &lb);
    }
    assert_eq!(a.record(), b.record());
    assert_eq!((b.filled_qty(), b.avg_fill_price()), (dec!(10), Some(dec!(99.4))));
    assert_eq!(b.status(), crate::domain::order::OrderStatus::Filled);
}

#[derive(Debug, Clone)]
enum Delivery {
    Notice(usize),
    Snapshot(usize),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Notices (lost, repeated, late) and prefix snapshots in any order never double count, never
    /// exceed the order, and converge to the broker's totals once everything has arrived.
    #[test]
    fn notices_and_snapshots_converge_without_double_counting(
        fills in prop::collection::vec((1i64..20, 1i64..500), 1..8),
        deliveries in prop::collection::vec(
            prop_oneof![(0usize..8).prop_map(Delivery::Notice), (0usize..9).prop_map(Delivery::Snapshot)],
            0..30,
        ),
        spare in 0i64..5,
    ) {
        let total: i64 = fills.iter().map(|f| f.0).sum();
        let order_qty = Decimal::from(total + spare);
        let prefix = |k: usize| -> (Decimal, Decimal) {
            let part = &fills[..k.min(fills.len())];
            (part.iter().map(|f| Decimal::from(f.0)).sum(), part.iter().map(|f| Decimal::from(f.0 * f.1)).sum())
        };
        let as_notice = |i: usize| {
            let (q, p) = fills[i % fills.len()];
            notice(u32::try_from(i % fills.len()).unwrap(), Decimal::from(q), Decimal::from(p))
        };
        let mut l = FillLedger::new(bno(), order_qty);
        let mut seen = std::collections::BTreeSet::new();
        let mut max_snapshot = Decimal::ZERO;
        for d in &deliveries {
            match d {
                Delivery::Notice(i) => {
                    l.apply_notice(&as_notice(*i)).unwrap();
                    seen.insert(i % fills.len());
                }
                Delivery::Snapshot(k) => {
                    let (q, a) = prefix(*k);
                    l.apply_snapshot(&snap(q, a)).unwrap();
                    max_snapshot = max_snapshot.max(q);
                }
            }
            let notices: Decimal = seen.iter().map(|i| Decimal::from(fills[*i].0)).sum();
            prop_assert_eq!(l.cum_qty(), notices.max(max_snapshot));
            prop_assert!(l.cum_qty() <= Decimal::from(total));
        }
        for i in 0..fills.len() {
            l.apply_notice(&as_notice(i)).unwrap();
        }
        let (q, a) = prefix(fills.len());
        l.apply_snapshot(&snap(q, a)).unwrap();
        prop_assert_eq!((l.cum_qty(), l.cum_amount()), (q, a));
    }

    /// Whatever is offered, the cumulative quantity never exceeds the order quantity and a refused
    /// fill leaves the ledger unchanged.
    #[test]
    fn fills_never_exceed_the_order_quantity(
        order_qty in 1i64..30,
        offers in prop::collection::vec((any::<bool>(), 0u32..5, 1i64..15, 1i64..40), 0..30),
    ) {
        let mut l = FillLedger::new(bno(), Decimal::from(order_qty));
        for (is_notice, sec, q, cum) in offers {
            let before = l.clone();
            let result = if is_notice {
                l.apply_notice(&notice(sec, Decimal::from(q), dec!(100)))
            } else {
                l.apply_snapshot(&snap(Decimal::from(cum), Decimal::from(cum * 100)))
            };
            if result.is_err() {
                prop_assert_eq!(&l, &before);
            }
            prop_assert!(l.cum_qty() <= Decimal::from(order_qty));
            prop_assert!(l.cum_qty() >= before.cum_qty());
        }
    }
}

/// Quantities and prices as the codec can hand them out (18 significant digits) or near
/// `Decimal::MAX`: refused as invalid before anything is multiplied, never a panic.
#[test]
fn fills_near_the_decimal_maximum_are_refused_not_a_panic() {
    for big in [dec!(999_999_999_999_999_999), Decimal::MAX] {
        let mut l = FillLedger::new(bno(), big);
        assert!(matches!(l.apply_notice(&notice(1, big, big)), Err(FillError::Invalid(_))));
        assert!(matches!(l.apply_notice(&notice(1, dec!(1), big)), Err(FillError::Invalid(_))));
        for amount in [Decimal::MAX, MAX_INPUT * MAX_INPUT + dec!(1)] {
            assert!(matches!(l.apply_snapshot(&snap(dec!(1), amount)), Err(FillError::Invalid(_))));
        }
        let from_avg = FillSnapshot::from_avg_price(bno(), dec!(2), Decimal::MAX);
        assert!(matches!(l.apply_snapshot(&from_avg), Err(FillError::Invalid(_))));
        assert!(l.fills().is_empty());
    }
    // The largest valid fill and a snapshot synthesizing the rest stay exact.
    let mut l = FillLedger::new(bno(), MAX_INPUT);
    l.apply_notice(&notice(1, MAX_INPUT - dec!(1), MAX_INPUT)).unwrap();
    l.apply_snapshot(&snap(MAX_INPUT, MAX_INPUT * MAX_INPUT)).unwrap();
    assert_eq!((l.cum_qty(), l.cum_amount()), (MAX_INPUT, MAX_INPUT * MAX_INPUT));
}
