//! Turning raw values into typed [`Settings`], collecting every problem on the way.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;

use super::keys::{Key, Range, find};
use super::sources::RawConfig;
use super::{
    AiSettings, KisSettings, Loaded, LogFormat, LogSettings, RiskSettings, Secret, Settings, SlackSettings,
    SmtpSettings, SmtpTls, UsSettings, default_urls,
};
use crate::domain::risk::{DEFAULT_MAX_ORDERS_PER_DAY, DailyLossLimit, ExposureLimit, RiskConfig};
use crate::domain::{AccountNo, Mode};

/// What `aegis config check` says when MODE=LIVE has no daily loss limit.
pub(crate) const LIVE_NEEDS_DAILY_LOSS: &str =
    "MODE=LIVE requires a daily loss limit (the kill switch); set RISK_DAILY_LOSS_KRW";

/// What `aegis config check` says when MODE=LIVE runs a US pipeline (`US_SYMBOLS`) without its
/// daily loss limit.
pub(crate) const LIVE_NEEDS_US_DAILY_LOSS: &str = "MODE=LIVE with US_SYMBOLS requires a US daily loss limit \
     (the US pipeline's kill switch); set US_RISK_DAILY_LOSS_USD";

/// The keys of one pipeline's risk limits: the same limits under a key prefix, in a currency.
struct RiskKeys {
    daily_loss: &'static str,
    include_unrealized: &'static str,
    max_order_value: &'static str,
    max_position_value: &'static str,
    max_gross_exposure: &'static str,
    max_open_positions: &'static str,
    max_orders_per_day: &'static str,
    /// The problem of MODE=LIVE without `daily_loss`.
    live_needs_daily_loss: &'static str,
}

/// The KRX pipeline's limits: `RISK_*`, in KRW.
const KRX_RISK: RiskKeys = RiskKeys {
    daily_loss: "RISK_DAILY_LOSS_KRW",
    include_unrealized: "RISK_DAILY_LOSS_INCLUDE_UNREALIZED",
    max_order_value: "RISK_MAX_ORDER_VALUE_KRW",
    max_position_value: "RISK_MAX_POSITION_VALUE_KRW",
    max_gross_exposure: "RISK_MAX_GROSS_EXPOSURE_KRW",
    max_open_positions: "RISK_MAX_OPEN_POSITIONS",
    max_orders_per_day: "RISK_MAX_ORDERS_PER_DAY",
    live_needs_daily_loss: LIVE_NEEDS_DAILY_LOSS,
};

/// The US pipeline's limits: `US_RISK_*`, in USD.
const US_RISK: RiskKeys = RiskKeys {
    daily_loss: "US_RISK_DAILY_LOSS_USD",
    include_unrealized: "US_RISK_DAILY_LOSS_INCLUDE_UNREALIZED",
    max_order_value: "US_RISK_MAX_ORDER_VALUE_USD",
    max_position_value: "US_RISK_MAX_POSITION_VALUE_USD",
    max_gross_exposure: "US_RISK_MAX_GROSS_EXPOSURE_USD",
    max_open_positions: "US_RISK_MAX_OPEN_POSITIONS",
    max_orders_per_day: "US_RISK_MAX_ORDERS_PER_DAY",
    live_needs_daily_loss: LIVE_NEEDS_US_DAILY_LOSS,
};

/// `KIS_RATE_LIMIT_PER_SEC` against a loopback host (`aegis sim`), which is not bound by KIS's
/// 20 calls/s.
const SIM_RATE_RANGE: Range =
    Range { min: 1, max: 10_000, unit: "calls per second against a loopback simulator" };

/// One configuration problem. Its text never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigProblem {
    /// A required key has no value.
    Missing {
        /// The key.
        key: &'static str,
        /// Why it is required.
        why: &'static str,
    },
    /// A value is malformed.
    Invalid {
        /// The key.
        key: &'static str,
        /// What is wrong (no secret value).
        reason: String,
    },
    /// `aegis.toml` holds a key aegis does not know.
    UnknownKey {
        /// The key as written.
        key: String,
        /// The file.
        source: String,
    },
    /// A value in a configuration file (`aegis.toml`, `.env`) has the wrong type or is out of
    /// range; reported even when a later layer overrides it.
    FileValue {
        /// The key.
        key: &'static str,
        /// The file.
        path: String,
        /// The key as written in the file (`[kis] app_key`).
        shown: String,
        /// What is wrong (no secret value).
        reason: String,
    },
    /// A configuration file could not be read or parsed.
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

impl ConfigProblem {
    /// Returns the key concerned (`""` for file-level problems).
    pub fn key(&self) -> &str {
        match self {
            Self::Missing { key, .. } | Self::Invalid { key, .. } | Self::FileValue { key, .. } => key,
            Self::UnknownKey { .. } | Self::File { .. } => "",
        }
    }

    /// True for a problem of MODE=LIVE only: a daily loss limit that LIVE requires
    /// (`RISK_DAILY_LOSS_KRW`, or `US_RISK_DAILY_LOSS_USD` with `US_SYMBOLS`) is not set. A
    /// PAPER run of the same configuration (the demo) does not have it.
    pub fn is_live_only(&self) -> bool {
        matches!(self, Self::Invalid { reason, .. }
            if reason == LIVE_NEEDS_DAILY_LOSS || reason == LIVE_NEEDS_US_DAILY_LOSS)
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { key, why } => write!(f, "{key}: missing ({why})"),
            Self::Invalid { key, reason } => write!(f, "{key}: {reason}"),
            Self::UnknownKey { key, source } => write!(f, "{source}: unknown key `{key}`"),
            Self::FileValue { key, path, shown, reason } => {
                write!(f, "{key}: {reason} (`{shown}` in {path})")
            }
            Self::File { path, reason } => write!(f, "{path}: {reason}"),
        }
    }
}

struct Ctx<'a> {
    raw: &'a RawConfig,
    problems: Vec<ConfigProblem>,
}

