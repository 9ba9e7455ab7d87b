//! `aegis demo`: a whole simulated trading day on a fresh machine — the simulator in-process on a
//! compressed clock, generated credentials, an SQLite database in a temporary directory (or
//! `--db`), every stage with the reference strategy, notifications on the console (and Slack when
//! configured), and a closing summary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{NaiveDate, NaiveTime, Utc};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::verify::{SimComparison, compare_market_with_sim};
use super::{App, AppOptions, SimTimeClock, UsTrading};
use crate::config::{Loaded, Secret, Sources};
use crate::domain::calendar::{KST, KrxCalendar};
use crate::domain::overseas::UsExchange;
use crate::domain::sessions::SessionCalendar;
use crate::domain::stage::{StageName, StageStatus};
use crate::domain::us_calendar::UsCalendar;
use crate::domain::{AccountNo, MarketRegion, Mode, Symbol};
use crate::notify::{Console, WorkerConfig};
use crate::pipeline::stages::{CloseOutput, IntradayProgress, JournalOutput, ProgressFn, StagesConfig};
use crate::pipeline::{RunOutcome, decode_output};
use crate::sim::{Sim, SimConfig, SimHandle};
use crate::store::Store;
use crate::store::params::{NewDraft, approve_draft, ensure_strategy, insert_draft};

/// The keys the demo sets itself (their problems in the user's configuration do not matter).
const DEMO_KEYS: [&str; 9] = [
    "MODE",
    "KIS_APP_KEY",
    "KIS_APP_SECRET",
    "KIS_ACCOUNT",
    "KIS_HTS_ID",
    "KIS_REST_BASE_URL",
    "KIS_WS_URL",
    "KIS_RATE_LIMIT_PER_SEC",
    "DB_URL",
];

/// The demo's instruments: liquid names of the simulator's catalog.
pub const DEMO_SYMBOLS: [&str; 6] = ["005930", "000660", "035420", "035720", "247540", "086520"];

/// The US demo's instruments: names of the simulator's US catalog on Nasdaq and NYSE.
pub const DEMO_US_SYMBOLS: [&str; 6] = ["AAPL", "MSFT", "NVDA", "TSLA", "KO", "JPM"];

/// Options of `aegis demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The market of the simulated session: KRX (default) or the US.
    pub market: MarketRegion,
    /// Database: an SQLite file path or a database URL (`postgres://…`); default a fresh
    /// `aegis.db` in the demo directory. It must not hold the demo's trade date yet.
    pub db: Option<String>,
    /// Simulated seconds per real second (200: a 09:00–15:30 session in about two minutes).
    pub speed: f64,
    /// Seed of the simulated market.
    pub seed: u64,
    /// Instruments traded (default: [`DEMO_SYMBOLS`], or [`DEMO_US_SYMBOLS`] for the US).
    pub symbols: Vec<String>,
    /// Configuration sources (Slack/email are used when configured).
    pub sources: Sources,
    /// Whether to draw the live progress bar.
    pub progress: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            market: MarketRegion::Kr,
            db: None,
            speed: 200.0,
            seed: 42,
            symbols: DEMO_SYMBOLS.iter().map(|s| (*s).to_owned()).collect(),
            sources: Sources::default(),
            progress: true,
        }
    }
}

/// What the demo did.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The market of the session.
    pub market: MarketRegion,
    /// The simulated trade date (the New York date for the US).
    pub trade_date: NaiveDate,
    /// How the run ended.
    pub outcome: RunOutcome,
    /// The latest status of every stage.
    pub stages: Vec<(StageName, String)>,
    /// Orders by status.
    pub orders_by_status: BTreeMap<String, usize>,
    /// Our records compared with the simulator's.
    pub comparison: SimComparison,
    /// The close stage's daily summary (none when the stage did not succeed).
    pub summary: Option<CloseOutput>,
    /// Events recorded.
    pub events: usize,
    /// Where the journal was written.
    pub journal_path: Option<String>,
    /// The demo directory.
    pub dir: PathBuf,
    /// Real time taken.
    pub wall: Duration,
}

