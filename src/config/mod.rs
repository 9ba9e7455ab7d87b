//! Typed, layered configuration: built-in defaults < `aegis.toml` < `.env` < process environment.
//!
//! Loading never stops at the first problem: [`load`] returns the settings it could build together
//! with every [`ConfigProblem`] found, so `aegis config check` can print them all at once. Secret
//! values are [`Secret`]s and never appear in a problem message.

mod keys;
mod secret;
mod sources;
mod validate;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use keys::{KEYS, Key, Kind, Range, is_secret};
pub use secret::Secret;
pub use sources::{RawConfig, Sources};
pub use validate::ConfigProblem;

use crate::domain::overseas::UsExchange;
use crate::domain::risk::{DailyLossLimit, RiskConfig};
use crate::domain::{AccountNo, Mode, Symbol};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// tracing filter directive.
    pub level: String,
    /// Directory of the daily rolling files, if any.
    pub dir: Option<PathBuf>,
    /// Output format.
    pub format: LogFormat,
}

/// KIS connection settings.
#[derive(Debug, Clone)]
pub struct KisSettings {
    /// App key (36 chars).
    pub app_key: Option<Secret>,
    /// App secret (180 chars).
    pub app_secret: Option<Secret>,
    /// Account number.
    pub account: Option<AccountNo>,
    /// HTS id for execution notices.
    pub hts_id: Option<String>,
    /// REST base URL.
    pub rest_base_url: url::Url,
    /// WebSocket URL.
    pub ws_url: url::Url,
    /// `custtype` header.
    pub custtype: String,
    /// The paper host's TR id of a US sell (`KIS_US_PAPER_SELL_TR_ID`).
    pub us_paper_sell_tr_id: String,
    /// Whether order POSTs carry a hashkey.
    pub hashkey: bool,
    /// REST timeout.
    pub timeout: Duration,
    /// REST calls per second for this app key.
    pub rate_limit_per_sec: u32,
    /// How long before expiry the access token is refreshed.
    pub token_refresh_ahead: Duration,
}

/// Slack notifier settings (present only when configured).
#[derive(Debug, Clone)]
pub struct SlackSettings {
    /// Bot token.
    pub bot_token: Secret,
    /// Channel ID.
    pub channel_id: String,
    /// Web API base URL.
    pub api_base: url::Url,
}

/// SMTP transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS upgrade (port 587).
    StartTls,
    /// Implicit TLS (port 465).
    Tls,
    /// Plain text; accepted for loopback hosts only.
    None,
}

/// Email notifier settings (present only when configured).
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport security.
    pub tls: SmtpTls,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Secret>,
    /// Sender.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
}

/// AI provider settings (present only when configured).
#[derive(Debug, Clone)]
pub struct AiSettings {
    /// Chat-completions base URL.
    pub api_base: url::Url,
    /// API key, if the provider needs one.
    pub api_key: Option<Secret>,
    /// Model name.
    pub model: String,
    /// Timeout of one call.
    pub timeout: Duration,
}

/// Operator risk limits of one pipeline: the `RISK_*` keys (KRX, in KRW) or the `US_RISK_*` keys
/// (US, in USD). Amounts are in the pipeline's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskSettings {
    /// Pre-trade guardrails (`StagesConfig::risk`): daily loss, value per order, per-instrument
    /// value, gross exposure, open positions, orders per day.
    pub guardrails: RiskConfig,
    /// The kill switch's daily loss limit (`KillSwitchConfig::daily_loss`): the same
    /// `RISK_DAILY_LOSS_KRW` (`US_RISK_DAILY_LOSS_USD`) that blocks new risk also trips STOP mode.
    pub kill_switch_daily_loss: Option<DailyLossLimit>,
}

/// The US pipeline (the `US_*` keys): present only when `US_SYMBOLS` names at least one ticker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsSettings {
    /// Each US ticker of `US_SYMBOLS` with its exchange (`AAPL:NASD` ⇒ `AAPL` → Nasdaq).
    pub venues: BTreeMap<Symbol, UsExchange>,
    /// The US pipeline's risk limits in USD (`US_RISK_*`).
    pub risk: RiskSettings,
}

/// Every setting of aegis.
#[derive(Debug, Clone)]
pub struct Settings {
    /// LIVE or PAPER.
    pub mode: Mode,
    /// KIS connection.
    pub kis: KisSettings,
    /// Database URL (a secret: it may carry a password).
    pub db_url: Secret,
    /// Logging.
    pub log: LogSettings,
    /// Directory of `pipeline.toml` and `holidays.toml` (`SCHEDULES_DIR`).
    pub schedules_dir: PathBuf,
    /// Days `audit_log` rows are kept (`AUDIT_RETENTION_DAYS`); the close stage prunes older rows.
    pub audit_retention_days: u32,
    /// Address of the metrics and health listener of `aegis run` (`METRICS_LISTEN`; `None`: off).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Slack, when configured.
    pub slack: Option<SlackSettings>,
    /// Email, when configured.
    pub smtp: Option<SmtpSettings>,
    /// AI provider, when configured.
    pub ai: Option<AiSettings>,
    /// Operator risk limits of the KRX pipeline (`RISK_*`, KRW).
    pub risk: RiskSettings,
    /// The US pipeline, when `US_SYMBOLS` names a ticker (`None`: no US pipeline).
    pub us: Option<UsSettings>,
}

/// The outcome of loading: the settings that could be built and every problem found.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Settings (invalid values replaced by their defaults).
    pub settings: Settings,
    /// Every problem, in key order.
    pub problems: Vec<ConfigProblem>,
}

impl Loaded {
    /// Returns the problems that concern the given keys (e.g. `DB_URL` for `aegis db …`), and
    /// every configuration file that could not be read or parsed: any of the keys may have been
    /// meant to come from it, so going on with the other layers could use the wrong value (a
    /// migration of another database than the one in an unreadable `--env-file`).
    pub fn problems_for(&self, names: &[&str]) -> Vec<&ConfigProblem> {
        self.problems
            .iter()
            .filter(|p| names.contains(&p.key()) || matches!(p, ConfigProblem::File { .. }))
            .collect()
    }
}

/// Returns the default REST base URL and WebSocket URL of a mode (REFERENCE.md §1).
pub fn default_urls(mode: Mode) -> (&'static str, &'static str) {
    match mode {
        Mode::Live => {
            ("https://openapi.koreainvestment.com:9443", "ws://ops.koreainvestment.com:21000/tryitout")
        }
        Mode::Paper => {
            ("https://openapivts.koreainvestment.com:29443", "ws://ops.koreainvestment.com:31000/tryitout")
        }
    }
}

/// Loads and validates the configuration from its layered sources.
pub fn load(sources: &Sources) -> Loaded {
    let raw = sources.read();
    validate::build(&raw)
}
