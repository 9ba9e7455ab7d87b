//! The day's structured record (stages, orders, fills, positions, P&L, guardrail breaches, errors,
//! disconnects) that both the template journal and the model prompt are built from, with its
//! event classes and the pure P&L recomputation.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::fill::Execution;
use crate::domain::position::{FeeSchedule, Holding, Positions};
use crate::domain::{Side, Symbol};

/// The pipeline run of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineView {
    /// Run status.
    pub status: String,
    /// Why it ended so, when recorded.
    pub reason: Option<String>,
}

/// One stage attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageView {
    /// Stage name.
    pub stage: String,
    /// Attempt number.
    pub attempt: i32,
    /// Status.
    pub status: String,
    /// Start time.
    pub started_at: Option<DateTime<Utc>>,
    /// End time.
    pub finished_at: Option<DateTime<Utc>>,
    /// Error text (scrubbed), when failed.
    pub error: Option<String>,
}

/// One order of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderView {
    /// Our order id.
    pub id: i64,
    /// Instrument.
    pub symbol: String,
    /// BUY or SELL.
    pub side: String,
    /// Order type.
    pub order_type: String,
    /// Ordered quantity.
    pub qty: Decimal,
    /// Limit price.
    pub price: Option<Decimal>,
    /// Status.
    pub status: String,
    /// Filled quantity.
    pub filled_qty: Decimal,
    /// Average fill price.
    pub avg_fill_price: Option<Decimal>,
    /// Broker rejection reason, when rejected.
    pub reject_reason: Option<String>,
}

/// One fill of the day's orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FillView {
    /// The order it belongs to.
    pub order_id: i64,
    /// Instrument.
    pub symbol: String,
    /// BUY or SELL.
    pub side: String,
    /// Quantity.
    pub qty: Decimal,
    /// Price.
    pub price: Decimal,
    /// Execution time.
    pub filled_at: DateTime<Utc>,
}

/// One stored position at the end of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PositionView {
    /// Instrument.
    pub symbol: String,
    /// Quantity held.
    pub qty: Decimal,
    /// Average purchase price.
    pub avg_price: Decimal,
    /// Last known price.
    pub last_price: Option<Decimal>,
}

/// One notable event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventView {
    /// When.
    pub at: DateTime<Utc>,
    /// Event kind.
    pub kind: String,
    /// Severity.
    pub severity: String,
    /// Message (scrubbed).
    pub message: String,
}

/// The day's P&L, recomputed with the domain position rules.
///
/// Opening holdings are reconstructed as the stored end-of-day quantity minus the day's net fills,
/// at the stored average price; the day's fills are then applied in time order and the positions
/// marked at their last price (the stored one, else the last fill).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PnlView {
    /// Realized P&L of the day's sells, net of commission and tax.
    pub realized: Decimal,
    /// Unrealized P&L of the end-of-day holdings at their last price.
    pub unrealized: Decimal,
    /// Commission and tax paid on the day's fills.
    pub fees: Decimal,
    /// Set when the positions could not be recomputed (the figures are then zero).
    pub note: Option<String>,
}

/// Everything the journal says about a trade date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayRecord {
    /// The trade date (the New York date for the US market).
    pub trade_date: NaiveDate,
    /// The currency of every price and amount here (the record covers one market).
    pub currency: super::Currency,
    /// The pipeline run, when one exists.
    pub pipeline: Option<PipelineView>,
    /// Stage attempts in order.
    pub stages: Vec<StageView>,
    /// Orders of the day.
    pub orders: Vec<OrderView>,
    /// Fills of the day's orders, in time order.
    pub fills: Vec<FillView>,
    /// Stored positions.
    pub positions: Vec<PositionView>,
    /// Recomputed P&L.
    pub pnl: PnlView,
    /// Guardrail breaches and mode changes.
    pub guardrail_breaches: Vec<EventView>,
    /// Errors (ERROR and CRITICAL events not classified above).
    pub errors: Vec<EventView>,
    /// Broker and feed disconnects.
    pub disconnects: Vec<EventView>,
}

impl DayRecord {
    /// Returns the share of orders with at least one fill (`None` without orders).
    pub fn fill_rate(&self) -> Option<Decimal> {
        let total = self.orders.len();
        if total == 0 {
            return None;
        }
        let filled = self.orders.iter().filter(|o| o.filled_qty > Decimal::ZERO).count();
        Some(Decimal::from(filled) / Decimal::from(total))
    }
}

