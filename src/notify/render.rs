//! Renders notifications as Slack Block Kit blocks with fallback text, as an email subject and
//! body, and as one console line. Every free text (errors, reasons, summaries) is scrubbed of
//! registered secrets first.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use slack_morphism::prelude::{
    SlackBlock, SlackBlockMarkDownText, SlackBlockPlainText, SlackBlockText, SlackContextBlock,
    SlackContextBlockElement, SlackHeaderBlock, SlackMessageContent, SlackSectionBlock,
};

use super::{Alert, JournalSummary, KillSwitchTrip, Notification, StageTransition};
use crate::telemetry::scrubbed;

/// Slack's limit for a header's text.
const HEADER_MAX: usize = 150;
/// Below Slack's 3000-character limit for a section's text, leaving room for the markup.
const SECTION_MAX: usize = 2800;

/// An email, ready to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMessage {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// A notification rendered for every channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Slack chat.postMessage content: fallback `text` and Block Kit `blocks`.
    pub slack: SlackMessageContent,
    /// Email subject and body.
    pub email: EmailMessage,
    /// One console line.
    pub console: String,
}

/// Returns at most `max` characters of the text, marking a cut with "…".
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub(super) fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Returns a short human duration: `850ms`, `12.3s`, `4m 05s`, `1h 02m`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    if ms < 1000 {
        format!("{ms}ms")
    } else if s < 60 {
        format!("{s}.{}s", d.subsec_millis() / 100)
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    }
}

pub(super) fn header(text: &str) -> SlackBlock {
    SlackHeaderBlock::new(SlackBlockPlainText::new(truncate(text, HEADER_MAX)).into()).into()
}

pub(super) fn section(mrkdwn: String) -> SlackBlock {
    SlackSectionBlock::new().with_text(md(mrkdwn)).into()
}

fn md(text: String) -> SlackBlockText {
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text))
}

fn fields(pairs: &[(&str, String)]) -> SlackBlock {
    SlackSectionBlock::new()
        .with_fields(pairs.iter().map(|(k, v)| md(format!("*{k}*\n{}", esc(v)))).collect())
        .into()
}

pub(super) fn context(mrkdwn: String) -> SlackBlock {
    SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(SlackBlockMarkDownText::new(mrkdwn))])
        .into()
}

pub(super) fn slack(text: String, blocks: Vec<SlackBlock>) -> SlackMessageContent {
    SlackMessageContent::new().with_text(text).with_blocks(blocks)
}

/// Renders a notification for every channel.
pub fn render(msg: &Notification) -> Rendered {
    match msg {
        Notification::Stage(t) => stage(t),
        Notification::KillSwitch(k) => kill_switch(k),
        Notification::Alert(a) => alert(a),
        Notification::Journal(j) => journal(j),
    }
}

fn stage(t: &StageTransition) -> Rendered {
    let error = t.error.as_deref().map(scrubbed);
    let duration = t.duration.map(fmt_duration).unwrap_or_else(|| "-".to_owned());
    let title = format!("Stage {}: {} → {}", t.stage, t.from, t.to);
    let mut blocks = vec![
        header(&title),
        fields(&[
            ("Stage", t.stage.clone()),
            ("Trade date", t.trade_date.to_string()),
            ("Attempt", t.attempt.to_string()),
            ("Duration", duration.clone()),
        ]),
    ];
    if let Some(e) = &error {
        blocks.push(section(format!("*Error*\n```{}```", esc(&truncate(e, SECTION_MAX)))));
    }
    // The re-run hint only where the run waits for one: never on a success, nor on an attempt
    // the runner retries or resumes by itself.
    let rerun = t.needs_operator();
    if rerun {
        blocks.push(section(format!("*Re-run*\n`{}`", esc(&t.rerun_command))));
    }
    let mut text = format!(
        "aegis: stage {} {} → {} (trade date {}, attempt {})",
        t.stage, t.from, t.to, t.trade_date, t.attempt
    );
    if let Some(e) = &error {
        text.push_str(&format!(": {}", truncate(e, SECTION_MAX)));
    }

    let subject = format!("[aegis] {} {} on {} (attempt {})", t.stage, t.to, t.trade_date, t.attempt);
    let mut body = format!(
        "Stage: {}\nTrade date: {}\nAttempt: {}\nTransition: {} -> {}\nDuration: {}\n",
        t.stage, t.trade_date, t.attempt, t.from, t.to, duration
    );
    if let Some(e) = &error {
        body.push_str(&format!("Error: {e}\n"));
    }
    if rerun {
        body.push_str(&format!("\nRe-run with:\n    {}\n", t.rerun_command));
    }

    let mut console = format!(
        "[stage] {} {:<20} {} -> {} (attempt {}, {})",
        t.trade_date, t.stage, t.from, t.to, t.attempt, duration
    );
    if let Some(e) = &error {
        console.push_str(&format!(" error: {e}"));
    }
    if rerun {
        console.push_str(&format!(" | re-run: {}", t.rerun_command));
    }
    Rendered { slack: slack(text, blocks), email: EmailMessage { subject, body }, console }
}

