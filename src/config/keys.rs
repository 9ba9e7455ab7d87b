//! Every configuration key aegis reads, with its type, range, default and one-line documentation.
//!
//! The same table drives `.env`/environment lookup, `aegis.toml` key validation
//! (`[section] key` ⇔ `SECTION_KEY`), the type and range check of every value (whichever layer it
//! comes from, see [`Key::check`]) and the README's configuration table (tests assert that every
//! key and every range is documented there and in `.env.example`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::domain::overseas::UsExchange;
use crate::domain::{Exchange, Symbol};

/// An inclusive range of a numeric key, with the unit shown in messages and docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Smallest accepted value.
    pub min: u64,
    /// Largest accepted value.
    pub max: u64,
    /// Unit, e.g. `minutes` or `KRW`.
    pub unit: &'static str,
}

impl Range {
    /// Returns `min..=max` without the unit (as written in README.md), e.g. `1..=1_000_000`.
    pub fn bounds(&self) -> String {
        format!("{}..={}", group(self.min), group(self.max))
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.bounds(), self.unit)
    }
}

/// Writes a number with `_` between groups of three digits from 10 000 up (`1_000_000`).
fn group(n: u64) -> String {
    let digits = n.to_string();
    if n < 10_000 {
        return digits;
    }
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(ch);
    }
    out
}

/// The type of a key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text (checked by the key's own rules, e.g. a URL).
    Text,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A whole number within a range.
    Int(Range),
    /// A decimal number within a range.
    Decimal(Range),
    /// Comma-separated values (an array of strings in `aegis.toml`).
    List,
    /// Comma-separated `TICKER:EXCHANGE` pairs of US stocks, e.g. `AAPL:NASD,IBM:NYSE` (an array
    /// of strings in `aegis.toml` too); see [`Key::us_venues_value`].
    UsVenues,
}

impl Kind {
    /// Describes the expected value, for messages: `a whole number (0..=720 minutes)`.
    pub fn expected(&self) -> String {
        match self {
            Self::Text => "text (a quoted string)".to_owned(),
            Self::Bool => "a boolean (true/false)".to_owned(),
            Self::Int(r) => format!("a whole number ({r})"),
            Self::Decimal(r) => format!("a number ({r})"),
            Self::List => "a list of strings".to_owned(),
            Self::UsVenues => "a list of US TICKER:EXCHANGE pairs (e.g. AAPL:NASD,IBM:NYSE)".to_owned(),
        }
    }
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Environment-style name, e.g. `KIS_APP_KEY`.
    pub name: &'static str,
    /// Built-in default, if any.
    pub default: Option<&'static str>,
    /// True when the value is a secret (never printed).
    pub secret: bool,
    /// Type (and range) of the value.
    pub kind: Kind,
    /// One-line documentation.
    pub doc: &'static str,
}

impl Key {
    const fn int(self, min: u64, max: u64, unit: &'static str) -> Self {
        Self { kind: Kind::Int(Range { min, max, unit }), ..self }
    }

    const fn decimal(self, min: u64, max: u64, unit: &'static str) -> Self {
        Self { kind: Kind::Decimal(Range { min, max, unit }), ..self }
    }

    const fn boolean(self) -> Self {
        Self { kind: Kind::Bool, ..self }
    }

    const fn list(self) -> Self {
        Self { kind: Kind::List, ..self }
    }

    const fn us_venues(self) -> Self {
        Self { kind: Kind::UsVenues, ..self }
    }

    /// Returns the range of a numeric key.
    pub const fn range(&self) -> Option<Range> {
        match self.kind {
            Kind::Int(r) | Kind::Decimal(r) => Some(r),
            Kind::Text | Kind::Bool | Kind::List | Kind::UsVenues => None,
        }
    }

    /// How a value appears in a message: quoted, or `the value` for a secret key.
    fn shown(&self, v: &str) -> String {
        if self.secret { "the value".to_owned() } else { format!("`{v}`") }
    }

