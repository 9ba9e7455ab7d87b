//! `aegis rehearse`: weeks of unattended operation, compressed. The real daemon (`aegis run
//! --sim-clock --lease-ttl-secs 2`, a child process of this one) trades against an in-process
//! `aegis sim` over N KRX trading days on one continuous compressed clock (nights, weekends and
//! holidays included, so the daemon lives through every day change), while this process injects
//! the fault plan ([`plan`]), SIGKILLs the daemon at seeded random moments and starts it again,
//! plays the operator (an `aegis stage rerun` and an `aegis resume` as child processes) and
//! records Slack through a local stand-in ([`slack`]). Each night (once the day's journal stage
//! succeeded, at the latest at 07:30 the next morning) it checks the day:
//!
//! - **stages**: the latest attempt of every stage SUCCEEDED (a failed stage re-run to success
//!   counts);
//! - **no duplicate order**: every simulator order of the date is one of ours, once
//!   ([`compare_with_sim`]: no unknown order, no number held twice, as many of our orders at the
//!   broker as the simulator has);
//! - **no lost fill**: per (date, order number) our fills add up to the simulator's fills;
//! - **positions = holdings**: the stored non-flat positions equal the simulator's holdings;
//! - **alerts matched**: every `alert` event and every alert-like Slack post (an alert, a
//!   kill-switch trip, a stage → FAILED) lies inside the window of an injected fault or a kill.
//!   A window opens one simulated minute before the step (or the kill) and closes a grace after
//!   the step is undone (its `until`; for the failed stage, once the operator's re-run and
//!   resume returned; for one-shot faults and kills, the moment itself; a kill's window closes
//!   after its replacement daemon started). The grace is 60 simulated minutes plus 5 real
//!   seconds (a replacement daemon waits out the dead one's 2 s lease and starts up in real
//!   time). Lease alerts (`lease_taken_over`, `lease_lost`) match kills only; every other alert
//!   (feed down, stage overdue, a stage FAILED, kill switch …) matches any fault or kill. Times are
//!   compared on the wall clock, as events are stamped with it.
//!
//! A daemon that exits on its own is a failed check too, and so is a notification the daemon
//! could not deliver to the Slack stand-in (a `notify.delivery_failed` event) (it is started again),
//! and a trade date with more than one Slack day message (each day has one, updated in place: a
//! daemon started again updates it rather than posting another). The result is a per-day verdict
//! table; [`Rehearsal::succeeded`] holds when every check of every day held.

pub mod plan;
pub mod slack;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::process::{Child, Command};

use super::demo::{DEMO_SYMBOLS, activate_params};
use super::verify::{SimComparison, compare_with_sim};
use crate::domain::MarketRegion;
use crate::domain::calendar::{KST, KrxCalendar};
use crate::domain::stage::StageName;
use crate::pipeline::decode_output;
use crate::pipeline::stages::{CloseOutput, JournalOutput};
use crate::sim::{FaultCommand, Sim, SimConfig, SimHandle};
use crate::store::Store;
use plan::Action;

