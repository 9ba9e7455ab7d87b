//! Operator commands: `aegis status`, `history`, `stage run|rerun`, `halt`, `resume`,
//! `observe on|off`, `orders`, `positions`, `events`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Subcommand, ValueEnum};

use crate::config::Loaded;
use crate::domain::Currency;
use crate::domain::MarketRegion;
use crate::domain::calendar::{KST, KrxCalendar};
use crate::domain::market::{FeedStatus, RegistrationState, Subscription};
use crate::domain::mode::{ModeEvent, TradingMode};
use crate::domain::money::Money;
use crate::domain::stage::StageName;
use crate::domain::us_calendar::{US_HOLIDAYS_FILE, UsCalendar, UsCalendarError};
use crate::notify::fmt_duration;
use crate::pipeline::runner::{RunOutcome, Runner};
use crate::pipeline::{ConsoleSink, LeaseKeeper, PIPELINE_LEASE, holder_name, stages};
use crate::ports::Fence;
use crate::store::Store;
use crate::store::control::{ControlError, ControlStore};
use crate::store::events::EventRecord;
use crate::store::pipeline::{PipelineStore, RequestKind};
use rust_decimal::Decimal;

/// Operator commands (flattened into the top-level command list).
#[derive(Debug, Subcommand)]
pub enum OpsCommand {
    /// Show the trading mode, the real-time feed's registrations and a trade date's pipeline run
    /// as a table (default: today in KST; for the US pipeline, today in New York).
    Status {
        /// Trade date (YYYY-MM-DD).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// The pipeline: kr (KRX) or us (US stocks, its own run per New York date).
        #[arg(long, value_enum, default_value_t = MarketArg::Kr)]
        market: MarketArg,
    },
    /// List recent pipeline runs.
    History {
        /// How many trade dates to show.
        #[arg(long, default_value_t = 10)]
        days: u64,
    },
    /// Run or re-run a pipeline stage.
    #[command(subcommand)]
    Stage(StageCommand),
    /// Stop trading: no new orders (cancels are still sent); persisted across restarts.
    Halt {
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Resume normal trading after `halt` or `observe on`.
    Resume,
    /// Observe mode: signals are computed and recorded, nothing is sent.
    Observe {
        /// on or off.
        state: OnOff,
    },
    /// List a trade date's orders (default: today in KST).
    Orders {
        /// Trade date (YYYY-MM-DD).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// List positions.
    Positions,
    /// List recent events, newest first.
    Events {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Only events of this kind (e.g. stage_transition).
        #[arg(long)]
        kind: Option<String>,
    },
}

/// `aegis stage …`
#[derive(Debug, Subcommand)]
pub enum StageCommand {
    /// Run the pipeline up to and including a stage (stages that succeeded are not repeated).
    Run {
        /// Stage name (config_check … journal).
        stage: StageName,
        /// Trade date (default: today in KST; for the US pipeline, today in New York).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// The pipeline: kr (KRX) or us (US stocks).
        #[arg(long, value_enum, default_value_t = MarketArg::Kr)]
        market: MarketArg,
    },
    /// Run a stage again, even if it succeeded; a failed run continues afterwards.
    Rerun {
        /// Stage name (config_check … journal).
        stage: StageName,
        /// Trade date (default: today in KST; for the US pipeline, today in New York).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// The pipeline: kr (KRX) or us (US stocks).
        #[arg(long, value_enum, default_value_t = MarketArg::Kr)]
        market: MarketArg,
    },
}

/// The pipeline a command is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MarketArg {
    /// The KRX pipeline (KST trade dates).
    Kr,
    /// The US pipeline (New York trade dates).
    Us,
}

impl MarketArg {
    /// Returns the market.
    pub const fn region(self) -> MarketRegion {
        match self {
            Self::Kr => MarketRegion::Kr,
            Self::Us => MarketRegion::Us,
        }
    }

    /// Returns today's trade date of the market (the KST date, or the New York date).
    fn today(self) -> NaiveDate {
        crate::domain::sessions::trade_date_in(self.region(), Utc::now())
    }
}

/// on / off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Switch on.
    On,
    /// Switch off.
    Off,
}

fn today_kst() -> NaiveDate {
    MarketArg::Kr.today()
}

