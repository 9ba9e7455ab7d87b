//! The stage port: the [`Stage`] trait each pipeline stage implements (with its typed
//! [`Stage::Output`]), the object-safe [`DynStage`] the runner holds, the [`StageContext`] a stage
//! runs with and reads earlier outputs from, and the [`StageError`] it returns.
//!
//! Outputs are stored as JSON in `stage_runs.output`; [`StageOutput`] ties an output type to its
//! stage so that a reader gets it back typed with [`StageContext::output`] or [`decode_output`],
//! and a stored row of another shape is an [`OutputError`], not a panic.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::time::Duration;

use chrono::NaiveDate;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::domain::stage::StageName;
use crate::ports::BrokerError;
use crate::store::{Store, StoreError};
use crate::trading::TradingError;

/// A boxed cause of a stage failure from a layer without its own [`StageError`] variant.
pub type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// The typed output of one stage, stored as JSON and read back by later stages and the CLI.
pub trait StageOutput: Serialize + DeserializeOwned {
    /// The stage whose output this is.
    const STAGE: StageName;
}

/// What a stage sees while it runs.
#[derive(Debug)]
pub struct StageContext {
    /// The trade date of the run.
    pub trade_date: NaiveDate,
    /// The `pipeline_runs` id.
    pub run_id: i64,
    /// This attempt's number (1-based, counted over the whole run).
    pub attempt: i32,
    /// Outputs of the earlier stages that succeeded, as stored; read them with [`Self::output`].
    pub outputs: BTreeMap<StageName, Value>,
    /// Cancelled on shutdown or timeout; long stages must watch it.
    pub cancel: CancellationToken,
    /// The store.
    pub store: Store,
}

impl StageContext {
    /// Returns the typed output of an earlier stage, `None` when that stage has not succeeded in
    /// this run.
    ///
    /// # Errors
    /// Returns [`OutputError::Malformed`] when the stored output does not have the shape of `T`
    /// (a row written by an incompatible version).
    pub fn output<T: StageOutput>(&self) -> Result<Option<T>, OutputError> {
        self.outputs.get(&T::STAGE).map(decode_output).transpose()
    }
}

/// Reads a stored output (a `stage_runs.output` value) as the typed output of its stage.
///
/// # Errors
/// Returns [`OutputError::Malformed`] when the value does not have the shape of `T`.
pub fn decode_output<T: StageOutput>(value: &Value) -> Result<T, OutputError> {
    T::deserialize(value).map_err(|source| OutputError::Malformed { stage: T::STAGE, source })
}

/// A stage output that cannot be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The stored output does not have the shape this version expects.
    #[error("the stored output of stage {stage} does not have the expected shape")]
    Malformed {
        /// The stage whose output was read.
        stage: StageName,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
    /// The output could not be encoded as JSON.
    #[error("the output of stage {stage} cannot be encoded as JSON")]
    Encode {
        /// The stage that produced it.
        stage: StageName,
        /// What serde refused.
        #[source]
        source: serde_json::Error,
    },
}

/// Why a stage attempt did not produce an output. The message says what the stage was doing;
/// the cause, where there is one, is the [`source`](StdError::source) (see [`Self::report`]).
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// A transient failure (network, rate limit); retried per the stage's policy.
    #[error("{0}")]
    Retryable(String),
    /// A failure retrying cannot fix.
    #[error("{0}")]
    Fatal(String),
    /// A broker call failed; retryable when the broker error is.
    #[error("{what}")]
    Broker {
        /// What the stage was doing.
        what: String,
        /// The broker's error.
        #[source]
        source: BrokerError,
    },
    /// A trading use case failed; retryable when the trading error is.
    #[error("{what}")]
    Trading {
        /// What the stage was doing.
        what: String,
        /// The trading error.
        #[source]
        source: TradingError,
    },
    /// The database failed; always retryable.
    #[error("{what}")]
    Store {
        /// What the stage was doing.
        what: String,
        /// The store error.
        #[source]
        source: StoreError,
    },
    /// Another layer failed; the stage decided whether retrying may help.
    #[error("{what}")]
    Failed {
        /// What the stage was doing.
        what: String,
        /// Whether another attempt may succeed.
        retryable: bool,
        /// The layer's error.
        #[source]
        source: Cause,
    },
    /// An earlier stage's stored output could not be read, or this one's written.
    #[error(transparent)]
    Output(#[from] OutputError),
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
    /// Returns a failure of another layer that another attempt may fix.
    pub fn retryable(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        Self::Failed { what: what.into(), retryable: true, source: source.into() }
    }

    /// Returns a failure of another layer that retrying cannot fix.
    pub fn fatal(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        Self::Failed { what: what.into(), retryable: false, source: source.into() }
    }

    /// Returns whether another attempt may succeed (the layer errors decide for their variants).
    /// A transient database failure among the causes (busy or locked, a lost connection:
    /// [`StoreError::is_transient`]) is retryable however the layer classified the rest.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Retryable(_) | Self::Timeout(_) | Self::Store { .. } => true,
            Self::Broker { source, .. } => source.is_retryable(),
            Self::Trading { source, .. } => source.is_retryable() || transient_cause(source),
            Self::Failed { retryable, source, .. } => *retryable || transient_cause(source.as_ref()),
            Self::Fatal(_) | Self::Output(_) | Self::Cancelled | Self::Skip(_) => false,
        }
    }

    /// Returns the message followed by its causes (`what: cause: cause…`), the text recorded for
    /// a failed attempt. A cause whose text the message already holds is not repeated.
    pub fn report(&self) -> String {
        let mut text = self.to_string();
        let mut cause = self.source();
        while let Some(e) = cause {
            let next = e.to_string();
            if !text.contains(&next) {
                text.push_str(": ");
                text.push_str(&next);
            }
            cause = e.source();
        }
        text
    }
}

/// Returns true when `error` or one of its causes is a transient store failure. A layer error
/// that wraps a [`StoreError`] transparently shows only the store error's own cause, the
/// [`DbFailure`](crate::ports::DbFailure), so both are looked for.
fn transient_cause(error: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<StoreError>().is_some_and(StoreError::is_transient)
            || e.downcast_ref::<crate::ports::DbFailure>().is_some_and(crate::ports::DbFailure::is_transient)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// A pipeline stage: a use case run once per trade date, whose typed output later stages read.
pub trait Stage: Send + Sync {
    /// What a successful attempt produces (stored as JSON, read back with [`StageContext::output`]).
    type Output: Serialize + DeserializeOwned + Send;

    /// Returns which stage this is.
    fn name(&self) -> StageName;

    /// Runs one attempt (the runner wraps it in the stage's tracing span).
    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<Self::Output, StageError>>;
}

/// The object-safe form of [`Stage`] the runner holds: the output as the JSON it stores. Every
/// [`Stage`] is one.
pub trait DynStage: Send + Sync {
    /// Returns which stage this is.
    fn name(&self) -> StageName;

    /// Runs one attempt and returns its output as JSON.
    fn run_json<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<Value, StageError>>;
}

impl<S: Stage> DynStage for S {
    fn name(&self) -> StageName {
        Stage::name(self)
    }

    fn run_json<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<Value, StageError>> {
        Box::pin(async move {
            let output = self.run(ctx).await?;
            serde_json::to_value(output)
                .map_err(|source| OutputError::Encode { stage: Stage::name(self), source }.into())
        })
    }
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
