//! The stage port: the [`Stage`] trait each pipeline stage implements, the [`StageContext`] it
//! runs with and the [`StageError`] it returns.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::domain::stage::StageName;
use crate::store::Store;

/// What a stage sees while it runs.
#[derive(Debug)]
pub struct StageContext {
    /// The trade date of the run.
    pub trade_date: NaiveDate,
    /// The `pipeline_runs` id.
    pub run_id: i64,
    /// This attempt's number (1-based, counted over the whole run).
    pub attempt: i32,
    /// Outputs of the earlier stages that succeeded.
    pub outputs: BTreeMap<StageName, Value>,
    /// Cancelled on shutdown or timeout; long stages must watch it.
    pub cancel: CancellationToken,
    /// The store.
    pub store: Store,
}

impl StageContext {
    /// Returns the output of an earlier stage.
    pub fn output(&self, stage: StageName) -> Option<&Value> {
        self.outputs.get(&stage)
    }
}

/// Why a stage attempt did not produce an output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    /// A transient failure (network, rate limit); retried per the stage's policy.
    #[error("{0}")]
    Retryable(String),
    /// A failure retrying cannot fix.
    #[error("{0}")]
    Fatal(String),
    /// The attempt exceeded the stage's timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The attempt stopped because of a shutdown.
    #[error("interrupted by shutdown")]
    Cancelled,
    /// The stage decided not to act (e.g. the journal without an AI endpoint).
    #[error("skipped: {0}")]
    Skip(String),
}

impl StageError {
    /// Returns whether another attempt may succeed.
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_) | Self::Timeout(_))
    }
}

/// A pipeline stage: a use case run once per trade date.
pub trait Stage: Send + Sync {
    /// Returns which stage this is.
    fn name(&self) -> StageName;

    /// Runs one attempt and returns the JSON output later stages read.
    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<Value, StageError>>;
}
