//! Pure domain rules: no I/O, no async, no KIS field names.
//!
//! Shared primitives live in [`types`]; each other file owns one rule set
//! (order state machine, fills, positions, prices, risk, strategy, calendar, stages, instruments,
//! the journal's day record).

pub mod calendar;
pub mod fill;
pub mod instrument;
pub mod journal;
pub mod market;
pub mod mode;
pub mod money;
pub mod order;
pub mod overseas;
pub mod position;
pub mod price;
pub mod risk;
pub mod sessions;
pub mod stage;
pub mod strategy;
pub mod types;
pub mod us_calendar;

pub use types::{AccountNo, Currency, DomainError, Exchange, MarketRegion, Mode, OrderType, Side, Symbol};
