//! The day's Slack message: one per trade date, posted once and updated in place as the stages
//! progress, showing a compact table of the pipeline (stage, status, attempt, time). What needs a
//! human (a failed stage, a kill-switch trip, an alert, the journal) goes in its thread, broadcast
//! to the channel.
//!
//! - [`Board`]: the table, merged from stage transitions (a late or repeated transition never
//!   replaces a newer one) and kept in `slack_day_messages`.
//! - [`SlackPayload`]: what an outbox row of the Slack channel holds.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use slack_morphism::prelude::SlackMessageContent;

use super::StageTransition;
use super::render::{context, esc, fmt_duration, header, section, slack};
use crate::domain::calendar::KST;
use crate::domain::stage::StageName;

/// How the US pipeline's stages are named in the table (`US intraday`): a KRX run and the US run
/// of the same date share the date's message.
pub const US_PREFIX: &str = "US ";

/// The outbox kind of the day message's rows.
pub const DAY_KIND: &str = "day_status";

/// What a Slack outbox row holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "slack", rename_all = "snake_case")]
pub enum SlackPayload {
    /// The day's message: posted once, then updated (only the newest row of a date is sent).
    Day {
        /// The trade date.
        trade_date: NaiveDate,
        /// The message.
        message: SlackMessageContent,
    },
    /// A message for a human: a reply in the day's thread, broadcast to the channel (posted in
    /// the channel alone when the date has no day message).
    Thread {
        /// The trade date whose thread it belongs to.
        trade_date: Option<NaiveDate>,
        /// The message.
        message: SlackMessageContent,
    },
    /// A message posted on its own (the rows of versions before the day message).
    Plain(SlackMessageContent),
}

impl SlackPayload {
    /// Reads a stored payload: a tagged one, or a bare message of an older version.
    ///
    /// # Errors
    /// Returns the decoding error.
    pub fn from_value(v: Value) -> Result<Self, serde_json::Error> {
        if v.get("slack").is_some() {
            serde_json::from_value(v)
        } else {
            serde_json::from_value(v).map(Self::Plain)
        }
    }
}

/// One stage's line in the day's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardRow {
    /// The stage name.
    pub stage: String,
    /// The status of its latest attempt (`RUNNING`, `SUCCEEDED` …).
    pub status: String,
    /// The latest attempt (1-based).
    pub attempt: u32,
    /// When it entered the status.
    pub at: DateTime<Utc>,
    /// How long the attempt ran, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

