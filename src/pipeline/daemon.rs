//! The pipeline daemon loop: stands by until it holds the pipeline lease, then leads — runs the
//! pipeline when a trigger fires (and on start-up for the triggers already due today) and executes
//! operator run/re-run requests from `stage_requests` without a restart — while a heartbeat task
//! renews the lease. Losing the lease cancels the running work at once (its order writes are
//! already fenced off) and the daemon stands by again; a standby whose leader died takes over once
//! the lease lapses and resumes the day where the database says it stands.
//!
//! It drives the KRX pipeline and, when aegis trades US stocks, the US pipeline beside it: each
//! market is a lane with its own runner (its own run per trade date, on its own calendar) and its
//! own schedule; both share the lease, the store and the broker's client. One piece of work runs
//! at a time across the lanes (the two sessions do not overlap); requests are taken when the loop
//! is idle (a request made during the intraday stage waits for it to end).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::lease::LeaseKeeper;
use super::runner::{RunOutcome, Runner, RunnerError};
use super::schedule::{Schedule, Trigger, fire_times};
use super::scheduler::Fired;
use crate::domain::MarketRegion;
use crate::domain::sessions::SessionCalendar;
use crate::domain::stage::StageName;
use crate::notify::Notifier;
use crate::notify::alerts::{ExpectedTransition, StageOverdueRule};
use crate::notify::{Alert, AlertKind};
use crate::ports::pipeline_runs::{PipelineRuns, RequestKind, StageRequest};
use crate::ports::{Clock, Fence, SystemClock};
use crate::store::StoreError;

/// The name of the lease the daemon (or a CLI running a stage itself) holds.
pub const PIPELINE_LEASE: &str = "pipeline";

/// The least real time between two looks at the schedule and the requests on a compressed clock.
const POLL_FLOOR: Duration = Duration::from_millis(100);

/// The least real time a stage may be late before it counts as overdue on a compressed clock.
const OVERDUE_REAL_FLOOR: Duration = Duration::from_secs(5);

/// The stages an operator request may run while another stage runs (the intraday stage takes
/// the whole session): they touch no trading state — the configuration check, and re-issuing the
/// access token. Every other request waits for the running stage to end.
pub const SIDE_STAGES: [&str; 2] = ["config_check", "access_token"];

/// True when a request for `stage` runs beside a running stage instead of waiting for it.
pub fn runs_beside(stage: StageName) -> bool {
    SIDE_STAGES.contains(&stage.as_str())
}

/// Returns a lease holder name unique to this process (`<role>-<pid>-<random>`).
pub fn holder_name(role: &str) -> String {
    format!("{role}-{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Daemon settings.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The pipeline lease this process leads under (its holder name is unique per process); the
    /// store the runner writes orders through should be fenced by the same fence.
    pub fence: Arc<Fence>,
    /// How often requests are polled and a standby retries the lease.
    pub poll_interval: Duration,
    /// How long the lease survives without a heartbeat.
    pub lease_ttl: Duration,
    /// How long after a pipeline trigger fires its last stage must have had a transition before
    /// the "no stage transition by the expected time" alert goes out.
    pub overdue_grace: Duration,
    /// Where the daemon's own alerts go (none: they are only recorded as events).
    pub notifier: Option<Arc<dyn Notifier>>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            fence: Arc::new(Fence::new(PIPELINE_LEASE, holder_name("daemon"))),
            poll_interval: Duration::from_secs(3),
            lease_ttl: Duration::from_secs(30),
            overdue_grace: Duration::from_secs(15 * 60),
            notifier: None,
        }
    }
}

/// Errors that stop the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cron scheduler could not start.
    #[error(transparent)]
    Scheduler(#[from] super::scheduler::SchedulerError),
}

/// How a tenure as leader ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Led {
    /// The shutdown token fired.
    Stopped,
    /// The heartbeat lost the lease.
    LeaseLost,
}

#[derive(Debug, Clone)]
enum Work {
    Until(MarketRegion, NaiveDate, StageName),
    Request(Box<StageRequest>),
}

/// A market's run of a trade date.
type Day = (MarketRegion, NaiveDate);