fn kst_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&KST).format("%H:%M:%S").to_string()
}

/// The operator of this command in audit rows: `cli:<user>`.
pub(super) fn actor() -> String {
    let user = super::who::current_user().unwrap_or_else(|| "unknown".into());
    format!("cli:{user}")
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("error: {msg}");
    1
}

/// Returns the calendar of `holidays.toml` in `SCHEDULES_DIR` when present, else the built-in one.
///
/// # Errors
/// Returns the file's validation error.
pub fn load_calendar(schedules_dir: &Path) -> Result<KrxCalendar, String> {
    let path = schedules_dir.join("holidays.toml");
    let path = path.as_path();
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        KrxCalendar::from_toml_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        KrxCalendar::builtin().map_err(|e| e.to_string())
    }
}

/// Reads `us_holidays.toml` from the schedules directory (SCHEDULES_DIR), or returns the
/// built-in US calendar when the directory has no such file (the domain reads no files).
///
/// # Errors
/// [`UsCalendarError::Read`] when the file exists but cannot be read,
/// [`UsCalendarError::File`] (wrapping the parse error) when it is malformed.
pub fn load_us_calendar(schedules_dir: &Path) -> Result<UsCalendar, UsCalendarError> {
    let path = schedules_dir.join(US_HOLIDAYS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            UsCalendar::from_toml_str(&text).map_err(|e| UsCalendarError::File { path, source: Box::new(e) })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => UsCalendar::builtin(),
        Err(e) => Err(UsCalendarError::Read { path, message: e.to_string() }),
    }
}

/// Runs an operator command.
pub async fn run(loaded: &Loaded, cmd: OpsCommand) -> i32 {
    let problems = loaded.problems_for(&["DB_URL"]);
    if !problems.is_empty() {
        for p in problems {
            eprintln!("error: {p}");
        }
        return super::EXIT_CONFIG;
    }
    let store = match Store::open(loaded.settings.db_url.expose()).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let control = store.control();
    let pipeline = store.pipeline();
    match cmd {
        OpsCommand::Status { date, market } => {
            status(&pipeline, &control, market.region(), date.unwrap_or_else(|| market.today())).await
        }
        OpsCommand::History { days } => history(&pipeline, days).await,
        OpsCommand::Stage(cmd) => stage(loaded, &store, cmd).await,
        OpsCommand::Halt { reason } => {
            let note = reason.unwrap_or_else(|| "halted from the command line".into());
            change_mode(&control, &ModeEvent::OperatorStop { note }).await
        }
        OpsCommand::Resume => change_mode(&control, &ModeEvent::OperatorResume).await,
        OpsCommand::Observe { state: OnOff::On } => change_mode(&control, &ModeEvent::OperatorObserve).await,
        OpsCommand::Observe { state: OnOff::Off } => match control.mode().await {
            Ok(TradingMode::Observe) => change_mode(&control, &ModeEvent::OperatorResume).await,
            Ok(other) => fail(format!("observe mode is not on (trading mode is {})", other.as_str())),
            Err(e) => fail(e),
        },
        OpsCommand::Orders { date } => orders(&control, date.unwrap_or_else(today_kst)).await,
        OpsCommand::Positions => positions(&control).await,
        OpsCommand::Events { limit, kind } => events(&control, limit, kind.as_deref()).await,
    }
}

fn mode_line(mode: &TradingMode) -> String {
    match mode {
        TradingMode::Stop { reason } => format!("STOP ({reason})"),
        other => other.as_str().to_owned(),
    }
}