    /// Checks a (non-blank) value against the key's type and range.
    ///
    /// # Errors
    /// Returns what is wrong, naming the expected type and range; never a secret value.
    pub fn check(&self, v: &str) -> Result<(), String> {
        match self.kind {
            Kind::Text | Kind::List => Ok(()),
            Kind::Bool => self.bool_value(v).map(drop),
            Kind::Int(r) => self.int_in(v, r).map(drop),
            Kind::Decimal(_) => self.decimal_value(v).map(drop),
            Kind::UsVenues => self.us_venues_value(v).map(drop).map_err(|entries| entries.join("; ")),
        }
    }

    /// Parses a boolean value.
    ///
    /// # Errors
    /// Returns what is wrong when the value is not a boolean.
    pub fn bool_value(&self, v: &str) -> Result<bool, String> {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(format!("{} is not a boolean (true/false)", self.shown(v))),
        }
    }

    /// Parses a whole number within the key's range.
    ///
    /// # Errors
    /// Returns what is wrong when the key is not a whole-number key or the value is malformed or
    /// out of range.
    pub fn int_value(&self, v: &str) -> Result<u64, String> {
        match self.kind {
            Kind::Int(r) => self.int_in(v, r),
            other => Err(format!("is {}, not a whole number", other.expected())),
        }
    }

    /// Parses a whole number within `r` (the key's own range, or a wider one for the simulator).
    ///
    /// # Errors
    /// Returns what is wrong when the value is malformed or out of range.
    pub fn int_in(&self, v: &str, r: Range) -> Result<u64, String> {
        let t = v.trim();
        let out_of_range = || format!("{} is out of range ({r})", self.shown_number(t));
        match t.parse::<i128>() {
            Ok(n) => u64::try_from(n).ok().filter(|n| (r.min..=r.max).contains(n)).ok_or_else(out_of_range),
            Err(_) if looks_numeric(t) && !t.contains('.') => Err(out_of_range()),
            Err(_) => Err(format!("{} is not a whole number ({r})", self.shown(t))),
        }
    }

    /// Parses a decimal number within the key's range.
    ///
    /// # Errors
    /// Returns what is wrong when the key is not a decimal key or the value is malformed or out
    /// of range.
    pub fn decimal_value(&self, v: &str) -> Result<Decimal, String> {
        let Kind::Decimal(r) = self.kind else {
            return Err(format!("is {}, not a decimal number", self.kind.expected()));
        };
        let t = v.trim();
        let out_of_range = || format!("{} is out of range ({r})", self.shown_number(t));
        match Decimal::from_str(t) {
            Ok(d) if d < Decimal::from(r.min) || d > Decimal::from(r.max) => Err(out_of_range()),
            Ok(d) => Ok(d.normalize()),
            Err(_) if looks_numeric(t) => Err(out_of_range()),
            Err(_) => Err(format!("{} is not a number ({r})", self.shown(t))),
        }
    }

    /// Parses comma-separated `TICKER:EXCHANGE` pairs into each ticker's US exchange. A ticker is
    /// a US one ([`Symbol::us_ticker`]: `AAPL`, `BRK.B`; a KRX code such as `005930` is refused),
    /// the exchange `NASD`, `NYSE` or `AMEX` ([`Exchange::us`]); a ticker may appear once. Blank
    /// entries are skipped: a blank value is an empty map (no US pipeline).
    ///
    /// # Errors
    /// Returns one message per wrong entry, each naming the entry, when the key is not a
    /// `TICKER:EXCHANGE` list or any entry is wrong.
    pub fn us_venues_value(&self, v: &str) -> Result<BTreeMap<Symbol, UsExchange>, Vec<String>> {
        if self.kind != Kind::UsVenues {
            return Err(vec![format!("is {}, not a list of TICKER:EXCHANGE pairs", self.kind.expected())]);
        }
        let mut venues = BTreeMap::new();
        let mut wrong = Vec::new();
        for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match us_venue(entry) {
                Ok((ticker, _)) if venues.contains_key(&ticker) => {
                    wrong.push(format!("entry `{entry}`: ticker {ticker} is listed more than once"));
                }
                Ok((ticker, exchange)) => {
                    venues.insert(ticker, exchange);
                }
                Err(reason) => wrong.push(format!("entry `{entry}`: {reason}")),
            }
        }
        if wrong.is_empty() { Ok(venues) } else { Err(wrong) }
    }

    /// A number in a message: as written, unless it is a secret.
    fn shown_number(&self, t: &str) -> String {
        if self.secret { "the value".to_owned() } else { t.to_owned() }
    }
}

