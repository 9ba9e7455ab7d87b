//! The Slack day messages (`slack_day_messages`): per trade date, the pipeline table the day's one
//! Slack message shows, the newest outbox row rendering it, Slack's id of the posted message
//! (`ts`, kept so a restarted process updates the same message) and the claim of the one delivery
//! allowed to post it (so no update posts a second message while the first post is in flight).

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::Value;

use super::StoreError;
use super::outbox::{OutboxChannel, insert_pending, supersede_unclaimed};
use entity::slack_day_message::{ActiveModel, Column, Entity, Model};

/// The stored state of one day's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayMessage {
    /// The trade date.
    pub trade_date: NaiveDate,
    /// The pipeline table (JSON of the notifier; `null` before the first update).
    pub board: Value,
    /// The newest outbox row rendering the table.
    pub outbox_id: Option<i64>,
    /// The channel the message was posted to.
    pub channel: Option<String>,
    /// Slack's id of the posted message.
    pub ts: Option<String>,
    /// Until when a delivery holds the right to post it.
    pub posting_until: Option<DateTime<Utc>>,
}

impl DayMessage {
    /// Returns Slack's id of the message when it was posted to `channel`.
    pub fn ts_in(&self, channel: &str) -> Option<&str> {
        self.ts.as_deref().filter(|_| self.channel.as_deref() == Some(channel))
    }
}

impl From<Model> for DayMessage {
    fn from(m: Model) -> Self {
        Self {
            trade_date: m.trade_date,
            board: m.board,
            outbox_id: m.outbox_id,
            channel: m.channel,
            ts: m.ts,
            posting_until: m.posting_until,
        }
    }
}

/// Reads and writes `slack_day_messages`.
#[derive(Debug, Clone)]
pub struct SlackDays {
    db: DatabaseConnection,
}

impl SlackDays {
    /// Creates the store on a connection.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Updates the table of `date` and enqueues the Slack row showing it, in one transaction:
    /// `update` gets the stored table (`null` for a day without one) and returns the new table
    /// with the outbox payload rendering it, or `None` when nothing changed. The new row becomes
    /// the day's newest; the previous one is superseded unless an attempt at it has started (its
    /// delivery finds out itself). Returns the new row's id, `None` when nothing changed.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the transaction fails (nothing is written then).
    pub async fn enqueue_update(
        &self,
        date: NaiveDate,
        kind: &str,
        now: DateTime<Utc>,
        update: impl FnOnce(&Value) -> Option<(Value, Value)> + Send,
    ) -> Result<Option<i64>, StoreError> {
        let txn = super::begin_write(&self.db).await?;
        // Two first updates of a day racing: one insert wins, the other waits for its lock below.
        let blank = ActiveModel {
            trade_date: Set(date),
            board: Set(Value::Null),
            outbox_id: Set(None),
            channel: Set(None),
            ts: Set(None),
            posting_until: Set(None),
            updated_at: Set(now),
        };
        Entity::insert(blank)
            .on_conflict_do_nothing_on([Column::TradeDate])
            .exec_without_returning(&txn)
            .await?;
        let row = Entity::find_by_id(date)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::db(format!("slack day message {date} vanished")))?;
        let Some((board, payload)) = update(&row.board) else {
            txn.commit().await?;
            return Ok(None);
        };
        let id = insert_pending(&txn, OutboxChannel::Slack, kind, payload, now).await?;
        if let Some(previous) = row.outbox_id {
            supersede_unclaimed(&txn, previous).await?;
        }
        Entity::update_many()
            .col_expr(Column::Board, Expr::value(board))
            .col_expr(Column::OutboxId, Expr::value(id))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::TradeDate.eq(date))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(Some(id))
    }

    /// Returns the message of a date, if the day has one.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn get(&self, date: NaiveDate) -> Result<Option<DayMessage>, StoreError> {
        Ok(Entity::find_by_id(date).one(&self.db).await?.map(DayMessage::from))
    }

    /// Returns the message of the latest trade date, if any.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn latest(&self) -> Result<Option<DayMessage>, StoreError> {
        Ok(Entity::find()
            .order_by_desc(Column::TradeDate)
            .limit(1)
            .one(&self.db)
            .await?
            .map(DayMessage::from))
    }

    /// Claims the right to post the message of `date` to `channel` until `until`: granted when it
    /// has not been posted there and no other delivery holds an unexpired claim.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn claim_post(
        &self,
        date: NaiveDate,
        channel: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let not_posted = Condition::any()
            .add(Column::Ts.is_null())
            .add(Column::Channel.is_null())
            .add(Column::Channel.ne(channel));
        let free = Condition::any().add(Column::PostingUntil.is_null()).add(Column::PostingUntil.lt(now));
        let res = Entity::update_many()
            .col_expr(Column::PostingUntil, Expr::value(until))
            .filter(Column::TradeDate.eq(date))
            .filter(not_posted)
            .filter(free)
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Records the posted message (and ends the claim to post it).
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn posted(
        &self,
        date: NaiveDate,
        channel: &str,
        ts: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Entity::update_many()
            .col_expr(Column::Channel, Expr::value(channel.to_owned()))
            .col_expr(Column::Ts, Expr::value(ts.to_owned()))
            .col_expr(Column::PostingUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::TradeDate.eq(date))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Ends a claim to post that did not post.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn release_post(&self, date: NaiveDate) -> Result<(), StoreError> {
        Entity::update_many()
            .col_expr(Column::PostingUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(Column::TradeDate.eq(date))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Forgets a posted message that Slack no longer has (deleted): the next delivery posts anew.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn forget(&self, date: NaiveDate, ts: &str) -> Result<(), StoreError> {
        Entity::update_many()
            .col_expr(Column::Ts, Expr::value(Option::<String>::None))
            .filter(Column::TradeDate.eq(date))
            .filter(Column::Ts.eq(ts))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