/// The lines of `aegis status` about the real-time feed, from its last report of the date's
/// registrations (a `FEED_REGISTRATIONS` event): the connection, the count against the cap, and
/// one line per registration with its state.
pub fn feed_lines(report: Option<&EventRecord>, date: NaiveDate) -> Vec<String> {
    let Some(report) = report else {
        return vec![format!("feed: no report for {date}")];
    };
    let at = kst_time(report.at);
    let status = report.payload.get("status").cloned().map(serde_json::from_value::<FeedStatus>);
    let Some(Ok(FeedStatus::Registrations { connected, cap, registrations })) = status else {
        return vec![format!("feed at {at} KST: report unreadable")];
    };
    if registrations.is_empty() {
        let state = if connected { "connected" } else { "closed" };
        return vec![format!("feed at {at} KST: {state}; no registrations")];
    }
    let count = |f: fn(&RegistrationState) -> bool| registrations.iter().filter(|r| f(&r.state)).count();
    let active = count(|s| *s == RegistrationState::Active);
    let pending = count(|s| *s == RegistrationState::Pending);
    let refused = count(|s| matches!(s, RegistrationState::Refused { .. }));
    let mut tally = vec![format!("{active} active")];
    tally.extend((pending > 0).then(|| format!("{pending} pending")));
    tally.extend((refused > 0).then(|| format!("{refused} refused")));
    let mut lines = vec![format!(
        "feed at {at} KST: {}; registrations {}/{cap} ({})",
        if connected { "connected" } else { "disconnected" },
        registrations.len(),
        tally.join(", ")
    )];
    for r in &registrations {
        let what = match &r.subscription {
            Subscription::Quotes(s) | Subscription::Trades(s) => s.to_string(),
            Subscription::UsQuotes(e, s) | Subscription::UsTrades(e, s) => format!("{e}:{s}"),
            Subscription::Executions => "notices".to_owned(),
            Subscription::UsExecutions => "US notices".to_owned(),
        };
        let state = match &r.state {
            RegistrationState::Active => "active".to_owned(),
            RegistrationState::Pending => "pending".to_owned(),
            RegistrationState::Refused { code, message, since } => {
                format!("refused {code} {message} since {} KST (retried)", kst_time(*since))
            }
        };
        lines.push(format!("  {:<9} {what:<8} {state}", r.channel));
    }
    lines
}

async fn status(
    pipeline: &PipelineStore,
    control: &ControlStore,
    market: MarketRegion,
    date: NaiveDate,
) -> i32 {
    let prefix = crate::pipeline::sink::market_prefix(market);
    match control.mode().await {
        Ok(mode) => println!("trading mode: {}", mode_line(&mode)),
        Err(e) => return fail(e),
    }
    match control.latest_event("FEED_REGISTRATIONS", date).await {
        Ok(report) => feed_lines(report.as_ref(), date).iter().for_each(|l| println!("{l}")),
        Err(e) => return fail(e),
    }
    let run = match pipeline.find_run(market, date).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            println!("no {prefix}pipeline run for {date}");
            return 0;
        }
        Err(e) => return fail(e),
    };
    let reason = run.reason.as_deref().map(|r| format!(" — {r}")).unwrap_or_default();
    println!("{prefix}pipeline run {date}: {}{reason}", run.status);
    let attempts = match pipeline.attempts(run.id).await {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    println!("{:<14} {:<10} {:>7}  {:<8}  {:>9}  ERROR", "STAGE", "STATUS", "ATTEMPT", "KST", "DURATION");
    for stage in StageName::ALL {
        let latest = attempts.iter().filter(|a| a.stage == stage.as_str()).max_by_key(|a| a.attempt);
        match latest {
            None => println!("{:<14} {:<10} {:>7}  {:<8}  {:>9}", stage.as_str(), "-", "-", "-", "-"),
            Some(a) => {
                let started = a.started_at.map_or_else(|| "-".into(), kst_time);
                let duration = match (a.started_at, a.finished_at) {
                    (Some(s), Some(f)) => fmt_duration((f - s).to_std().unwrap_or_default()),
                    (Some(_), None) => "running".into(),
                    _ => "-".into(),
                };
                let error = a.error.as_deref().unwrap_or("");
                println!(
                    "{:<14} {:<10} {:>7}  {started:<8}  {duration:>9}  {error}",
                    a.stage, a.status, a.attempt
                );
            }
        }
    }
    0
}

async fn history(pipeline: &PipelineStore, days: u64) -> i32 {
    let runs = match pipeline.recent_runs(days).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if runs.is_empty() {
        println!("no pipeline runs yet");
        return 0;
    }
    println!(
        "{:<10}  {:<6}  {:<9}  {:<9}  {:<9}  REASON",
        "DATE", "MARKET", "STATUS", "START KST", "END KST"
    );
    for r in runs {
        let finished = r.finished_at.map_or_else(|| "-".into(), kst_time);
        println!(
            "{}  {:<6}  {:<9}  {:<9}  {finished:<9}  {}",
            r.trade_date,
            r.market,
            r.status,
            kst_time(r.started_at),
            r.reason.unwrap_or_default()
        );
    }
    0
}

