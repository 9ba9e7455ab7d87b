//! `aegis service install|uninstall|status`: the hardened systemd unit of `deploy/aegis.service`
//! (Type=notify, watchdog fed by the daemon loop, a dedicated user, the file system read-only but
//! for its state and log directories) on Linux, and the Windows service of
//! [`super::windows_plan`] on Windows. `--dry-run` prints either one on any system.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use super::windows_plan::{WindowsInputs, WindowsPlan, windows_plan};
use crate::config::Sources;

/// The unit template shipped with aegis.
pub const UNIT_TEMPLATE: &str = include_str!("../../deploy/aegis.service");

/// The service's name (systemd unit `aegis.service`, Windows service `aegis`).
pub const SERVICE_NAME: &str = "aegis";

const DEFAULT_UNIT_PATH: &str = "/etc/systemd/system/aegis.service";

/// The configuration file of the installed service (the Debian package's layout).
pub const DEFAULT_CONFIG: &str = "/etc/aegis/aegis.toml";

/// The secrets file of the installed service, read by systemd (`EnvironmentFile=`), mode 0600.
pub const DEFAULT_ENV_FILE: &str = "/etc/aegis/aegis.env";

/// The dedicated user of the installed service.
pub const DEFAULT_USER: &str = "aegis";

/// The executable of the installed service on Windows when installing from another system.
const DEFAULT_WINDOWS_EXE: &str = r"C:\Program Files\aegis\aegis.exe";

/// `aegis service …`
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Install aegis as a system service running `aegis run` (systemd: a hardened unit for a
    /// dedicated user; Windows: `aegis run --service` under a virtual account).
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

/// The service manager an install is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Platform {
    /// A systemd unit (Linux).
    Systemd,
    /// A Windows service.
    Windows,
}

impl Platform {
    /// The service manager of this system.
    pub const fn native() -> Self {
        if cfg!(windows) { Self::Windows } else { Self::Systemd }
    }
}

/// `aegis service install` options.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Print the unit (or the Windows install plan) instead of installing it.
    #[arg(long)]
    pub dry_run: bool,
    /// The service manager (default: this system's); another system's only with --dry-run.
    #[arg(long, value_enum)]
    pub platform: Option<Platform>,
    /// The executable the service runs (default: this aegis).
    #[arg(long, value_name = "PATH")]
    pub exec: Option<PathBuf>,
    /// systemd: the dedicated user the daemon runs as (never root).
    #[arg(long, default_value = DEFAULT_USER)]
    pub user: String,
    /// systemd: path of the unit file written.
    #[arg(long, default_value = DEFAULT_UNIT_PATH)]
    pub unit_path: PathBuf,
    /// systemd: watchdog interval in seconds (the daemon loop pings at a quarter of it).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(2..=3600))]
    pub watchdog_sec: u32,
    /// Windows: the account the service runs as (default: the virtual account NT SERVICE\aegis).
    #[arg(long)]
    pub account: Option<String>,
    /// Windows: start the service only by hand (default: automatic, delayed start).
    #[arg(long)]
    pub manual: bool,
}

/// Values substituted into the unit template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitValues {
    /// The aegis executable.
    pub exec: PathBuf,
    /// aegis.toml.
    pub config: PathBuf,
    /// The secrets file (`EnvironmentFile=`).
    pub env_file: PathBuf,
    /// The user.
    pub user: String,
    /// Watchdog seconds.
    pub watchdog_sec: u32,
}

impl UnitValues {
    /// The values of the Debian package's unit (`deploy/debian/aegis.service`).
    #[cfg(test)]
    pub fn packaged() -> Self {
        Self {
            exec: "/usr/bin/aegis".into(),
            config: DEFAULT_CONFIG.into(),
            env_file: DEFAULT_ENV_FILE.into(),
            user: DEFAULT_USER.into(),
            watchdog_sec: 60,
        }
    }
}

