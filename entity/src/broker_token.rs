//! The `broker_tokens` table: cached KIS access tokens per app-key fingerprint and mode (never the raw app key).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::Dec;

/// One row of `broker_tokens`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "broker_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub app_key_fingerprint: String,
    pub mode: String,
    pub token: String,
    pub issued_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Relations of `broker_tokens`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