impl Ctx<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.raw.get(key)
    }

    fn invalid(&mut self, key: &'static str, reason: impl Into<String>) {
        self.problems.push(ConfigProblem::Invalid { key, reason: reason.into() });
    }

    /// Reports a missing key, unless the key already has a problem (e.g. a wrong value in
    /// `aegis.toml` that was therefore not used).
    fn missing(&mut self, key: &'static str, why: &'static str) {
        if !self.has_problem(key) {
            self.problems.push(ConfigProblem::Missing { key, why });
        }
    }

    fn has_problem(&self, key: &str) -> bool {
        self.problems.iter().any(|p| p.key() == key)
    }

    fn parse<T: FromStr>(&mut self, key: &'static str, default: T, what: &str) -> T {
        match self.get(key) {
            None => default,
            Some(v) => match v.parse() {
                Ok(x) => x,
                Err(_) => {
                    self.invalid(key, format!("`{v}` is not {what}"));
                    default
                }
            },
        }
    }

    /// Parses a value with the key's own parser from the key table (type and range), reporting a
    /// problem and returning `None` when it is wrong.
    fn typed<T>(
        &mut self,
        key: &'static str,
        parse: impl FnOnce(&Key, &str) -> Result<T, String>,
    ) -> Option<T> {
        let v = self.get(key)?;
        let Some(k) = find(key) else {
            self.invalid(key, "not in the key table");
            return None;
        };
        match parse(k, v) {
            Ok(x) => Some(x),
            Err(reason) => {
                self.invalid(key, reason);
                None
            }
        }
    }

    /// A whole-number key within its range; `fallback` when unset or wrong.
    fn int(&mut self, key: &'static str, fallback: u64) -> u64 {
        self.typed(key, Key::int_value).unwrap_or(fallback)
    }

    /// A decimal key within its range; `None` when unset or wrong.
    fn decimal(&mut self, key: &'static str) -> Option<Decimal> {
        self.typed(key, Key::decimal_value)
    }

    fn bool(&mut self, key: &'static str, default: bool) -> bool {
        self.typed(key, Key::bool_value).unwrap_or(default)
    }

    fn secret_with_len(&mut self, key: &'static str, len: usize) -> Option<Secret> {
        let v = self.get(key)?;
        let s = Secret::new(v);
        if s.len() != len {
            self.invalid(key, format!("must be {len} characters, got {}", s.len()));
        }
        Some(s)
    }

    /// Parses a URL key; `default` is a constant of this module and always parses.
    fn url(&mut self, key: &'static str, default: &'static str, schemes: &[&str]) -> url::Url {
        let fallback = || url::Url::parse(default).expect("built-in default URLs are valid");
        let Some(v) = self.get(key).map(str::to_owned) else {
            return fallback();
        };
        match url::Url::parse(&v) {
            Ok(u) if !schemes.contains(&u.scheme()) => {
                self.invalid(
                    key,
                    format!("scheme `{}` not allowed (expected {})", u.scheme(), schemes.join(" or ")),
                );
                fallback()
            }
            Ok(u) if u.host_str().is_none() => {
                self.invalid(key, "URL has no host");
                fallback()
            }
            Ok(u) => u,
            Err(e) => {
                self.invalid(key, format!("not a valid URL ({e})"));
                fallback()
            }
        }
    }
}

/// Returns true when the URL's host is a loopback address or `localhost`.
pub fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Returns true for a Slack conversation ID (C…, G… or D… followed by upper-case alphanumerics).
fn is_slack_channel_id(v: &str) -> bool {
    let mut chars = v.chars();
    matches!(chars.next(), Some('C' | 'G' | 'D'))
        && v.len() >= 9
        && chars.all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// Builds typed settings from raw values.
pub(super) fn build(raw: &RawConfig) -> Loaded {
    let mut c = Ctx { raw, problems: raw.problems.clone() };

    let mode = c.parse("MODE", Mode::Paper, "LIVE or PAPER");
    let (rest_default, ws_default) = default_urls(mode);

    const WHY_KIS: &str = "needed to trade; get it from the KIS developer portal";
    let app_key = c.secret_with_len("KIS_APP_KEY", 36);
    if app_key.is_none() {
        c.missing("KIS_APP_KEY", WHY_KIS);
    }
    let app_secret = c.secret_with_len("KIS_APP_SECRET", 180);
    if app_secret.is_none() {
        c.missing("KIS_APP_SECRET", WHY_KIS);
    }
    let account = match c.get("KIS_ACCOUNT").map(AccountNo::parse) {
        None => {
            c.missing("KIS_ACCOUNT", "the account to trade, as CANO-ACNT_PRDT_CD");
            None
        }
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            c.invalid("KIS_ACCOUNT", e.to_string());
            None
        }
    };
    let hts_id = c.get("KIS_HTS_ID").map(str::to_owned);
    match &hts_id {
        None => c.missing("KIS_HTS_ID", "needed to receive execution notices"),
        Some(id) if id.len() > 16 || !id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') => {
            c.invalid("KIS_HTS_ID", "must be the HTS login id (letters, digits, underscore)");
        }
        Some(_) => {}
    }
    let rest_base_url = c.url("KIS_REST_BASE_URL", rest_default, &["https", "http"]);
    if rest_base_url.scheme() == "http" && !is_loopback(&rest_base_url) {
        c.invalid("KIS_REST_BASE_URL", "plain http is allowed only for a loopback host (the simulator)");
    }
    let ws_url = c.url("KIS_WS_URL", ws_default, &["ws", "wss"]);
    let us_paper_sell_tr_id = c.get("KIS_US_PAPER_SELL_TR_ID").unwrap_or("VTTT1001U").to_owned();
    if us_paper_sell_tr_id.len() != 9
        || !us_paper_sell_tr_id.starts_with('V')
        || !us_paper_sell_tr_id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        c.invalid("KIS_US_PAPER_SELL_TR_ID", "must be a paper TR id: V and 8 uppercase letters or digits");
    }
    let custtype = c.get("KIS_CUSTTYPE").unwrap_or("P").to_owned();
    if custtype != "P" && custtype != "B" {
        c.invalid("KIS_CUSTTYPE", "must be P (individual) or B (corporate)");
    }
    let hashkey = c.bool("KIS_HASHKEY", true);
    let timeout_secs = c.int("KIS_TIMEOUT_SECS", 5);
    let default_rate: u64 = match mode {
        Mode::Live => 20,
        Mode::Paper => 2,
    };
    // KIS allows 20 calls/s on a live app key; a loopback host is the simulator, which takes more.
    let rate_limit_per_sec = if is_loopback(&rest_base_url) {
        c.typed("KIS_RATE_LIMIT_PER_SEC", |k, v| k.int_in(v, SIM_RATE_RANGE)).unwrap_or(default_rate)
    } else {
        c.int("KIS_RATE_LIMIT_PER_SEC", default_rate)
    };
    let ahead_mins = c.int("KIS_TOKEN_REFRESH_AHEAD_MINS", 30);

    let db_url = c.get("DB_URL").unwrap_or("sqlite://./aegis.db?mode=rwc").to_owned();
    let db_ok = ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| db_url.starts_with(p));
    if !db_ok {
        c.invalid("DB_URL", "must start with sqlite:, postgres:// or postgresql://");
    }

    let level = c.get("LOG_LEVEL").unwrap_or("info").to_owned();
    if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
        c.invalid("LOG_LEVEL", format!("`{level}` is not a valid tracing filter"));
    }
    let format = match c.get("LOG_FORMAT").map(str::to_ascii_lowercase).as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            c.invalid("LOG_FORMAT", format!("`{other}` is not text or json"));
            LogFormat::Text
        }
    };
    let log = LogSettings { level, dir: c.get("LOG_DIR").map(PathBuf::from), format };
    let audit_retention_days = u32::try_from(c.int("AUDIT_RETENTION_DAYS", 365)).unwrap_or(365);
    let metrics_default = std::net::SocketAddr::from(([127, 0, 0, 1], 9464));
    let metrics_listen = match c.get("METRICS_LISTEN").map(crate::obs::server::parse_listen) {
        None => Some(metrics_default),
        Some(Ok(addr)) => addr,
        Some(Err(reason)) => {
            c.invalid("METRICS_LISTEN", reason);
            Some(metrics_default)
        }
    };

    let slack = build_slack(&mut c);
    let smtp = build_smtp(&mut c);
    let ai = build_ai(&mut c);
    let risk = build_risk(&mut c, &KRX_RISK, mode == Mode::Live);
    let us = build_us(&mut c, mode);

    let settings = Settings {
        mode,
        kis: KisSettings {
            app_key,
            app_secret,
            account,
            hts_id,
            rest_base_url,
            ws_url,
            custtype,
            us_paper_sell_tr_id,
            hashkey,
            timeout: Duration::from_secs(timeout_secs),
            rate_limit_per_sec: u32::try_from(rate_limit_per_sec).unwrap_or(u32::MAX),
            token_refresh_ahead: Duration::from_secs(ahead_mins.saturating_mul(60)),
        },
        db_url: Secret::new(db_url),
        log,
        schedules_dir: PathBuf::from(c.get("SCHEDULES_DIR").unwrap_or("schedules")),
        audit_retention_days,
        metrics_listen,
        slack,
        smtp,
        ai,
        risk,
        us,
    };
    Loaded { settings, problems: c.problems }
}

