//! Journal storage: the day's rows read into a [`DayRecord`], `ai_job_runs` and `trade_journals`.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{Store, StoreError};
use crate::domain::journal::{
    DayRecord, EventClass, EventClasses, EventView, FillView, OrderView, PipelineView, PositionView,
    StageView, compute_pnl,
};
use crate::domain::position::FeeSchedule;
use crate::domain::{Exchange, MarketRegion, Symbol};
use crate::telemetry::scrubbed;

/// Reads everything recorded for a trade date into a [`DayRecord`]; texts are scrubbed of
/// registered secrets and event payloads are left out. The P&L starts from `opening` when given
/// (the day's recorded opening holdings), else from the stored positions less the day's fills.
///
/// # Errors
/// Returns [`StoreError::Db`] when a query fails.
pub async fn day_record(
    store: &Store,
    trade_date: NaiveDate,
    classes: &EventClasses,
    fees: FeeSchedule,
    opening: Option<&[crate::domain::position::Holding]>,
    region: MarketRegion,
) -> Result<DayRecord, StoreError> {
    // A record covers one market: its orders, their fills, its positions (a KRX and a US
    // session can share a date).
    let of_region = |exchange: &str| {
        exchange.parse::<Exchange>().map_or(region == MarketRegion::Kr, |e| e.region() == region)
    };
    let symbol_of_region =
        |symbol: &str| Symbol::new(symbol).map_or(region == MarketRegion::Kr, |s| s.region() == region);
    let db = store.conn();
    let run = entity::pipeline_run::Entity::find()
        .filter(entity::pipeline_run::Column::Market.eq(region.as_str()))
        .filter(entity::pipeline_run::Column::TradeDate.eq(trade_date))
        .one(db)
        .await?;
    let stages = match &run {
        Some(run) => entity::stage_run::Entity::find()
            .filter(entity::stage_run::Column::PipelineRunId.eq(run.id))
            .order_by_asc(entity::stage_run::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|s| StageView {
                stage: s.stage,
                attempt: s.attempt,
                status: s.status,
                started_at: s.started_at,
                finished_at: s.finished_at,
                error: s.error.as_deref().map(scrubbed),
            })
            .collect(),
        None => Vec::new(),
    };
    let pipeline = run.map(|r| PipelineView { status: r.status, reason: r.reason.as_deref().map(scrubbed) });

    let order_rows = entity::order::Entity::find()
        .filter(entity::order::Column::TradeDate.eq(trade_date))
        .order_by_asc(entity::order::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .filter(|o| of_region(&o.exchange))
        .collect::<Vec<_>>();
    let order_ids: Vec<i64> = order_rows.iter().map(|o| o.id).collect();
    let orders = order_rows
        .into_iter()
        .map(|o| OrderView {
            id: o.id,
            symbol: o.symbol,
            side: o.side,
            order_type: o.order_type,
            qty: o.qty.0,
            price: o.price.map(|p| p.0),
            status: o.status,
            filled_qty: o.filled_qty.0,
            avg_fill_price: o.avg_fill_price.map(|p| p.0),
            reject_reason: o.reject_reason.as_deref().map(scrubbed),
        })
        .collect();
    let mut fills = Vec::new();
    for chunk in order_ids.chunks(500) {
        let rows = entity::fill::Entity::find()
            .filter(entity::fill::Column::OrderId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        fills.extend(rows.into_iter().map(|f| FillView {
            order_id: f.order_id,
            symbol: f.symbol,
            side: f.side,
            qty: f.qty.0,
            price: f.price.0,
            filled_at: f.filled_at,
        }));
    }
    fills.sort_by_key(|f| (f.filled_at, f.order_id));

    let positions: Vec<PositionView> = entity::position::Entity::find()
        .order_by_asc(entity::position::Column::Symbol)
        .all(db)
        .await?
        .into_iter()
        .filter(|p| symbol_of_region(&p.symbol))
        .map(|p| PositionView {
            symbol: p.symbol,
            qty: p.qty.0,
            avg_price: p.avg_price.0,
            last_price: p.last_price.map(|d| d.0),
        })
        .collect();
    let pnl = compute_pnl(fees, &positions, &fills, opening);

    let events = entity::event::Entity::find()
        .filter(entity::event::Column::TradeDate.eq(trade_date))
        .order_by_asc(entity::event::Column::Id)
        .all(db)
        .await?;
    let (mut guardrail_breaches, mut errors, mut disconnects) = (Vec::new(), Vec::new(), Vec::new());
    for e in events {
        let Some(class) = classes.classify(&e.kind, &e.severity) else { continue };
        let list = match class {
            EventClass::Guardrail => &mut guardrail_breaches,
            EventClass::Disconnect => &mut disconnects,
            EventClass::Error => &mut errors,
        };
        if list.len() < classes.max_per_class {
            list.push(EventView {
                at: e.at,
                kind: e.kind,
                severity: e.severity,
                message: scrubbed(&e.message),
            });
        }
    }
    Ok(DayRecord {
        trade_date,
        currency: region.currency(),
        pipeline,
        stages,
        orders,
        fills,
        positions,
        pnl,
        guardrail_breaches,
        errors,
        disconnects,
    })
}

/// One call of the model, as stored in `ai_job_runs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiJobRun {
    /// What the call was for (`journal`).
    pub kind: String,
    /// The trade date.
    pub trade_date: NaiveDate,
    /// The model name.
    pub model: Option<String>,
    /// Size of the prompt in bytes.
    pub prompt_bytes: i64,
    /// Prompt tokens, when the provider reported them.
    pub prompt_tokens: Option<i64>,
    /// Completion tokens, when reported.
    pub completion_tokens: Option<i64>,
    /// Wall time of the call (all attempts).
    pub latency_ms: Option<i64>,
    /// `OK`, `TIMEOUT`, `FAILED` or `INVALID_OUTPUT`.
    pub outcome: String,
    /// Why it failed (scrubbed).
    pub error: Option<String>,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// End time.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Inserts an `ai_job_runs` row and returns its id.
///
/// # Errors
/// Returns [`StoreError::Db`] when the insert fails.
pub async fn insert_ai_job_run(store: &Store, run: AiJobRun) -> Result<i64, StoreError> {
    let row = entity::ai_job_run::ActiveModel {
        kind: Set(run.kind),
        trade_date: Set(run.trade_date),
        model: Set(run.model),
        prompt_bytes: Set(run.prompt_bytes),
        prompt_tokens: Set(run.prompt_tokens),
        completion_tokens: Set(run.completion_tokens),
        latency_ms: Set(run.latency_ms),
        outcome: Set(run.outcome),
        error: Set(run.error.as_deref().map(scrubbed)),
        started_at: Set(run.started_at),
        finished_at: Set(run.finished_at),
        ..Default::default()
    };
    Ok(row.insert(store.conn()).await?.id)
}

/// Returns the `ai_job_runs` rows of a trade date, oldest first.
///
/// # Errors
/// Returns [`StoreError::Db`] when the query fails.
pub async fn ai_job_runs(store: &Store, trade_date: NaiveDate) -> Result<Vec<AiJobRun>, StoreError> {
    Ok(entity::ai_job_run::Entity::find()
        .filter(entity::ai_job_run::Column::TradeDate.eq(trade_date))
        .order_by_asc(entity::ai_job_run::Column::Id)
        .all(store.conn())
        .await?
        .into_iter()
        .map(|m| AiJobRun {
            kind: m.kind,
            trade_date: m.trade_date,
            model: m.model,
            prompt_bytes: m.prompt_bytes,
            prompt_tokens: m.prompt_tokens,
            completion_tokens: m.completion_tokens,
            latency_ms: m.latency_ms,
            outcome: m.outcome,
            error: m.error,
            started_at: m.started_at,
            finished_at: m.finished_at,
        })
        .collect())
}

/// A journal to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJournal {
    /// The trade date.
    pub trade_date: NaiveDate,
    /// `AI` or `TEMPLATE`.
    pub source: String,
    /// One-paragraph summary (for the notifiers).
    pub summary: String,
    /// The Markdown journal.
    pub markdown: String,
    /// Where the Markdown file was written, if anywhere.
    pub path: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A stored journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJournal {
    /// Row id.
    pub id: i64,
    /// The trade date.
    pub trade_date: NaiveDate,
    /// `AI` or `TEMPLATE`.
    pub source: String,
    /// One-paragraph summary (scrubbed).
    pub summary: String,
    /// The Markdown journal (scrubbed).
    pub markdown: String,
    /// Where the Markdown file was written, if anywhere.
    pub path: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Inserts a `trade_journals` row and returns its id.
///
/// # Errors
/// Returns [`StoreError::Db`] when the insert fails.
pub async fn insert_journal(store: &Store, journal: NewJournal) -> Result<i64, StoreError> {
    let row = entity::trade_journal::ActiveModel {
        trade_date: Set(journal.trade_date),
        source: Set(journal.source),
        summary: Set(scrubbed(&journal.summary)),
        markdown: Set(scrubbed(&journal.markdown)),
        path: Set(journal.path),
        created_at: Set(journal.created_at),
        ..Default::default()
    };
    Ok(row.insert(store.conn()).await?.id)
}

/// Returns the latest journal of a trade date.
///
/// # Errors
/// Returns [`StoreError::Db`] when the query fails.
pub async fn latest_journal(
    store: &Store,
    trade_date: NaiveDate,
) -> Result<Option<StoredJournal>, StoreError> {
    Ok(entity::trade_journal::Entity::find()
        .filter(entity::trade_journal::Column::TradeDate.eq(trade_date))
        .order_by_desc(entity::trade_journal::Column::Id)
        .one(store.conn())
        .await?
        .map(|m| StoredJournal {
            id: m.id,
            trade_date: m.trade_date,
            source: m.source,
            summary: m.summary,
            markdown: m.markdown,
            path: m.path,
            created_at: m.created_at,
        }))
}
