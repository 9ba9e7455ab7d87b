//! Test databases: a fresh SQLite file or a fresh PostgreSQL database per test.
//!
//! PostgreSQL tests need `AEGIS_TEST_PG_URL` (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`). Without it they are skipped — unless
//! `AEGIS_REQUIRE_PG=1` (set by `.ci/run`), in which case a missing URL fails the test.

use sea_orm::{ConnectionTrait, Database};

use super::{Store, StoreError};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// A migrated, throw-away database; PostgreSQL databases are dropped when this is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// The migrated store.
    pub store: Store,
    /// The URL of the database (for child processes).
    pub url: String,
    pg: Option<(String, String)>,
    _dir: Option<TempDir>,
}

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// Creates a fresh directory under the system temp dir.
    ///
    /// # Errors
    /// Returns the I/O error when the directory cannot be created.
    pub fn new(prefix: &str) -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Returns the PostgreSQL admin URL, or `None` when PostgreSQL tests are to be skipped.
///
/// # Panics
/// Panics when `AEGIS_REQUIRE_PG=1` and no URL is set, so CI cannot silently skip them.
pub fn pg_admin_url() -> Option<String> {
    match std::env::var("AEGIS_TEST_PG_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            let required = std::env::var("AEGIS_REQUIRE_PG").is_ok_and(|v| v == "1");
            assert!(!required, "AEGIS_REQUIRE_PG=1 but AEGIS_TEST_PG_URL is not set");
            None
        }
    }
}

impl TestDb {
    /// Creates a test database on the backend, or `None` when PostgreSQL is not configured.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the database cannot be created or migrated.
    pub async fn new(backend: Backend) -> Result<Option<Self>, StoreError> {
        match backend {
            Backend::Sqlite => {
                let dir = TempDir::new("aegis-test").map_err(|e| StoreError::Connect {
                    backend: "sqlite",
                    reason: format!("cannot create a temp dir: {e}"),
                })?;
                let url = format!("sqlite://{}?mode=rwc", dir.0.join("test.db").display());
                let store = Store::open(&url).await?;
                Ok(Some(Self { store, url, pg: None, _dir: Some(dir) }))
            }
            Backend::Postgres => {
                let Some(admin) = pg_admin_url() else { return Ok(None) };
                let name = format!("aegis_test_{}", uuid::Uuid::new_v4().simple());
                let conn = Database::connect(&admin)
                    .await
                    .map_err(|e| StoreError::Connect { backend: "postgres", reason: e.to_string() })?;
                conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
                let _ = conn.close().await;
                let mut url = url::Url::parse(&admin)
                    .map_err(|e| StoreError::Connect { backend: "postgres", reason: e.to_string() })?;
                url.set_path(&format!("/{name}"));
                let url = url.to_string();
                let store = Store::open(&url).await?;
                Ok(Some(Self { store, url, pg: Some((admin, name)), _dir: None }))
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else { return };
        // Drop may run on the test's own (blocked) runtime thread, so the database is dropped from
        // a private runtime on a helper thread; FORCE ends the test pool's open connections, which
        // must not be closed from here (their tasks live on the blocked runtime).
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(conn) = Database::connect(&admin).await {
                    let _ = conn
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// Generates one `#[tokio::test]` per backend for an `async fn(TestDb)` test body:
/// `<name>_sqlite` and `<name>_postgres`.
#[macro_export]
macro_rules! storage_test {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::store::testing::TestDb::new($crate::store::testing::Backend::Sqlite)
                    .await
                    .expect("sqlite test db")
                    .expect("sqlite is always available");
                super::$body(db).await;
            }

            #[tokio::test]
            async fn postgres() {
                match $crate::store::testing::TestDb::new($crate::store::testing::Backend::Postgres)
                    .await
                    .expect("postgres test db")
                {
                    Some(db) => super::$body(db).await,
                    None => eprintln!("skipped: AEGIS_TEST_PG_URL is not set"),
                }
            }
        }
    };
    ($name:ident, $body:ident, ignore = $reason:literal) => {
        mod $name {
            #[tokio::test]
            #[ignore = $reason]
            async fn sqlite() {
                let db = $crate::store::testing::TestDb::new($crate::store::testing::Backend::Sqlite)
                    .await
                    .expect("sqlite test db")
                    .expect("sqlite is always available");
                super::$body(db).await;
            }

            #[tokio::test]
            #[ignore = $reason]
            async fn postgres() {
                match $crate::store::testing::TestDb::new($crate::store::testing::Backend::Postgres)
                    .await
                    .expect("postgres test db")
                {
                    Some(db) => super::$body(db).await,
                    None => eprintln!("skipped: AEGIS_TEST_PG_URL is not set"),
                }
            }
        }
    };
}