/// One market's pipeline: the runner of its runs and the schedule of its triggers.
#[derive(Clone)]
struct Lane {
    runner: Arc<Runner>,
    schedule: Option<Arc<Schedule>>,
}

impl Lane {
    fn calendar(&self) -> &dyn SessionCalendar {
        self.runner.sessions().as_ref()
    }

    /// Returns the last stage due by `now` on the lane's current trade date (in its schedule's
    /// time zone), with the date.
    fn due_now(&self, now: chrono::DateTime<Utc>) -> Option<(NaiveDate, StageName)> {
        let schedule = self.schedule.as_ref()?;
        let today = now.with_timezone(&schedule.tz).date_naive();
        due_until(schedule, self.calendar(), today, now).map(|until| (today, until))
    }
}

/// The daemon loop.
pub struct Daemon {
    lanes: BTreeMap<MarketRegion, Lane>,
    store: Arc<dyn PipelineRuns>,
    /// Where the daemon's own alerts are recorded (the store of the first runner).
    events: crate::store::Store,
    clock: Arc<dyn Clock>,
    config: DaemonConfig,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Returns the last stage due on `date` by `now` according to the schedule (the largest `until`
/// of the pipeline triggers that already fired that day) on its market's calendar.
pub fn due_until(
    schedule: &Schedule,
    calendar: &dyn SessionCalendar,
    date: NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<StageName> {
    let tz = schedule.tz;
    let start = tz.from_local_datetime(&date.and_time(NaiveTime::MIN)).earliest()?;
    // Inclusive of a firing at exactly `now`.
    let end = now.with_timezone(&tz) + chrono::TimeDelta::seconds(1);
    fire_times(schedule, calendar, start, end)
        .into_iter()
        .filter_map(|(_, t)| match t {
            Trigger::Pipeline { until, .. } => Some(until),
            Trigger::MasterRefresh => None,
        })
        .max()
}

/// The expected transitions of a trade date: the last stage of every pipeline trigger that fires
/// that day must have had a transition by the firing time plus `grace`. Empty on a closed day.
pub fn expected_transitions(
    schedule: &Schedule,
    calendar: &dyn SessionCalendar,
    date: NaiveDate,
    grace: Duration,
) -> Vec<ExpectedTransition> {
    let tz = schedule.tz;
    let (Some(start), Some(end)) = (
        tz.from_local_datetime(&date.and_time(NaiveTime::MIN)).earliest(),
        tz.from_local_datetime(&(date + chrono::TimeDelta::days(1)).and_time(NaiveTime::MIN)).earliest(),
    ) else {
        return Vec::new();
    };
    let grace = chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::minutes(15));
    let mut latest: BTreeMap<StageName, chrono::DateTime<chrono::Utc>> = BTreeMap::new();
    for (at, trigger) in fire_times(schedule, calendar, start, end) {
        if let Trigger::Pipeline { until, .. } = trigger {
            let by = at.with_timezone(&chrono::Utc) + grace;
            latest.entry(until).and_modify(|b| *b = (*b).min(by)).or_insert(by);
        }
    }
    latest
        .into_iter()
        .map(|(stage, by)| ExpectedTransition { stage: stage.as_str().to_owned(), by })
        .collect()
}

/// Watches that a market's stages move by their expected times.
#[derive(Debug, Default)]
struct OverdueWatch {
    day: Option<(NaiveDate, StageOverdueRule)>,
}

impl OverdueWatch {
    /// Returns the alerts newly due at `now` (reading the day's attempts only when an
    /// expectation has passed unseen). The US pipeline's stages are named `US <stage>`.
    async fn check(
        &mut self,
        schedule: &Schedule,
        calendar: &dyn SessionCalendar,
        store: &dyn PipelineRuns,
        grace: Duration,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::notify::Alert>, StoreError> {
        let market = calendar.region();
        let prefix = super::sink::market_prefix(market);
        let today = now.with_timezone(&schedule.tz).date_naive();
        if self.day.as_ref().is_none_or(|(d, _)| *d != today) {
            let mut expected = expected_transitions(schedule, calendar, today, grace);
            for e in &mut expected {
                e.stage.insert_str(0, prefix);
            }
            self.day = Some((today, StageOverdueRule::new(expected)));
        }
        let Some((_, rule)) = self.day.as_mut() else { return Ok(Vec::new()) };
        if !rule.any_due(now) {
            return Ok(Vec::new());
        }
        if let Some(run) = store.find_run(market, today).await? {
            for attempt in store.attempts(run.id).await? {
                rule.on_transition(&format!("{prefix}{}", attempt.stage));
            }
        }
        Ok(rule.check(now))
    }
}

impl Daemon {
    /// Creates the daemon around the runner of one market's pipeline (whose cancellation token
    /// should be the one passed to [`Daemon::run`]) and the schedule of its triggers.
    pub fn new(runner: Arc<Runner>, schedule: Option<Arc<Schedule>>, config: DaemonConfig) -> Self {
        let store = runner.pipeline_runs().clone();
        let events = runner.store().clone();
        let lanes = BTreeMap::from([(runner.market(), Lane { runner, schedule })]);
        Self { lanes, store, events, clock: Arc::new(SystemClock), config }
    }

    /// Drives another market's pipeline too (the US one beside the KRX one): its runner — on the
    /// same store and cancellation token — and its schedule. A runner of a market already driven
    /// replaces it.
    #[must_use]
    pub fn with_market(mut self, runner: Arc<Runner>, schedule: Option<Arc<Schedule>>) -> Self {
        self.lanes.insert(runner.market(), Lane { runner, schedule });
        self
    }

    /// Sets the clock (lease times and the start-up catch-up).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Runs until `cancel` fires: stands by until it holds the lease, then leads (catches up on
    /// today's due triggers, serves triggers and requests). Losing the lease cancels the running
    /// work and returns to standing by. On cancellation it lets the running stage stop, records
    /// its state and releases the lease.
    ///
    /// # Errors
    /// Returns [`DaemonError`] when the database fails.
    pub async fn run(
        self,
        mut triggers: mpsc::Receiver<Fired>,
        cancel: CancellationToken,
    ) -> Result<(), DaemonError> {
        let keeper = LeaseKeeper::new(self.store.clone(), self.config.fence.clone(), self.config.lease_ttl);
        let standby_poll = self.config.poll_interval.min(Duration::from_secs(1));
        let mut targets: BTreeMap<Day, StageName> = BTreeMap::new();
        let mut first = true;
        // READY=1 once the lease is decided (held, or standing by); WATCHDOG=1 from this loop.
        let mut systemd = super::service::Systemd::from_env();
        crate::obs::record::lease(PIPELINE_LEASE, crate::obs::health::LeaseState::Pending);
        loop {
            let previous = self.store.live_lease(PIPELINE_LEASE, Utc::now()).await.ok().flatten();
            let mut waiting = |decided: bool| {
                if decided {
                    systemd.ready();
                }
                systemd.ping();
            };
            if !keeper.acquire_with(standby_poll, &cancel, &mut waiting).await {
                return Ok(());
            }
            systemd.ready();
            let holder = keeper.holder().to_owned();
            let epoch = keeper.fence().token().map_or(0, |t| t.epoch);
            tracing::info!(%holder, epoch, "pipeline daemon leads");
            if let Some(other) = previous.filter(|l| l.holder != holder) {
                self.alert(AlertKind::LeaseTakenOver, format!(
                    "{holder} took the pipeline over from {} (lease epoch {epoch}); the day resumes where the database stands",
                    other.holder
                ))
                .await;
            } else if !first {
                tracing::info!(%holder, "the pipeline lease is held again");
            }
            first = false;
            let heartbeat = keeper.keep();
            let led =
                self.lead(&holder, &heartbeat, &mut triggers, &cancel, &mut targets, &mut systemd).await;
            heartbeat.stop().await;
            match led {
                Ok(Led::Stopped) => {
                    keeper.release().await?;
                    tracing::info!(%holder, "pipeline daemon stopped");
                    return Ok(());
                }
                Ok(Led::LeaseLost) => {
                    self.alert(AlertKind::LeaseLost, format!(
                        "{holder} lost the pipeline lease (epoch {epoch}); its work was cancelled, its order writes are refused, and it stands by"
                    ))
                    .await;
                }
                Err(e) => {
                    let _ = keeper.release().await;
                    return Err(e);
                }
            }
        }
    }

    /// Serves triggers and requests while the lease is held: until `cancel` fires
    /// ([`Led::Stopped`]) or the heartbeat reports the lease lost ([`Led::LeaseLost`]), cancelling
    /// the running work in both cases and recording its outcome.
    async fn lead(
        &self,
        holder: &str,
        heartbeat: &super::lease::Heartbeat,
        triggers: &mut mpsc::Receiver<Fired>,
        cancel: &CancellationToken,
        targets: &mut BTreeMap<Day, StageName>,
        systemd: &mut super::service::Systemd,
    ) -> Result<Led, DaemonError> {
        // The work of this tenure stops on a shutdown and on losing the lease.
        let tenure = cancel.child_token();
        let runners: Arc<BTreeMap<MarketRegion, Arc<Runner>>> = Arc::new(
            self.lanes.iter().map(|(m, lane)| (*m, Arc::new(lane.runner.scoped(tenure.clone())))).collect(),
        );
        let now = self.clock.now();
        let mut queue: VecDeque<Work> = VecDeque::new();
        for (market, lane) in &self.lanes {
            if let Some((today, until)) = lane.due_now(now) {
                targets.insert((*market, today), until);
                queue.push_back(Work::Until(*market, today, until));
            }
        }
        let mut job: Option<JoinHandle<(Work, Result<RunOutcome, RunnerError>)>> = None;
        // An operator request that may run beside the running job (see [`runs_beside`]).
        let mut side: Option<JoinHandle<(Work, Result<RunOutcome, RunnerError>)>> = None;
        let mut overdue: BTreeMap<MarketRegion, OverdueWatch> = BTreeMap::new();
        // The tick checks the schedule and overdue stages (spans of the trading day, compressed
        // with the clock) and the operator's requests (at most every POLL_FLOOR of real time).
        let mut tick = tokio::time::interval(self.clock.real_at_least(self.config.poll_interval, POLL_FLOOR));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let result = loop {
            // A side request finishes before the next job starts: the job could otherwise meet
            // the side request's attempt of an early stage and take it for an interrupted one.
            if job.is_none()
                && side.is_none()
                && let Some(work) = queue.pop_front()
            {
                job = Some(tokio::spawn(Self::work(runners.clone(), work)));
            }
            let job_done = async {
                match job.as_mut() {
                    Some(handle) => handle.await,
                    None => std::future::pending().await,
                }
            };
            let side_done = async {
                match side.as_mut() {
                    Some(handle) => handle.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break Ok(Led::Stopped),
                () = heartbeat.lost().cancelled() => break Ok(Led::LeaseLost),
                fired = triggers.recv() => match fired {
                    Some(Fired { market, trigger: Trigger::Pipeline { until, .. }, trade_date, .. }) => {
                        let target = targets.entry((market, trade_date)).or_insert(until);
                        *target = (*target).max(until);
                        queue.push_back(Work::Until(market, trade_date, *target));
                    }
                    Some(Fired { trigger: Trigger::MasterRefresh, .. }) => {
                        tracing::debug!("master refresh trigger: the universe stage reads the fresh files");
                    }
                    None => {}
                },
                done = job_done => {
                    job = None;
                    self.finished(done, targets, &mut queue).await;
                }
                done = side_done => {
                    side = None;
                    self.finished(done, targets, &mut queue).await;
                }
                _ = tick.tick() => {
                    systemd.ping();
                    // Idle: the oldest request of any stage. Busy: only a request that may run
                    // beside the running job (the rest wait, as the CLI told the operator).
                    let taken = match (&job, &side) {
                        (None, None) if queue.is_empty() => {
                            self.store.take_request(holder, self.clock.now(), None).await
                        }
                        (Some(_), None) => {
                            self.store.take_request(holder, self.clock.now(), Some(&SIDE_STAGES)).await
                        }
                        _ => Ok(None),
                    };
                    match taken {
                        Ok(Some(req)) if job.is_some() && self.may_run_beside(&req).await => {
                            tracing::info!(request = req.id, stage = %req.stage, kind = %req.kind, "stage request taken; it runs beside the running stage");
                            side = Some(tokio::spawn(Self::work(runners.clone(), Work::Request(Box::new(req)))));
                        }
                        Ok(Some(req)) => {
                            tracing::info!(request = req.id, stage = %req.stage, kind = %req.kind, "stage request taken");
                            queue.push_back(Work::Request(Box::new(req)));
                        }
                        Ok(None) => {}
                        // A busy or failing database: the heartbeat decides about the lease, and
                        // the next tick asks again.
                        Err(e) => tracing::warn!(error = %e, "cannot read stage requests; retrying"),
                    }
                    queue.extend(self.catch_up(targets));
                    self.watch_overdue(&mut overdue).await;
                }
            }
        };
        // Losing the lease stops the work at once; so does a shutdown (the stage records its
        // state within the runner's grace).
        tenure.cancel();
        for handle in [job.take(), side.take()].into_iter().flatten() {
            if let Ok((work, outcome)) = handle.await {
                let _ = self.after(&work, outcome, targets).await;
            }
        }
        // Work queued but not started is asked for again by the schedule on the next tenure.
        if matches!(result, Ok(Led::LeaseLost)) {
            targets.clear();
        }
        result
    }

    async fn alert(&self, kind: AlertKind, text: String) {
        let date = self.alert_date().await;
        crate::notify::raise_alert(&self.events, self.config.notifier.as_deref(), date, Alert { kind, text })
            .await;
    }

    /// The trade date the daemon's own alerts belong to (the day whose Slack thread they go in):
    /// the latest of the markets' current trade dates that has a run — a lease lost at 04:00 KST
    /// belongs to the US session of the New York day before, not to a KST day nothing ran on
    /// yet — else today's KST date.
    async fn alert_date(&self) -> NaiveDate {
        let now = self.clock.now();
        let mut date = None;
        for (market, lane) in &self.lanes {
            let today = lane.calendar().trade_date_at(now);
            if matches!(self.store.find_run(*market, today).await, Ok(Some(_))) {
                date = date.max(Some(today));
            }
        }
        date.unwrap_or_else(|| now.with_timezone(&crate::domain::calendar::KST).date_naive())
    }

    /// Returns the pipeline work due by the schedules that no trigger has asked for yet (a firing
    /// missed while the process was down or busy, or the daemon runs on a clock the cron
    /// scheduler does not follow).
    fn catch_up(&self, targets: &mut BTreeMap<Day, StageName>) -> Vec<Work> {
        let now = self.clock.now();
        let mut due = Vec::new();
        for (market, lane) in &self.lanes {
            let Some((today, until)) = lane.due_now(now) else { continue };
            if targets.get(&(*market, today)).is_some_and(|t| *t >= until) {
                continue;
            }
            targets.insert((*market, today), until);
            tracing::info!(%today, %until, market = market.as_str(), "pipeline work due by the schedule");
            due.push(Work::Until(*market, today, until));
        }
        due
    }

    /// Alerts (event + notifiers) on every stage without a transition by its expected time.
    /// The grace before a stage counts as overdue: the configured span of the trading day, but
    /// at least what OVERDUE_REAL_FLOOR of real time is on the clock — a pre-market chain's round
    /// trips take real seconds however compressed the day (at 2000× the 15-minute grace is
    /// 0.45 s, which a loaded machine's chain overran).
    fn overdue_grace(&self) -> Duration {
        self.config.overdue_grace.max(self.clock.span_of(OVERDUE_REAL_FLOOR))
    }

    async fn watch_overdue(&self, watches: &mut BTreeMap<MarketRegion, OverdueWatch>) {
        let now = self.clock.now();
        for (market, lane) in &self.lanes {
            let Some(schedule) = &lane.schedule else { continue };
            let watch = watches.entry(*market).or_default();
            let alerts = match watch
                .check(schedule, lane.calendar(), self.store.as_ref(), self.overdue_grace(), now)
                .await
            {
                Ok(alerts) => alerts,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot check for overdue stages");
                    continue;
                }
            };
            let date = now.with_timezone(&schedule.tz).date_naive();
            for alert in alerts {
                crate::notify::raise_alert(lane.runner.store(), self.config.notifier.as_deref(), date, alert)
                    .await;
            }
        }
    }

    async fn work(
        runners: Arc<BTreeMap<MarketRegion, Arc<Runner>>>,
        work: Work,
    ) -> (Work, Result<RunOutcome, RunnerError>) {
        let market = match &work {
            Work::Until(market, ..) => Ok(*market),
            Work::Request(req) => request_market(req),
        };
        let runner = market.and_then(|m| runners.get(&m).ok_or(RunnerError::NoPipeline(m)));
        let outcome = match (runner, &work) {
            (Err(e), _) => Err(e),
            (Ok(runner), Work::Until(_, date, until)) => runner.run_until(*date, *until).await,
            (Ok(runner), Work::Request(req)) => match req.stage.parse::<StageName>() {
                Err(e) => Ok(RunOutcome::Failed { stage: StageName::ConfigCheck, error: e.to_string() }),
                Ok(stage) => match RequestKind::parse(&req.kind) {
                    Some(RequestKind::Rerun) => runner.rerun(req.trade_date, stage, &req.requested_by).await,
                    Some(RequestKind::Run) | None => runner.run_until(req.trade_date, stage).await,
                },
            },
        };
        (work, outcome)
    }

    /// True when a side request cannot collide with the running job's own attempts: on the
    /// request's date the job is past the side stages (a later stage has an attempt) or runs
    /// nothing (it works on another date). Otherwise the request waits for the job.
    async fn may_run_beside(&self, req: &StageRequest) -> bool {
        let Ok(market) = request_market(req) else { return true };
        let Ok(Some(run)) = self.store.find_run(market, req.trade_date).await else { return true };
        let Ok(attempts) = self.store.attempts(run.id).await else { return false };
        let past =
            attempts.iter().any(|a| a.stage.parse::<StageName>().is_ok_and(|s| s > StageName::AccessToken));
        let running = attempts.iter().any(|a| a.status == "RUNNING" || a.status == "PENDING");
        past || !running
    }

    /// Records the outcome of a finished job and queues its follow-up; a database failure while
    /// recording it is logged (the daemon keeps leading).
    async fn finished(
        &self,
        done: Result<(Work, Result<RunOutcome, RunnerError>), tokio::task::JoinError>,
        targets: &mut BTreeMap<Day, StageName>,
        queue: &mut VecDeque<Work>,
    ) {
        match done {
            Ok((work, outcome)) => match self.after(&work, outcome, targets).await {
                Ok(Some(next)) => queue.push_back(next),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "cannot record the outcome of pipeline work"),
            },
            Err(e) => tracing::error!(error = %e, "pipeline job panicked"),
        }
    }

    /// Records a request's result and returns the follow-up work (a successful re-run lets the
    /// day's pipeline continue up to its due stage).
    async fn after(
        &self,
        work: &Work,
        outcome: Result<RunOutcome, RunnerError>,
        targets: &mut BTreeMap<Day, StageName>,
    ) -> Result<Option<Work>, DaemonError> {
        let (ok, text) = match &outcome {
            Ok(RunOutcome::Completed { through }) => (true, format!("completed through {through}")),
            Ok(RunOutcome::Skipped { reason }) => (true, format!("skipped: {reason}")),
            Ok(RunOutcome::Failed { stage, error }) => (false, format!("stage {stage} failed: {error}")),
            Ok(RunOutcome::Blocked { stage }) => {
                (false, format!("the run is blocked by the failed stage {stage}; re-run it"))
            }
            Ok(RunOutcome::Interrupted { stage }) => (false, format!("interrupted during {stage}")),
            Err(e) => (false, e.to_string()),
        };
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "pipeline work failed");
        }
        let Work::Request(req) = work else { return Ok(None) };
        self.store.finish_request(req.id, ok, &text, self.clock.now()).await?;
        if !ok {
            return Ok(None);
        }
        let Ok(stage) = req.stage.parse::<StageName>() else { return Ok(None) };
        let Ok(market) = request_market(req) else { return Ok(None) };
        let Some(lane) = self.lanes.get(&market) else { return Ok(None) };
        let due = lane
            .schedule
            .as_ref()
            .and_then(|s| due_until(s, lane.calendar(), req.trade_date, self.clock.now()));
        let day = (market, req.trade_date);
        let target = targets.get(&day).copied().into_iter().chain(due).max();
        match target {
            Some(t) if t > stage => {
                targets.insert(day, t);
                Ok(Some(Work::Until(market, req.trade_date, t)))
            }
            _ => Ok(None),
        }
    }
}

