//! The `aegis` binary end to end: `config check` exit codes and messages (ranges, value types,
//! risk limits), `aegis run` refusing to trade without them, `db migrate` / `db status`, and no
//! secret in any output or log file of a run with known secrets.

use crate::support::bin;
use crate::support::db::{self, TempDir};

const APP_KEY: &str = "PSabcdefghijklmnopqrstuvwxyz01234567";
const ACCOUNT: &str = "50123456-01";

fn app_secret() -> String {
    "s3CrEt".repeat(30)
}

/// No variable at all (but `PATH`).
const NO_ENV: [(&str, &str); 0] = [];

#[test]
fn config_check_with_empty_environment_lists_every_missing_key() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let out = bin::run_in(&dir.0, &["config", "check"], NO_ENV);
    let all = bin::text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    for key in ["KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ACCOUNT", "KIS_HTS_ID"] {
        assert!(all.contains(&format!("{key}: missing")), "{key} not listed:\n{all}");
    }
    assert!(!all.contains("panicked"), "{all}");
}

#[test]
fn config_check_with_valid_env_file_exits_zero() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let env = format!(
        "MODE=PAPER\nKIS_APP_KEY={APP_KEY}\nKIS_APP_SECRET={}\nKIS_ACCOUNT={ACCOUNT}\nKIS_HTS_ID=trader01\n",
        app_secret()
    );
    std::fs::write(dir.0.join(".env"), env).unwrap();
    let out = bin::run_in(&dir.0, &["config", "check"], NO_ENV);
    let all = bin::text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("configuration OK"), "{all}");
    assert!(all.contains("******5601"), "{all}");
}

/// A configuration file named on the command line that cannot be read stops every command that
/// touches the database: `db migrate` must not migrate the database of the other layers instead
/// of the one the operator's `--env-file` names.
#[test]
fn an_unreadable_env_file_stops_database_commands() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.0.join("other.db").display());
    let missing = dir.0.join("missing.env");
    for args in [&["db", "migrate"][..], &["db", "status"], &["status"]] {
        let mut argv = vec!["--env-file", missing.to_str().unwrap()];
        argv.extend_from_slice(args);
        let out = bin::run_in(&dir.0, &argv, [("DB_URL", url.as_str())]);
        let all = bin::text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        assert!(all.contains("missing.env"), "{args:?}: {all}");
    }
    assert!(!dir.0.join("other.db").exists(), "no database was created or migrated");
}

/// `config check` also reads the files of SCHEDULES_DIR: a malformed US holiday list is a
/// problem naming the file and its line (a missing one means the built-in list).
#[test]
fn config_check_reports_a_malformed_schedule_file() {
    let dir = TempDir::new("aegis-cli").unwrap();
    std::fs::create_dir_all(dir.0.join("schedules")).unwrap();
    let ok = bin::run_in(&dir.0, &["config", "check"], valid_env(&[]));
    assert_eq!(ok.status.code(), Some(0), "{}", bin::text(&ok));
    std::fs::write(
        dir.0.join("schedules/us_holidays.toml"),
        "covered_years = [2026]\n[[closed]]\ndate = \"2026-02-30\"\n",
    )
    .unwrap();
    let out = bin::run_in(&dir.0, &["config", "check"], valid_env(&[]));
    let all = bin::text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("SCHEDULES_DIR") && all.contains("us_holidays.toml"), "{all}");
}

#[test]
fn unknown_toml_key_and_bad_values_are_all_reported() {
    let dir = TempDir::new("aegis-cli").unwrap();
    std::fs::write(
        dir.0.join("aegis.toml"),
        format!("mode = \"PAPER\"\n[kis]\napp_key = \"{APP_KEY}\"\naccount = \"1234-56\"\nhts = \"x\"\n[slack]\nchannel_id = \"general\"\nbot_token = \"xoxb-123456\"\n"),
    )
    .unwrap();
    let out = bin::run_in(&dir.0, &["config", "check"], NO_ENV);
    let all = bin::text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("unknown key `[kis] hts`"), "{all}");
    assert!(all.contains("KIS_ACCOUNT: invalid account number"), "{all}");
    assert!(all.contains("SLACK_CHANNEL_ID"), "{all}");
    assert!(all.contains("KIS_APP_SECRET: missing"), "{all}");
    assert!(!all.contains(APP_KEY) && !all.contains("xoxb-123456"), "{all}");
}

