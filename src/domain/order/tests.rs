//! Tests for the order transition table and the `Order` aggregate.

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;
use crate::domain::types::{Exchange, OrderType, Side, Symbol};

fn bno(n: &str) -> BrokerOrderNo {
    BrokerOrderNo::new("06010", n).unwrap()
}

fn order(qty: Decimal) -> Order {
    let key = IdempotencyKey::derive("mr", chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), "s1");
    let req = NewOrder {
        key,
        symbol: Symbol::new("005930").unwrap(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty,
        price: Some(dec!(70000)),
        exchange: Exchange::Krx,
    };
    Order::new(uuid::Uuid::nil(), req).unwrap()
}

fn rejected() -> OrderEvent {
    OrderEvent::Rejected { code: "APBK0919".into(), reason: "no".into() }
}

#[test]
fn happy_path_new_to_filled() {
    let mut o = order(dec!(10));
    o.apply(&OrderEvent::Submit).unwrap();
    o.apply(&OrderEvent::Accepted { broker_order_no: bno("1569157") }).unwrap();
    assert_eq!(o.broker_order_no().unwrap().number, "0001569157");
    let e = o.fill_event(dec!(4), dec!(280000));
    assert_eq!(o.apply(&e).unwrap(), Applied::Moved { from: OrderStatus::Sent, to: OrderStatus::Partial });
    assert_eq!(o.apply(&e).unwrap(), Applied::Unchanged);
    let e = o.fill_event(dec!(10), dec!(701000));
    o.apply(&e).unwrap();
    assert_eq!(o.status(), OrderStatus::Filled);
    assert_eq!(o.avg_fill_price(), Some(dec!(70100)));
    assert_eq!(o.leaves_qty(), Decimal::ZERO);
}

#[test]
fn a_filled_order_accepts_a_refined_amount_but_no_new_quantity() {
    let mut o = order(dec!(10));
    o.apply(&OrderEvent::Submit).unwrap();
    o.apply(&o.fill_event(dec!(10), dec!(1001))).unwrap();
    assert_eq!(o.status(), OrderStatus::Filled);
    let refined = o.fill_event(dec!(10), dec!(1000));
    assert_eq!(o.apply(&refined).unwrap(), Applied::Repriced { from: dec!(1001), to: dec!(1000) });
    assert_eq!((o.status(), o.avg_fill_price()), (OrderStatus::Filled, Some(dec!(100))));
}

#[test]
fn a_fill_overtaking_the_submit_answer_keeps_the_late_broker_number() {
    let mut o = order(dec!(10));
    o.apply(&OrderEvent::Submit).unwrap();
    o.apply(&o.fill_event(dec!(3), dec!(300))).unwrap();
    assert_eq!(o.status(), OrderStatus::Partial);
    let accepted = OrderEvent::Accepted { broker_order_no: bno("5") };
    assert_eq!(o.apply(&accepted).unwrap(), Applied::NumberAttached);
    assert_eq!((o.status(), o.broker_order_no()), (OrderStatus::Partial, Some(&bno("5"))));
    assert_eq!(o.apply(&accepted).unwrap(), Applied::Unchanged);
}

#[test]
fn table_refuses_backwards_and_terminal_moves() {
    use OrderStatus as S;
    assert!(transition(S::Sent, &OrderEvent::Submit).is_err());
    assert!(transition(S::Partial, &rejected()).is_err());
    assert!(transition(S::Filled, &OrderEvent::CancelRequested).is_err());
    assert!(transition(S::Canceled, &OrderEvent::Submit).is_err());
    assert!(transition(S::Sent, &OrderEvent::ResolvedNotFound).is_err());
    assert_eq!(transition(S::New, &rejected()), Ok(S::Rejected));
    assert_eq!(transition(S::New, &OrderEvent::CancelRequested), Ok(S::Canceled));
    assert_eq!(transition(S::Partial, &OrderEvent::CancelConfirmed), Ok(S::Canceled));
    let err = transition(S::Filled, &OrderEvent::Submit).unwrap_err();
    assert_eq!(err.to_string(), "invalid order transition from FILLED on SUBMIT");
}