async fn change_mode(control: &ControlStore, event: &ModeEvent) -> i32 {
    match control.apply(event, &actor(), Utc::now()).await {
        Ok(change) => {
            println!("trading mode: {} -> {}", change.from.as_str(), mode_line(&change.to));
            0
        }
        Err(ControlError::Transition(e)) => {
            let what = match (&e.from, &e.event) {
                (TradingMode::Stop { .. }, ModeEvent::OperatorStop { .. }) => "trading is already stopped",
                (TradingMode::Normal, ModeEvent::OperatorResume) => "trading is already normal",
                (TradingMode::Observe, ModeEvent::OperatorObserve) => "observe mode is already on",
                _ => "this mode change is not allowed",
            };
            fail(format!("{what} (trading mode: {})", mode_line(&e.from)))
        }
        Err(e) => fail(e),
    }
}

/// Tells the operator at once when the daemon will serve a request for `stage` on `date`: within
/// seconds when it is idle or the stage may run beside the running one, otherwise after the
/// running stage ends (for the intraday stage, the session close).
/// The running attempt a request waits for: the chain's stage, not a side stage (a token
/// re-issue) served beside it, which ends within seconds.
fn chain_attempt(
    attempts: Vec<crate::ports::pipeline_runs::StageRunRecord>,
) -> Option<crate::ports::pipeline_runs::StageRunRecord> {
    let running = attempts.into_iter().rev().filter(|a| a.status == "RUNNING");
    let (side, chain): (Vec<_>, Vec<_>) =
        running.partition(|a| a.stage.parse::<StageName>().is_ok_and(crate::pipeline::daemon::runs_beside));
    chain.into_iter().next().or_else(|| side.into_iter().next())
}

async fn when_served(
    pipeline: &PipelineStore,
    stage: StageName,
    market: MarketArg,
    date: NaiveDate,
    schedules: &Path,
) -> String {
    // The daemon runs one stage at a time across the markets: the running one may be the other
    // market's.
    let mut running = None;
    let days = [(market, date), (MarketArg::Kr, today_kst()), (MarketArg::Us, MarketArg::Us.today())];
    for (m, day) in days {
        if let Ok(Some(run)) = pipeline.find_run(m.region(), day).await
            && let Ok(attempts) = pipeline.attempts(run.id).await
            && let Some(a) = chain_attempt(attempts)
        {
            running = Some((m, day, a));
            break;
        }
    }
    let Some((running_market, day, attempt)) = running else {
        return "the daemon is idle: it takes the request within a few seconds".to_owned();
    };
    let prefix = crate::pipeline::sink::market_prefix(running_market.region());
    let same = running_market == market && day == date;
    let Ok(current) = attempt.stage.parse::<StageName>() else {
        return format!("the daemon is running {prefix}{} for {day}", attempt.stage);
    };
    if crate::pipeline::daemon::runs_beside(stage) && (!same || current > StageName::AccessToken) {
        return format!("it runs beside {prefix}{current} ({day}), within a few seconds");
    }
    let since = attempt.started_at.map_or_else(|| "-".into(), kst_time);
    let close = match running_market {
        MarketArg::Kr => load_calendar(schedules)
            .ok()
            .and_then(|c| crate::domain::sessions::SessionCalendar::session_window(&c, day)),
        MarketArg::Us => load_us_calendar(schedules)
            .ok()
            .and_then(|c| crate::domain::sessions::SessionCalendar::session_window(&c, day)),
    };
    let until = match (current, close) {
        (StageName::Intraday, Some(session)) => {
            format!("; the intraday stage ends at the session close, {} KST", kst_time(session.close))
        }
        _ => String::new(),
    };
    format!("it waits for {prefix}{current} ({day}, running since {since} KST) to end{until}")
}

