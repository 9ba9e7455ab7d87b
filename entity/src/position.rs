//! The `positions` table: our positions per symbol, recomputable from fills.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::Dec;

/// One row of `positions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "positions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub symbol: String,
    #[sea_orm(column_type = "Decimal(None)")]
    pub qty: Dec,
    #[sea_orm(column_type = "Decimal(None)")]
    pub avg_price: Dec,
    #[sea_orm(column_type = "Decimal(None)")]
    pub realized_pnl: Dec,
    #[sea_orm(column_type = "Decimal(None)")]
    pub last_price: Option<Dec>,
    pub updated_at: DateTimeUtc,
}

/// Relations of `positions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
