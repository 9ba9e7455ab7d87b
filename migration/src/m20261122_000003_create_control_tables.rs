//! Creates the pipeline control tables: `control_state` (persisted trading mode and other
//! operator switches), `stage_requests` (CLI run/re-run requests picked up by the daemon) and
//! `leases` (which process drives the pipeline, kept alive by a heartbeat).

use sea_orm_migration::{prelude::*, schema::*};

/// The control-tables migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let t = |name: &'static str| Table::create().table(name).if_not_exists().take();
        m.create_table(
            t("control_state")
                .col(string("key").primary_key())
                .col(json("value"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(string("updated_by"))
                .take(),
        )
        .await?;
        m.create_table(
            t("stage_requests")
                .col(big_pk_auto("id"))
                .col(date("trade_date"))
                .col(string("stage"))
                .col(string("kind"))
                .col(string("requested_by"))
                .col(timestamp_with_time_zone("requested_at"))
                .col(string("status"))
                .col(string_null("taken_by"))
                .col(timestamp_with_time_zone_null("taken_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .col(text_null("result"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_stage_requests_status")
                .table("stage_requests")
                .col("status")
                .if_not_exists()
                .take(),
        )
        .await?;
        m.create_table(
            t("leases")
                .col(string("name").primary_key())
                .col(string("holder"))
                .col(timestamp_with_time_zone("heartbeat_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["leases", "stage_requests", "control_state"] {
            m.drop_table(Table::drop().table(table).if_exists().take()).await?;
        }
        Ok(())
    }
}
