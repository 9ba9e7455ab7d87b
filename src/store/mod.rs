//! The sea-orm store: connection, migrations and the event log. Entity ⇔ domain mapping lives
//! here only.

pub mod audit;
pub mod control;
pub mod events;
pub mod fills;
pub mod instruments;
pub mod journal;
pub mod orders;
pub mod outbox;
pub mod params;
pub mod pipeline;
pub mod positions;
pub mod slack_days;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod tokens;
pub mod trading_log;

#[cfg(test)]
mod identity_tests;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DbErr, RuntimeErr};

pub use events::{EventRecorder, Severity};

pub use crate::ports::StoreError;

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        Self::db(describe(&e))
    }
}

/// The driver's text of an error, with the SQLSTATE of a PostgreSQL error appended
/// (`… (SQLSTATE 40P01)`): the server's message may be in any language, the code is not, and
/// [`StoreError::is_transient`] reads it. SQLite's text already names its result code.
fn describe(e: &DbErr) -> String {
    let text = e.to_string();
    let (DbErr::Exec(RuntimeErr::SqlxError(sqlx))
    | DbErr::Query(RuntimeErr::SqlxError(sqlx))
    | DbErr::Conn(RuntimeErr::SqlxError(sqlx))) = e
    else {
        return text;
    };
    match sqlx.as_database_error() {
        Some(db) if db.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>().is_some() => {
            match db.code() {
                Some(code) => format!("{text} (SQLSTATE {code})"),
                None => text,
            }
        }
        _ => text,
    }
}

/// How long a SQLite connection waits for another writer's lock before it gives up with
/// `database is locked`.
const SQLITE_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// Migration name.
    pub name: String,
    /// True when applied.
    pub applied: bool,
}

/// How long (ms) PostgreSQL keeps a session that idles inside a transaction.
const IDLE_IN_TXN_MS: &str = "5000";

/// A handle to the database. A fenced handle ([`Store::with_fence`]) writes orders only while its
/// process holds the pipeline lease under the epoch it took it with.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    fence: Option<std::sync::Arc<crate::ports::Fence>>,
}

fn backend_name(url: &str) -> &'static str {
    if url.starts_with("sqlite:") { "sqlite" } else { "postgres" }
}

/// Returns the database URL a `--db` argument names: a URL as it is (`sqlite:…`,
/// `postgres://…`, `postgresql://…`), anything else the path of an SQLite file (created if
/// missing).
pub fn database_url(arg: &str) -> String {
    let lower = arg.to_ascii_lowercase();
    if ["sqlite:", "postgres://", "postgresql://"].iter().any(|s| lower.starts_with(s)) {
        arg.to_owned()
    } else {
        format!("sqlite://{arg}?mode=rwc")
    }
}

/// Returns a database URL fit to print: its password, if any, masked.
pub fn printable_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Removes a `user:password@` part from a message (driver errors sometimes echo the URL).
fn strip_credentials(msg: &str, url: &str) -> String {
    let mut out = msg.replace(url, "<DB_URL>");
    if let Some(p) = url::Url::parse(url).ok().as_ref().and_then(url::Url::password) {
        out = out.replace(p, "REDACTED");
    }
    out
}

