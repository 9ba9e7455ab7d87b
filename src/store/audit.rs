//! The `audit_log` trail: every order action (submit, cancel, resolution of an unknown submit,
//! each with its result and the order's correlation id) and every operator command (who, what,
//! result), alongside the rows mode changes and parameter decisions already write. Read by
//! `aegis audit`, pruned by the close stage after `AUDIT_RETENTION_DAYS`.
//!
//! Details are masked ([`mask_payload`]) and free text scrubbed before they are written: no
//! secret reaches an audit row.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::events::mask_payload;
use super::params::AuditEntry;
use super::{Store, StoreError};
use crate::ports::trading_log::AuditNote;

/// Returns the row of a note: details masked.
fn row(note: &AuditNote, at: DateTime<Utc>) -> entity::audit_log::ActiveModel {
    entity::audit_log::ActiveModel {
        at: Set(at),
        actor: Set(crate::telemetry::scrubbed(&note.actor)),
        action: Set(note.action.clone()),
        target: Set(crate::telemetry::scrubbed(&note.target)),
        details: Set(mask_payload(note.details.clone())),
        ..Default::default()
    }
}

/// Writes one audit row on a connection or inside a caller's transaction (one `INSERT`).
///
/// # Errors
/// Returns [`StoreError::Db`].
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    note: &AuditNote,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    entity::audit_log::Entity::insert(row(note, at)).exec_without_returning(conn).await?;
    Ok(())
}

/// Records one audit row.
///
/// # Errors
/// Returns [`StoreError::Db`].
pub async fn record(store: &Store, note: &AuditNote, at: DateTime<Utc>) -> Result<(), StoreError> {
    insert(store.conn(), note, at).await
}

/// Returns the newest audit rows first, at most `limit`, only rows at or after `since` when given.
///
/// # Errors
/// Returns [`StoreError::Db`].
pub async fn list(
    store: &Store,
    since: Option<DateTime<Utc>>,
    limit: u64,
) -> Result<Vec<AuditEntry>, StoreError> {
    use entity::audit_log::{Column, Entity};
    let mut q = Entity::find().order_by_desc(Column::At).order_by_desc(Column::Id).limit(limit);
    if let Some(since) = since {
        q = q.filter(Column::At.gte(since));
    }
    Ok(q.all(store.conn())
        .await?
        .into_iter()
        .map(|m| AuditEntry {
            id: m.id,
            at: m.at,
            actor: m.actor,
            action: m.action,
            target: m.target,
            details: m.details,
        })
        .collect())
}

/// Deletes the audit rows older than `before`; returns how many went.
///
/// # Errors
/// Returns [`StoreError::Db`].
pub async fn prune(store: &Store, before: DateTime<Utc>) -> Result<u64, StoreError> {
    use entity::audit_log::{Column, Entity};
    let done = Entity::delete_many().filter(Column::At.lt(before)).exec(store.conn()).await?;
    Ok(done.rows_affected)
}
