//! Pipeline engine tests: runs with fake stages on SQLite and PostgreSQL (success, failure with
//! stop mode, re-run through the database, crash resume, closed day) and scheduler fire times.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aegis::domain::MarketRegion;
use aegis::domain::calendar::{KST, KrxCalendar};
use aegis::domain::mode::TradingMode;
use aegis::domain::stage::{StageName, StageRetry, StageStatus, default_spec};
use aegis::pipeline::schedule::{Schedule, Trigger, fire_times};
use aegis::pipeline::{
    Daemon, DaemonConfig, Fired, MemorySink, RunOutcome, Runner, Stage, StageContext, StageError,
};
use aegis::store::Store;
use aegis::store::control::ControlStore;
use aegis::store::pipeline::{PipelineStore, RequestKind};
use aegis::store::testing::TestDb;
use chrono::{NaiveDate, TimeZone, Utc};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::support::wait::wait_for;

/// How each fake stage behaves, shared with the test.
#[derive(Debug, Default)]
struct Script {
    calls: BTreeMap<StageName, u32>,
    fatal: Vec<StageName>,
    retryable: Vec<StageName>,
    hang: Option<StageName>,
}

#[derive(Clone, Default)]
struct Fakes {
    script: Arc<Mutex<Script>>,
    hanging: Arc<Notify>,
}

struct FakeStage {
    name: StageName,
    fakes: Fakes,
}

impl Stage for FakeStage {
    type Output = Value;

    fn name(&self) -> StageName {
        self.name
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<Value, StageError>> {
        Box::pin(async move {
            let (fatal, retryable, hang) = {
                let mut s = self.fakes.script.lock().unwrap();
                *s.calls.entry(self.name).or_default() += 1;
                (s.fatal.contains(&self.name), s.retryable.contains(&self.name), s.hang == Some(self.name))
            };
            if hang {
                self.fakes.hanging.notify_one();
                ctx.cancel.cancelled().await;
                return Err(StageError::Cancelled);
            }
            if fatal {
                return Err(StageError::Fatal(format!("{} refused by the broker (EGW00123)", self.name)));
            }
            if retryable {
                return Err(StageError::Retryable("connection reset".into()));
            }
            Ok(
                json!({"stage": self.name.as_str(), "seen": ctx.outputs.keys().map(|s| s.as_str()).collect::<Vec<_>>()}),
            )
        })
    }
}

impl Fakes {
    fn calls(&self, stage: StageName) -> u32 {
        self.script.lock().unwrap().calls.get(&stage).copied().unwrap_or(0)
    }