/// Builds what runs a stage in the CLI: with broker settings everything the daemon has (the KIS
/// adapter, Slack and email) and the runner of `market`'s pipeline; without them a runner of the
/// stages that need no broker. An error says why nothing can run (an application built for it
/// is shut down first).
async fn stage_runner(
    loaded: &Loaded,
    store: &Store,
    calendar: Arc<KrxCalendar>,
    market: MarketArg,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<(Option<crate::app::App>, Arc<Runner>), String> {
    if crate::app::kis_config(&loaded.settings).is_ok() {
        let cfg = super::run_cmd::stages_config(loaded, &super::run_cmd::default_args())?;
        let clock = Arc::new(crate::ports::SystemClock);
        let app = super::run_cmd::build_app(loaded, store.clone(), cfg, calendar, clock, cancel)?;
        let Some(runner) = app.runner_of(market.region()) else {
            app.shutdown().await;
            return Err(
                "aegis does not trade US stocks here: set US_SYMBOLS (see `aegis config check`)".into()
            );
        };
        return Ok((Some(app), runner));
    }
    let mut runner = Runner::new(store.clone(), calendar)
        .with_sink(Arc::new(ConsoleSink))
        .with_cancel(cancel, Duration::from_secs(10))
        .with_stage(Arc::new(stages::ConfigCheck::new(loaded)));
    if market == MarketArg::Us {
        let us = load_us_calendar(&loaded.settings.schedules_dir).map_err(|e| e.to_string())?;
        runner = runner.with_sessions(Arc::new(us));
    }
    Ok((None, Arc::new(runner)))
}

async fn stage(loaded: &Loaded, store: &Store, cmd: StageCommand) -> i32 {
    let (kind, stage, date, market) = match cmd {
        StageCommand::Run { stage, date, market } => {
            (RequestKind::Run, stage, date.unwrap_or_else(|| market.today()), market)
        }
        StageCommand::Rerun { stage, date, market } => {
            (RequestKind::Rerun, stage, date.unwrap_or_else(|| market.today()), market)
        }
    };
    let prefix = crate::pipeline::sink::market_prefix(market.region());
    let pipeline = store.pipeline();
    // The CLI leads like a daemon while the stage runs: a heartbeat renews the lease, and losing
    // it cancels the stage; its order writes name the lease epoch.
    let fence = Arc::new(Fence::new(PIPELINE_LEASE, holder_name("cli")));
    let store = store.clone().with_fence(fence.clone());
    let keeper = LeaseKeeper::new(Arc::new(pipeline.clone()), fence, Duration::from_secs(30));
    match keeper.try_acquire().await {
        Ok(true) => {}
        Ok(false) => {
            // A daemon drives the pipeline: hand the request over through the database.
            let who = actor();
            let queued =
                pipeline.insert_request(market.region(), date, stage.as_str(), kind, &who, Utc::now());
            return match queued.await {
                Ok(id) => {
                    println!(
                        "request #{id} queued: the running daemon will {} {prefix}{stage} for {date}",
                        kind.as_str()
                    );
                    let schedules = &loaded.settings.schedules_dir;
                    println!("{}", when_served(&pipeline, stage, market, date, schedules).await);
                    0
                }
                Err(e) => fail(e),
            };
        }
        Err(e) => return fail(e),
    }
    // Running the stage here trades like the daemon: the same refusal on risk settings.
    let risk = super::run_cmd::trading_problems(loaded);
    if !risk.is_empty() && crate::app::kis_config(&loaded.settings).is_ok() {
        let _ = keeper.release().await;
        eprintln!("error: refusing to trade: {}", risk.join("; "));
        return super::EXIT_CONFIG;
    }
    let heartbeat = keeper.keep();
    let calendar = match load_calendar(&loaded.settings.schedules_dir) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            heartbeat.stop().await;
            let _ = keeper.release().await;
            eprintln!("error: {e}");
            return super::EXIT_CONFIG;
        }
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let signals = crate::pipeline::service::cancel_on_signal(cancel.clone());
    let lost = heartbeat.lost().clone();
    let on_loss = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            lost.cancelled().await;
            cancel.cancel();
        })
    };
    let (app, runner) = match stage_runner(loaded, &store, calendar, market, cancel).await {
        Ok(built) => built,
        Err(e) => {
            signals.abort();
            on_loss.abort();
            heartbeat.stop().await;
            let _ = keeper.release().await;
            eprintln!("error: {e}");
            return super::EXIT_CONFIG;
        }
    };
    let result = match kind {
        RequestKind::Run => runner.run_until(date, stage).await,
        RequestKind::Rerun => runner.rerun(date, stage, &actor()).await,
    };
    if let Some(app) = app {
        app.shutdown().await;
    }
    signals.abort();
    on_loss.abort();
    let lost = heartbeat.lost().is_cancelled();
    heartbeat.stop().await;
    if lost {
        eprintln!("error: the pipeline lease was lost to another process; the stage was cancelled");
    }
    if let Err(e) = keeper.release().await {
        eprintln!("warning: cannot release the pipeline lease: {e}");
    }
    match result {
        Ok(RunOutcome::Completed { through }) => {
            println!("{date}: completed through {through}");
            0
        }
        Ok(RunOutcome::Skipped { reason }) => {
            println!("{date}: skipped — {reason}");
            0
        }
        Ok(RunOutcome::Failed { stage, error }) => fail(format!(
            "{prefix}{stage} failed: {error}\nre-run with `{}`",
            crate::pipeline::sink::rerun_command(stage, date, market.region())
        )),
        Ok(RunOutcome::Blocked { stage }) => fail(format!(
            "the {prefix}run of {date} stopped at the failed stage {stage}; re-run it with `{}`",
            crate::pipeline::sink::rerun_command(stage, date, market.region())
        )),
        Ok(RunOutcome::Interrupted { stage }) => {
            fail(format!("interrupted during {stage}; it resumes on the next run"))
        }
        Err(crate::pipeline::RunnerError::NotRegistered(s)) => fail(format!(
            "stage {s} needs the broker connection: set KIS_APP_KEY, KIS_APP_SECRET and KIS_ACCOUNT (see `aegis config check`)"
        )),
        Err(e) => fail(e),
    }
}

