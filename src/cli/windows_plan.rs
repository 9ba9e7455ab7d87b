//! Everything of the Windows service that is not a Windows API call, compiled and tested on every
//! platform: the install plan (the service's name, command line, account, start mode, recovery
//! actions and data-directory grant, as a value `aegis service install --platform windows
//! --dry-run` prints), the status reports of each phase of the service's life, and the service
//! body that `aegis run --service` hands to the service dispatcher.
//!
//! The only `cfg(windows)` code, `service_windows.rs`, turns these values into calls of the
//! `windows-service` crate one for one and holds no decision of its own.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Sources;

/// The Windows service name (also the virtual account `NT SERVICE\aegis`).
pub const SERVICE_NAME: &str = "aegis";

/// The service's display name in the Services console.
pub const DISPLAY_NAME: &str = "aegis trading daemon (KIS)";

/// The service's description in the Services console.
pub const DESCRIPTION: &str = "aegis: a crash-safe, idempotent trading service for KIS accounts. \
     Configuration, database, journals and logs under its data directory.";

/// Where the service's data directory goes when `%ProgramData%` is not set.
pub const DEFAULT_PROGRAM_DATA: &str = r"C:\ProgramData";

/// How the service starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// At boot, after the automatic services (the network is up by then).
    AutoDelayed,
    /// Only when an operator starts it.
    Manual,
}

/// What the service control manager does when the service fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Restart delays of the first, second and later failures.
    pub restart_after: Vec<Duration>,
    /// The failure count goes back to zero after this long without a failure.
    pub reset_after: Duration,
    /// Also act when the service stops itself with a non-zero exit code (not only on a crash).
    pub on_non_crash_failures: bool,
}

/// The Windows service as `aegis service install` registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsPlan {
    /// Service name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: String,
    /// The aegis executable.
    pub executable: String,
    /// The launch arguments (`aegis` parses them: a test checks).
    pub arguments: Vec<String>,
    /// The account the service runs as (a virtual account by default: its own SID, no password,
    /// no rights beyond those granted).
    pub account: String,
    /// Start mode.
    pub start: StartMode,
    /// Recovery actions.
    pub recovery: Recovery,
    /// The service's data directory (configuration, SQLite database, master cache, journals,
    /// logs; the service's working directory).
    pub data_dir: String,
    /// The command that grants the account modify rights on the data directory (run at install).
    pub grant: Vec<String>,
}

/// What `aegis service install` on Windows is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsInputs {
    /// The aegis executable (absolute).
    pub executable: String,
    /// `%ProgramData%`.
    pub program_data: Option<String>,
    /// `--config` (absolute), else `aegis.toml` in the data directory.
    pub config: Option<String>,
    /// `--env-file` (absolute), else `aegis.env` in the data directory.
    pub env_file: Option<String>,
    /// `--account`, else the virtual account `NT SERVICE\aegis`.
    pub account: Option<String>,
    /// `--manual`: start only by hand.
    pub manual: bool,
}

/// A value that would make an unsafe or unparseable service command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot go into the service command line: {value:?} ({why})")]
pub struct PlanError {
    /// Which value.
    pub what: &'static str,
    /// The value.
    pub value: String,
    /// Why.
    pub why: &'static str,
}

fn win_path(what: &'static str, value: &str) -> Result<String, PlanError> {
    let err = |why| PlanError { what, value: value.to_owned(), why };
    if value.is_empty() {
        return Err(err("empty"));
    }
    if value.contains(['"', '\n', '\r', '\0']) {
        return Err(err("quotes and line breaks are not allowed"));
    }
    let bytes = value.as_bytes();
    let drive = bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'\\';
    if !drive && !value.starts_with(r"\\") {
        return Err(err(r"not an absolute Windows path (C:\… or \\server\…)"));
    }
    Ok(value.trim_end_matches('\\').to_owned())
}

