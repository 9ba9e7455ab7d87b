//! The `stage_runs` table: one row per attempt of a pipeline stage.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::Dec;

/// One row of `stage_runs`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "stage_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub pipeline_run_id: i64,
    pub stage: String,
    pub attempt: i32,
    pub status: String,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub error: Option<String>,
    pub output: Option<Json>,
    pub requested_by: Option<String>,
    pub created_at: DateTimeUtc,
}

/// Relations of `stage_runs`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
