//! `aegis run`: the daemon — the cron scheduler and the pipeline with every concrete stage, operator
//! requests from the database, and a graceful shutdown on SIGTERM / Ctrl-C (the running stage
//! stops and records its state, the feed unsubscribes and closes, the outbox finishes its writes).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use url::Url;

use crate::app::{App, AppOptions, UsTrading, kis_config};
use crate::config::Loaded;
use crate::domain::Symbol;
use crate::notify::{Console, WorkerConfig};
use crate::pipeline::schedule::Schedule;
use crate::pipeline::stages::StagesConfig;
use crate::pipeline::{Daemon, DaemonConfig, PIPELINE_LEASE, SystemClock, holder_name, serve};
use crate::ports::Clock;
use crate::ports::Fence;
use crate::store::Store;

/// Arguments of `aegis run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Instruments traded (comma-separated); the default universe rule when unset.
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Directory of the master-file cache and the journals.
    #[arg(long, default_value = "data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Stock master directory URL (default: the vendor's, or the simulator's on a loopback host).
    #[arg(long, value_name = "URL")]
    pub master_base_url: Option<Url>,
    /// Pipeline schedule (default: pipeline.toml in SCHEDULES_DIR when present, else the built-in
    /// one).
    #[arg(long, value_name = "PATH")]
    pub schedule: Option<PathBuf>,
    /// Follow the clock of the `aegis sim` at KIS_REST_BASE_URL instead of the system clock; the
    /// schedule is then evaluated on that clock (rehearsals on a compressed day, tests).
    #[arg(long, hide = true)]
    pub sim_clock: bool,
    /// Time to live of the pipeline lease in seconds (the heartbeat renews it at a third of
    /// that, at most every 3 s): a standby takes over this long after its leader died.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lease_ttl_secs: u64,
    /// Address of the /metrics, /healthz and /readyz listener (IP:PORT, or off); overrides
    /// METRICS_LISTEN (default 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR", value_parser = super::parse_metrics_listen_or_off)]
    pub metrics_listen: Option<super::Listen>,
    /// Run under the Windows service control manager: the entry point `aegis service install`
    /// registers on Windows. The data directory becomes the working directory and logs go to
    /// files in its `logs` folder unless LOG_DIR is set; a service stop or a system shutdown
    /// stops the daemon gracefully, as SIGTERM does. Refused on other systems (systemd runs
    /// plain `aegis run`).
    #[arg(long)]
    pub service: bool,
}

fn fail(code: i32, msg: impl std::fmt::Display) -> i32 {
    eprintln!("error: {msg}");
    code
}

pub(crate) fn load_schedule(path: Option<&Path>, schedules_dir: &Path) -> Result<Schedule, String> {
    let default = schedules_dir.join("pipeline.toml");
    match path {
        Some(p) => Schedule::load(p).map_err(|e| e.to_string()),
        None if default.exists() => Schedule::load(&default).map_err(|e| e.to_string()),
        None => Schedule::builtin().map_err(|e| e.to_string()),
    }
}

/// Returns the stage settings of `aegis run` for these arguments.
pub(crate) fn stages_config(loaded: &Loaded, args: &RunArgs) -> Result<StagesConfig, String> {
    let rest = &loaded.settings.kis.rest_base_url;
    let master = match &args.master_base_url {
        Some(u) => u.clone(),
        None if crate::kis::config::is_allowed_base(rest) && rest.scheme() == "http" => {
            rest.join("/common/master/").map_err(|e| e.to_string())?
        }
        None => Url::parse(crate::universe::download::DEFAULT_BASE_URL).map_err(|e| e.to_string())?,
    };
    let symbols =
        args.symbols.iter().map(Symbol::new).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    let mut cfg = StagesConfig::new(master, args.data_dir.join("master"), symbols);
    cfg.journal_dir = Some(args.data_dir.join("journal"));
    cfg.risk = loaded.settings.risk.guardrails;
    cfg.kill_switch.daily_loss = loaded.settings.risk.kill_switch_daily_loss;
    cfg.audit_retention = chrono::TimeDelta::days(i64::from(loaded.settings.audit_retention_days));
    Ok(cfg)
}

