//! Creates `slack_day_messages`: the one Slack message of each trade date, posted once and updated
//! in place as the stages progress. It keeps the pipeline table the message shows, the newest
//! outbox row rendering it (older ones are superseded), Slack's id of the posted message (`ts`,
//! with its channel) so a restarted process updates the same message, and the claim of the one
//! delivery allowed to post it.

use sea_orm_migration::{prelude::*, schema::*};

/// The Slack day-message migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("slack_day_messages")
                .if_not_exists()
                .col(date("trade_date").primary_key())
                .col(json("board"))
                .col(big_integer_null("outbox_id"))
                .col(string_null("channel"))
                .col(string_null("ts"))
                .col(timestamp_with_time_zone_null("posting_until"))
                .col(timestamp_with_time_zone("updated_at"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("slack_day_messages").if_exists().take()).await
    }
}
