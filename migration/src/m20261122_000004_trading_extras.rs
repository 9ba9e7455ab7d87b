//! Adds what the trading core needs beyond the core tables: the exact filled amount and the submit
//! attempt of an order, and the exact amount of a fill (synthetic fills carry an implied price).

use sea_orm_migration::{prelude::*, schema::*};

use crate::schema_util::money;

/// The trading extras migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite accepts a single change per ALTER TABLE.
        m.alter_table(Table::alter().table("orders").add_column(money(m, "filled_amount", true)).take())
            .await?;
        m.alter_table(
            Table::alter().table("orders").add_column(integer("submit_attempt").default(0).take()).take(),
        )
        .await?;
        m.alter_table(Table::alter().table("fills").add_column(money(m, "amount", true)).take()).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("fills").drop_column("amount").take()).await?;
        m.alter_table(Table::alter().table("orders").drop_column("submit_attempt").take()).await?;
        m.alter_table(Table::alter().table("orders").drop_column("filled_amount").take()).await?;
        Ok(())
    }
}
