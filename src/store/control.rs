//! The persisted trading mode (`control_state`): reads, and mode changes through the domain's
//! mode transition table, each with an `audit_log` row and an event.

use chrono::{DateTime, Utc};
use entity::{audit_log, control_state};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};
use serde_json::json;

use super::{Severity, StoreError};
use crate::domain::mode::{InvalidModeTransition, ModeEvent, TradingMode, transition};

/// The `control_state` key of the trading mode.
pub const TRADING_MODE_KEY: &str = "trading_mode";

/// Errors of a mode change.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The change is not allowed from the current mode.
    #[error(transparent)]
    Transition(#[from] InvalidModeTransition),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for ControlError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(StoreError::from(e))
    }
}

/// A mode change that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeChange {
    /// Mode before.
    pub from: TradingMode,
    /// Mode after.
    pub to: TradingMode,
}

/// Reads and changes the persisted trading mode.
#[derive(Debug, Clone)]
pub struct ControlStore {
    db: DatabaseConnection,
}

fn parse_mode(row: &control_state::Model) -> Result<TradingMode, StoreError> {
    serde_json::from_value(row.value.clone()).map_err(|e| StoreError::Corrupt {
        table: "control_state",
        id: row.key.clone(),
        reason: e.to_string(),
    })
}

impl ControlStore {
    /// Creates the store on a connection.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Returns the persisted trading mode (normal when never set).
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] or [`StoreError::Corrupt`] for an unreadable value.
    pub async fn mode(&self) -> Result<TradingMode, StoreError> {
        match control_state::Entity::find_by_id(TRADING_MODE_KEY.to_owned()).one(&self.db).await? {
            Some(row) => parse_mode(&row),
            None => Ok(TradingMode::Normal),
        }
    }

    /// Applies a mode event for `actor` in one transaction: the new mode, an `audit_log` row and
    /// an event (`trading_mode_changed`). A kill switch while stopped keeps the first reason and
    /// writes nothing.
    ///
    /// # Errors
    /// Returns [`ControlError::Transition`] for a refused change (nothing written) or
    /// [`ControlError::Store`].
    pub async fn apply(
        &self,
        event: &ModeEvent,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<ModeChange, ControlError> {
        let txn = super::begin_write(&self.db).await?;
        let existing = control_state::Entity::find_by_id(TRADING_MODE_KEY.to_owned()).one(&txn).await?;
        let from = match &existing {
            Some(row) => parse_mode(row)?,
            None => TradingMode::Normal,
        };
        let to = transition(&from, event)?;
        if to == from {
            txn.commit().await?;
            return Ok(ModeChange { from, to });
        }
        let value = serde_json::to_value(&to).map_err(|e| StoreError::Corrupt {
            table: "control_state",
            id: TRADING_MODE_KEY.into(),
            reason: e.to_string(),
        })?;
        let mut row = control_state::ActiveModel {
            key: Set(TRADING_MODE_KEY.to_owned()),
            value: Set(value.clone()),
            updated_at: Set(now),
            updated_by: Set(actor.to_owned()),
        };
        if existing.is_some() {
            row.key = sea_orm::ActiveValue::Unchanged(TRADING_MODE_KEY.to_owned());
            row.update(&txn).await?;
        } else {
            row.insert(&txn).await?;
        }
        let event_json = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
        audit_log::ActiveModel {
            at: Set(now),
            actor: Set(actor.to_owned()),
            action: Set(format!("trading_mode.{}", to.as_str().to_ascii_lowercase())),
            target: Set(TRADING_MODE_KEY.to_owned()),
            details: Set(crate::store::events::mask_payload(json!({
                "from": serde_json::to_value(&from).unwrap_or(serde_json::Value::Null),
                "to": value,
                "event": event_json,
            }))),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        let severity = match to {
            TradingMode::Stop { .. } => Severity::Critical,
            TradingMode::Observe => Severity::Warning,
            TradingMode::Normal => Severity::Info,
        };
        let message = match &to {
            TradingMode::Stop { reason } => format!("trading stopped by {actor}: {reason}"),
            other => format!("trading mode {} -> {} by {actor}", from.as_str(), other.as_str()),
        };
        self.record_event(severity, &message, &from, &to).await?;
        Ok(ModeChange { from, to })
    }

    async fn record_event(
        &self,
        severity: Severity,
        message: &str,
        from: &TradingMode,
        to: &TradingMode,
    ) -> Result<i64, StoreError> {
        let payload = json!({
            "from": serde_json::to_value(from).unwrap_or(serde_json::Value::Null),
            "to": serde_json::to_value(to).unwrap_or(serde_json::Value::Null),
        });
        super::EventRecorder::new(self.db.clone())
            .record("trading_mode_changed", severity, message, payload, None, None)
            .await
    }
}

/// An order as the operator's `aegis orders` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    /// Row id.
    pub id: i64,
    /// When the row was written.
    pub created_at: DateTime<Utc>,
    /// Instrument code.
    pub symbol: String,
    /// Stored side.
    pub side: String,
    /// Stored order type.
    pub order_type: String,
    /// Ordered quantity.
    pub qty: Decimal,
    /// Limit price (none for a market order).
    pub price: Option<Decimal>,
    /// Filled quantity.
    pub filled_qty: Decimal,
    /// Stored status.
    pub status: String,
    /// Broker order number, once known.
    pub broker_order_no: Option<String>,
}

