//! The concrete pipeline stages, one file per stage group, and [`StageDeps`]: the ports and settings
//! they share (broker, clock, calendar, notifier, the broker's real-time streams).
//!
//! Stages see ports, not adapters: the composition root (`crate::app`) builds the KIS adapter, the
//! store and the notifiers and hands them over here.

mod account;
mod close;
mod config_check;
mod intraday;
mod journal;
mod outputs;
mod params;
mod trading;
mod universe;
pub mod watch;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::Value;
use url::Url;

pub use account::{AccessToken, AccountCheck, ApprovalKey};
pub use close::Close;
pub use config_check::ConfigCheck;
pub use intraday::{Intraday, IntradayProgress, ProgressFn};
pub use journal::Journal;
pub use outputs::{
    APPROVAL_KEY_NOTE, AccessTokenOutput, AccountCheckOutput, ApprovalKeyOutput, CloseOutput, ClosePosition,
    CloseReconciliation, ConfigCheckOutput, GuardrailsOutput, IntradayOutput, IntradayRun, JournalOutput,
    MasterOrigin, ParamLoadOutput, ParamsSource, ParamsVerdict, RecoveryOutput, UniverseMarket,
    UniverseOutput,
};
pub use params::ParamLoad;
pub use trading::{Guardrails, Recovery};
pub use universe::UniverseStage;

use super::stage::{DynStage, StageError};
use crate::domain::MarketRegion;
use crate::domain::Symbol;
use crate::domain::mode::KillSwitchConfig;
use crate::domain::position::{FeeSchedule, Holding};
use crate::domain::risk::RiskConfig;
use crate::domain::sessions::SessionCalendar;
use crate::domain::strategy::ParamsPolicy;
use crate::journal::LlmClient;
use crate::notify::Notifier;
use crate::ports::{Broker, BrokerError, BrokerStreams, Clock};
use crate::store::StoreError;
use crate::trading::TradingError;

/// Settings of the concrete stages (what `Settings` does not carry).
#[derive(Debug, Clone)]
pub struct StagesConfig {
    /// The market the stages trade (KRX unless set): its orders, positions and universe.
    pub region: MarketRegion,
    /// The strategy traded (the reference strategy: `mean_reversion`).
    pub strategy: String,
    /// What to do on a day without ACTIVE parameters.
    pub params_policy: ParamsPolicy,
    /// Parameters used when no row exists at all (`None`: the strategy's defaults).
    pub default_params: Option<Value>,
    /// The configured symbols (the universe).
    pub symbols: Vec<Symbol>,
    /// Pre-trade guardrails.
    pub risk: RiskConfig,
    /// Kill-switch triggers.
    pub kill_switch: KillSwitchConfig,
    /// Commission and tax.
    pub fees: FeeSchedule,
    /// Directory URL of the stock master files.
    pub master_base: Url,
    /// Where the master files are cached.
    pub master_dir: PathBuf,
    /// Whether open orders are canceled before the close (the exchange refuses cancels after it).
    pub cancel_open_at_close: bool,
    /// How long before the session close (by the clock) the strategy stops and open orders are
    /// canceled, when `cancel_open_at_close` is set.
    pub cancel_lead: chrono::TimeDelta,
    /// Real time between two REST reconciliations during the intraday stage.
    pub reconcile_every: Duration,
    /// How long the intraday stage keeps retrying its subscriptions while the feed cannot be
    /// opened or another connection holds the broker's real-time session (a previous leader
    /// letting go) before it fails.
    pub session_wait: Duration,
    /// Where the journal's Markdown files are written.
    pub journal_dir: Option<PathBuf>,
    /// Whether the journal proposes the strategy's next-day parameters (a draft for an
    /// operator's approval). The daemon's US pipeline does not: the parameters of a strategy are
    /// one set per date, which the KRX journal proposes.
    pub propose_drafts: bool,
    /// How long `audit_log` rows are kept (`AUDIT_RETENTION_DAYS`): the close stage deletes older
    /// rows.
    pub audit_retention: chrono::TimeDelta,
}

impl StagesConfig {
    /// Returns the defaults for a master base URL, a cache directory and symbols: the reference
    /// strategy with its defaults when no row exists, the last ACTIVE row otherwise, no guardrails
    /// beyond 200 orders a day and ten rejects in five minutes, open orders canceled five minutes
    /// before the close, reconciliation every 30 s, up to 5 min of waiting for the broker's
    /// real-time session, audit rows kept 365 days.
    pub fn new(master_base: Url, master_dir: PathBuf, symbols: Vec<Symbol>) -> Self {
        Self {
            region: MarketRegion::Kr,
            strategy: crate::journal::REFERENCE_STRATEGY.to_owned(),
            params_policy: ParamsPolicy::ReuseLastActive,
            default_params: None,
            symbols,
            risk: RiskConfig {
                max_orders_per_day: Some(crate::domain::risk::DEFAULT_MAX_ORDERS_PER_DAY),
                ..RiskConfig::default()
            },
            kill_switch: KillSwitchConfig { max_rejects: Some(10), ..KillSwitchConfig::default() },
            fees: FeeSchedule::default(),
            master_base,
            master_dir,
            cancel_open_at_close: true,
            cancel_lead: chrono::TimeDelta::minutes(5),
            reconcile_every: Duration::from_secs(30),
            session_wait: Duration::from_secs(300),
            journal_dir: None,
            propose_drafts: true,
            audit_retention: chrono::TimeDelta::days(365),
        }
    }
}

