//! The after-close journal batch: builds the day's record, asks the model for the journal (or
//! renders the template when there is no model or its answer is refused), stores the journal and
//! every model call, and proposes the next day's parameters as a draft.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use super::drafts::{
    DraftSource, REFERENCE_STRATEGY, next_trade_date, propose_draft, rule_draft, schema_for,
};
use super::llm::LlmClient;
use super::prompt::{AiJournal, OutputLimits, SYSTEM_PROMPT, build_prompt, parse_answer};
use super::template;
use crate::domain::MarketRegion;
use crate::domain::journal::{DayRecord, EventClasses};
use crate::domain::position::FeeSchedule;
use crate::domain::strategy::validate_params;
use crate::store::journal::{AiJobRun, NewJournal, day_record, insert_ai_job_run, insert_journal};
use crate::store::params::{Draft, active_params, ensure_strategy, last_active_params};
use crate::store::{Severity, Store, StoreError};

/// Settings of the journal batch.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalConfig {
    /// The strategy whose parameters are drafted.
    pub strategy: String,
    /// Directory the Markdown file is written to (`<date>.md`, a US session's `<date>-us.md`), if
    /// any.
    pub journal_dir: Option<PathBuf>,
    /// Fees used to recompute P&L.
    pub fees: FeeSchedule,
    /// Which events are guardrail breaches and disconnects.
    pub classes: EventClasses,
    /// Limits on the model's answer.
    pub limits: OutputLimits,
    /// KRX holidays (besides weekends), to find the next trade date.
    pub holidays: BTreeSet<NaiveDate>,
    /// Whether the batch proposes next-day parameters.
    pub propose_drafts: bool,
    /// The day's opening holdings as `account_check` recorded them (the book the trading core
    /// started from); without them the P&L reconstructs the opening from the stored positions,
    /// which is exact only when the day bought nothing of a held instrument.
    pub opening: Option<Vec<crate::domain::position::Holding>>,
    /// The market the journal covers (its orders, positions and currency).
    pub region: crate::domain::MarketRegion,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            strategy: REFERENCE_STRATEGY.to_owned(),
            journal_dir: None,
            fees: FeeSchedule::default(),
            classes: EventClasses::default(),
            limits: OutputLimits::default(),
            holidays: BTreeSet::new(),
            propose_drafts: true,
            opening: None,
            region: crate::domain::MarketRegion::Kr,
        }
    }
}

/// Who wrote the journal (stored as `AI` or `TEMPLATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JournalSource {
    /// The model.
    Ai,
    /// The deterministic template.
    Template,
}

impl JournalSource {
    /// Returns the stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ai => "AI",
            Self::Template => "TEMPLATE",
        }
    }
}

/// The outcome of the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalOutcome {
    /// The trade date journaled.
    pub trade_date: NaiveDate,
    /// The `trade_journals` row.
    pub journal_id: i64,
    /// Who wrote it.
    pub source: JournalSource,
    /// The summary to post to the notifiers.
    pub summary: String,
    /// The Markdown journal.
    pub markdown: String,
    /// Where the Markdown file was written.
    pub path: Option<PathBuf>,
    /// Why the model's journal was not used, when a model was configured.
    pub ai_error: Option<String>,
    /// The parameter draft proposed for the next trade date, if any.
    pub draft: Option<Draft>,
    /// The day's realized P&L as the journal booked it (to compare with the close stage's).
    pub realized_pnl: rust_decimal::Decimal,
}

/// Errors of the batch (only the database can stop it: model failures fall back to the template).
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl JournalError {
    /// Returns true when running the batch again may succeed.
    pub fn is_retryable(&self) -> bool {
        true
    }
}

/// Returns the parameters in force on `trade_date`: today's ACTIVE row, else the last one before,
/// else the schema's defaults.
async fn current_params(
    store: &Store,
    strategy: &str,
    strategy_id: i64,
    trade_date: NaiveDate,
) -> Result<Value, StoreError> {
    if let Some(row) = active_params(store, strategy_id, trade_date).await? {
        return Ok(row.params);
    }
    if let Some(row) = last_active_params(store, strategy_id, trade_date).await? {
        return Ok(row.params);
    }
    let empty = Value::Object(serde_json::Map::new());
    Ok(schema_for(strategy).and_then(|s| validate_params(s, &empty).ok()).map_or(empty, |p| p.to_json()))
}

/// Asks the model for the journal and records the call; returns the accepted answer or why not.
async fn ask_model(
    store: &Store,
    llm: &LlmClient,
    prompt: &str,
    limits: &OutputLimits,
    now: DateTime<Utc>,
    trade_date: NaiveDate,
) -> Result<Result<AiJournal, String>, StoreError> {
    let started = Instant::now();
    let reply = llm.chat(SYSTEM_PROMPT, prompt).await;
    let latency = started.elapsed();
    let latency_ms = i64::try_from(latency.as_millis()).unwrap_or(i64::MAX);
    let (outcome, error, tokens, answer) = match reply {
        Ok(reply) => {
            let tokens = (reply.prompt_tokens, reply.completion_tokens);
            match parse_answer(&reply.content, limits) {
                Ok(ai) => ("OK", None, tokens, Ok(ai)),
                Err(e) => ("INVALID_OUTPUT", Some(e.to_string()), tokens, Err(e.to_string())),
            }
        }
        Err(failure) => {
            (failure.error.outcome(), Some(failure.to_string()), (None, None), Err(failure.to_string()))
        }
    };
    insert_ai_job_run(
        store,
        AiJobRun {
            kind: "journal".into(),
            trade_date,
            model: Some(llm.model().to_owned()),
            prompt_bytes: i64::try_from(prompt.len()).unwrap_or(i64::MAX),
            prompt_tokens: tokens.0,
            completion_tokens: tokens.1,
            latency_ms: Some(latency_ms),
            outcome: outcome.into(),
            error,
            started_at: now,
            finished_at: Some(now + chrono::Duration::milliseconds(latency_ms)),
        },
    )
    .await?;
    Ok(answer)
}

