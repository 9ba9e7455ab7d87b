//! `aegis params list|show|approve|reject|propose`: the operator's review of strategy-parameter
//! drafts, and drafts proposed from a file.
//!
//! Exit codes: 0 done, 1 database failure, 2 configuration problem, 3 unknown draft id,
//! 4 draft already decided or invalid, 5 parameter file refused (`propose`: unreadable, not valid
//! TOML, unknown field, unknown strategy, parameter outside its schema, empty rationale, trade date
//! not a KRX trading day or in the past).
//!
//! # The parameter file of `aegis params propose --file PARAMS.toml`
//!
//! ```toml
//! strategy = "mean_reversion"        # optional; default the reference strategy
//! trade_date = "2026-12-08"          # optional; default the next KRX trading day (--date wins)
//! rationale = "tighter band after the vol spike"   # required, not empty
//!
//! [params]                           # required; a parameter left out takes its schema default
//! entry_pct = 1.5
//! window = 30
//! ```
//!
//! Any other key is refused. The parameters are checked against the strategy's schema
//! ([`drafts::validate_draft`]); the trade date must be today or later (KST) and a KRX trading day
//! (`holidays.toml` in `SCHEDULES_DIR`, default `./schedules`, else the built-in list). A valid file
//! becomes a PENDING draft with source `OPERATOR:<by>` and a `params.draft` event; a refused one
//! writes only a `params.propose_failed` event (WARNING) naming the problem.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ParamsCommand;
use crate::config::Loaded;
use crate::domain::calendar::{KST, KrxCalendar};
use crate::journal::drafts;
use crate::store::params::{
    Draft, NewDraft, ParamsError, ensure_strategy, get_draft, insert_draft, list_drafts, reject_draft,
};
use crate::store::{Severity, Store};

/// Exit code for an unknown draft id.
pub const EXIT_NOT_FOUND: i32 = 3;
/// Exit code for a draft that is already decided or invalid.
pub const EXIT_CONFLICT: i32 = 4;
/// Exit code for a parameter file that `propose` refuses.
pub const EXIT_BAD_FILE: i32 = 5;

/// The `source` prefix of a draft proposed from a file; the proposer's name follows the colon.
pub const OPERATOR_SOURCE: &str = "OPERATOR";

/// The longest proposer name kept in a draft's source.
const MAX_BY_CHARS: usize = 32;

/// The parameter file (see the module documentation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamsFile {
    strategy: Option<String>,
    trade_date: Option<toml::Value>,
    rationale: String,
    params: toml::Table,
}

/// Why `aegis params propose` refuses a file.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// The file cannot be read.
    #[error("cannot read parameter file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown or missing field, or a field of the wrong type.
    #[error("parameter file {}{}: {message}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line of the problem, when known.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// The rationale is empty.
    #[error("parameter file {}: rationale must not be empty", .0.display())]
    EmptyRationale(PathBuf),
    /// No schema for this strategy.
    #[error("unknown strategy {name:?} (known: {known})")]
    UnknownStrategy {
        /// The name in the file.
        name: String,
        /// The known strategies.
        known: &'static str,
    },
    /// The parameters fail the strategy's schema or rules.
    #[error("[params] of {strategy}: {reason}")]
    InvalidParams {
        /// The strategy.
        strategy: String,
        /// Every problem found.
        reason: String,
    },
    /// `trade_date` is not a date.
    #[error("trade_date {0} is not a date (expected \"YYYY-MM-DD\")")]
    BadDate(String),
    /// The trade date is before today (KST).
    #[error("trade date {date} is in the past (today in KST is {today})")]
    PastDate {
        /// The trade date.
        date: NaiveDate,
        /// Today in KST.
        today: NaiveDate,
    },
    /// The market does not trade on the trade date.
    #[error("trade date {date} is not a KRX trading day ({reason})")]
    NotTradingDay {
        /// The trade date.
        date: NaiveDate,
        /// Why it is closed.
        reason: String,
    },
    /// The trading calendar cannot be loaded or has no next trading day.
    #[error("trading calendar: {0}")]
    Calendar(String),
}

impl ProposeError {
    /// Returns a short name of the problem, stored in the event's payload.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Read { .. } => "unreadable",
            Self::Parse { .. } => "syntax",
            Self::EmptyRationale(_) => "empty_rationale",
            Self::UnknownStrategy { .. } => "unknown_strategy",
            Self::InvalidParams { .. } => "invalid_params",
            Self::BadDate(_) => "bad_date",
            Self::PastDate { .. } => "past_date",
            Self::NotTradingDay { .. } => "not_trading_day",
            Self::Calendar(_) => "calendar",
        }
    }

    /// Returns the process exit code: a broken calendar is a configuration problem, the rest a
    /// refused file.
    pub const fn exit_code(&self) -> i32 {
        match self {
            Self::Calendar(_) => super::EXIT_CONFIG,
            _ => EXIT_BAD_FILE,
        }
    }
}

