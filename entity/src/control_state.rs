//! The `control_state` table: persisted operator switches such as the trading mode, one JSON value per key.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `control_state`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "control_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub value: Json,
    pub updated_at: DateTimeUtc,
    pub updated_by: String,
}

/// Relations of `control_state`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