fn kill_switch(k: &KillSwitchTrip) -> Rendered {
    let reason = scrubbed(&k.reason);
    let blocks = vec![
        header("Kill switch tripped: trading stopped"),
        section(format!("*Reason*\n{}", esc(&truncate(&reason, SECTION_MAX)))),
        context("Resume with `aegis resume` once the cause is understood.".to_owned()),
    ];
    Rendered {
        slack: slack(format!("aegis: kill switch tripped: {reason}"), blocks),
        email: EmailMessage {
            subject: "[aegis] KILL SWITCH tripped: trading stopped".to_owned(),
            body: format!("Trading was stopped.\n\nReason: {reason}\n\nResume with `aegis resume`.\n"),
        },
        console: format!("[kill-switch] trading stopped: {reason}"),
    }
}

fn alert(a: &Alert) -> Rendered {
    let text = scrubbed(&a.text);
    let blocks = vec![
        header(&format!("Alert: {}", a.kind.title())),
        section(esc(&truncate(&text, SECTION_MAX))),
        context(format!("alert `{}`", a.kind.as_str())),
    ];
    let first_line = text.lines().next().unwrap_or_default();
    Rendered {
        slack: slack(format!("aegis alert ({}): {text}", a.kind.as_str()), blocks),
        email: EmailMessage {
            subject: format!("[aegis] ALERT {}: {}", a.kind.title(), truncate(first_line, 100)),
            body: format!("{}\n\n{text}\n", a.kind.title()),
        },
        console: format!("[alert:{}] {text}", a.kind.as_str()),
    }
}

