//! The aegis schema as sea-orm migrations (string identifiers only; never imports `entity`).

pub use sea_orm_migration::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_core_tables;
mod m20261122_000002_create_notification_outbox;
mod m20261122_000003_create_control_tables;
mod m20261122_000004_trading_extras;
mod m20261204_000005_rekey_fills;
mod m20261207_000006_lease_epoch;
mod m20261214_000007_slack_day_messages;
mod m20261221_000008_market_runs;
mod schema_util;

/// Every migration of aegis, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_core_tables::Migration),
            Box::new(m20261122_000002_create_notification_outbox::Migration),
            Box::new(m20261122_000003_create_control_tables::Migration),
            Box::new(m20261122_000004_trading_extras::Migration),
            Box::new(m20261204_000005_rekey_fills::Migration),
            Box::new(m20261207_000006_lease_epoch::Migration),
            Box::new(m20261214_000007_slack_day_messages::Migration),
            Box::new(m20261221_000008_market_runs::Migration),
        ]
    }
}