/// Returns the stage settings of the US pipeline when `US_SYMBOLS` names tickers: the KRX
/// pipeline's settings with the US tickers, the `US_RISK_*` limits in USD and the US commission;
/// its journal proposes no parameter draft.
pub(crate) fn us_stages_config(loaded: &Loaded, krx: &StagesConfig) -> Option<StagesConfig> {
    let us = loaded.settings.us.as_ref()?;
    let mut cfg = krx.clone();
    cfg.region = crate::domain::MarketRegion::Us;
    cfg.symbols = us.venues.keys().cloned().collect();
    cfg.risk = us.risk.guardrails;
    cfg.kill_switch.daily_loss = us.risk.kill_switch_daily_loss;
    cfg.fees = crate::domain::position::FeeSchedule::us_default();
    // One set of strategy parameters per date, proposed by the KRX journal.
    cfg.propose_drafts = false;
    Some(cfg)
}

/// Returns the configuration problems that forbid trading: every problem of a `RISK_*` key
/// (including MODE=LIVE without `RISK_DAILY_LOSS_KRW`) and of a `US_*` key (the US tickers and
/// their limits in USD). `aegis run` refuses to start on any.
pub(crate) fn trading_problems(loaded: &Loaded) -> Vec<String> {
    loaded
        .problems
        .iter()
        .filter(|p| p.key().starts_with("RISK_") || p.key().starts_with("US_"))
        .map(ToString::to_string)
        .collect()
}

/// The settings of `aegis run` with every option at its default (what `aegis stage run` uses
/// when no daemon is running).
pub(crate) fn default_args() -> RunArgs {
    RunArgs {
        symbols: Vec::new(),
        data_dir: PathBuf::from("data"),
        master_base_url: None,
        schedule: None,
        sim_clock: false,
        lease_ttl_secs: 30,
        metrics_listen: None,
        service: false,
    }
}

/// Builds the application the daemon runs: the real KIS adapter, the notifiers on stdout, Slack
/// and email, and every stage — with a US pipeline beside the KRX one when `US_SYMBOLS` is set
/// (same client, token, approval key and socket; the US calendar of SCHEDULES_DIR).
pub(crate) fn build_app(
    loaded: &Loaded,
    store: Store,
    stages: StagesConfig,
    calendar: Arc<crate::domain::calendar::KrxCalendar>,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
) -> Result<App, String> {
    let us = match (&loaded.settings.us, us_stages_config(loaded, &stages)) {
        (Some(us), Some(us_stages)) => {
            let us_calendar = super::ops_cmd::load_us_calendar(&loaded.settings.schedules_dir)
                .map_err(|e| e.to_string())?;
            Some(UsTrading {
                venues: us.venues.clone(),
                calendar: Arc::new(us_calendar),
                beside: Some(us_stages),
            })
        }
        _ => None,
    };
    let options = AppOptions {
        loaded: loaded.clone(),
        stages,
        clock,
        calendar,
        us,
        console: Console::stdout(),
        worker: WorkerConfig::default(),
        retry_backoff: None,
        shutdown_grace: Duration::from_secs(10),
        progress: None,
    };
    App::build(store, options, cancel).map_err(|e| e.to_string())
}

/// Runs the daemon until SIGTERM or Ctrl-C; 0 after a clean stop.
pub async fn run(loaded: &Loaded, args: RunArgs) -> i32 {
    run_until(loaded, args, CancellationToken::new()).await
}

