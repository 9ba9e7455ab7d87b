//! Test stores: a fresh SQLite file or a fresh PostgreSQL database per test, and reads of what a
//! test left in them.
//!
//! The databases themselves come from `aegis::store::testing` (shared with the unit tests in
//! `src/`): PostgreSQL needs `AEGIS_TEST_PG_URL` (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`); without it the PostgreSQL variants are skipped,
//! unless `AEGIS_REQUIRE_PG=1` (set by `.ci/run`) turns the skip into a failure. A test that runs
//! on both backends is written as `async fn body(db: TestDb)` and declared with
//! `aegis::storage_test!(name, body)`, which makes `name::sqlite` and `name::postgres` (`.ci/run`
//! counts the PostgreSQL tests by the word `postgres` in their names).

use std::collections::BTreeMap;

use aegis::store::Store;
pub use aegis::store::testing::{Backend, TempDir, TestDb};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// A migrated SQLite database in a temporary directory.
pub async fn sqlite() -> TestDb {
    TestDb::new(Backend::Sqlite).await.expect("sqlite test db").expect("sqlite is always available")
}

/// A migrated PostgreSQL database, dropped with the returned value; `None` when
/// `AEGIS_TEST_PG_URL` is not set (a panic instead when `AEGIS_REQUIRE_PG=1`).
pub async fn postgres() -> Option<TestDb> {
    TestDb::new(Backend::Postgres).await.expect("postgres test db")
}

/// Every event row of a kind.
pub async fn events_of(store: &Store, kind: &str) -> Vec<entity::event::Model> {
    entity::event::Entity::find()
        .filter(entity::event::Column::Kind.eq(kind))
        .all(store.conn())
        .await
        .unwrap()
}

/// The stored positions that are not flat: symbol → quantity.
pub async fn positions(store: &Store) -> BTreeMap<String, Decimal> {
    aegis::store::positions::load(store.conn())
        .await
        .unwrap()
        .into_iter()
        .filter(|p| !p.qty.is_zero())
        .map(|p| (p.symbol.as_str().to_owned(), p.qty))
        .collect()
}
