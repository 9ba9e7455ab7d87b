//! `aegis rehearse`: weeks of unattended operation, compressed. The real daemon (`aegis run
//! --sim-clock --lease-ttl-secs 2`, a child process of this one) trades against an in-process
//! `aegis sim` over N KRX trading days on one continuous compressed clock (nights, weekends and
//! holidays included, so the daemon lives through every day change), while this process injects
//! the fault plan ([`plan`]), SIGKILLs the daemon at seeded random moments and starts it again,
//! plays the operator (an `aegis stage rerun` and an `aegis resume` as child processes) and
//! records Slack through a local stand-in ([`slack`]). Each night (once the day's journal stage
//! succeeded, at the latest at 07:30 the next morning) it checks the day.
//!
//! With `--us` the daemon trades US stocks beside (`US_SYMBOLS`: three of the simulator's US
//! names, a US daily loss limit), and every US trading day whose New York date lies in the span
//! (a KRX holiday may be one; a US holiday is none) is a row of its own, checked once its US
//! journal succeeded (17:30 New York, 07:30 KST the next morning in winter), at the latest at
//! 07:30 New York the next day; the run lasts until the last one is checked. The span then
//! starts after a closed New York day and holds no US early close ([`plan::pick_days`]), the
//! kills alternate between US and KRX trading hours ([`plan::us_kill_times`]), and the default
//! plan adds socket drops through every US session and order-path faults in it
//! ([`plan::default_us_plan`]). The checks of a row cover its market only:
//!
//! - **stages**: the latest attempt of every stage SUCCEEDED (a failed stage re-run to success
//!   counts);
//! - **no duplicate order**: every simulator order of the date is one of ours, once
//!   ([`compare_market_with_sim`]: no unknown order, no number held twice, as many of our orders
//!   at the broker as the simulator has);
//! - **no lost fill**: per (date, order number) our fills add up to the simulator's fills;
//! - **positions = holdings**: the stored non-flat positions equal the simulator's holdings (of
//!   the market: KRX codes against the KRW account, US tickers against the USD one);
//! - **alerts matched**: every `alert` event and every alert-like Slack post (an alert, a
//!   kill-switch trip, a stage → FAILED) lies inside the window of an injected fault or a kill.
//!   A window opens one simulated minute before the step (or the kill) and closes a grace after
//!   the step is undone (its `until`; for the failed stage, once the operator's re-run and
//!   resume returned; for one-shot faults and kills, the moment itself; a kill's window closes
//!   after its replacement daemon started). The grace is 60 simulated minutes plus 5 real
//!   seconds (a replacement daemon waits out the dead one's 2 s lease and starts up in real
//!   time). Lease alerts (`lease_taken_over`, `lease_lost`) match kills only; every other alert
//!   (feed down, stage overdue, a stage FAILED, kill switch …) matches any fault or kill. Times are
//!   compared on the wall clock, as events are stamped with it. An alert counts in the row of its
//!   trade date; when a KRX and a US row share the date, in the US one from 19:00 KST of that
//!   date on (the New York session's evening).
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

use super::demo::{DEMO_SYMBOLS, activate_market_params, activate_params};
use super::verify::{SimComparison, compare_market_with_sim};
use crate::domain::calendar::{KST, KrxCalendar};
use crate::domain::stage::StageName;
use crate::domain::us_calendar::UsCalendar;
use crate::domain::{MarketRegion, Symbol};
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
    /// Whether the daemon trades US stocks beside (its US pipeline every New York trading day of
    /// the span, each checked as a row of its own).
    pub us: bool,
}

/// The US stocks of `--us`: names of the simulator's US catalog (two on Nasdaq, one on the NYSE),
/// the lower-priced ones — the catalog moves a cent at a time, and a cent is a larger deviation
/// of a 62-dollar stock than of a 420-dollar one.
pub const US_SYMBOLS: [&str; 3] = ["KO", "NVDA", "AAPL"];

