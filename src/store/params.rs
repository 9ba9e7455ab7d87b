//! Strategy parameters: drafts (PENDING / APPROVED / REJECTED), the operator's decision on them,
//! and the ACTIVE `strategy_params` row per strategy and trade date (older ones kept as RETIRED).
//!
//! Approval is one transaction: the draft turns APPROVED only if it is still PENDING, the previous
//! ACTIVE rows of its strategy and date turn RETIRED, a new ACTIVE row is inserted and the
//! decision is written to `audit_log`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

use super::{Store, StoreError};
use crate::telemetry::scrubbed;

/// The status of a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DraftStatus {
    /// Awaiting the operator.
    Pending,
    /// Approved: it became the ACTIVE parameters of its date.
    Approved,
    /// Rejected by the operator or by validation.
    Rejected,
}

impl DraftStatus {
    /// Returns the stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
        }
    }
}

impl fmt::Display for DraftStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DraftStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PENDING" => Ok(Self::Pending),
            "APPROVED" => Ok(Self::Approved),
            "REJECTED" => Ok(Self::Rejected),
            _ => Err(format!("unknown draft status {s:?} (expected pending, approved or rejected)")),
        }
    }
}

/// A draft with its strategy's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Draft id.
    pub id: i64,
    /// Strategy id.
    pub strategy_id: i64,
    /// Strategy name.
    pub strategy: String,
    /// The trade date the parameters are for.
    pub trade_date: NaiveDate,
    /// The proposed parameters.
    pub params: serde_json::Value,
    /// `AI` or `RULE` (journal drafts), or `OPERATOR:<name>` (`aegis params propose --file`).
    pub source: String,
    /// Why they are proposed.
    pub rationale: String,
    /// Status.
    pub status: DraftStatus,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Decision time.
    pub decided_at: Option<DateTime<Utc>>,
    /// Who decided.
    pub decided_by: Option<String>,
}

/// A draft to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDraft {
    /// Strategy id.
    pub strategy_id: i64,
    /// The trade date the parameters are for.
    pub trade_date: NaiveDate,
    /// The proposed parameters.
    pub params: serde_json::Value,
    /// `AI` or `RULE` (journal drafts), or `OPERATOR:<name>` (`aegis params propose --file`).
    pub source: String,
    /// Why they are proposed.
    pub rationale: String,
    /// `Some(reason)` stores the draft REJECTED (failed validation); `None` stores it PENDING.
    pub rejected: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A `strategy_params` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamsRow {
    /// Row id.
    pub id: i64,
    /// Strategy id.
    pub strategy_id: i64,
    /// Trade date.
    pub trade_date: NaiveDate,
    /// `DRAFT`, `ACTIVE` or `RETIRED`.
    pub status: String,
    /// The parameters.
    pub params: serde_json::Value,
    /// The draft it came from.
    pub source_draft_id: Option<i64>,
    /// When it became ACTIVE.
    pub activated_at: Option<DateTime<Utc>>,
    /// When it was RETIRED.
    pub retired_at: Option<DateTime<Utc>>,
}

impl From<entity::strategy_param::Model> for ParamsRow {
    fn from(m: entity::strategy_param::Model) -> Self {
        Self {
            id: m.id,
            strategy_id: m.strategy_id,
            trade_date: m.trade_date,
            status: m.status,
            params: m.params,
            source_draft_id: m.source_draft_id,
            activated_at: m.activated_at,
            retired_at: m.retired_at,
        }
    }
}

/// The result of an approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The approved draft.
    pub draft: Draft,
    /// The new ACTIVE row.
    pub active: ParamsRow,
    /// Ids of the rows it replaced (now RETIRED).
    pub retired: Vec<i64>,
}