/// Returns the market a request is for.
fn request_market(req: &StageRequest) -> Result<MarketRegion, RunnerError> {
    req.market.parse::<MarketRegion>().map_err(|_| RunnerError::UnknownMarket(req.market.clone()))
}

/// Runs the daemon as a service until `cancel` fires: starts the cron scheduler on the schedule of
/// every market it drives, serves triggers and requests (the daemon loop tells systemd it is
/// ready once the lease is decided and pings its watchdog from its own ticks), then sends
/// `STOPPING=1`, stops the scheduler and returns. The runners must have been built with the same
/// `cancel` token ([`Runner::with_cancel`]).
///
/// # Errors
/// Returns a [`DaemonError`] when the scheduler cannot start or the database fails.
pub async fn serve(daemon: Daemon, cancel: CancellationToken) -> Result<(), DaemonError> {
    let (tx, rx) = mpsc::channel(64);
    let markets: Vec<(&Schedule, Arc<dyn SessionCalendar>)> = daemon
        .lanes
        .values()
        .filter_map(|lane| lane.schedule.as_deref().map(|s| (s, lane.runner.sessions().clone())))
        .collect();
    let scheduler = super::scheduler::PipelineScheduler::start(&markets, tx, cancel.clone()).await?;
    let result = daemon.run(rx, cancel.clone()).await;
    super::service::notify_stopping();
    cancel.cancel();
    if let Err(e) = scheduler.shutdown().await {
        tracing::warn!(error = %e, "scheduler did not shut down cleanly");
    }
    result
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::calendar::{KST, KrxCalendar};

    #[test]
    fn due_until_follows_the_shifted_schedule() {
        let schedule = Schedule::builtin().unwrap();
        let cal = KrxCalendar::builtin().unwrap();
        let at = |d: u32, h: u32, m: u32| {
            KST.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap().with_timezone(&chrono::Utc)
        };
        let exam = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        let regular = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
        assert_eq!(
            due_until(&schedule, &cal, exam, at(19, 8, 30)),
            None,
            "the exam day starts an hour later"
        );
        assert_eq!(due_until(&schedule, &cal, exam, at(19, 9, 0)), Some(StageName::Universe));
        assert_eq!(due_until(&schedule, &cal, exam, at(19, 16, 0)), Some(StageName::Intraday));
        assert_eq!(due_until(&schedule, &cal, exam, at(19, 23, 0)), Some(StageName::Journal));
        assert_eq!(due_until(&schedule, &cal, regular, at(18, 9, 0)), Some(StageName::Intraday));
        let holiday = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let late = KST.with_ymd_and_hms(2026, 12, 31, 20, 0, 0).unwrap().with_timezone(&chrono::Utc);
        assert_eq!(due_until(&schedule, &cal, holiday, late), None);
    }

    #[test]
    fn expected_transitions_follow_the_schedule_and_calendar() {
        let schedule = Schedule::builtin().unwrap();
        let cal = KrxCalendar::builtin().unwrap();
        let grace = Duration::from_secs(15 * 60);
        let kst = |e: &ExpectedTransition| e.by.with_timezone(&KST).format("%H:%M").to_string();
        let regular =
            expected_transitions(&schedule, &cal, NaiveDate::from_ymd_opt(2026, 11, 18).unwrap(), grace);
        let got: Vec<(String, String)> = regular.iter().map(|e| (e.stage.clone(), kst(e))).collect();
        let want = [("universe", "08:15"), ("intraday", "09:05"), ("close", "15:50"), ("journal", "17:15")];
        assert_eq!(got, want.map(|(a, b)| (a.to_owned(), b.to_owned())).to_vec());
        let exam =
            expected_transitions(&schedule, &cal, NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(), grace);
        assert_eq!(kst(&exam[0]), "09:15", "the exam day opens an hour later");
        let holiday = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert!(expected_transitions(&schedule, &cal, holiday, grace).is_empty());
        let saturday = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        assert!(expected_transitions(&schedule, &cal, saturday, grace).is_empty());
    }

    /// A lease lost at 04:00 KST, in the US session, is the US day's: its alert goes to that
    /// date's Slack thread, not to a KST day nothing ran on yet.
    #[tokio::test]
    async fn the_daemons_alerts_belong_to_the_day_that_runs() {
        let db = crate::store::testing::TestDb::new(crate::store::testing::Backend::Sqlite)
            .await
            .unwrap()
            .unwrap();
        let krx = Arc::new(KrxCalendar::builtin().unwrap());
        let us = Arc::new(crate::domain::us_calendar::UsCalendar::builtin().unwrap());
        let kr_runner = Arc::new(Runner::new(db.store.clone(), krx.clone()));
        let us_runner = Arc::new(Runner::new(db.store.clone(), krx).with_sessions(us));
        let at =
            |d: u32, h: u32| KST.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap().with_timezone(&chrono::Utc);
        let clock = Arc::new(crate::ports::FakeClock::new(at(20, 4)));
        let daemon = Daemon::new(kr_runner, None, DaemonConfig::default())
            .with_market(us_runner, None)
            .with_clock(clock.clone());
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        assert_eq!(daemon.alert_date().await, day(20), "nothing runs: the KST date");
        let store = db.store.pipeline();
        store.get_or_create_run(MarketRegion::Kr, day(19), "SUCCEEDED", None, at(19, 8)).await.unwrap();
        store.get_or_create_run(MarketRegion::Us, day(19), "RUNNING", None, at(19, 22)).await.unwrap();
        assert_eq!(daemon.alert_date().await, day(19), "04:00 KST on the 20th is the US day of the 19th");
        clock.set(at(20, 8));
        store.get_or_create_run(MarketRegion::Kr, day(20), "RUNNING", None, at(20, 8)).await.unwrap();
        assert_eq!(daemon.alert_date().await, day(20), "the KRX day of the 20th has begun");
    }

    #[tokio::test]
    async fn overdue_stages_alert_once_until_they_move() {
        let db = crate::store::testing::TestDb::new(crate::store::testing::Backend::Sqlite)
            .await
            .unwrap()
            .unwrap();
        let store = db.store.pipeline();
        let schedule = Schedule::builtin().unwrap();
        let cal = KrxCalendar::builtin().unwrap();
        let grace = Duration::from_secs(15 * 60);
        let at =
            |h: u32, m: u32| KST.with_ymd_and_hms(2026, 11, 18, h, m, 0).unwrap().with_timezone(&chrono::Utc);
        let mut watch = OverdueWatch::default();
        assert!(watch.check(&schedule, &cal, &store, grace, at(8, 10)).await.unwrap().is_empty());
        let alerts = watch.check(&schedule, &cal, &store, grace, at(8, 20)).await.unwrap();
        assert_eq!(alerts.len(), 1);
        assert!(
            alerts[0].text.contains("universe") && alerts[0].text.contains("08:15:00 KST"),
            "{}",
            alerts[0].text
        );
        assert!(watch.check(&schedule, &cal, &store, grace, at(8, 30)).await.unwrap().is_empty(), "once");
        let date = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
        let (run, _) =
            store.get_or_create_run(MarketRegion::Kr, date, "RUNNING", None, at(8, 40)).await.unwrap();
        store.insert_attempt(run.id, "intraday", 1, None, at(8, 50)).await.unwrap();
        assert!(
            watch.check(&schedule, &cal, &store, grace, at(9, 10)).await.unwrap().is_empty(),
            "intraday moved in time"
        );
        let alerts = watch.check(&schedule, &cal, &store, grace, at(16, 0)).await.unwrap();
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].text.contains("close"), "{}", alerts[0].text);
    }
}