/// Returns the install plan for these inputs.
///
/// # Errors
/// Returns [`PlanError`] for a path that is not absolute or holds quotes or line breaks.
pub fn windows_plan(inputs: &WindowsInputs) -> Result<WindowsPlan, PlanError> {
    let program_data = win_path(
        "%ProgramData%",
        inputs.program_data.as_deref().filter(|p| !p.is_empty()).unwrap_or(DEFAULT_PROGRAM_DATA),
    )?;
    let data_dir = format!(r"{program_data}\{SERVICE_NAME}");
    let executable = win_path("the executable path", &inputs.executable)?;
    let config = match &inputs.config {
        Some(c) => win_path("the configuration path", c)?,
        None => format!(r"{data_dir}\aegis.toml"),
    };
    let env_file = match &inputs.env_file {
        Some(e) => win_path("the .env path", e)?,
        None => format!(r"{data_dir}\aegis.env"),
    };
    let account = inputs.account.clone().unwrap_or_else(|| format!(r"NT SERVICE\{SERVICE_NAME}"));
    if account.is_empty() || account.contains(['"', ':', '\n', '\r', '\0']) {
        return Err(PlanError { what: "the account", value: account, why: "not an account name" });
    }
    let arguments = vec![
        "--config".into(),
        config,
        "--env-file".into(),
        env_file,
        "run".into(),
        "--service".into(),
        "--data-dir".into(),
        data_dir.clone(),
    ];
    let grant = vec![
        "icacls".into(),
        data_dir.clone(),
        "/grant".into(),
        format!("{account}:(OI)(CI)M"),
        "/T".into(),
        "/Q".into(),
    ];
    Ok(WindowsPlan {
        name: SERVICE_NAME.into(),
        display_name: DISPLAY_NAME.into(),
        description: DESCRIPTION.into(),
        executable,
        arguments,
        account,
        start: if inputs.manual { StartMode::Manual } else { StartMode::AutoDelayed },
        recovery: Recovery {
            restart_after: vec![Duration::from_secs(10), Duration::from_secs(60), Duration::from_secs(300)],
            reset_after: Duration::from_secs(24 * 3600),
            on_non_crash_failures: true,
        },
        data_dir,
        grant,
    })
}

/// Quotes one argument the way the Windows command line (and the service control manager's
/// `ImagePath`) reads it: in double quotes when it holds a space or a tab. Arguments never hold a
/// quote ([`windows_plan`] refuses them), so no escaping is needed.
fn quoted(arg: &str) -> String {
    if arg.contains([' ', '\t']) { format!("\"{arg}\"") } else { arg.to_owned() }
}

impl WindowsPlan {
    /// The command line the service control manager runs (its `ImagePath`).
    pub fn command_line(&self) -> String {
        std::iter::once(self.executable.as_str())
            .chain(self.arguments.iter().map(String::as_str))
            .map(quoted)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for WindowsPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |d: &Duration| format!("{} s", d.as_secs());
        writeln!(f, "Windows service   {}  ({})", self.name, self.display_name)?;
        writeln!(f, "command line      {}", self.command_line())?;
        writeln!(f, "account           {}", self.account)?;
        let start = match self.start {
            StartMode::AutoDelayed => "automatic (delayed start)",
            StartMode::Manual => "manual",
        };
        writeln!(f, "start             {start}")?;
        writeln!(
            f,
            "recovery          restart after {}; failure count reset after {} h; also on a non-zero exit: {}",
            self.recovery.restart_after.iter().map(secs).collect::<Vec<_>>().join(", then "),
            self.recovery.reset_after.as_secs() / 3600,
            if self.recovery.on_non_crash_failures { "yes" } else { "no" },
        )?;
        writeln!(
            f,
            "data directory    {}  (working directory; logs in {}\\logs)",
            self.data_dir, self.data_dir
        )?;
        writeln!(
            f,
            "grant             {}",
            self.grant.iter().map(|a| quoted(a)).collect::<Vec<_>>().join(" ")
        )?;
        writeln!(f, "description       {}", self.description)
    }
}

/// A phase of the service's life, as reported to the service control manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Registered its control handler; starting the daemon.
    Starting,
    /// The daemon runs.
    Running,
    /// A stop or shutdown arrived; the daemon stops gracefully.
    Stopping,
    /// The daemon returned this exit code.
    Stopped(i32),
}

/// The service state reported for a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportedState {
    /// `SERVICE_START_PENDING`.
    StartPending,
    /// `SERVICE_RUNNING`.
    Running,
    /// `SERVICE_STOP_PENDING`.
    StopPending,
    /// `SERVICE_STOPPED`.
    Stopped,
}

/// The exit code reported with a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportedExit {
    /// `NO_ERROR`.
    Ok,
    /// `ERROR_SERVICE_SPECIFIC_ERROR` with aegis's own exit code (1 failure, 2 configuration):
    /// a failure, so the recovery actions run.
    ServiceSpecific(u32),
}

/// One `SetServiceStatus` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusReport {
    /// The state.
    pub state: ReportedState,
    /// Whether stop and shutdown controls are accepted.
    pub accepts_stop: bool,
    /// The exit code.
    pub exit: ReportedExit,
    /// How long the pending operation may take before the manager deems the service hung.
    pub wait_hint: Duration,
}