#[test]
fn no_secret_reaches_output_or_log_files() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let logs = dir.0.join("logs");
    let secret = app_secret();
    let db = format!("sqlite://{}?mode=rwc", dir.0.join("a.db").display());
    let env = [
        ("KIS_APP_KEY", APP_KEY),
        ("KIS_APP_SECRET", secret.as_str()),
        ("KIS_ACCOUNT", ACCOUNT),
        ("KIS_HTS_ID", "trader01"),
        ("SLACK_BOT_TOKEN", "xoxb-0000-secret-token"),
        ("SLACK_CHANNEL_ID", "C0123456789"),
        ("LOG_LEVEL", "trace"),
        ("LOG_DIR", logs.to_str().unwrap()),
        ("DB_URL", db.as_str()),
    ];
    let mut captured = String::new();
    for args in [&["config", "check"][..], &["db", "migrate"], &["db", "status"]] {
        let out = bin::run_in(&dir.0, args, env);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", bin::text(&out));
        captured.push_str(&bin::text(&out));
    }
    for entry in std::fs::read_dir(&logs).unwrap() {
        captured.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert!(captured.len() > 100, "expected some output: {captured}");
    for s in [APP_KEY, secret.as_str(), "5012345601", "50123456", "xoxb-0000-secret-token"] {
        assert!(!captured.contains(s), "secret leaked into output or logs");
    }
}

#[test]
fn db_migrate_and_status_on_sqlite_and_postgres() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let mut urls = vec![format!("sqlite://{}?mode=rwc", dir.0.join("m.db").display())];
    let pg = tokio::runtime::Runtime::new().unwrap().block_on(db::postgres());
    if let Some(t) = &pg {
        urls.push(t.url.clone());
    }
    for url in urls {
        let env = [("DB_URL", url.as_str())];
        let out = bin::run_in(&dir.0, &["db", "migrate"], env);
        assert_eq!(out.status.code(), Some(0), "{}", bin::text(&out));
        let out = bin::run_in(&dir.0, &["db", "status"], env);
        let all = bin::text(&out);
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(all.contains("applied    m20261121_000001_create_core_tables"), "{all}");
        assert!(all.contains("0 pending"), "{all}");
    }
}

#[test]
fn bad_db_url_is_a_config_error() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let out = bin::run_in(&dir.0, &["db", "status"], [("DB_URL", "mysql://u:topsecretpw@h/db")]);
    let all = bin::text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(!all.contains("topsecretpw"), "{all}");
}

/// A valid PAPER configuration in the environment, plus `extra` (a later pair wins).
fn valid_env(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("MODE", "PAPER".to_owned()),
        ("KIS_APP_KEY", APP_KEY.to_owned()),
        ("KIS_APP_SECRET", app_secret()),
        ("KIS_ACCOUNT", ACCOUNT.to_owned()),
        ("KIS_HTS_ID", "trader01".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env
}

fn config_check(extra: &[(&'static str, &'static str)]) -> (Option<i32>, String, String) {
    let dir = TempDir::new("aegis-cli").unwrap();
    let out = bin::run_in(&dir.0, &["config", "check"], valid_env(extra));
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), bin::text(&out))
}

#[test]
fn config_check_shows_the_us_pipeline_and_its_limits() {
    let (code, _, all) = config_check(&[]);
    assert_eq!(code, Some(0), "{all}");
    assert!(all.contains("US pipeline        off"), "{all}");
    let (code, _, all) =
        config_check(&[("US_SYMBOLS", "AAPL:NASD,IBM:NYSE"), ("US_RISK_DAILY_LOSS_USD", "2500.50")]);
    assert_eq!(code, Some(0), "{all}");
    assert!(all.contains("US pipeline        AAPL:NASD, IBM:NYSE"), "{all}");
    assert!(all.contains("US_RISK_DAILY_LOSS_USD") && all.contains("2500.5 USD (kill switch"), "{all}");
    assert!(all.contains("RISK_DAILY_LOSS_KRW") && all.contains("US_RISK_MAX_ORDERS_PER_DAY"), "{all}");
    let (code, stderr, all) = config_check(&[("US_SYMBOLS", "AAPL:KRX")]);
    assert_eq!(code, Some(2), "{all}");
    assert!(stderr.contains("US_SYMBOLS"), "{all}");
}