/// The US daily loss limit of `--us` in USD (`US_RISK_DAILY_LOSS_USD`; one-share trades stay far
/// from it).
pub const US_DAILY_LOSS_USD: u32 = 1_000;

/// One day's verdict: a market's trade date.
#[derive(Debug, Clone)]
pub struct DayVerdict {
    /// The market (KRX, or the US with `--us`).
    pub market: MarketRegion,
    /// Trade date (the New York date for the US).
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
    /// Realized P&L of the close stage (in the market's currency).
    pub realized: Option<Decimal>,
    /// Realized P&L as the journal booked it (it must equal the close stage's, within 1 KRW or
    /// 1 cent).
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
    /// The row's name: its date, followed by `US` for the US market.
    pub fn label(&self) -> String {
        match self.market {
            MarketRegion::Kr => self.date.to_string(),
            MarketRegion::Us => format!("{} US", self.date),
        }
    }

    /// The names of the checks that failed.
    pub fn failed_checks(&self) -> Vec<String> {
        let mut out = Vec::new();
        let label = self.label();
        if !self.stages_failed.is_empty() {
            out.push(format!("{label} stages: {}", self.stages_failed.join(", ")));
        }
        if !self.comparison.matches() || self.comparison.db_orders_at_broker != self.comparison.sim_orders {
            out.push(format!(
                "{label} database = broker: {} of our orders at the broker, {} at the simulator; {}",
                self.comparison.db_orders_at_broker,
                self.comparison.sim_orders,
                self.comparison.mismatches.join("; ")
            ));
        }
        if !self.fill_differences.is_empty() {
            out.push(format!("{label} lost or extra fills: {}", self.fill_differences.join("; ")));
        }
        if !self.position_differences.is_empty() {
            out.push(format!("{label} positions vs holdings: {}", self.position_differences.join("; ")));
        }
        // Within 1 KRW (1 cent): the journal replays the fills in time order, the trading core
        // applied them as they arrived, and average costs are rounded.
        let tolerance = match self.market {
            MarketRegion::Kr => Decimal::ONE,
            MarketRegion::Us => Decimal::new(1, 2),
        };
        let agrees = match (self.journal_realized, self.realized) {
            (Some(j), Some(c)) => (j - c).abs() <= tolerance,
            (j, c) => j == c,
        };
        if !agrees {
            let show = |p: Option<Decimal>| p.map_or_else(|| "-".to_owned(), |p| p.normalize().to_string());
            out.push(format!(
                "{label} journal P&L {} differs from the close's {}",
                show(self.journal_realized),
                show(self.realized)
            ));
        }
        if !self.unmatched.is_empty() {
            out.push(format!("{label} alerts matching no fault or kill: {}", self.unmatched.join(" | ")));
        }
        out
    }