fn journal(j: &JournalSummary) -> Rendered {
    let summary = scrubbed(&j.summary);
    let blocks = vec![
        header(&format!("Trade journal {}", j.trade_date)),
        section(esc(&truncate(&summary, SECTION_MAX))),
        context(format!("Journal file: `{}`", esc(&j.path))),
    ];
    Rendered {
        slack: slack(format!("aegis: trade journal {} written to {}", j.trade_date, j.path), blocks),
        email: EmailMessage {
            subject: format!("[aegis] Trade journal {}", j.trade_date),
            body: format!("{summary}\n\nJournal file: {}\n", j.path),
        },
        console: format!("[journal] {} {} ({})", j.trade_date, truncate(&summary, 200), j.path),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::notify::AlertKind;
    use crate::telemetry::Redactor;

    fn failed() -> StageTransition {
        StageTransition {
            stage: "access_token".into(),
            trade_date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            attempt: 2,
            from: "RUNNING".into(),
            to: "FAILED".into(),
            at: chrono::Utc::now(),
            duration: Some(Duration::from_millis(1234)),
            error: Some("EGW00103 <invalid appkey> sk-render-secret-123".into()),
            rerun_command: "aegis stage rerun access_token --date 2026-11-23".into(),
            run_failed: true,
        }
    }

    #[test]
    fn stage_failure_renders_every_field_on_every_channel() {
        Redactor::global().register("sk-render-secret-123");
        let r = render(&Notification::Stage(failed()));
        let blocks = serde_json::to_string(&r.slack.blocks).unwrap();
        for needle in
            ["access_token", "2026-11-23", "*Attempt*\\n2", "1.2s", "EGW00103 &lt;invalid appkey&gt;"]
        {
            assert!(blocks.contains(needle), "{needle} missing in {blocks}");
        }
        assert!(blocks.contains("`aegis stage rerun access_token --date 2026-11-23`"));
        let all = format!("{blocks}{:?}{:?}{}", r.slack.text, r.email, r.console);
        assert!(!all.contains("sk-render-secret-123"), "secret leaked: {all}");
        assert!(all.contains("REDACTED"));
        assert_eq!(r.email.subject, "[aegis] access_token FAILED on 2026-11-23 (attempt 2)");
        assert!(r.email.body.contains("aegis stage rerun access_token --date 2026-11-23"));
        assert!(r.console.contains("RUNNING -> FAILED") && r.console.contains("re-run: aegis stage rerun"));
    }

    #[test]
    fn success_without_duration_has_no_error_block() {
        let t = StageTransition {
            to: "RUNNING".into(),
            from: "PENDING".into(),
            error: None,
            duration: None,
            ..failed()
        };
        let r = render(&Notification::Stage(t));
        let blocks = serde_json::to_value(&r.slack.blocks).unwrap();
        assert_eq!(blocks.as_array().unwrap().len(), 2, "header, fields: no re-run hint");
        assert!(!r.console.contains("error") && !r.console.contains("re-run"));
        assert!(r.console.contains("(attempt 2, -)"));
        let ok = StageTransition { to: "SUCCEEDED".into(), error: None, run_failed: false, ..failed() };
        let r = render(&Notification::Stage(ok));
        let all = format!("{:?}{:?}{}", r.slack, r.email, r.console);
        assert!(!all.contains("rerun") && !all.contains("Re-run"), "a success has no re-run hint: {all}");
    }

    #[test]
    fn a_failure_the_runner_retries_has_no_rerun_hint() {
        let retried = StageTransition { run_failed: false, ..failed() };
        assert!(retried.is_failure() && !retried.needs_operator());
        let r = render(&Notification::Stage(retried));
        let all = format!("{:?}{:?}{}", r.slack, r.email, r.console);
        assert!(all.contains("EGW00103") && !all.contains("aegis stage rerun"), "{all}");
    }

    #[test]
    fn header_is_truncated_to_slack_limit() {
        let t = StageTransition { stage: "x".repeat(400), ..failed() };
        let r = render(&Notification::Stage(t));
        let v = serde_json::to_value(&r.slack.blocks).unwrap();
        assert_eq!(v[0]["type"], "header");
        assert_eq!(v[0]["text"]["text"].as_str().unwrap().chars().count(), HEADER_MAX);
    }

    #[test]
    fn other_messages_render() {
        let k = render(&Notification::KillSwitch(KillSwitchTrip { reason: "loss limit".into() }));
        assert!(k.email.subject.contains("KILL SWITCH") && k.console.contains("loss limit"));
        let a = render(&Notification::Alert(Alert { kind: AlertKind::FeedDown, text: "down 31s".into() }));
        assert!(a.email.subject.contains("Realtime feed down") && a.console.starts_with("[alert:feed_down]"));
        let j = render(&Notification::Journal(JournalSummary {
            trade_date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            summary: "P&L +1,000".into(),
            path: "/tmp/j.md".into(),
        }));
        assert!(serde_json::to_string(&j.slack.blocks).unwrap().contains("P&amp;L +1,000"));
    }

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(fmt_duration(Duration::from_millis(12_345)), "12.3s");
        assert_eq!(fmt_duration(Duration::from_secs(245)), "4m 05s");
        assert_eq!(fmt_duration(Duration::from_secs(3720)), "1h 02m");
    }
}
