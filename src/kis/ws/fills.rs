//! Exactly-once fills across socket drops: a ledger of the cumulative filled quantity per order
//! that turns notice fills into [`FillEvent`]s and, after a reconnect, emits each fill missed
//! while disconnected once (from today's orders over REST).
//!
//! A fill is identified by (trading date, order number, cumulative quantity after it): order
//! numbers restart every trading date, so the same number on another date is another order (one
//! feed task lives across days). Quantity recovered from REST becomes a credit: notice fills
//! stamped no later than the REST snapshot consume it instead of being emitted again.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::codec::NoticeFill;
use crate::domain::market::{BrokerOrder, FillEvent, FillId};

#[derive(Debug, Clone, Default)]
struct OrderFills {
    cum_qty: Decimal,
    cum_amount: Decimal,
    credit: Decimal,
    credit_until: Option<DateTime<Utc>>,
}

/// The ledger's key of an order: its trading date and its number without zero padding.
type OrderKey = (NaiveDate, String);

fn order_key(trade_date: NaiveDate, broker_order_no: &str) -> OrderKey {
    (trade_date, broker_order_no.trim().trim_start_matches('0').to_owned())
}

/// Per-order fill ledger, keyed by (trading date, order number).
#[derive(Debug, Default)]
pub struct FillLedger {
    orders: HashMap<OrderKey, OrderFills>,
}

impl FillLedger {
    /// Returns an empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the cumulative filled quantity recorded for the order `broker_order_no` of
    /// `trade_date`.
    pub fn filled(&self, trade_date: NaiveDate, broker_order_no: &str) -> Decimal {
        self.orders.get(&order_key(trade_date, broker_order_no)).map_or(Decimal::ZERO, |o| o.cum_qty)
    }

    /// Records a notice fill; returns the event to emit, or `None` when REST already delivered it.
    pub fn on_notice(&mut self, fill: NoticeFill) -> Option<FillEvent> {
        let entry = self.orders.entry(order_key(fill.trade_date, &fill.broker_order_no)).or_default();
        let mut qty = fill.qty;
        if entry.credit > Decimal::ZERO {
            if entry.credit_until.is_some_and(|until| fill.at <= until) {
                let absorbed = qty.min(entry.credit);
                entry.credit -= absorbed;
                qty -= absorbed;
            } else {
                entry.credit = Decimal::ZERO;
            }
        }
        if qty <= Decimal::ZERO {
            return None;
        }
        entry.cum_qty += qty;
        entry.cum_amount += qty * fill.price;
        Some(FillEvent {
            fill_id: FillId {
                trade_date: fill.trade_date,
                broker_order_no: fill.broker_order_no.clone(),
                cum_qty: entry.cum_qty,
            },
            trade_date: fill.trade_date,
            broker_order_no: fill.broker_order_no,
            branch: fill.branch,
            symbol: fill.symbol,
            side: fill.side,
            qty,
            price: fill.price,
            at: fill.at,
            reconciled: false,
        })
    }

    /// Compares today's orders (snapshot taken at `at`) with the ledger and returns one fill per
    /// order for the quantity missed; with `emit == false` it only records the baseline. Each
    /// order counts under its own trading date ([`BrokerOrder::trade_date`]).
    pub fn reconcile(&mut self, orders: &[BrokerOrder], at: DateTime<Utc>, emit: bool) -> Vec<FillEvent> {
        let mut missed = Vec::new();
        for order in orders {
            let trade_date = order.trade_date();
            let entry = self.orders.entry(order_key(trade_date, &order.broker_order_no)).or_default();
            let gap = order.filled_qty - entry.cum_qty;
            if gap <= Decimal::ZERO {
                continue;
            }
            let gap_amount = order.filled_amount - entry.cum_amount;
            let price = if gap_amount > Decimal::ZERO {
                (gap_amount / gap).round_dp(4)
            } else {
                order.avg_fill_price
            };
            entry.cum_qty = order.filled_qty;
            entry.cum_amount = order.filled_amount.max(entry.cum_amount);
            entry.credit += gap;
            entry.credit_until = Some(at);
            if emit {
                missed.push(FillEvent {
                    fill_id: FillId {
                        trade_date,
                        broker_order_no: order.broker_order_no.clone(),
                        cum_qty: order.filled_qty,
                    },
                    trade_date,
                    broker_order_no: order.broker_order_no.clone(),
                    branch: order.branch.clone(),
                    symbol: order.symbol.clone(),
                    side: order.side,
                    qty: gap,
                    price,
                    at,
                    reconciled: true,
                });
            }
        }
        missed
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::{OrderType, Side, Symbol};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_772_496_000 + secs, 0).unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn notice(qty: Decimal, price: Decimal, at: DateTime<Utc>) -> NoticeFill {
        NoticeFill {
            trade_date: crate::domain::market::to_kst(at).date_naive(),
            broker_order_no: "0000000001".into(),
            branch: "06010".into(),
            symbol: Symbol::new("005930").unwrap(),
            side: Side::Buy,
            qty,
            price,
            at,
        }
    }

