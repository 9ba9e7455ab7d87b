//! Adds the fencing epoch to `leases`: it grows by one whenever the lease changes holder, and every
//! order write names the epoch it was taken under, so a process that lost the lease cannot write.

use sea_orm_migration::{prelude::*, schema::*};

/// The lease epoch migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table("leases").add_column(big_integer("epoch").default(0).take()).take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("leases").drop_column("epoch").take()).await
    }
}
