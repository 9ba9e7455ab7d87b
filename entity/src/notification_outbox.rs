//! The `notification_outbox` table: rendered notifications and their delivery state.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `notification_outbox`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "notification_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_at: DateTimeUtc,
    /// SLACK, EMAIL or CONSOLE.
    pub channel: String,
    pub kind: String,
    /// The already-rendered message.
    pub payload: Json,
    /// PENDING, SENT or FAILED.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
}

/// Relations of `notification_outbox`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
