//! The pipeline runner: executes the stages of a trade date in order through the stage state
//! machine, persisting every attempt, enforcing `needs`, timeouts and retries, resuming after a
//! crash and switching trading to stop mode when a stage that demands it fails.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::sink::{NoopSink, Transition, TransitionSink, rerun_command};
use super::stage::{DynStage, StageContext, StageError};
use crate::domain::MarketRegion;
use crate::domain::calendar::KrxCalendar;
use crate::domain::mode::{ModeEvent, StopReason};
use crate::domain::sessions::SessionCalendar;
use crate::domain::stage::{
    DEFAULT_SPECS, InvalidStageTransition, RunStatus, StageEvent, StageName, StageSpec, StageStatus,
    transition,
};
use crate::ports::pipeline_runs::{AttemptUpdate, PipelineRunRecord, PipelineRuns, StageRunRecord};
use crate::ports::{Clock, SystemClock};
use crate::store::control::ControlStore;
use crate::store::{Severity, Store, StoreError};
use crate::telemetry::scrubbed;

/// Errors of the runner itself (stage failures are outcomes, not errors).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No implementation of the stage was given to the runner.
    #[error("stage {0} is not available in this runner")]
    NotRegistered(StageName),
    /// A stage was asked to run before a stage it needs succeeded.
    #[error("stage {stage} needs {missing}, which has not succeeded for this trade date")]
    NeedsNotMet {
        /// The stage asked for.
        stage: StageName,
        /// The first unmet dependency.
        missing: StageName,
    },
    /// Work for a market whose pipeline this process does not run (a US request to a daemon
    /// without `US_SYMBOLS`).
    #[error("this process does not run the {0} pipeline (the US one runs when US_SYMBOLS is set)")]
    NoPipeline(MarketRegion),
    /// A stored request names no market.
    #[error("unknown market `{0}` (expected KR or US)")]
    UnknownMarket(String),
    /// A stored status is not in the state machine.
    #[error("stage_runs row {id} has the unknown status `{status}`")]
    CorruptStatus {
        /// Row id.
        id: i64,
        /// Stored text.
        status: String,
    },
    /// The state machine refused a transition (a bug or a concurrent writer).
    #[error(transparent)]
    Transition(#[from] InvalidStageTransition),
    /// Another process changed the attempt under us.
    #[error("stage {stage} attempt {attempt} was changed by another process")]
    Conflict {
        /// The stage.
        stage: StageName,
        /// The attempt.
        attempt: i32,
    },
}

/// How a run (or a single stage request) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every stage up to `through` succeeded or was skipped.
    Completed {
        /// The last stage asked for.
        through: StageName,
    },
    /// A stage failed after its retries; the run waits for a re-run.
    Failed {
        /// The stage.
        stage: StageName,
        /// Its scrubbed error.
        error: String,
    },
    /// The run had already failed at `stage`; nothing was executed.
    Blocked {
        /// The failed stage to re-run.
        stage: StageName,
    },
    /// The market is closed on the trade date.
    Skipped {
        /// Why.
        reason: String,
    },
    /// A shutdown interrupted `stage`; the next start resumes it.
    Interrupted {
        /// The stage.
        stage: StageName,
    },
}

enum Attempted {
    Succeeded(Value),
    Skipped,
    Failed(String),
    Interrupted,
}

