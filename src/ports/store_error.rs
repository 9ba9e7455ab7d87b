//! The error every repository port returns. The driver's error text is kept as text: nothing
//! outside the store sees the database library.

/// A failed database statement, as the driver described it (credentials removed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DbFailure(pub String);

/// Errors of the repository ports.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or opened (the URL is never echoed: it may hold a password).
    #[error("cannot connect to the {backend} database: {reason}")]
    Connect {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The driver's reason, with credentials removed.
        reason: String,
    },
    /// A statement failed.
    #[error("database error: {0}")]
    Db(#[source] DbFailure),
    /// One broker identity — an order number of a trading date, or a fill of it — maps to more
    /// than one of our orders. Nothing is written: the row would belong to the wrong order.
    #[error("broker identity {key} is claimed by more than one order: {orders:?}")]
    IdentityConflict {
        /// The identity (`<YYYY-MM-DD>:<order number>`, followed by the fill for a fill key).
        key: String,
        /// Our order rows that claim it (the ones already holding it first).
        orders: Vec<i64>,
    },
    /// This process does not hold the pipeline lease under the epoch it writes with (another
    /// process took the lease over, or it was never taken): the order write is refused.
    #[error(
        "order write refused: {holder} does not hold the {lease} lease{epoch} (another process took it over)"
    )]
    Fenced {
        /// The lease.
        lease: String,
        /// This process's holder name.
        holder: String,
        /// ` under epoch N` when an epoch was named, else empty.
        epoch: String,
    },
    /// A stored value could not be mapped to a domain value.
    #[error("corrupt {table} row {id}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's id.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

impl StoreError {
    /// A failed statement with the driver's message.
    pub fn db(message: impl Into<String>) -> Self {
        Self::Db(DbFailure(message.into()))
    }

    /// Returns true when the same work may succeed if tried again in a moment: the database was
    /// busy or locked by another writer, a transaction was chosen as a deadlock or serialization
    /// victim, or the connection was lost or could not be had ([`DbFailure::is_transient`]), or
    /// the database could not be reached. Refused, corrupt and conflicting writes are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect { .. } => true,
            Self::Db(failure) => failure.is_transient(),
            Self::IdentityConflict { .. } | Self::Fenced { .. } | Self::Corrupt { .. } => false,
        }
    }
}

/// What a transient failure's driver text holds (compared in lower case): SQLite's busy and
/// locked result codes (`(code: 5)` `SQLITE_BUSY`, `(code: 517)` `SQLITE_BUSY_SNAPSHOT`, `(code: 6)`
/// `SQLITE_LOCKED` and their extended codes), PostgreSQL's SQLSTATE of a serialization failure,
/// a deadlock, a lost or refused connection or a server shutting down (the store appends
/// `(SQLSTATE xxxxx)` to each PostgreSQL error, so the server's message language does not matter),
/// and the driver's own words for a lost connection or an exhausted pool.
const TRANSIENT_MARKERS: &[&str] = &[
    "database is locked",
    "database table is locked",
    "(code: 5)",
    "(code: 6)",
    "(code: 261)",
    "(code: 262)",
    "(code: 517)",
    "(code: 773)",
    "(sqlstate 40001)",
    "(sqlstate 40p01)",
    "(sqlstate 08",
    "(sqlstate 57p01)",
    "(sqlstate 57p02)",
    "(sqlstate 57p03)",
    "(sqlstate 53300)",
    "(sqlstate 25p03)",
    "error communicating with database",
    "connection reset",
    "connection closed",
    "connection refused",
    "broken pipe",
    "unexpected eof",
    "pool timed out",
    "connection pool timed out",
];

impl DbFailure {
    /// Returns true when the statement failed for a passing reason (busy or locked database,
    /// deadlock or serialization victim, lost connection, exhausted pool) rather than for what
    /// it asked: another attempt may succeed.
    pub fn is_transient(&self) -> bool {
        let text = self.0.to_ascii_lowercase();
        TRANSIENT_MARKERS.iter().any(|m| text.contains(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_locked_and_lost_connections_are_transient() {
        let transient = [
            "Execution Error: error returned from database: (code: 5) database is locked",
            "Query Error: error returned from database: (code: 517) database is locked",
            "error returned from database: (code: 6) database table is locked",
            "Execution Error: error returned from database: deadlock detected (SQLSTATE 40P01)",
            "error returned from database: could not serialize access (SQLSTATE 40001)",
            "error returned from database: 연결 종료 (SQLSTATE 57P01)",
            "Query Error: error returned from database: terminating connection (SQLSTATE 25P03)",
            "Query Error: error communicating with database: Connection reset by peer (os error 104)",
            "Failed to acquire connection from pool: Connection pool timed out",
            "Failed to acquire connection from pool: Connection closed",
        ];
        for text in transient {
            assert!(StoreError::db(text).is_transient(), "{text}");
        }
        let lasting = [
            "Execution Error: error returned from database: (code: 19) UNIQUE constraint failed",
            "Execution Error: error returned from database: (code: 1) no such table: orders",
            "Query Error: error returned from database: relation \"x\" does not exist (SQLSTATE 42P01)",
            "Execution Error: error returned from database: (code: 13) database or disk is full",
        ];
        for text in lasting {
            assert!(!StoreError::db(text).is_transient(), "{text}");
        }
        assert!(StoreError::Connect { backend: "postgres", reason: "refused".into() }.is_transient());
        let corrupt = StoreError::Corrupt { table: "orders", id: "1".into(), reason: "bad".into() };
        assert!(!corrupt.is_transient());
        let fenced =
            StoreError::Fenced { lease: "pipeline".into(), holder: "a".into(), epoch: String::new() };
        assert!(!fenced.is_transient());
        assert!(!StoreError::IdentityConflict { key: "k".into(), orders: vec![1, 2] }.is_transient());
    }
}