/// A US stage asked for where aegis does not trade US stocks is refused with the reason, and a
/// stage that needs no broker runs on the US pipeline's own run of the New York date.
#[test]
fn a_us_stage_needs_us_symbols() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.0.join("aegis.db").display());
    let mut env = valid_env(&[]);
    env.push(("DB_URL", url.clone()));
    let args = ["stage", "run", "config_check", "--date", "2026-12-07", "--market", "us"];
    let out = bin::run_in(&dir.0, &args, env.clone());
    let all = bin::text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("aegis does not trade US stocks here: set US_SYMBOLS"), "{all}");
    env.push(("US_SYMBOLS", "AAPL:NASD".to_owned()));
    let out = bin::run_in(&dir.0, &args, env.clone());
    let all = bin::text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("2026-12-07: completed through config_check"), "{all}");
    let status = bin::run_in(&dir.0, &["status", "--date", "2026-12-07", "--market", "us"], env.clone());
    let text = bin::text(&status);
    assert!(text.contains("US pipeline run 2026-12-07: RUNNING"), "{text}");
    let krx = bin::run_in(&dir.0, &["status", "--date", "2026-12-07"], env);
    assert!(
        bin::text(&krx).contains("no pipeline run for 2026-12-07"),
        "the KRX run is another: {}",
        bin::text(&krx)
    );
}

#[test]
fn config_check_reports_a_malformed_risk_limit() {
    let (code, stderr, all) = config_check(&[("RISK_DAILY_LOSS_KRW", "abc")]);
    assert_eq!(code, Some(2), "{all}");
    assert!(stderr.contains("RISK_DAILY_LOSS_KRW: `abc` is not a number"), "{all}");
}

#[test]
fn config_check_reports_an_out_of_range_token_lead() {
    for lead in ["2000", "99999999999999"] {
        let (code, stderr, all) = config_check(&[("KIS_TOKEN_REFRESH_AHEAD_MINS", lead)]);
        assert_eq!(code, Some(2), "{lead}: {all}");
        let expected = format!("KIS_TOKEN_REFRESH_AHEAD_MINS: {lead} is out of range (0..=720 minutes)");
        assert!(stderr.contains(&expected), "{all}");
    }
}

#[test]
fn config_check_refuses_live_without_a_daily_loss_limit() {
    let (code, stderr, all) = config_check(&[("MODE", "LIVE")]);
    assert_eq!(code, Some(2), "{all}");
    assert!(
        stderr.contains(
            "RISK_DAILY_LOSS_KRW: MODE=LIVE requires a daily loss limit (the kill switch); set RISK_DAILY_LOSS_KRW"
        ),
        "{all}"
    );
    let (code, _, all) = config_check(&[("MODE", "LIVE"), ("RISK_DAILY_LOSS_KRW", "500000")]);
    assert_eq!(code, Some(0), "{all}");
}

#[test]
fn config_check_prints_valid_risk_limits() {
    let (code, _, all) = config_check(&[
        ("RISK_DAILY_LOSS_KRW", "300000"),
        ("RISK_DAILY_LOSS_INCLUDE_UNREALIZED", "false"),
        ("RISK_MAX_ORDER_VALUE_KRW", "1000000"),
        ("RISK_MAX_POSITION_VALUE_KRW", "5000000"),
        ("RISK_MAX_GROSS_EXPOSURE_KRW", "20000000"),
        ("RISK_MAX_OPEN_POSITIONS", "5"),
        ("RISK_MAX_ORDERS_PER_DAY", "50"),
    ]);
    assert_eq!(code, Some(0), "{all}");
    for line in [
        "RISK_DAILY_LOSS_KRW          300000 KRW (kill switch",
        "realized P&L only",
        "RISK_MAX_ORDER_VALUE_KRW     1000000 KRW",
        "RISK_MAX_POSITION_VALUE_KRW  5000000 KRW",
        "RISK_MAX_GROSS_EXPOSURE_KRW  20000000 KRW",
        "RISK_MAX_OPEN_POSITIONS      5",
        "RISK_MAX_ORDERS_PER_DAY      50",
    ] {
        assert!(all.contains(line), "{line} not printed:\n{all}");
    }
    // Unset limits are shown as off; the orders-per-day cap has its default.
    let (code, _, all) = config_check(&[]);
    assert_eq!(code, Some(0), "{all}");
    assert!(all.contains("RISK_DAILY_LOSS_KRW          off"), "{all}");
    assert!(all.contains("RISK_MAX_ORDERS_PER_DAY      200"), "{all}");
}

