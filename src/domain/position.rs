//! Positions from fills: quantity, average price, realized P&L net of fees and sell tax,
//! unrealized P&L from the last price, and the comparison with the broker's holdings.
//!
//! The average price excludes fees (as the broker's `pchs_avg_pric` does); every fee paid (buy and
//! sell commission, sell tax) is charged to realized P&L when the fill happens.
//!
//! Quantities and amounts come from the broker, so every product and running sum is checked: a
//! position stays within the range of one order input (quantity up to [`MAX_INPUT`], cost up to
//! its square), an execution that would take it beyond is refused as [`PositionError::Invalid`],
//! and holdings whose cost leaves `Decimal`'s range are a [`HoldingDiff`] of their own, never a
//! panic.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use super::fill::Execution;
use super::order::MAX_INPUT;
use super::types::{Side, Symbol};

/// Decimal places of the cost a partial sell releases; keeps cost arithmetic exact.
const COST_DP: u32 = 8;

/// Commission and tax rates (fractions, not percent) and the rounding of each charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeSchedule {
    /// Broker commission on every fill amount (KIS online default 0.015 % = `0.00015`).
    pub commission_rate: Decimal,
    /// Securities transaction tax on sell amounts (`0.0018` = 0.18 %, KOSPI/KOSDAQ 2025 rate).
    pub sell_tax_rate: Decimal,
    /// Decimal places each charge is truncated to (0 = whole won).
    pub charge_dp: u32,
}

impl Default for FeeSchedule {
    fn default() -> Self {
        Self { commission_rate: dec!(0.00015), sell_tax_rate: dec!(0.0018), charge_dp: 0 }
    }
}

impl FeeSchedule {
    /// Returns the US-stock schedule: KIS's online commission on US stocks (0.25 % of each fill,
    /// the simulator's default), no transaction tax, charges in whole cents. The SEC and FINRA
    /// fees on sells are left out (KIS's pass-through of them is not in `../shared/kis-api`).
    pub fn us_default() -> Self {
        Self { commission_rate: dec!(0.0025), sell_tax_rate: Decimal::ZERO, charge_dp: 2 }
    }

    /// Returns the fees on one fill amount: commission, plus the sell tax on sells.
    pub fn fees(&self, side: Side, amount: Decimal) -> Decimal {
        let cut = |rate: Decimal| {
            amount.saturating_mul(rate).round_dp_with_strategy(self.charge_dp, RoundingStrategy::ToZero)
        };
        let commission = cut(self.commission_rate);
        match side {
            Side::Buy => commission,
            Side::Sell => commission.saturating_add(cut(self.sell_tax_rate)),
        }
    }
}

/// Errors raised while keeping positions; the positions are unchanged after any of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    /// A sell is larger than the quantity held (cash accounts cannot go short).
    #[error("sell of {sell} {symbol} exceeds the {held} held")]
    Oversell {
        /// Instrument.
        symbol: Symbol,
        /// Quantity held.
        held: Decimal,
        /// Quantity sold.
        sell: Decimal,
    },
    /// Quantity or amount is not positive, not whole or out of range, or it would take the
    /// position's quantity, cost or running P&L out of range.
    #[error("invalid execution or holding for {0}")]
    Invalid(Symbol),
}

/// Holdings carried in from before the day (or the broker's view), the start of recomputation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    /// Instrument.
    pub symbol: Symbol,
    /// Quantity held.
    pub qty: Decimal,
    /// Average purchase price.
    pub avg_price: Decimal,
}

/// One instrument's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Instrument.
    pub symbol: Symbol,
    /// Quantity held.
    pub qty: Decimal,
    /// Cost of the quantity held (Σ buy amounts − cost released by sells), fees excluded.
    pub cost: Decimal,
    /// Realized P&L before fees.
    pub realized_gross: Decimal,
    /// Commission and tax paid.
    pub fees_paid: Decimal,
    /// Last known price, for unrealized P&L.
    pub last_price: Option<Decimal>,
}

impl Position {
    fn empty(symbol: Symbol) -> Self {
        let z = Decimal::ZERO;
        Self { symbol, qty: z, cost: z, realized_gross: z, fees_paid: z, last_price: None }
    }

    /// Returns the average purchase price, `None` when flat.
    pub fn avg_price(&self) -> Option<Decimal> {
        self.cost.checked_div(self.qty)
    }

    /// Returns realized P&L net of commission and sell tax.
    pub fn realized_pnl(&self) -> Decimal {
        self.realized_gross.saturating_sub(self.fees_paid)
    }

    /// Returns unrealized P&L at the last price (zero when flat or unpriced), before exit fees.
    pub fn unrealized_pnl(&self) -> Decimal {
        match self.last_price {
            Some(p) if !self.qty.is_zero() => p.saturating_mul(self.qty).saturating_sub(self.cost),
            _ => Decimal::ZERO,
        }
    }