#[test]
fn every_legal_move_goes_forward_except_resolved_not_found() {
    let events = sample_events();
    for &from in OrderStatus::ALL {
        for e in &events {
            if let Ok(to) = transition(from, e) {
                let forward = to.rank() >= from.rank();
                assert!(forward || matches!(e, OrderEvent::ResolvedNotFound), "{from} -> {to} on {e}");
            }
        }
    }
}

#[test]
fn unknown_outcome_resolves_to_sent_or_back_to_new() {
    let mut o = order(dec!(5));
    o.apply(&OrderEvent::Submit).unwrap();
    o.apply(&OrderEvent::SubmitOutcomeUnknown).unwrap();
    assert!(o.status().needs_resolution());
    o.apply(&OrderEvent::ResolvedNotFound).unwrap();
    assert_eq!((o.status(), o.record().attempt), (OrderStatus::New, 1));
    o.apply(&OrderEvent::Submit).unwrap();
    o.apply(&OrderEvent::Accepted { broker_order_no: bno("7") }).unwrap();
    assert_eq!(o.status(), OrderStatus::Sent);
}

#[test]
fn fills_above_quantity_and_conflicting_numbers_are_refused_without_change() {
    let mut o = order(dec!(5));
    o.apply(&OrderEvent::Submit).unwrap();
    o.apply(&OrderEvent::Accepted { broker_order_no: bno("7") }).unwrap();
    let before = o.clone();
    let over = OrderEvent::Fill { cum_qty: dec!(6), cum_amount: dec!(6), leaves_qty: dec!(-1) };
    assert!(matches!(o.apply(&over), Err(OrderError::FillExceedsQuantity { .. })));
    let bad_leaves = OrderEvent::Fill { cum_qty: dec!(2), cum_amount: dec!(2), leaves_qty: dec!(0) };
    assert!(matches!(o.apply(&bad_leaves), Err(OrderError::InconsistentFill { .. })));
    let other = OrderEvent::Accepted { broker_order_no: bno("8") };
    assert!(matches!(o.apply(&other), Err(OrderError::BrokerOrderNoConflict { .. })));
    let other_branch = OrderEvent::Accepted { broker_order_no: BrokerOrderNo::new("06011", "7").unwrap() };
    assert!(matches!(o.apply(&other_branch), Err(OrderError::BrokerOrderNoConflict { .. })));
    // The overseas order listings name no branch: the same number without one is the same order.
    let no_branch = OrderEvent::Accepted { broker_order_no: BrokerOrderNo::new("", "7").unwrap() };
    assert_eq!(o.apply(&no_branch).unwrap(), Applied::Unchanged);
    let no_branch_other = OrderEvent::Accepted { broker_order_no: BrokerOrderNo::new("", "8").unwrap() };
    assert!(matches!(o.apply(&no_branch_other), Err(OrderError::BrokerOrderNoConflict { .. })));
    assert_eq!(o, before);
    o.apply(&o.fill_event(dec!(3), dec!(3))).unwrap();
    let back = o.fill_event(dec!(2), dec!(2));
    assert!(o.apply(&back).is_err());
}

#[test]
fn cancel_pending_keeps_filling_and_survives_a_cancel_reject() {
    let mut o = order(dec!(5));
    for e in
        [OrderEvent::Submit, OrderEvent::Accepted { broker_order_no: bno("9") }, OrderEvent::CancelRequested]
    {
        o.apply(&e).unwrap();
    }
    o.apply(&o.fill_event(dec!(2), dec!(20))).unwrap();
    assert_eq!(o.status(), OrderStatus::CancelPending);
    o.apply(&OrderEvent::CancelRejected { code: "APBK1359".into(), reason: "qty".into() }).unwrap();
    assert_eq!(o.status(), OrderStatus::CancelPending);
    o.apply(&OrderEvent::CancelConfirmed).unwrap();
    assert_eq!(o.status(), OrderStatus::Canceled);
    assert_eq!(o.apply(&OrderEvent::CancelConfirmed).unwrap(), Applied::Unchanged);
}