#[test]
fn toml_value_of_the_wrong_type_is_reported_although_the_environment_overrides_it() {
    let dir = TempDir::new("aegis-cli").unwrap();
    std::fs::write(dir.0.join("aegis.toml"), "[kis]\napp_key = 5\n[risk]\nmax_open_positions = 2.5\n")
        .unwrap();
    let out = bin::run_in(&dir.0, &["config", "check"], valid_env(&[]));
    let all = bin::text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("KIS_APP_KEY: expected text (a quoted string), got an integer"), "{all}");
    assert!(all.contains("[kis] app_key") && all.contains("aegis.toml"), "{all}");
    assert!(all.contains("RISK_MAX_OPEN_POSITIONS: expected a whole number"), "{all}");
    assert!(!all.contains(APP_KEY), "{all}");
}

#[test]
fn run_refuses_to_trade_without_the_risk_limits() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.0.join("r.db").display());
    for (mode, loss, expected) in [
        ("LIVE", "", "RISK_DAILY_LOSS_KRW: MODE=LIVE requires a daily loss limit"),
        ("PAPER", "-1", "RISK_DAILY_LOSS_KRW: -1 is out of range"),
    ] {
        let mut env = valid_env(&[("MODE", mode), ("RISK_DAILY_LOSS_KRW", loss)]);
        env.push(("DB_URL", db.clone()));
        // The daemon, and a stage run by hand (which trades the same way), both refuse.
        for args in [&["run"][..], &["stage", "run", "intraday", "--date", "2026-11-23"]] {
            let out = bin::run_in(&dir.0, args, env.clone());
            let all = bin::text(&out);
            assert_eq!(out.status.code(), Some(2), "{mode} {args:?}: {all}");
            assert!(all.contains("refusing to trade") && all.contains(expected), "{mode} {args:?}: {all}");
        }
    }
}

/// `aegis service install --dry-run` writes the hardened unit for the dedicated `aegis` user
/// whoever runs it (root through `sudo -i`, cron or a container, with no `$USER`), refuses root
/// and the paths the unit hides from the daemon, and `aegis run --service` is refused off
/// Windows with a clear error.
#[cfg(target_os = "linux")]
#[test]
fn service_install_writes_the_hardened_unit_and_refuses_what_would_not_run() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let unit = |extra: &[&str]| {
        let mut args = vec!["service", "install", "--dry-run", "--exec", "/usr/bin/aegis"];
        args.extend_from_slice(extra);
        bin::run_in(&dir.0, &args, NO_ENV)
    };
    let out = unit(&[]);
    let all = bin::text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    for line in [
        "User=aegis\n",
        "ExecStart=/usr/bin/aegis --config /etc/aegis/aegis.toml run --data-dir /var/lib/aegis/data\n",
        "EnvironmentFile=-/etc/aegis/aegis.env\n",
        "ProtectSystem=strict\n",
    ] {
        assert!(all.contains(line), "{line} missing in {all}");
    }
    for (extra, expected) in [
        (&["--user", "root"][..], "never run the daemon as root"),
        (&["--config", "/home/trader/aegis.toml"], "the unit hides /home"),
    ] {
        let out = unit(extra);
        let all = bin::text(&out);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {all}");
        assert!(all.contains(expected), "{extra:?}: {all}");
    }
    let out = bin::run_in(&dir.0, &["run", "--service"], NO_ENV);
    let all = bin::text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("the Windows service entry point"), "{all}");
}

/// Read-only commands print their answer, not the migrator's: once the database is up to date no
/// migration line appears (the first command on a fresh file says what it applied).
#[test]
fn read_only_commands_print_no_migration_lines() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.0.join("aegis.db").display());
    let env = [("DB_URL", url.as_str())];
    let first = bin::text(&bin::run_in(&dir.0, &["status"], env));
    assert!(first.contains("applying pending database migrations"), "{first}");
    for args in [&["status"][..], &["history"], &["orders"], &["positions"], &["params", "list"]] {
        let out = bin::run_in(&dir.0, args, env);
        let all = bin::text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {all}");
        assert!(!all.to_lowercase().contains("migration"), "{args:?}: {all}");
        assert!(!all.contains(" INFO "), "{args:?}: {all}");
    }
}
