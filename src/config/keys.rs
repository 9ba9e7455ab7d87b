//! Every configuration key aegis reads, with its default and one-line documentation.
//!
//! The same table drives `.env`/environment lookup, `aegis.toml` key validation
//! (`[section] key` ⇔ `SECTION_KEY`) and the README's configuration table.

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Environment-style name, e.g. `KIS_APP_KEY`.
    pub name: &'static str,
    /// Built-in default, if any.
    pub default: Option<&'static str>,
    /// True when the value is a secret (never printed).
    pub secret: bool,
    /// One-line documentation.
    pub doc: &'static str,
}

const fn k(name: &'static str, default: Option<&'static str>, secret: bool, doc: &'static str) -> Key {
    Key { name, default, secret, doc }
}

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
    k("KIS_HASHKEY", Some("true"), false, "send a hashkey header on order POSTs"),
    k("KIS_TIMEOUT_SECS", Some("5"), false, "REST connect/read timeout in seconds"),
    k("KIS_RATE_LIMIT_PER_SEC", None, false, "REST calls per second (default 20 LIVE, 2 PAPER)"),
    k("KIS_TOKEN_REFRESH_AHEAD_MINS", Some("30"), false, "refresh the access token this long before expiry"),
    k(
        "DB_URL",
        Some("sqlite://./aegis.db?mode=rwc"),
        true,
        "database URL: embedded SQLite file (default) or postgres://…",
    ),
    k("LOG_LEVEL", Some("info"), false, "tracing filter, e.g. info or aegis=debug,info"),
    k("LOG_DIR", None, false, "directory for daily rolling log files (console only when unset)"),
    k("LOG_FORMAT", Some("text"), false, "text or json"),
    k("SLACK_BOT_TOKEN", None, true, "Slack bot token (xoxb-…); Slack alerts are off when unset"),
    k("SLACK_CHANNEL_ID", None, false, "Slack channel ID (C…/G…); a channel name is an error"),
    k(
        "SLACK_API_BASE",
        Some("https://slack.com/api/"),
        false,
        "Slack Web API base URL (tests use a local fake)",
    ),
    k("SMTP_HOST", None, false, "SMTP server for email alerts; email is off when unset"),
    k("SMTP_PORT", Some("587"), false, "SMTP port"),
    k("SMTP_TLS", Some("starttls"), false, "starttls, tls (implicit) or none (loopback only)"),
    k("SMTP_USERNAME", None, false, "SMTP user name"),
    k("SMTP_PASSWORD", None, true, "SMTP password"),
    k("SMTP_FROM", None, false, "sender address of alert emails"),
    k("SMTP_TO", None, false, "comma-separated recipient addresses"),
    k(
        "AI_API_BASE",
        None,
        false,
        "OpenAI-compatible chat-completions base URL (journal falls back to a template when unset)",
    ),
    k("AI_API_KEY", None, true, "API key for AI_API_BASE"),
    k("AI_MODEL", None, false, "model name for AI_API_BASE"),
    k("AI_TIMEOUT_SECS", Some("60"), false, "timeout of one AI call in seconds"),
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
    fn env_example_documents_every_key() {
        let example = include_str!("../../.env.example");
        for key in KEYS {
            assert!(example.contains(&format!("{}=", key.name)), "{} missing from .env.example", key.name);
        }
    }
}