/// A value that cannot go into a unit file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot be written into the unit: {value:?} ({why})")]
pub struct UnitValueError {
    /// Which value.
    pub what: &'static str,
    /// The value.
    pub value: String,
    /// Why.
    pub why: &'static str,
}

/// Directories the hardened unit hides from the daemon (`ProtectHome=yes`, `PrivateTmp=yes`): a
/// configuration or executable there would not be found when the service starts.
const HIDDEN: &[&str] = &["/home", "/root", "/run/user", "/tmp", "/var/tmp"];

fn unit_value(what: &'static str, value: &str, quote: bool) -> Result<String, UnitValueError> {
    let err = |why| UnitValueError { what, value: value.to_owned(), why };
    if value.is_empty() {
        return Err(err("empty"));
    }
    if value.contains(['\n', '\r', '"', '\\', '%']) {
        return Err(err("line breaks, quotes, backslashes and % are not allowed"));
    }
    Ok(if quote && value.contains(' ') { format!("\"{value}\"") } else { value.to_owned() })
}

fn unit_path(what: &'static str, p: &Path, quote: bool) -> Result<String, UnitValueError> {
    let text = p.display().to_string();
    if !p.is_absolute() {
        return Err(UnitValueError { what, value: text, why: "not an absolute path" });
    }
    if HIDDEN.iter().any(|h| p.starts_with(h)) {
        return Err(UnitValueError {
            what,
            value: text,
            why: "the unit hides /home, /root, /run/user and /tmp from the daemon (ProtectHome, PrivateTmp)",
        });
    }
    unit_value(what, &text, quote)
}

/// Returns the unit file text for the values.
///
/// # Errors
/// Returns [`UnitValueError`] for a relative path, a path the unit hides from the daemon (under
/// `/home`, `/root`, `/run/user`, `/tmp`), a value with a line break, quote, backslash or `%`
/// (systemd specifiers), an empty one, or the user `root`.
pub fn render_unit(template: &str, v: &UnitValues) -> Result<String, UnitValueError> {
    if v.user == "root" || v.user == "0" {
        return Err(UnitValueError {
            what: "the user",
            value: v.user.clone(),
            why: "never run the daemon as root",
        });
    }
    Ok(template
        .replace("{{EXEC}}", &unit_path("the executable path", &v.exec, true)?)
        .replace("{{CONFIG}}", &unit_path("the configuration path", &v.config, true)?)
        .replace("{{ENV_FILE}}", &unit_path("the .env path", &v.env_file, false)?)
        .replace("{{USER}}", &unit_value("the user", &v.user, false)?)
        .replace("{{WATCHDOG_SEC}}", &v.watchdog_sec.to_string()))
}

fn absolute(p: &Path) -> Result<PathBuf, String> {
    std::path::absolute(p).map_err(|e| format!("cannot make {} absolute: {e}", p.display()))
}

fn unit_values(sources: &Sources, args: &InstallArgs) -> Result<UnitValues, String> {
    let exec = match &args.exec {
        Some(p) => absolute(p)?,
        None => std::env::current_exe().map_err(|e| format!("cannot find the aegis executable: {e}"))?,
    };
    let config = absolute(sources.toml_path.as_deref().unwrap_or(Path::new(DEFAULT_CONFIG)))?;
    let env_file = absolute(sources.env_file.as_deref().unwrap_or(Path::new(DEFAULT_ENV_FILE)))?;
    Ok(UnitValues { exec, config, env_file, user: args.user.clone(), watchdog_sec: args.watchdog_sec })
}

fn windows_inputs(sources: &Sources, args: &InstallArgs) -> WindowsInputs {
    let text = |p: &Path| p.display().to_string();
    let native_exe = || std::env::current_exe().ok().filter(|_| cfg!(windows)).map(|p| text(&p));
    WindowsInputs {
        executable: args
            .exec
            .as_deref()
            .map(text)
            .or_else(native_exe)
            .unwrap_or_else(|| DEFAULT_WINDOWS_EXE.to_owned()),
        program_data: std::env::var("ProgramData").ok(),
        config: sources.toml_path.as_deref().map(text),
        env_file: sources.env_file.as_deref().map(text),
        account: args.account.clone(),
        manual: args.manual,
    }
}