/// Which event kinds count as guardrail breaches and as disconnects (prefix match on the kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventClasses {
    /// Kind prefixes of guardrail breaches, kill switches and mode changes.
    pub guardrail_prefixes: Vec<String>,
    /// Kind prefixes of disconnects and reconnects.
    pub disconnect_prefixes: Vec<String>,
    /// At most this many events per class go into the record.
    pub max_per_class: usize,
}

impl Default for EventClasses {
    fn default() -> Self {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        Self {
            guardrail_prefixes: owned(&["guardrail.", "risk.", "killswitch.", "mode."]),
            disconnect_prefixes: owned(&[
                "ws.disconnect",
                "ws.reconnect",
                "ws.closed",
                "kis.ws.",
                "broker.disconnect",
            ]),
            max_per_class: 50,
        }
    }
}

/// The class of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventClass {
    /// A guardrail breach, kill switch or mode change.
    Guardrail,
    /// A disconnect or reconnect.
    Disconnect,
    /// Any other ERROR or CRITICAL event.
    Error,
}

impl EventClasses {
    /// Returns the class of an event, or `None` when it is routine.
    pub fn classify(&self, kind: &str, severity: &str) -> Option<EventClass> {
        let starts = |list: &[String]| list.iter().any(|p| kind.starts_with(p.as_str()));
        if starts(&self.guardrail_prefixes) {
            Some(EventClass::Guardrail)
        } else if starts(&self.disconnect_prefixes) {
            Some(EventClass::Disconnect)
        } else if matches!(severity, "ERROR" | "CRITICAL") {
            Some(EventClass::Error)
        } else {
            None
        }
    }
}

/// Recomputes the day's P&L from the opening holdings and the day's fills (see [`PnlView`]),
/// marked at the stored positions' last prices. Without `opening` the opening is reconstructed
/// as the stored positions less the day's net fills, at the stored average price — which is the
/// day's closing average, so a day that bought more of a held instrument and sold some would
/// book the wrong realized P&L: pass the opening the trading core started from.
pub fn compute_pnl(
    fees: FeeSchedule,
    positions: &[PositionView],
    fills: &[FillView],
    opening: Option<&[Holding]>,
) -> PnlView {
    match try_compute_pnl(fees, positions, fills, opening) {
        Ok(p) => p,
        Err(note) => PnlView {
            realized: Decimal::ZERO,
            unrealized: Decimal::ZERO,
            fees: Decimal::ZERO,
            note: Some(note),
        },
    }
}

