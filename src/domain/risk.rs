//! Pre-trade guardrails: each check is configured and switched on separately (`None` = off), runs
//! over a snapshot of our state plus the intent, and reports every breach it finds.
//!
//! Exposure (per instrument and gross) and open-position caps apply to buys. Orders that only reduce a holding (a sell no
//! larger than what is held and not already being sold) pass the daily-loss check unless
//! configured otherwise: blocking exits would keep risk on. Value per order and orders per day
//! apply to every order.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::order::MAX_INPUT;
use super::position::Positions;
use super::strategy::{LastPrices, OpenOrderView, OrderIntent};
use super::types::{Side, Symbol};

/// Orders per day when nothing else is configured (`RISK_MAX_ORDERS_PER_DAY`'s default).
pub const DEFAULT_MAX_ORDERS_PER_DAY: u32 = 200;

/// Daily loss limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyLossLimit {
    /// Largest accepted loss, as a positive amount in KRW.
    pub max_loss: Decimal,
    /// Counts unrealized P&L at the last prices as well as realized P&L.
    pub include_unrealized: bool,
    /// Blocks position-reducing sells too (default off: exits stay possible).
    #[serde(default)]
    pub block_reducing: bool,
}

/// Per-instrument exposure cap, counting held quantity, open buys and the intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "max", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExposureLimit {
    /// At most this many shares.
    Quantity(Decimal),
    /// At most this value in KRW (quantity × reference price).
    Value(Decimal),
}

/// Guardrail settings; every field is one switchable check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskConfig {
    /// Daily loss limit.
    pub daily_loss: Option<DailyLossLimit>,
    /// Per-instrument exposure cap.
    pub symbol_exposure: Option<ExposureLimit>,
    /// Largest number of instruments held (or being bought) at once.
    pub max_open_positions: Option<usize>,
    /// Largest value of one order in KRW.
    pub max_order_value: Option<Decimal>,
    /// Largest number of orders sent per day.
    pub max_orders_per_day: Option<u32>,
    /// Largest gross exposure in KRW: the value of every holding, every open buy and a new buy,
    /// at reference prices. Absent from outputs stored before it existed.
    #[serde(default)]
    pub max_gross_exposure: Option<Decimal>,
}

/// Our state as the guardrails see it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RiskSnapshot {
    /// Today's realized P&L net of fees.
    pub realized_pnl: Decimal,
    /// Unrealized P&L at the last prices.
    pub unrealized_pnl: Decimal,
    /// Quantity held per instrument.
    pub holdings: BTreeMap<Symbol, Decimal>,
    /// Last known price per instrument.
    pub last_prices: LastPrices,
    /// Live orders.
    pub open_orders: Vec<OpenOrderView>,
    /// Orders already sent today.
    pub orders_today: u32,
}

impl RiskSnapshot {
    /// Builds a snapshot from positions, last prices, live orders and today's order count.
    pub fn from_positions(
        positions: &Positions,
        last_prices: LastPrices,
        open_orders: Vec<OpenOrderView>,
        orders_today: u32,
    ) -> Self {
        Self {
            realized_pnl: positions.realized_pnl(),
            unrealized_pnl: positions.unrealized_pnl(),
            holdings: positions
                .iter()
                .filter(|p| !p.qty.is_zero())
                .map(|p| (p.symbol.clone(), p.qty))
                .collect(),
            last_prices,
            open_orders,
            orders_today,
        }
    }

    fn held(&self, s: &Symbol) -> Decimal {
        self.holdings.get(s).copied().unwrap_or_default()
    }

    fn open_qty(&self, s: &Symbol, side: Side) -> Decimal {
        self.open_orders.iter().filter(|o| &o.symbol == s && o.side == side).map(|o| o.leaves_qty).sum()
    }

    /// Returns the reference price of an instrument: its last price, else the order's own price;
    /// `None` when neither is known or in range.
    fn reference_price(&self, s: &Symbol, order_price: Option<Decimal>) -> Option<Decimal> {
        valid_price(self.last_prices.get(s).copied()).or_else(|| valid_price(order_price))
    }

    /// Returns the value of every holding and open buy plus a buy of `intent`, at reference
    /// prices, or the instruments without one. `Decimal::MAX` when the sum overflows.
    fn gross_exposure(&self, intent: &OrderIntent) -> Result<Decimal, Vec<Symbol>> {
        let held = self.holdings.iter().filter(|(_, q)| !q.is_zero()).map(|(s, q)| (s, *q, None));
        let open = self
            .open_orders
            .iter()
            .filter(|o| o.side == Side::Buy)
            .map(|o| (&o.symbol, o.leaves_qty, o.price));
        let new = std::iter::once((&intent.symbol, intent.qty, intent.price));
        let mut total = Some(Decimal::ZERO);
        let mut unpriced: Vec<Symbol> = Vec::new();
        for (sym, qty, order_price) in held.chain(open).chain(new) {
            match self.reference_price(sym, order_price) {
                Some(p) => {
                    total = total.and_then(|t| qty.abs().checked_mul(p).and_then(|v| t.checked_add(v)))
                }
                None if !unpriced.contains(sym) => unpriced.push(sym.clone()),
                None => {}
            }
        }
        if unpriced.is_empty() { Ok(total.unwrap_or(Decimal::MAX)) } else { Err(unpriced) }
    }
}

/// A price usable as a reference: positive and within the order input range.
fn valid_price(p: Option<Decimal>) -> Option<Decimal> {
    p.filter(|p| *p > Decimal::ZERO && *p <= MAX_INPUT)
}

