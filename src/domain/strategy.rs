//! Strategies: the `Strategy` trait, order intents, market inputs, the read-only view a strategy
//! gets of our state, and the policy for days without an ACTIVE parameter row.
//!
//! A strategy never calls the broker: it returns [`OrderIntent`]s, which the trading layer checks
//! (prices, guardrails, mode) and turns into orders with an idempotency key derived from
//! [`OrderIntent::signal_id`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::position::Positions;
use super::types::{OrderType, Side, Symbol};

pub mod mean_reversion;
pub mod params;

pub use mean_reversion::{MeanReversion, MeanReversionParams};
pub use params::{ParamError, ParamErrors, ParamKind, ParamSpec, Params, validate_params};

/// The market data a strategy sees: one trade or quote-derived price of an instrument.
///
/// A minimal input on purpose; typed market events are adapted into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketInput {
    /// Instrument.
    pub symbol: Symbol,
    /// Last trade price.
    pub price: Decimal,
    /// Volume of the trade (or 0 when unknown).
    pub volume: Decimal,
    /// Exchange time of the event.
    pub ts: DateTime<Utc>,
}

/// A live order as a strategy or a guardrail sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOrderView {
    /// Instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Quantity still open.
    pub leaves_qty: Decimal,
    /// Limit price, if any.
    pub price: Option<Decimal>,
}

/// The read-only view of our state handed to a strategy with each input.
#[derive(Debug, Clone, Copy)]
pub struct StrategyView<'a> {
    /// Current positions.
    pub positions: &'a Positions,
    /// Live orders.
    pub open_orders: &'a [OpenOrderView],
}

impl StrategyView<'_> {
    /// Returns the open quantity of live orders on one instrument and side.
    pub fn open_qty(&self, symbol: &Symbol, side: Side) -> Decimal {
        self.open_orders.iter().filter(|o| &o.symbol == symbol && o.side == side).map(|o| o.leaves_qty).sum()
    }
}

/// What a strategy wants to do; not an order until checked and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIntent {
    /// Instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Order type.
    pub order_type: OrderType,
    /// Quantity.
    pub qty: Decimal,
    /// Limit price (`None` for market orders).
    pub price: Option<Decimal>,
    /// Why the strategy wants it, for the event log.
    pub reason: String,
    /// Deterministic signal identity: the same input yields the same id (feeds the idempotency key).
    pub signal_id: String,
}

/// A trading strategy: sees market inputs and our state, returns order intents.
pub trait Strategy {
    /// Returns the strategy's stable id (part of every idempotency key).
    fn id(&self) -> &str;

    /// Handles one market input and returns the intents it triggers (often none).
    fn on_market(&mut self, input: &MarketInput, view: &StrategyView<'_>) -> Vec<OrderIntent>;
}

/// What to do on a day without an ACTIVE `strategy_params` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ParamsPolicy {
    /// Do not run the strategy today.
    #[default]
    SkipTrading,
    /// Trade with the most recent ACTIVE row.
    ReuseLastActive,
    /// Compute and record signals (last ACTIVE row, else defaults) but send nothing.
    ObserveOnly,
}

/// The parameters chosen for the day, and whether orders may be sent with them.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamsDecision {
    /// Trade with these parameters.
    Trade(Params),
    /// Compute signals with these parameters; send nothing.
    Observe(Params),
    /// Do not run the strategy.
    Skip {
        /// Why.
        reason: String,
    },
}

/// Chooses the day's parameters: today's ACTIVE row when valid, else the configured policy.
///
/// # Errors
/// Returns [`ParamErrors`] when the row that would be used (today's, or the reused last one) is
/// invalid; an invalid row is never silently replaced.
pub fn decide_params(
    specs: &[ParamSpec],
    policy: ParamsPolicy,
    today: Option<&serde_json::Value>,
    last_active: Option<&serde_json::Value>,
) -> Result<ParamsDecision, ParamErrors> {
    if let Some(row) = today {
        return validate_params(specs, row).map(ParamsDecision::Trade);
    }
    match (policy, last_active) {
        (ParamsPolicy::SkipTrading, _) => {
            Ok(ParamsDecision::Skip { reason: "no ACTIVE parameters today; policy SKIP_TRADING".into() })
        }
        (ParamsPolicy::ReuseLastActive, Some(row)) => validate_params(specs, row).map(ParamsDecision::Trade),
        (ParamsPolicy::ReuseLastActive, None) => {
            Ok(ParamsDecision::Skip { reason: "no ACTIVE parameters today and none before".into() })
        }
        (ParamsPolicy::ObserveOnly, Some(row)) => validate_params(specs, row).map(ParamsDecision::Observe),
        (ParamsPolicy::ObserveOnly, None) => {
            validate_params(specs, &serde_json::Value::Object(serde_json::Map::new()))
                .map(ParamsDecision::Observe)
        }
    }
}

/// Last prices by instrument, as strategies and guardrails read them.
pub type LastPrices = BTreeMap<Symbol, Decimal>;

#[cfg(test)]
mod tests;
