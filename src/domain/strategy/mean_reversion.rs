//! Reference strategy: mean reversion against a simple moving average, with a position cap, a
//! stop loss and an entry cooldown.
//!
//! Per instrument it keeps the last `window` trade prices. When the window is full:
//! - **exit** (sell everything held and not already being sold) when the price reaches
//!   `SMA × (1 + exit_pct/100)` (take profit) or falls to `avg × (1 − stop_loss_pct/100)` (stop loss);
//! - otherwise **enter** (buy `order_qty`) when the price falls to `SMA × (1 − entry_pct/100)`, the
//!   cooldown since the last entry has passed, and held + open buys + `order_qty` stays within
//!   `max_position_qty`.
//!
//! Limit prices are the trade price rounded conservatively onto the tick grid. Signal ids are
//! `SYMBOL-SIDE-<exchange time in ms>`, so replaying the same input after a restart yields the same
//! idempotency key. The cooldown lives in memory; after a restart the position cap and the
//! guardrails still bound what can be bought.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal_macros::dec;

use super::params::{ParamError, ParamErrors, ParamKind, ParamSpec, Params, validate_params};
use super::{MarketInput, OrderIntent, Strategy, StrategyView};
use crate::domain::order::MAX_INPUT;
use crate::domain::price::{TickRounding, TickTable, round_to_tick};
use crate::domain::types::{OrderType, Side, Symbol};

const fn spec(
    name: &'static str,
    kind: ParamKind,
    min: Decimal,
    max: Decimal,
    default: Decimal,
    description: &'static str,
) -> ParamSpec {
    ParamSpec { name, kind, min, max, default, description }
}

/// The parameter schema of [`MeanReversion`].
pub const SPECS: [ParamSpec; 7] = [
    spec("window", ParamKind::Integer, dec!(2), dec!(500), dec!(20), "trade prices in the moving average"),
    // From 0.01 %: a cent is 0.01 % of a 100-dollar US stock (a KRX tick is 0.1 % or more).
    spec("entry_pct", ParamKind::Decimal, dec!(0.01), dec!(20), dec!(2), "buy this % below the average"),
    spec("exit_pct", ParamKind::Decimal, dec!(0), dec!(20), dec!(1), "sell this % above the average"),
    spec(
        "stop_loss_pct",
        ParamKind::Decimal,
        dec!(0.5),
        dec!(50),
        dec!(5),
        "sell this % below our average price",
    ),
    spec("order_qty", ParamKind::Integer, dec!(1), dec!(10000), dec!(1), "shares per entry"),
    spec(
        "max_position_qty",
        ParamKind::Integer,
        dec!(1),
        dec!(100000),
        dec!(10),
        "cap on held + open buy shares",
    ),
    spec(
        "cooldown_secs",
        ParamKind::Integer,
        dec!(0),
        dec!(86400),
        dec!(300),
        "minimum seconds between entries",
    ),
];

/// Validated parameters of [`MeanReversion`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeanReversionParams {
    /// Trade prices in the moving average.
    pub window: usize,
    /// Entry distance below the average, in percent.
    pub entry_pct: Decimal,
    /// Exit distance above the average, in percent.
    pub exit_pct: Decimal,
    /// Stop distance below our average price, in percent.
    pub stop_loss_pct: Decimal,
    /// Shares per entry.
    pub order_qty: Decimal,
    /// Cap on held plus open buy shares per instrument.
    pub max_position_qty: Decimal,
    /// Minimum time between two entries on one instrument.
    pub cooldown: chrono::Duration,
}

impl MeanReversionParams {
    /// Validates a JSON parameter row (e.g. today's ACTIVE `strategy_params` row or an AI draft).
    ///
    /// # Errors
    /// Returns [`ParamErrors`] for schema violations and for `order_qty > max_position_qty`.
    pub fn from_json(row: &serde_json::Value) -> Result<Self, ParamErrors> {
        Self::from_params(&validate_params(&SPECS, row)?)
    }

