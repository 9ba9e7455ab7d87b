//! `aegis service install|uninstall|status`: a systemd unit (Type=notify, watchdog) on Linux from
//! the template in `deploy/aegis.service`, a Windows service elsewhere (behind `cfg(windows)`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::config::Sources;

/// The unit template shipped with aegis.
pub const UNIT_TEMPLATE: &str = include_str!("../../deploy/aegis.service");

/// The service's name (systemd unit `aegis.service`, Windows service `aegis`).
pub const SERVICE_NAME: &str = "aegis";

const DEFAULT_UNIT_PATH: &str = "/etc/systemd/system/aegis.service";

/// `aegis service …`
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Install aegis as a system service running `aegis run`.
    Install(InstallArgs),
    /// Remove the installed service.
    Uninstall {
        /// Path of the systemd unit file (Linux).
        #[arg(long, default_value = DEFAULT_UNIT_PATH)]
        unit_path: PathBuf,
    },
    /// Show whether the service is installed and running.
    Status {
        /// Path of the systemd unit file (Linux).
        #[arg(long, default_value = DEFAULT_UNIT_PATH)]
        unit_path: PathBuf,
    },
}

/// `aegis service install` options.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Print the unit instead of writing it.
    #[arg(long)]
    pub dry_run: bool,
    /// The user the daemon runs as (default: the current user).
    #[arg(long)]
    pub user: Option<String>,
    /// Path of the systemd unit file (Linux).
    #[arg(long, default_value = DEFAULT_UNIT_PATH)]
    pub unit_path: PathBuf,
    /// systemd watchdog interval in seconds (the daemon pings at half of it).
    #[arg(long, default_value_t = 60)]
    pub watchdog_sec: u32,
}

/// Values substituted into the unit template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitValues {
    /// The aegis executable.
    pub exec: PathBuf,
    /// aegis.toml.
    pub config: PathBuf,
    /// The working directory.
    pub workdir: PathBuf,
    /// The .env file.
    pub env_file: PathBuf,
    /// The user.
    pub user: String,
    /// Watchdog seconds.
    pub watchdog_sec: u32,
}

/// A value that cannot go into a unit file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot be written into a unit file: {value:?}")]
pub struct UnitValueError {
    /// Which value.
    pub what: &'static str,
    /// The value.
    pub value: String,
}

fn unit_value(what: &'static str, value: &str, quote: bool) -> Result<String, UnitValueError> {
    if value.is_empty() || value.contains(['\n', '\r', '"', '\\', '%']) {
        return Err(UnitValueError { what, value: value.to_owned() });
    }
    Ok(if quote && value.contains(' ') { format!("\"{value}\"") } else { value.to_owned() })
}

/// Returns the unit file text for the values.
///
/// # Errors
/// Returns [`UnitValueError`] for a value with a line break, quote, backslash or `%` (systemd
/// specifiers), or an empty one.
pub fn render_unit(template: &str, v: &UnitValues) -> Result<String, UnitValueError> {
    let path = |what, p: &Path, quote| unit_value(what, &p.display().to_string(), quote);
    Ok(template
        .replace("{{EXEC}}", &path("the executable path", &v.exec, true)?)
        .replace("{{CONFIG}}", &path("the configuration path", &v.config, true)?)
        .replace("{{WORKDIR}}", &path("the working directory", &v.workdir, false)?)
        .replace("{{ENV_FILE}}", &path("the .env path", &v.env_file, false)?)
        .replace("{{USER}}", &unit_value("the user", &v.user, false)?)
        .replace("{{WATCHDOG_SEC}}", &v.watchdog_sec.to_string()))
}