/// How long a start may take: configuration, migrations, the lease.
pub const START_WAIT: Duration = Duration::from_secs(120);

/// How long a stop may take: the running stage stops and records, the feed closes, the outbox
/// finishes (the systemd unit's `TimeoutStopSec`).
pub const STOP_WAIT: Duration = Duration::from_secs(60);

/// The status report of a phase.
pub fn report(phase: Phase) -> StatusReport {
    let (state, accepts_stop, exit, wait_hint) = match phase {
        Phase::Starting => (ReportedState::StartPending, false, ReportedExit::Ok, START_WAIT),
        Phase::Running => (ReportedState::Running, true, ReportedExit::Ok, Duration::ZERO),
        Phase::Stopping => (ReportedState::StopPending, false, ReportedExit::Ok, STOP_WAIT),
        Phase::Stopped(0) => (ReportedState::Stopped, false, ReportedExit::Ok, Duration::ZERO),
        Phase::Stopped(code) => (
            ReportedState::Stopped,
            false,
            ReportedExit::ServiceSpecific(u32::try_from(code).unwrap_or(1).max(1)),
            Duration::ZERO,
        ),
    };
    StatusReport { state, accepts_stop, exit, wait_hint }
}

/// A control from the service control manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stop (`sc stop`, the Services console).
    Stop,
    /// System shutdown.
    Shutdown,
    /// Status query.
    Interrogate,
    /// Anything else (pause, parameter change, …).
    Other,
}

/// What the control handler does with a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlAction {
    /// Cancel the daemon (graceful, as SIGTERM on Linux) and report [`Phase::Stopping`].
    Stop,
    /// Nothing to do; answer "no error".
    Acknowledge,
    /// Answer "not implemented".
    Refuse,
}

/// The handler's decision for a control.
pub fn on_control(control: Control) -> ControlAction {
    match control {
        Control::Stop | Control::Shutdown => ControlAction::Stop,
        Control::Interrogate => ControlAction::Acknowledge,
        Control::Other => ControlAction::Refuse,
    }
}

/// The daemon the service runs: returns the process exit code once `cancel` fired and the daemon
/// stopped.
pub type ServiceBody = Box<dyn Fn(CancellationToken) -> i32 + Send + Sync>;

/// The log directory of the service: `LOG_DIR` when set, else `logs` in the data directory (a
/// service has no console to log to).
pub fn service_log_dir(log_dir: Option<PathBuf>, data_dir: &std::path::Path) -> PathBuf {
    log_dir.unwrap_or_else(|| data_dir.join("logs"))
}

