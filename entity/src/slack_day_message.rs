//! The `slack_day_messages` table: the one Slack message of a trade date (posted once, then
//! updated in place), the pipeline table it shows and Slack's id of it.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of `slack_day_messages`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "slack_day_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub trade_date: Date,
    /// The pipeline table the message shows (one entry per stage).
    pub board: Json,
    /// The newest outbox row rendering the table; older rows of the date are superseded.
    pub outbox_id: Option<i64>,
    /// The Slack channel the message was posted to.
    pub channel: Option<String>,
    /// Slack's id of the posted message.
    pub ts: Option<String>,
    /// Held by the delivery posting the message: no second post meanwhile.
    pub posting_until: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

/// Relations of `slack_day_messages`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