/// Runs the daemon until `cancel` fires (a Windows service stop), SIGTERM or Ctrl-C; 0 after a
/// clean stop.
pub async fn run_until(loaded: &Loaded, args: RunArgs, cancel: CancellationToken) -> i32 {
    let risk = trading_problems(loaded);
    if !risk.is_empty() {
        return fail(super::EXIT_CONFIG, format!("refusing to trade: {}", risk.join("; ")));
    }
    let db = loaded.problems_for(&["DB_URL", "METRICS_LISTEN"]);
    if !db.is_empty() {
        return fail(super::EXIT_CONFIG, db.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
    }
    if let Err(e) = kis_config(&loaded.settings) {
        return fail(super::EXIT_CONFIG, e);
    }
    let calendar = match super::ops_cmd::load_calendar(&loaded.settings.schedules_dir) {
        Ok(c) => Arc::new(c),
        Err(e) => return fail(super::EXIT_CONFIG, e),
    };
    let schedule = match load_schedule(args.schedule.as_deref(), &loaded.settings.schedules_dir) {
        Ok(s) => Arc::new(s),
        Err(e) => return fail(super::EXIT_CONFIG, e),
    };
    let stages = match stages_config(loaded, &args) {
        Ok(s) => s,
        Err(e) => return fail(super::EXIT_CONFIG, e),
    };
    let clock: Arc<dyn Clock> = if args.sim_clock {
        match crate::app::clock::follow_sim(&loaded.settings.kis.rest_base_url).await {
            Ok(c) => Arc::new(c),
            Err(e) => return fail(1, e),
        }
    } else {
        Arc::new(SystemClock)
    };
    // Every order this process writes names the lease epoch it leads under: a daemon that lost
    // the lease to a standby cannot write (and so cannot send) an order.
    let fence = Arc::new(Fence::new(PIPELINE_LEASE, holder_name("daemon")));
    let store = match Store::open(loaded.settings.db_url.expose()).await {
        Ok(s) => s.with_fence(fence.clone()),
        Err(e) => return fail(1, e),
    };
    // The metrics recorder goes in before anything is built, so nothing recorded is lost.
    let listen = args.metrics_listen.map_or(loaded.settings.metrics_listen, |l| l.0);
    let metrics = match listen {
        Some(addr) => match crate::obs::serve(addr).await {
            Ok(server) => {
                let at = server.local_addr();
                eprintln!("metrics: http://{at}/metrics  (health: http://{at}/healthz, http://{at}/readyz)");
                Some(server)
            }
            Err(e) => {
                return fail(
                    1,
                    format!(
                        "cannot listen on {addr} for metrics ({e}); set METRICS_LISTEN to a free address or off"
                    ),
                );
            }
        },
        None => None,
    };
    crate::obs::health::health().set_database(store.conn().clone());
    let signals = crate::pipeline::service::cancel_on_signal(cancel.clone());
    let app = match build_app(loaded, store, stages, calendar, clock.clone(), cancel.clone()) {
        Ok(a) => a,
        Err(e) => return fail(super::EXIT_CONFIG, e),
    };
    tracing::info!("aegis daemon starting");
    let notifier: Arc<dyn crate::notify::Notifier> = Arc::new(app.fanout.clone());
    let lease_ttl = Duration::from_secs(args.lease_ttl_secs);
    let config = DaemonConfig {
        fence,
        notifier: Some(notifier),
        lease_ttl,
        poll_interval: (lease_ttl / 3).clamp(Duration::from_millis(100), Duration::from_secs(3)),
        ..DaemonConfig::default()
    };
    let mut daemon = Daemon::new(app.runner.clone(), Some(schedule.clone()), config).with_clock(clock);
    if let Some(us_runner) = &app.us_runner {
        // The US pipeline runs on the [us] triggers of the schedule; without them it runs only
        // on an operator's request.
        let us_schedule = schedule.us.as_deref().cloned().map(Arc::new);
        if us_schedule.is_none() {
            tracing::warn!(
                "US_SYMBOLS is set but the schedule has no [us] triggers: the US pipeline runs only on request"
            );
        }
        daemon = daemon.with_market(us_runner.clone(), us_schedule);
    }
    let result = if args.sim_clock {
        // The cron scheduler follows the system clock; on the simulator's clock the daemon's
        // own schedule check fires the pipeline.
        let (_never, rx) = tokio::sync::mpsc::channel(1);
        daemon.run(rx, cancel.clone()).await
    } else {
        serve(daemon, cancel.clone()).await
    };
    signals.abort();
    app.shutdown().await;
    if let Some(m) = metrics {
        m.shutdown().await;
    }
    match result {
        Ok(()) => 0,
        Err(e) => fail(1, e),
    }
}