    /// The realized P&L as the table shows it: whole KRW, or USD with cents (and the currency
    /// when `currency`).
    fn pnl(&self, currency: bool) -> String {
        let Some(p) = self.realized else { return "-".to_owned() };
        let amount = match self.market {
            MarketRegion::Kr => p.round().to_string(),
            MarketRegion::Us => format!("{:.2}", p.round_dp(2)),
        };
        if currency { format!("{amount} {}", self.market.currency()) } else { amount }
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
        // Without US rows the table is the KRX-only one; with them the date column names the US
        // rows and the P&L column its currency.
        let us = self.days.iter().filter(|d| d.market == MarketRegion::Us).count();
        let (width, pnl) = if us == 0 { (10, "P&L (KRW)") } else { (13, "P&L") };
        if us == 0 {
            writeln!(f, "\n── aegis rehearse: {} trading days ──", self.days.len())?;
        } else {
            writeln!(f, "\n── aegis rehearse: {} KRX and {us} US trading days ──", self.days.len() - us)?;
        }
        writeln!(
            f,
            "{:<width$}  {:<12} {:>6} {:>6} {:>12} {:>7} {:>6} {:>7} {:>9} {:>9} {:>10}",
            "date",
            "stages",
            "orders",
            "fills",
            pnl,
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
                "{:<width$}  {:<12} {:>6} {:>6} {:>12} {:>7} {:>6} {:>7} {:>9} {:>9} {:>10}",
                d.label(),
                stages,
                d.comparison.db_orders,
                d.comparison.db_fills,
                d.pnl(us > 0),
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

/// The daemon's environment: the simulator, the database, the Slack stand-in (and with `us`,
/// the US stocks: `US_SYMBOLS`, `US_RISK_DAILY_LOSS_USD`).
fn daemon_env(
    sim: &SimHandle,
    key: &str,
    secret: &str,
    db_url: &str,
    slack: &str,
    us: Option<String>,
) -> BTreeMap<String, String> {
    let us = us
        .map(|symbols| [("US_SYMBOLS", symbols), ("US_RISK_DAILY_LOSS_USD", US_DAILY_LOSS_USD.to_string())]);
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
    .chain(us.into_iter().flatten())
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `US_SYMBOLS` for the daemon: every US ticker with its exchange as the simulator lists it
/// (`AAPL:NASD,…`).
fn us_symbols_env(sim: &SimHandle, symbols: &[&str]) -> anyhow::Result<String> {
    let state = sim.state();
    let listed = state["us_markets"].as_array().map(Vec::as_slice).unwrap_or_default();
    let pairs = symbols
        .iter()
        .map(|s| {
            let row = listed
                .iter()
                .find(|m| m["symbol"].as_str() == Some(*s))
                .with_context(|| format!("{s} is not in the simulator's US catalog"))?;
            let exchange =
                crate::domain::overseas::UsExchange::parse(row["exchange"].as_str().unwrap_or_default())?;
            Ok(format!("{s}:{}", exchange.order_code()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(pairs.join(","))
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

/// Latest attempt status per stage of a market's run of `date`, with attempts counted.
async fn stage_statuses(
    store: &Store,
    market: MarketRegion,
    date: NaiveDate,
) -> anyhow::Result<BTreeMap<StageName, (String, usize, Option<Value>)>> {
    let pipeline = store.pipeline();
    let Some(run) = pipeline.find_run(market, date).await? else { return Ok(BTreeMap::new()) };
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

/// Whether a simulator record is of `market` (the simulator writes `Krx` or `Us`).
fn sim_market(v: &Value, market: MarketRegion) -> bool {
    let m = v.get("market").and_then(Value::as_str).unwrap_or("Krx");
    match market {
        MarketRegion::Kr => m == "Krx",
        MarketRegion::Us => m == "Us",
    }
}

/// (order number) → filled quantity by the simulator's fill records of `market` and `date`. A
/// fill's date is its order's trade date (a US fill after midnight KST belongs to the New York
/// date of its order), else the date of its KST time.
fn sim_fills(state: &Value, market: MarketRegion, date: NaiveDate) -> BTreeMap<u64, Decimal> {
    let order_dates: BTreeMap<u64, NaiveDate> = state
        .get("orders")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|o| Some((o.get("id")?.as_u64()?, sim_date(o, "date")?)))
        .collect();
    let mut out = BTreeMap::new();
    for f in state.get("fills").and_then(Value::as_array).into_iter().flatten() {
        let of_order = f.get("order_id").and_then(Value::as_u64).and_then(|id| order_dates.get(&id).copied());
        if sim_market(f, market) && of_order.or_else(|| sim_date(f, "time")) == Some(date) {
            let no = f.get("odno").and_then(Value::as_u64).unwrap_or(0);
            *out.entry(no).or_insert(Decimal::ZERO) += dec(f.get("qty").unwrap_or(&Value::Null));
        }
    }
    out
}

/// The simulator's non-flat holdings of the first account in `market` (KRX: the KRW side, the
/// US: the USD side).
fn holdings(state: &Value, market: MarketRegion) -> BTreeMap<String, Decimal> {
    let side = match market {
        MarketRegion::Kr => "/accounts/0/holdings",
        MarketRegion::Us => "/accounts/0/usd/holdings",
    };
    state
        .pointer(side)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(s, h)| (s.clone(), dec(h.get("qty").unwrap_or(&Value::Null))))
        .filter(|(_, q)| !q.is_zero())
        .collect()
}

/// Our non-flat positions in `market` (KRX codes or US tickers).
async fn positions(store: &Store, market: MarketRegion) -> anyhow::Result<BTreeMap<String, Decimal>> {
    let region = |symbol: &str| Symbol::new(symbol).map_or(MarketRegion::Kr, |s| s.region());
    Ok(store
        .control()
        .positions()
        .await?
        .into_iter()
        .filter(|p| !p.qty.is_zero() && region(&p.symbol) == market)
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

/// Checks one market's day (everything but the alerts, which are matched at the end).
async fn check_day(
    store: &Store,
    sim: &SimHandle,
    market: MarketRegion,
    date: NaiveDate,
    reruns: &[String],
) -> anyhow::Result<DayVerdict> {
    let state = sim.state();
    let stages = stage_statuses(store, market, date).await?;
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
    let comparison = compare_market_with_sim(store, date, &state, market).await?;
    let day = crate::ports::TradingLog::load_day(store, date).await?.of_region(market);
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
    let theirs = sim_fills(&state, market, date);
    let fill_differences = differences(
        &ours.iter().map(|(k, v)| (format!("{date}/{k:010}"), *v)).collect(),
        &theirs.iter().map(|(k, v)| (format!("{date}/{k:010}"), *v)).collect(),
    );
    let position_differences = differences(&positions(store, market).await?, &holdings(&state, market));
    Ok(DayVerdict {
        market,
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

/// One row of the verdict table to come: a market's trade date, checked once its journal stage
/// succeeded and the clock passed `ready`, at the latest at `deadline`.
#[derive(Debug, Clone)]
struct Due {
    market: MarketRegion,
    date: NaiveDate,
    ready: DateTime<chrono::FixedOffset>,
    deadline: DateTime<chrono::FixedOffset>,
}

/// The rows of a rehearsal in the order they come due: every KRX day (ready at 17:00 KST, due by
/// 07:30 KST the next morning) and every US day (ready at 17:30 New York, due by 07:30 New York
/// the next day).
fn dues(days: &[NaiveDate], us_days: &[NaiveDate]) -> Vec<Due> {
    let kst = |d: NaiveDate, h: u32, m: u32| {
        crate::sim::clock::at(d, NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default())
    };
    let ny =
        |d: NaiveDate, h: u32, m: u32| plan::ny_at(d, NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default());
    let next = |d: NaiveDate| d.succ_opt().unwrap_or(d);
    let mut out: Vec<Due> = days
        .iter()
        .map(|d| Due {
            market: MarketRegion::Kr,
            date: *d,
            ready: kst(*d, 17, 0),
            deadline: kst(next(*d), 7, 30),
        })
        .chain(us_days.iter().map(|d| Due {
            market: MarketRegion::Us,
            date: *d,
            ready: ny(*d, 17, 30),
            deadline: ny(next(*d), 7, 30),
        }))
        .collect();
    out.sort_by_key(|d| (d.ready, d.market));
    out
}

/// The row an alert counts in: the row of its trade date; when a KRX and a US row share the date,
/// the US one from 19:00 KST of the date on (`sim_at`: the simulated moment of the alert).
fn row_of(rows: &[Due], date: Option<NaiveDate>, sim_at: DateTime<chrono::FixedOffset>) -> Option<usize> {
    let date = date?;
    let find = |m: MarketRegion| rows.iter().position(|r| r.market == m && r.date == date);
    match (find(MarketRegion::Kr), find(MarketRegion::Us)) {
        (Some(kr), Some(us)) => {
            let evening = crate::sim::clock::at(date, NaiveTime::from_hms_opt(19, 0, 0).unwrap_or_default());
            Some(if sim_at >= evening { us } else { kr })
        }
        (kr, us) => kr.or(us),
    }
}

/// Runs the rehearsal.
///
/// # Errors
/// Returns an error when the simulator, the database or a child process cannot start.
#[allow(clippy::too_many_lines)]
pub async fn run_rehearsal(opts: RehearseOptions) -> anyhow::Result<Rehearsal> {
    let started = Instant::now();
    let calendar = KrxCalendar::builtin().context("calendar")?;
    let us_calendar = UsCalendar::builtin().context("US calendar")?;
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
    if opts.us {
        // The US names trade on the paper host's real-time feed, as the demo's US session does.
        sim_cfg.us.symbols = US_SYMBOLS.iter().map(|s| (*s).to_owned()).collect();
        sim_cfg.us.paper_realtime = true;
    }
    // Tokens are judged by whoever reads them (the operator's commands by the wall clock): the
    // simulated days lie after today, never before.
    let tomorrow = (Utc::now().with_timezone(&KST) + TimeDelta::days(1)).date_naive();
    let sim_cal = crate::sim::market::Calendar::new(sim_cfg.holidays.clone());
    let us_market =
        opts.us.then_some(plan::UsMarket { calendar: &us_calendar, sim_holidays: &sim_cfg.us.holidays });
    let days = plan::pick_days(&calendar, &sim_cal, tomorrow, opts.days.max(1), us_market);
    let first = *days.first().context("no trading day")?;
    let last = *days.last().context("no trading day")?;
    let us_days = us_market.map(|us| us.days(first, last)).unwrap_or_default();
    let steps = plan::load_plan(&opts.faults, days.len(), us_days.len()).map_err(|e| anyhow::anyhow!(e))?;
    let at = |day: usize, t: NaiveTime| crate::sim::clock::at(days[day], t);
    let rows = dues(&days, &us_days);
    let row = |market: MarketRegion, date: NaiveDate| {
        rows.iter().position(|r| r.market == market && r.date == date).unwrap_or_default()
    };
    // The kills: (row, simulated moment).
    let kills: Vec<(usize, DateTime<chrono::FixedOffset>)> = if opts.us {
        plan::us_kill_times(opts.seed, &days, &us_days, opts.kills)
            .into_iter()
            .map(|(market, day, t)| {
                let date = if market == MarketRegion::Us { us_days[day] } else { days[day] };
                (row(market, date), t)
            })
            .collect()
    } else {
        plan::kill_times(opts.seed, days.len(), opts.kills)
            .into_iter()
            .map(|(day, t)| (row(MarketRegion::Kr, days[day]), at(day, t)))
            .collect()
    };
    let start = at(0, NaiveTime::from_hms_opt(7, 30, 0).unwrap_or_default());
    sim_cfg.start = Some(start);
    let sim = Sim::start(sim_cfg).await.context("start the simulator")?;
    // The simulated moment of a wall-clock time (the speed is constant for the whole run).
    let anchor = (Utc::now(), sim.clock().now());
    let sim_at = |wall: DateTime<Utc>| {
        let real = (wall - anchor.0).to_std().unwrap_or_default().as_secs_f64();
        anchor.1 + TimeDelta::from_std(Duration::from_secs_f64(real * opts.speed)).unwrap_or_default()
    };
    let slack = slack::SlackStandIn::start().await.context("start the Slack stand-in")?;
    let store = Store::open(&db_url).await.context("open the database")?;
    if opts.us {
        // A date's parameters are the strategy's for both pipelines: the US demo's, whose
        // entries on one-cent deviations trade the US names (on KRX's tick table every one-tick
        // move clears them as it clears the KRX demo's).
        let mut dates: Vec<NaiveDate> = days.iter().chain(&us_days).copied().collect();
        dates.sort();
        dates.dedup();
        for d in dates {
            activate_market_params(&store, d, MarketRegion::Us).await.context("trading parameters")?;
        }
    } else {
        for d in &days {
            activate_params(&store, *d).await.context("trading parameters")?;
        }
    }
    let us_line = if us_days.is_empty() {
        String::new()
    } else {
        format!(
            "; US ({}) {} New York days ({})",
            US_SYMBOLS.join(" "),
            us_days.len(),
            us_days.iter().map(|d| d.format("%a %m-%d").to_string()).collect::<Vec<_>>().join(" ")
        )
    };
    println!(
        "aegis rehearse: {} trading days {} … {} ({}){us_line}, speed {}x, {} kills, faults {}",
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

    let us_env = if opts.us { Some(us_symbols_env(&sim, &US_SYMBOLS)?) } else { None };
    let mut env = daemon_env(&sim, &key, &secret, &db_url, &slack.base, us_env);
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
    // A step's row and its moments (a US step's times are New York times of its US day).
    let step_row = |s: &plan::Step| {
        if s.us { row(MarketRegion::Us, us_days[s.day - 1]) } else { row(MarketRegion::Kr, days[s.day - 1]) }
    };
    let step_at = |s: &plan::Step, t: NaiveTime| {
        if s.us { plan::ny_at(us_days[s.day - 1], t) } else { at(s.day - 1, t) }
    };
    let mut timeline: Vec<(DateTime<chrono::FixedOffset>, Ev)> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        timeline.push((step_at(s, s.at), Ev::Step(i)));
        if let Some(u) = s.until {
            timeline.push((step_at(s, u), Ev::Undo(i)));
        }
    }
    for (i, (_, t)) in kills.iter().enumerate() {
        timeline.push((*t, Ev::Kill(i)));
    }
    timeline.sort_by_key(|(t, _)| *t);
    let mut timeline = std::collections::VecDeque::from(timeline);

    let end = rows.iter().map(|r| r.deadline).max().unwrap_or(start);
    let span = (end - start).num_seconds().max(1);
    let bar = progress_bar(opts.progress);
    let grace = Duration::from_secs_f64(3600.0 / opts.speed + 5.0);
    let grace = TimeDelta::from_std(grace).unwrap_or(TimeDelta::seconds(5));
    let minute = TimeDelta::from_std(Duration::from_secs_f64(60.0 / opts.speed)).unwrap_or_default();

    let mut windows: Vec<Window> = Vec::new();
    let mut open_windows: BTreeMap<usize, DateTime<Utc>> = BTreeMap::new();
    let mut faults_per_row = vec![0usize; rows.len()];
    let mut kills_per_row = vec![0usize; rows.len()];
    let mut kills_done = 0;
    let mut kill_log: Vec<String> = Vec::new();
    let mut fail_stage = FailStage::Idle;
    let mut reruns: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    let mut verdicts: Vec<Option<DayVerdict>> = vec![None; rows.len()];
    let mut active_ws: Option<FaultCommand> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_poll = Instant::now();

    while verdicts.iter().any(Option::is_none) {
        tick.tick().await;
        let now = sim.clock().now();
        let wall = Utc::now();
        runner.check_alive(now)?;
        while timeline.front().is_some_and(|(t, _)| *t <= now) {
            let Some((_, ev)) = timeline.pop_front() else { break };
            match ev {
                Ev::Step(i) => {
                    let s = &steps[i];
                    faults_per_row[step_row(s)] += 1;
                    tracing::info!(kind = %s.kind(), day = s.day, us = s.us, "fault injected");
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
                    kills_per_row[kills[i].0] += 1;
                    kills_done += 1;
                    tracing::info!(at = %now, "SIGKILL the daemon");
                    runner.kill().await;
                    runner.spawn_daemon()?;
                    windows.push(Window { from: wall - minute, to: Utc::now() + grace, kill: true });
                    kill_log.push(format!("{}", now.format("%Y-%m-%d %H:%M:%S")));
                }
            }
        }
        let done = verdicts.iter().filter(|v| v.is_some()).count();
        if last_poll.elapsed() < Duration::from_millis(500) {
            if let Some(b) = &bar {
                let done = (now - start).num_seconds().clamp(0, span);
                b.set_position(u64::try_from(done * 1000 / span).unwrap_or(0));
            }
            continue;
        }
        last_poll = Instant::now();
        if let FailStage::Broken(date, since, step) = fail_stage {
            let statuses = stage_statuses(&store, MarketRegion::Kr, date).await.unwrap_or_default();
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
        for (i, due) in rows.iter().enumerate() {
            if verdicts[i].is_some() || now < due.ready {
                continue;
            }
            let journal_done = now >= due.deadline
                || stage_statuses(&store, due.market, due.date)
                    .await
                    .ok()
                    .and_then(|m| m.get(&StageName::Journal).map(|(s, _, _)| s == "SUCCEEDED"))
                    .unwrap_or(false);
            if !journal_done {
                continue;
            }
            // The operator re-runs KRX stages only.
            let rerun = match due.market {
                MarketRegion::Kr => reruns.get(&due.date).map_or(&[][..], Vec::as_slice),
                MarketRegion::Us => &[][..],
            };
            let mut v = check_day(&store, &sim, due.market, due.date, rerun).await?;
            v.kills = kills_per_row[i];
            v.faults = faults_per_row[i];
            v.daemon_rss = rss_kb(runner.daemon.as_ref().and_then(Child::id));
            if let Some(b) = &bar {
                b.println(format!(
                    "{}: stages {}/{}, orders {}, fills {}, checks {}",
                    v.label(),
                    v.stages_ok,
                    StageName::ALL.len(),
                    v.comparison.db_orders,
                    v.comparison.db_fills,
                    if v.failed_checks().is_empty() { "held" } else { "FAILED" }
                ));
            }
            verdicts[i] = Some(v);
        }
        if let Some(b) = &bar {
            let done_secs = (now - start).num_seconds().clamp(0, span);
            b.set_position(u64::try_from(done_secs * 1000 / span).unwrap_or(0));
            let clock = if opts.us {
                format!(
                    "{} KST ({} New York)",
                    now.with_timezone(&KST).format("%a %m-%d %H:%M"),
                    now.with_timezone(&crate::domain::us_calendar::NEW_YORK).format("%H:%M")
                )
            } else {
                format!("{} KST", now.with_timezone(&KST).format("%a %m-%d %H:%M"))
            };
            b.set_message(format!(
                "{clock} | day {}/{} | kills {kills_done} | slack {}",
                (done + 1).min(rows.len()),
                rows.len(),
                slack.posts().len()
            ));
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut verdicts: Vec<DayVerdict> = verdicts.into_iter().flatten().collect();
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

    // Alerts: every `alert` event, in the row of its trade date.
    let alerts = store.control().events(1_000_000, Some("alert")).await?;
    let alert_rows: Vec<Option<usize>> =
        alerts.iter().map(|e| row_of(&rows, e.trade_date, sim_at(e.at))).collect();
    for (i, v) in verdicts.iter_mut().enumerate() {
        let mine: Vec<_> =
            alerts.iter().zip(&alert_rows).filter(|(_, r)| **r == Some(i)).map(|(e, _)| e).collect();
        v.alerts = mine.len();
        v.unmatched = mine
            .iter()
            .filter(|e| !matched(e.at, &kind_of(e)))
            .map(|e| format!("{}: {}", kind_of(e), e.message))
            .collect();
    }
    let mut run_failures = std::mem::take(&mut runner.failures);
    for (e, _) in alerts.iter().zip(&alert_rows).filter(|(e, r)| r.is_none() && !matched(e.at, &kind_of(e))) {
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
    // What Slack received, for whoever reads the run's files.
    let record: String = posts
        .iter()
        .map(|p| format!("{} {}{}\n", p.at.format("%H:%M:%S%.3f"), if p.reply { "  ↳ " } else { "" }, p.text))
        .collect();
    if let Err(e) = std::fs::write(dir.join("slack.log"), record) {
        tracing::warn!(error = %e, "cannot write slack.log");
    }
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