/// A position as the operator's `aegis positions` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionListing {
    /// Instrument code.
    pub symbol: String,
    /// Held quantity.
    pub qty: Decimal,
    /// Average price.
    pub avg_price: Decimal,
    /// Realized P&L.
    pub realized_pnl: Decimal,
    /// Last marked price.
    pub last_price: Option<Decimal>,
}

/// Read-only operator views (`aegis orders`, `positions`, `events`).
impl ControlStore {
    /// Returns the orders of a trade date, oldest first.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn orders_on(&self, date: chrono::NaiveDate) -> Result<Vec<OrderRow>, StoreError> {
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
        Ok(entity::order::Entity::find()
            .filter(entity::order::Column::TradeDate.eq(date))
            .order_by_asc(entity::order::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|o| OrderRow {
                id: o.id,
                created_at: o.created_at,
                symbol: o.symbol,
                side: o.side,
                order_type: o.order_type,
                qty: o.qty.0,
                price: o.price.map(|p| p.0),
                filled_qty: o.filled_qty.0,
                status: o.status,
                broker_order_no: o.broker_order_no,
            })
            .collect())
    }

    /// Returns every position, by symbol.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn positions(&self) -> Result<Vec<PositionListing>, StoreError> {
        use sea_orm::QueryOrder;
        Ok(entity::position::Entity::find()
            .order_by_asc(entity::position::Column::Symbol)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| PositionListing {
                symbol: p.symbol,
                qty: p.qty.0,
                avg_price: p.avg_price.0,
                realized_pnl: p.realized_pnl.0,
                last_price: p.last_price.map(|l| l.0),
            })
            .collect())
    }

    /// Returns the most recent events, newest first, optionally of one kind.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn events(
        &self,
        limit: u64,
        kind: Option<&str>,
    ) -> Result<Vec<super::events::EventRecord>, StoreError> {
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
        let mut q = entity::event::Entity::find().order_by_desc(entity::event::Column::Id).limit(limit);
        if let Some(k) = kind {
            q = q.filter(entity::event::Column::Kind.eq(k));
        }
        Ok(q.all(&self.db).await?.into_iter().map(super::events::EventRecord::from).collect())
    }

    /// Returns the newest event of a kind recorded for a trade date.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn latest_event(
        &self,
        kind: &str,
        date: chrono::NaiveDate,
    ) -> Result<Option<super::events::EventRecord>, StoreError> {
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
        let row = entity::event::Entity::find()
            .filter(entity::event::Column::Kind.eq(kind))
            .filter(entity::event::Column::TradeDate.eq(date))
            .order_by_desc(entity::event::Column::Id)
            .one(&self.db)
            .await?;
        Ok(row.map(super::events::EventRecord::from))
    }
}
