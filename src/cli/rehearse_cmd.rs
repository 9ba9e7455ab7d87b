//! `aegis rehearse`: N simulated KRX trading days of the real daemon under faults and kills, with
//! `--us` its US pipeline beside every New York trading day (see [`crate::app::rehearse`]).

use crate::app::rehearse::{RehearseOptions, run_rehearsal};
use crate::config::{LogFormat, LogSettings};

/// Arguments of `aegis rehearse`.
#[derive(Debug, clap::Args)]
pub struct RehearseArgs {
    /// KRX trading days to run (from 3 on, the span crosses a weekend and a holiday).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=250))]
    pub days: u64,
    /// Simulated seconds per real second, for the whole run (nights included).
    #[arg(long, default_value_t = 1000.0)]
    pub speed: f64,
    /// Fault plan: `default` (every fault kind of the simulator), `none`, or a JSON file of steps
    /// (`[{"day":1,"at":"10:00:00","action":"fault","command":{"fault":"rest5xx","count":3}}]`).
    #[arg(long, default_value = "default", value_name = "PLAN")]
    pub faults: String,
    /// How many times the daemon is SIGKILLed (at seeded random moments) and started again.
    #[arg(long, default_value_t = 3)]
    pub kills: usize,
    /// Database URL (default: a fresh SQLite file in a temporary directory), e.g.
    /// `postgres://postgres@127.0.0.1:5432/rehearse`.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Seed of the simulated market and of the kill moments.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Do not draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Serve each daemon's /metrics, /healthz and /readyz on this address (IP:PORT; one daemon
    /// runs at a time). Off by default.
    #[arg(long, value_name = "ADDR", value_parser = super::parse_metrics_listen)]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Trade US stocks beside (US_SYMBOLS: KO, NVDA, AAPL): the daemon also runs the US pipeline
    /// every New York trading day of the span (its sessions overnight KST), each checked as a row
    /// of its own ("2026-12-14 US"); kills alternate between US and KRX trading hours and the
    /// default plan adds faults in the US sessions.
    #[arg(long)]
    pub us: bool,
}

/// Runs the rehearsal; 0 when every check of every day held.
pub async fn run(args: RehearseArgs) -> i32 {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        eprintln!("error: --speed must be a positive number");
        return super::EXIT_CONFIG;
    }
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot find the aegis binary: {e}");
            return 1;
        }
    };
    let log = LogSettings {
        level: std::env::var("LOG_LEVEL").unwrap_or_else(|_| "warn".to_owned()),
        dir: None,
        format: LogFormat::Text,
    };
    let _guard = crate::telemetry::init(&log);
    let opts = RehearseOptions {
        days: usize::try_from(args.days).unwrap_or(5),
        speed: args.speed,
        faults: args.faults,
        kills: args.kills,
        db: args.db,
        seed: args.seed,
        progress: !args.no_progress,
        exe,
        metrics_listen: args.metrics_listen,
        us: args.us,
    };
    match run_rehearsal(opts).await {
        Ok(report) => {
            println!("{report}");
            i32::from(!report.succeeded())
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
