//! The `orders` table: our orders; the idempotency key is unique and committed before any broker call.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::Dec;

/// One row of `orders`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub strategy_id: Option<i64>,
    pub trade_date: Date,
    pub symbol: String,
    pub side: String,
    pub order_type: String,
    #[sea_orm(column_type = "Decimal(None)")]
    pub qty: Dec,
    #[sea_orm(column_type = "Decimal(None)")]
    pub price: Option<Dec>,
    pub status: String,
    #[sea_orm(column_type = "Decimal(None)")]
    pub filled_qty: Dec,
    #[sea_orm(column_type = "Decimal(None)")]
    pub avg_fill_price: Option<Dec>,
    pub broker_order_no: Option<String>,
    pub broker_branch: Option<String>,
    pub original_order_no: Option<String>,
    pub exchange: String,
    pub reject_code: Option<String>,
    pub reject_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    #[sea_orm(column_type = "Decimal(None)")]
    pub filled_amount: Option<Dec>,
    pub submit_attempt: i32,
}

/// Relations of `orders`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
