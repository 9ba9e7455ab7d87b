//! Turning raw values into typed [`Settings`], collecting every problem on the way.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::sources::RawConfig;
use super::{
    AiSettings, KisSettings, Loaded, LogFormat, LogSettings, Secret, Settings, SlackSettings, SmtpSettings,
    SmtpTls, default_urls,
};
use crate::domain::{AccountNo, Mode};

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
            Self::Missing { key, .. } | Self::Invalid { key, .. } => key,
            Self::UnknownKey { .. } | Self::File { .. } => "",
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { key, why } => write!(f, "{key}: missing ({why})"),
            Self::Invalid { key, reason } => write!(f, "{key}: {reason}"),
            Self::UnknownKey { key, source } => write!(f, "{source}: unknown key `{key}`"),
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

    fn missing(&mut self, key: &'static str, why: &'static str) {
        self.problems.push(ConfigProblem::Missing { key, why });
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

    fn bool(&mut self, key: &'static str, default: bool) -> bool {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => default,
            Some("true" | "1" | "yes" | "on") => true,
            Some("false" | "0" | "no" | "off") => false,
            Some(v) => {
                self.invalid(key, format!("`{v}` is not a boolean (true/false)"));
                default
            }
        }
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
    let custtype = c.get("KIS_CUSTTYPE").unwrap_or("P").to_owned();
    if custtype != "P" && custtype != "B" {
        c.invalid("KIS_CUSTTYPE", "must be P (individual) or B (corporate)");
    }
    let hashkey = c.bool("KIS_HASHKEY", true);
    let timeout_secs: u64 = c.parse("KIS_TIMEOUT_SECS", 5, "a number of seconds");
    if timeout_secs == 0 {
        c.invalid("KIS_TIMEOUT_SECS", "must be at least 1");
    }
    let default_rate = match mode {
        Mode::Live => 20,
        Mode::Paper => 2,
    };
    let rate_limit_per_sec: u32 = c.parse("KIS_RATE_LIMIT_PER_SEC", default_rate, "a whole number");
    if rate_limit_per_sec == 0 {
        c.invalid("KIS_RATE_LIMIT_PER_SEC", "must be at least 1");
    }
    let ahead_mins: u64 = c.parse("KIS_TOKEN_REFRESH_AHEAD_MINS", 30, "a number of minutes");

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

    let slack = build_slack(&mut c);
    let smtp = build_smtp(&mut c);
    let ai = build_ai(&mut c);

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
            hashkey,
            timeout: Duration::from_secs(timeout_secs.max(1)),
            rate_limit_per_sec: rate_limit_per_sec.max(1),
            token_refresh_ahead: Duration::from_secs(ahead_mins * 60),
        },
        db_url: Secret::new(db_url),
        log,
        slack,
        smtp,
        ai,
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
    let port: u16 = c.parse("SMTP_PORT", 587, "a port number");
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
    let timeout: u64 = c.parse("AI_TIMEOUT_SECS", 60, "a number of seconds");
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
    Some(AiSettings { api_base, api_key, model: model?, timeout: Duration::from_secs(timeout.max(1)) })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{Sources, load};
    use super::*;

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