/// Errors of the parameter store.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    /// No draft has this id.
    #[error("no parameter draft with id {0}")]
    NotFound(i64),
    /// The draft is no longer PENDING.
    #[error("parameter draft {id} is already {status}")]
    AlreadyDecided {
        /// Draft id.
        id: i64,
        /// Its status.
        status: DraftStatus,
    },
    /// The draft's parameters fail their strategy's schema.
    #[error("parameter draft {id} is invalid: {reason}")]
    Invalid {
        /// Draft id.
        id: i64,
        /// Why.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for ParamsError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(StoreError::from(e))
    }
}

/// Returns the id of the strategy named `name`, registering it when missing.
///
/// # Errors
/// Returns [`StoreError::Db`] when a statement fails.
pub async fn ensure_strategy(
    store: &Store,
    name: &str,
    description: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    use entity::strategy::{ActiveModel, Column, Entity};
    if let Some(s) = Entity::find().filter(Column::Name.eq(name)).one(store.conn()).await? {
        return Ok(s.id);
    }
    let row = ActiveModel {
        name: Set(name.to_owned()),
        description: Set(description.to_owned()),
        created_at: Set(now),
        ..Default::default()
    };
    Ok(row.insert(store.conn()).await?.id)
}

fn to_draft(m: entity::strategy_param_draft::Model, strategy: String) -> Result<Draft, StoreError> {
    let status = DraftStatus::from_str(&m.status).map_err(|reason| StoreError::Corrupt {
        table: "strategy_param_drafts",
        id: m.id.to_string(),
        reason,
    })?;
    Ok(Draft {
        id: m.id,
        strategy_id: m.strategy_id,
        strategy,
        trade_date: m.trade_date,
        params: m.params,
        source: m.source,
        rationale: m.rationale,
        status,
        reason: m.reason,
        created_at: m.created_at,
        decided_at: m.decided_at,
        decided_by: m.decided_by,
    })
}

async fn strategy_name<C: sea_orm::ConnectionTrait>(db: &C, id: i64) -> Result<String, StoreError> {
    Ok(entity::strategy::Entity::find_by_id(id).one(db).await?.map_or_else(|| format!("#{id}"), |s| s.name))
}

/// Stores a draft (PENDING, or REJECTED with the validation reason) and returns it.
///
/// # Errors
/// Returns [`StoreError::Db`] when the insert fails.
pub async fn insert_draft(store: &Store, draft: NewDraft) -> Result<Draft, StoreError> {
    let (status, decided_at, decided_by) = match &draft.rejected {
        Some(_) => (DraftStatus::Rejected, Some(draft.created_at), Some("validation".to_owned())),
        None => (DraftStatus::Pending, None, None),
    };
    let row = entity::strategy_param_draft::ActiveModel {
        strategy_id: Set(draft.strategy_id),
        trade_date: Set(draft.trade_date),
        params: Set(draft.params),
        source: Set(draft.source),
        rationale: Set(scrubbed(&draft.rationale)),
        status: Set(status.as_str().to_owned()),
        reason: Set(draft.rejected.as_deref().map(scrubbed)),
        created_at: Set(draft.created_at),
        decided_at: Set(decided_at),
        decided_by: Set(decided_by),
        ..Default::default()
    };
    let saved = row.insert(store.conn()).await?;
    let name = strategy_name(store.conn(), saved.strategy_id).await?;
    to_draft(saved, name)
}

/// Lists drafts, newest first, optionally of one status.
///
/// # Errors
/// Returns [`StoreError`] when the query fails or a row is corrupt.
pub async fn list_drafts(store: &Store, status: Option<DraftStatus>) -> Result<Vec<Draft>, StoreError> {
    use entity::strategy_param_draft::{Column, Entity};
    let mut query = Entity::find().order_by_desc(Column::Id);
    if let Some(s) = status {
        query = query.filter(Column::Status.eq(s.as_str()));
    }
    let names: std::collections::HashMap<i64, String> = entity::strategy::Entity::find()
        .all(store.conn())
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    query
        .all(store.conn())
        .await?
        .into_iter()
        .map(|m| {
            let name = names.get(&m.strategy_id).cloned().unwrap_or_else(|| format!("#{}", m.strategy_id));
            to_draft(m, name)
        })
        .collect()
}

