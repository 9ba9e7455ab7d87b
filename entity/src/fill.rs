//! The `fills` table: executions, unique on the broker's fill identity.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::Dec;

/// One row of `fills`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "fills")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    #[sea_orm(unique)]
    pub fill_key: String,
    pub broker_order_no: String,
    pub symbol: String,
    pub side: String,
    #[sea_orm(column_type = "Decimal(None)")]
    pub qty: Dec,
    #[sea_orm(column_type = "Decimal(None)")]
    pub price: Dec,
    pub filled_at: DateTimeUtc,
    pub source: String,
    pub created_at: DateTimeUtc,
    #[sea_orm(column_type = "Decimal(None)")]
    pub amount: Option<Dec>,
}

/// Relations of `fills`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