    fn runner(&self, store: &Store, sink: &MemorySink, cancel: CancellationToken) -> Runner {
        let calendar = Arc::new(KrxCalendar::builtin().unwrap());
        let mut runner = Runner::new(store.clone(), calendar)
            .with_sink(Arc::new(sink.clone()))
            .with_cancel(cancel, Duration::from_secs(5));
        for name in StageName::ALL {
            runner = runner.with_stage(Arc::new(FakeStage { name, fakes: self.clone() }));
        }
        runner
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A trading day (the exam-day special session, which the runner treats like any trading day).
const TRADE_DAY: &str = "2026-11-19";

async fn rows(store: &Store, date: NaiveDate) -> Vec<aegis::ports::pipeline_runs::StageRunRecord> {
    let p = PipelineStore::new(store.conn().clone());
    let run = p.find_run(aegis::domain::MarketRegion::Kr, date).await.unwrap().expect("run row");
    p.attempts(run.id).await.unwrap()
}

async fn run_status(store: &Store, date: NaiveDate) -> String {
    PipelineStore::new(store.conn().clone())
        .find_run(aegis::domain::MarketRegion::Kr, date)
        .await
        .unwrap()
        .expect("run row")
        .status
}

async fn full_run_succeeds(t: TestDb) {
    let fakes = Fakes::default();
    let sink = MemorySink::default();
    let runner = fakes.runner(&t.store, &sink, CancellationToken::new());
    let date = day(TRADE_DAY);
    assert_eq!(
        runner.run_until(date, StageName::Journal).await.unwrap(),
        RunOutcome::Completed { through: StageName::Journal }
    );
    let rows = rows(&t.store, date).await;
    assert_eq!(rows.len(), 11);
    for (row, stage) in rows.iter().zip(StageName::ALL) {
        assert_eq!((row.stage.as_str(), row.attempt, row.status.as_str()), (stage.as_str(), 1, "SUCCEEDED"));
        assert!(row.started_at.is_some() && row.finished_at.is_some());
    }
    let intraday = rows.iter().find(|r| r.stage == "intraday").unwrap();
    assert_eq!(intraday.output.as_ref().unwrap()["seen"].as_array().unwrap().len(), 8);
    assert_eq!(run_status(&t.store, date).await, "SUCCEEDED");
    assert_eq!(sink.transitions().len(), 22);

    // A second run executes nothing again.
    runner.run_until(date, StageName::Journal).await.unwrap();
    assert!(StageName::ALL.iter().all(|s| fakes.calls(*s) == 1));
    let events = t.store.events().recent(100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "stage_transition").count(), 22);

    // An explicit re-run executes the stage again and leaves the finished run SUCCEEDED.
    let outcome = runner.rerun(date, StageName::Universe, "operator").await.unwrap();
    assert_eq!(outcome, RunOutcome::Completed { through: StageName::Universe });
    assert_eq!(fakes.calls(StageName::Universe), 2);
    assert_eq!(run_status(&t.store, date).await, "SUCCEEDED");
}
aegis::storage_test!(full_run, full_run_succeeds);

async fn failure_stops_trading(t: TestDb) {
    let fakes = Fakes::default();
    fakes.script.lock().unwrap().fatal.push(StageName::AccessToken);
    let sink = MemorySink::default();
    let runner = fakes.runner(&t.store, &sink, CancellationToken::new());
    let date = day(TRADE_DAY);
    let outcome = runner.run_until(date, StageName::Journal).await.unwrap();
    assert!(
        matches!(&outcome, RunOutcome::Failed { stage: StageName::AccessToken, error } if error.contains("EGW00123"))
    );
    let rows = rows(&t.store, date).await;
    assert_eq!(rows.len(), 2, "later stages must not run: {rows:?}");
    assert_eq!(rows[1].status, "FAILED");
    assert_eq!(fakes.calls(StageName::ApprovalKey), 0);
    assert_eq!(run_status(&t.store, date).await, "FAILED");
    let mode = ControlStore::new(t.store.conn().clone()).mode().await.unwrap();
    assert!(matches!(mode, TradingMode::Stop { .. }), "{mode:?}");
    let failed = sink.transitions().into_iter().find(|t| t.to == StageStatus::Failed).unwrap();
    assert_eq!(failed.rerun_command, "aegis stage rerun access_token --date 2026-11-19");
    assert!(failed.run_failed, "the run waits for an operator's re-run");

    // The failed run is not continued by a later trigger.
    assert_eq!(
        runner.run_until(date, StageName::Intraday).await.unwrap(),
        RunOutcome::Blocked { stage: StageName::AccessToken }
    );
    assert_eq!(fakes.calls(StageName::AccessToken), 1);
}
aegis::storage_test!(failure, failure_stops_trading);

async fn retryable_errors_are_retried(t: TestDb) {
    let fakes = Fakes::default();
    fakes.script.lock().unwrap().retryable.push(StageName::AccessToken);
    let spec = aegis::domain::stage::StageSpec {
        retry: StageRetry { max_attempts: 3, backoff: Duration::from_millis(1) },
        ..default_spec(StageName::AccessToken)
    };
    let sink = MemorySink::default();
    let runner = fakes.runner(&t.store, &sink, CancellationToken::new()).with_spec(spec);
    let date = day(TRADE_DAY);
    assert!(matches!(runner.run_until(date, StageName::Universe).await.unwrap(), RunOutcome::Failed { .. }));
    let attempts: Vec<_> = rows(&t.store, date)
        .await
        .into_iter()
        .filter(|r| r.stage == "access_token")
        .map(|r| r.attempt)
        .collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    // Only the last failure fails the run (and asks for a re-run); the runner retried the others.
    let failures: Vec<_> = sink
        .transitions()
        .into_iter()
        .filter(|t| t.to == StageStatus::Failed)
        .map(|t| (t.attempt, t.run_failed))
        .collect();
    assert_eq!(failures, [(1, false), (2, false), (3, true)]);
}
aegis::storage_test!(retries, retryable_errors_are_retried);

/// A clock 1000 times faster than the wall clock (the trading day of a compressed rehearsal).
#[derive(Debug)]
struct Compressed(aegis::ports::FakeClock);

impl aegis::ports::Clock for Compressed {
    fn now(&self) -> chrono::DateTime<Utc> {
        self.0.now()
    }

