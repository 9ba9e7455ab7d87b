//! The pipeline-run repository port: the runs of each market's trade dates, their stage attempts, operator
//! run/re-run requests and the lease of the process that drives the pipeline, as plain records.
//!
//! `store::pipeline::PipelineStore` implements it on the database; the runner and the daemon see
//! only this trait and these records.

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use serde_json::Value;

use super::store_error::StoreError;
use crate::domain::MarketRegion;

/// A boxed future resolving to a pipeline repository result.
pub type PipelineFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// The pipeline run of one market's trade date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRunRecord {
    /// Row id.
    pub id: i64,
    /// Stored market (`MarketRegion::as_str`).
    pub market: String,
    /// The trade date (one run per market and date).
    pub trade_date: NaiveDate,
    /// Stored run status (`RunStatus::as_str`).
    pub status: String,
    /// Why the run is skipped or failed.
    pub reason: Option<String>,
    /// When the run was created.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// One attempt of a stage in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRunRecord {
    /// Row id.
    pub id: i64,
    /// The run it belongs to.
    pub pipeline_run_id: i64,
    /// Stored stage name (`StageName::as_str`).
    pub stage: String,
    /// Attempt number, from 1.
    pub attempt: i32,
    /// Stored stage status (`StageStatus::as_str`).
    pub status: String,
    /// Start time.
    pub started_at: Option<DateTime<Utc>>,
    /// End time.
    pub finished_at: Option<DateTime<Utc>>,
    /// Error text (scrubbed).
    pub error: Option<String>,
    /// JSON output of a successful attempt.
    pub output: Option<Value>,
    /// The operator who asked for it (a re-run).
    pub requested_by: Option<String>,
    /// When the attempt was created.
    pub created_at: DateTime<Utc>,
}

/// An operator's request to run or re-run a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRequest {
    /// Row id.
    pub id: i64,
    /// Stored market of the pipeline it is for (`MarketRegion::as_str`).
    pub market: String,
    /// The trade date.
    pub trade_date: NaiveDate,
    /// Stored stage name.
    pub stage: String,
    /// Stored kind ([`RequestKind::as_str`]).
    pub kind: String,
    /// Who asked.
    pub requested_by: String,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// Stored status (see [`request_status`]).
    pub status: String,
    /// The process that took it.
    pub taken_by: Option<String>,
    /// When it was taken.
    pub taken_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// The outcome text.
    pub result: Option<String>,
}

/// A named lease: which process drives the pipeline, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    /// Lease name.
    pub name: String,
    /// The holding process.
    pub holder: String,
    /// Last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// When it lapses without a heartbeat.
    pub expires_at: DateTime<Utc>,
    /// The fencing epoch: one more every time the lease changes holder.
    pub epoch: i64,
}

/// The kind of an operator stage request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Run a stage that has not succeeded yet.
    Run,
    /// Run a stage again even if it succeeded.
    Rerun,
}

impl RequestKind {
    /// Returns the stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Run => "RUN",
            Self::Rerun => "RERUN",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RUN" => Some(Self::Run),
            "RERUN" => Some(Self::Rerun),
            _ => None,
        }
    }
}

/// Stored statuses of a stage request.
pub mod request_status {
    /// Waiting for the daemon.
    pub const PENDING: &str = "PENDING";
    /// Being executed.
    pub const TAKEN: &str = "TAKEN";
    /// Executed; the stage succeeded.
    pub const DONE: &str = "DONE";
    /// Executed; the stage (or the request) failed.
    pub const FAILED: &str = "FAILED";
}

/// Fields written when a stage attempt changes status.
#[derive(Debug, Clone, Default)]
pub struct AttemptUpdate {
    /// Start time (set on RUNNING).
    pub started_at: Option<DateTime<Utc>>,
    /// End time (set on a terminal status).
    pub finished_at: Option<DateTime<Utc>>,
    /// Error text (already scrubbed).
    pub error: Option<String>,
    /// JSON output of a successful attempt.
    pub output: Option<Value>,
}