fn build_slack(c: &mut Ctx<'_>) -> Option<SlackSettings> {
    let token = c.get("SLACK_BOT_TOKEN").map(Secret::new);
    let channel = c.get("SLACK_CHANNEL_ID").map(str::to_owned);
    let api_base = c.url("SLACK_API_BASE", "https://slack.com/api/", &["https", "http"]);
    if let Some(ch) = channel.as_deref().filter(|ch| !is_slack_channel_id(ch)) {
        c.invalid(
            "SLACK_CHANNEL_ID",
            format!("`{ch}` looks like a channel name; use the channel ID (e.g. C0123456789)"),
        );
    }
    match (token, channel) {
        (None, None) => None,
        (Some(_), None) => {
            c.missing("SLACK_CHANNEL_ID", "SLACK_BOT_TOKEN is set");
            None
        }
        (None, Some(_)) => {
            c.missing("SLACK_BOT_TOKEN", "SLACK_CHANNEL_ID is set");
            None
        }
        (Some(bot_token), Some(channel_id)) => Some(SlackSettings { bot_token, channel_id, api_base }),
    }
}

fn build_smtp(c: &mut Ctx<'_>) -> Option<SmtpSettings> {
    let host = c.get("SMTP_HOST").map(str::to_owned)?;
    let port = u16::try_from(c.int("SMTP_PORT", 587)).unwrap_or(587);
    let tls = match c.get("SMTP_TLS").map(str::to_ascii_lowercase).as_deref() {
        None | Some("starttls") => SmtpTls::StartTls,
        Some("tls") => SmtpTls::Tls,
        Some("none") => {
            let local =
                host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !local {
                c.invalid("SMTP_TLS", "none is allowed only for a loopback SMTP host");
            }
            SmtpTls::None
        }
        Some(other) => {
            c.invalid("SMTP_TLS", format!("`{other}` is not starttls, tls or none"));
            SmtpTls::StartTls
        }
    };
    let from = c.get("SMTP_FROM").map(str::to_owned);
    if from.is_none() {
        c.missing("SMTP_FROM", "SMTP_HOST is set");
    }
    let to: Vec<String> = c
        .get("SMTP_TO")
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if to.is_empty() {
        c.missing("SMTP_TO", "SMTP_HOST is set");
    }
    for addr in from.iter().chain(to.iter()) {
        if addr.parse::<lettre::Address>().is_err() {
            let key = if Some(addr) == from.as_ref() { "SMTP_FROM" } else { "SMTP_TO" };
            c.invalid(key, format!("`{addr}` is not an email address"));
        }
    }
    let username = c.get("SMTP_USERNAME").map(str::to_owned);
    let password = c.get("SMTP_PASSWORD").map(Secret::new);
    Some(SmtpSettings { host, port, tls, username, password, from: from.unwrap_or_default(), to })
}

fn build_ai(c: &mut Ctx<'_>) -> Option<AiSettings> {
    let any = ["AI_API_BASE", "AI_API_KEY", "AI_MODEL"].iter().any(|k| c.get(k).is_some());
    let timeout = c.int("AI_TIMEOUT_SECS", 60);
    if !any {
        return None;
    }
    if c.get("AI_API_BASE").is_none() {
        c.missing("AI_API_BASE", "another AI_* key is set");
    }
    let model = c.get("AI_MODEL").map(str::to_owned);
    if model.is_none() {
        c.missing("AI_MODEL", "another AI_* key is set");
    }
    let api_base = c.url("AI_API_BASE", "http://127.0.0.1/", &["https", "http"]);
    let api_key = c.get("AI_API_KEY").map(Secret::new);
    Some(AiSettings { api_base, api_key, model: model?, timeout: Duration::from_secs(timeout) })
}

/// Builds one pipeline's risk limits from its keys (`RISK_*` or `US_RISK_*`). Without a daily loss
/// limit while `live_requires_loss` (MODE=LIVE, and for the US a US pipeline) is a problem: the
/// limit is the kill switch.
fn build_risk(c: &mut Ctx<'_>, keys: &RiskKeys, live_requires_loss: bool) -> RiskSettings {
    let include_unrealized = c.bool(keys.include_unrealized, true);
    let daily_loss = c.decimal(keys.daily_loss).map(|max_loss| DailyLossLimit {
        max_loss,
        include_unrealized,
        block_reducing: false,
    });
    if live_requires_loss && daily_loss.is_none() && !c.has_problem(keys.daily_loss) {
        c.invalid(keys.daily_loss, keys.live_needs_daily_loss);
    }
    let max_orders = c.int(keys.max_orders_per_day, DEFAULT_MAX_ORDERS_PER_DAY.into());
    let guardrails = RiskConfig {
        daily_loss,
        symbol_exposure: c.decimal(keys.max_position_value).map(ExposureLimit::Value),
        max_open_positions: c
            .typed(keys.max_open_positions, Key::int_value)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        max_order_value: c.decimal(keys.max_order_value),
        max_orders_per_day: Some(u32::try_from(max_orders).unwrap_or(DEFAULT_MAX_ORDERS_PER_DAY)),
        max_gross_exposure: c.decimal(keys.max_gross_exposure),
    };
    RiskSettings { guardrails, kill_switch_daily_loss: daily_loss }
}

