//! The `aegis` command line: argument parsing and the commands' entry points.
//!
//! Each command returns an [`ExitCode`]-like number: 0 success, 1 failure, 2 invalid
//! configuration or arguments.

mod audit_cmd;
mod config_cmd;
mod db_cmd;
mod demo_cmd;
mod ops_cmd;
mod params_cmd;
mod rehearse_cmd;
mod run_cmd;
mod service_cmd;
#[cfg(windows)]
mod service_windows;
pub mod trader_cmd;
mod who;
pub mod windows_plan;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{self, Sources};

/// Exit code for a configuration problem.
pub const EXIT_CONFIG: i32 = 2;

/// aegis — a crash-safe, idempotent trading service for KIS (한국투자증권) accounts.
#[derive(Debug, Parser)]
#[command(name = "aegis", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Path of aegis.toml (default: ./aegis.toml when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Path of the .env file (default: ./.env when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate or inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the database schema.
    #[command(subcommand)]
    Db(DbCommand),
    /// Review or propose strategy-parameter drafts (exit 3: unknown id, 4: already decided or
    /// invalid, 5: parameter file refused).
    #[command(subcommand)]
    Params(ParamsCommand),
    /// Run the daemon: the Asia/Seoul scheduler and the daily pipeline (stop with Ctrl-C or SIGTERM).
    Run(Box<run_cmd::RunArgs>),
    /// Run a whole simulated trading day with nothing configured (simulator, SQLite, every stage).
    Demo(Box<demo_cmd::DemoArgs>),
    /// Rehearse N trading days of the real daemon against the simulator under faults and kills,
    /// with a per-day verdict table (exit 1 when a check failed).
    Rehearse(Box<rehearse_cmd::RehearseArgs>),
    /// Run the simulated KIS Open API server (REST + WebSocket on one port).
    Sim(Box<crate::sim::cli::SimArgs>),
    /// Operator commands (status, history, stage, halt, resume, observe, orders, positions, events).
    #[command(flatten)]
    Ops(ops_cmd::OpsCommand),
    /// List the audit trail, newest first: order actions (submit, cancel, resolution, with the
    /// order's correlation id) and operator commands (who, what, result).
    Audit(audit_cmd::AuditArgs),
    /// Install, remove or inspect the system service.
    #[command(subcommand)]
    Service(service_cmd::ServiceCommand),
    /// Crash-test harness: runs a deterministic order script, printing progress markers.
    #[command(hide = true)]
    TraderHarness(Box<trader_cmd::HarnessArgs>),
}

/// `aegis config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate every setting and print every problem at once (exit 2 on problems).
    Check,
}

/// `aegis db …`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations.
    Migrate,
    /// List applied and pending migrations.
    Status,
}