/// A checked proposal, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The strategy.
    pub strategy: String,
    /// The trade date.
    pub trade_date: NaiveDate,
    /// The normalized parameters (defaults filled in).
    pub params: Value,
    /// Why, trimmed.
    pub rationale: String,
}

fn toml_date(value: &toml::Value) -> Result<NaiveDate, ProposeError> {
    let text = match value {
        toml::Value::String(s) => s.trim().to_owned(),
        toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
        other => return Err(ProposeError::BadDate(other.to_string().chars().take(64).collect())),
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map_err(|_| ProposeError::BadDate(format!("{:?}", text.chars().take(64).collect::<String>())))
}

/// Parses and checks a parameter file's text. `date` (from `--date`) wins over the file's
/// `trade_date`; without either the trade date is the first trading day after `today`.
///
/// # Errors
/// Returns the first [`ProposeError`] found.
pub fn check_proposal(
    path: &Path,
    text: &str,
    date: Option<NaiveDate>,
    today: NaiveDate,
    calendar: &KrxCalendar,
) -> Result<Proposal, ProposeError> {
    let file: ParamsFile = toml::from_str(text).map_err(|e| ProposeError::Parse {
        path: path.to_owned(),
        line: e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
        message: e.message().trim().to_owned(),
    })?;
    let rationale = file.rationale.trim().to_owned();
    if rationale.is_empty() {
        return Err(ProposeError::EmptyRationale(path.to_owned()));
    }
    let strategy =
        file.strategy.map_or_else(|| drafts::REFERENCE_STRATEGY.to_owned(), |s| s.trim().to_owned());
    if drafts::schema_for(&strategy).is_none() {
        return Err(ProposeError::UnknownStrategy {
            name: strategy.chars().take(64).collect(),
            known: drafts::REFERENCE_STRATEGY,
        });
    }
    let raw = serde_json::to_value(&file.params).unwrap_or(Value::Null);
    let params = drafts::validate_draft(&strategy, &raw)
        .map_err(|reason| ProposeError::InvalidParams { strategy: strategy.clone(), reason })?;
    let trade_date = match (date, &file.trade_date) {
        (Some(d), _) => d,
        (None, Some(v)) => toml_date(v)?,
        (None, None) => calendar
            .next_trading_day(today)
            .ok_or_else(|| ProposeError::Calendar(format!("no trading day after {today}")))?,
    };
    if trade_date < today {
        return Err(ProposeError::PastDate { date: trade_date, today });
    }
    if let Some(reason) = calendar.closed_reason(trade_date) {
        return Err(ProposeError::NotTradingDay { date: trade_date, reason: reason.to_string() });
    }
    Ok(Proposal { strategy, trade_date, params, rationale })
}

/// Reads and checks a parameter file against the trading calendar of SCHEDULES_DIR.
fn read_proposal(
    path: &Path,
    date: Option<NaiveDate>,
    today: NaiveDate,
    schedules: &Path,
) -> Result<Proposal, ProposeError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ProposeError::Read { path: path.to_owned(), source })?;
    let calendar = super::ops_cmd::load_calendar(schedules).map_err(ProposeError::Calendar)?;
    check_proposal(path, &text, date, today, &calendar)
}

/// `aegis params propose`: stores a valid file as a PENDING draft; records an event either way.
async fn propose(store: &Store, file: &Path, date: Option<NaiveDate>, by: &str, schedules: &Path) -> i32 {
    let now = Utc::now();
    let today = now.with_timezone(&KST).date_naive();
    let by: String = by.chars().take(MAX_BY_CHARS).collect();
    let proposal = match read_proposal(file, date, today, schedules) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            let payload = json!({ "file": file.display().to_string(), "by": by, "problem": e.kind() });
            if let Err(db) = store
                .events()
                .record("params.propose_failed", Severity::Warning, &e.to_string(), payload, date, None)
                .await
            {
                eprintln!("warning: the event was not recorded: {db}");
            }
            return e.exit_code();
        }
    };
    let stored = async {
        let sid = ensure_strategy(store, &proposal.strategy, "reference strategy", now).await?;
        insert_draft(
            store,
            NewDraft {
                strategy_id: sid,
                trade_date: proposal.trade_date,
                params: proposal.params.clone(),
                source: format!("{OPERATOR_SOURCE}:{by}"),
                rationale: proposal.rationale.clone(),
                rejected: None,
                created_at: now,
            },
        )
        .await
    }
    .await;
    let draft = match stored {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let message = format!(
        "parameter draft {} for {} proposed by {by} from {}; awaits approval",
        draft.id,
        draft.trade_date,
        file.display()
    );
    let payload = json!({ "draft_id": draft.id, "source": draft.source, "file": file.display().to_string() });
    if let Err(e) = store
        .events()
        .record("params.draft", Severity::Info, &message, payload, Some(draft.trade_date), None)
        .await
    {
        eprintln!("warning: the event was not recorded: {e}");
    }
    print_draft(&draft);
    println!();
    println!("draft {} is PENDING; approve it with: aegis params approve {}", draft.id, draft.id);
    0
}

