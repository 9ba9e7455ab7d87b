//! The `strategy_param_drafts` table: proposed next-day parameters awaiting the operator (PENDING / APPROVED / REJECTED).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::Dec;

/// One row of `strategy_param_drafts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "strategy_param_drafts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub strategy_id: i64,
    pub trade_date: Date,
    pub params: Json,
    pub source: String,
    pub rationale: String,
    pub status: String,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    pub decided_by: Option<String>,
}

/// Relations of `strategy_param_drafts`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