/// Options of `aegis rehearse`.
#[derive(Debug, Clone)]
pub struct RehearseOptions {
    /// Trading days to run.
    pub days: usize,
    /// Simulated seconds per real second (constant for the whole run).
    pub speed: f64,
    /// Fault plan: `default`, `none` or a JSON file of [`plan::Step`]s.
    pub faults: String,
    /// Number of SIGKILLs of the daemon.
    pub kills: usize,
    /// Database URL (default: a fresh SQLite file in the run's directory).
    pub db: Option<String>,
    /// Seed of the market and of the kill moments.
    pub seed: u64,
    /// Whether to draw the progress bar.
    pub progress: bool,
    /// The `aegis` binary to run as the daemon and the operator.
    pub exe: PathBuf,
    /// Where each daemon serves its metrics and health endpoints (`METRICS_LISTEN`; `None`: off).
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// One day's verdict.
#[derive(Debug, Clone)]
pub struct DayVerdict {
    /// Trade date.
    pub date: NaiveDate,
    /// Stages whose latest attempt SUCCEEDED, of all.
    pub stages_ok: usize,
    /// Stages re-run by the operator.
    pub reruns: Vec<String>,
    /// Stages whose latest attempt did not succeed (with its status).
    pub stages_failed: Vec<String>,
    /// Our records against the simulator's.
    pub comparison: SimComparison,
    /// (date, order number) whose filled quantity differs (ours, the simulator's).
    pub fill_differences: Vec<String>,
    /// Positions minus holdings (symbol: ours vs theirs), when they differ.
    pub position_differences: Vec<String>,
    /// Realized P&L of the close stage.
    pub realized: Option<Decimal>,
    /// Realized P&L as the journal booked it (it must equal the close stage's, within 1 KRW).
    pub journal_realized: Option<Decimal>,
    /// Alerts (events) recorded for the date.
    pub alerts: usize,
    /// Alerts that matched no fault or kill.
    pub unmatched: Vec<String>,
    /// Kills on this day.
    pub kills: usize,
    /// Faults injected on this day.
    pub faults: usize,
    /// The daemon's RSS in kB when the day was checked (in the evening): a daemon that lives
    /// for weeks shows here whether it keeps any of the days it traded.
    pub daemon_rss: Option<u64>,
}

impl DayVerdict {
    /// The names of the checks that failed.
    pub fn failed_checks(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.stages_failed.is_empty() {
            out.push(format!("{} stages: {}", self.date, self.stages_failed.join(", ")));
        }
        if !self.comparison.matches() || self.comparison.db_orders_at_broker != self.comparison.sim_orders {
            out.push(format!(
                "{} database = broker: {} of our orders at the broker, {} at the simulator; {}",
                self.date,
                self.comparison.db_orders_at_broker,
                self.comparison.sim_orders,
                self.comparison.mismatches.join("; ")
            ));
        }
        if !self.fill_differences.is_empty() {
            out.push(format!("{} lost or extra fills: {}", self.date, self.fill_differences.join("; ")));
        }
        if !self.position_differences.is_empty() {
            out.push(format!(
                "{} positions vs holdings: {}",
                self.date,
                self.position_differences.join("; ")
            ));
        }
        // Within 1 KRW: the journal replays the fills in time order, the trading core applied
        // them as they arrived, and average costs are rounded.
        let agrees = match (self.journal_realized, self.realized) {
            (Some(j), Some(c)) => (j - c).abs() <= Decimal::ONE,
            (j, c) => j == c,
        };
        if !agrees {
            let show = |p: Option<Decimal>| p.map_or_else(|| "-".to_owned(), |p| p.normalize().to_string());
            out.push(format!(
                "{} journal P&L {} differs from the close's {}",
                self.date,
                show(self.journal_realized),
                show(self.realized)
            ));
        }
        if !self.unmatched.is_empty() {
            out.push(format!(
                "{} alerts matching no fault or kill: {}",
                self.date,
                self.unmatched.join(" | ")
            ));
        }
        out
    }
}

/// What the rehearsal did.
#[derive(Debug, Clone)]
pub struct Rehearsal {
    /// Per-day verdicts.
    pub days: Vec<DayVerdict>,
    /// Checks outside any one day (daemon exits, Slack posts, operator commands).
    pub run_failures: Vec<String>,
    /// Slack posts received / of them alerts.
    pub slack_posts: (usize, usize),
    /// Slack day messages posted / updates of them.
    pub slack_days: (usize, usize),
    /// The simulated moments of the kills done.
    pub kills: Vec<String>,
    /// The run's directory (database, daemon logs).
    pub dir: PathBuf,
    /// Wall time.
    pub wall: Duration,
    /// RSS in kB of (this process at start, at end, the daemon at start, at end).
    pub rss: [Option<u64>; 4],
}

impl Rehearsal {
    /// Every failed check, named.
    pub fn failed_checks(&self) -> Vec<String> {
        self.days
            .iter()
            .flat_map(DayVerdict::failed_checks)
            .chain(self.run_failures.iter().cloned())
            .collect()
    }