/// Parses one `TICKER:EXCHANGE` entry (already trimmed and not blank).
fn us_venue(entry: &str) -> Result<(Symbol, UsExchange), String> {
    let Some((ticker, exchange)) = entry
        .split_once(':')
        .map(|(t, e)| (t.trim(), e.trim()))
        .filter(|(t, e)| !t.is_empty() && !e.is_empty())
    else {
        return Err("not TICKER:EXCHANGE (e.g. AAPL:NASD)".to_owned());
    };
    let symbol = match Symbol::us_ticker(ticker.as_bytes()) {
        Some(s) => s,
        None if Symbol::from_ascii(ticker.as_bytes()).is_some()
            && ticker.bytes().any(|b| b.is_ascii_digit()) =>
        {
            return Err(format!("`{ticker}` is a KRX code, not a US ticker"));
        }
        None => {
            return Err(format!(
                "`{ticker}` is not a US ticker (1 to 5 uppercase letters, optionally `.` or `/` and a \
                 class of 1 or 2 letters, e.g. AAPL, BRK.B)"
            ));
        }
    };
    match exchange.parse::<Exchange>().ok().and_then(Exchange::us) {
        Some(us) => Ok((symbol, us)),
        None => Err(format!("`{exchange}` is not a US exchange (NASD, NYSE or AMEX)")),
    }
}

/// True for a string of digits with an optional sign and decimal point (a number too large to parse).
fn looks_numeric(t: &str) -> bool {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    !body.is_empty()
        && body.chars().all(|c| c.is_ascii_digit() || c == '.')
        && body.chars().filter(|c| *c == '.').count() <= 1
        && body.chars().any(|c| c.is_ascii_digit())
}

const fn k(name: &'static str, default: Option<&'static str>, secret: bool, doc: &'static str) -> Key {
    Key { name, default, secret, kind: Kind::Text, doc }
}

/// The largest amount any `RISK_*_KRW` key accepts (1 trillion KRW, the largest order input).
const MAX_KRW: u64 = 1_000_000_000_000;

/// The largest amount any `US_RISK_*_USD` key accepts (1 billion USD).
const MAX_USD: u64 = 1_000_000_000;

