//! The trading log: the write-ahead log of our orders, their fills and the positions they make.
//!
//! The trading engine keeps the day's state in memory and writes through this port; it reads it
//! back only at start-up, after recovery and when a write finds the row moved by another writer.
//! Each method is one unit of work: "record these fills and the order's new state" commits or
//! rolls back as a whole, so transactions stay inside the store.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;

use super::event_log::NewEvent;
use super::store_error::StoreError;
use crate::domain::fill::{Execution, Fill, FillLedger};
use crate::domain::order::{IdempotencyKey, NewOrder, Order, OrderStatus};
use crate::domain::position::Positions;
use crate::domain::{MarketRegion, Side, Symbol};

/// A boxed future resolving to a store result.
pub type LogFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// Row fields of an order that are not part of the domain order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderMeta {
    /// Trading date the order belongs to.
    pub trade_date: NaiveDate,
    /// Strategy row, when the order came from a stored strategy.
    pub strategy_id: Option<i64>,
}

/// An order with the row fields the trading core uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    /// The domain order.
    pub order: Order,
    /// Row id (also `events.order_id`).
    pub id: i64,
    /// Trading date.
    pub trade_date: NaiveDate,
    /// When the row was written.
    pub created_at: DateTime<Utc>,
    /// When the latest submit attempt started (set with `SUBMITTING`).
    pub sent_at: Option<DateTime<Utc>>,
    /// Reject code and reason, when rejected.
    pub reject: Option<(String, String)>,
}

/// The result of [`TradingLog::insert_order`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// A new row was written.
    Created(StoredOrder),
    /// The key was already present; the existing order is returned unchanged.
    Existing(StoredOrder),
}

impl Inserted {
    /// Returns the order, new or existing.
    pub fn stored(&self) -> &StoredOrder {
        match self {
            Self::Created(s) | Self::Existing(s) => s,
        }
    }
}

/// Extra columns written by a guarded update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateExtra {
    /// Sets `sent_at` (the start of a submit attempt).
    pub sent_at: Option<DateTime<Utc>>,
    /// Sets the reject code and reason.
    pub reject: Option<(String, String)>,
    /// An `audit_log` row written in the same unit of work as the move (an order action: submit,
    /// cancel, resolution).
    pub audit: Option<AuditNote>,
}

/// An `audit_log` row: who did what to which object, with masked details (the result, and for an
/// order its correlation id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditNote {
    /// Who (`cli:alice`, `strategy:mean_reversion` …).
    pub actor: String,
    /// What (`order.submit`, `cli.halt` …).
    pub action: String,
    /// On what (`orders/42`, `trading_mode` …).
    pub target: String,
    /// Details: `result`, and what else the action names.
    pub details: serde_json::Value,
}

/// A guarded move of an order row: written only if the row is still at `expected` (status and
/// submit attempt), so two writers can never move an order backwards.
#[derive(Debug, Clone, Copy)]
pub struct OrderWrite<'a> {
    /// The order in its new state.
    pub order: &'a Order,
    /// The state the row must still be in.
    pub expected: (OrderStatus, u32),
    /// Extra columns.
    pub extra: &'a UpdateExtra,
    /// Time written as `updated_at`.
    pub now: DateTime<Utc>,
}

/// The fills of one order to make durable, with the order's new state.
#[derive(Debug, Clone, Copy)]
pub struct FillsWrite<'a> {
    /// The order row.
    pub order_id: i64,
    /// Trading date of the order (part of every fill key).
    pub trade_date: NaiveDate,
    /// Instrument of the order.
    pub symbol: &'a Symbol,
    /// Side of the order.
    pub side: Side,
    /// The fills as stored before (the ledger's previous state).
    pub before: &'a [Fill],
    /// The ledger after the new notice or snapshot.
    pub ledger: &'a FillLedger,
    /// The order moved to the ledger's cumulative fill, when it moves.
    pub order: Option<OrderWrite<'a>>,
    /// Time written as `filled_at` for new rows.
    pub filled_at: DateTime<Utc>,
}