/// Builds the US pipeline (`US_SYMBOLS`, `US_RISK_*`): `None` when `US_SYMBOLS` names no ticker.
/// Every wrong entry of `US_SYMBOLS` is a problem of its own, and a list with one is not used
/// (no US pipeline rather than part of one). The `US_RISK_*` values are checked either way.
fn build_us(c: &mut Ctx<'_>, mode: Mode) -> Option<UsSettings> {
    const KEY: &str = "US_SYMBOLS";
    let named = c.get(KEY).is_some_and(|v| v.split(',').any(|e| !e.trim().is_empty()));
    let venues = match (c.get(KEY), find(KEY)) {
        (Some(v), Some(k)) => match k.us_venues_value(v) {
            Ok(venues) => venues,
            Err(wrong) => {
                for reason in wrong {
                    c.invalid(KEY, reason);
                }
                BTreeMap::new()
            }
        },
        (Some(_), None) => {
            c.invalid(KEY, "not in the key table");
            BTreeMap::new()
        }
        (None, _) => BTreeMap::new(),
    };
    let risk = build_risk(c, &US_RISK, mode == Mode::Live && named);
    (!venues.is_empty()).then_some(UsSettings { venues, risk })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{Kind, Sources, load};
    use super::*;
    use crate::domain::Symbol;
    use crate::domain::overseas::UsExchange;

    fn sources(pairs: &[(&str, &str)]) -> Sources {
        let env: BTreeMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Sources { env: Some(env), no_implicit_files: true, ..Sources::default() }
    }

    pub(crate) fn valid_env() -> Vec<(&'static str, String)> {
        vec![
            ("MODE", "PAPER".to_owned()),
            ("KIS_APP_KEY", "A".repeat(36)),
            ("KIS_APP_SECRET", "S".repeat(180)),
            ("KIS_ACCOUNT", "50123456-01".to_owned()),
            ("KIS_HTS_ID", "trader01".to_owned()),
        ]
    }

    #[test]
    fn empty_environment_lists_every_missing_key() {
        let loaded = load(&sources(&[]));
        let missing: Vec<_> = loaded.problems.iter().map(ConfigProblem::key).collect();
        assert_eq!(missing, ["KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT", "KIS_HTS_ID"]);
        assert_eq!(loaded.settings.mode, Mode::Paper);
        assert_eq!(loaded.settings.kis.rate_limit_per_sec, 2);
    }

    #[test]
    fn the_us_paper_sell_tr_id_defaults_to_the_documented_one_and_is_checked() {
        let loaded = load(&sources(&[]));
        assert_eq!(loaded.settings.kis.us_paper_sell_tr_id, "VTTT1001U");
        let loaded = load(&sources(&[("KIS_US_PAPER_SELL_TR_ID", "VTTT1006U")]));
        assert_eq!(loaded.settings.kis.us_paper_sell_tr_id, "VTTT1006U");
        for bad in ["TTTT1006U", "vttt1006u", "VTTT1006", "VTTT1006U;"] {
            let loaded = load(&sources(&[("KIS_US_PAPER_SELL_TR_ID", bad)]));
            assert_eq!(loaded.problems_for(&["KIS_US_PAPER_SELL_TR_ID"]).len(), 1, "{bad}");
        }
    }

    #[test]
    fn valid_environment_has_no_problems() {
        let env = valid_env();
        let pairs: Vec<_> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let loaded = load(&sources(&pairs));
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        assert_eq!(
            loaded.settings.kis.rest_base_url.as_str(),
            "https://openapivts.koreainvestment.com:29443/"
        );
        assert_eq!(loaded.settings.kis.ws_url.port(), Some(31000));
    }

    #[test]
    fn every_problem_is_reported_at_once_without_secrets() {
        let secret = "s3cr3t-".repeat(5);
        let loaded = load(&sources(&[
            ("MODE", "LIVE"),
            ("KIS_APP_KEY", &secret),
            ("KIS_APP_SECRET", "short-secret-value"),
            ("KIS_ACCOUNT", "98765432-1"),
            ("KIS_HTS_ID", "me"),
            ("KIS_REST_BASE_URL", "http://example.com"),
            ("KIS_WS_URL", "not a url"),
            ("SLACK_BOT_TOKEN", "xoxb-very-secret"),
            ("SLACK_CHANNEL_ID", "#trading"),
            ("LOG_FORMAT", "xml"),
        ]));
        let keys: Vec<_> = loaded.problems.iter().map(ConfigProblem::key).collect();
        for k in [
            "KIS_APP_KEY",
            "KIS_APP_SECRET",
            "KIS_ACCOUNT",
            "KIS_REST_BASE_URL",
            "KIS_WS_URL",
            "SLACK_CHANNEL_ID",
            "LOG_FORMAT",
        ] {
            assert!(keys.contains(&k), "{k} not reported: {keys:?}");
        }
        let text: String = loaded.problems.iter().map(|p| format!("{p}\n")).collect();
        for leaked in [secret.as_str(), "short-secret-value", "98765432", "xoxb-very-secret"] {
            assert!(!text.contains(leaked), "leaked {leaked}: {text}");
        }
        assert!(text.contains("must be 36 characters"));
        assert!(text.contains("channel ID"));
    }

    #[test]
    fn loopback_http_is_allowed_for_the_simulator() {
        let mut env = valid_env();
        env.push(("KIS_REST_BASE_URL", "http://127.0.0.1:8080".to_owned()));
        env.push(("KIS_WS_URL", "ws://127.0.0.1:8080/tryitout".to_owned()));
        let pairs: Vec<_> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert!(load(&sources(&pairs)).problems.is_empty());
    }

    fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    fn with(extra: &[(&'static str, &str)]) -> Loaded {
        let mut env = valid_env();
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        load(&sources(&pairs(&env)))
    }

    fn texts(loaded: &Loaded) -> Vec<String> {
        loaded.problems.iter().map(ToString::to_string).collect()
    }

    /// Loads `aegis.toml` with `text` plus the environment `env`.
    fn with_toml(text: &str, env: &[(&'static str, String)]) -> Loaded {
        let dir = crate::store::testing::TempDir::new("aegis-config").unwrap();
        let path = dir.0.join("aegis.toml");
        std::fs::write(&path, text).unwrap();
        let mut src = sources(&pairs(env));
        src.toml_path = Some(path);
        load(&src)
    }

    #[test]
    fn numeric_keys_are_bounded() {
        let loaded = with(&[("KIS_TOKEN_REFRESH_AHEAD_MINS", "2000")]);
        assert_eq!(texts(&loaded), ["KIS_TOKEN_REFRESH_AHEAD_MINS: 2000 is out of range (0..=720 minutes)"]);
        assert_eq!(loaded.settings.kis.token_refresh_ahead, Duration::from_secs(30 * 60));
        let loaded = with(&[("KIS_TOKEN_REFRESH_AHEAD_MINS", "99999999999999")]);
        assert_eq!(loaded.problems.len(), 1);
        assert!(texts(&loaded)[0].contains("out of range (0..=720 minutes)"));
        let loaded = with(&[("KIS_TOKEN_REFRESH_AHEAD_MINS", "720"), ("KIS_TIMEOUT_SECS", "120")]);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        assert_eq!(loaded.settings.kis.token_refresh_ahead, Duration::from_secs(720 * 60));
        for (key, bad) in [
            ("KIS_TIMEOUT_SECS", "0"),
            ("KIS_TIMEOUT_SECS", "121"),
            ("KIS_RATE_LIMIT_PER_SEC", "0"),
            ("KIS_RATE_LIMIT_PER_SEC", "21"),
            ("SMTP_PORT", "70000"),
            ("AI_TIMEOUT_SECS", "0"),
            ("RISK_MAX_OPEN_POSITIONS", "0"),
            ("RISK_MAX_ORDERS_PER_DAY", "10001"),
            ("RISK_MAX_ORDER_VALUE_KRW", "-5"),
        ] {
            let loaded =
                with(&[(key, bad), ("SMTP_HOST", "localhost"), ("SMTP_FROM", "a@b.c"), ("SMTP_TO", "d@e.f")]);
            let found = texts(&loaded);
            assert!(
                found.iter().any(|t| t.starts_with(&format!("{key}: {bad} is out of range ("))),
                "{key}={bad}: {found:?}"
            );
        }
    }

    #[test]
    fn metrics_listen_is_an_address_or_off() {
        let loaded = with(&[]);
        assert_eq!(loaded.settings.metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
        let loaded = with(&[("METRICS_LISTEN", "off")]);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        assert_eq!(loaded.settings.metrics_listen, None);
        let loaded = with(&[("METRICS_LISTEN", "0.0.0.0:9100")]);
        assert_eq!(loaded.settings.metrics_listen, Some("0.0.0.0:9100".parse().unwrap()));
        let loaded = with(&[("METRICS_LISTEN", "localhost")]);
        assert_eq!(loaded.problems.len(), 1);
        assert!(
            texts(&loaded)[0].starts_with("METRICS_LISTEN: `localhost` is not an address"),
            "{:?}",
            texts(&loaded)
        );
        let loaded = with_toml("[metrics]\nlisten = \"127.0.0.1:0\"\n", &valid_env());
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        assert_eq!(loaded.settings.metrics_listen.map(|a| a.port()), Some(0));
    }

    #[test]
    fn the_simulator_on_loopback_may_take_more_than_twenty_calls_a_second() {
        let loaded =
            with(&[("KIS_REST_BASE_URL", "http://127.0.0.1:9000"), ("KIS_RATE_LIMIT_PER_SEC", "200")]);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        assert_eq!(loaded.settings.kis.rate_limit_per_sec, 200);
        let loaded = with(&[("KIS_RATE_LIMIT_PER_SEC", "200")]);
        assert_eq!(texts(&loaded), ["KIS_RATE_LIMIT_PER_SEC: 200 is out of range (1..=20 calls per second)"]);
    }

    #[test]
    fn toml_values_are_type_checked_even_when_the_environment_overrides_them() {
        // The environment sets a valid app key; the file's integer is still a problem.
        let loaded = with_toml("[kis]\napp_key = 5\n", &valid_env());
        assert_eq!(loaded.problems.len(), 1, "{:?}", loaded.problems);
        let text = loaded.problems[0].to_string();
        assert_eq!(loaded.problems[0].key(), "KIS_APP_KEY");
        assert!(text.contains("expected text") && text.contains("got an integer"), "{text}");
        assert!(text.contains("[kis] app_key") && text.contains("aegis.toml"), "{text}");
        assert!(loaded.settings.kis.app_key.is_some());

        let cases = [
            ("[kis]\ntimeout_secs = \"abc\"\n", "KIS_TIMEOUT_SECS", "`abc` is not a whole number"),
            ("[kis]\ntimeout_secs = 2.5\n", "KIS_TIMEOUT_SECS", "got a float"),
            ("[kis]\ntoken_refresh_ahead_mins = 2000\n", "KIS_TOKEN_REFRESH_AHEAD_MINS", "out of range"),
            ("[kis]\nhashkey = 1\n", "KIS_HASHKEY", "got an integer"),
            ("mode = true\n", "MODE", "got a boolean"),
            ("[smtp]\nto = [\"a@b.c\", 5]\n", "SMTP_TO", "got an integer in the list"),
            ("[risk]\ndaily_loss_krw = \"abc\"\n", "RISK_DAILY_LOSS_KRW", "is not a number"),
            ("[risk]\ndaily_loss_krw = [1]\n", "RISK_DAILY_LOSS_KRW", "got an array"),
        ];
        let mut env = valid_env();
        for key in [
            "KIS_TIMEOUT_SECS",
            "KIS_TOKEN_REFRESH_AHEAD_MINS",
            "KIS_HASHKEY",
            "SMTP_TO",
            "RISK_DAILY_LOSS_KRW",
        ] {
            env.push((key, String::new()));
        }
        env.push(("KIS_TIMEOUT_SECS", "5".to_owned()));
        for (toml, key, what) in cases {
            let loaded = with_toml(toml, &env);
            let found = texts(&loaded);
            assert!(
                loaded.problems.iter().any(|p| p.key() == key && p.to_string().contains(what)),
                "{toml}: {found:?}"
            );
        }
        // Well-typed values of every kind pass, and decimals take floats, integers and strings.
        let ok = "mode = \"PAPER\"\n[kis]\ntimeout_secs = 7\nhashkey = false\nrate_limit_per_sec = \"3\"\n\
                  [smtp]\nport = 2525\n[risk]\ndaily_loss_krw = 250000.5\nmax_order_value_krw = 1000000\n\
                  max_position_value_krw = \"2000000\"\ndaily_loss_include_unrealized = false\n";
        let loaded = with_toml(ok, &valid_env());
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        assert_eq!(loaded.settings.kis.timeout, Duration::from_secs(7));
        assert!(!loaded.settings.kis.hashkey);
        let loss = loaded.settings.risk.kill_switch_daily_loss.unwrap();
        assert_eq!(loss.max_loss, Decimal::new(2_500_005, 1));
        assert!(!loss.include_unrealized);
    }

    #[test]
    fn wrong_secret_values_in_files_are_never_printed() {
        let loaded = with_toml("[kis]\napp_secret = [\"hunter2-very-secret\"]\n", &valid_env());
        let all = texts(&loaded).join("\n");
        assert!(all.contains("KIS_APP_SECRET") && !all.contains("hunter2"), "{all}");
        // A wrong file value of a required key is one problem, not also "missing".
        let env: Vec<_> = valid_env().into_iter().filter(|(k, _)| *k != "KIS_APP_KEY").collect();
        let loaded = with_toml("[kis]\napp_key = 1234\n", &env);
        assert_eq!(loaded.problems.iter().map(ConfigProblem::key).collect::<Vec<_>>(), ["KIS_APP_KEY"]);
        assert!(!texts(&loaded)[0].contains("1234"));
    }

    #[test]
    fn env_file_values_are_checked_even_when_the_environment_overrides_them() {
        let dir = crate::store::testing::TempDir::new("aegis-config").unwrap();
        let path = dir.0.join(".env");
        std::fs::write(&path, "KIS_TOKEN_REFRESH_AHEAD_MINS=2000\nKIS_RATE_LIMIT_PER_SEC=\n").unwrap();
        let mut env = valid_env();
        env.push(("KIS_TOKEN_REFRESH_AHEAD_MINS", "10".to_owned()));
        let mut src = sources(&pairs(&env));
        src.env_file = Some(path);
        let loaded = load(&src);
        assert_eq!(loaded.problems.len(), 1, "{:?}", loaded.problems);
        assert_eq!(loaded.problems[0].key(), "KIS_TOKEN_REFRESH_AHEAD_MINS");
        assert!(loaded.problems[0].to_string().contains(".env"));
        assert_eq!(loaded.settings.kis.token_refresh_ahead, Duration::from_secs(600));
    }

    #[test]
    fn risk_limits_parse_into_guardrails_and_the_kill_switch() {
        let loaded = with(&[
            ("RISK_DAILY_LOSS_KRW", "300000"),
            ("RISK_MAX_ORDER_VALUE_KRW", "1000000"),
            ("RISK_MAX_POSITION_VALUE_KRW", "5000000"),
            ("RISK_MAX_GROSS_EXPOSURE_KRW", "20000000"),
            ("RISK_MAX_OPEN_POSITIONS", "5"),
            ("RISK_MAX_ORDERS_PER_DAY", "50"),
        ]);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let r = loaded.settings.risk;
        let loss = DailyLossLimit {
            max_loss: Decimal::from(300_000),
            include_unrealized: true,
            block_reducing: false,
        };
        assert_eq!(r.kill_switch_daily_loss, Some(loss));
        assert_eq!(
            r.guardrails,
            RiskConfig {
                daily_loss: Some(loss),
                symbol_exposure: Some(ExposureLimit::Value(Decimal::from(5_000_000))),
                max_open_positions: Some(5),
                max_order_value: Some(Decimal::from(1_000_000)),
                max_orders_per_day: Some(50),
                max_gross_exposure: Some(Decimal::from(20_000_000)),
            }
        );
        // Defaults: only the orders-per-day cap.
        let r = with(&[]).settings.risk;
        assert_eq!(r.kill_switch_daily_loss, None);
        let default_cap =
            RiskConfig { max_orders_per_day: Some(DEFAULT_MAX_ORDERS_PER_DAY), ..RiskConfig::default() };
        assert_eq!(r.guardrails, default_cap);
        let loaded =
            with(&[("RISK_DAILY_LOSS_KRW", "abc"), ("RISK_DAILY_LOSS_INCLUDE_UNREALIZED", "perhaps")]);
        let keys: Vec<_> = loaded.problems.iter().map(ConfigProblem::key).collect();
        assert_eq!(keys, ["RISK_DAILY_LOSS_INCLUDE_UNREALIZED", "RISK_DAILY_LOSS_KRW"]);
    }

    #[test]
    fn live_without_a_daily_loss_limit_is_refused() {
        let loaded = with(&[("MODE", "LIVE")]);
        assert_eq!(texts(&loaded), [format!("RISK_DAILY_LOSS_KRW: {LIVE_NEEDS_DAILY_LOSS}")]);
        assert!(with(&[("MODE", "LIVE"), ("RISK_DAILY_LOSS_KRW", "500000")]).problems.is_empty());
        // A malformed limit is reported once, as malformed.
        let loaded = with(&[("MODE", "LIVE"), ("RISK_DAILY_LOSS_KRW", "lots")]);
        assert_eq!(
            texts(&loaded),
            ["RISK_DAILY_LOSS_KRW: `lots` is not a number (1..=1_000_000_000_000 KRW)"]
        );
        assert!(with(&[("MODE", "PAPER")]).problems.is_empty());
    }

    fn us_venue(ticker: &str, exchange: UsExchange) -> (Symbol, UsExchange) {
        (Symbol::new(ticker).unwrap(), exchange)
    }

    #[test]
    fn us_symbols_and_limits_parse_into_us_settings() {
        let loaded = with(&[
            ("US_SYMBOLS", " AAPL:NASD, IBM:NYSE,BRK.B:nyse,,SPY:AMEX "),
            ("US_RISK_DAILY_LOSS_USD", "2500.50"),
            ("US_RISK_DAILY_LOSS_INCLUDE_UNREALIZED", "false"),
            ("US_RISK_MAX_ORDER_VALUE_USD", "1000.25"),
            ("US_RISK_MAX_POSITION_VALUE_USD", "5000"),
            ("US_RISK_MAX_GROSS_EXPOSURE_USD", "20000.99"),
            ("US_RISK_MAX_OPEN_POSITIONS", "4"),
            ("US_RISK_MAX_ORDERS_PER_DAY", "30"),
        ]);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let us = loaded.settings.us.expect("US_SYMBOLS names tickers");
        let venues: BTreeMap<_, _> = [
            us_venue("AAPL", UsExchange::Nasdaq),
            us_venue("IBM", UsExchange::Nyse),
            us_venue("BRK.B", UsExchange::Nyse),
            us_venue("SPY", UsExchange::Amex),
        ]
        .into();
        assert_eq!(us.venues, venues);
        let loss = DailyLossLimit {
            max_loss: Decimal::new(25_005, 1),
            include_unrealized: false,
            block_reducing: false,
        };
        assert_eq!(us.risk.kill_switch_daily_loss, Some(loss));
        assert_eq!(
            us.risk.guardrails,
            RiskConfig {
                daily_loss: Some(loss),
                symbol_exposure: Some(ExposureLimit::Value(Decimal::from(5_000))),
                max_open_positions: Some(4),
                max_order_value: Some(Decimal::new(100_025, 2)),
                max_orders_per_day: Some(30),
                max_gross_exposure: Some(Decimal::new(2_000_099, 2)),
            }
        );
        // The KRX limits are untouched by the US ones.
        assert_eq!(loaded.settings.risk.kill_switch_daily_loss, None);
        assert_eq!(loaded.settings.risk.guardrails.max_orders_per_day, Some(DEFAULT_MAX_ORDERS_PER_DAY));

        // Defaults: only the orders-per-day cap, unrealized P&L counted once a loss limit is set.
        let us = with(&[("US_SYMBOLS", "AAPL:NASD")]).settings.us.unwrap();
        assert_eq!(us.venues.len(), 1);
        let default_cap =
            RiskConfig { max_orders_per_day: Some(DEFAULT_MAX_ORDERS_PER_DAY), ..RiskConfig::default() };
        assert_eq!(us.risk, RiskSettings { guardrails: default_cap, kill_switch_daily_loss: None });
        let us = with(&[("US_SYMBOLS", "AAPL:NASD"), ("US_RISK_DAILY_LOSS_USD", "1")]).settings.us.unwrap();
        assert!(us.risk.kill_switch_daily_loss.is_some_and(|l| l.include_unrealized));
    }

    #[test]
    fn no_us_symbols_is_no_us_pipeline() {
        for v in [None, Some(""), Some("  "), Some(" , ,")] {
            let loaded = with(&v.map(|v| ("US_SYMBOLS", v)).into_iter().collect::<Vec<_>>());
            assert!(loaded.problems.is_empty(), "{v:?}: {:?}", loaded.problems);
            assert!(loaded.settings.us.is_none(), "{v:?}");
        }
        // US limits without US_SYMBOLS are still checked, and LIVE does not ask for a US one.
        let loaded = with(&[("US_RISK_MAX_ORDER_VALUE_USD", "-1")]);
        assert_eq!(
            loaded.problems.iter().map(ConfigProblem::key).collect::<Vec<_>>(),
            ["US_RISK_MAX_ORDER_VALUE_USD"]
        );
        assert!(with(&[("MODE", "LIVE"), ("RISK_DAILY_LOSS_KRW", "500000")]).problems.is_empty());
    }

    #[test]
    fn wrong_us_symbols_entries_are_each_a_problem_naming_the_entry() {
        let cases = [
            ("AAPL:NASDAQ", "`NASDAQ` is not a US exchange (NASD, NYSE or AMEX)"),
            ("AAPL:KRX", "`KRX` is not a US exchange"),
            ("AAPL:NAS", "`NAS` is not a US exchange"),
            ("005930:NASD", "`005930` is a KRX code, not a US ticker"),
            ("005930:KRX", "`005930` is a KRX code, not a US ticker"),
            ("aapl:NASD", "`aapl` is not a US ticker"),
            ("TOOLONG:NYSE", "`TOOLONG` is not a US ticker (1 to 5 uppercase letters"),
            ("0001A0:NYSE", "`0001A0` is a KRX code"),
            ("A$:NYSE", "`A$` is not a US ticker"),
            ("AAPL", "not TICKER:EXCHANGE"),
            (":NASD", "not TICKER:EXCHANGE"),
            ("AAPL:", "not TICKER:EXCHANGE"),
        ];
        for (entry, why) in cases {
            let loaded = with(&[("US_SYMBOLS", &format!("IBM:NYSE,{entry}"))]);
            let text = texts(&loaded).join("\n");
            assert!(
                text.starts_with(&format!("US_SYMBOLS: entry `{entry}`: ")) && text.contains(why),
                "{text}"
            );
            assert_eq!(loaded.problems.len(), 1, "{entry}: {:?}", loaded.problems);
            assert_eq!(loaded.problems[0].key(), "US_SYMBOLS");
            assert!(loaded.settings.us.is_none(), "{entry}: a list with a wrong entry is not used");
        }
        // A ticker listed twice, on the same or another exchange; every wrong entry reported.
        let loaded = with(&[("US_SYMBOLS", "AAPL:NASD,IBM:NYSE,AAPL:NYSE,IBM:NYSE,MSFT:LSE")]);
        assert_eq!(
            texts(&loaded),
            [
                "US_SYMBOLS: entry `AAPL:NYSE`: ticker AAPL is listed more than once",
                "US_SYMBOLS: entry `IBM:NYSE`: ticker IBM is listed more than once",
                "US_SYMBOLS: entry `MSFT:LSE`: `LSE` is not a US exchange (NASD, NYSE or AMEX)",
            ]
        );
        assert!(loaded.settings.us.is_none());
    }

    #[test]
    fn us_limits_are_bounded_like_the_krx_ones() {
        for (key, bad) in [
            ("US_RISK_DAILY_LOSS_USD", "0"),
            ("US_RISK_DAILY_LOSS_USD", "-100"),
            ("US_RISK_DAILY_LOSS_USD", "0.99"),
            ("US_RISK_DAILY_LOSS_USD", "1000000000.01"),
            ("US_RISK_MAX_ORDER_VALUE_USD", "0"),
            ("US_RISK_MAX_POSITION_VALUE_USD", "-5"),
            ("US_RISK_MAX_GROSS_EXPOSURE_USD", "2000000000"),
            ("US_RISK_MAX_OPEN_POSITIONS", "0"),
            ("US_RISK_MAX_ORDERS_PER_DAY", "10001"),
        ] {
            let loaded = with(&[("US_SYMBOLS", "AAPL:NASD"), (key, bad)]);
            assert_eq!(loaded.problems.len(), 1, "{key}={bad}: {:?}", loaded.problems);
            assert_eq!(loaded.problems[0].key(), key);
            let text = loaded.problems[0].to_string();
            assert!(text.starts_with(&format!("{key}: {bad} is out of range (")), "{text}");
        }
        let loaded =
            with(&[("US_RISK_DAILY_LOSS_USD", "lots"), ("US_RISK_DAILY_LOSS_INCLUDE_UNREALIZED", "eh")]);
        assert_eq!(
            texts(&loaded),
            [
                "US_RISK_DAILY_LOSS_INCLUDE_UNREALIZED: `eh` is not a boolean (true/false)",
                "US_RISK_DAILY_LOSS_USD: `lots` is not a number (1..=1_000_000_000 USD)",
            ]
        );
    }

    #[test]
    fn live_with_us_symbols_requires_a_us_daily_loss_limit() {
        let krw = ("RISK_DAILY_LOSS_KRW", "500000");
        let loaded = with(&[("MODE", "LIVE"), krw, ("US_SYMBOLS", "AAPL:NASD")]);
        assert_eq!(texts(&loaded), [format!("US_RISK_DAILY_LOSS_USD: {LIVE_NEEDS_US_DAILY_LOSS}")]);
        // Both limits missing: both reported, each against its own key, both LIVE-only.
        let loaded = with(&[("MODE", "LIVE"), ("US_SYMBOLS", "AAPL:NASD")]);
        let keys: Vec<_> = loaded.problems.iter().map(ConfigProblem::key).collect();
        assert_eq!(keys, ["RISK_DAILY_LOSS_KRW", "US_RISK_DAILY_LOSS_USD"]);
        assert!(loaded.problems.iter().all(ConfigProblem::is_live_only));
        // A malformed limit is reported once, as malformed.
        let loaded =
            with(&[("MODE", "LIVE"), krw, ("US_SYMBOLS", "AAPL:NASD"), ("US_RISK_DAILY_LOSS_USD", "0")]);
        assert_eq!(texts(&loaded), ["US_RISK_DAILY_LOSS_USD: 0 is out of range (1..=1_000_000_000 USD)"]);
        // A US_SYMBOLS with only wrong entries still names a US pipeline: the limit is asked for too.
        let loaded = with(&[("MODE", "LIVE"), krw, ("US_SYMBOLS", "AAPL:KRX")]);
        let keys: Vec<_> = loaded.problems.iter().map(ConfigProblem::key).collect();
        assert_eq!(keys, ["US_SYMBOLS", "US_RISK_DAILY_LOSS_USD"]);
        let live_only: Vec<_> = loaded.problems.iter().map(ConfigProblem::is_live_only).collect();
        assert_eq!(live_only, [false, true]);
        let loaded =
            with(&[("MODE", "LIVE"), krw, ("US_SYMBOLS", "AAPL:NASD"), ("US_RISK_DAILY_LOSS_USD", "2500.5")]);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        assert!(loaded.settings.us.is_some());
        // PAPER does not require it.
        assert!(with(&[("US_SYMBOLS", "AAPL:NASD")]).problems.is_empty());
    }

    #[test]
    fn us_keys_take_the_toml_form() {
        let text = "[us]\nsymbols = \"AAPL:NASD,IBM:NYSE\"\n\
                    [us_risk]\ndaily_loss_usd = 2500.5\nmax_order_value_usd = \"1000.25\"\n\
                    max_position_value_usd = 5000\nmax_open_positions = 3\ndaily_loss_include_unrealized = false\n";
        let mut env = valid_env();
        env.push(("MODE", "LIVE".to_owned()));
        env.push(("RISK_DAILY_LOSS_KRW", "500000".to_owned()));
        let loaded = with_toml(text, &env);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let us = loaded.settings.us.unwrap();
        assert_eq!(
            us.venues,
            BTreeMap::from([us_venue("AAPL", UsExchange::Nasdaq), us_venue("IBM", UsExchange::Nyse)])
        );
        let g = us.risk.guardrails;
        assert_eq!(
            us.risk.kill_switch_daily_loss,
            Some(DailyLossLimit {
                max_loss: Decimal::new(25_005, 1),
                include_unrealized: false,
                block_reducing: false
            })
        );
        assert_eq!(g.max_order_value, Some(Decimal::new(100_025, 2)));
        assert_eq!(g.symbol_exposure, Some(ExposureLimit::Value(Decimal::from(5_000))));
        assert_eq!(g.max_open_positions, Some(3));

        // An array of pairs; `[us] risk_daily_loss_usd` is the same key as `[us_risk] daily_loss_usd`.
        let text = "[us]\nsymbols = [\"AAPL:NASD\", \"SPY:AMEX\"]\nrisk_daily_loss_usd = 100\n";
        let loaded = with_toml(text, &env);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let us = loaded.settings.us.unwrap();
        assert_eq!(us.venues.get(&Symbol::new("SPY").unwrap()), Some(&UsExchange::Amex));
        assert_eq!(us.risk.kill_switch_daily_loss.map(|l| l.max_loss), Some(Decimal::from(100)));

        // Wrong file values are problems of their key, naming the entry, and are not used.
        let cases = [
            ("[us]\nsymbols = \"005930:KRX\"\n", "US_SYMBOLS", "entry `005930:KRX`: `005930` is a KRX code"),
            ("[us]\nsymbols = [\"AAPL:NASD\", 5]\n", "US_SYMBOLS", "got an integer in the list"),
            ("[us]\nsymbols = 5\n", "US_SYMBOLS", "expected a list of US TICKER:EXCHANGE pairs"),
            ("[us_risk]\ndaily_loss_usd = -1\n", "US_RISK_DAILY_LOSS_USD", "out of range"),
            ("[us_risk]\nmax_orders_per_day = 2.5\n", "US_RISK_MAX_ORDERS_PER_DAY", "got a float"),
        ];
        for (toml, key, what) in cases {
            let loaded = with_toml(toml, &valid_env());
            assert!(
                loaded.problems.iter().any(|p| p.key() == key && p.to_string().contains(what)),
                "{toml}: {:?}",
                texts(&loaded)
            );
            assert!(loaded.settings.us.is_none(), "{toml}");
        }
        // An unknown key of the sections is refused like any other.
        let loaded = with_toml("[us]\nsymbol = \"AAPL:NASD\"\n", &valid_env());
        assert_eq!(texts(&loaded).len(), 1);
        assert!(texts(&loaded)[0].contains("unknown key `[us] symbol`"), "{:?}", texts(&loaded));
    }

    #[test]
    fn us_risk_keys_are_the_krx_ones_under_a_prefix_in_usd() {
        let fields = |k: &RiskKeys| {
            [
                k.daily_loss,
                k.include_unrealized,
                k.max_order_value,
                k.max_position_value,
                k.max_gross_exposure,
                k.max_open_positions,
                k.max_orders_per_day,
            ]
        };
        for (krx, us) in fields(&KRX_RISK).into_iter().zip(fields(&US_RISK)) {
            assert_eq!(format!("US_{}", krx.replace("_KRW", "_USD")), us);
            let (krx, us) = (find(krx).unwrap(), find(us).unwrap());
            assert_eq!(krx.default, us.default, "{}", us.name);
            match (krx.kind, us.kind) {
                (Kind::Decimal(k), Kind::Decimal(u)) => {
                    assert_eq!((k.min, k.unit, u.unit), (u.min, "KRW", "USD"))
                }
                (k, u) => assert_eq!(k, u, "{}", us.name),
            }
        }
    }

    #[test]
    fn partial_optional_groups_are_reported() {
        let mut env = valid_env();
        env.push(("SMTP_HOST", "smtp.example.com".to_owned()));
        env.push(("AI_MODEL", "gpt".to_owned()));
        let pairs: Vec<_> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let keys: Vec<_> = load(&sources(&pairs)).problems.iter().map(|p| p.key().to_owned()).collect();
        assert_eq!(keys, ["SMTP_FROM", "SMTP_TO", "AI_API_BASE"]);
    }
}
