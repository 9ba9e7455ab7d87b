//! Fill identity and the per-order fill ledger: deduplicates notices, turns cumulative REST
//! snapshots into deltas and never lets the filled quantity exceed the order quantity.
//!
//! This is the one fill identity ([`FillId`], [`FillKey`]) and the one ledger of the service: the
//! real-time feed only reports notices ([`crate::domain::market::FillNotice`]) and reconnects, and
//! the fills missed while the socket was down come here as a snapshot.
//!
//! KIS reports fills two ways. A realtime notice (`H0STCNI0`, `CNTG_YN=2`) names one fill: order
//! number, time, quantity, price; it has no sequence number. An inquiry (`inquire-daily-ccld`) only
//! gives cumulative totals per order (`tot_ccld_qty`, `tot_ccld_amt`/`avg_prvs`). The ledger
//! converges both onto one cumulative truth:
//!
//! - a notice is identified by `(order number, time, quantity, price)`; the same notice twice is a
//!   duplicate;
//! - a snapshot ahead of the ledger adds one *synthetic* fill for the missing quantity at the implied
//!   price; a snapshot at or behind the ledger changes nothing;
//! - a notice arriving while synthetic quantity exists is taken to be one of the fills the snapshot
//!   already counted: it replaces synthetic quantity (oldest first) instead of adding to it.
//!
//! The ledger therefore never double counts. If a genuinely new notice is absorbed because an
//! earlier notice was lost, the ledger is briefly behind, and the next snapshot adds the difference.

use chrono::NaiveTime;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::order::{BrokerOrderNo, MAX_INPUT};
use super::types::{Side, Symbol};

/// What distinguishes one fill of an order from another.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FillKey {
    /// A fill reported by a realtime notice.
    Notice {
        /// Execution time (`STCK_CNTG_HOUR`).
        exec_time: NaiveTime,
        /// Quantity of this fill.
        qty: Decimal,
        /// Price of this fill.
        price: Decimal,
    },
    /// Quantity synthesized from a cumulative snapshot; `cum_qty` is the snapshot's total.
    Snapshot {
        /// Cumulative quantity the snapshot reported.
        cum_qty: Decimal,
    },
}

/// The identity of a fill: broker order number plus its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FillId {
    /// The order the fill belongs to.
    pub broker_order_no: BrokerOrderNo,
    /// The fill within that order.
    pub key: FillKey,
}

/// One recorded fill. Quantity and amount of a synthetic fill shrink as notices replace it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// Identity.
    pub id: FillId,
    /// Quantity.
    pub qty: Decimal,
    /// Amount (quantity × price; for synthetic fills the implied remainder).
    pub amount: Decimal,
}

impl Fill {
    /// Returns the fill price (amount ÷ quantity), `None` for an emptied synthetic fill.
    pub fn price(&self) -> Option<Decimal> {
        self.amount.checked_div(self.qty)
    }

    /// Returns true when the fill was synthesized from a snapshot.
    pub fn is_synthetic(&self) -> bool {
        matches!(self.id.key, FillKey::Snapshot { .. })
    }
}

/// A fill as it affects a position: what was bought or sold, how much, for how much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// Instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Quantity.
    pub qty: Decimal,
    /// Amount (quantity × price), before fees.
    pub amount: Decimal,
}

/// Errors raised by the fill ledger; the ledger is unchanged after any of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    /// The fill would take the cumulative quantity above the order quantity.
    #[error("fill exceeds order quantity: cumulative {cum_qty} > ordered {order_qty}")]
    ExceedsOrderQty {
        /// Ordered quantity.
        order_qty: Decimal,
        /// Cumulative quantity the fill would produce.
        cum_qty: Decimal,
    },
    /// The fill names another order.
    #[error("fill for order {got} offered to the ledger of order {expected}")]
    WrongOrder {
        /// The ledger's order.
        expected: BrokerOrderNo,
        /// The fill's order.
        got: BrokerOrderNo,
    },
    /// Quantity, price or amount is not positive, not whole or out of range.
    #[error("invalid fill: {0}")]
    Invalid(&'static str),
}

/// The result of offering a notice or a snapshot to the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerOutcome {
    /// The ledger changed.
    Recorded {
        /// Quantity added beyond what was known (zero when a notice only replaced synthetic quantity).
        new_qty: Decimal,
        /// Change of the cumulative amount.
        delta_amount: Decimal,
        /// Quantity of synthetic fills this notice replaced.
        absorbed_qty: Decimal,
    },
    /// The same notice was already recorded.
    Duplicate,
    /// The snapshot's total is not ahead of the ledger.
    NotAhead {
        /// Cumulative quantity the snapshot reported.
        snapshot_cum_qty: Decimal,
        /// Cumulative quantity already known.
        known_cum_qty: Decimal,
    },
}