/// The ports and settings every concrete stage shares.
pub struct StageDeps {
    /// The broker.
    pub broker: Arc<dyn Broker>,
    /// The clock (the simulator's accelerated clock in the demo).
    pub clock: Arc<dyn Clock>,
    /// The calendar of the market the stages trade (sessions as instants).
    pub calendar: Arc<dyn SessionCalendar>,
    /// Where journal summaries and kill-switch trips go.
    pub notifier: Arc<dyn Notifier>,
    /// The AI model, when configured.
    pub llm: Option<LlmClient>,
    /// Stage settings.
    pub config: StagesConfig,
    /// Told about intraday progress (the demo's live view).
    pub progress: Option<ProgressFn>,
    streams: Mutex<Option<BrokerStreams>>,
}

impl std::fmt::Debug for StageDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageDeps").field("config", &self.config).finish_non_exhaustive()
    }
}

impl StageDeps {
    /// Assembles the dependencies; the broker's streams are taken on first use.
    pub fn new(
        broker: Arc<dyn Broker>,
        clock: Arc<dyn Clock>,
        calendar: Arc<dyn SessionCalendar>,
        notifier: Arc<dyn Notifier>,
        config: StagesConfig,
    ) -> Self {
        Self {
            broker,
            clock,
            calendar,
            notifier,
            llm: None,
            config,
            progress: None,
            streams: Mutex::new(None),
        }
    }

    /// Takes the broker's real-time streams (kept here between intraday attempts).
    fn take_streams(&self) -> Option<BrokerStreams> {
        let mut held = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        held.take().or_else(|| self.broker.take_streams())
    }

    /// Gives the streams back after an intraday attempt: to the broker when it keeps them (the
    /// KIS client does, for the other market's pipeline on the same socket), else here.
    fn return_streams(&self, streams: BrokerStreams) {
        if let Some(streams) = self.broker.return_streams(streams) {
            *self.streams.lock().unwrap_or_else(PoisonError::into_inner) = Some(streams);
        }
    }
}

/// Returns every concrete stage except `config_check` (which needs the loaded configuration).
pub fn broker_stages(deps: &Arc<StageDeps>) -> Vec<Arc<dyn DynStage>> {
    vec![
        Arc::new(AccessToken::new(deps.clone())),
        Arc::new(ApprovalKey::new(deps.clone())),
        Arc::new(AccountCheck::new(deps.clone())),
        Arc::new(ParamLoad::new(deps.clone())),
        Arc::new(Recovery::new(deps.clone())),
        Arc::new(Guardrails::new(deps.clone())),
        Arc::new(UniverseStage::new(deps.clone())),
        Arc::new(Intraday::new(deps.clone())),
        Arc::new(Close::new(deps.clone())),
        Arc::new(Journal::new(deps.clone())),
    ]
}

/// Maps a broker error to a stage error (retryable when the broker says so).
fn broker_err(what: &str, e: BrokerError) -> StageError {
    StageError::Broker { what: what.to_owned(), source: e }
}

/// Maps a trading error to a stage error (retryable when the trading layer says so).
/// A write refused by the lease fence interrupts the stage instead of failing it: the process
/// lost the lease, and a failure would trip the kill switch the new leader trades under.
fn trading_err(what: &str, e: TradingError) -> StageError {
    match e {
        TradingError::Store(e @ StoreError::Fenced { .. }) => fenced(what, &e),
        e => StageError::Trading { what: what.to_owned(), source: e },
    }
}

fn fenced(what: &str, e: &StoreError) -> StageError {
    tracing::error!(what, error = %e, "order write fenced off: this process no longer leads");
    StageError::Cancelled
}

/// Maps a store error to a (retryable) stage error.
fn store_err(what: &str, e: StoreError) -> StageError {
    match e {
        e @ StoreError::Fenced { .. } => fenced(what, &e),
        e => StageError::Store { what: what.to_owned(), source: e },
    }
}

/// Returns the opening holdings recorded by `account_check` (none when it has no output).
///
/// # Errors
/// Returns [`StageError::Output`] when the stored output is malformed.
fn opening_holdings(ctx: &super::StageContext) -> Result<Vec<Holding>, StageError> {
    let Some(out) = ctx.output::<AccountCheckOutput>()? else { return Ok(Vec::new()) };
    Ok(out
        .account
        .holdings
        .into_iter()
        .filter(|h| h.qty > Decimal::ZERO)
        .map(|h| Holding { symbol: h.symbol, qty: h.qty, avg_price: h.avg_price })
        .collect())
}

/// Returns the strategy row id recorded by `param_load` (none when it has no output).
///
/// # Errors
/// Returns [`StageError::Output`] when the stored output is malformed.
fn strategy_row(ctx: &super::StageContext) -> Result<Option<i64>, StageError> {
    Ok(ctx.output::<ParamLoadOutput>()?.map(|p| p.strategy_id))
}