/// Returns the body `aegis run --service` hands to the service dispatcher: it makes the data
/// directory the working directory (a service starts in the system directory, and relative
/// paths of the configuration — the SQLite file, `schedules/` — mean the data directory), loads
/// the configuration, logs to files, and runs the daemon on `runtime` until `cancel` fires.
pub fn service_body(
    sources: Sources,
    args: Box<super::run_cmd::RunArgs>,
    runtime: tokio::runtime::Handle,
) -> ServiceBody {
    let args = std::sync::Mutex::new(Some(args));
    Box::new(move |cancel| {
        let Some(mut args) = args.lock().ok().and_then(|mut a| a.take()) else {
            return 1;
        };
        if let Err(e) = std::env::set_current_dir(&args.data_dir) {
            eprintln!("error: cannot enter the data directory {}: {e}", args.data_dir.display());
            return 1;
        }
        args.data_dir = PathBuf::from(".");
        let sources = sources.clone();
        runtime.block_on(async move {
            let log_dir = |dir| Some(service_log_dir(dir, std::path::Path::new(".")));
            super::with_config_logging_to(&sources, log_dir, |loaded| async move {
                super::run_cmd::run_until(&loaded, *args, cancel).await
            })
            .await
        })
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn inputs() -> WindowsInputs {
        WindowsInputs {
            executable: r"C:\Program Files\aegis\aegis.exe".into(),
            program_data: Some(r"C:\ProgramData".into()),
            config: None,
            env_file: None,
            account: None,
            manual: false,
        }
    }

    #[test]
    fn the_registered_command_line_is_one_aegis_accepts() {
        let plan = windows_plan(&inputs()).unwrap();
        let argv = std::iter::once(plan.executable.clone()).chain(plan.arguments.clone());
        let cli = Cli::try_parse_from(argv).expect("aegis parses the service command line");
        assert_eq!(cli.config.as_deref(), Some(std::path::Path::new(r"C:\ProgramData\aegis\aegis.toml")));
        assert_eq!(cli.env_file.as_deref(), Some(std::path::Path::new(r"C:\ProgramData\aegis\aegis.env")));
        let Command::Run(run) = cli.command else { panic!("not `aegis run`") };
        assert!(run.service, "the service entry point");
        assert_eq!(run.data_dir, PathBuf::from(r"C:\ProgramData\aegis"));
        assert_eq!(
            plan.command_line(),
            r#""C:\Program Files\aegis\aegis.exe" --config C:\ProgramData\aegis\aegis.toml --env-file C:\ProgramData\aegis\aegis.env run --service --data-dir C:\ProgramData\aegis"#
        );
    }

    #[test]
    fn the_plan_runs_as_a_virtual_account_restarts_on_failure_and_grants_the_data_dir() {
        let plan = windows_plan(&inputs()).unwrap();
        assert_eq!(plan.name, "aegis");
        assert_eq!(plan.account, r"NT SERVICE\aegis");
        assert_eq!(plan.start, StartMode::AutoDelayed);
        assert_eq!(plan.recovery.restart_after.len(), 3);
        assert!(plan.recovery.on_non_crash_failures, "a non-zero exit restarts too");
        assert_eq!(
            plan.grant,
            ["icacls", r"C:\ProgramData\aegis", "/grant", r"NT SERVICE\aegis:(OI)(CI)M", "/T", "/Q"]
        );
        let shown = plan.to_string();
        for line in [
            "command line",
            "account",
            "recovery          restart after 10 s, then 60 s, then 300 s",
            "grant",
        ] {
            assert!(shown.contains(line), "{line} missing in\n{shown}");
        }
    }

    #[test]
    fn options_change_the_plan_and_unsafe_values_are_refused() {
        let mut i = inputs();
        i.config = Some(r"D:\trading\aegis.toml".into());
        i.account = Some(r".\trader".into());
        i.manual = true;
        i.program_data = None;
        let plan = windows_plan(&i).unwrap();
        assert_eq!(plan.arguments[1], r"D:\trading\aegis.toml");
        assert_eq!(plan.data_dir, r"C:\ProgramData\aegis");
        assert_eq!(plan.start, StartMode::Manual);
        assert_eq!(plan.account, r".\trader");
        let cli =
            Cli::try_parse_from(std::iter::once(plan.executable.clone()).chain(plan.arguments)).unwrap();
        assert!(matches!(cli.command, Command::Run(r) if r.service));

        for (field, bad) in [
            ("config", "aegis.toml"),
            ("config", r#"C:\a"b\aegis.toml"#),
            ("exe", "/usr/bin/aegis"),
            ("program_data", "ProgramData"),
        ] {
            let mut i = inputs();
            match field {
                "config" => i.config = Some(bad.into()),
                "exe" => i.executable = bad.into(),
                _ => i.program_data = Some(bad.into()),
            }
            assert!(windows_plan(&i).is_err(), "{field} = {bad:?} accepted");
        }
        let mut i = inputs();
        i.account = Some("evil\"".into());
        assert_eq!(windows_plan(&i).unwrap_err().what, "the account");
    }

    #[test]
    fn each_phase_reports_what_the_manager_expects() {
        assert_eq!(report(Phase::Starting).state, ReportedState::StartPending);
        assert!(!report(Phase::Starting).accepts_stop);
        assert_eq!(
            report(Phase::Running),
            StatusReport {
                state: ReportedState::Running,
                accepts_stop: true,
                exit: ReportedExit::Ok,
                wait_hint: Duration::ZERO
            }
        );
        assert_eq!(report(Phase::Stopping).wait_hint, STOP_WAIT);
        assert_eq!(report(Phase::Stopped(0)).exit, ReportedExit::Ok);
        assert_eq!(report(Phase::Stopped(2)).exit, ReportedExit::ServiceSpecific(2));
        assert_eq!(report(Phase::Stopped(-1)).exit, ReportedExit::ServiceSpecific(1));
        assert_eq!(on_control(Control::Stop), ControlAction::Stop);
        assert_eq!(on_control(Control::Shutdown), ControlAction::Stop);
        assert_eq!(on_control(Control::Interrogate), ControlAction::Acknowledge);
        assert_eq!(on_control(Control::Other), ControlAction::Refuse);
    }

    #[test]
    fn the_service_logs_under_its_data_directory_unless_log_dir_is_set() {
        let data = std::path::Path::new("/data");
        assert_eq!(service_log_dir(None, data), PathBuf::from("/data/logs"));
        assert_eq!(service_log_dir(Some("/var/log/x".into()), data), PathBuf::from("/var/log/x"));
    }
}