fn absolute(p: &Path, base: &Path) -> PathBuf {
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

fn unit_values(sources: &Sources, args: &InstallArgs) -> Result<UnitValues, String> {
    let exec = std::env::current_exe().map_err(|e| format!("cannot find the aegis executable: {e}"))?;
    let workdir = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let config = absolute(sources.toml_path.as_deref().unwrap_or(Path::new("aegis.toml")), &workdir);
    let env_file = absolute(sources.env_file.as_deref().unwrap_or(Path::new(".env")), &workdir);
    let user = match &args.user {
        Some(u) => u.clone(),
        None => super::who::current_user().ok_or("cannot tell the current user; pass --user")?,
    };
    Ok(UnitValues { exec, config, workdir, env_file, user, watchdog_sec: args.watchdog_sec.max(2) })
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("error: {msg}");
    1
}

/// Runs a service command.
pub fn run(sources: &Sources, cmd: ServiceCommand) -> i32 {
    #[cfg(windows)]
    {
        windows::run(sources, cmd)
    }
    #[cfg(not(windows))]
    {
        systemd(sources, cmd)
    }
}

#[cfg(not(windows))]
fn systemctl(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("systemctl").args(args).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(not(windows))]
fn systemd(sources: &Sources, cmd: ServiceCommand) -> i32 {
    match cmd {
        ServiceCommand::Install(args) => {
            let values = match unit_values(sources, &args) {
                Ok(v) => v,
                Err(e) => return fail(e),
            };
            let unit = match render_unit(UNIT_TEMPLATE, &values) {
                Ok(u) => u,
                Err(e) => return fail(e),
            };
            if args.dry_run {
                print!("{unit}");
                return 0;
            }
            if let Err(e) = std::fs::write(&args.unit_path, unit) {
                return fail(format!(
                    "cannot write {}: {e} (run as root, or use --dry-run)",
                    args.unit_path.display()
                ));
            }
            println!("wrote {}", args.unit_path.display());
            println!("next: systemctl daemon-reload && systemctl enable --now {SERVICE_NAME}");
            0
        }
        ServiceCommand::Uninstall { unit_path } => {
            if !unit_path.exists() {
                return fail(format!("{} does not exist; nothing to uninstall", unit_path.display()));
            }
            if let Some(active) = systemctl(&["is-active", SERVICE_NAME])
                && active == "active"
            {
                return fail(format!(
                    "the service is running; stop it first: systemctl disable --now {SERVICE_NAME}"
                ));
            }
            if let Err(e) = std::fs::remove_file(&unit_path) {
                return fail(format!("cannot remove {}: {e}", unit_path.display()));
            }
            println!("removed {}; next: systemctl daemon-reload", unit_path.display());
            0
        }
        ServiceCommand::Status { unit_path } => {
            let installed = unit_path.exists();
            println!(
                "unit file: {} ({})",
                unit_path.display(),
                if installed { "installed" } else { "not installed" }
            );
            match (systemctl(&["is-enabled", SERVICE_NAME]), systemctl(&["is-active", SERVICE_NAME])) {
                (Some(enabled), Some(active)) => println!("enabled: {enabled}\nactive: {active}"),
                _ => println!("systemctl is not available"),
            }
            if installed { 0 } else { 1 }
        }
    }
}

#[cfg(windows)]
mod windows {
    //! Windows service install/uninstall/status through the service control manager.

    use std::ffi::OsString;

    use windows_service::service::{
        ServiceAccess, ServiceErrorControl, ServiceInfo, ServiceStartType, ServiceState, ServiceType,
    };
    use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

    use super::{SERVICE_NAME, ServiceCommand, Sources, fail};

    fn install(sources: &Sources) -> windows_service::Result<()> {
        let manager = ServiceManager::local_computer(
            None::<&str>,
            ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
        )?;
        let exe = std::env::current_exe().map_err(windows_service::Error::Winapi)?;
        let mut args: Vec<OsString> = vec!["run".into(), "--service".into()];
        if let Some(config) = &sources.toml_path {
            args.push("--config".into());
            args.push(std::path::absolute(config).map_err(windows_service::Error::Winapi)?.into_os_string());
        }
        let info = ServiceInfo {
            name: OsString::from(SERVICE_NAME),
            display_name: OsString::from("aegis trading daemon"),
            service_type: ServiceType::OWN_PROCESS,
            start_type: ServiceStartType::AutoStart,
            error_control: ServiceErrorControl::Normal,
            executable_path: exe,
            launch_arguments: args,
            dependencies: vec![],
            account_name: None,
            account_password: None,
        };
        let service = manager.create_service(&info, ServiceAccess::CHANGE_CONFIG)?;
        service.set_description("aegis: a crash-safe trading service for KIS accounts")?;
        Ok(())
    }

    fn uninstall() -> windows_service::Result<()> {
        let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)?;
        let access = ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE;
        let service = manager.open_service(SERVICE_NAME, access)?;
        if service.query_status()?.current_state != ServiceState::Stopped {
            service.stop()?;
        }
        service.delete()
    }

    fn status() -> windows_service::Result<ServiceState> {
        let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)?;
        let service = manager.open_service(SERVICE_NAME, ServiceAccess::QUERY_STATUS)?;
        Ok(service.query_status()?.current_state)
    }

    pub(super) fn run(sources: &Sources, cmd: ServiceCommand) -> i32 {
        match cmd {
            ServiceCommand::Install(args) if args.dry_run => {
                println!("would install the Windows service `{SERVICE_NAME}` running `aegis run --service`");
                0
            }
            ServiceCommand::Install(_) => match install(sources) {
                Ok(()) => {
                    println!(
                        "installed the Windows service `{SERVICE_NAME}`; start it with `sc start {SERVICE_NAME}`"
                    );
                    0
                }
                Err(e) => fail(format!("cannot install the service (run as Administrator): {e}")),
            },
            ServiceCommand::Uninstall { .. } => match uninstall() {
                Ok(()) => {
                    println!("removed the Windows service `{SERVICE_NAME}`");
                    0
                }
                Err(e) => fail(format!("cannot remove the service: {e}")),
            },
            ServiceCommand::Status { .. } => match status() {
                Ok(state) => {
                    println!("service `{SERVICE_NAME}`: {state:?}");
                    0
                }
                Err(e) => fail(format!("the service is not installed or not readable: {e}")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> UnitValues {
        UnitValues {
            exec: "/opt/aegis/bin/aegis".into(),
            config: "/srv/aegis/aegis.toml".into(),
            workdir: "/srv/aegis".into(),
            env_file: "/srv/aegis/.env".into(),
            user: "trader".into(),
            watchdog_sec: 60,
        }
    }

    #[test]
    fn unit_is_type_notify_with_watchdog_and_restart() {
        let unit = render_unit(UNIT_TEMPLATE, &values()).unwrap();
        for line in [
            "Type=notify",
            "WatchdogSec=60",
            "Restart=on-failure",
            "ExecStart=/opt/aegis/bin/aegis run --config /srv/aegis/aegis.toml",
            "EnvironmentFile=-/srv/aegis/.env",
            "User=trader",
            "WorkingDirectory=/srv/aegis",
        ] {
            assert!(unit.lines().any(|l| l == line), "missing `{line}` in\n{unit}");
        }
        assert!(!unit.contains("{{"), "{unit}");
    }

    #[test]
    fn unsafe_values_are_refused_and_spaces_quoted() {
        let mut v = values();
        v.user = "trader\nExecStartPre=/bin/evil".into();
        assert_eq!(render_unit(UNIT_TEMPLATE, &v).unwrap_err().what, "the user");
        let mut v = values();
        v.config = "/srv/my aegis/aegis.toml".into();
        let unit = render_unit(UNIT_TEMPLATE, &v).unwrap();
        assert!(unit.contains("run --config \"/srv/my aegis/aegis.toml\""), "{unit}");
        let mut v = values();
        v.exec = "/opt/%h/aegis".into();
        assert!(render_unit(UNIT_TEMPLATE, &v).is_err());
    }
}
