//! Creates `notification_outbox`: rendered Slack/email/console messages waiting for delivery.

use sea_orm_migration::{prelude::*, schema::*};

/// The outbox migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("notification_outbox")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(string("channel"))
                .col(string("kind"))
                .col(json("payload"))
                .col(string("status"))
                .col(integer("attempts"))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_notification_outbox_due")
                .table("notification_outbox")
                .col("status")
                .col("next_attempt_at")
                .if_not_exists()
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("notification_outbox").if_exists().take()).await
    }
}
