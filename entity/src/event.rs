//! The `events` table: the append-only record of every difference, transition and error (payload masked).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::Dec;

/// One row of `events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    pub trade_date: Option<Date>,
    pub kind: String,
    pub severity: String,
    pub message: String,
    pub payload: Json,
    pub order_id: Option<i64>,
}

/// Relations of `events`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
