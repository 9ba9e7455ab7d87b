//! Stage transitions as told to the outside world: the [`TransitionSink`] port the notifier
//! implements, the exact re-run command, and the sinks that ship with the runner.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;

use crate::domain::MarketRegion;
use crate::domain::calendar::KST;
use crate::domain::stage::{StageName, StageStatus};

/// One stage transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The market whose pipeline moved.
    pub market: MarketRegion,
    /// The trade date of the run.
    pub trade_date: NaiveDate,
    /// The stage.
    pub stage: StageName,
    /// The attempt number.
    pub attempt: i32,
    /// Status before.
    pub from: StageStatus,
    /// Status after.
    pub to: StageStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// How long the attempt ran (terminal transitions only).
    pub duration: Option<Duration>,
    /// The scrubbed error of a failed or skipped attempt.
    pub error: Option<String>,
    /// The command that re-runs the stage.
    pub rerun_command: String,
    /// The failure failed the run: nothing happens until an operator re-runs the stage (false
    /// for an attempt the runner retries, or one a shutdown or crash interrupted, which the next
    /// start resumes).
    pub run_failed: bool,
}

impl Transition {
    /// Returns a one-line description.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}{} {} attempt {}: {} -> {} at {}",
            market_prefix(self.market),
            self.trade_date,
            self.stage,
            self.attempt,
            self.from,
            self.to,
            self.at.with_timezone(&KST).format("%H:%M:%S KST")
        );
        if let Some(d) = self.duration {
            s.push_str(&format!(" after {:.1}s", d.as_secs_f64()));
        }
        if let Some(e) = &self.error {
            s.push_str(&format!(" ({e})"));
        }
        if self.to == StageStatus::Failed && self.run_failed {
            s.push_str(&format!("; re-run with `{}`", self.rerun_command));
        }
        s
    }
}

/// Returns the exact command that re-runs a stage for a market's trade date.
pub fn rerun_command(stage: StageName, date: NaiveDate, market: MarketRegion) -> String {
    match market {
        MarketRegion::Kr => format!("aegis stage rerun {stage} --date {date}"),
        MarketRegion::Us => format!("aegis stage rerun {stage} --date {date} --market us"),
    }
}

/// Returns what names a market's pipeline in a message: nothing for the KRX pipeline (the one
/// every message named before there were two), `US ` for the US one.
pub fn market_prefix(market: MarketRegion) -> &'static str {
    match market {
        MarketRegion::Kr => "",
        MarketRegion::Us => crate::notify::day::US_PREFIX,
    }
}

/// Receives every stage transition. Implementations must not block or fail the pipeline:
/// deliver through an outbox or drop with an event.
pub trait TransitionSink: Send + Sync {
    /// Called after the transition is persisted.
    fn on_transition<'a>(&'a self, transition: &'a Transition) -> BoxFuture<'a, ()>;
}

/// A sink that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopSink;

impl TransitionSink for NoopSink {
    fn on_transition<'a>(&'a self, _transition: &'a Transition) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// A sink that prints each transition on standard error (used by the CLI).
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleSink;

impl TransitionSink for ConsoleSink {
    fn on_transition<'a>(&'a self, transition: &'a Transition) -> BoxFuture<'a, ()> {
        let line = transition.summary();
        Box::pin(async move { eprintln!("{line}") })
    }
}

/// A sink that keeps every transition in memory (tests, the demo's summary).
#[derive(Debug, Clone, Default)]
pub struct MemorySink(Arc<Mutex<Vec<Transition>>>);

impl MemorySink {
    /// Returns the transitions received so far.
    pub fn transitions(&self) -> Vec<Transition> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl TransitionSink for MemorySink {
    fn on_transition<'a>(&'a self, transition: &'a Transition) -> BoxFuture<'a, ()> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(transition.clone());
        Box::pin(async {})
    }
}
