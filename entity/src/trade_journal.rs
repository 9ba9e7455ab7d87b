//! The `trade_journals` table: the Markdown trade journal of each trade date.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::Dec;

/// One row of `trade_journals`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "trade_journals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub trade_date: Date,
    pub source: String,
    pub summary: String,
    pub markdown: String,
    pub path: Option<String>,
    pub created_at: DateTimeUtc,
}

/// Relations of `trade_journals`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