    /// True when every check held.
    pub fn succeeded(&self) -> bool {
        self.failed_checks().is_empty()
    }
}

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

impl std::fmt::Display for Rehearsal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "\n── aegis rehearse: {} trading days ──", self.days.len())?;
        writeln!(
            f,
            "{:<10}  {:<12} {:>6} {:>6} {:>12} {:>7} {:>6} {:>7} {:>9} {:>9} {:>10}",
            "date",
            "stages",
            "orders",
            "fills",
            "P&L (KRW)",
            "alerts",
            "kills",
            "faults",
            "db=broker",
            "pos=hold",
            "daemon RSS"
        )?;
        for d in &self.days {
            let stages = if d.reruns.is_empty() {
                format!("{}/{}", d.stages_ok, StageName::ALL.len())
            } else {
                format!("{}/{} rerun", d.stages_ok, StageName::ALL.len())
            };
            let db_broker = d.comparison.matches()
                && d.comparison.db_orders_at_broker == d.comparison.sim_orders
                && d.fill_differences.is_empty();
            writeln!(
                f,
                "{:<10}  {:<12} {:>6} {:>6} {:>12} {:>7} {:>6} {:>7} {:>9} {:>9} {:>10}",
                d.date,
                stages,
                d.comparison.db_orders,
                d.comparison.db_fills,
                d.realized.map_or_else(|| "-".to_owned(), |p| p.round().to_string()),
                format!("{}/{}", d.alerts - d.unmatched.len().min(d.alerts), d.alerts),
                d.kills,
                d.faults,
                yes(db_broker),
                yes(d.position_differences.is_empty()),
                d.daemon_rss.map_or_else(|| "-".to_owned(), |k| format!("{} MB", k / 1024)),
            )?;
        }
        writeln!(
            f,
            "alerts: matched/recorded; slack: {} day messages ({} updates), {} replies, {} alerts; kills at {}",
            self.slack_days.0,
            self.slack_days.1,
            self.slack_posts.0 - self.slack_days.0.min(self.slack_posts.0),
            self.slack_posts.1,
            if self.kills.is_empty() { "-".to_owned() } else { self.kills.join(", ") }
        )?;
        let kb = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |k| format!("{} MB", k / 1024));
        writeln!(
            f,
            "rss: rehearse {} → {}, daemon {} → {}",
            kb(self.rss[0]),
            kb(self.rss[1]),
            kb(self.rss[2]),
            kb(self.rss[3])
        )?;
        let failed = self.failed_checks();
        if failed.is_empty() {
            writeln!(f, "check: every check held")?;
        } else {
            writeln!(f, "check: {} failed:", failed.len())?;
            for c in &failed {
                writeln!(f, "  - {c}")?;
            }
        }
        write!(f, "time: {:.1}s (files in {})", self.wall.as_secs_f64(), self.dir.display())
    }
}