impl DemoReport {
    /// Returns true when every stage succeeded and the database matches the simulator.
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, RunOutcome::Completed { through: StageName::Journal })
            && self.stages.iter().all(|(_, s)| s == StageStatus::Succeeded.as_str())
            && self.comparison.matches()
    }
}

/// Returns the first date from today (KST) that both the KRX calendar and the simulator trade on
/// with regular hours.
fn demo_date(calendar: &KrxCalendar, sim: &SimConfig) -> NaiveDate {
    let sim_cal = crate::sim::market::Calendar::new(sim.holidays.clone());
    let mut d = Utc::now().with_timezone(&KST).date_naive();
    for _ in 0..60 {
        if calendar.is_trading_day(d) && calendar.special(d).is_none() && sim_cal.is_trading_day(d) {
            return d;
        }
        d = d.succ_opt().unwrap_or(d);
    }
    d
}

/// Parameters of the reference strategy that trade on the simulator's quiet random walk: entries
/// on deviations of about one tick — 0.1 % on KRX's tick table, 0.01 % on the US cent grid
/// (a cent is 0.005 % of a 200-dollar stock, 0.016 % of a 60-dollar one).
fn demo_params(market: MarketRegion) -> Value {
    let (entry, exit) = match market {
        MarketRegion::Kr => (0.1, 0.05),
        MarketRegion::Us => (0.01, 0.005),
    };
    json!({
        "window": 10, "entry_pct": entry, "exit_pct": exit, "stop_loss_pct": 1,
        "order_qty": 1, "max_position_qty": 3, "cooldown_secs": 900,
    })
}

/// Makes the demo parameters the ACTIVE row of the trade date (unless one exists); the
/// end-to-end tests use it to rehearse a day with the daemon.
///
/// # Errors
/// Returns an error when the store fails or the parameters do not validate.
pub async fn activate_params(store: &Store, date: NaiveDate) -> anyhow::Result<()> {
    activate_market_params(store, date, MarketRegion::Kr).await
}