/// Whether the user exists in `/etc/passwd`.
fn user_exists(user: &str) -> bool {
    std::fs::read_to_string("/etc/passwd").is_ok_and(|t| t.lines().any(|l| l.split(':').next() == Some(user)))
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("error: {msg}");
    1
}

/// Runs a service command.
pub fn run(sources: &Sources, cmd: ServiceCommand) -> i32 {
    match cmd {
        ServiceCommand::Install(args) => {
            let platform = args.platform.unwrap_or(Platform::native());
            if platform != Platform::native() && !args.dry_run {
                return fail(format!(
                    "a {platform:?} service installs on its own system; add --dry-run to print it here"
                ));
            }
            match platform {
                Platform::Systemd => install_systemd(sources, &args),
                Platform::Windows => match windows_plan(&windows_inputs(sources, &args)) {
                    Ok(plan) if args.dry_run => {
                        print!("{plan}");
                        0
                    }
                    Ok(plan) => install_windows(&plan),
                    Err(e) => fail(e),
                },
            }
        }
        #[cfg(windows)]
        ServiceCommand::Uninstall { .. } => match super::service_windows::uninstall() {
            Ok(()) => {
                println!("removed the Windows service `{SERVICE_NAME}` (its data directory stays)");
                0
            }
            Err(e) => fail(e),
        },
        #[cfg(windows)]
        ServiceCommand::Status { .. } => match super::service_windows::status() {
            Ok(state) => {
                println!("service `{SERVICE_NAME}`: {state}");
                0
            }
            Err(e) => fail(e),
        },
        #[cfg(not(windows))]
        ServiceCommand::Uninstall { unit_path } => uninstall_systemd(&unit_path),
        #[cfg(not(windows))]
        ServiceCommand::Status { unit_path } => status_systemd(&unit_path),
    }
}

#[cfg(windows)]
fn install_windows(plan: &WindowsPlan) -> i32 {
    match super::service_windows::install(plan) {
        Ok(()) => {
            println!("installed the Windows service `{SERVICE_NAME}`:");
            print!("{plan}");
            println!("next: put the configuration in {}, then `sc start {SERVICE_NAME}`", plan.data_dir);
            0
        }
        Err(e) => fail(e),
    }
}

#[cfg(not(windows))]
fn install_windows(_plan: &WindowsPlan) -> i32 {
    fail("a Windows service installs on Windows; add --dry-run to print its plan here")
}