/// One guardrail an intent breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Breach {
    /// The intent's quantity is not a positive whole number within range.
    #[error("invalid order quantity {qty}")]
    InvalidQuantity {
        /// Offending quantity.
        qty: Decimal,
    },
    /// Today's loss reached the limit.
    #[error("daily loss {loss} reached the limit {limit}")]
    DailyLoss {
        /// Current loss (positive).
        loss: Decimal,
        /// Configured limit.
        limit: Decimal,
    },
    /// The instrument's exposure would exceed its cap.
    #[error("exposure on {symbol} would be {projected}, above the limit {limit}")]
    SymbolExposure {
        /// Instrument.
        symbol: Symbol,
        /// Projected quantity or value.
        projected: Decimal,
        /// Configured limit.
        limit: Decimal,
    },
    /// A new instrument would exceed the number of open positions.
    #[error("{open} positions open, limit {limit}")]
    OpenPositions {
        /// Instruments held or being bought.
        open: usize,
        /// Configured limit.
        limit: usize,
    },
    /// The order's value exceeds the per-order cap.
    #[error("order value {value} above the limit {limit}")]
    OrderValue {
        /// Quantity × price.
        value: Decimal,
        /// Configured limit.
        limit: Decimal,
    },
    /// The day's order count reached the cap.
    #[error("{count} orders sent today, limit {limit}")]
    OrdersPerDay {
        /// Orders sent so far.
        count: u32,
        /// Configured limit.
        limit: u32,
    },
    /// A buy would take the value of all holdings and open buys above the gross exposure cap.
    #[error("gross exposure would be {projected}, above the limit {limit}")]
    GrossExposure {
        /// Value of the holdings, the open buys and the intent.
        projected: Decimal,
        /// Configured limit.
        limit: Decimal,
    },
    /// A value check needs a price and none is known, or it is out of range (fails closed).
    #[error("no reference price for {symbol}")]
    NoReferencePrice {
        /// Instrument.
        symbol: Symbol,
    },
}

/// Runs every enabled guardrail on an intent.
///
/// # Errors
/// Returns every [`Breach`] found; the order must not be sent and each breach is recorded.
pub fn check_intent(cfg: &RiskConfig, snap: &RiskSnapshot, intent: &OrderIntent) -> Result<(), Vec<Breach>> {
    let mut breaches = Vec::new();
    let sym = &intent.symbol;
    if intent.qty <= Decimal::ZERO || intent.qty > MAX_INPUT || !intent.qty.fract().is_zero() {
        return Err(vec![Breach::InvalidQuantity { qty: intent.qty }]);
    }
    let reducing = intent.side == Side::Sell && intent.qty <= snap.held(sym) - snap.open_qty(sym, Side::Sell);
    let price = valid_price(intent.price.or_else(|| snap.last_prices.get(sym).copied()));

    if let Some(l) = cfg.daily_loss {
        let pnl = snap.realized_pnl + if l.include_unrealized { snap.unrealized_pnl } else { Decimal::ZERO };
        if -pnl >= l.max_loss && (!reducing || l.block_reducing) {
            breaches.push(Breach::DailyLoss { loss: -pnl, limit: l.max_loss });
        }
    }
    if let (Some(limit), Side::Buy) = (cfg.symbol_exposure, intent.side) {
        let projected_qty = snap.held(sym) + snap.open_qty(sym, Side::Buy) + intent.qty;
        let (projected, max) = match limit {
            ExposureLimit::Quantity(max) => (Some(projected_qty), max),
            ExposureLimit::Value(max) => (price.map(|p| projected_qty * p), max),
        };
        match projected {
            Some(v) if v > max => {
                breaches.push(Breach::SymbolExposure { symbol: sym.clone(), projected: v, limit: max });
            }
            Some(_) => {}
            None => breaches.push(Breach::NoReferencePrice { symbol: sym.clone() }),
        }
    }
    if let (Some(limit), Side::Buy) = (cfg.max_open_positions, intent.side) {
        let mut open: Vec<&Symbol> =
            snap.holdings.iter().filter(|(_, q)| !q.is_zero()).map(|(s, _)| s).collect();
        open.extend(snap.open_orders.iter().filter(|o| o.side == Side::Buy).map(|o| &o.symbol));
        open.sort();
        open.dedup();
        if !open.contains(&sym) && open.len() >= limit {
            breaches.push(Breach::OpenPositions { open: open.len(), limit });
        }
    }
    if let Some(limit) = cfg.max_order_value {
        match price {
            Some(p) if intent.qty * p > limit => {
                breaches.push(Breach::OrderValue { value: intent.qty * p, limit });
            }
            Some(_) => {}
            None if !breaches.contains(&Breach::NoReferencePrice { symbol: sym.clone() }) => {
                breaches.push(Breach::NoReferencePrice { symbol: sym.clone() });
            }
            None => {}
        }
    }
    if let (Some(limit), Side::Buy) = (cfg.max_gross_exposure, intent.side) {
        match snap.gross_exposure(intent) {
            Ok(projected) if projected > limit => breaches.push(Breach::GrossExposure { projected, limit }),
            Ok(_) => {}
            Err(unpriced) => {
                for symbol in unpriced {
                    let b = Breach::NoReferencePrice { symbol };
                    if !breaches.contains(&b) {
                        breaches.push(b);
                    }
                }
            }
        }
    }
    if let Some(limit) = cfg.max_orders_per_day
        && snap.orders_today >= limit
    {
        breaches.push(Breach::OrdersPerDay { count: snap.orders_today, limit });
    }
    if breaches.is_empty() { Ok(()) } else { Err(breaches) }
}

#[cfg(test)]
mod tests;
