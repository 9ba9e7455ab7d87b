//! End to end against `aegis sim` (port 0, compressed clock) on SQLite and PostgreSQL: a full
//! simulated day through every stage, an injected authentication failure with its Slack message
//! and operator re-run, a daemon killed in the middle of the intraday stage and restarted, two
//! trading days whose order numbers repeat, a leader SIGKILLed with a hot standby taking over,
//! Slack's one message per day with replies for what needs a human, and the `aegis demo` binary.
//! This module holds the suite's simulator with a compressed clock, a hermetic configuration
//! pointing the KIS adapter at it, and the application wired on a test database.

mod auth;
mod day;
mod demo;
mod failover;
mod rehearse;
mod repeat;
mod resume;
mod slack_day;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aegis::app::{App, AppOptions, SimTimeClock};
use aegis::config::{Loaded, Sources};
use aegis::domain::Symbol;
use aegis::domain::calendar::KrxCalendar;
use aegis::domain::stage::StageName;
use aegis::notify::{Console, WorkerConfig};
use aegis::pipeline::stages::StagesConfig;
use aegis::sim::{SimConfig, SimHandle};
use aegis::store::Store;
use aegis::store::pipeline::PipelineStore;
use aegis::store::testing::TempDir;
use chrono::{NaiveDate, NaiveTime};
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub const SYMBOLS: [&str; 2] = ["005930", "247540"];

/// A Monday with a regular session in both calendars.
pub fn trade_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

pub fn app_key() -> String {
    format!("PSE2E{}", "k".repeat(31))
}

pub fn app_secret() -> String {
    "e".repeat(180)
}

/// Starts the simulator at 08:59:50 of the trade date, accepting only our credentials.
pub async fn start_sim(speed: f64) -> SimHandle {
    let start = aegis::sim::clock::at(trade_date(), NaiveTime::from_hms_opt(8, 59, 50).unwrap());
    start_sim_at(speed, start).await
}

/// A simulator that keeps the wall-clock time, for tests whose broker calls come from the
/// `aegis` binary: it judges token expiry by the real clock, so a simulator frozen on
/// [`trade_date`] would hand it tokens that look expired once that day is past.
pub async fn start_sim_real_time() -> SimHandle {
    start_sim_at(1.0, chrono::Utc::now().with_timezone(&aegis::domain::market::kst())).await
}

async fn start_sim_at(speed: f64, start: chrono::DateTime<chrono::FixedOffset>) -> SimHandle {
    crate::support::sim::start(sim_config(speed, start)).await
}

/// The suite's simulator configuration: our two symbols and credentials, starting at `start`.
pub fn sim_config(speed: f64, start: chrono::DateTime<chrono::FixedOffset>) -> SimConfig {
    SimConfig {
        symbols: SYMBOLS.iter().map(|s| (*s).to_owned()).collect(),
        seed: 11,
        speed,
        start: Some(start),
        app_key: Some(app_key()),
        app_secret: Some(app_secret()),
        rate_limit: Some(10_000),
        ..SimConfig::default()
    }
}

/// The environment of a configuration that points the adapter at the simulator.
pub fn env(sim: &SimHandle, db_url: &str, slack_base: Option<&str>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("MODE", "PAPER".to_owned()),
        ("KIS_APP_KEY", app_key()),
        ("KIS_APP_SECRET", app_secret()),
        ("KIS_ACCOUNT", "50000000-01".to_owned()),
        ("KIS_HTS_ID", "simuser".to_owned()),
        ("KIS_REST_BASE_URL", sim.rest_url.clone()),
        ("KIS_WS_URL", format!("{}/tryitout", sim.ws_url)),
        ("KIS_RATE_LIMIT_PER_SEC", "200".to_owned()),
        ("DB_URL", db_url.to_owned()),
        ("LOG_LEVEL", "warn".to_owned()),
        // Every `aegis run` of a test serves its metrics on a port of its own.
        ("METRICS_LISTEN", "127.0.0.1:0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(base) = slack_base {
        env.insert("SLACK_BOT_TOKEN".into(), "xoxb-e2e-test-token".into());
        env.insert("SLACK_CHANNEL_ID".into(), "C0E2E000001".into());
        env.insert("SLACK_API_BASE".into(), base.to_owned());
    }
    env
}