    /// Returns the market value at the last price (cost when unpriced).
    pub fn market_value(&self) -> Decimal {
        self.last_price.map_or(self.cost, |p| p.saturating_mul(self.qty))
    }
}

/// A difference between our positions and the broker's holdings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HoldingDiff {
    /// Quantities differ (one side may be zero: missing at the broker or locally).
    QtyMismatch {
        /// Instrument.
        symbol: Symbol,
        /// Our quantity.
        ours: Decimal,
        /// The broker's quantity.
        broker: Decimal,
    },
    /// Quantities agree but average prices differ by more than the tolerance.
    AvgPriceMismatch {
        /// Instrument.
        symbol: Symbol,
        /// Our average price.
        ours: Decimal,
        /// The broker's average price.
        broker: Decimal,
    },
    /// Quantities agree but the broker's cost of them (Σ quantity × average price) is beyond
    /// `Decimal`'s range, so the average prices cannot be compared.
    AvgPriceOutOfRange {
        /// Instrument.
        symbol: Symbol,
        /// Our average price, `None` when flat.
        ours: Option<Decimal>,
    },
}

/// All positions of the account, keyed by instrument.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Positions {
    fees: FeeSchedule,
    by_symbol: BTreeMap<Symbol, Position>,
}

impl Positions {
    /// Creates empty positions with a fee schedule.
    pub fn new(fees: FeeSchedule) -> Self {
        Self { fees, by_symbol: BTreeMap::new() }
    }