/// Makes the demo parameters of `market` the ACTIVE row of the trade date (unless one exists).
///
/// # Errors
/// Returns an error when the store fails or the parameters do not validate.
pub async fn activate_market_params(
    store: &Store,
    date: NaiveDate,
    market: MarketRegion,
) -> anyhow::Result<()> {
    let strategy = crate::journal::REFERENCE_STRATEGY;
    let now = Utc::now();
    let id = ensure_strategy(store, strategy, "reference strategy", now).await?;
    if crate::store::params::active_params(store, id, date).await?.is_some() {
        return Ok(());
    }
    let draft = insert_draft(
        store,
        NewDraft {
            strategy_id: id,
            trade_date: date,
            params: demo_params(market),
            source: "demo".into(),
            rationale: "demo parameters: small entries on one-tick deviations".into(),
            rejected: None,
            created_at: now,
        },
    )
    .await?;
    approve_draft(store, draft.id, "demo", now, |d| {
        crate::journal::validate_draft(&d.strategy, &d.params).map(|_| ())
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// Builds the demo's configuration: the user's (for Slack, email, AI) with the simulator's
/// endpoints, generated credentials and the demo database.
fn demo_loaded(
    sources: &Sources,
    sim: &SimHandle,
    key: &str,
    secret: &str,
    db_url: &str,
) -> anyhow::Result<Loaded> {
    let mut loaded = crate::config::load(sources);
    // The demo trades PAPER: a LIVE-only requirement of the user's configuration does not apply.
    loaded.problems.retain(|p| !DEMO_KEYS.contains(&p.key()) && !p.is_live_only());
    let s = &mut loaded.settings;
    s.mode = Mode::Paper;
    s.kis.app_key = Some(Secret::new(key));
    s.kis.app_secret = Some(Secret::new(secret));
    s.kis.account = Some(AccountNo::parse("50000000-01")?);
    s.kis.hts_id = Some("simuser".into());
    s.kis.rest_base_url = url::Url::parse(&sim.rest_url)?;
    s.kis.ws_url = url::Url::parse(&format!("{}/tryitout", sim.ws_url))?;
    s.kis.rate_limit_per_sec = 100;
    s.db_url = Secret::new(db_url);
    crate::telemetry::register_settings_secrets(s);
    Ok(loaded)
}

fn progress_bar(show: bool) -> (Option<ProgressFn>, Option<indicatif::ProgressBar>) {
    if !show {
        return (None, None);
    }
    let bar = indicatif::ProgressBar::new(1000);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("intraday {bar:30} {pos:>4}/1000 ‰ of the session  {msg}")
    {
        bar.set_style(style);
    }
    let b = bar.clone();
    let report: ProgressFn = Arc::new(move |p: &IntradayProgress| {
        if let (Some(now), Some(open), Some(close)) = (p.now, p.open, p.close) {
            let total = (close - open).num_seconds().max(1);
            let done = (now - open).num_seconds().clamp(0, total);
            b.set_position(u64::try_from(done * 1000 / total).unwrap_or(0));
            b.set_message(format!(
                "{} KST | events {} | signals {} | orders {} | fills {}",
                now.with_timezone(&KST).format("%H:%M"),
                p.market_events,
                p.signals,
                p.orders_sent,
                p.fills
            ));
        }
    });
    (Some(report), Some(bar))
}

/// Runs the demo day and returns its report.
///
/// # Errors
/// Returns an error when the simulator, the database or the wiring cannot start.
pub async fn run_demo(opts: DemoOptions) -> anyhow::Result<DemoReport> {
    let started = Instant::now();
    let calendar = Arc::new(KrxCalendar::builtin().context("calendar")?);
    let dir =
        std::env::temp_dir().join(format!("aegis-demo-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let db_url = opts.db.as_deref().map_or_else(
        || format!("sqlite://{}?mode=rwc", dir.join("aegis.db").display()),
        crate::store::database_url,
    );
    let uid = uuid::Uuid::new_v4().simple().to_string();
    let key = format!("PSDEMO{}", &uid[..30]);
    let secret: String = uid.chars().cycle().take(180).collect();
    let symbols: Vec<Symbol> = opts.symbols.iter().map(Symbol::new).collect::<Result<_, _>>()?;

    let mut sim_cfg = SimConfig {
        symbols: opts.symbols.clone(),
        seed: opts.seed,
        speed: opts.speed,
        app_key: Some(key.clone()),
        app_secret: Some(secret.clone()),
        rate_limit: Some(1000),
        ..SimConfig::default()
    };
    let us_calendar = Arc::new(UsCalendar::builtin().context("US calendar")?);
    let date = match opts.market {
        MarketRegion::Kr => {
            let date = demo_date(&calendar, &sim_cfg);
            let open = NaiveTime::from_hms_opt(8, 59, 0).unwrap_or_default();
            sim_cfg.start = Some(crate::sim::clock::at(date, open));
            date
        }
        MarketRegion::Us => {
            // The US session of the demo: a regular New York day the simulator trades too, from
            // a minute before its open; the KRX side keeps its catalog (it trades no order).
            sim_cfg.symbols = DEMO_SYMBOLS.iter().map(|s| (*s).to_owned()).collect();
            sim_cfg.us.symbols.clone_from(&opts.symbols);
            sim_cfg.us.paper_realtime = true;
            let date = demo_us_date(&us_calendar, &sim_cfg);
            let open = us_calendar.session_window(date).map(|s| s.open).context("US session")?;
            sim_cfg.start =
                Some((open - chrono::TimeDelta::minutes(1)).with_timezone(&crate::sim::clock::kst()));
            date
        }
    };
    let sim = Sim::start(sim_cfg).await.context("start the simulator")?;
    let loaded = demo_loaded(&opts.sources, &sim, &key, &secret, &db_url)?;
    let store = Store::open(&db_url).await.context("open the demo database")?;
    // The day is played once: a database that already holds it would only replay the record.
    if let Some(run) = store.pipeline().find_run(opts.market, date).await.context("read the demo database")? {
        anyhow::bail!(
            "the database {} already holds a pipeline run for {date} ({}): give the demo an empty database",
            crate::store::printable_url(&db_url),
            run.status
        );
    }
    crate::obs::health::health().set_database(store.conn().clone());
    activate_market_params(&store, date, opts.market).await.context("demo parameters")?;

    let us = match opts.market {
        MarketRegion::Kr => None,
        MarketRegion::Us => {
            Some(UsTrading { venues: us_venues(&sim, &symbols)?, calendar: us_calendar, beside: None })
        }
    };
    let market = match opts.market {
        MarketRegion::Kr => "KRX",
        MarketRegion::Us => "US (New York date)",
    };
    println!(
        "aegis demo: {market} session, simulated trade date {date}, speed {}x, {} symbols",
        opts.speed,
        symbols.len()
    );
    println!("  simulator {}  database {}", sim.rest_url, crate::store::printable_url(&db_url));
    let mut stages = StagesConfig::new(
        url::Url::parse(&format!("{}/common/master/", sim.rest_url))?,
        dir.join("master"),
        symbols,
    );
    stages.journal_dir = Some(dir.join("journal"));
    stages.reconcile_every = Duration::from_secs(2);
    stages.cancel_lead = chrono::TimeDelta::minutes(15);
    stages.risk.max_orders_per_day = Some(300);
    // A daily-loss limit as LIVE requires one (the demo's one-share trades stay far from it), in
    // the market's currency: 1,000,000 KRW, or 1,000 USD with the US commission.
    let max_loss = match opts.market {
        MarketRegion::Kr => rust_decimal::Decimal::from(1_000_000),
        MarketRegion::Us => {
            stages.fees = crate::domain::position::FeeSchedule::us_default();
            rust_decimal::Decimal::from(1_000)
        }
    };
    let daily_loss =
        crate::domain::risk::DailyLossLimit { max_loss, include_unrealized: true, block_reducing: false };
    stages.risk.daily_loss = Some(daily_loss);
    stages.kill_switch.daily_loss = Some(daily_loss);
    let (progress, bar) = progress_bar(opts.progress);
    let options = AppOptions {
        loaded,
        stages,
        clock: Arc::new(SimTimeClock(sim.clock().clone())),
        calendar,
        us,
        console: Console::stdout(),
        worker: WorkerConfig { poll_interval: Duration::from_millis(500), ..WorkerConfig::default() },
        retry_backoff: Some(Duration::from_millis(500)),
        shutdown_grace: Duration::from_secs(5),
        progress,
    };
    let cancel = CancellationToken::new();
    let signals = crate::pipeline::service::cancel_on_signal(cancel.clone());
    let app = App::build(store.clone(), options, cancel)?;
    let outcome = app.runner.run_until(date, StageName::Journal).await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    signals.abort();
    let sim_state = sim.state();
    app.shutdown().await;
    sim.shutdown().await;
    let outcome = outcome?;
    report(&store, opts.market, date, outcome, &sim_state, dir, started).await
}

/// Returns the first New York date from today that the US calendar and the simulator trade on
/// with regular hours (no early close).
fn demo_us_date(calendar: &UsCalendar, sim: &SimConfig) -> NaiveDate {
    let mut d = Utc::now().with_timezone(&crate::domain::us_calendar::NEW_YORK).date_naive();
    for _ in 0..60 {
        if calendar.is_trading_day(d) && calendar.special(d).is_none() && !sim.us.holidays.contains(&d) {
            return d;
        }
        d = d.succ_opt().unwrap_or(d);
    }
    d
}

/// Returns the US exchange of every demo ticker, as the simulator lists it.
///
/// # Errors
/// Names a ticker the simulator does not list.
fn us_venues(sim: &SimHandle, symbols: &[Symbol]) -> anyhow::Result<BTreeMap<Symbol, UsExchange>> {
    let state = sim.state();
    let listed = state["us_markets"].as_array().map(Vec::as_slice).unwrap_or_default();
    symbols
        .iter()
        .map(|s| {
            let row = listed
                .iter()
                .find(|m| m["symbol"].as_str() == Some(s.as_str()))
                .with_context(|| format!("{s} is not in the simulator's US catalog"))?;
            let exchange = UsExchange::parse(row["exchange"].as_str().unwrap_or_default())?;
            Ok((s.clone(), exchange))
        })
        .collect()
}

async fn report(
    store: &Store,
    market: MarketRegion,
    date: NaiveDate,
    outcome: RunOutcome,
    sim_state: &Value,
    dir: PathBuf,
    started: Instant,
) -> anyhow::Result<DemoReport> {
    let pipeline = store.pipeline();
    let run = pipeline.find_run(market, date).await?.context("the pipeline run is missing")?;
    let attempts = pipeline.attempts(run.id).await?;
    let latest = |s: StageName| attempts.iter().filter(|a| a.stage == s.as_str()).max_by_key(|a| a.attempt);
    let stages = StageName::ALL
        .into_iter()
        .map(|s| (s, latest(s).map_or_else(|| "-".to_owned(), |a| a.status.clone())))
        .collect();
    let output = |s: StageName| latest(s).and_then(|a| a.output.as_ref());
    let summary = output(StageName::Close)
        .map(decode_output::<CloseOutput>)
        .transpose()
        .context("the close stage's output")?;
    let journal = output(StageName::Journal)
        .map(decode_output::<JournalOutput>)
        .transpose()
        .context("the journal's output")?;
    let control = store.control();
    let mut orders_by_status = BTreeMap::new();
    for o in control.orders_on(date).await? {
        *orders_by_status.entry(o.status).or_default() += 1;
    }
    Ok(DemoReport {
        market,
        trade_date: date,
        outcome,
        stages,
        orders_by_status,
        comparison: compare_market_with_sim(store, date, sim_state, market).await?,
        summary,
        events: store.events().recent(1_000_000).await?.len(),
        journal_path: journal.and_then(|j| j.path),
        dir,
        wall: started.elapsed(),
    })
}

impl std::fmt::Display for DemoReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let market = match self.market {
            MarketRegion::Kr => "",
            MarketRegion::Us => " (US session, New York date)",
        };
        writeln!(f, "\n── aegis demo summary: {}{market} ──", self.trade_date)?;
        let stages: Vec<String> = self.stages.iter().map(|(s, st)| format!("{s}={st}")).collect();
        writeln!(f, "stages:  {}", stages.join(" "))?;
        let by: Vec<String> = self.orders_by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
        let c = &self.comparison;
        writeln!(f, "orders:  {} ({})", c.db_orders, by.join(", "))?;
        writeln!(
            f,
            "fills:   {} fills, {} shares (simulator: {} fills, {} shares)",
            c.db_fills, c.db_filled_qty, c.sim_fills, c.sim_filled_qty
        )?;
        let market = self.market;
        let pnl = |v: fn(&CloseOutput) -> rust_decimal::Decimal| {
            self.summary.as_ref().map_or_else(
                || "-".to_owned(),
                |s| crate::domain::money::Money(v(s), market.currency()).to_string(),
            )
        };
        let currency = market.currency();
        writeln!(
            f,
            "P&L:     realized {} {currency}, unrealized {} {currency} (net of fees)",
            pnl(|s| s.realized_pnl),
            pnl(|s| s.unrealized_pnl)
        )?;
        writeln!(f, "events:  {}", self.events)?;
        writeln!(f, "journal: {}", self.journal_path.as_deref().unwrap_or("-"))?;
        if c.matches() {
            writeln!(f, "check:   database and simulator agree on every order and fill")?;
        } else {
            writeln!(f, "check:   {} differences: {}", c.mismatches.len(), c.mismatches.join("; "))?;
        }
        write!(f, "time:    {:.1}s (files in {})", self.wall.as_secs_f64(), self.dir.display())
    }
}
