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
}