/// What [`TradingLog::record_fills`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillsWritten {
    /// Committed: fills inserted, synthetic fills updated or deleted.
    Committed {
        /// Rows inserted.
        inserted: usize,
        /// Rows changed or removed (synthetic fills replaced by notices).
        replaced: usize,
    },
    /// The order row had moved under us: nothing was written (reload the order and retry).
    OrderMoved,
}

/// The orders of a trading date and their fills, as the engine rebuilds its state from them.
#[derive(Debug, Clone, Default)]
pub struct DayLog {
    /// Every order of the date, oldest first.
    pub orders: Vec<StoredOrder>,
    /// Stored fills per order row.
    pub fills: HashMap<i64, Vec<Fill>>,
    /// The same fills as executions, in time order (positions are rebuilt from them).
    pub executions: Vec<Execution>,
}

impl DayLog {
    /// Keeps only one market's orders, fills and executions (a KRX and a US session can share a
    /// date; each core, summary and comparison covers one market).
    #[must_use]
    pub fn of_region(mut self, region: MarketRegion) -> Self {
        self.orders.retain(|o| o.order.request().exchange.region() == region);
        let ids: std::collections::HashSet<i64> = self.orders.iter().map(|o| o.id).collect();
        self.fills.retain(|id, _| ids.contains(id));
        self.executions.retain(|e| e.symbol.region() == region);
        self
    }
}

/// The write-ahead log of orders, fills and positions, in domain types.
pub trait TradingLog: Send + Sync + fmt::Debug {
    /// Reads the orders of a trading date with their fills.
    ///
    /// # Errors
    /// [`StoreError::Db`], or [`StoreError::Corrupt`] for an unreadable row.
    fn load_day(&self, trade_date: NaiveDate) -> LogFuture<'_, DayLog>;

    /// Reads one order.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    fn order(&self, id: i64) -> LogFuture<'_, Option<StoredOrder>>;

    /// Reads the order of an idempotency key.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    fn order_by_key<'a>(&'a self, key: &'a IdempotencyKey) -> LogFuture<'a, Option<StoredOrder>>;

    /// Reads our order of `market` the broker knows under `number` on `trade_date` (each market
    /// numbers its orders on its own: a KRX and a US order of one date may share a number).
    ///
    /// # Errors
    /// [`StoreError::IdentityConflict`] when two orders of the market and date hold the number.
    fn order_by_broker_no<'a>(
        &'a self,
        market: MarketRegion,
        trade_date: NaiveDate,
        number: &'a str,
    ) -> LogFuture<'a, Option<StoredOrder>>;

    /// Writes a `NEW` order row unless its idempotency key exists (then the existing order is
    /// returned; the database's unique constraint decides a race).
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    fn insert_order<'a>(
        &'a self,
        request: &'a NewOrder,
        meta: &'a OrderMeta,
        now: DateTime<Utc>,
    ) -> LogFuture<'a, Inserted>;

    /// Moves an order row (guarded) and, when it moved, records `events` with it. Returns false
    /// when another writer moved the row first (nothing is written).
    ///
    /// # Errors
    /// [`StoreError::Db`].
    fn update_order<'a>(&'a self, write: OrderWrite<'a>, events: &'a [NewEvent]) -> LogFuture<'a, bool>;

    /// Makes an order's fill rows equal to its ledger and moves the order row, in one
    /// transaction, with `events`.
    ///
    /// # Errors
    /// [`StoreError::IdentityConflict`] when a fill's key is held by another order (nothing is
    /// written), [`StoreError::Db`] or [`StoreError::Corrupt`].
    fn record_fills<'a>(
        &'a self,
        write: FillsWrite<'a>,
        events: &'a [NewEvent],
    ) -> LogFuture<'a, FillsWritten>;

    /// Writes the positions of one market as a whole (a snapshot of the engine's positions); the
    /// other market's rows are left alone.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    fn save_positions<'a>(
        &'a self,
        positions: &'a Positions,
        region: MarketRegion,
        now: DateTime<Utc>,
    ) -> LogFuture<'a, ()>;

    /// Records events.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    fn record_events<'a>(&'a self, events: &'a [NewEvent]) -> LogFuture<'a, ()>;
}