    /// Recomputes positions from opening holdings and the fills since, in order.
    ///
    /// # Errors
    /// Returns [`PositionError`] for a malformed holding or execution, or a sell above the holding.
    pub fn from_fills<'a>(
        fees: FeeSchedule,
        opening: &[Holding],
        executions: impl IntoIterator<Item = &'a Execution>,
    ) -> Result<Self, PositionError> {
        let mut p = Self::new(fees);
        for h in opening {
            p.open(h)?;
        }
        for e in executions {
            p.apply(e)?;
        }
        Ok(p)
    }

    /// Adds an opening holding (no fees: it was bought before).
    ///
    /// # Errors
    /// Returns [`PositionError::Invalid`] when quantity or price is negative, fractional or too large.
    pub fn open(&mut self, h: &Holding) -> Result<(), PositionError> {
        let valid = h.qty >= Decimal::ZERO
            && h.qty <= MAX_INPUT
            && h.qty.fract().is_zero()
            && h.avg_price >= Decimal::ZERO
            && h.avg_price <= MAX_INPUT;
        if !valid {
            return Err(PositionError::Invalid(h.symbol.clone()));
        }
        let mut next = self.position_or_empty(&h.symbol);
        let invalid = || PositionError::Invalid(h.symbol.clone());
        next.qty = next.qty.checked_add(h.qty).ok_or_else(invalid)?;
        next.cost =
            h.qty.checked_mul(h.avg_price).and_then(|c| next.cost.checked_add(c)).ok_or_else(invalid)?;
        self.commit(next)
    }

    fn position_or_empty(&self, symbol: &Symbol) -> Position {
        self.by_symbol.get(symbol).cloned().unwrap_or_else(|| Position::empty(symbol.clone()))
    }

    /// Takes a position's new state when it is within range (quantity up to [`MAX_INPUT`], cost up
    /// to its square): beyond, products of it with a price could leave `Decimal`'s range.
    fn commit(&mut self, next: Position) -> Result<(), PositionError> {
        if next.qty > MAX_INPUT || next.cost > MAX_INPUT * MAX_INPUT {
            return Err(PositionError::Invalid(next.symbol));
        }
        self.by_symbol.insert(next.symbol.clone(), next);
        Ok(())
    }

    /// Applies one execution: buys add quantity and cost, sells release cost at the average price.
    ///
    /// # Errors
    /// Returns [`PositionError::Invalid`] for a non-positive or out-of-range execution and
    /// [`PositionError::Oversell`] for a sell above the holding.
    pub fn apply(&mut self, e: &Execution) -> Result<(), PositionError> {
        let valid = e.qty > Decimal::ZERO
            && e.qty <= MAX_INPUT
            && e.qty.fract().is_zero()
            && e.amount > Decimal::ZERO
            && e.amount <= MAX_INPUT * MAX_INPUT;
        if !valid {
            return Err(PositionError::Invalid(e.symbol.clone()));
        }
        let held = self.by_symbol.get(&e.symbol).map_or(Decimal::ZERO, |p| p.qty);
        if e.side == Side::Sell && e.qty > held {
            return Err(PositionError::Oversell { symbol: e.symbol.clone(), held, sell: e.qty });
        }
        let fee = self.fees.fees(e.side, e.amount);
        let mut next = self.position_or_empty(&e.symbol);
        let invalid = || PositionError::Invalid(e.symbol.clone());
        match e.side {
            Side::Buy => {
                next.qty = next.qty.checked_add(e.qty).ok_or_else(invalid)?;
                next.cost = next.cost.checked_add(e.amount).ok_or_else(invalid)?;
            }
            Side::Sell => {
                let released = if e.qty == next.qty {
                    next.cost
                } else {
                    let per_share = next.cost.checked_div(next.qty).ok_or_else(invalid)?;
                    per_share.checked_mul(e.qty).ok_or_else(invalid)?.round_dp(COST_DP)
                };
                next.qty -= e.qty;
                next.cost = next.cost.checked_sub(released).ok_or_else(invalid)?;
                let gain = e.amount.checked_sub(released).ok_or_else(invalid)?;
                next.realized_gross = next.realized_gross.checked_add(gain).ok_or_else(invalid)?;
            }
        }
        next.fees_paid = next.fees_paid.checked_add(fee).ok_or_else(invalid)?;
        self.commit(next)
    }

    /// Records the last price of an instrument (ignored when not held and never traded, or when the
    /// price is not positive and within range).
    pub fn mark(&mut self, symbol: &Symbol, price: Decimal) {
        if price <= Decimal::ZERO || price > MAX_INPUT {
            return;
        }
        if let Some(p) = self.by_symbol.get_mut(symbol) {
            p.last_price = Some(price);
        }
    }

    /// Returns one instrument's position.
    pub fn get(&self, symbol: &Symbol) -> Option<&Position> {
        self.by_symbol.get(symbol)
    }

    /// Returns the quantity held of an instrument.
    pub fn qty(&self, symbol: &Symbol) -> Decimal {
        self.get(symbol).map_or(Decimal::ZERO, |p| p.qty)
    }

    /// Iterates over every position, flat ones included (they carry the day's realized P&L).
    pub fn iter(&self) -> impl Iterator<Item = &Position> {
        self.by_symbol.values()
    }

    /// Returns the number of instruments with a non-zero quantity.
    pub fn open_count(&self) -> usize {
        self.iter().filter(|p| !p.qty.is_zero()).count()
    }

    /// Returns the total realized P&L net of fees (saturating at `Decimal`'s range).
    pub fn realized_pnl(&self) -> Decimal {
        self.iter().map(Position::realized_pnl).fold(Decimal::ZERO, Decimal::saturating_add)
    }

    /// Returns the total unrealized P&L at the last prices (saturating at `Decimal`'s range).
    pub fn unrealized_pnl(&self) -> Decimal {
        self.iter().map(Position::unrealized_pnl).fold(Decimal::ZERO, Decimal::saturating_add)
    }

    /// Compares with the broker's holdings (rows of one instrument are summed) and lists every
    /// difference; average prices are compared only when quantities agree, within `avg_tolerance`.
    ///
    /// The broker's values are not bounded: quantities add up saturating at `Decimal`'s range (a
    /// sum beyond it differs from ours anyway), and a cost beyond it is
    /// [`HoldingDiff::AvgPriceOutOfRange`].
    pub fn diff_with_broker(&self, broker: &[Holding], avg_tolerance: Decimal) -> Vec<HoldingDiff> {
        let mut theirs: BTreeMap<&Symbol, (Decimal, Option<Decimal>)> = BTreeMap::new();
        for h in broker {
            let e = theirs.entry(&h.symbol).or_insert((Decimal::ZERO, Some(Decimal::ZERO)));
            e.0 = e.0.saturating_add(h.qty);
            e.1 = e.1.and_then(|cost| cost.checked_add(h.qty.checked_mul(h.avg_price)?));
        }
        let mut symbols: Vec<&Symbol> = theirs.keys().copied().collect();
        symbols.extend(self.iter().filter(|p| !p.qty.is_zero()).map(|p| &p.symbol));
        symbols.sort();
        symbols.dedup();
        let mut diffs = Vec::new();
        for s in symbols {
            let ours = self.get(s);
            let (our_qty, our_avg) = ours.map_or((Decimal::ZERO, None), |p| (p.qty, p.avg_price()));
            let (broker_qty, broker_cost) =
                theirs.get(s).copied().unwrap_or((Decimal::ZERO, Some(Decimal::ZERO)));
            if our_qty != broker_qty {
                diffs.push(HoldingDiff::QtyMismatch { symbol: s.clone(), ours: our_qty, broker: broker_qty });
            } else if let Some(broker_cost) = broker_cost {
                if let (Some(o), Some(b)) = (our_avg, broker_cost.checked_div(broker_qty))
                    && o.checked_sub(b).is_none_or(|d| d.abs() > avg_tolerance)
                {
                    diffs.push(HoldingDiff::AvgPriceMismatch { symbol: s.clone(), ours: o, broker: b });
                }
            } else {
                diffs.push(HoldingDiff::AvgPriceOutOfRange { symbol: s.clone(), ours: our_avg });
            }
        }
        diffs
    }
}

#[cfg(test)]
mod tests;