async fn orders(control: &ControlStore, date: NaiveDate) -> i32 {
    let rows = match control.orders_on(date).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if rows.is_empty() {
        println!("no orders on {date}");
        return 0;
    }
    println!(
        "{:>6}  {:<8}  {:<6}  {:<4}  {:<6}  {:>10}  {:>12}  {:>10}  {:<16}  BROKER NO",
        "ID", "KST", "SYMBOL", "SIDE", "TYPE", "QTY", "PRICE", "FILLED", "STATUS"
    );
    for o in rows {
        println!(
            "{:>6}  {:<8}  {:<6}  {:<4}  {:<6}  {:>10}  {:>12}  {:>10}  {:<16}  {}",
            o.id,
            kst_time(o.created_at),
            o.symbol,
            o.side,
            o.order_type,
            o.qty,
            o.price.map(|p| p.to_string()).unwrap_or_else(|| "market".into()),
            o.filled_qty,
            o.status,
            o.broker_order_no.unwrap_or_default()
        );
    }
    0
}

async fn positions(control: &ControlStore) -> i32 {
    let rows = match control.positions().await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if rows.is_empty() {
        println!("no positions");
        return 0;
    }
    println!(
        "{:<8}  {:>10}  {:>12}  {:>14}  {:>12}  CCY",
        "SYMBOL", "QTY", "AVG PRICE", "REALIZED P&L", "LAST"
    );
    for p in rows {
        // A KRX code is in won, a US ticker in dollars and cents.
        let currency = crate::domain::Symbol::new(&p.symbol).map_or(Currency::Krw, |s| s.region().currency());
        let money = |v: Decimal| Money(v, currency).to_string();
        println!(
            "{:<8}  {:>10}  {:>12}  {:>14}  {:>12}  {currency}",
            p.symbol,
            p.qty.normalize(),
            money(p.avg_price),
            money(p.realized_pnl),
            p.last_price.map_or_else(|| "-".into(), money)
        );
    }
    0
}