#[test]
fn invalid_requests_and_records_are_refused() {
    let good = order(dec!(1)).request().clone();
    let id = uuid::Uuid::nil();
    assert!(Order::new(id, NewOrder { qty: dec!(0), ..good.clone() }).is_err());
    assert!(Order::new(id, NewOrder { qty: dec!(1.5), ..good.clone() }).is_err());
    assert!(Order::new(id, NewOrder { price: None, ..good.clone() }).is_err());
    let market = NewOrder { order_type: OrderType::Market, ..good.clone() };
    assert!(Order::new(id, market).is_err());
    let mut rec = order(dec!(2)).record().clone();
    rec.status = OrderStatus::Filled;
    assert!(Order::restore(rec.clone()).is_err());
    rec.filled_qty = dec!(2);
    rec.filled_amount = dec!(10);
    assert!(Order::restore(rec).is_ok());
}

#[test]
fn broker_order_numbers_normalise_and_validate() {
    assert_eq!(bno("0001569157"), bno("1569157"));
    assert!(BrokerOrderNo::new("06010", "").is_err());
    assert!(BrokerOrderNo::new("06010", "12a").is_err());
    assert!(BrokerOrderNo::new("06010", "12345678901").is_err());
}

#[test]
fn idempotency_keys_are_deterministic_and_distinct() {
    let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let a = IdempotencyKey::derive("mr", d, "005930-BUY-090001");
    assert_eq!(a, IdempotencyKey::derive("mr", d, "005930-BUY-090001"));
    assert!(a.as_str().starts_with("20261120-"));
    assert_eq!(a.as_str().len(), 9 + 32);
    assert_ne!(a, IdempotencyKey::derive("mr", d, "005930-BUY-090002"));
    assert_ne!(a, IdempotencyKey::derive("mr", d.succ_opt().unwrap(), "005930-BUY-090001"));
    assert_ne!(IdempotencyKey::derive("a", d, "bc"), IdempotencyKey::derive("ab", d, "c"));
}

fn sample_events() -> Vec<OrderEvent> {
    vec![
        OrderEvent::Submit,
        OrderEvent::Accepted { broker_order_no: bno("1") },
        OrderEvent::SubmitOutcomeUnknown,
        OrderEvent::Fill { cum_qty: dec!(1), cum_amount: dec!(1), leaves_qty: dec!(1) },
        OrderEvent::Fill { cum_qty: dec!(2), cum_amount: dec!(2), leaves_qty: dec!(0) },
        OrderEvent::CancelRequested,
        OrderEvent::CancelRejected { code: "X".into(), reason: "y".into() },
        OrderEvent::CancelConfirmed,
        rejected(),
        OrderEvent::ResolvedNotFound,
    ]
}

fn arb_event() -> impl Strategy<Value = OrderEvent> {
    prop_oneof![
        Just(OrderEvent::Submit),
        (1u8..3).prop_map(|n| OrderEvent::Accepted { broker_order_no: bno(&n.to_string()) }),
        Just(OrderEvent::SubmitOutcomeUnknown),
        (0i64..14, 1i64..1000, -2i64..12).prop_map(|(c, p, l)| OrderEvent::Fill {
            cum_qty: Decimal::from(c),
            cum_amount: Decimal::from(c * p),
            leaves_qty: Decimal::from(l),
        }),
        Just(OrderEvent::CancelRequested),
        Just(OrderEvent::CancelRejected { code: "X".into(), reason: "y".into() }),
        Just(OrderEvent::CancelConfirmed),
        Just(rejected()),
        Just(OrderEvent::ResolvedNotFound),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_event_sequence_moves_an_order_backwards(qty in 1i64..12, events in prop::collection::vec(arb_event(), 0..40)) {
        let mut o = order(Decimal::from(qty));
        for e in &events {
            let before = o.clone();
            match o.apply(e) {
                Ok(_) => prop_assert!(o.progress() >= before.progress(), "{e} moved {:?} back", before.status()),
                Err(_) => prop_assert_eq!(&o, &before),
            }
            prop_assert!(o.filled_qty() <= Decimal::from(qty));
            prop_assert!(o.filled_qty() >= Decimal::ZERO);
            if o.status() == OrderStatus::Filled {
                prop_assert_eq!(o.filled_qty(), Decimal::from(qty));
            }
        }
    }
}
