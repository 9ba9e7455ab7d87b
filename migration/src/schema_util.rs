//! Column helpers shared by the migrations.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// Returns an exact decimal column: `NUMERIC` on PostgreSQL, TEXT affinity (`decimal_text`) on
/// SQLite, where a REAL-affinity column would round values such as 123456789012.3456.
pub fn money(manager: &SchemaManager, name: &'static str, nullable: bool) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match manager.get_database_backend() {
        DatabaseBackend::Sqlite => col.custom("decimal_text"),
        _ => col.decimal(),
    };
    if nullable {
        col.null();
    } else {
        col.not_null();
    }
    col.take()
}