/// All keys, grouped as in `.env.example`.
pub const KEYS: &[Key] = &[
    k("MODE", Some("PAPER"), false, "LIVE (real money) or PAPER (KIS virtual trading)"),
    k("KIS_APP_KEY", None, true, "KIS app key (36 characters); separate keys for LIVE and PAPER"),
    k("KIS_APP_SECRET", None, true, "KIS app secret (180 characters)"),
    k(
        "KIS_ACCOUNT",
        None,
        true,
        "account number CANO-ACNT_PRDT_CD (8+2 digits); logged as last 4 digits only",
    ),
    k("KIS_HTS_ID", None, false, "HTS login id (tr_key of the execution-notice channel)"),
    k("KIS_REST_BASE_URL", None, false, "REST base URL; derived from MODE when unset"),
    k("KIS_WS_URL", None, false, "WebSocket URL; derived from MODE when unset (path /tryitout)"),
    k("KIS_CUSTTYPE", Some("P"), false, "customer type header: P individual, B corporate"),
    k(
        "KIS_US_PAPER_SELL_TR_ID",
        Some("VTTT1001U"),
        false,
        "paper TR id of a US sell: documented VTTT1001U, the vendor's sample code sends VTTT1006U \
         (unconfirmed which the paper host takes)",
    ),
    k("KIS_HASHKEY", Some("true"), false, "send a hashkey header on order POSTs").boolean(),
    k("KIS_TIMEOUT_SECS", Some("5"), false, "REST connect/read timeout in seconds").int(1, 120, "seconds"),
    k(
        "KIS_RATE_LIMIT_PER_SEC",
        None,
        false,
        "REST calls per second (default 20 LIVE, 2 PAPER; KIS allows 20/s live, more only against a \
         loopback simulator)",
    )
    .int(1, 20, "calls per second"),
    k(
        "KIS_TOKEN_REFRESH_AHEAD_MINS",
        Some("30"),
        false,
        "refresh the access token this long before expiry; the token lives 24 h, so a lead of 24 h \
         or more would re-issue it on every call: at most half its life",
    )
    .int(0, 720, "minutes"),
    k(
        "DB_URL",
        Some("sqlite://./aegis.db?mode=rwc"),
        true,
        "database URL: embedded SQLite file (default) or postgres://…",
    ),
    k(
        "AUDIT_RETENTION_DAYS",
        Some("365"),
        false,
        "days audit_log rows are kept; the close stage deletes older ones",
    )
    .int(1, 3650, "days"),
    k(
        "SCHEDULES_DIR",
        Some("schedules"),
        false,
        "directory of pipeline.toml (the stage schedule) and holidays.toml (the KRX calendar); \
         the built-in ones are used for a file that is not there",
    ),
    k("LOG_LEVEL", Some("info"), false, "tracing filter, e.g. info or aegis=debug,info"),
    k("LOG_DIR", None, false, "directory for daily rolling log files (console only when unset)"),
    k("LOG_FORMAT", Some("text"), false, "text or json"),
    k(
        "METRICS_LISTEN",
        Some("127.0.0.1:9464"),
        false,
        "address (IP:PORT) of the Prometheus /metrics, /healthz and /readyz listener of aegis run, \
         or off; loopback unless you mean to expose it",
    ),
    k("SLACK_BOT_TOKEN", None, true, "Slack bot token (xoxb-…); Slack alerts are off when unset"),
    k("SLACK_CHANNEL_ID", None, false, "Slack channel ID (C…/G…); a channel name is an error"),
    k(
        "SLACK_API_BASE",
        Some("https://slack.com/api/"),
        false,
        "Slack Web API base URL (tests use a local fake)",
    ),
    k("SMTP_HOST", None, false, "SMTP server for email alerts; email is off when unset"),
    k("SMTP_PORT", Some("587"), false, "SMTP port").int(1, 65_535, "port"),
    k("SMTP_TLS", Some("starttls"), false, "starttls, tls (implicit) or none (loopback only)"),
    k("SMTP_USERNAME", None, false, "SMTP user name"),
    k("SMTP_PASSWORD", None, true, "SMTP password"),
    k("SMTP_FROM", None, false, "sender address of alert emails"),
    k("SMTP_TO", None, false, "comma-separated recipient addresses").list(),
    k(
        "AI_API_BASE",
        None,
        false,
        "OpenAI-compatible chat-completions base URL (journal falls back to a template when unset)",
    ),
    k("AI_API_KEY", None, true, "API key for AI_API_BASE"),
    k("AI_MODEL", None, false, "model name for AI_API_BASE"),
    k("AI_TIMEOUT_SECS", Some("60"), false, "timeout of one AI call in seconds").int(1, 600, "seconds"),
    k(
        "RISK_DAILY_LOSS_KRW",
        None,
        false,
        "daily loss limit in KRW, the kill switch: blocks new risk and trips STOP mode (required for LIVE)",
    )
    .decimal(1, MAX_KRW, "KRW"),
    k(
        "RISK_DAILY_LOSS_INCLUDE_UNREALIZED",
        Some("true"),
        false,
        "count unrealized P&L at the last prices towards the daily loss",
    )
    .boolean(),
    k("RISK_MAX_ORDER_VALUE_KRW", None, false, "largest value of one order in KRW (off when unset)")
        .decimal(1, MAX_KRW, "KRW"),
    k(
        "RISK_MAX_POSITION_VALUE_KRW",
        None,
        false,
        "largest value held or being bought in one instrument, in KRW (off when unset)",
    )
    .decimal(1, MAX_KRW, "KRW"),
    k(
        "RISK_MAX_GROSS_EXPOSURE_KRW",
        None,
        false,
        "largest value of all holdings plus open buys plus a new buy, in KRW (off when unset)",
    )
    .decimal(1, MAX_KRW, "KRW"),
    k(
        "RISK_MAX_OPEN_POSITIONS",
        None,
        false,
        "largest number of instruments held or being bought at once (off when unset)",
    )
    .int(1, 1_000, "positions"),
    k("RISK_MAX_ORDERS_PER_DAY", Some("200"), false, "largest number of orders sent per day")
        .int(1, 10_000, "orders"),
    k(
        "US_SYMBOLS",
        None,
        false,
        "US stocks of the US pipeline, comma-separated TICKER:EXCHANGE pairs (EXCHANGE NASD, NYSE or \
         AMEX), e.g. AAPL:NASD,IBM:NYSE; no US pipeline when unset or empty",
    )
    .us_venues(),
    k(
        "US_RISK_DAILY_LOSS_USD",
        None,
        false,
        "daily loss limit of the US pipeline in USD (cents allowed), its kill switch: blocks new risk \
         and trips STOP mode (required for LIVE when US_SYMBOLS is set)",
    )
    .decimal(1, MAX_USD, "USD"),
    k(
        "US_RISK_DAILY_LOSS_INCLUDE_UNREALIZED",
        Some("true"),
        false,
        "count unrealized P&L at the last prices towards the US daily loss",
    )
    .boolean(),
    k("US_RISK_MAX_ORDER_VALUE_USD", None, false, "largest value of one US order in USD (off when unset)")
        .decimal(1, MAX_USD, "USD"),
    k(
        "US_RISK_MAX_POSITION_VALUE_USD",
        None,
        false,
        "largest value held or being bought in one US stock, in USD (off when unset)",
    )
    .decimal(1, MAX_USD, "USD"),
    k(
        "US_RISK_MAX_GROSS_EXPOSURE_USD",
        None,
        false,
        "largest value of all US holdings plus open buys plus a new buy, in USD (off when unset)",
    )
    .decimal(1, MAX_USD, "USD"),
    k(
        "US_RISK_MAX_OPEN_POSITIONS",
        None,
        false,
        "largest number of US stocks held or being bought at once (off when unset)",
    )
    .int(1, 1_000, "positions"),
    k("US_RISK_MAX_ORDERS_PER_DAY", Some("200"), false, "largest number of US orders sent per day")
        .int(1, 10_000, "orders"),
];