async fn events(control: &ControlStore, limit: u64, kind: Option<&str>) -> i32 {
    let rows = match control.events(limit, kind).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if rows.is_empty() {
        println!("no events");
        return 0;
    }
    for e in rows {
        let at = e.at.with_timezone(&KST).format("%Y-%m-%d %H:%M:%S");
        println!("{:>6}  {at}  {:<8}  {:<22}  {}", e.id, e.severity, e.kind, e.message);
    }
    0
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::domain::Symbol;
    use crate::domain::market::FeedRegistration;

    #[test]
    fn the_us_calendar_comes_from_schedules_dir_else_the_builtin_list() {
        let dir = std::env::temp_dir().join(format!("aegis-us-calendar-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(load_us_calendar(&dir), UsCalendar::builtin(), "no file: the built-in list");
        let file = dir.join(US_HOLIDAYS_FILE);
        let head = "covered_years = [2026]\n[regular]\nopen = \"09:30\"\nclose = \"16:00\"\n[extended]\npre_open = \"04:00\"\nafter_close = \"20:00\"\n";
        let closed = |date: &str| format!("[[closed]]\ndate = \"{date}\"\nname = \"x\"\n");
        std::fs::write(&file, format!("{head}{}", closed("2026-01-02"))).unwrap();
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let loaded = load_us_calendar(&dir).unwrap();
        assert!(!loaded.is_trading_day(day("2026-01-02")) && loaded.is_trading_day(day("2026-01-19")));
        std::fs::write(&file, format!("{head}{}", closed("2026-02-30"))).unwrap();
        let err = load_us_calendar(&dir).unwrap_err();
        assert!(
            matches!(&err, UsCalendarError::File { path, source } if *path == file && matches!(**source, UsCalendarError::Parse { line: Some(9), .. })),
            "{err:?}"
        );
        assert!(err.to_string().contains("us_holidays.toml: US holiday list, line 9"), "{err}");
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        assert!(matches!(load_us_calendar(&dir), Err(UsCalendarError::Read { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn record(payload: serde_json::Value) -> EventRecord {
        EventRecord {
            id: 1,
            at: Utc.with_ymd_and_hms(2026, 3, 3, 0, 1, 5).unwrap(),
            trade_date: NaiveDate::from_ymd_opt(2026, 3, 3),
            kind: "FEED_REGISTRATIONS".into(),
            severity: "INFO".into(),
            message: "feed registrations".into(),
            payload,
            order_id: None,
        }
    }

    /// Every registration's state, one line each, the connection and the count against the cap;
    /// no report, an unreadable one and a closed feed are said as such.
    #[test]
    fn feed_lines_show_every_registration_and_its_state() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
        let since = Utc.with_ymd_and_hms(2026, 3, 3, 0, 1, 2).unwrap();
        let reg = |subscription, channel: &str, state| FeedRegistration {
            subscription,
            channel: channel.into(),
            state,
        };
        let status = FeedStatus::Registrations {
            connected: false,
            cap: 41,
            registrations: vec![
                reg(
                    Subscription::Executions,
                    "H0STCNI0",
                    RegistrationState::Refused {
                        code: "OPSP0008".into(),
                        message: "MAX SUBSCRIBE OVER".into(),
                        since,
                    },
                ),
                reg(
                    Subscription::Trades(Symbol::new("005930").unwrap()),
                    "H0STCNT0",
                    RegistrationState::Pending,
                ),
                reg(
                    Subscription::Quotes(Symbol::new("005930").unwrap()),
                    "H0STASP0",
                    RegistrationState::Active,
                ),
            ],
        };
        assert_eq!(
            feed_lines(Some(&record(json!({ "status": status }))), date),
            [
                "feed at 09:01:05 KST: disconnected; registrations 3/41 (1 active, 1 pending, 1 refused)",
                "  H0STCNI0  notices  refused OPSP0008 MAX SUBSCRIBE OVER since 09:01:02 KST (retried)",
                "  H0STCNT0  005930   pending",
                "  H0STASP0  005930   active",
            ]
        );
        assert_eq!(feed_lines(None, date), ["feed: no report for 2026-03-03"]);
        assert_eq!(
            feed_lines(Some(&record(json!({ "status": "Closed" }))), date),
            ["feed at 09:01:05 KST: report unreadable"]
        );
        let closed = FeedStatus::Registrations { connected: false, cap: 41, registrations: vec![] };
        assert_eq!(
            feed_lines(Some(&record(json!({ "status": closed }))), date),
            ["feed at 09:01:05 KST: closed; no registrations"]
        );
    }
}
