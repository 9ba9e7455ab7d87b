//! The notification outbox: rendered messages persisted before delivery, so a notifier outage or a
//! restart loses nothing. Rows are claimed with a lease (optimistic on `attempts`), so a crash
//! mid-delivery only delays a message and two workers never deliver the same attempt.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::Value;

use super::StoreError;
use entity::notification_outbox::{ActiveModel, Column, Entity, Model};

/// Where an outbox row is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxChannel {
    /// Slack chat.postMessage.
    Slack,
    /// Email through SMTP.
    Email,
    /// The process console.
    Console,
}

impl OutboxChannel {
    /// Returns the stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "SLACK",
            Self::Email => "EMAIL",
            Self::Console => "CONSOLE",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "SLACK" => Some(Self::Slack),
            "EMAIL" => Some(Self::Email),
            "CONSOLE" => Some(Self::Console),
            _ => None,
        }
    }
}

/// The delivery state of an outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// Delivered.
    Sent,
    /// Given up after the last attempt or a permanent error.
    Failed,
    /// Not delivered because a newer row says the same thing better (an older version of the
    /// day's Slack message).
    Superseded,
}

impl OutboxStatus {
    /// Returns the stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Sent => "SENT",
            Self::Failed => "FAILED",
            Self::Superseded => "SUPERSEDED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "PENDING" => Some(Self::Pending),
            "SENT" => Some(Self::Sent),
            "FAILED" => Some(Self::Failed),
            "SUPERSEDED" => Some(Self::Superseded),
            _ => None,
        }
    }
}

/// One outbox row, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Row id.
    pub id: i64,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// Where it goes.
    pub channel: OutboxChannel,
    /// The notification kind (e.g. `stage_transition`).
    pub kind: String,
    /// The rendered message.
    pub payload: Value,
    /// Delivery state.
    pub status: OutboxStatus,
    /// Delivery attempts started so far.
    pub attempts: u32,
    /// When the next attempt is due (or the lease of the running attempt ends).
    pub next_attempt_at: DateTime<Utc>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub sent_at: Option<DateTime<Utc>>,
}

impl TryFrom<Model> for OutboxEntry {
    type Error = StoreError;

    fn try_from(m: Model) -> Result<Self, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            table: "notification_outbox",
            id: m.id.to_string(),
            reason,
        };
        let channel = OutboxChannel::parse(&m.channel)
            .ok_or_else(|| corrupt(format!("unknown channel {}", m.channel)))?;
        let status =
            OutboxStatus::parse(&m.status).ok_or_else(|| corrupt(format!("unknown status {}", m.status)))?;
        let attempts =
            u32::try_from(m.attempts).map_err(|_| corrupt(format!("negative attempts {}", m.attempts)))?;
        Ok(Self {
            id: m.id,
            created_at: m.created_at,
            channel,
            kind: m.kind,
            payload: m.payload,
            status,
            attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            sent_at: m.sent_at,
        })
    }
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Inserts a PENDING row due now on any connection (a transaction too) and returns its id.
pub(crate) async fn insert_pending<C: ConnectionTrait>(
    db: &C,
    channel: OutboxChannel,
    kind: &str,
    payload: Value,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let row = ActiveModel {
        created_at: Set(now),
        channel: Set(channel.as_str().to_owned()),
        kind: Set(kind.to_owned()),
        payload: Set(payload),
        status: Set(OutboxStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        sent_at: Set(None),
        ..Default::default()
    };
    Ok(row.insert(db).await?.id)
}

/// Marks a PENDING row no attempt has been made at SUPERSEDED (a delivery in progress is left
/// alone: it finds out itself). Returns whether it was.
pub(crate) async fn supersede_unclaimed<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
    let res = Entity::update_many()
        .col_expr(Column::Status, Expr::value(OutboxStatus::Superseded.as_str()))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(OutboxStatus::Pending.as_str()))
        .filter(Column::Attempts.eq(0))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Reads and writes `notification_outbox`.
#[derive(Debug, Clone)]
pub struct Outbox {
    db: DatabaseConnection,
}

impl Outbox {
    /// Creates an outbox on a connection.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Returns the connection.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Inserts a PENDING row due now and returns its id.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the insert fails.
    pub async fn enqueue(
        &self,
        channel: OutboxChannel,
        kind: &str,
        payload: Value,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        Ok(insert_pending(&self.db, channel, kind, payload, now).await?)
    }