impl BoardRow {
    /// Returns the row of a transition.
    pub fn of(t: &StageTransition) -> Self {
        Self {
            stage: t.stage.clone(),
            status: t.to.clone(),
            attempt: t.attempt,
            at: t.at,
            duration_ms: t.duration.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    /// Orders a stage's states: an attempt's start before its end, a later attempt after both.
    fn rank(&self) -> (u32, u8, DateTime<Utc>) {
        let step = match self.status.as_str() {
            "PENDING" => 0,
            "RUNNING" => 1,
            _ => 2,
        };
        (self.attempt, step, self.at)
    }
}

/// The day's pipeline table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    /// One row per stage that has moved, in no particular order.
    pub stages: Vec<BoardRow>,
}

impl Board {
    /// Reads the stored table (`null`, or an unreadable one, is an empty table).
    pub fn from_value(v: &Value) -> Self {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    /// Returns the stored form.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Takes a stage's new state unless the table already has a newer one; returns whether the
    /// table changed.
    pub fn merge(&mut self, row: BoardRow) -> bool {
        match self.stages.iter_mut().find(|r| r.stage == row.stage) {
            Some(old) if old.rank() >= row.rank() => false,
            Some(old) => {
                *old = row;
                true
            }
            None => {
                self.stages.push(row);
                true
            }
        }
    }

    fn row(&self, stage: &str) -> Option<&BoardRow> {
        self.stages.iter().find(|r| r.stage == stage)
    }

    /// The rows in pipeline order: every stage of the pipeline (those that have not moved
    /// without a row), then — once the US pipeline of the date has moved — every stage of it
    /// (`US intraday` …), then any other stage by name.
    fn lines(&self) -> Vec<(String, Option<&BoardRow>)> {
        let mut out: Vec<_> =
            StageName::ALL.iter().map(|s| (s.as_str().to_owned(), self.row(s.as_str()))).collect();
        let us = |stage: &str| stage.strip_prefix(US_PREFIX).is_some_and(|s| s.parse::<StageName>().is_ok());
        if self.stages.iter().any(|r| us(&r.stage)) {
            for s in StageName::ALL {
                let name = format!("{US_PREFIX}{}", s.as_str());
                let row = self.row(&name);
                out.push((name, row));
            }
        }
        let mut others: Vec<_> = self
            .stages
            .iter()
            .filter(|r| r.stage.parse::<StageName>().is_err() && !us(&r.stage))
            .map(|r| (r.stage.clone(), Some(r)))
            .collect();
        others.sort_by(|a, b| a.0.cmp(&b.0));
        out.extend(others);
        out
    }

    /// Returns a one-line summary: what failed or runs, and how many stages are done.
    pub fn summary(&self) -> String {
        let lines = self.lines();
        let total = lines.len();
        let done = lines
            .iter()
            .filter(|(_, r)| r.is_some_and(|r| matches!(r.status.as_str(), "SUCCEEDED" | "SKIPPED")))
            .count();
        let with = |status: &str| lines.iter().find_map(|(_, r)| r.filter(|r| r.status == status));
        if let Some(f) = with("FAILED") {
            format!("{} failed (attempt {}) · {done}/{total} stages done", f.stage, f.attempt)
        } else if let Some(r) = with("RUNNING") {
            format!("{} running · {done}/{total} stages done", r.stage)
        } else if done == total {
            format!("all {total} stages done")
        } else if done == 0 && self.stages.is_empty() {
            "no stage has run yet".to_owned()
        } else {
            format!("{done}/{total} stages done")
        }
    }

    /// Returns the table as fixed-width text.
    pub fn table(&self) -> String {
        let lines = self.lines();
        let width = lines.iter().map(|(s, _)| s.chars().count()).max().unwrap_or(5).max(5);
        let mut out =
            format!("{:<width$}  {:<9}  {:>3}  {:<8}  {}", "stage", "status", "try", "time", "took");
        for (stage, row) in lines {
            out.push('\n');
            match row {
                Some(r) => {
                    let at = r.at.with_timezone(&KST).format("%H:%M:%S");
                    let took = r.duration_ms.map(|ms| fmt_duration(std::time::Duration::from_millis(ms)));
                    let line = format!(
                        "{stage:<width$}  {:<9}  {:>3}  {at:<8}  {}",
                        r.status,
                        r.attempt,
                        took.unwrap_or_default()
                    );
                    out.push_str(line.trim_end());
                }
                None => out.push_str(&format!("{stage:<width$}  -")),
            }
        }
        out
    }

    /// The time of the latest transition.
    fn updated(&self) -> Option<DateTime<Utc>> {
        self.stages.iter().map(|r| r.at).max()
    }

    /// Renders the day's message.
    pub fn render(&self, trade_date: NaiveDate) -> SlackMessageContent {
        let summary = self.summary();
        let weekday = trade_date.weekday();
        let mut foot = "Failures, alerts and the journal are posted in this thread.".to_owned();
        if let Some(at) = self.updated() {
            foot = format!("Updated {} · {foot}", at.with_timezone(&KST).format("%H:%M:%S KST"));
        }
        let blocks = vec![
            header(&format!("aegis · {trade_date} ({weekday})")),
            section(format!("*{}*", esc(&summary))),
            section(format!("```{}```", esc(&self.table()))),
            context(foot),
        ];
        slack(format!("aegis {trade_date}: {summary}"), blocks)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 23, 30, 0).unwrap() + chrono::TimeDelta::seconds(secs)
    }

    fn t(stage: &str, attempt: u32, to: &str, secs: i64) -> StageTransition {
        StageTransition {
            stage: stage.into(),
            trade_date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            attempt,
            from: "RUNNING".into(),
            to: to.into(),
            at: at(secs),
            duration: (to != "RUNNING").then(|| Duration::from_millis(1500)),
            error: None,
            rerun_command: format!("aegis stage rerun {stage} --date 2026-11-23"),
            run_failed: false,
        }
    }

