//! The typed outputs of the concrete stages: what each stage stores in `stage_runs.output` and
//! what later stages, the CLI and the demo read back through
//! [`StageContext::output`](crate::pipeline::StageContext::output). The JSON keys are the ones
//! earlier versions wrote, so rows already in a database read back unchanged.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::Symbol;
use crate::domain::market::AccountSnapshot;
use crate::domain::mode::{KillSwitchConfig, TradingMode};
use crate::domain::risk::RiskConfig;
use crate::domain::stage::StageName;
use crate::domain::strategy::ParamsPolicy;
use crate::journal::JournalSource;
use crate::pipeline::stage::StageOutput;
use crate::trading::recovery::{Difference, RecoveryReport};
use crate::universe::Market;

/// The output of `config_check`: a secret-free summary of the loaded configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigCheckOutput {
    /// The configured mode (its debug name).
    pub mode: String,
    /// Whether Slack is configured.
    pub slack: bool,
    /// Whether SMTP is configured.
    pub smtp: bool,
    /// Whether an AI endpoint is configured.
    pub ai: bool,
}

impl StageOutput for ConfigCheckOutput {
    const STAGE: StageName = StageName::ConfigCheck;
}

/// The output of `access_token`: when the token was checked and, when the token store is known,
/// its issue and expiry times (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenOutput {
    /// Always true (a failed authentication fails the stage).
    pub authenticated: bool,
    /// When the stage checked.
    pub checked_at: DateTime<Utc>,
    /// When the token was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<DateTime<Utc>>,
    /// When the token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl StageOutput for AccessTokenOutput {
    const STAGE: StageName = StageName::AccessToken;
}

/// What `approval_key` records in place of the key.
pub const APPROVAL_KEY_NOTE: &str = "held (never recorded)";

/// The output of `approval_key`: when the WebSocket approval key was ensured (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalKeyOutput {
    /// Always [`APPROVAL_KEY_NOTE`].
    pub approval_key: String,
    /// When the stage checked.
    pub checked_at: DateTime<Utc>,
}

impl StageOutput for ApprovalKeyOutput {
    const STAGE: StageName = StageName::ApprovalKey;
}

/// The output of `account_check`: the broker's account snapshot (orderable cash, holdings, totals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountCheckOutput {
    /// The snapshot.
    pub account: AccountSnapshot,
}

impl StageOutput for AccountCheckOutput {
    const STAGE: StageName = StageName::AccountCheck;
}

/// What `param_load` decided for the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ParamsVerdict {
    /// Run the strategy and send its orders.
    Trade,
    /// Run the strategy and send nothing.
    Observe,
    /// Do not run the strategy.
    Skip,
}

/// Where `param_load` took the day's parameters from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ParamsSource {
    /// No row existed: the strategy's defaults.
    Defaults,
    /// Today's ACTIVE row.
    ActiveToday,
    /// The last ACTIVE row before today.
    LastActive,
    /// Neither.
    None,
}

/// The output of `param_load`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamLoadOutput {
    /// The strategy traded.
    pub strategy: String,
    /// Its `strategies` row.
    pub strategy_id: i64,
    /// The policy for a day without ACTIVE parameters.
    pub policy: ParamsPolicy,
    /// What was decided.
    pub decision: ParamsVerdict,
    /// The validated parameters (`null` when skipping), in the strategy's own schema.
    pub params: Value,
    /// Where they came from.
    pub source: ParamsSource,
    /// The `strategy_params` row used.
    pub params_row: Option<i64>,
    /// Why (skip reason or a note on defaults).
    pub reason: Option<String>,
}

impl StageOutput for ParamLoadOutput {
    const STAGE: StageName = StageName::ParamLoad;
}

/// The output of `recovery`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryOutput {
    /// Orders of the day checked.
    pub orders_checked: usize,
    /// Every difference found.
    pub differences: Vec<Difference>,
    /// Orders proven never sent, which may be resent.
    pub resendable: Vec<i64>,
    /// Positions held after recomputation.
    pub positions: usize,
}

impl StageOutput for RecoveryOutput {
    const STAGE: StageName = StageName::Recovery;
}

/// The output of `guardrails`: the settings in force and the mode trading starts in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardrailsOutput {
    /// The trading mode.
    pub mode: TradingMode,
    /// Whether the mode allows new orders.
    pub trading_allowed: bool,
    /// The guardrails.
    pub risk: RiskConfig,
    /// The kill-switch triggers.
    pub kill_switch: KillSwitchConfig,
    /// The trigger that tripped, if one did.
    pub tripped: Option<String>,
    /// Orders already sent today.
    pub orders_today: u32,
    /// Today's realized P&L so far.
    pub realized_pnl: Decimal,
    /// Live orders.
    pub open_orders: usize,
}

impl StageOutput for GuardrailsOutput {
    const STAGE: StageName = StageName::Guardrails;
}

