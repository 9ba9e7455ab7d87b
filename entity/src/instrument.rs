//! The `instruments` table: the stock master (one row per KRX code).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::Dec;

/// One row of `instruments`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "instruments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub isin: String,
    pub name: String,
    pub market: String,
    pub security_group: String,
    pub halted: bool,
    pub admin_issue: bool,
    pub warning_level: String,
    #[sea_orm(column_type = "Decimal(None)")]
    pub base_price: Dec,
    #[sea_orm(column_type = "Decimal(None)")]
    pub lot_size: Dec,
    pub listed_on: Option<Date>,
    #[sea_orm(column_type = "Decimal(None)")]
    pub prev_volume: Dec,
    pub active: bool,
    pub updated_at: DateTimeUtc,
}

/// Relations of `instruments`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