/// Returns the journal file's name: `<date>.md` for the KRX day, `<date>-us.md` for the US
/// session of that (New York) date, which shares the date.
pub fn file_name(trade_date: NaiveDate, region: MarketRegion) -> String {
    match region {
        MarketRegion::Kr => format!("{trade_date}.md"),
        MarketRegion::Us => format!("{trade_date}-us.md"),
    }
}

async fn write_file(
    dir: &Path,
    trade_date: NaiveDate,
    region: MarketRegion,
    markdown: &str,
) -> std::io::Result<PathBuf> {
    tokio::fs::create_dir_all(dir).await?;
    let name = file_name(trade_date, region);
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, markdown).await?;
    tokio::fs::rename(&tmp, &path).await?;
    Ok(path)
}

/// Runs the journal batch for `trade_date` at `now`.
///
/// With a model, one `ai_job_runs` row records the call; a failed call or a refused answer falls
/// back to the template journal. The journal is stored in `trade_journals` (and written under
/// `journal_dir` when set); a next-day draft comes from the model's `param_draft`, or from the
/// documented rule when the template was used.
///
/// # Errors
/// Returns [`JournalError::Store`] when the database fails.
#[tracing::instrument(skip_all, fields(%trade_date), err)]
pub async fn run_journal_batch(
    store: &Store,
    llm: Option<&LlmClient>,
    config: &JournalConfig,
    now: DateTime<Utc>,
    trade_date: NaiveDate,
) -> Result<JournalOutcome, JournalError> {
    let record: DayRecord =
        day_record(store, trade_date, &config.classes, config.fees, config.opening.as_deref(), config.region)
            .await?;
    let strategy_id = ensure_strategy(store, &config.strategy, "reference strategy", now).await?;
    let current = current_params(store, &config.strategy, strategy_id, trade_date).await?;
    let specs = schema_for(&config.strategy).unwrap_or(&[]);

    let (ai, ai_error) = match llm {
        Some(llm) => {
            let prompt = build_prompt(&record, &config.strategy, specs, &current);
            match ask_model(store, llm, &prompt, &config.limits, now, trade_date).await? {
                Ok(ai) => (Some(ai), None),
                Err(why) => (None, Some(why)),
            }
        }
        None => (None, None),
    };
    if let Some(why) = &ai_error {
        store
            .events()
            .record(
                "journal.ai_fallback",
                Severity::Warning,
                &format!("template journal used: {why}"),
                json!({}),
                Some(trade_date),
                None,
            )
            .await?;
    }
    let (source, summary, markdown) = match &ai {
        Some(ai) => (JournalSource::Ai, ai.summary.clone(), ai.journal_markdown.clone()),
        None => (JournalSource::Template, template::summary(&record), template::render(&record)),
    };

    let path = match &config.journal_dir {
        Some(dir) => match write_file(dir, trade_date, config.region, &markdown).await {
            Ok(p) => Some(p),
            Err(e) => {
                let message = format!("journal file not written under {}: {e}", dir.display());
                store
                    .events()
                    .record(
                        "journal.file_failed",
                        Severity::Warning,
                        &message,
                        json!({}),
                        Some(trade_date),
                        None,
                    )
                    .await?;
                None
            }
        },
        None => None,
    };
    let journal_id = insert_journal(
        store,
        NewJournal {
            trade_date,
            source: source.as_str().into(),
            summary: summary.clone(),
            markdown: markdown.clone(),
            path: path.as_ref().map(|p| p.display().to_string()),
            created_at: now,
        },
    )
    .await?;

    let proposal = match (&ai, config.propose_drafts) {
        (_, false) => None,
        (Some(ai), true) => {
            ai.param_draft.clone().map(|p| (DraftSource::Ai, Value::Object(p), ai.rationale.clone()))
        }
        (None, true) => rule_draft(&record, &current).map(|(p, why)| (DraftSource::Rule, p, why)),
    };
    let draft = match proposal {
        Some((source, params, rationale)) => {
            let next = next_trade_date(trade_date, &config.holidays);
            let d = propose_draft(store, &config.strategy, strategy_id, next, source, params, rationale, now)
                .await?;
            let (severity, message) = match &d.reason {
                Some(reason) => {
                    (Severity::Warning, format!("parameter draft {} for {next} rejected: {reason}", d.id))
                }
                None => (Severity::Info, format!("parameter draft {} for {next} awaits approval", d.id)),
            };
            store
                .events()
                .record(
                    "params.draft",
                    severity,
                    &message,
                    json!({ "draft_id": d.id, "source": d.source }),
                    Some(trade_date),
                    None,
                )
                .await?;
            Some(d)
        }
        None => None,
    };
    store
        .events()
        .record(
            "journal.written",
            Severity::Info,
            &summary,
            json!({ "journal_id": journal_id, "source": source.as_str() }),
            Some(trade_date),
            None,
        )
        .await?;
    let realized_pnl = record.pnl.realized;
    Ok(JournalOutcome {
        trade_date,
        journal_id,
        source,
        summary,
        markdown,
        path,
        ai_error,
        draft,
        realized_pnl,
    })
}