/// The operator of a params command: `--by`, else the user running it.
pub(super) fn actor(by: Option<String>) -> String {
    by.filter(|s| !s.trim().is_empty())
        .or_else(super::who::current_user)
        .unwrap_or_else(|| "unknown".to_owned())
}

fn exit_for(e: &ParamsError) -> i32 {
    match e {
        ParamsError::NotFound(_) => EXIT_NOT_FOUND,
        ParamsError::AlreadyDecided { .. } | ParamsError::Invalid { .. } => EXIT_CONFLICT,
        ParamsError::Store(_) => 1,
    }
}

fn print_draft(d: &Draft) {
    println!("draft        {}", d.id);
    println!("strategy     {}", d.strategy);
    println!("trade date   {}", d.trade_date);
    println!("status       {}", d.status);
    println!("source       {}", d.source);
    println!("created at   {}", d.created_at.to_rfc3339());
    if let (Some(at), Some(by)) = (d.decided_at, &d.decided_by) {
        println!("decided      {} by {by}", at.to_rfc3339());
    }
    if let Some(reason) = &d.reason {
        println!("reason       {reason}");
    }
    println!("rationale    {}", d.rationale);
    println!("params       {}", serde_json::to_string_pretty(&d.params).unwrap_or_default());
}

/// Runs a params command; only `DB_URL` problems stop it.
pub async fn run(loaded: &Loaded, cmd: ParamsCommand) -> i32 {
    let problems = loaded.problems_for(&["DB_URL"]);
    if !problems.is_empty() {
        for p in problems {
            eprintln!("error: {p}");
        }
        return super::EXIT_CONFIG;
    }
    let store = match Store::open(loaded.settings.db_url.expose()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    match cmd {
        ParamsCommand::List { status } => match list_drafts(&store, status).await {
            Ok(list) => {
                println!(
                    "{:>6}  {:<9} {:<20} {:<10}  {:<16} CREATED",
                    "ID", "STATUS", "STRATEGY", "TRADE DATE", "SOURCE"
                );
                for d in &list {
                    println!(
                        "{:>6}  {:<9} {:<20} {:<10}  {:<16} {}",
                        d.id,
                        d.status.as_str(),
                        d.strategy,
                        d.trade_date,
                        d.source,
                        d.created_at.to_rfc3339()
                    );
                }
                println!("{} drafts", list.len());
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
        ParamsCommand::Show { id } => match get_draft(&store, id).await {
            Ok(Some(d)) => {
                print_draft(&d);
                0
            }
            Ok(None) => {
                eprintln!("error: {}", ParamsError::NotFound(id));
                EXIT_NOT_FOUND
            }
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
        ParamsCommand::Approve { id, by } => {
            let by = actor(by);
            match drafts::approve(&store, id, &by, Utc::now()).await {
                Ok(a) => {
                    let retired = if a.retired.is_empty() {
                        String::new()
                    } else {
                        format!(" (retired: {:?})", a.retired)
                    };
                    println!(
                        "draft {id} approved by {by}: strategy_params {} is ACTIVE for {} on {}{retired}",
                        a.active.id, a.draft.strategy, a.draft.trade_date
                    );
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    exit_for(&e)
                }
            }
        }
        ParamsCommand::Propose { file, date, by } => {
            propose(&store, &file, date, &actor(by), &loaded.settings.schedules_dir).await
        }
        ParamsCommand::Reject { id, reason, by } => {
            let by = actor(by);
            if reason.trim().is_empty() {
                eprintln!("error: --reason must not be empty");
                return super::EXIT_CONFIG;
            }
            match reject_draft(&store, id, &by, reason.trim(), Utc::now()).await {
                Ok(d) => {
                    println!("draft {id} rejected by {by}: {}", d.reason.unwrap_or_default());
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    exit_for(&e)
                }
            }
        }
    }
}