    /// Builds the typed parameters from a set validated against [`SPECS`].
    ///
    /// # Errors
    /// Returns [`ParamErrors`] when a name is missing or `order_qty > max_position_qty`.
    pub fn from_params(p: &Params) -> Result<Self, ParamErrors> {
        let get = |name: &str| p.get(name).ok_or_else(|| ParamErrors(vec![ParamError::Unknown(name.into())]));
        let out = Self {
            window: get("window")?.to_usize().unwrap_or(20),
            entry_pct: get("entry_pct")?,
            exit_pct: get("exit_pct")?,
            stop_loss_pct: get("stop_loss_pct")?,
            order_qty: get("order_qty")?,
            max_position_qty: get("max_position_qty")?,
            cooldown: chrono::TimeDelta::try_seconds(get("cooldown_secs")?.to_i64().unwrap_or(0))
                .unwrap_or_default(),
        };
        if out.order_qty > out.max_position_qty {
            return Err(ParamErrors(vec![ParamError::Constraint(format!(
                "order_qty {} exceeds max_position_qty {}",
                out.order_qty, out.max_position_qty
            ))]));
        }
        Ok(out)
    }
}

#[derive(Debug, Default)]
struct SymbolState {
    prices: VecDeque<Decimal>,
    sum: Decimal,
    last_entry: Option<DateTime<Utc>>,
}

/// The reference mean-reversion strategy (see the module documentation).
#[derive(Debug)]
pub struct MeanReversion {
    id: String,
    params: MeanReversionParams,
    table: TickTable,
    state: BTreeMap<Symbol, SymbolState>,
}

impl MeanReversion {
    /// Creates the strategy with an id and validated parameters (stock tick table).
    pub fn new(id: impl Into<String>, params: MeanReversionParams) -> Self {
        Self { id: id.into(), params, table: TickTable::Stock, state: BTreeMap::new() }
    }

    /// Uses another tick table (e.g. for ETFs).
    #[must_use]
    pub fn with_tick_table(mut self, table: TickTable) -> Self {
        self.table = table;
        self
    }

    fn intent(&self, input: &MarketInput, side: Side, qty: Decimal, reason: String) -> Option<OrderIntent> {
        let price = round_to_tick(input.price, self.table, TickRounding::conservative(side)).ok()?;
        Some(OrderIntent {
            symbol: input.symbol.clone(),
            side,
            order_type: OrderType::Limit,
            qty,
            price: Some(price),
            reason,
            signal_id: format!("{}-{}-{}", input.symbol, side, input.ts.timestamp_millis()),
        })
    }
}

impl Strategy for MeanReversion {
    fn id(&self) -> &str {
        &self.id
    }

    fn on_market(&mut self, input: &MarketInput, view: &StrategyView<'_>) -> Vec<OrderIntent> {
        if input.price <= Decimal::ZERO || input.price > MAX_INPUT {
            return Vec::new();
        }
        let (sma, last_entry) = {
            let window = self.params.window;
            let st = self.state.entry(input.symbol.clone()).or_default();
            st.prices.push_back(input.price);
            st.sum += input.price;
            while st.prices.len() > window {
                st.sum -= st.prices.pop_front().unwrap_or_default();
            }
            if st.prices.len() < window {
                return Vec::new();
            }
            (st.sum / Decimal::from(st.prices.len()), st.last_entry)
        };
        let p = &self.params;
        let hundred = dec!(100);
        let held = view.positions.qty(&input.symbol);
        let sellable = held - view.open_qty(&input.symbol, Side::Sell);
        if sellable > Decimal::ZERO {
            let avg = view.positions.get(&input.symbol).and_then(|pos| pos.avg_price());
            let exit_reason = if input.price >= sma * (Decimal::ONE + p.exit_pct / hundred) {
                Some(format!("take profit: {} >= SMA {} + {}%", input.price, sma.round_dp(2), p.exit_pct))
            } else {
                avg.filter(|a| input.price <= *a * (Decimal::ONE - p.stop_loss_pct / hundred)).map(|a| {
                    format!("stop loss: {} <= avg {} - {}%", input.price, a.round_dp(2), p.stop_loss_pct)
                })
            };
            if let Some(reason) = exit_reason {
                return self.intent(input, Side::Sell, sellable, reason).into_iter().collect();
            }
        }
        let cooled = last_entry.is_none_or(|t| input.ts - t >= p.cooldown);
        let room = held + view.open_qty(&input.symbol, Side::Buy) + p.order_qty <= p.max_position_qty;
        if cooled && room && input.price <= sma * (Decimal::ONE - p.entry_pct / hundred) {
            let reason = format!("entry: {} <= SMA {} - {}%", input.price, sma.round_dp(2), p.entry_pct);
            let intents: Vec<OrderIntent> =
                self.intent(input, Side::Buy, p.order_qty, reason).into_iter().collect();
            if let Some(st) = self.state.get_mut(&input.symbol) {
                st.last_entry = Some(input.ts);
            }
            return intents;
        }
        Vec::new()
    }
}