/// Where the master file a market used came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MasterOrigin {
    /// Downloaded today.
    Downloaded,
    /// The download failed; the last good copy was used.
    KeptLastGood,
}

/// One market in the output of `universe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniverseMarket {
    /// The market.
    pub market: Market,
    /// Where its master came from.
    pub source: MasterOrigin,
    /// Records in the master in use.
    pub records: usize,
    /// Records skipped as bad.
    pub bad_records: usize,
    /// When the copy in use was downloaded.
    pub downloaded_at: DateTime<Utc>,
    /// Whether it predates the latest publication.
    pub stale: bool,
}

/// The output of `universe` (the shape of [`UniverseReport::to_json`](crate::universe::UniverseReport::to_json)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniverseOutput {
    /// The trade date.
    pub trade_date: NaiveDate,
    /// Per market.
    pub markets: Vec<UniverseMarket>,
    /// Instrument changes recorded.
    pub changes: usize,
    /// The selected universe, in order.
    pub selected: Vec<Symbol>,
    /// Candidates left out, per reason.
    pub excluded: BTreeMap<String, usize>,
}

impl StageOutput for UniverseOutput {
    const STAGE: StageName = StageName::Universe;
}

/// The counters of an intraday loop that ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntradayRun {
    /// The instruments registered.
    pub symbols: Vec<Symbol>,
    /// The strategy.
    pub strategy: String,
    /// Whether the strategy was stopped and open orders canceled before the close.
    pub wound_down_before_close: bool,
    /// What the opening reconciliation found.
    pub recovery: RecoveryReport,
    /// Market events received.
    pub market_events: u64,
    /// Strategy intents.
    pub signals: u64,
    /// Orders accepted by the broker.
    pub orders_sent: u64,
    /// Orders rejected or blocked.
    pub orders_refused: u64,
    /// New fills recorded.
    pub fills_recorded: u64,
    /// When the loop ended.
    pub ended_at: DateTime<Utc>,
}

/// The output of `intraday`: the loop's counters, or why it did not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntradayOutput {
    /// The loop ran until the close (or the wind-down).
    Ran(IntradayRun),
    /// The session had closed before the stage started; only the reconciliation ran.
    NotRun {
        /// Why the loop did not run.
        #[serde(rename = "loop")]
        why: String,
        /// What the reconciliation found.
        recovery: RecoveryReport,
    },
}

impl StageOutput for IntradayOutput {
    const STAGE: StageName = StageName::Intraday;
}

/// One position in the daily summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosePosition {
    /// Instrument.
    pub symbol: Symbol,
    /// Quantity held.
    pub qty: Decimal,
    /// Average purchase price.
    pub avg_price: Option<Decimal>,
    /// Last known price.
    pub last_price: Option<Decimal>,
}

/// The final reconciliation in the daily summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseReconciliation {
    /// Orders checked.
    pub orders_checked: usize,
    /// Differences found.
    pub differences: usize,
    /// Set when it tripped stop mode.
    pub stopped: Option<String>,
}

/// The output of `close`: the daily summary (also recorded as the `daily_summary` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseOutput {
    /// The trade date.
    pub trade_date: NaiveDate,
    /// Orders of the day.
    pub orders: usize,
    /// Orders per stored status.
    pub orders_by_status: BTreeMap<String, usize>,
    /// Open orders canceled by this stage.
    pub open_orders_canceled: u32,
    /// Open orders left for the exchange to expire (the session had closed).
    pub open_orders_left_to_expire: usize,
    /// Cancels sent but not confirmed.
    pub cancels_pending: u32,
    /// Fills of the day.
    pub fills: usize,
    /// Filled quantity.
    pub filled_qty: Decimal,
    /// Realized P&L net of fees.
    pub realized_pnl: Decimal,
    /// Unrealized P&L at the last prices.
    pub unrealized_pnl: Decimal,
    /// Positions still held.
    pub positions: Vec<ClosePosition>,
    /// The final reconciliation.
    pub reconciliation: CloseReconciliation,
}

impl StageOutput for CloseOutput {
    const STAGE: StageName = StageName::Close;
}

/// The output of `journal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalOutput {
    /// The `trade_journals` row.
    pub journal_id: i64,
    /// Who wrote it.
    pub source: JournalSource,
    /// The Markdown file, when written.
    pub path: Option<String>,
    /// The summary posted to the notifiers.
    pub summary: String,
    /// Why the model's answer was not used, if it was not.
    pub ai_error: Option<String>,
    /// The parameter draft recorded, if any.
    pub draft_id: Option<i64>,
    /// The day's realized P&L as the journal booked it (absent in outputs stored before it was
    /// recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realized_pnl: Option<rust_decimal::Decimal>,
}

impl StageOutput for JournalOutput {
    const STAGE: StageName = StageName::Journal;
}

#[cfg(test)]
#[path = "outputs_tests.rs"]
mod tests;
