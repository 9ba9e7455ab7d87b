//! The `strategy_params` table: strategy parameters per trade date (DRAFT / ACTIVE / RETIRED).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::Dec;

/// One row of `strategy_params`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "strategy_params")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub strategy_id: i64,
    pub trade_date: Date,
    pub status: String,
    pub params: Json,
    pub source_draft_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub activated_at: Option<DateTimeUtc>,
    pub retired_at: Option<DateTimeUtc>,
}

/// Relations of `strategy_params`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