    /// Returns up to `limit` PENDING rows due at `now`, oldest due first.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub async fn due(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<OutboxEntry>, StoreError> {
        Entity::find()
            .filter(Column::Status.eq(OutboxStatus::Pending.as_str()))
            .filter(Column::NextAttemptAt.lte(now))
            .order_by_asc(Column::NextAttemptAt)
            .order_by_asc(Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(OutboxEntry::try_from)
            .collect()
    }

    /// Returns the PENDING rows per channel (every channel, zeros included).
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn pending_by_channel(&self) -> Result<Vec<(&'static str, usize)>, StoreError> {
        let channels: Vec<String> = Entity::find()
            .select_only()
            .column(Column::Channel)
            .filter(Column::Status.eq(OutboxStatus::Pending.as_str()))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok([OutboxChannel::Slack, OutboxChannel::Email, OutboxChannel::Console]
            .into_iter()
            .map(|c| (c.as_str(), channels.iter().filter(|x| x.as_str() == c.as_str()).count()))
            .collect())
    }

    /// Returns when the earliest PENDING row is due, if any.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(Entity::find()
            .filter(Column::Status.eq(OutboxStatus::Pending.as_str()))
            .order_by_asc(Column::NextAttemptAt)
            .one(&self.db)
            .await?
            .map(|m| m.next_attempt_at))
    }

    /// Claims the next attempt of a row: counts it and pushes `next_attempt_at` to `lease_until`,
    /// provided nobody else claimed it since it was read. Returns false when the claim was lost.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn claim(&self, entry: &OutboxEntry, lease_until: DateTime<Utc>) -> Result<bool, StoreError> {
        let res = Entity::update_many()
            .col_expr(Column::Attempts, Expr::value(to_i32(entry.attempts.saturating_add(1))))
            .col_expr(Column::NextAttemptAt, Expr::value(lease_until))
            .filter(Column::Id.eq(entry.id))
            .filter(Column::Status.eq(OutboxStatus::Pending.as_str()))
            .filter(Column::Attempts.eq(to_i32(entry.attempts)))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Marks a row delivered.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        Entity::update_many()
            .col_expr(Column::Status, Expr::value(OutboxStatus::Sent.as_str()))
            .col_expr(Column::SentAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Keeps a row PENDING with its next attempt at `next_at` and the error of the failed one.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn schedule_retry(
        &self,
        id: i64,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        Entity::update_many()
            .col_expr(Column::NextAttemptAt, Expr::value(next_at))
            .col_expr(Column::LastError, Expr::value(error.to_owned()))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(OutboxStatus::Pending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Gives back a claimed attempt that was not made (the message had to wait: for the day's
    /// message it threads under, for Slack's rate limit): the row stays PENDING, due at
    /// `next_at`, with its attempt count as before the claim. Returns false when the claim was
    /// lost meanwhile.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn postpone(&self, entry: &OutboxEntry, next_at: DateTime<Utc>) -> Result<bool, StoreError> {
        let res = Entity::update_many()
            .col_expr(Column::Attempts, Expr::value(to_i32(entry.attempts)))
            .col_expr(Column::NextAttemptAt, Expr::value(next_at))
            .filter(Column::Id.eq(entry.id))
            .filter(Column::Status.eq(OutboxStatus::Pending.as_str()))
            .filter(Column::Attempts.eq(to_i32(entry.attempts.saturating_add(1))))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Marks a PENDING row SUPERSEDED (a newer row carries its message).
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn supersede(&self, id: i64) -> Result<(), StoreError> {
        Entity::update_many()
            .col_expr(Column::Status, Expr::value(OutboxStatus::Superseded.as_str()))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(OutboxStatus::Pending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Returns one row, if it exists.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub async fn get(&self, id: i64) -> Result<Option<OutboxEntry>, StoreError> {
        Entity::find_by_id(id).one(&self.db).await?.map(OutboxEntry::try_from).transpose()
    }

    /// Marks a row FAILED for good.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        Entity::update_many()
            .col_expr(Column::Status, Expr::value(OutboxStatus::Failed.as_str()))
            .col_expr(Column::LastError, Expr::value(error.to_owned()))
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Returns every row (optionally of one status), oldest first.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub async fn list(&self, status: Option<OutboxStatus>) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut q = Entity::find().order_by_asc(Column::Id);
        if let Some(s) = status {
            q = q.filter(Column::Status.eq(s.as_str()));
        }
        q.all(&self.db).await?.into_iter().map(OutboxEntry::try_from).collect()
    }
}
