//! The `stage_requests` table: stage run/re-run requests from the CLI, picked up by the daemon.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `stage_requests`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "stage_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The market whose pipeline the request is for (`KR`, `US`).
    pub market: String,
    pub trade_date: Date,
    pub stage: String,
    pub kind: String,
    pub requested_by: String,
    pub requested_at: DateTimeUtc,
    pub status: String,
    pub taken_by: Option<String>,
    pub taken_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub result: Option<String>,
}

/// Relations of `stage_requests`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