    fn real(&self, span: Duration) -> Duration {
        span / 1000
    }
}

/// The retry backoff is a span of the trading day: on a compressed clock a 30 s backoff is waited
/// in 30 ms (it took 30 real seconds, which at 600× started a retried chain hours late).
async fn retry_backoff_follows_the_clock(t: TestDb) {
    let fakes = Fakes::default();
    fakes.script.lock().unwrap().retryable.push(StageName::AccessToken);
    let spec = aegis::domain::stage::StageSpec {
        retry: StageRetry { max_attempts: 2, backoff: Duration::from_secs(30) },
        ..default_spec(StageName::AccessToken)
    };
    let clock = Arc::new(Compressed(aegis::ports::FakeClock::new(Utc::now())));
    let runner = fakes
        .runner(&t.store, &MemorySink::default(), CancellationToken::new())
        .with_spec(spec)
        .with_clock(clock);
    let run = runner.run_until(day(TRADE_DAY), StageName::Universe);
    let outcome =
        tokio::time::timeout(Duration::from_secs(10), run).await.expect("the backoff is compressed");
    assert!(matches!(outcome.unwrap(), RunOutcome::Failed { .. }));
    assert_eq!(fakes.calls(StageName::AccessToken), 2);
}
aegis::storage_test!(compressed_backoff, retry_backoff_follows_the_clock);

async fn rerun_request_is_picked_up(t: TestDb) {
    let fakes = Fakes::default();
    fakes.script.lock().unwrap().fatal.push(StageName::AccessToken);
    let sink = MemorySink::default();
    let cancel = CancellationToken::new();
    let runner = Arc::new(fakes.runner(&t.store, &sink, cancel.clone()));
    let config = DaemonConfig { poll_interval: Duration::from_millis(20), ..DaemonConfig::default() };
    let daemon = Daemon::new(runner, None, config);
    let (tx, rx) = mpsc::channel(8);
    let handle = tokio::spawn(daemon.run(rx, cancel.clone()));
    let date = day(TRADE_DAY);
    let at = KST.with_ymd_and_hms(2026, 11, 19, 9, 0, 0).unwrap();
    tx.send(Fired {
        market: aegis::domain::MarketRegion::Kr,
        trigger: Trigger::Pipeline { name: "pre_market".into(), until: StageName::Journal },
        trade_date: date,
        at,
    })
    .await
    .unwrap();
    let store = t.store.clone();
    wait_for("the failed run", 20, || {
        let store = store.clone();
        async move {
            PipelineStore::new(store.conn().clone())
                .find_run(aegis::domain::MarketRegion::Kr, date)
                .await
                .unwrap()
                .is_some_and(|r| r.status == "FAILED")
        }
    })
    .await;

    // The operator fixes the cause and asks for a re-run through the database.
    fakes.script.lock().unwrap().fatal.clear();
    let p = PipelineStore::new(t.store.conn().clone());
    let id = p
        .insert_request(
            aegis::domain::MarketRegion::Kr,
            date,
            "access_token",
            RequestKind::Rerun,
            "operator",
            Utc::now(),
        )
        .await
        .unwrap();
    wait_for("the run to finish", 20, || {
        let store = store.clone();
        async move { run_status(&store, date).await == "SUCCEEDED" }
    })
    .await;
    let req = p.request(id).await.unwrap().unwrap();
    assert_eq!(req.status, "DONE", "{req:?}");
    let access: Vec<_> =
        rows(&t.store, date).await.into_iter().filter(|r| r.stage == "access_token").collect();
    assert_eq!(access.len(), 2);
    assert_eq!(
        (access[1].status.as_str(), access[1].requested_by.as_deref()),
        ("SUCCEEDED", Some("operator"))
    );
    assert_eq!(fakes.calls(StageName::Journal), 1);

    cancel.cancel();
    handle.await.unwrap().unwrap();
    assert!(
        p.live_lease(aegis::pipeline::PIPELINE_LEASE, Utc::now()).await.unwrap().is_none(),
        "lease released"
    );
}
aegis::storage_test!(rerun_request, rerun_request_is_picked_up);

/// The attempts of a market's run of `date` as (stage, status), in creation order.
async fn market_rows(store: &Store, market: MarketRegion, date: NaiveDate) -> Vec<(String, String)> {
    let p = PipelineStore::new(store.conn().clone());
    let Some(run) = p.find_run(market, date).await.unwrap() else { return Vec::new() };
    p.attempts(run.id).await.unwrap().into_iter().map(|a| (a.stage, a.status)).collect()
}

/// The daemon drives the KRX and the US pipeline side by side on one lease: each market has its
/// own run of the date, due by its own schedule on its own calendar, and an operator's request
/// names the market whose pipeline it runs.
async fn the_daemon_drives_both_markets(t: TestDb) {
    let (kr, us) = (Fakes::default(), Fakes::default());
    let cancel = CancellationToken::new();
    let sink = MemorySink::default();
    let kr_runner = Arc::new(kr.runner(&t.store, &sink, cancel.clone()));
    let us_calendar = Arc::new(aegis::domain::us_calendar::UsCalendar::builtin().unwrap());
    let us_runner = Arc::new(us.runner(&t.store, &sink, cancel.clone()).with_sessions(us_calendar));
    // 23:40 KST on Thursday 2026-11-19: the KRX day is past its journal trigger; in New York it
    // is 09:40 on the 19th, past the US intraday trigger and before the US close.
    let now = KST.with_ymd_and_hms(2026, 11, 19, 23, 40, 0).unwrap().with_timezone(&Utc);
    let schedule = Arc::new(Schedule::builtin().unwrap());
    let us_schedule = schedule.us.as_deref().cloned().map(Arc::new);
    let config = DaemonConfig { poll_interval: Duration::from_millis(20), ..DaemonConfig::default() };
    let daemon = Daemon::new(kr_runner, Some(schedule), config)
        .with_market(us_runner, us_schedule)
        .with_clock(Arc::new(aegis::ports::FakeClock::new(now)));
    let (_tx, rx) = mpsc::channel(8);
    let handle = tokio::spawn(daemon.run(rx, cancel.clone()));
    let date = day("2026-11-19");
    let store = t.store.clone();
    wait_for("both markets' runs", 30, || {
        let store = store.clone();
        async move {
            let kr = market_rows(&store, MarketRegion::Kr, date).await;
            let us = market_rows(&store, MarketRegion::Us, date).await;
            kr.contains(&("journal".into(), "SUCCEEDED".into()))
                && us.contains(&("intraday".into(), "SUCCEEDED".into()))
        }
    })
    .await;
    assert_eq!(run_status(&t.store, date).await, "SUCCEEDED");
    let us_rows = market_rows(&t.store, MarketRegion::Us, date).await;
    assert!(
        !us_rows.iter().any(|(s, _)| s == "close" || s == "journal"),
        "the US close is not due: {us_rows:?}"
    );
    assert_eq!(
        (kr.calls(StageName::Journal), us.calls(StageName::Intraday), us.calls(StageName::Close)),
        (1, 1, 0)
    );

    // The operator runs the US close by hand: the US runner runs it, the KRX one is untouched.
    let p = PipelineStore::new(t.store.conn().clone());
    let id = p
        .insert_request(MarketRegion::Us, date, "close", RequestKind::Run, "operator", Utc::now())
        .await
        .unwrap();
    wait_for("the US request", 20, || {
        let p = p.clone();
        async move { p.request(id).await.unwrap().is_some_and(|r| r.status == "DONE") }
    })
    .await;
    assert_eq!((us.calls(StageName::Close), kr.calls(StageName::Close)), (1, 1));
    let us_transitions: Vec<_> =
        sink.transitions().into_iter().filter(|t| t.market == MarketRegion::Us).collect();
    assert!(us_transitions.iter().all(|t| t.trade_date == date && t.rerun_command.ends_with("--market us")));
    assert!(us_transitions.iter().any(|t| t.stage == StageName::Close));

    cancel.cancel();
    handle.await.unwrap().unwrap();
}
aegis::storage_test!(two_markets, the_daemon_drives_both_markets);

/// A request for the US pipeline to a daemon that does not run it fails with the reason, and
/// nothing runs.
async fn a_us_request_without_a_us_pipeline_fails(t: TestDb) {
    let fakes = Fakes::default();
    let cancel = CancellationToken::new();
    let runner = Arc::new(fakes.runner(&t.store, &MemorySink::default(), cancel.clone()));
    let config = DaemonConfig { poll_interval: Duration::from_millis(20), ..DaemonConfig::default() };
    let (_tx, rx) = mpsc::channel(8);
    let handle = tokio::spawn(Daemon::new(runner, None, config).run(rx, cancel.clone()));
    let p = PipelineStore::new(t.store.conn().clone());
    let date = day(TRADE_DAY);
    let id = p
        .insert_request(MarketRegion::Us, date, "config_check", RequestKind::Run, "operator", Utc::now())
        .await
        .unwrap();
    wait_for("the refused request", 20, || {
        let p = p.clone();
        async move { p.request(id).await.unwrap().is_some_and(|r| r.status == "FAILED") }
    })
    .await;
    let req = p.request(id).await.unwrap().unwrap();
    assert!(req.result.as_deref().is_some_and(|r| r.contains("US_SYMBOLS")), "{req:?}");
    assert_eq!(fakes.calls(StageName::ConfigCheck), 0);
    assert!(p.find_run(MarketRegion::Us, date).await.unwrap().is_none());
    assert!(p.find_run(MarketRegion::Kr, date).await.unwrap().is_none());
    cancel.cancel();
    handle.await.unwrap().unwrap();
}
aegis::storage_test!(us_request_refused, a_us_request_without_a_us_pipeline_fails);

async fn crash_resumes_without_repeating(t: TestDb) {
    let fakes = Fakes::default();
    fakes.script.lock().unwrap().hang = Some(StageName::Intraday);
    let date = day(TRADE_DAY);
    let first = fakes.runner(&t.store, &MemorySink::default(), CancellationToken::new());
    let hanging = fakes.hanging.clone();
    let task = tokio::spawn(async move { first.run_until(date, StageName::Journal).await });
    hanging.notified().await;
    task.abort(); // the process dies: no cleanup runs
    let _ = task.await;
    let intraday = rows(&t.store, date).await.into_iter().find(|r| r.stage == "intraday").unwrap();
    assert_eq!(intraday.status, "RUNNING");

    fakes.script.lock().unwrap().hang = None;
    let second = fakes.runner(&t.store, &MemorySink::default(), CancellationToken::new());
    assert_eq!(
        second.run_until(date, StageName::Journal).await.unwrap(),
        RunOutcome::Completed { through: StageName::Journal }
    );
    for stage in &StageName::ALL[..8] {
        assert_eq!(fakes.calls(*stage), 1, "{stage} ran twice");
    }
    let intraday: Vec<_> = rows(&t.store, date).await.into_iter().filter(|r| r.stage == "intraday").collect();
    assert_eq!(intraday.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(), ["FAILED", "SUCCEEDED"]);
    assert!(intraday[0].error.as_deref().unwrap().starts_with("interrupted"));
}
aegis::storage_test!(crash_resume, crash_resumes_without_repeating);

async fn shutdown_interrupts_and_resumes(t: TestDb) {
    let fakes = Fakes::default();
    fakes.script.lock().unwrap().hang = Some(StageName::Intraday);
    let date = day(TRADE_DAY);
    let cancel = CancellationToken::new();
    let runner = fakes.runner(&t.store, &MemorySink::default(), cancel.clone());
    let hanging = fakes.hanging.clone();
    let task = tokio::spawn(async move { runner.run_until(date, StageName::Journal).await });
    hanging.notified().await;
    cancel.cancel();
    assert_eq!(task.await.unwrap().unwrap(), RunOutcome::Interrupted { stage: StageName::Intraday });
    assert_eq!(run_status(&t.store, date).await, "RUNNING");
    let mode = ControlStore::new(t.store.conn().clone()).mode().await.unwrap();
    assert_eq!(mode, TradingMode::Normal, "a shutdown is not a failure");

    fakes.script.lock().unwrap().hang = None;
    let again = fakes.runner(&t.store, &MemorySink::default(), CancellationToken::new());
    assert!(matches!(again.run_until(date, StageName::Journal).await.unwrap(), RunOutcome::Completed { .. }));
    assert_eq!(fakes.calls(StageName::Universe), 1);
}
aegis::storage_test!(shutdown_resume, shutdown_interrupts_and_resumes);

async fn closed_day_is_skipped(t: TestDb) {
    let fakes = Fakes::default();
    let runner = fakes.runner(&t.store, &MemorySink::default(), CancellationToken::new());
    let date = day("2026-06-03");
    let outcome = runner.run_until(date, StageName::Journal).await.unwrap();
    assert!(
        matches!(&outcome, RunOutcome::Skipped { reason } if reason.contains("전국동시지방선거")),
        "{outcome:?}"
    );
    assert_eq!(run_status(&t.store, date).await, "SKIPPED");
    assert!(rows(&t.store, date).await.is_empty());
    assert!(StageName::ALL.iter().all(|s| fakes.calls(*s) == 0));
    let weekend = runner.rerun(day("2026-11-21"), StageName::ConfigCheck, "operator").await.unwrap();
    assert!(matches!(weekend, RunOutcome::Skipped { reason } if reason.contains("weekend")));
}
aegis::storage_test!(closed_day, closed_day_is_skipped);

fn kst(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<chrono_tz::Tz> {
    KST.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// The pipeline firings of `schedule` on `cal` in `[from, to)`, as local times with their names.
fn fires_of(
    schedule: &Schedule,
    cal: &dyn aegis::domain::sessions::SessionCalendar,
    from: chrono::DateTime<chrono_tz::Tz>,
    to: chrono::DateTime<chrono_tz::Tz>,
) -> Vec<(String, String)> {
    fire_times(schedule, cal, from, to)
        .into_iter()
        .filter_map(|(at, t)| match t {
            Trigger::Pipeline { name, .. } => Some((at.format("%a %m-%d %H:%M").to_string(), name)),
            Trigger::MasterRefresh => None,
        })
        .collect()
}

fn pipeline_fires(
    from: chrono::DateTime<chrono_tz::Tz>,
    to: chrono::DateTime<chrono_tz::Tz>,
    cal: &KrxCalendar,
) -> Vec<(String, String)> {
    fires_of(&Schedule::builtin().unwrap(), cal, from, to)
}

#[test]
fn fire_times_for_the_exam_week_with_a_holiday() {
    // Week of 2026-11-16: Tuesday reported closed by the broker, Thursday the exam-day session
    // (open 10:00, close 16:30), Saturday and Sunday closed.
    let mut cal = KrxCalendar::builtin().unwrap();
    cal.apply_broker_holidays([(day("2026-11-17"), false)]);
    let fires = pipeline_fires(kst(2026, 11, 16, 0, 0), kst(2026, 11, 23, 0, 0), &cal);
    let expected: Vec<(String, String)> = [
        ("Mon 11-16 08:00", "pre_market"),
        ("Mon 11-16 08:50", "intraday"),
        ("Mon 11-16 15:35", "close"),
        ("Mon 11-16 17:00", "journal"),
        ("Wed 11-18 08:00", "pre_market"),
        ("Wed 11-18 08:50", "intraday"),
        ("Wed 11-18 15:35", "close"),
        ("Wed 11-18 17:00", "journal"),
        ("Thu 11-19 09:00", "pre_market"),
        ("Thu 11-19 09:50", "intraday"),
        ("Thu 11-19 16:35", "close"),
        ("Thu 11-19 18:00", "journal"),
        ("Fri 11-20 08:00", "pre_market"),
        ("Fri 11-20 08:50", "intraday"),
        ("Fri 11-20 15:35", "close"),
        ("Fri 11-20 17:00", "journal"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(fires, expected);

    let all =
        fire_times(&Schedule::builtin().unwrap(), &cal, kst(2026, 11, 16, 0, 0), kst(2026, 11, 23, 0, 0));
    let refreshes: Vec<_> = all.iter().filter(|(_, t)| *t == Trigger::MasterRefresh).collect();
    assert_eq!(refreshes.len(), 4 * 13, "master refreshes on the four trading days only");
    assert!(refreshes.iter().any(|(at, _)| *at == kst(2026, 11, 19, 9, 46)), "refreshes never shift");
    assert!(all.iter().all(|(at, _)| at.date_naive() != day("2026-11-17")));
}

#[test]
fn fire_times_around_new_year() {
    // 2026-12-31 and 2027-01-01 are closed; 2027-01-04 opens at 10:00 (close unchanged).
    let cal = KrxCalendar::builtin().unwrap();
    let fires = pipeline_fires(kst(2026, 12, 30, 12, 0), kst(2027, 1, 5, 0, 0), &cal);
    let days: Vec<&str> = fires.iter().map(|(at, _)| at.as_str()).collect();
    assert_eq!(
        days,
        [
            "Wed 12-30 15:35",
            "Wed 12-30 17:00",
            "Mon 01-04 09:00",
            "Mon 01-04 09:50",
            "Mon 01-04 15:35",
            "Mon 01-04 17:00"
        ]
    );
}

/// The US pipeline's firings in `[from, to)` (KST instants), as KST times.
fn us_fires(
    from: chrono::DateTime<chrono_tz::Tz>,
    to: chrono::DateTime<chrono_tz::Tz>,
) -> Vec<(String, String)> {
    let schedule = Schedule::builtin().unwrap();
    let us = schedule.us.expect("the built-in schedule has a US pipeline");
    fires_of(&us, &aegis::domain::us_calendar::UsCalendar::builtin().unwrap(), from, to)
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

#[test]
fn us_fire_times_follow_new_york_time_across_daylight_saving() {
    // New York leaves daylight saving on Sunday 2026-11-01: the same New York times are an hour
    // later in Seoul from then on. Friday's session (New York date 10-30) runs 22:30–05:00 KST,
    // Monday's (11-02) 23:30–06:00 KST.
    let fires = us_fires(kst(2026, 10, 30, 12, 0), kst(2026, 11, 3, 12, 0));
    let want = pairs(&[
        ("Fri 10-30 21:00", "us_pre_market"),
        ("Fri 10-30 22:20", "us_intraday"),
        ("Sat 10-31 05:05", "us_close"),
        ("Sat 10-31 06:30", "us_journal"),
        ("Mon 11-02 22:00", "us_pre_market"),
        ("Mon 11-02 23:20", "us_intraday"),
        ("Tue 11-03 06:05", "us_close"),
        ("Tue 11-03 07:30", "us_journal"),
    ]);
    assert_eq!(fires, want);
}

#[test]
fn us_fire_times_skip_thanksgiving_and_move_with_the_early_close() {
    // Thursday 2026-11-26 (Thanksgiving) is closed in New York — a KRX trading day; Friday the
    // 27th closes at 13:00, so the close-anchored triggers come three hours earlier.
    let fires = us_fires(kst(2026, 11, 26, 12, 0), kst(2026, 11, 28, 12, 0));
    let want = pairs(&[
        ("Fri 11-27 22:00", "us_pre_market"),
        ("Fri 11-27 23:20", "us_intraday"),
        ("Sat 11-28 03:05", "us_close"),
        ("Sat 11-28 04:30", "us_journal"),
    ]);
    assert_eq!(fires, want);
    let krx =
        pipeline_fires(kst(2026, 11, 26, 0, 0), kst(2026, 11, 27, 0, 0), &KrxCalendar::builtin().unwrap());
    assert_eq!(krx.len(), 4, "the KRX pipeline trades on Thanksgiving: {krx:?}");
}

fn aegis_cli(url: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = crate::support::bin::run(args, [("DB_URL", url)]);
    (out.status.code(), crate::support::bin::text(&out))
}

async fn cli_hands_requests_to_the_daemon_and_switches_modes(t: TestDb) {
    let p = PipelineStore::new(t.store.conn().clone());
    assert!(
        p.acquire_lease(
            aegis::pipeline::PIPELINE_LEASE,
            "test-daemon",
            chrono::TimeDelta::minutes(5),
            Utc::now()
        )
        .await
        .unwrap()
        .is_some()
    );
    let url = t.url.clone();
    let (code, out) = tokio::task::spawn_blocking(move || {
        aegis_cli(&url, &["stage", "rerun", "access_token", "--date", TRADE_DAY])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("request #1 queued"), "{out}");
    assert!(out.contains("the daemon is idle"), "the operator is told when: {out}");
    let req = p.request(1).await.unwrap().expect("request row");
    assert_eq!(
        (req.stage.as_str(), req.kind.as_str(), req.status.as_str()),
        ("access_token", "RERUN", "PENDING")
    );
    assert!(req.requested_by.starts_with("cli:"));
    assert_eq!(req.market, "KR");

    // The US pipeline's request names its market; its status has its own run of the date.
    let url = t.url.clone();
    let (queued, us_status) = tokio::task::spawn_blocking(move || {
        (
            aegis_cli(&url, &["stage", "rerun", "universe", "--date", TRADE_DAY, "--market", "us"]),
            aegis_cli(&url, &["status", "--date", TRADE_DAY, "--market", "us"]),
        )
    })
    .await
    .unwrap();
    assert_eq!(queued.0, Some(0), "{}", queued.1);
    assert!(
        queued.1.contains("request #2 queued: the running daemon will RERUN US universe"),
        "{}",
        queued.1
    );
    let req = p.request(2).await.unwrap().expect("request row");
    assert_eq!((req.market.as_str(), req.stage.as_str()), ("US", "universe"));
    assert_eq!(us_status.0, Some(0), "{}", us_status.1);
    assert!(us_status.1.contains(&format!("no US pipeline run for {TRADE_DAY}")), "{}", us_status.1);

    let url = t.url.clone();
    let (halt, again, status) = tokio::task::spawn_blocking(move || {
        (
            aegis_cli(&url, &["halt", "--reason", "broker maintenance"]),
            aegis_cli(&url, &["halt"]),
            aegis_cli(&url, &["status", "--date", TRADE_DAY]),
        )
    })
    .await
    .unwrap();
    assert_eq!(halt.0, Some(0), "{}", halt.1);
    assert_eq!(again.0, Some(1), "{}", again.1);
    assert!(again.1.contains("already stopped"), "{}", again.1);
    assert!(status.1.contains("STOP (stopped by the operator: broker maintenance)"), "{}", status.1);
    let mode = ControlStore::new(t.store.conn().clone()).mode().await.unwrap();
    assert!(matches!(mode, TradingMode::Stop { .. }));
    use sea_orm::{EntityTrait, PaginatorTrait};
    // The mode change's own row, and one row per operator command with its result (the refused
    // second halt included).
    assert_eq!(entity::audit_log::Entity::find().count(t.store.conn()).await.unwrap(), 5);
    let rows = aegis::store::audit::list(&t.store, None, 10).await.unwrap();
    let seen: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.action.as_str(), r.details.get("result").and_then(Value::as_str).unwrap_or("ok")))
        .collect();
    assert_eq!(
        seen,
        [
            ("cli.halt", "failed"),
            ("cli.halt", "ok"),
            ("trading_mode.stop", "ok"),
            ("cli.stage.rerun", "ok"),
            ("cli.stage.rerun", "ok")
        ]
    );
    assert_eq!(rows[3].target, format!("stage/us/universe@{TRADE_DAY}"));
}
aegis::storage_test!(cli_ops, cli_hands_requests_to_the_daemon_and_switches_modes);

/// `aegis positions` shows a KRX holding in whole won and a US one in dollars and cents.
async fn positions_are_shown_in_their_currency(t: TestDb) {
    use sea_orm::ActiveModelTrait;
    let dec = |s: &str| -> entity::decimal::Dec { s.parse::<rust_decimal::Decimal>().unwrap().into() };
    for (symbol, qty, avg, pnl, last) in
        [("005930", "10", "70000.25", "-1500.4", "70100"), ("AAPL", "3", "231.255", "-12.3", "1234.5")]
    {
        let row = entity::position::ActiveModel {
            symbol: sea_orm::Set(symbol.into()),
            qty: sea_orm::Set(dec(qty)),
            avg_price: sea_orm::Set(dec(avg)),
            realized_pnl: sea_orm::Set(dec(pnl)),
            last_price: sea_orm::Set(Some(dec(last))),
            updated_at: sea_orm::Set(Utc::now()),
        };
        row.insert(t.store.conn()).await.unwrap();
    }
    let url = t.url.clone();
    let (code, out) = tokio::task::spawn_blocking(move || aegis_cli(&url, &["positions"])).await.unwrap();
    assert_eq!(code, Some(0), "{out}");
    let line = |symbol: &str| out.lines().find(|l| l.starts_with(symbol)).unwrap_or_else(|| panic!("{out}"));
    let krx: Vec<&str> = line("005930").split_whitespace().collect();
    assert_eq!(krx, ["005930", "10", "70,000", "-1,500", "70,100", "KRW"], "{out}");
    let us: Vec<&str> = line("AAPL").split_whitespace().collect();
    assert_eq!(us, ["AAPL", "3", "231.26", "-12.30", "1,234.50", "USD"], "{out}");
}
aegis::storage_test!(positions_currency, positions_are_shown_in_their_currency);

async fn serve_starts_and_stops_cleanly(t: TestDb) {
    let cancel = CancellationToken::new();
    let runner = Arc::new(Fakes::default().runner(&t.store, &MemorySink::default(), cancel.clone()));
    let schedule = Arc::new(Schedule::builtin().unwrap());
    let config = DaemonConfig {
        poll_interval: Duration::from_millis(20),
        lease_ttl: Duration::from_secs(1),
        ..DaemonConfig::default()
    };
    let daemon = aegis::pipeline::Daemon::new(runner, Some(schedule), config);
    let task = tokio::spawn(aegis::pipeline::serve(daemon, cancel.clone()));
    let p = PipelineStore::new(t.store.conn().clone());
    wait_for("the daemon lease", 20, || {
        let p = p.clone();
        async move { p.live_lease(aegis::pipeline::PIPELINE_LEASE, Utc::now()).await.unwrap().is_some() }
    })
    .await;
    // A second daemon stands by while the first renews the lease, and takes over (the next
    // epoch) as soon as the first stops and gives it back.
    let short = DaemonConfig {
        poll_interval: Duration::from_millis(20),
        lease_ttl: Duration::from_millis(300),
        ..DaemonConfig::default()
    };
    let standby_holder = short.fence.holder().to_owned();
    let standby_cancel = CancellationToken::new();
    let standby = Daemon::new(
        Arc::new(Fakes::default().runner(&t.store, &MemorySink::default(), standby_cancel.clone())),
        None,
        short,
    );
    let (_tx, rx) = mpsc::channel(1);
    let standby = tokio::spawn(standby.run(rx, standby_cancel.clone()));
    tokio::time::sleep(Duration::from_millis(900)).await;
    let led = p.live_lease(aegis::pipeline::PIPELINE_LEASE, Utc::now()).await.unwrap().unwrap();
    assert_ne!(led.holder, standby_holder, "the leader renews; the standby waits");
    assert_eq!(led.epoch, 1);
    assert!(!standby.is_finished(), "the standby stands by instead of exiting");
    cancel.cancel();
    task.await.unwrap().unwrap();
    wait_for("the standby takes over", 20, || {
        let p = p.clone();
        let holder = standby_holder.clone();
        async move {
            p.live_lease(aegis::pipeline::PIPELINE_LEASE, Utc::now())
                .await
                .unwrap()
                .is_some_and(|l| l.holder == holder && l.epoch == 2)
        }
    })
    .await;
    standby_cancel.cancel();
    standby.await.unwrap().unwrap();
    assert!(p.live_lease(aegis::pipeline::PIPELINE_LEASE, Utc::now()).await.unwrap().is_none(), "released");

    // The lease of a killed daemon (no heartbeat, never released) is taken over once it expires.
    let ttl = chrono::TimeDelta::milliseconds(400);
    assert!(
        p.acquire_lease(aegis::pipeline::PIPELINE_LEASE, "killed", ttl, Utc::now()).await.unwrap().is_some()
    );
    let cancel = CancellationToken::new();
    let restarted = DaemonConfig {
        fence: Arc::new(aegis::ports::Fence::new(aegis::pipeline::PIPELINE_LEASE, "restarted")),
        poll_interval: Duration::from_millis(20),
        lease_ttl: Duration::from_millis(300),
        ..DaemonConfig::default()
    };
    let next = Daemon::new(
        Arc::new(Fakes::default().runner(&t.store, &MemorySink::default(), cancel.clone())),
        None,
        restarted,
    );
    let (_tx, rx) = mpsc::channel(1);
    let task = tokio::spawn(next.run(rx, cancel.clone()));
    wait_for("the restarted daemon takes the lease over", 20, || {
        let p = p.clone();
        async move {
            p.live_lease(aegis::pipeline::PIPELINE_LEASE, Utc::now())
                .await
                .unwrap()
                .is_some_and(|l| l.holder == "restarted")
        }
    })
    .await;
    cancel.cancel();
    task.await.unwrap().unwrap();
}
aegis::storage_test!(serve, serve_starts_and_stops_cleanly);

/// A daemon whose lease is taken over while a stage runs (its heartbeat stalled long enough, here
/// simulated by expiring the row) cancels the stage at once, announces the loss, and stands by
/// instead of exiting; when the other holder gives the lease back it leads again under a newer
/// epoch and resumes the day.
async fn lease_loss_cancels_the_running_stage(t: TestDb) {
    let fakes = Fakes::default();
    fakes.script.lock().unwrap().hang = Some(StageName::Universe);
    let cancel = CancellationToken::new();
    let runner = Arc::new(fakes.runner(&t.store, &MemorySink::default(), cancel.clone()));
    let config = DaemonConfig {
        poll_interval: Duration::from_millis(20),
        lease_ttl: Duration::from_millis(600),
        ..DaemonConfig::default()
    };
    let holder = config.fence.holder().to_owned();
    let fence = config.fence.clone();
    let (tx, rx) = mpsc::channel(8);
    let daemon = tokio::spawn(Daemon::new(runner, None, config).run(rx, cancel.clone()));
    let date = day(TRADE_DAY);
    let at = KST.with_ymd_and_hms(2026, 11, 19, 9, 0, 0).unwrap();
    let fire = Fired {
        market: aegis::domain::MarketRegion::Kr,
        trigger: Trigger::Pipeline { name: "pre_market".into(), until: StageName::Universe },
        trade_date: date,
        at,
    };
    tx.send(fire.clone()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), fakes.hanging.notified()).await.expect("the stage runs");
    assert_eq!(fence.token().map(|t| t.epoch), Some(1));

    // Another process takes the lease over (as if ours had lapsed).
    let p = PipelineStore::new(t.store.conn().clone());
    let later = Utc::now() + chrono::TimeDelta::seconds(5);
    let other = p
        .acquire_lease(aegis::pipeline::PIPELINE_LEASE, "other", chrono::TimeDelta::seconds(60), later)
        .await;
    assert_eq!(other.unwrap(), Some(2));
    let store = t.store.clone();
    wait_for("the stage is interrupted", 20, || {
        let store = store.clone();
        async move { rows(&store, date).await.iter().any(|r| r.stage == "universe" && r.status == "FAILED") }
    })
    .await;
    assert_eq!(fence.token(), None, "the fence closed");
    wait_for("the loss is announced", 20, || {
        let store = store.clone();
        async move {
            let alerts = crate::support::db::events_of(&store, "alert").await;
            alerts.iter().any(|e| e.message.contains("lost the pipeline lease"))
        }
    })
    .await;
    assert!(!daemon.is_finished(), "the daemon stands by instead of exiting");

    // The other holder gives the lease back: the daemon leads again (epoch 3) and resumes.
    fakes.script.lock().unwrap().hang = None;
    p.release_lease(aegis::pipeline::PIPELINE_LEASE, "other").await.unwrap();
    tx.send(fire).await.unwrap();
    wait_for("the daemon leads again and finishes the stage", 20, || {
        let store = store.clone();
        async move { rows(&store, date).await.iter().any(|r| r.stage == "universe" && r.status == "SUCCEEDED") }
    })
    .await;
    let led = p.live_lease(aegis::pipeline::PIPELINE_LEASE, Utc::now()).await.unwrap().unwrap();
    assert_eq!((led.holder.as_str(), led.epoch), (holder.as_str(), 3));
    cancel.cancel();
    daemon.await.unwrap().unwrap();
}
aegis::storage_test!(lease_loss, lease_loss_cancels_the_running_stage);

/// Operator requests during a long stage: a request that may run beside it (re-issuing the
/// access token) is served at once, while the stage still runs; one that may not (a stage of the
/// chain) waits, and the CLI says so when the request is made.
async fn requests_during_a_long_stage(t: TestDb) {
    let fakes = Fakes::default();
    fakes.script.lock().unwrap().hang = Some(StageName::Intraday);
    let cancel = CancellationToken::new();
    let runner = Arc::new(fakes.runner(&t.store, &MemorySink::default(), cancel.clone()));
    let config = DaemonConfig { poll_interval: Duration::from_millis(20), ..DaemonConfig::default() };
    let (tx, rx) = mpsc::channel(8);
    let daemon = tokio::spawn(Daemon::new(runner, None, config).run(rx, cancel.clone()));
    let date = day(TRADE_DAY);
    let at = KST.with_ymd_and_hms(2026, 11, 19, 9, 0, 0).unwrap();
    let until = StageName::Intraday;
    tx.send(Fired {
        market: aegis::domain::MarketRegion::Kr,
        trigger: Trigger::Pipeline { name: "intraday".into(), until },
        trade_date: date,
        at,
    })
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(20), fakes.hanging.notified()).await.expect("intraday runs");

    let url = t.url.clone();
    let (beside, after) = tokio::task::spawn_blocking(move || {
        (
            aegis_cli(&url, &["stage", "rerun", "access_token", "--date", TRADE_DAY]),
            aegis_cli(&url, &["stage", "rerun", "universe", "--date", TRADE_DAY]),
        )
    })
    .await
    .unwrap();
    assert_eq!(beside.0, Some(0), "{}", beside.1);
    assert!(beside.1.contains("it runs beside intraday"), "{}", beside.1);
    assert!(after.1.contains("it waits for intraday") && after.1.contains("session close"), "{}", after.1);

    let p = PipelineStore::new(t.store.conn().clone());
    wait_for("the access-token re-run is served while intraday runs", 20, || {
        let p = p.clone();
        async move { p.request(1).await.unwrap().is_some_and(|r| r.status == "DONE") }
    })
    .await;
    assert_eq!(fakes.calls(StageName::AccessToken), 2, "re-issued beside the running stage");
    let store = t.store.clone();
    assert!(
        rows(&store, date).await.iter().any(|r| r.stage == "intraday" && r.status == "RUNNING"),
        "intraday still runs"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(p.request(2).await.unwrap().unwrap().status, "PENDING", "the universe re-run waits");
    assert_eq!(fakes.calls(StageName::Universe), 1);
    cancel.cancel();
    daemon.await.unwrap().unwrap();
}
aegis::storage_test!(long_stage_requests, requests_during_a_long_stage);