/// Returns one draft.
///
/// # Errors
/// Returns [`StoreError`] when the query fails or the row is corrupt.
pub async fn get_draft(store: &Store, id: i64) -> Result<Option<Draft>, StoreError> {
    let Some(m) = entity::strategy_param_draft::Entity::find_by_id(id).one(store.conn()).await? else {
        return Ok(None);
    };
    let name = strategy_name(store.conn(), m.strategy_id).await?;
    to_draft(m, name).map(Some)
}

/// Marks a PENDING draft decided inside `txn`; fails when it is missing or already decided.
async fn decide(
    txn: &DatabaseTransaction,
    id: i64,
    status: DraftStatus,
    reason: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Draft, ParamsError> {
    use entity::strategy_param_draft::{Column, Entity};
    let current = Entity::find_by_id(id).one(txn).await?.ok_or(ParamsError::NotFound(id))?;
    let name = strategy_name(txn, current.strategy_id).await?;
    let current = to_draft(current, name)?;
    if current.status != DraftStatus::Pending {
        return Err(ParamsError::AlreadyDecided { id, status: current.status });
    }
    // The status filter makes a concurrent decision lose instead of overwriting.
    let updated = Entity::update_many()
        .col_expr(Column::Status, status.as_str().into())
        .col_expr(Column::DecidedAt, Some(now).into())
        .col_expr(Column::DecidedBy, Some(actor.to_owned()).into())
        .col_expr(Column::Reason, reason.map(str::to_owned).into())
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(DraftStatus::Pending.as_str()))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ParamsError::AlreadyDecided { id, status: DraftStatus::Approved });
    }
    Ok(Draft {
        status,
        reason: reason.map(str::to_owned),
        decided_at: Some(now),
        decided_by: Some(actor.to_owned()),
        ..current
    })
}