fn try_compute_pnl(
    fees: FeeSchedule,
    positions: &[PositionView],
    fills: &[FillView],
    recorded: Option<&[Holding]>,
) -> Result<PnlView, String> {
    let mut executions = Vec::with_capacity(fills.len());
    let mut net: BTreeMap<Symbol, Decimal> = BTreeMap::new();
    let mut last_fill: BTreeMap<Symbol, Decimal> = BTreeMap::new();
    for f in fills {
        let symbol = Symbol::new(f.symbol.clone()).map_err(|e| e.to_string())?;
        let side = match f.side.as_str() {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            other => return Err(format!("fill of order {} has side {other:?}", f.order_id)),
        };
        let signed = if side == Side::Buy { f.qty } else { -f.qty };
        *net.entry(symbol.clone()).or_default() += signed;
        last_fill.insert(symbol.clone(), f.price);
        let amount =
            f.qty.checked_mul(f.price).ok_or_else(|| format!("fill of order {} overflows", f.order_id))?;
        executions.push(Execution { symbol, side, qty: f.qty, amount });
    }
    let mut opening = recorded.map(<[Holding]>::to_vec).unwrap_or_default();
    let mut last_prices: BTreeMap<Symbol, Decimal> = last_fill;
    for p in positions {
        let symbol = Symbol::new(p.symbol.clone()).map_err(|e| e.to_string())?;
        if recorded.is_none() {
            let qty = p.qty - net.get(&symbol).copied().unwrap_or_default();
            if qty < Decimal::ZERO {
                return Err(format!("{symbol}: the day's fills exceed the stored position"));
            }
            if qty > Decimal::ZERO {
                opening.push(Holding { symbol: symbol.clone(), qty, avg_price: p.avg_price });
            }
        }
        if let Some(price) = p.last_price {
            last_prices.insert(symbol, price);
        }
    }
    let mut book = Positions::from_fills(fees, &opening, &executions).map_err(|e| e.to_string())?;
    for (symbol, price) in &last_prices {
        book.mark(symbol, *price);
    }
    let fees_paid = executions.iter().map(|e| fees.fees(e.side, e.amount)).sum();
    Ok(PnlView {
        realized: book.realized_pnl(),
        unrealized: book.unrealized_pnl(),
        fees: fees_paid,
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    use super::*;

    fn fill(side: &str, qty: Decimal, price: Decimal, minute: u32) -> FillView {
        FillView {
            order_id: 1,
            symbol: "005930".into(),
            side: side.into(),
            qty,
            price,
            filled_at: Utc.with_ymd_and_hms(2026, 3, 3, 1, minute, 0).unwrap(),
        }
    }

    #[test]
    fn pnl_reconstructs_the_opening_holding() {
        // Opened with 10 @ 70,000; bought 10 @ 69,000, sold 5 @ 71,000; holds 15, last 72,000.
        let positions = vec![PositionView {
            symbol: "005930".into(),
            qty: dec!(15),
            avg_price: dec!(69500),
            last_price: Some(dec!(72000)),
        }];
        let fills = vec![fill("BUY", dec!(10), dec!(69000), 1), fill("SELL", dec!(5), dec!(71000), 2)];
        let fees = FeeSchedule { commission_rate: Decimal::ZERO, sell_tax_rate: Decimal::ZERO, charge_dp: 0 };
        let pnl = compute_pnl(fees, &positions, &fills, None);
        // Opening reconstructed at the stored (closing) average 69,500: 5 × (71,000 − 69,250).
        assert_eq!(pnl.note, None);
        assert_eq!(pnl.realized, dec!(8750));
        assert_eq!(pnl.unrealized, dec!(15) * (dec!(72000) - dec!(69250)));
        let with_fees = compute_pnl(FeeSchedule::default(), &positions, &fills, None);
        assert!(with_fees.fees > Decimal::ZERO && with_fees.realized < pnl.realized);
    }

    #[test]
    fn pnl_starts_from_the_recorded_opening() {
        // The same day as above, from the holding the trading core opened with (10 @ 70,000):
        // 20 @ 69,500 after the buy, so the sale realizes 5 × (71,000 − 69,500) = 7,500 — what
        // the close stage books. (The rehearsal caught the journal's 8,750-style figure drifting
        // further from the close every day a held instrument was bought again.)
        let positions = vec![PositionView {
            symbol: "005930".into(),
            qty: dec!(15),
            avg_price: dec!(69500),
            last_price: Some(dec!(72000)),
        }];
        let fills = vec![fill("BUY", dec!(10), dec!(69000), 1), fill("SELL", dec!(5), dec!(71000), 2)];
        let fees = FeeSchedule { commission_rate: Decimal::ZERO, sell_tax_rate: Decimal::ZERO, charge_dp: 0 };
        let symbol = Symbol::new("005930").unwrap();
        let opening = [Holding { symbol, qty: dec!(10), avg_price: dec!(70000) }];
        let pnl = compute_pnl(fees, &positions, &fills, Some(&opening));
        assert_eq!(pnl.note, None);
        assert_eq!(pnl.realized, dec!(7500));
        assert_eq!(pnl.unrealized, dec!(15) * (dec!(72000) - dec!(69500)));
    }

    #[test]
    fn inconsistent_rows_give_a_note_not_a_panic() {
        let fills = vec![fill("SELL", dec!(5), dec!(71000), 1)];
        let pnl = compute_pnl(FeeSchedule::default(), &[], &fills, None);
        assert!(pnl.note.is_some(), "{pnl:?}");
        let odd = vec![fill("HOLD", dec!(5), dec!(71000), 1)];
        assert!(compute_pnl(FeeSchedule::default(), &[], &odd, None).note.unwrap().contains("HOLD"));
    }

    #[test]
    fn events_are_classified_by_prefix_then_severity() {
        let c = EventClasses::default();
        assert_eq!(c.classify("guardrail.max_loss", "WARNING"), Some(EventClass::Guardrail));
        assert_eq!(c.classify("ws.disconnected", "WARNING"), Some(EventClass::Disconnect));
        assert_eq!(c.classify("order.rejected", "ERROR"), Some(EventClass::Error));
        assert_eq!(c.classify("order.sent", "INFO"), None);
    }
}