/// A cumulative fill snapshot of one order (from `inquire-daily-ccld`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillSnapshot {
    /// The order.
    pub broker_order_no: BrokerOrderNo,
    /// Total filled quantity (`tot_ccld_qty`).
    pub cum_qty: Decimal,
    /// Total filled amount (`tot_ccld_amt`).
    pub cum_amount: Decimal,
}

impl FillSnapshot {
    /// Builds a snapshot from the average fill price when the total amount is not given.
    pub fn from_avg_price(broker_order_no: BrokerOrderNo, cum_qty: Decimal, avg_price: Decimal) -> Self {
        Self { broker_order_no, cum_qty, cum_amount: cum_qty.saturating_mul(avg_price) }
    }
}

/// One fill from a realtime notice ([`crate::domain::market::FillNotice`]) as the ledger of its
/// order takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeFill {
    /// The order.
    pub broker_order_no: BrokerOrderNo,
    /// Execution time (KST, as the notice gives it).
    pub exec_time: NaiveTime,
    /// Quantity.
    pub qty: Decimal,
    /// Price.
    pub price: Decimal,
}

/// The deduplicated fills of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillLedger {
    broker_order_no: BrokerOrderNo,
    order_qty: Decimal,
    fills: Vec<Fill>,
}

impl FillLedger {
    /// Creates an empty ledger for an order.
    pub fn new(broker_order_no: BrokerOrderNo, order_qty: Decimal) -> Self {
        Self { broker_order_no, order_qty, fills: Vec::new() }
    }

    /// Rebuilds a ledger from stored fills.
    ///
    /// # Errors
    /// Returns [`FillError`] when a stored fill belongs to another order, is malformed, or the fills
    /// add up to more than the order quantity.
    pub fn restore(
        broker_order_no: BrokerOrderNo,
        order_qty: Decimal,
        fills: Vec<Fill>,
    ) -> Result<Self, FillError> {
        let ledger = Self { broker_order_no, order_qty, fills };
        for f in &ledger.fills {
            ledger.check_order(&f.id.broker_order_no)?;
            let ok = match &f.id.key {
                FillKey::Snapshot { .. } => {
                    f.qty > Decimal::ZERO
                        && f.qty <= MAX_INPUT
                        && f.amount > Decimal::ZERO
                        && f.amount <= MAX_INPUT * MAX_INPUT
                }
                FillKey::Notice { qty, price, .. } => {
                    check_qty_price(*qty, *price).is_ok()
                        && f.qty == *qty
                        && qty.checked_mul(*price) == Some(f.amount)
                }
            };
            if !ok {
                return Err(FillError::Invalid("stored fill"));
            }
        }
        if ledger.cum_qty() > order_qty {
            return Err(FillError::ExceedsOrderQty { order_qty, cum_qty: ledger.cum_qty() });
        }
        Ok(ledger)
    }

    /// Returns the recorded fills (synthetic fills included, emptied ones removed).
    pub fn fills(&self) -> &[Fill] {
        &self.fills
    }

    /// Returns the total filled quantity.
    pub fn cum_qty(&self) -> Decimal {
        self.fills.iter().map(|f| f.qty).sum()
    }

    /// Returns the total filled amount.
    pub fn cum_amount(&self) -> Decimal {
        self.fills.iter().map(|f| f.amount).sum()
    }

    /// Returns the quantity still open.
    pub fn leaves_qty(&self) -> Decimal {
        self.order_qty - self.cum_qty()
    }