impl Store {
    /// Connects to the database URL (SQLite files are created when missing) and applies
    /// pending migrations.
    ///
    /// # Errors
    /// Returns [`StoreError::Connect`] or [`StoreError::Db`].
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    ///
    /// # Errors
    /// Returns [`StoreError::Connect`] when the database cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let backend = backend_name(url);
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false).max_connections(if backend == "sqlite" { 4 } else { 8 });
        // A process frozen inside a transaction (a stalled leader) must not hold its locks — the
        // lease row's `FOR SHARE` among them — past a few seconds: PostgreSQL ends such a session
        // and rolls it back, so a standby can take the lease over and recover.
        opts.map_sqlx_postgres_opts(|o| {
            o.application_name("aegis").options([("idle_in_transaction_session_timeout", IDLE_IN_TXN_MS)])
        });
        // Every pooled connection, not only the first: WAL lets the daemon and the operator CLI
        // use the file at the same time, and a writer waits for another's lock (busy timeout)
        // instead of failing with `database is locked`.
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal).busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
        let db = Database::connect(opts)
            .await
            .map_err(|e| StoreError::Connect { backend, reason: strip_credentials(&e.to_string(), url) })?;
        Ok(Self { db, fence: None })
    }

    /// Returns the underlying connection.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Returns this handle with its order writes fenced by `fence`: each names the lease epoch in
    /// the statement itself and is refused (`StoreError::Fenced`) once the lease changed holder.
    #[must_use]
    pub fn with_fence(mut self, fence: std::sync::Arc<crate::ports::Fence>) -> Self {
        self.fence = Some(fence);
        self
    }

    /// The fence of this handle, if any.
    pub fn fence(&self) -> Option<&std::sync::Arc<crate::ports::Fence>> {
        self.fence.as_ref()
    }

    /// The token order writes name: `Ok(None)` when unfenced (tests, the demo, tools),
    /// [`StoreError::Fenced`] when fenced and the lease is not held right now.
    pub(crate) fn fence_token(&self) -> Result<Option<crate::ports::FenceToken>, StoreError> {
        let Some(fence) = &self.fence else { return Ok(None) };
        fence.token().map(Some).ok_or_else(|| StoreError::Fenced {
            lease: fence.name().to_owned(),
            holder: fence.holder().to_owned(),
            epoch: String::new(),
        })
    }

    /// Counts every statement run through this handle, and through clones made after this call,
    /// in `counter` (transaction begin and commit are not statements). Tests hold the trading
    /// path to its statement budget with it.
    pub fn count_statements(&mut self, counter: std::sync::Arc<std::sync::atomic::AtomicU64>) {
        self.db.set_metric_callback(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
    }

    /// Returns the backend in use.
    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Applies every pending migration.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        // An up-to-date database (every command but the first after an upgrade) is left alone
        // without a word: read-only commands print their answer, not the migrator's.
        let pending = Migrator::get_pending_migrations(&self.db).await?;
        if pending.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = pending.iter().map(|m| m.name()).collect();
        tracing::info!(count = names.len(), migrations = %names.join(", "), "applying pending database migrations");
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Lists every migration with its state.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the migration table cannot be read.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        let list = Migrator::get_migration_with_status(&self.db).await?;
        Ok(list
            .iter()
            .map(|m| MigrationState {
                name: m.name().to_owned(),
                applied: matches!(m.status(), migration::MigrationStatus::Applied),
            })
            .collect())
    }

    /// Returns an event recorder writing to this store.
    pub fn events(&self) -> EventRecorder {
        EventRecorder::new(self.db.clone())
    }

    /// Returns the pipeline store (runs, stage attempts, requests, leases) on this database.
    pub fn pipeline(&self) -> pipeline::PipelineStore {
        pipeline::PipelineStore::new(self.db.clone())
    }

    /// Returns the control store (the persisted trading mode and the operator views).
    pub fn control(&self) -> control::ControlStore {
        control::ControlStore::new(self.db.clone())
    }

    /// Returns the notification outbox.
    pub fn outbox(&self) -> outbox::Outbox {
        outbox::Outbox::new(self.db.clone())
    }

    /// Returns the Slack day messages.
    pub fn slack_days(&self) -> slack_days::SlackDays {
        slack_days::SlackDays::new(self.db.clone())
    }

    /// Returns the broker token store.
    pub fn tokens(&self) -> tokens::DbTokenStore {
        tokens::DbTokenStore::new(self.db.clone())
    }
}

/// Begins a transaction that writes, as every transaction of the store does (most read first).
/// On SQLite it is `BEGIN IMMEDIATE`: the database's write lock is taken at `BEGIN`, where a
/// second writer waits for it (busy timeout). A deferred transaction would read first and then
/// fail its first write at once — `(code: 5) database is locked` while another connection holds
/// the lock, `(code: 517)` when another committed since our read — as SQLite cannot wait there.
/// PostgreSQL needs nothing extra.
///
/// # Errors
/// Returns the database error of `BEGIN` (on SQLite, `database is locked` once the busy timeout
/// has passed: [`StoreError::is_transient`]).
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let sqlite_transaction_mode =
        (db.get_database_backend() == DatabaseBackend::Sqlite).then_some(SqliteTransactionMode::Immediate);
    db.begin_with_options(TransactionOptions { sqlite_transaction_mode, ..TransactionOptions::default() })
        .await
}

#[cfg(test)]
mod url_tests {
    use super::{database_url, printable_url};

    #[test]
    fn a_db_argument_is_a_url_or_an_sqlite_file() {
        assert_eq!(database_url("/tmp/a.db"), "sqlite:///tmp/a.db?mode=rwc");
        assert_eq!(database_url("demo.db"), "sqlite://demo.db?mode=rwc");
        assert_eq!(database_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(database_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(database_url("PostgreSQL://u@h/db"), "PostgreSQL://u@h/db");
    }

    #[test]
    fn a_printed_url_hides_its_password() {
        assert_eq!(printable_url("postgres://u:s3cret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(printable_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(printable_url("sqlite:///tmp/a.db?mode=rwc"), "sqlite:///tmp/a.db?mode=rwc");
    }
}