    fn order(filled: Decimal, amount: Decimal) -> BrokerOrder {
        BrokerOrder {
            broker_order_no: "0000000001".into(),
            branch: "06010".into(),
            original_order_no: None,
            symbol: Symbol::new("005930").unwrap(),
            side: Side::Buy,
            order_type: Some(OrderType::Limit),
            qty: dec!(10),
            price: dec!(100),
            filled_qty: filled,
            avg_fill_price: if filled.is_zero() { dec!(0) } else { amount / filled },
            filled_amount: amount,
            remaining_qty: dec!(10) - filled,
            canceled: false,
            rejected: false,
            ordered_at: t(0),
        }
    }

    #[test]
    fn missed_fills_are_emitted_once_and_not_doubled_by_late_notices() {
        let mut ledger = FillLedger::new();
        let first = ledger.on_notice(notice(dec!(2), dec!(100), t(10))).unwrap();
        assert_eq!(first.fill_id.cum_qty, dec!(2));
        // Disconnected: 3 more filled at 101 (missed). Snapshot at t(60) shows 5 filled.
        let missed = ledger.reconcile(&[order(dec!(5), dec!(503))], t(60), true);
        assert_eq!(missed.len(), 1);
        assert_eq!(
            (missed[0].qty, missed[0].price, missed[0].fill_id.cum_qty),
            (dec!(3), dec!(101), dec!(5))
        );
        assert!(ledger.reconcile(&[order(dec!(5), dec!(503))], t(61), true).is_empty(), "emitted once");
        // A late notice of one of the missed fills (stamped before the snapshot) is absorbed.
        assert!(ledger.on_notice(notice(dec!(3), dec!(101), t(50))).is_none());
        // A new fill after the snapshot is emitted with the next cumulative identity.
        let next = ledger.on_notice(notice(dec!(1), dec!(102), t(70))).unwrap();
        assert_eq!((next.qty, next.fill_id.cum_qty), (dec!(1), dec!(6)));
        assert_eq!(ledger.filled(day(3), "0000000001"), dec!(6));
        assert_eq!(ledger.filled(day(3), "1"), dec!(6), "zero padding does not matter");
    }

    #[test]
    fn baseline_records_without_emitting() {
        let mut ledger = FillLedger::new();
        assert!(ledger.reconcile(&[order(dec!(4), dec!(400))], t(0), false).is_empty());
        let next = ledger.on_notice(notice(dec!(1), dec!(100), t(0) + TimeDelta::seconds(5))).unwrap();
        assert_eq!(next.fill_id.cum_qty, dec!(5));
    }

    #[test]
    fn the_same_number_on_another_date_is_another_order() {
        // Day 1 (2026-03-03): order 1 filled 5. Day 2 (2026-03-04): numbering restarts, order 1 again.
        let day2 = TimeDelta::days(1);
        let mut ledger = FillLedger::new();
        assert!(ledger.reconcile(&[order(dec!(5), dec!(500))], t(60), false).is_empty());
        let cases = [
            // (trade date of the fill, qty, expected cumulative identity, expected date in the id)
            (day(4), dec!(2), dec!(2), day(4)),
            (day(4), dec!(1), dec!(3), day(4)),
            (day(3), dec!(1), dec!(6), day(3)),
        ];
        for (date, qty, cum, id_date) in cases {
            let at = if date == day(4) { t(100) + day2 } else { t(100) };
            let mut n = notice(qty, dec!(100), at);
            n.trade_date = date;
            let ev = ledger.on_notice(n).unwrap();
            assert_eq!((ev.fill_id.cum_qty, ev.fill_id.trade_date, ev.trade_date), (cum, id_date, id_date));
        }
        assert_eq!(ledger.filled(day(3), "0000000001"), dec!(6));
        assert_eq!(ledger.filled(day(4), "0000000001"), dec!(3));
        // Day 2's snapshot lists its own order 1 with 4 filled: only day 2's gap of 1 is missed.
        let mut today = order(dec!(4), dec!(400));
        today.ordered_at = t(0) + day2;
        let missed = ledger.reconcile(&[today], t(200) + day2, true);
        assert_eq!(missed.len(), 1);
        assert_eq!(
            (missed[0].qty, missed[0].trade_date, missed[0].fill_id.cum_qty),
            (dec!(1), day(4), dec!(4))
        );
    }
}