async fn audit(
    txn: &DatabaseTransaction,
    actor: &str,
    action: &str,
    target: String,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    entity::audit_log::ActiveModel {
        at: Set(now),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        target: Set(target),
        details: Set(details),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map(|_| ())
}

/// Approves a PENDING draft in one transaction: it becomes the ACTIVE `strategy_params` row of its
/// strategy and trade date, the previous ACTIVE rows there turn RETIRED (kept), and `audit_log`
/// records `params.approve` by `actor`. `check` validates the parameters first (pass the
/// strategy's schema check); a failure leaves everything unchanged.
///
/// # Errors
/// Returns [`ParamsError::NotFound`], [`ParamsError::AlreadyDecided`], [`ParamsError::Invalid`]
/// or [`ParamsError::Store`].
pub async fn approve_draft(
    store: &Store,
    id: i64,
    actor: &str,
    now: DateTime<Utc>,
    check: impl Fn(&Draft) -> Result<(), String>,
) -> Result<Approval, ParamsError> {
    use entity::strategy_param::{ActiveModel, Column, Entity};
    let txn = super::begin_write(store.conn()).await?;
    let draft = decide(&txn, id, DraftStatus::Approved, None, actor, now).await?;
    check(&draft).map_err(|reason| ParamsError::Invalid { id, reason })?;
    let previous: Vec<i64> = Entity::find()
        .filter(Column::StrategyId.eq(draft.strategy_id))
        .filter(Column::TradeDate.eq(draft.trade_date))
        .filter(Column::Status.eq("ACTIVE"))
        .all(&txn)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    if !previous.is_empty() {
        Entity::update_many()
            .col_expr(Column::Status, "RETIRED".into())
            .col_expr(Column::RetiredAt, Some(now).into())
            .filter(Column::Id.is_in(previous.clone()))
            .exec(&txn)
            .await?;
    }
    let active = ActiveModel {
        strategy_id: Set(draft.strategy_id),
        trade_date: Set(draft.trade_date),
        status: Set("ACTIVE".to_owned()),
        params: Set(draft.params.clone()),
        source_draft_id: Set(Some(draft.id)),
        created_at: Set(now),
        activated_at: Set(Some(now)),
        retired_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let details = json!({
        "strategy": draft.strategy, "trade_date": draft.trade_date, "params": draft.params,
        "strategy_params_id": active.id, "retired": previous,
    });
    audit(&txn, actor, "params.approve", format!("strategy_param_drafts/{id}"), details, now).await?;
    txn.commit().await?;
    Ok(Approval { draft, active: active.into(), retired: previous })
}

/// Rejects a PENDING draft with a reason and records `params.reject` in `audit_log`, in one
/// transaction.
///
/// # Errors
/// Returns [`ParamsError::NotFound`], [`ParamsError::AlreadyDecided`] or [`ParamsError::Store`].
pub async fn reject_draft(
    store: &Store,
    id: i64,
    actor: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Draft, ParamsError> {
    let reason = scrubbed(reason);
    let txn = super::begin_write(store.conn()).await?;
    let draft = decide(&txn, id, DraftStatus::Rejected, Some(&reason), actor, now).await?;
    let details = json!({ "strategy": draft.strategy, "trade_date": draft.trade_date, "reason": reason });
    audit(&txn, actor, "params.reject", format!("strategy_param_drafts/{id}"), details, now).await?;
    txn.commit().await?;
    Ok(draft)
}

/// Returns the ACTIVE parameters of a strategy for a trade date.
///
/// # Errors
/// Returns [`StoreError::Db`] when the query fails.
pub async fn active_params(
    store: &Store,
    strategy_id: i64,
    trade_date: NaiveDate,
) -> Result<Option<ParamsRow>, StoreError> {
    use entity::strategy_param::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::StrategyId.eq(strategy_id))
        .filter(Column::TradeDate.eq(trade_date))
        .filter(Column::Status.eq("ACTIVE"))
        .order_by_desc(Column::Id)
        .one(store.conn())
        .await?
        .map(ParamsRow::from))
}

/// Returns the most recent ACTIVE parameters of a strategy on or before `on_or_before`.
///
/// # Errors
/// Returns [`StoreError::Db`] when the query fails.
pub async fn last_active_params(
    store: &Store,
    strategy_id: i64,
    on_or_before: NaiveDate,
) -> Result<Option<ParamsRow>, StoreError> {
    use entity::strategy_param::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::StrategyId.eq(strategy_id))
        .filter(Column::TradeDate.lte(on_or_before))
        .filter(Column::Status.eq("ACTIVE"))
        .order_by_desc(Column::TradeDate)
        .order_by_desc(Column::Id)
        .one(store.conn())
        .await?
        .map(ParamsRow::from))
}

/// Returns every `strategy_params` row of a strategy and trade date, oldest first.
///
/// # Errors
/// Returns [`StoreError::Db`] when the query fails.
pub async fn params_history(
    store: &Store,
    strategy_id: i64,
    trade_date: NaiveDate,
) -> Result<Vec<ParamsRow>, StoreError> {
    use entity::strategy_param::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::StrategyId.eq(strategy_id))
        .filter(Column::TradeDate.eq(trade_date))
        .order_by_asc(Column::Id)
        .all(store.conn())
        .await?
        .into_iter()
        .map(ParamsRow::from)
        .collect())
}

/// An `audit_log` row.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Row id.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What (`params.approve` …).
    pub action: String,
    /// On what (`strategy_param_drafts/<id>` …).
    pub target: String,
    /// Masked details.
    pub details: serde_json::Value,
}

/// Returns the `audit_log` rows about a target, oldest first.
///
/// # Errors
/// Returns [`StoreError::Db`] when the query fails.
pub async fn audit_for(store: &Store, target: &str) -> Result<Vec<AuditEntry>, StoreError> {
    use entity::audit_log::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::Target.eq(target))
        .order_by_asc(Column::Id)
        .all(store.conn())
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
