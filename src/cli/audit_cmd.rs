//! `aegis audit`: the audit trail, newest first; and the `audit_log` row of every operator
//! command (who, what, result), written once the command has run.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::{Value, json};

use super::ParamsCommand;
use super::ops_cmd::{OnOff, OpsCommand, StageCommand};
use crate::config::Loaded;
use crate::domain::calendar::KST;
use crate::ports::trading_log::AuditNote;
use crate::store::Store;
use crate::store::params::AuditEntry;

/// `aegis audit` arguments.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Only rows from this date (YYYY-MM-DD, from 00:00 KST) or this long ago (`90m`, `12h`,
    /// `7d`, `2w`).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<Since>,
    /// How many rows at most.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
}

/// A `--since` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// From 00:00 KST of a date.
    Date(NaiveDate),
    /// This long before now.
    Ago(TimeDelta),
}

impl Since {
    /// Returns the instant meant, relative to `now`.
    pub fn instant(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Date(d) => crate::domain::market::kst_to_utc(d, chrono::NaiveTime::MIN),
            Self::Ago(span) => now - span,
        }
    }
}

/// Parses `--since`: `YYYY-MM-DD` or a whole number followed by `m`, `h`, `d` or `w`.
///
/// # Errors
/// Names the accepted forms.
pub fn parse_since(s: &str) -> Result<Since, String> {
    let s = s.trim();
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Ok(Since::Date(d));
    }
    let bad = || format!("`{s}` is neither a date (YYYY-MM-DD) nor a duration (90m, 12h, 7d, 2w)");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let span = match unit {
        "m" => TimeDelta::try_minutes(n),
        "h" => TimeDelta::try_hours(n),
        "d" => TimeDelta::try_days(n),
        "w" => TimeDelta::try_weeks(n),
        _ => None,
    };
    span.map(Since::Ago).ok_or_else(bad)
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("error: {msg}");
    1
}

/// Runs `aegis audit`.
pub async fn run(loaded: &Loaded, args: AuditArgs) -> i32 {
    let store = match Store::open(loaded.settings.db_url.expose()).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let since = args.since.map(|s| s.instant(Utc::now()));
    match crate::store::audit::list(&store, since, args.limit).await {
        Ok(rows) => {
            for line in table(&rows) {
                println!("{line}");
            }
            0
        }
        Err(e) => fail(e),
    }
}

/// Returns the result of a row: its `result` detail, else `ok` (mode changes and parameter
/// decisions are written only when they happened).
fn result_of(details: &Value) -> String {
    details.get("result").and_then(Value::as_str).unwrap_or("ok").to_owned()
}

/// Returns the details of a row but its result, as `key=value` pairs.
fn details_of(details: &Value) -> String {
    match details {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| k.as_str() != "result")
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The lines of `aegis audit`: a header and one row per entry, in the given order (newest first).
pub fn table(rows: &[AuditEntry]) -> Vec<String> {
    if rows.is_empty() {
        return vec!["no audit rows".to_owned()];
    }
    let mut lines = vec![format!(
        "{:<19}  {:<24}  {:<22}  {:<28}  {:<10}  DETAILS",
        "AT (KST)", "WHO", "WHAT", "TARGET", "RESULT"
    )];
    for r in rows {
        lines.push(format!(
            "{:<19}  {:<24}  {:<22}  {:<28}  {:<10}  {}",
            r.at.with_timezone(&KST).format("%Y-%m-%d %H:%M:%S"),
            r.actor,
            r.action,
            r.target,
            result_of(&r.details),
            details_of(&r.details)
        ));
    }
    lines
}

/// An operator command to audit once it has run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandAudit {
    actor: String,
    action: String,
    target: String,
    args: Value,
}

impl CommandAudit {
    /// Returns the `audit_log` row of the command that ended with exit code `code`.
    pub fn note(&self, code: i32) -> AuditNote {
        let mut details = self.args.clone();
        if let Some(map) = details.as_object_mut() {
            map.insert("result".into(), (if code == 0 { "ok" } else { "failed" }).into());
            map.insert("exit_code".into(), code.into());
        }
        AuditNote {
            actor: self.actor.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            details,
        }
    }
}

fn command(actor: String, action: &str, target: String, args: Value) -> Option<CommandAudit> {
    Some(CommandAudit { actor, action: action.to_owned(), target, args })
}