/// Returns the key with this environment-style name.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// Returns true when the named key holds a secret.
pub fn is_secret(name: &str) -> bool {
    find(name).is_some_and(|k| k.secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_documented() {
        let mut names: Vec<_> = KEYS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KEYS.len());
        assert!(KEYS.iter().all(|k| !k.doc.is_empty()));
    }

    #[test]
    fn readme_documents_every_key() {
        let readme = include_str!("../../README.md");
        for key in KEYS {
            assert!(readme.contains(&format!("`{}`", key.name)), "{} missing from README.md", key.name);
        }
    }

    #[test]
    fn readme_and_env_example_document_every_range() {
        let readme = include_str!("../../README.md");
        let example = include_str!("../../.env.example");
        for key in KEYS {
            let Some(r) = key.range() else { continue };
            let row = readme.lines().find(|l| l.starts_with(&format!("| `{}`", key.name)));
            assert!(
                row.is_some_and(|l| l.contains(&r.bounds())),
                "README.md: {} lacks {}",
                key.name,
                r.bounds()
            );
            assert!(example.contains(&r.bounds()), ".env.example: {} lacks {}", key.name, r.bounds());
        }
    }

    #[test]
    fn defaults_pass_their_own_checks() {
        for key in KEYS {
            if let Some(d) = key.default {
                assert_eq!(key.check(d), Ok(()), "{}", key.name);
            }
        }
        for name in ["RISK_MAX_ORDERS_PER_DAY", "US_RISK_MAX_ORDERS_PER_DAY"] {
            let orders = find(name).and_then(|k| k.default);
            let default = crate::domain::risk::DEFAULT_MAX_ORDERS_PER_DAY.to_string();
            assert_eq!(orders, Some(default.as_str()), "{name}");
        }
    }

    #[test]
    fn us_symbols_are_ticker_exchange_pairs() {
        let key = find("US_SYMBOLS").unwrap();
        let venues = key.us_venues_value("AAPL:NASD, BF/B:NYSE,SPY:amex,").unwrap();
        let got: Vec<_> = venues.iter().map(|(s, e)| format!("{s}:{e}")).collect();
        assert_eq!(got, ["AAPL:NASD", "BF/B:NYSE", "SPY:AMEX"]);
        assert_eq!(key.us_venues_value(" "), Ok(BTreeMap::new()));
        assert_eq!(key.check("AAPL:NASD"), Ok(()));
        // A file value is one problem naming every wrong entry.
        assert_eq!(
            key.check("005930:KRX,AAPL:NASD,AAPL:NASD"),
            Err("entry `005930:KRX`: `005930` is a KRX code, not a US ticker; \
                 entry `AAPL:NASD`: ticker AAPL is listed more than once"
                .to_owned())
        );
        assert!(find("SMTP_TO").unwrap().us_venues_value("AAPL:NASD").is_err());
    }

    #[test]
    fn numbers_are_checked_against_their_range() {
        let ahead = find("KIS_TOKEN_REFRESH_AHEAD_MINS").unwrap();
        assert_eq!(ahead.int_value("0"), Ok(0));
        assert_eq!(ahead.int_value(" 720 "), Ok(720));
        assert_eq!(ahead.check("2000"), Err("2000 is out of range (0..=720 minutes)".to_owned()));
        assert_eq!(
            ahead.check("99999999999999"),
            Err("99999999999999 is out of range (0..=720 minutes)".to_owned())
        );
        assert!(
            ahead.check("999999999999999999999999999999999999999999").unwrap_err().contains("out of range")
        );
        assert!(ahead.check("-1").unwrap_err().contains("out of range"));
        assert_eq!(ahead.check("1.5"), Err("`1.5` is not a whole number (0..=720 minutes)".to_owned()));
        assert!(ahead.check("soon").unwrap_err().contains("not a whole number"));
        let loss = find("RISK_DAILY_LOSS_KRW").unwrap();
        assert_eq!(loss.decimal_value("300000.50"), Ok(Decimal::new(30_000_050, 2)));
        assert_eq!(loss.check("0"), Err("0 is out of range (1..=1_000_000_000_000 KRW)".to_owned()));
        assert!(loss.check("ten").unwrap_err().contains("is not a number"));
        assert!(loss.check("99999999999999999999999999999999").unwrap_err().contains("out of range"));
        let hashkey = find("KIS_HASHKEY").unwrap();
        assert_eq!(hashkey.bool_value("Off"), Ok(false));
        assert!(hashkey.check("maybe").unwrap_err().contains("not a boolean"));
        assert!(find("MODE").unwrap().int_value("1").is_err());
    }

    #[test]
    fn secret_values_never_appear_in_check_messages() {
        let secret = Key {
            name: "X",
            default: None,
            secret: true,
            kind: Kind::Int(Range { min: 0, max: 1, unit: "u" }),
            doc: "x",
        };
        for v in ["hunter2", "123456789", "99999999999999999999999999"] {
            assert!(!secret.check(v).unwrap_err().contains(v), "{v}");
        }
    }

    #[test]
    fn env_example_documents_every_key() {
        let example = include_str!("../../.env.example");
        for key in KEYS {
            assert!(example.contains(&format!("{}=", key.name)), "{} missing from .env.example", key.name);
        }
    }
}