pub fn loaded(env: BTreeMap<String, String>) -> Loaded {
    let loaded =
        aegis::config::load(&Sources { env: Some(env), no_implicit_files: true, ..Sources::default() });
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    aegis::telemetry::register_settings_secrets(&loaded.settings);
    loaded
}

/// Application options for the simulator: trading parameters that trade on its random walk.
pub fn options(sim: &SimHandle, loaded: Loaded, dir: &TempDir) -> AppOptions {
    let symbols = SYMBOLS.iter().map(|s| Symbol::new(*s).unwrap()).collect();
    let master = url::Url::parse(&format!("{}/common/master/", sim.rest_url)).unwrap();
    let mut stages = StagesConfig::new(master, dir.0.join("master"), symbols);
    stages.journal_dir = Some(dir.0.join("journal"));
    stages.reconcile_every = Duration::from_millis(500);
    stages.cancel_lead = chrono::TimeDelta::minutes(60);
    stages.default_params = Some(json!({
        "window": 8, "entry_pct": 0.1, "exit_pct": 0.05, "stop_loss_pct": 1,
        "order_qty": 1, "max_position_qty": 2, "cooldown_secs": 1800,
    }));
    AppOptions {
        loaded,
        stages,
        clock: Arc::new(SimTimeClock(sim.clock().clone())),
        calendar: Arc::new(KrxCalendar::builtin().unwrap()),
        us: None,
        console: Console::capturing(),
        worker: WorkerConfig { poll_interval: Duration::from_millis(100), ..WorkerConfig::default() },
        retry_backoff: Some(Duration::from_millis(50)),
        shutdown_grace: Duration::from_secs(2),
        progress: None,
    }
}

pub fn build(store: &Store, opts: AppOptions) -> App {
    App::build(store.clone(), opts, CancellationToken::new()).unwrap()
}

/// Returns (status of the latest attempt, number of attempts) per stage.
pub async fn stages(store: &Store) -> BTreeMap<StageName, (String, usize)> {
    let pipeline = PipelineStore::new(store.conn().clone());
    let Some(run) = pipeline.find_run(aegis::domain::MarketRegion::Kr, trade_date()).await.unwrap() else {
        return BTreeMap::new();
    };
    let attempts = pipeline.attempts(run.id).await.unwrap();
    let mut out = BTreeMap::new();
    for s in StageName::ALL {
        let mine: Vec<_> = attempts.iter().filter(|a| a.stage == s.as_str()).collect();
        if let Some(last) = mine.iter().max_by_key(|a| a.attempt) {
            out.insert(s, (last.status.clone(), mine.len()));
        }
    }
    out
}

pub fn status(map: &BTreeMap<StageName, (String, usize)>, s: StageName) -> &str {
    map.get(&s).map_or("-", |(st, _)| st.as_str())
}

/// Returns the number of our orders of the trade date.
pub async fn orders(store: &Store) -> usize {
    aegis::store::control::ControlStore::new(store.conn().clone())
        .orders_on(trade_date())
        .await
        .unwrap()
        .len()
}

/// Runs the `aegis` binary with exactly this environment in an empty directory.
pub async fn aegis_cli(env: &BTreeMap<String, String>, args: &[&str]) -> (bool, String) {
    let out = crate::support::bin::run_async(args, env).await;
    (out.status.success(), crate::support::bin::text(&out))
}

/// Starts `aegis run` on the simulator's clock as its own process (lease time to live 2 s).
pub fn spawn_daemon(env: &BTreeMap<String, String>, dir: &TempDir) -> tokio::process::Child {
    let data = dir.0.join("data");
    let args = ["run", "--sim-clock", "--lease-ttl-secs", "2", "--symbols", "005930,247540", "--data-dir"];
    let mut cmd = crate::support::bin::command(&dir.0, &args, env);
    cmd.arg(data).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    tokio::process::Command::from(cmd).kill_on_drop(true).spawn().unwrap()
}