    /// Records a realtime fill notice.
    ///
    /// # Errors
    /// Returns [`FillError::WrongOrder`], [`FillError::Invalid`] or [`FillError::ExceedsOrderQty`].
    pub fn apply_notice(&mut self, n: &NoticeFill) -> Result<LedgerOutcome, FillError> {
        self.check_order(&n.broker_order_no)?;
        check_qty_price(n.qty, n.price)?;
        let key = FillKey::Notice { exec_time: n.exec_time, qty: n.qty, price: n.price };
        if self.fills.iter().any(|f| f.id.key == key) {
            return Ok(LedgerOutcome::Duplicate);
        }
        let synthetic: Decimal = self.fills.iter().filter(|f| f.is_synthetic()).map(|f| f.qty).sum();
        let absorbed_qty = n.qty.min(synthetic);
        let new_qty = n.qty - absorbed_qty;
        let cum_qty = self.cum_qty() + new_qty;
        if cum_qty > self.order_qty {
            return Err(FillError::ExceedsOrderQty { order_qty: self.order_qty, cum_qty });
        }
        // Both are within range (checked above), so their product is too: checked all the same.
        let amount = n.qty.checked_mul(n.price).ok_or(FillError::Invalid("amount out of range"))?;
        let before = self.cum_amount();
        self.absorb(absorbed_qty, n.price);
        let id = FillId { broker_order_no: n.broker_order_no.clone(), key };
        self.fills.push(Fill { id, qty: n.qty, amount });
        Ok(LedgerOutcome::Recorded { new_qty, delta_amount: self.cum_amount() - before, absorbed_qty })
    }

    /// Records a cumulative snapshot: synthesizes the missing quantity at the implied price.
    ///
    /// # Errors
    /// Returns [`FillError::WrongOrder`], [`FillError::Invalid`] or [`FillError::ExceedsOrderQty`].
    pub fn apply_snapshot(&mut self, s: &FillSnapshot) -> Result<LedgerOutcome, FillError> {
        self.check_order(&s.broker_order_no)?;
        let valid = s.cum_qty >= Decimal::ZERO
            && s.cum_qty <= MAX_INPUT
            && s.cum_qty.fract().is_zero()
            && s.cum_amount >= Decimal::ZERO
            && s.cum_amount <= MAX_INPUT * MAX_INPUT
            && s.cum_qty.is_zero() == s.cum_amount.is_zero();
        if !valid {
            return Err(FillError::Invalid("snapshot quantity or amount"));
        }
        if s.cum_qty > self.order_qty {
            return Err(FillError::ExceedsOrderQty { order_qty: self.order_qty, cum_qty: s.cum_qty });
        }
        let known_qty = self.cum_qty();
        if s.cum_qty <= known_qty {
            return Ok(LedgerOutcome::NotAhead { snapshot_cum_qty: s.cum_qty, known_cum_qty: known_qty });
        }
        let delta = s.cum_qty - known_qty;
        let mut amount = s.cum_amount - self.cum_amount();
        if amount <= Decimal::ZERO {
            amount = delta * (s.cum_amount / s.cum_qty);
        }
        let id = FillId {
            broker_order_no: s.broker_order_no.clone(),
            key: FillKey::Snapshot { cum_qty: s.cum_qty },
        };
        self.fills.push(Fill { id, qty: delta, amount });
        Ok(LedgerOutcome::Recorded { new_qty: delta, delta_amount: amount, absorbed_qty: Decimal::ZERO })
    }

    /// Lists the fills as executions of the given instrument and side, for position keeping.
    pub fn executions(&self, symbol: &Symbol, side: Side) -> Vec<Execution> {
        self.fills
            .iter()
            .map(|f| Execution { symbol: symbol.clone(), side, qty: f.qty, amount: f.amount })
            .collect()
    }

    fn absorb(&mut self, mut qty: Decimal, price: Decimal) {
        for f in self.fills.iter_mut().filter(|f| f.is_synthetic()) {
            if qty.is_zero() {
                break;
            }
            let k = qty.min(f.qty);
            let implied = f.price().unwrap_or(price);
            f.qty -= k;
            f.amount -= k * price;
            if f.qty.is_zero() {
                f.amount = Decimal::ZERO;
            } else if f.amount <= Decimal::ZERO {
                f.amount = f.qty * implied;
            }
            qty -= k;
        }
        self.fills.retain(|f| !f.qty.is_zero());
    }

    /// Matches by order number only: notices carry `BRNC_NO`, inquiries `ord_gno_brno`, whose
    /// formats may differ while the 10-digit number is the same.
    fn check_order(&self, got: &BrokerOrderNo) -> Result<(), FillError> {
        if got.number == self.broker_order_no.number {
            Ok(())
        } else {
            Err(FillError::WrongOrder { expected: self.broker_order_no.clone(), got: got.clone() })
        }
    }
}

fn check_qty_price(qty: Decimal, price: Decimal) -> Result<(), FillError> {
    if qty <= Decimal::ZERO || qty > MAX_INPUT || !qty.fract().is_zero() {
        return Err(FillError::Invalid("quantity must be a positive whole number"));
    }
    if price <= Decimal::ZERO || price > MAX_INPUT {
        return Err(FillError::Invalid("price must be positive"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
