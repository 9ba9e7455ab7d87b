//! The `leases` table: which process holds a named lease (the pipeline daemon), kept by a heartbeat,
//! and the fencing epoch that grows by one whenever the lease changes holder.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `leases`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "leases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub holder: String,
    pub heartbeat_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub epoch: i64,
}

/// Relations of `leases`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