    #[test]
    fn a_later_state_replaces_an_earlier_one_never_the_reverse() {
        let mut b = Board::default();
        assert!(b.merge(BoardRow::of(&t("access_token", 1, "RUNNING", 0))));
        assert!(b.merge(BoardRow::of(&t("access_token", 1, "FAILED", 2))));
        assert!(!b.merge(BoardRow::of(&t("access_token", 1, "RUNNING", 0))), "a late start is ignored");
        assert!(b.merge(BoardRow::of(&t("access_token", 2, "RUNNING", 60))), "a re-run is newer");
        assert!(!b.merge(BoardRow::of(&t("access_token", 1, "FAILED", 2))));
        assert_eq!(b.stages.len(), 1);
        assert_eq!((b.stages[0].attempt, b.stages[0].status.as_str()), (2, "RUNNING"));
        let round = Board::from_value(&b.to_value());
        assert_eq!(round, b);
        assert_eq!(Board::from_value(&Value::Null), Board::default());
    }

    #[test]
    fn the_table_lists_every_stage_in_pipeline_order() {
        let mut b = Board::default();
        b.merge(BoardRow::of(&t("config_check", 1, "SUCCEEDED", 0)));
        b.merge(BoardRow::of(&t("access_token", 1, "RUNNING", 1)));
        let table = b.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 1 + StageName::ALL.len(), "{table}");
        assert!(lines[0].starts_with("stage") && lines[0].contains("status") && lines[0].contains("try"));
        assert!(lines[1].starts_with("config_check") && lines[1].contains("SUCCEEDED"), "{table}");
        assert!(lines[1].contains("08:30:00") && lines[1].ends_with("1.5s"), "KST time, duration: {table}");
        assert!(lines[2].starts_with("access_token") && lines[2].contains("RUNNING"), "{table}");
        assert!(lines[3].starts_with("approval_key") && lines[3].trim_end().ends_with('-'), "{table}");
        assert!(lines.last().unwrap().starts_with("journal"));
        assert_eq!(b.summary(), "access_token running · 1/11 stages done");
    }

    #[test]
    fn the_us_pipeline_of_the_date_gets_its_own_rows_after_the_krx_ones() {
        let mut b = Board::default();
        b.merge(BoardRow::of(&t("journal", 1, "SUCCEEDED", 0)));
        assert_eq!(b.table().lines().count(), 1 + StageName::ALL.len(), "no US rows before it moves");
        b.merge(BoardRow::of(&t("US intraday", 1, "RUNNING", 60)));
        let table = b.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 1 + 2 * StageName::ALL.len(), "{table}");
        let n = StageName::ALL.len();
        assert!(lines[n + 1].starts_with("US config_check") && lines[n + 1].trim_end().ends_with('-'));
        assert!(lines.iter().any(|l| l.starts_with("US intraday") && l.contains("RUNNING")), "{table}");
        assert!(lines.last().unwrap().starts_with("US journal"), "{table}");
        assert_eq!(b.summary(), "US intraday running · 1/22 stages done");
    }

    #[test]
    fn the_message_names_a_failure_and_has_no_rerun_hint() {
        let mut b = Board::default();
        b.merge(BoardRow::of(&t("config_check", 1, "SUCCEEDED", 0)));
        b.merge(BoardRow::of(&t("access_token", 1, "FAILED", 1)));
        let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let m = b.render(date);
        assert_eq!(
            m.text.as_deref(),
            Some("aegis 2026-11-23: access_token failed (attempt 1) · 1/11 stages done")
        );
        let blocks = serde_json::to_string(&m.blocks).unwrap();
        assert!(blocks.contains("aegis · 2026-11-23 (Mon)") && blocks.contains("Updated 08:30:01 KST"));
        assert!(!blocks.to_lowercase().contains("rerun") && !blocks.contains("Re-run"), "{blocks}");
        assert!(!m.text.unwrap().contains("→"), "not an alert-like text");
        assert_eq!(Board::default().summary(), "no stage has run yet");
    }

    #[test]
    fn payloads_round_trip_and_old_rows_still_read() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let m = Board::default().render(date);
        for p in [
            SlackPayload::Day { trade_date: date, message: m.clone() },
            SlackPayload::Thread { trade_date: Some(date), message: m.clone() },
            SlackPayload::Thread { trade_date: None, message: m.clone() },
        ] {
            let v = serde_json::to_value(&p).unwrap();
            assert_eq!(SlackPayload::from_value(v).unwrap(), p);
        }
        let old = serde_json::to_value(&m).unwrap();
        assert_eq!(SlackPayload::from_value(old).unwrap(), SlackPayload::Plain(m));
    }
}