fn install_systemd(sources: &Sources, args: &InstallArgs) -> i32 {
    let values = match unit_values(sources, args) {
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
    if !user_exists(&values.user) {
        println!(
            "next: create the user: useradd --system --home-dir /var/lib/aegis --no-create-home --shell /usr/sbin/nologin {}",
            values.user
        );
    }
    println!(
        "next: configuration in {} (secrets in {}, mode 0600), then: systemctl daemon-reload && systemctl enable --now {SERVICE_NAME}",
        values.config.display(),
        values.env_file.display()
    );
    0
}

#[cfg(not(windows))]
fn systemctl(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("systemctl").args(args).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(not(windows))]
fn uninstall_systemd(unit_path: &Path) -> i32 {
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
    if let Err(e) = std::fs::remove_file(unit_path) {
        return fail(format!("cannot remove {}: {e}", unit_path.display()));
    }
    println!("removed {}; next: systemctl daemon-reload", unit_path.display());
    0
}

#[cfg(not(windows))]
fn status_systemd(unit_path: &Path) -> i32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> UnitValues {
        UnitValues {
            exec: "/opt/aegis/bin/aegis".into(),
            config: "/srv/aegis/aegis.toml".into(),
            env_file: "/srv/aegis/aegis.env".into(),
            user: "trader".into(),
            watchdog_sec: 60,
        }
    }

    #[test]
    fn unit_is_hardened_type_notify_with_watchdog_and_restart() {
        let unit = render_unit(UNIT_TEMPLATE, &values()).unwrap();
        for line in [
            "Type=notify",
            "WatchdogSec=60",
            "Restart=on-failure",
            "ExecStart=/opt/aegis/bin/aegis --config /srv/aegis/aegis.toml run --data-dir /var/lib/aegis/data",
            "EnvironmentFile=-/srv/aegis/aegis.env",
            "User=trader",
            "WorkingDirectory=/var/lib/aegis",
            "StateDirectory=aegis",
            "LogsDirectory=aegis",
            "ConfigurationDirectory=aegis",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateDevices=yes",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
            "SystemCallFilter=@system-service",
            "CapabilityBoundingSet=",
            "UMask=0077",
            "NoNewPrivileges=yes",
        ] {
            assert!(unit.lines().any(|l| l == line), "missing `{line}` in\n{unit}");
        }
        assert!(!unit.contains("{{"), "{unit}");
    }

    #[test]
    fn the_packaged_unit_is_the_rendered_template() {
        let packaged = include_str!("../../deploy/debian/aegis.service");
        let rendered = render_unit(UNIT_TEMPLATE, &UnitValues::packaged()).unwrap();
        assert_eq!(
            packaged, rendered,
            "deploy/debian/aegis.service is out of date: aegis service install --dry-run --exec /usr/bin/aegis > deploy/debian/aegis.service"
        );
    }

    #[test]
    fn unsafe_or_hidden_values_are_refused_and_spaces_quoted() {
        let mut v = values();
        v.user = "trader\nExecStartPre=/bin/evil".into();
        assert_eq!(render_unit(UNIT_TEMPLATE, &v).unwrap_err().what, "the user");
        let mut v = values();
        v.user = "root".into();
        assert_eq!(render_unit(UNIT_TEMPLATE, &v).unwrap_err().what, "the user");
        let mut v = values();
        v.config = "/srv/my aegis/aegis.toml".into();
        let unit = render_unit(UNIT_TEMPLATE, &v).unwrap();
        assert!(unit.contains("--config \"/srv/my aegis/aegis.toml\" run"), "{unit}");
        let mut v = values();
        v.exec = "/opt/%h/aegis".into();
        assert!(render_unit(UNIT_TEMPLATE, &v).is_err());
        for hidden in ["/home/trader/aegis.toml", "/root/aegis.toml", "/tmp/aegis.toml", "aegis.toml"] {
            let mut v = values();
            v.config = hidden.into();
            let e = render_unit(UNIT_TEMPLATE, &v).unwrap_err();
            assert_eq!(e.what, "the configuration path", "{hidden}");
        }
    }

    #[test]
    fn the_windows_plan_prints_on_any_system_and_installs_only_on_windows() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "aegis",
            "service",
            "install",
            "--platform",
            "windows",
            "--dry-run",
            "--exec",
            r"D:\aegis\aegis.exe",
        ])
        .unwrap();
        let sources = cli.sources();
        let crate::cli::Command::Service(ServiceCommand::Install(args)) = cli.command else { panic!() };
        let plan = windows_plan(&windows_inputs(&sources, &args)).unwrap();
        assert_eq!(plan.executable, r"D:\aegis\aegis.exe");
        assert_eq!(plan.arguments[4..6], ["run", "--service"]);
        assert_eq!(run(&sources, ServiceCommand::Install(args)), 0);
        if !cfg!(windows) {
            let cli =
                crate::cli::Cli::try_parse_from(["aegis", "service", "install", "--platform", "windows"])
                    .unwrap();
            let sources = cli.sources();
            let crate::cli::Command::Service(cmd) = cli.command else { panic!() };
            assert_eq!(run(&sources, cmd), 1, "a Windows service installs on Windows only");
        }
    }
}