/// Returns the audit of an operator command that changes something (`stage run|rerun`, `halt`,
/// `resume`, `observe`); read-only commands are not audited.
pub fn of_ops(cmd: &OpsCommand) -> Option<CommandAudit> {
    let who = super::ops_cmd::actor();
    match cmd {
        OpsCommand::Stage(
            StageCommand::Run { stage, date, market } | StageCommand::Rerun { stage, date, market },
        ) => {
            let action = if matches!(cmd, OpsCommand::Stage(StageCommand::Run { .. })) {
                "cli.stage.run"
            } else {
                "cli.stage.rerun"
            };
            let date = date.map_or_else(|| "today".to_owned(), |d| d.to_string());
            // The KRX pipeline keeps the target it always had; the US one names its market.
            let target = match market {
                super::ops_cmd::MarketArg::Kr => format!("stage/{}@{date}", stage.as_str()),
                super::ops_cmd::MarketArg::Us => format!("stage/us/{}@{date}", stage.as_str()),
            };
            command(who, action, target, json!({}))
        }
        OpsCommand::Halt { reason } => {
            let reason = reason.as_deref().map(crate::telemetry::scrubbed);
            command(who, "cli.halt", "trading_mode".into(), json!({ "reason": reason }))
        }
        OpsCommand::Resume => command(who, "cli.resume", "trading_mode".into(), json!({})),
        OpsCommand::Observe { state } => {
            let action = if *state == OnOff::On { "cli.observe.on" } else { "cli.observe.off" };
            command(who, action, "trading_mode".into(), json!({}))
        }
        _ => None,
    }
}

/// Returns the audit of a `params` command that decides or proposes (`approve`, `reject`,
/// `propose`); `list` and `show` are not audited.
pub fn of_params(cmd: &ParamsCommand) -> Option<CommandAudit> {
    match cmd {
        ParamsCommand::Approve { id, by } => command(
            super::params_cmd::actor(by.clone()),
            "cli.params.approve",
            format!("strategy_param_drafts/{id}"),
            json!({}),
        ),
        ParamsCommand::Reject { id, reason, by } => command(
            super::params_cmd::actor(by.clone()),
            "cli.params.reject",
            format!("strategy_param_drafts/{id}"),
            json!({ "reason": crate::telemetry::scrubbed(reason) }),
        ),
        ParamsCommand::Propose { file, date, by } => command(
            super::params_cmd::actor(by.clone()),
            "cli.params.propose",
            "strategy_param_drafts".into(),
            json!({ "file": file.display().to_string(), "date": date }),
        ),
        ParamsCommand::List { .. } | ParamsCommand::Show { .. } => None,
    }
}

/// Writes the audit row of a command that ended with `code`; a failure to write is reported on
/// stderr and does not change the command's exit code.
pub async fn record(loaded: &Loaded, audit: &CommandAudit, code: i32) {
    let written = async {
        let store = Store::connect(loaded.settings.db_url.expose()).await?;
        crate::store::audit::record(&store, &audit.note(code), Utc::now()).await
    }
    .await;
    if let Err(e) = written {
        eprintln!("warning: the command was not recorded in audit_log: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_dates_and_durations() {
        assert_eq!(parse_since("2026-12-01"), Ok(Since::Date(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())));
        assert_eq!(parse_since("7d"), Ok(Since::Ago(TimeDelta::days(7))));
        assert_eq!(parse_since("12h"), Ok(Since::Ago(TimeDelta::hours(12))));
        assert_eq!(parse_since("90m"), Ok(Since::Ago(TimeDelta::minutes(90))));
        assert_eq!(parse_since("2w"), Ok(Since::Ago(TimeDelta::weeks(2))));
        assert!(parse_since("7").is_err());
        assert!(parse_since("d").is_err());
        assert!(parse_since("yesterday").is_err());
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let at = Since::Date(day).instant(Utc::now());
        assert_eq!(at.to_rfc3339(), "2026-12-06T15:00:00+00:00");
    }

    #[test]
    fn a_command_row_names_who_what_and_result() {
        let halt = of_ops(&OpsCommand::Halt { reason: Some("maintenance".into()) }).expect("audited");
        let note = halt.note(0);
        assert!(note.actor.starts_with("cli:"), "{}", note.actor);
        assert_eq!(note.action, "cli.halt");
        assert_eq!(note.details["result"], "ok");
        assert_eq!(note.details["reason"], "maintenance");
        assert_eq!(halt.note(4).details["result"], "failed");
        assert!(of_ops(&OpsCommand::Positions).is_none());
        let approve =
            of_params(&ParamsCommand::Approve { id: 3, by: Some("alice".into()) }).expect("audited");
        assert_eq!(approve.note(0).actor, "alice");
        assert_eq!(approve.note(0).target, "strategy_param_drafts/3");
    }
}