/// Resident set size of a process in kB (Linux; `None` elsewhere).
fn rss_kb(pid: Option<u32>) -> Option<u64> {
    let path = pid.map_or_else(|| "/proc/self/status".to_owned(), |p| format!("/proc/{p}/status"));
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// A window of wall time in which alerts are expected.
#[derive(Debug, Clone)]
struct Window {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    kill: bool,
}

/// Whether an alert kind is about the pipeline lease (only a kill explains it).
fn lease_alert(kind: &str) -> bool {
    kind.starts_with("lease_")
}

/// The daemon's environment: the simulator, the database, the Slack stand-in.
fn daemon_env(
    sim: &SimHandle,
    key: &str,
    secret: &str,
    db_url: &str,
    slack: &str,
) -> BTreeMap<String, String> {
    [
        ("MODE", "PAPER".to_owned()),
        ("KIS_APP_KEY", key.to_owned()),
        ("KIS_APP_SECRET", secret.to_owned()),
        ("KIS_ACCOUNT", "50000000-01".to_owned()),
        ("KIS_HTS_ID", "simuser".to_owned()),
        ("KIS_REST_BASE_URL", sim.rest_url.clone()),
        ("KIS_WS_URL", format!("{}/tryitout", sim.ws_url)),
        ("KIS_RATE_LIMIT_PER_SEC", "100".to_owned()),
        ("DB_URL", db_url.to_owned()),
        ("LOG_LEVEL", "info".to_owned()),
        ("SLACK_BOT_TOKEN", "xoxb-rehearse-stand-in".to_owned()),
        ("SLACK_CHANNEL_ID", "C0REHEARSE1".to_owned()),
        ("SLACK_API_BASE", slack.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

struct Runner {
    opts: RehearseOptions,
    dir: PathBuf,
    env: BTreeMap<String, String>,
    daemon: Option<Child>,
    starts: usize,
    failures: Vec<String>,
}

impl Runner {
    fn command(&self, args: &[&str], log: &Path) -> anyhow::Result<Command> {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(&self.opts.exe);
        cmd.current_dir(&self.dir).args(args).env_clear().envs(&self.env);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(err)).kill_on_drop(true);
        Ok(cmd)
    }

    fn spawn_daemon(&mut self) -> anyhow::Result<()> {
        self.starts += 1;
        let data = self.dir.join("data");
        let symbols = DEMO_SYMBOLS.join(",");
        let data = data.display().to_string();
        let args =
            ["run", "--sim-clock", "--lease-ttl-secs", "2", "--symbols", &symbols, "--data-dir", &data];
        let log = self.dir.join(format!("daemon-{}.log", self.starts));
        self.daemon = Some(self.command(&args, &log)?.spawn().context("start the daemon")?);
        Ok(())
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Restarts a daemon that exited by itself, naming it a failure.
    fn check_alive(&mut self, sim_now: DateTime<chrono::FixedOffset>) -> anyhow::Result<()> {
        let exited = match self.daemon.as_mut() {
            Some(c) => c.try_wait()?,
            None => None,
        };
        if let Some(status) = exited {
            self.failures.push(format!(
                "the daemon (start {}) exited by itself with {status} at {} (log daemon-{}.log)",
                self.starts,
                sim_now.format("%Y-%m-%d %H:%M"),
                self.starts
            ));
            self.spawn_daemon()?;
        }
        Ok(())
    }

    /// Runs an operator command and waits for it; its output goes to `operator.log`.
    async fn operator(&self, args: &[&str]) -> anyhow::Result<bool> {
        let log = self.dir.join("operator.log");
        let status = self.command(args, &log)?.status().await?;
        Ok(status.success())
    }
}

/// The state of the failed-stage episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailStage {
    Idle,
    Broken(NaiveDate, Instant, usize),
}

/// Latest attempt status per stage of `date`, with attempts counted.
async fn stage_statuses(
    store: &Store,
    date: NaiveDate,
) -> anyhow::Result<BTreeMap<StageName, (String, usize, Option<Value>)>> {
    let pipeline = store.pipeline();
    let Some(run) = pipeline.find_run(MarketRegion::Kr, date).await? else { return Ok(BTreeMap::new()) };
    let attempts = pipeline.attempts(run.id).await?;
    let mut out = BTreeMap::new();
    for s in StageName::ALL {
        let mine: Vec<_> = attempts.iter().filter(|a| a.stage == s.as_str()).collect();
        if let Some(last) = mine.iter().max_by_key(|a| a.attempt) {
            out.insert(s, (last.status.clone(), mine.len(), last.output.clone()));
        }
    }
    Ok(out)
}

fn sim_date(v: &Value, key: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(v.get(key)?.as_str()?.get(..10)?, "%Y-%m-%d").ok()
}

fn dec(v: &Value) -> Decimal {
    match v {
        Value::Number(n) => n.to_string().parse().unwrap_or_default(),
        Value::String(s) => s.trim().parse().unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

/// (order number) → filled quantity by the simulator's fill records of `date`.
fn sim_fills(state: &Value, date: NaiveDate) -> BTreeMap<u64, Decimal> {
    let mut out = BTreeMap::new();
    for f in state.get("fills").and_then(Value::as_array).into_iter().flatten() {
        if sim_date(f, "time") == Some(date) {
            let no = f.get("odno").and_then(Value::as_u64).unwrap_or(0);
            *out.entry(no).or_insert(Decimal::ZERO) += dec(f.get("qty").unwrap_or(&Value::Null));
        }
    }
    out
}

/// The simulator's non-flat holdings of the first account.
fn holdings(state: &Value) -> BTreeMap<String, Decimal> {
    state
        .pointer("/accounts/0/holdings")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(s, h)| (s.clone(), dec(h.get("qty").unwrap_or(&Value::Null))))
        .filter(|(_, q)| !q.is_zero())
        .collect()
}

async fn positions(store: &Store) -> anyhow::Result<BTreeMap<String, Decimal>> {
    Ok(store
        .control()
        .positions()
        .await?
        .into_iter()
        .filter(|p| !p.qty.is_zero())
        .map(|p| (p.symbol, p.qty))
        .collect())
}

fn differences(ours: &BTreeMap<String, Decimal>, theirs: &BTreeMap<String, Decimal>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (a, b) =
                (ours.get(k).copied().unwrap_or_default(), theirs.get(k).copied().unwrap_or_default());
            (a != b).then(|| format!("{k}: {a} here, {b} at the simulator"))
        })
        .collect()
}

/// Checks one day (everything but the alerts, which are matched at the end).
async fn check_day(
    store: &Store,
    sim: &SimHandle,
    date: NaiveDate,
    reruns: &[String],
) -> anyhow::Result<DayVerdict> {
    let state = sim.state();
    let stages = stage_statuses(store, date).await?;
    let mut stages_ok = 0;
    let mut stages_failed = Vec::new();
    for s in StageName::ALL {
        match stages.get(&s) {
            Some((st, _, _)) if st == "SUCCEEDED" => stages_ok += 1,
            Some((st, n, _)) => stages_failed.push(format!("{s}={st} ({n} attempts)")),
            None => stages_failed.push(format!("{s} never ran")),
        }
    }
    let realized = stages
        .get(&StageName::Close)
        .and_then(|(_, _, o)| o.as_ref())
        .and_then(|o| decode_output::<CloseOutput>(o).ok())
        .map(|c| c.realized_pnl);
    let journal_realized = stages
        .get(&StageName::Journal)
        .and_then(|(_, _, o)| o.as_ref())
        .and_then(|o| decode_output::<JournalOutput>(o).ok())
        .and_then(|j| j.realized_pnl);
    let comparison = compare_with_sim(store, date, &state).await?;
    let day = crate::ports::TradingLog::load_day(store, date).await?;
    let mut ours: BTreeMap<u64, Decimal> = BTreeMap::new();
    for o in &day.orders {
        let qty: Decimal = day.fills.get(&o.id).into_iter().flatten().map(|f| f.qty).sum();
        if qty.is_zero() {
            continue;
        }
        let no =
            o.order.broker_order_no().map_or(0, |n| n.number.trim_start_matches('0').parse().unwrap_or(0));
        *ours.entry(no).or_insert(Decimal::ZERO) += qty;
    }
    let theirs = sim_fills(&state, date);
    let fill_differences = differences(
        &ours.iter().map(|(k, v)| (format!("{date}/{k:010}"), *v)).collect(),
        &theirs.iter().map(|(k, v)| (format!("{date}/{k:010}"), *v)).collect(),
    );
    let position_differences = differences(&positions(store).await?, &holdings(&state));
    Ok(DayVerdict {
        date,
        stages_ok,
        reruns: reruns.to_vec(),
        stages_failed,
        comparison,
        fill_differences,
        position_differences,
        realized,
        journal_realized,
        alerts: 0,
        unmatched: Vec::new(),
        kills: 0,
        faults: 0,
        daemon_rss: None,
    })
}

fn progress_bar(show: bool) -> Option<indicatif::ProgressBar> {
    if !show {
        return None;
    }
    let bar = indicatif::ProgressBar::new(1000);
    if let Ok(style) = indicatif::ProgressStyle::with_template("rehearse {bar:30} {pos:>4}/1000 ‰  {msg}") {
        bar.set_style(style);
    }
    Some(bar)
}

/// Runs the rehearsal.
///
/// # Errors
/// Returns an error when the simulator, the database or a child process cannot start.
#[allow(clippy::too_many_lines)]
pub async fn run_rehearsal(opts: RehearseOptions) -> anyhow::Result<Rehearsal> {
    let started = Instant::now();
    let calendar = KrxCalendar::builtin().context("calendar")?;
    let dir = std::env::temp_dir()
        .join(format!("aegis-rehearse-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let db_url =
        opts.db.clone().unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.join("aegis.db").display()));
    let uid = uuid::Uuid::new_v4().simple().to_string();
    let key = format!("PSRHRS{}", &uid[..30]);
    let secret: String = uid.chars().cycle().take(180).collect();

    let mut sim_cfg = SimConfig {
        symbols: DEMO_SYMBOLS.iter().map(|s| (*s).to_owned()).collect(),
        seed: opts.seed,
        speed: opts.speed,
        app_key: Some(key.clone()),
        app_secret: Some(secret.clone()),
        rate_limit: Some(1000),
        ..SimConfig::default()
    };
    // Tokens are judged by whoever reads them (the operator's commands by the wall clock): the
    // simulated days lie after today, never before.
    let tomorrow = (Utc::now().with_timezone(&KST) + TimeDelta::days(1)).date_naive();
    let sim_cal = crate::sim::market::Calendar::new(sim_cfg.holidays.clone());
    let days = plan::pick_days(&calendar, &sim_cal, tomorrow, opts.days.max(1));
    let first = *days.first().context("no trading day")?;
    let last = *days.last().context("no trading day")?;
    let steps = plan::load_plan(&opts.faults, days.len()).map_err(|e| anyhow::anyhow!(e))?;
    let kills = plan::kill_times(opts.seed, days.len(), opts.kills);
    let at = |day: usize, t: NaiveTime| crate::sim::clock::at(days[day], t);
    let start = at(0, NaiveTime::from_hms_opt(7, 30, 0).unwrap_or_default());
    sim_cfg.start = Some(start);
    let sim = Sim::start(sim_cfg).await.context("start the simulator")?;
    let slack = slack::SlackStandIn::start().await.context("start the Slack stand-in")?;
    let store = Store::open(&db_url).await.context("open the database")?;
    for d in &days {
        activate_params(&store, *d).await.context("trading parameters")?;
    }
    println!(
        "aegis rehearse: {} trading days {} … {} ({}), speed {}x, {} kills, faults {}",
        days.len(),
        first,
        last,
        days.iter().map(|d| d.format("%a %m-%d").to_string()).collect::<Vec<_>>().join(" "),
        opts.speed,
        kills.len(),
        opts.faults
    );
    println!(
        "  simulator {}  database {}  files {}",
        sim.rest_url,
        crate::store::printable_url(&db_url),
        dir.display()
    );
    if let Some(at) = opts.metrics_listen {
        println!("  daemon metrics: http://{at}/metrics  (health: http://{at}/healthz, http://{at}/readyz)");
    }

    let mut env = daemon_env(&sim, &key, &secret, &db_url, &slack.base);
    let listen = opts.metrics_listen.map_or_else(|| "off".to_owned(), |a| a.to_string());
    env.insert("METRICS_LISTEN".into(), listen);
    let mut runner =
        Runner { opts: opts.clone(), dir: dir.clone(), env, daemon: None, starts: 0, failures: Vec::new() };
    let rss_self_start = rss_kb(None);
    runner.spawn_daemon()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_daemon_start = rss_kb(runner.daemon.as_ref().and_then(Child::id));

    // The timeline: (simulated time, what).
    #[derive(Debug, Clone)]
    enum Ev {
        Step(usize),
        Undo(usize),
        Kill(usize),
    }
    let mut timeline: Vec<(DateTime<chrono::FixedOffset>, Ev)> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        timeline.push((at(s.day - 1, s.at), Ev::Step(i)));
        if let Some(u) = s.until {
            timeline.push((at(s.day - 1, u), Ev::Undo(i)));
        }
    }
    for (i, (day, t)) in kills.iter().enumerate() {
        timeline.push((at(*day, *t), Ev::Kill(i)));
    }
    timeline.sort_by_key(|(t, _)| *t);
    let mut timeline = std::collections::VecDeque::from(timeline);

    let deadline = |i: usize| {
        let next = days[i].succ_opt().unwrap_or(days[i]);
        crate::sim::clock::at(next, NaiveTime::from_hms_opt(7, 30, 0).unwrap_or_default())
    };
    let end = deadline(days.len() - 1);
    let span = (end - start).num_seconds().max(1);
    let bar = progress_bar(opts.progress);
    let grace = Duration::from_secs_f64(3600.0 / opts.speed + 5.0);
    let grace = TimeDelta::from_std(grace).unwrap_or(TimeDelta::seconds(5));
    let minute = TimeDelta::from_std(Duration::from_secs_f64(60.0 / opts.speed)).unwrap_or_default();

    let mut windows: Vec<Window> = Vec::new();
    let mut open_windows: BTreeMap<usize, DateTime<Utc>> = BTreeMap::new();
    let mut faults_per_day = vec![0usize; days.len()];
    let mut kills_per_day = vec![0usize; days.len()];
    let mut kills_done = 0;
    let mut kill_log: Vec<String> = Vec::new();
    let mut fail_stage = FailStage::Idle;
    let mut reruns: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    let mut verdicts: Vec<DayVerdict> = Vec::new();
    let mut active_ws: Option<FaultCommand> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_poll = Instant::now();

    while verdicts.len() < days.len() {
        tick.tick().await;
        let now = sim.clock().now();
        let wall = Utc::now();
        runner.check_alive(now)?;
        while timeline.front().is_some_and(|(t, _)| *t <= now) {
            let Some((_, ev)) = timeline.pop_front() else { break };
            match ev {
                Ev::Step(i) => {
                    let s = &steps[i];
                    faults_per_day[s.day - 1] += 1;
                    tracing::info!(kind = %s.kind(), day = s.day, "fault injected");
                    match &s.action {
                        Action::Fault { command } => {
                            if matches!(command, FaultCommand::WsClose { every_secs: Some(_), .. }) {
                                active_ws = Some(command.clone());
                            }
                            sim.inject(command.clone());
                        }
                        Action::FailStage => {
                            sim.shared().lock().cfg.app_key = Some(format!("PSWRONG{}", "w".repeat(29)));
                            fail_stage = FailStage::Broken(days[s.day - 1], Instant::now(), i);
                        }
                    }
                    let open_until = s.until.is_some() || matches!(s.action, Action::FailStage);
                    if open_until {
                        open_windows.insert(i, wall - minute);
                    } else {
                        windows.push(Window { from: wall - minute, to: wall + grace, kill: false });
                    }
                }
                Ev::Undo(i) => {
                    let s = &steps[i];
                    match s.undo() {
                        Some(cmd) => {
                            if matches!(cmd, FaultCommand::WsClose { .. }) {
                                active_ws = None;
                            }
                            sim.inject(cmd);
                        }
                        None => {
                            // A hung path is only answered again after a clear: re-arm what the
                            // plan still has running.
                            sim.inject(FaultCommand::Clear);
                            if let Some(ws) = &active_ws {
                                sim.inject(ws.clone());
                            }
                        }
                    }
                    if let Some(from) = open_windows.remove(&i) {
                        windows.push(Window { from, to: wall + grace, kill: false });
                    }
                }
                Ev::Kill(i) => {
                    kills_per_day[kills[i].0] += 1;
                    kills_done += 1;
                    tracing::info!(at = %now, "SIGKILL the daemon");
                    runner.kill().await;
                    runner.spawn_daemon()?;
                    windows.push(Window { from: wall - minute, to: Utc::now() + grace, kill: true });
                    kill_log.push(format!("{}", now.format("%Y-%m-%d %H:%M:%S")));
                }
            }
        }
        if last_poll.elapsed() < Duration::from_millis(500) {
            if let Some(b) = &bar {
                let done = (now - start).num_seconds().clamp(0, span);
                b.set_position(u64::try_from(done * 1000 / span).unwrap_or(0));
            }
            continue;
        }
        last_poll = Instant::now();
        if let FailStage::Broken(date, since, step) = fail_stage {
            let statuses = stage_statuses(&store, date).await.unwrap_or_default();
            let failed = statuses.get(&StageName::AccessToken).is_some_and(|(s, _, _)| s == "FAILED");
            if failed || since.elapsed() > Duration::from_secs(300) {
                if !failed {
                    runner.failures.push(format!(
                        "{date}: the access_token stage did not fail while the app key was refused"
                    ));
                }
                sim.shared().lock().cfg.app_key = Some(key.clone());
                let d = date.to_string();
                if !runner.operator(&["stage", "rerun", "access_token", "--date", &d]).await? {
                    runner
                        .failures
                        .push(format!("{date}: `aegis stage rerun access_token` failed (operator.log)"));
                }
                if !runner.operator(&["resume"]).await? {
                    runner.failures.push(format!("{date}: `aegis resume` failed (operator.log)"));
                }
                reruns.entry(date).or_default().push("access_token".into());
                if let Some(from) = open_windows.remove(&step) {
                    // The re-run itself takes a moment: the window stays open until it is done.
                    windows.push(Window { from, to: Utc::now() + grace, kill: false });
                }
                fail_stage = FailStage::Idle;
            }
        }
        let i = verdicts.len();
        let date = days[i];
        let journal_done = stage_statuses(&store, date)
            .await
            .ok()
            .and_then(|m| m.get(&StageName::Journal).map(|(s, _, _)| s == "SUCCEEDED"))
            .unwrap_or(false);
        if (journal_done && now >= at(i, NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default()))
            || now >= deadline(i)
        {
            let mut v =
                check_day(&store, &sim, date, reruns.get(&date).map_or(&[][..], Vec::as_slice)).await?;
            v.kills = kills_per_day[i];
            v.faults = faults_per_day[i];
            v.daemon_rss = rss_kb(runner.daemon.as_ref().and_then(Child::id));
            if let Some(b) = &bar {
                b.println(format!(
                    "{date}: stages {}/{}, orders {}, fills {}, checks {}",
                    v.stages_ok,
                    StageName::ALL.len(),
                    v.comparison.db_orders,
                    v.comparison.db_fills,
                    if v.failed_checks().is_empty() { "held" } else { "FAILED" }
                ));
            }
            verdicts.push(v);
        }
        if let Some(b) = &bar {
            let done = (now - start).num_seconds().clamp(0, span);
            b.set_position(u64::try_from(done * 1000 / span).unwrap_or(0));
            b.set_message(format!(
                "{} KST | day {}/{} | kills {kills_done} | slack {}",
                now.with_timezone(&KST).format("%a %m-%d %H:%M"),
                (verdicts.len() + 1).min(days.len()),
                days.len(),
                slack.posts().len()
            ));
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let rss_daemon_end = rss_kb(runner.daemon.as_ref().and_then(Child::id));
    let rss_self_end = rss_kb(None);
    runner.kill().await;
    for (_, from) in std::mem::take(&mut open_windows) {
        windows.push(Window { from, to: Utc::now(), kill: false });
    }
    let matched = |at: DateTime<Utc>, kind: &str| {
        windows.iter().any(|w| w.from <= at && at <= w.to && (w.kill || !lease_alert(kind)))
    };
    let kind_of = |e: &crate::store::events::EventRecord| {
        e.payload.get("alert").and_then(Value::as_str).unwrap_or_default().to_owned()
    };

    // Alerts: every `alert` event, by its trade date.
    let alerts = store.control().events(1_000_000, Some("alert")).await?;
    for v in &mut verdicts {
        let mine: Vec<_> = alerts.iter().filter(|e| e.trade_date == Some(v.date)).collect();
        v.alerts = mine.len();
        v.unmatched = mine
            .iter()
            .filter(|e| !matched(e.at, &kind_of(e)))
            .map(|e| format!("{}: {}", kind_of(e), e.message))
            .collect();
    }
    let mut run_failures = std::mem::take(&mut runner.failures);
    for e in alerts
        .iter()
        .filter(|e| e.trade_date.is_none_or(|d| !days.contains(&d)) && !matched(e.at, &kind_of(e)))
    {
        run_failures.push(format!("alert of no rehearsed day matching no fault or kill: {}", e.message));
    }
    let undelivered = store.control().events(1_000_000, Some("notify.delivery_failed")).await?;
    if let Some(e) = undelivered.first() {
        run_failures.push(format!(
            "{} notifications not delivered to Slack, e.g. {}",
            undelivered.len(),
            e.message
        ));
    }
    let posts = slack.posts();
    let alert_posts: Vec<_> = posts.iter().filter(|p| p.is_alert()).collect();
    let post_kind = |p: &slack::Post| {
        p.text.strip_prefix("aegis alert (").and_then(|t| t.split(')').next()).unwrap_or_default().to_owned()
    };
    for p in alert_posts.iter().filter(|p| !matched(p.at, &post_kind(p))) {
        run_failures.push(format!("Slack alert matching no fault or kill: {}", p.text));
    }
    let mut day_posts: BTreeMap<&str, usize> = BTreeMap::new();
    for day in posts.iter().filter_map(slack::Post::day) {
        *day_posts.entry(day).or_default() += 1;
    }
    for (day, n) in day_posts.iter().filter(|(_, n)| **n > 1) {
        run_failures.push(format!("{n} Slack day messages for {day} (one, updated in place, expected)"));
    }
    sim.shutdown().await;
    Ok(Rehearsal {
        days: verdicts,
        run_failures,
        slack_posts: (posts.len(), alert_posts.len()),
        slack_days: (day_posts.values().sum(), slack.updates()),
        kills: kill_log,
        dir,
        wall: started.elapsed(),
        rss: [rss_self_start, rss_self_end, rss_daemon_start, rss_daemon_end],
    })
}