/// Persistence of pipeline runs, stage attempts, stage requests and leases.
pub trait PipelineRuns: Send + Sync + std::fmt::Debug {
    /// Returns the run of a market's trade date, if any.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn find_run(
        &self,
        market: MarketRegion,
        date: NaiveDate,
    ) -> PipelineFuture<'_, Option<PipelineRunRecord>>;

    /// Returns the run of a market's trade date, creating it with `status` when missing (a concurrent
    /// creator wins and its run is returned). The flag says whether this call created it.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn get_or_create_run<'a>(
        &'a self,
        market: MarketRegion,
        date: NaiveDate,
        status: &'a str,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> PipelineFuture<'a, (PipelineRunRecord, bool)>;

    /// Sets a run's status, reason and finish time.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn set_run_status<'a>(
        &'a self,
        run_id: i64,
        status: &'a str,
        reason: Option<String>,
        finished_at: Option<DateTime<Utc>>,
    ) -> PipelineFuture<'a, ()>;

    /// Returns the most recent runs of every market, newest trade date first.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn recent_runs(&self, limit: u64) -> PipelineFuture<'_, Vec<PipelineRunRecord>>;

    /// Returns every attempt of a run in creation order.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn attempts(&self, run_id: i64) -> PipelineFuture<'_, Vec<StageRunRecord>>;

    /// Returns the latest attempt of a stage in a run.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn latest_attempt<'a>(
        &'a self,
        run_id: i64,
        stage: &'a str,
    ) -> PipelineFuture<'a, Option<StageRunRecord>>;

    /// Inserts a PENDING attempt.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails (the attempt number is unique per stage).
    fn insert_attempt<'a>(
        &'a self,
        run_id: i64,
        stage: &'a str,
        attempt: i32,
        requested_by: Option<String>,
        now: DateTime<Utc>,
    ) -> PipelineFuture<'a, StageRunRecord>;

    /// Moves an attempt from status `from` to `to` and writes the given fields; returns false when
    /// the attempt was not in `from` (someone else changed it).
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn update_attempt<'a>(
        &'a self,
        id: i64,
        from: &'a str,
        to: &'a str,
        update: AttemptUpdate,
    ) -> PipelineFuture<'a, bool>;

    /// Inserts a PENDING stage request and returns its id.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn insert_request<'a>(
        &'a self,
        market: MarketRegion,
        date: NaiveDate,
        stage: &'a str,
        kind: RequestKind,
        requested_by: &'a str,
        now: DateTime<Utc>,
    ) -> PipelineFuture<'a, i64>;

    /// Claims the oldest PENDING request for `holder` — among those for one of `stages` when
    /// given — and returns it.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn take_request<'a>(
        &'a self,
        holder: &'a str,
        now: DateTime<Utc>,
        stages: Option<&'a [&'a str]>,
    ) -> PipelineFuture<'a, Option<StageRequest>>;

    /// Records the outcome of a request.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn finish_request<'a>(
        &'a self,
        id: i64,
        ok: bool,
        result: &'a str,
        now: DateTime<Utc>,
    ) -> PipelineFuture<'a, ()>;

    /// Returns a request by id.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn request(&self, id: i64) -> PipelineFuture<'_, Option<StageRequest>>;

    /// Takes or renews the named lease for `holder` until `now + ttl` and returns the epoch it is
    /// held under (unchanged on a renewal, one more on a takeover); `None` when another holder's
    /// lease has not expired.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn acquire_lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
        ttl: chrono::TimeDelta,
        now: DateTime<Utc>,
    ) -> PipelineFuture<'a, Option<i64>>;

    /// Releases the named lease if `holder` holds it (expired at once; the epoch stays).
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn release_lease<'a>(&'a self, name: &'a str, holder: &'a str) -> PipelineFuture<'a, ()>;

    /// Returns the unexpired holder of the named lease, if any.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the storage fails.
    fn live_lease<'a>(&'a self, name: &'a str, now: DateTime<Utc>)
    -> PipelineFuture<'a, Option<LeaseRecord>>;
}
