//! `aegis demo`: a whole simulated trading day with nothing configured (see [`crate::app::demo`]).

use crate::app::demo::{DemoOptions, run_demo};
use crate::config::{LogFormat, LogSettings, Sources};

/// Arguments of `aegis demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The market of the simulated session: `kr` (the KRX day, 09:00–15:30 KST) or `us` (a
    /// NYSE/Nasdaq regular session, 09:30–16:00 New York time, through the overseas endpoints
    /// and channels, in USD).
    #[arg(long, value_enum, default_value = "kr")]
    pub market: DemoMarket,
    /// Database: an SQLite file, or a PostgreSQL URL (`postgres://user@host/db`) to try the day
    /// on the production backend (default: a fresh SQLite file in a temporary directory). It
    /// must not hold the demo's trade date yet.
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<String>,
    /// Simulated seconds per real second (200 runs the 09:00–15:30 session in about two minutes).
    #[arg(long, default_value_t = 200.0)]
    pub speed: f64,
    /// Seed of the simulated market.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Instruments to trade (comma-separated codes of the simulator's catalog; US tickers with
    /// `--market us`).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Option<Vec<String>>,
    /// Do not draw the live progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Serve /metrics, /healthz and /readyz on this address during the demo (IP:PORT; port 0
    /// picks a free one; the bound address is printed). Off by default.
    #[arg(long, value_name = "ADDR", value_parser = super::parse_metrics_listen)]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// The market of `aegis demo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoMarket {
    /// The KRX trading day.
    Kr,
    /// A US regular session.
    Us,
}

/// Runs the demo; 0 when every stage succeeded and the database matches the simulator.
pub async fn run(sources: &Sources, args: DemoArgs) -> i32 {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        eprintln!("error: --speed must be a positive number");
        return super::EXIT_CONFIG;
    }
    let log = LogSettings {
        level: std::env::var("LOG_LEVEL").unwrap_or_else(|_| "warn".to_owned()),
        dir: None,
        format: LogFormat::Text,
    };
    let _guard = crate::telemetry::init(&log);
    let market = match args.market {
        DemoMarket::Kr => crate::domain::MarketRegion::Kr,
        DemoMarket::Us => crate::domain::MarketRegion::Us,
    };
    let mut opts = DemoOptions {
        market,
        db: args.db,
        speed: args.speed,
        seed: args.seed,
        sources: sources.clone(),
        ..DemoOptions::default()
    };
    if let Some(symbols) = args.symbols {
        opts.symbols = symbols;
    } else if market == crate::domain::MarketRegion::Us {
        opts.symbols = crate::app::demo::DEMO_US_SYMBOLS.iter().map(|s| (*s).to_owned()).collect();
    }
    opts.progress = !args.no_progress;
    let server = match args.metrics_listen {
        Some(addr) => match crate::obs::serve(addr).await {
            Ok(s) => {
                let at = s.local_addr();
                println!("metrics: http://{at}/metrics  (health: http://{at}/healthz, http://{at}/readyz)");
                Some(s)
            }
            Err(e) => {
                eprintln!("error: cannot listen on {addr} for metrics: {e}");
                return 1;
            }
        },
        None => None,
    };
    let code = match run_demo(opts).await {
        Ok(report) => {
            println!("{report}");
            if report.succeeded() { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    if let Some(s) = server {
        s.shutdown().await;
    }
    code
}