/// `aegis params …`
#[derive(Debug, Subcommand)]
pub enum ParamsCommand {
    /// List drafts, newest first.
    List {
        /// Only drafts of this status (pending, approved, rejected).
        #[arg(long, value_parser = parse_draft_status)]
        status: Option<crate::store::params::DraftStatus>,
    },
    /// Show one draft with its parameters and rationale.
    Show {
        /// Draft id.
        id: i64,
    },
    /// Approve a pending draft: it becomes the ACTIVE parameters of its trade date.
    Approve {
        /// Draft id.
        id: i64,
        /// Who approves (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Propose parameters from a TOML file: a valid file becomes a PENDING draft to approve
    /// (exit 5 when the file is refused).
    ///
    /// The file: `strategy = "mean_reversion"` (optional), `trade_date = "YYYY-MM-DD"` (optional,
    /// default the next KRX trading day), `rationale = "…"` (required) and a `[params]` table
    /// checked against the strategy's schema (a parameter left out takes its default).
    Propose {
        /// The parameter file.
        #[arg(long, value_name = "PARAMS.toml")]
        file: PathBuf,
        /// Trade date (YYYY-MM-DD); wins over the file's `trade_date`.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Who proposes (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Reject a pending draft.
    Reject {
        /// Draft id.
        id: i64,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who rejects (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

/// Parses `--metrics-listen`: an IP socket address (`127.0.0.1:0` picks a free port).
fn parse_metrics_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    crate::obs::server::parse_listen(s)?
        .ok_or_else(|| "give an address (IP:PORT); leave the flag out for off".into())
}

/// Parses `aegis run --metrics-listen`: an IP socket address or `off`.
fn parse_metrics_listen_or_off(s: &str) -> Result<Listen, String> {
    crate::obs::server::parse_listen(s).map(Listen)
}

/// A `--metrics-listen` value of `aegis run`: an address, or `None` for `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub Option<std::net::SocketAddr>);

fn parse_draft_status(s: &str) -> Result<crate::store::params::DraftStatus, String> {
    s.parse()
}

impl Cli {
    /// Returns the configuration sources named on the command line.
    pub fn sources(&self) -> Sources {
        Sources { toml_path: self.config.clone(), env_file: self.env_file.clone(), ..Sources::default() }
    }
}

/// Runs the parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let sources = cli.sources();
    match cli.command {
        Command::Sim(args) => run_sim(*args).await,
        Command::Demo(args) => demo_cmd::run(&sources, *args).await,
        Command::Rehearse(args) => rehearse_cmd::run(*args).await,
        Command::Run(args) if args.service => run_service(sources.clone(), args),
        Command::Run(args) => {
            with_config(&sources, |loaded| async move { run_cmd::run(&loaded, *args).await }).await
        }
        Command::TraderHarness(args) => trader_cmd::run(*args).await,
        Command::Config(ConfigCommand::Check) => {
            with_config(&sources, |loaded| async move { config_cmd::check(&loaded) }).await
        }
        Command::Db(cmd) => {
            with_config(&sources, |loaded| async move { db_cmd::run(&loaded, cmd).await }).await
        }
        Command::Params(cmd) => {
            with_config(&sources, |loaded| async move {
                let audit = audit_cmd::of_params(&cmd);
                let code = params_cmd::run(&loaded, cmd).await;
                if let Some(audit) = audit {
                    audit_cmd::record(&loaded, &audit, code).await;
                }
                code
            })
            .await
        }
        Command::Ops(cmd) => {
            with_config(&sources, |loaded| async move {
                let audit = audit_cmd::of_ops(&cmd);
                let code = ops_cmd::run(&loaded, cmd).await;
                if let Some(audit) = audit {
                    audit_cmd::record(&loaded, &audit, code).await;
                }
                code
            })
            .await
        }
        Command::Audit(args) => {
            with_config(&sources, |loaded| async move { audit_cmd::run(&loaded, args).await }).await
        }
        Command::Service(cmd) => service_cmd::run(&sources, cmd),
    }
}

/// `aegis run --service`: hands the process to the Windows service control manager, which runs
/// the daemon on a service thread until a stop or shutdown control; refused elsewhere.
fn run_service(sources: Sources, args: Box<run_cmd::RunArgs>) -> i32 {
    #[cfg(windows)]
    {
        let body = windows_plan::service_body(sources, args, tokio::runtime::Handle::current());
        match tokio::task::block_in_place(|| service_windows::run_as_service(body)) {
            Ok(code) => code,
            Err(e) => {
                eprintln!(
                    "error: cannot reach the service control manager ({e}); `aegis run --service` is \
                     started by Windows for the installed service; run `aegis run` by hand"
                );
                1
            }
        }
    }
    #[cfg(not(windows))]
    {
        let _ = (sources, args);
        eprintln!(
            "error: `aegis run --service` is the Windows service entry point; under systemd the \
             unit runs `aegis run` (see `aegis service install --dry-run`)"
        );
        EXIT_CONFIG
    }
}

/// Loads the configuration, registers its secrets with the log redactor, starts logging and runs
/// the command.
async fn with_config<F, Fut>(sources: &Sources, command: F) -> i32
where
    F: FnOnce(config::Loaded) -> Fut,
    Fut: std::future::Future<Output = i32>,
{
    with_config_logging_to(sources, |dir| dir, command).await
}

/// [`with_config`] with the log directory chosen by `log_dir` from `LOG_DIR` (the Windows service
/// logs to files in its data directory when `LOG_DIR` is unset).
pub(crate) async fn with_config_logging_to<D, F, Fut>(sources: &Sources, log_dir: D, command: F) -> i32
where
    D: FnOnce(Option<PathBuf>) -> Option<PathBuf>,
    F: FnOnce(config::Loaded) -> Fut,
    Fut: std::future::Future<Output = i32>,
{
    let mut loaded = config::load(sources);
    loaded.settings.log.dir = log_dir(loaded.settings.log.dir.take());
    crate::telemetry::register_settings_secrets(&loaded.settings);
    let _guard = match crate::telemetry::init(&loaded.settings.log) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    command(loaded).await
}

/// Runs the simulator, which needs no aegis configuration and logs to the console only.
async fn run_sim(args: crate::sim::cli::SimArgs) -> i32 {
    let log = config::LogSettings {
        level: std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".to_owned()),
        dir: None,
        format: config::LogFormat::Text,
    };
    let _guard = crate::telemetry::init(&log);
    match crate::sim::cli::run(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
