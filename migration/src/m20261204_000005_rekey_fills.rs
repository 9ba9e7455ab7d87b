//! Keys fills by the trading date of their order: KIS restarts order numbers every business day, so
//! a fill key of order number and fill details alone collides across days (and the second day's
//! fill was dropped by the unique constraint). Existing keys get their order's trading date in
//! front (`0000000042:N:…` becomes `2026-11-23:0000000042:N:…`), which keeps them unique, and
//! orders get an index on (trading date, order number) for the lookups by broker identity.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

/// The migration that puts trading dates into fill keys.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// Name of the lookup index on orders.
const INDEX: &str = "idx_orders_date_broker_no";

/// Returns the SQL expression of an order's trading date as `YYYY-MM-DD` text.
fn date_text(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => "to_char(o.trade_date, 'YYYY-MM-DD')",
        _ => "strftime('%Y-%m-%d', o.trade_date)",
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let date = date_text(m.get_database_backend());
        // A key that already starts with a date (`YYYY-MM-DD:`) is left alone, so a partly
        // applied run can be repeated. A fill whose order has no readable date makes the key
        // NULL, which the NOT NULL column refuses: the migration fails instead of guessing.
        let sql = format!(
            "UPDATE fills SET fill_key = \
             (SELECT {date} FROM orders o WHERE o.id = fills.order_id) || ':' || fill_key \
             WHERE NOT (substr(fill_key, 5, 1) = '-' AND substr(fill_key, 8, 1) = '-' \
             AND substr(fill_key, 11, 1) = ':')"
        );
        m.get_connection().execute_unprepared(&sql).await?;
        m.create_index(
            Index::create()
                .name(INDEX)
                .table("orders")
                .col("trade_date")
                .col("broker_order_no")
                .if_not_exists()
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(INDEX).table("orders").to_owned()).await?;
        // Fails on the unique constraint when two days' fills share a key without their dates:
        // such a database cannot go back to the old format without losing a fill.
        m.get_connection()
            .execute_unprepared(
                "UPDATE fills SET fill_key = substr(fill_key, 12) \
                 WHERE substr(fill_key, 5, 1) = '-' AND substr(fill_key, 8, 1) = '-' \
                 AND substr(fill_key, 11, 1) = ':'",
            )
            .await?;
        Ok(())
    }
}