/// Executes pipeline runs.
#[derive(Clone)]
pub struct Runner {
    store: Store,
    pipeline: Arc<dyn PipelineRuns>,
    control: ControlStore,
    calendar: Arc<KrxCalendar>,
    /// The calendar of the market this runner's runs trade (the KRX calendar unless set).
    sessions: Arc<dyn SessionCalendar>,
    stages: BTreeMap<StageName, Arc<dyn DynStage>>,
    specs: BTreeMap<StageName, StageSpec>,
    sink: Arc<dyn TransitionSink>,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
    shutdown_grace: Duration,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("stages", &self.stages.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn parse_status(row: &StageRunRecord) -> Result<StageStatus, RunnerError> {
    StageStatus::parse(&row.status)
        .ok_or_else(|| RunnerError::CorruptStatus { id: row.id, status: row.status.clone() })
}

impl Runner {
    /// Creates a runner with the default stage specifications, no stages, a no-op transition sink,
    /// the system clock and its own cancellation token.
    pub fn new(store: Store, calendar: Arc<KrxCalendar>) -> Self {
        Self {
            pipeline: Arc::new(store.pipeline()),
            control: store.control(),
            store,
            sessions: calendar.clone(),
            calendar,
            stages: BTreeMap::new(),
            specs: DEFAULT_SPECS.into_iter().map(|s| (s.name, s)).collect(),
            sink: Arc::new(NoopSink),
            clock: Arc::new(SystemClock),
            cancel: CancellationToken::new(),
            shutdown_grace: Duration::from_secs(10),
        }
    }

    /// Adds (or replaces) a stage implementation.
    #[must_use]
    pub fn with_stage(mut self, stage: Arc<dyn DynStage>) -> Self {
        self.stages.insert(stage.name(), stage);
        self
    }

    /// Replaces a stage's specification.
    #[must_use]
    pub fn with_spec(mut self, spec: StageSpec) -> Self {
        self.specs.insert(spec.name, spec);
        self
    }

    /// Sets the sink told about every transition.
    #[must_use]
    pub fn with_sink(mut self, sink: Arc<dyn TransitionSink>) -> Self {
        self.sink = sink;
        self
    }

    /// Sets the clock used for recorded times.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the shutdown token and how long a running stage may take to stop after it fires.
    #[must_use]
    pub fn with_cancel(mut self, cancel: CancellationToken, grace: Duration) -> Self {
        self.cancel = cancel;
        self.shutdown_grace = grace;
        self
    }

    /// Returns this runner stopping on `cancel` instead of its own token (the daemon scopes the
    /// work of one lease tenure: losing the lease cancels it, a shutdown too when `cancel` is a
    /// child of the shutdown token).
    #[must_use]
    pub fn scoped(&self, cancel: CancellationToken) -> Self {
        Self { cancel, ..self.clone() }
    }

    /// Returns the token the runner stops on.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Returns the pipeline runs the runner writes to.
    pub fn pipeline_runs(&self) -> &Arc<dyn PipelineRuns> {
        &self.pipeline
    }

    /// Returns the store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Returns the KRX calendar (the holidays the operator commands show).
    pub fn calendar(&self) -> &KrxCalendar {
        &self.calendar
    }

    /// Returns the calendar of the market this runner's runs trade (the daemon's schedule of the
    /// market fires on its trading days).
    pub fn sessions(&self) -> &Arc<dyn SessionCalendar> {
        &self.sessions
    }

    /// Returns the market this runner's runs trade (each market has its own run of a date).
    pub fn market(&self) -> MarketRegion {
        self.sessions.region()
    }

    /// Runs on the calendar of another market (a US runner skips New York's closed days).
    #[must_use]
    pub fn with_sessions(mut self, sessions: Arc<dyn SessionCalendar>) -> Self {
        self.sessions = sessions;
        self
    }

    fn spec(&self, stage: StageName) -> StageSpec {
        self.specs.get(&stage).copied().unwrap_or_else(|| crate::domain::stage::default_spec(stage))
    }

    /// Returns the run of the date, creating it; on a closed date the run is recorded as SKIPPED
    /// with the reason and `Err(reason)` is returned.
    async fn open_run(&self, date: NaiveDate) -> Result<Result<PipelineRunRecord, String>, RunnerError> {
        let now = self.clock.now();
        if let Some(closed) = self.sessions.closed_reason(date) {
            let reason = format!("market closed on {date}: {closed}");
            let (run, created) = self
                .pipeline
                .get_or_create_run(
                    self.market(),
                    date,
                    RunStatus::Skipped.as_str(),
                    Some(reason.clone()),
                    now,
                )
                .await?;
            if created {
                self.store
                    .events()
                    .record(
                        "pipeline_skipped",
                        Severity::Info,
                        &reason,
                        json!({"run_id": run.id, "market": self.market().as_str()}),
                        Some(date),
                        None,
                    )
                    .await?;
                tracing::info!(%date, %reason, "pipeline run skipped");
            }
            if run.status == RunStatus::Skipped.as_str() {
                return Ok(Err(run.reason.unwrap_or(reason)));
            }
            return Ok(Ok(run));
        }
        let (mut run, created) = self
            .pipeline
            .get_or_create_run(self.market(), date, RunStatus::Running.as_str(), None, now)
            .await?;
        if created {
            tracing::info!(%date, market = self.market().as_str(), run_id = run.id, "pipeline run created");
        } else if run.status == RunStatus::Skipped.as_str() {
            // Recorded as closed earlier, open now (the broker's holiday API said so).
            self.pipeline.set_run_status(run.id, RunStatus::Running.as_str(), None, None).await?;
            run.status = RunStatus::Running.as_str().to_owned();
            run.reason = None;
        }
        Ok(Ok(run))
    }

    async fn latest_status(
        &self,
        run_id: i64,
        stage: StageName,
    ) -> Result<Option<(StageRunRecord, StageStatus)>, RunnerError> {
        match self.pipeline.latest_attempt(run_id, stage.as_str()).await? {
            Some(row) => {
                let status = parse_status(&row)?;
                Ok(Some((row, status)))
            }
            None => Ok(None),
        }
    }

    async fn load_outputs(&self, run_id: i64) -> Result<BTreeMap<StageName, Value>, RunnerError> {
        let mut outputs = BTreeMap::new();
        for row in self.pipeline.attempts(run_id).await? {
            if row.status == StageStatus::Succeeded.as_str()
                && let Ok(stage) = row.stage.parse::<StageName>()
            {
                outputs.insert(stage, row.output.unwrap_or(Value::Null));
            }
        }
        Ok(outputs)
    }

    /// Closes an attempt a crash left PENDING or RUNNING as FAILED ("interrupted").
    async fn close_interrupted(
        &self,
        date: NaiveDate,
        stage: StageName,
        row: &StageRunRecord,
        status: StageStatus,
    ) -> Result<(), RunnerError> {
        let to = transition(status, StageEvent::Interrupt)?;
        let now = self.clock.now();
        let error = "interrupted (the process stopped during this attempt)".to_owned();
        let update =
            AttemptUpdate { finished_at: Some(now), error: Some(error.clone()), ..Default::default() };
        if !self.pipeline.update_attempt(row.id, status.as_str(), to.as_str(), update).await? {
            return Err(RunnerError::Conflict { stage, attempt: row.attempt });
        }
        self.announce(date, stage, row.attempt, status, to, row.started_at, Some(error), false).await
    }

    /// Runs the pipeline of `date` up to and including `until`, resuming from the first stage that
    /// has not succeeded. A run that failed is not continued (re-run the failed stage instead).
    ///
    /// # Errors
    /// Returns a [`RunnerError`] for database failures, missing stage implementations or a
    /// corrupt state; stage failures are [`RunOutcome::Failed`].
    #[tracing::instrument(skip_all, fields(%date, %until), err)]
    pub async fn run_until(&self, date: NaiveDate, until: StageName) -> Result<RunOutcome, RunnerError> {
        let run = match self.open_run(date).await? {
            Ok(run) => run,
            Err(reason) => return Ok(RunOutcome::Skipped { reason }),
        };
        let mut outputs = self.load_outputs(run.id).await?;
        for stage in StageName::ALL.into_iter().take_while(|s| *s <= until) {
            let latest = self.latest_status(run.id, stage).await?;
            match &latest {
                Some((_, StageStatus::Succeeded | StageStatus::Skipped)) => continue,
                Some((_, StageStatus::Failed)) if run.status == RunStatus::Failed.as_str() => {
                    return Ok(RunOutcome::Blocked { stage });
                }
                Some((row, status @ (StageStatus::Pending | StageStatus::Running))) => {
                    self.close_interrupted(date, stage, row, *status).await?;
                }
                Some((_, StageStatus::Failed)) | None => {}
            }
            if self.cancel.is_cancelled() {
                return Ok(RunOutcome::Interrupted { stage });
            }
            match self.execute(&run, stage, None, &mut outputs).await? {
                Some(outcome) => return Ok(outcome),
                None => continue,
            }
        }
        if until == StageName::Journal {
            self.pipeline
                .set_run_status(run.id, RunStatus::Succeeded.as_str(), None, Some(self.clock.now()))
                .await?;
        }
        Ok(RunOutcome::Completed { through: until })
    }

    /// Executes one stage again (an operator re-run), even if it succeeded before. A failed run
    /// becomes RUNNING again first, so the following stages can proceed afterwards.
    ///
    /// # Errors
    /// Returns [`RunnerError::NeedsNotMet`] when a needed stage has not succeeded, or another
    /// [`RunnerError`].
    #[tracing::instrument(skip_all, fields(%date, %stage), err)]
    pub async fn rerun(
        &self,
        date: NaiveDate,
        stage: StageName,
        requested_by: &str,
    ) -> Result<RunOutcome, RunnerError> {
        let run = match self.open_run(date).await? {
            Ok(run) => run,
            Err(reason) => return Ok(RunOutcome::Skipped { reason }),
        };
        if !self.stages.contains_key(&stage) {
            return Err(RunnerError::NotRegistered(stage));
        }
        for need in self.spec(stage).needs {
            match self.latest_status(run.id, *need).await? {
                Some((_, StageStatus::Succeeded | StageStatus::Skipped)) => {}
                _ => return Err(RunnerError::NeedsNotMet { stage, missing: *need }),
            }
        }
        if let Some((row, status @ (StageStatus::Pending | StageStatus::Running))) =
            self.latest_status(run.id, stage).await?
        {
            self.close_interrupted(date, stage, &row, status).await?;
        }
        if run.status != RunStatus::Running.as_str() {
            self.pipeline.set_run_status(run.id, RunStatus::Running.as_str(), None, None).await?;
        }
        let mut outputs = self.load_outputs(run.id).await?;
        if let Some(outcome) = self.execute(&run, stage, Some(requested_by.to_owned()), &mut outputs).await? {
            return Ok(outcome);
        }
        if self.all_done(run.id).await? {
            self.pipeline
                .set_run_status(run.id, RunStatus::Succeeded.as_str(), None, Some(self.clock.now()))
                .await?;
        }
        Ok(RunOutcome::Completed { through: stage })
    }

    /// Returns whether every stage's latest attempt succeeded or was skipped.
    async fn all_done(&self, run_id: i64) -> Result<bool, RunnerError> {
        for stage in StageName::ALL {
            if !matches!(
                self.latest_status(run_id, stage).await?,
                Some((_, StageStatus::Succeeded | StageStatus::Skipped))
            ) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Executes a stage with retries; returns `None` when the run may continue.
    async fn execute(
        &self,
        run: &PipelineRunRecord,
        stage: StageName,
        requested_by: Option<String>,
        outputs: &mut BTreeMap<StageName, Value>,
    ) -> Result<Option<RunOutcome>, RunnerError> {
        let imp = self.stages.get(&stage).cloned().ok_or(RunnerError::NotRegistered(stage))?;
        let spec = self.spec(stage);
        let max = spec.retry.max_attempts.max(1);
        for try_no in 1..=max {
            if try_no > 1 {
                // The backoff is a span of the trading day: on a compressed clock it is compressed.
                let wait = self.clock.real(spec.retry.delay_before(try_no));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = self.cancel.cancelled() => return Ok(Some(RunOutcome::Interrupted { stage })),
                }
            }
            let last = try_no == max;
            match self.attempt(run, stage, &spec, imp.as_ref(), requested_by.clone(), outputs, last).await? {
                (Attempted::Succeeded(output), _) => {
                    outputs.insert(stage, output);
                    return Ok(None);
                }
                (Attempted::Skipped, _) => return Ok(None),
                (Attempted::Interrupted, _) => return Ok(Some(RunOutcome::Interrupted { stage })),
                (Attempted::Failed(error), retryable) => {
                    if retryable && !last {
                        continue;
                    }
                    return Ok(Some(RunOutcome::Failed { stage, error }));
                }
            }
        }
        Ok(None)
    }

    async fn fail_run(
        &self,
        run: &PipelineRunRecord,
        stage: StageName,
        spec: &StageSpec,
        error: &str,
    ) -> Result<(), RunnerError> {
        let reason = format!("stage {stage} failed: {error}");
        self.pipeline
            .set_run_status(run.id, RunStatus::Failed.as_str(), Some(reason), Some(self.clock.now()))
            .await?;
        if spec.stop_trading_on_failure {
            let event = ModeEvent::KillSwitch {
                reason: StopReason::StageFailed { stage: stage.as_str().to_owned(), error: error.to_owned() },
            };
            match self.control.apply(&event, "pipeline", self.clock.now()).await {
                Ok(change) => {
                    tracing::warn!(%stage, mode = change.to.as_str(), "trading stopped by a failed stage")
                }
                Err(crate::store::control::ControlError::Store(e)) => return Err(e.into()),
                Err(crate::store::control::ControlError::Transition(e)) => {
                    tracing::warn!(%stage, error = %e, "trading mode unchanged");
                }
            }
        }
        Ok(())
    }

    /// Makes one attempt; the flag says whether its error is retryable. When the attempt fails
    /// for good (`last`, or not retryable), the run is failed — and trading stopped where the
    /// stage demands it — before the failure is announced, so an operator who reads the alert
    /// already finds the safe state.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        run: &PipelineRunRecord,
        stage: StageName,
        spec: &StageSpec,
        imp: &dyn DynStage,
        requested_by: Option<String>,
        outputs: &BTreeMap<StageName, Value>,
        last: bool,
    ) -> Result<(Attempted, bool), RunnerError> {
        let date = run.trade_date;
        let number = self.pipeline.latest_attempt(run.id, stage.as_str()).await?.map_or(1, |r| r.attempt + 1);
        let row = self
            .pipeline
            .insert_attempt(run.id, stage.as_str(), number, requested_by, self.clock.now())
            .await?;
        let running = transition(StageStatus::Pending, StageEvent::Start)?;
        let started = self.clock.now();
        let update = AttemptUpdate { started_at: Some(started), ..Default::default() };
        if !self
            .pipeline
            .update_attempt(row.id, StageStatus::Pending.as_str(), running.as_str(), update)
            .await?
        {
            return Err(RunnerError::Conflict { stage, attempt: number });
        }
        self.announce(date, stage, number, StageStatus::Pending, running, None, None, false).await?;

        let child = self.cancel.child_token();
        let mut ctx = StageContext {
            trade_date: date,
            run_id: run.id,
            attempt: number,
            outputs: outputs.clone(),
            cancel: child.clone(),
            store: self.store.clone(),
        };
        let span = tracing::info_span!(
            "stage",
            run_id = run.id,
            stage = stage.as_str(),
            trade_date = %date,
            attempt = number
        );
        // Wall-clock time: a stage's timeout also covers its waits for the session, which a
        // compressed day may reach hours of simulated time early.
        let limit = spec.timeout;
        let result = {
            let fut = imp.run_json(&mut ctx).instrument(span.clone());
            tokio::pin!(fut);
            tokio::select! {
                r = tokio::time::timeout(limit, &mut fut) => {
                    r.unwrap_or(Err(StageError::Timeout(spec.timeout)))
                }
                () = self.cancel.cancelled() => {
                    match tokio::time::timeout(self.shutdown_grace, &mut fut).await {
                        Ok(Ok(v)) => Ok(v),
                        Ok(Err(_)) | Err(_) => Err(StageError::Cancelled),
                    }
                }
            }
        };
        child.cancel();

        let (event, attempted, retryable, error, output) = match result {
            Ok(v) => (StageEvent::Succeed, Attempted::Succeeded(v.clone()), false, None, Some(v)),
            Err(StageError::Skip(why)) => {
                (StageEvent::Skip, Attempted::Skipped, false, Some(scrubbed(&why)), None)
            }
            Err(StageError::Cancelled) => (
                StageEvent::Interrupt,
                Attempted::Interrupted,
                false,
                Some("interrupted by shutdown".into()),
                None,
            ),
            Err(e) => {
                let text = scrubbed(&e.report());
                let retryable = e.is_retryable();
                span.in_scope(|| tracing::warn!(error = %text, retryable, "stage attempt failed"));
                (StageEvent::Fail, Attempted::Failed(text.clone()), retryable, Some(text), None)
            }
        };
        let to = transition(running, event)?;
        let update = AttemptUpdate {
            finished_at: Some(self.clock.now()),
            error: error.clone(),
            output,
            ..Default::default()
        };
        if !self.pipeline.update_attempt(row.id, running.as_str(), to.as_str(), update).await? {
            return Err(RunnerError::Conflict { stage, attempt: number });
        }
        let run_failed = matches!(attempted, Attempted::Failed(_)) && (last || !retryable);
        if let Attempted::Failed(text) = &attempted
            && run_failed
        {
            self.fail_run(run, stage, spec, text).await?;
        }
        self.announce(date, stage, number, running, to, Some(started), error, run_failed).await?;
        Ok((attempted, retryable))
    }

    /// Records a transition as an event and tells the sink (a sink never fails the run).
    #[allow(clippy::too_many_arguments)]
    async fn announce(
        &self,
        date: NaiveDate,
        stage: StageName,
        attempt: i32,
        from: StageStatus,
        to: StageStatus,
        started_at: Option<DateTime<Utc>>,
        error: Option<String>,
        run_failed: bool,
    ) -> Result<(), RunnerError> {
        let at = self.clock.now();
        let duration = started_at.and_then(|s| (at - s).to_std().ok()).filter(|_| to.is_terminal());
        let market = self.market();
        let t = Transition {
            market,
            trade_date: date,
            stage,
            attempt,
            from,
            to,
            at,
            duration,
            error,
            rerun_command: rerun_command(stage, date, market),
            run_failed,
        };
        let severity = match to {
            StageStatus::Failed => Severity::Error,
            _ => Severity::Info,
        };
        let message = t.summary();
        let payload = json!({
            "market": market.as_str(),
            "stage": stage.as_str(),
            "attempt": attempt,
            "from": from.as_str(),
            "to": to.as_str(),
            "duration_ms": duration.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            "error": t.error,
        });
        self.store.events().record("stage_transition", severity, &message, payload, Some(date), None).await?;
        tracing::info!(%stage, attempt, from = from.as_str(), to = to.as_str(), "stage transition");
        crate::obs::record::stage_transition(&t);
        self.sink.on_transition(&t).await;
        Ok(())
    }
}
