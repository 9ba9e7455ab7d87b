//! The `aegis` binary end to end: `config check` exit codes and messages, `db migrate` /
//! `db status`, and no secret in any output or log file of a run with known secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use aegis::store::testing::{TempDir, pg_admin_url};

const APP_KEY: &str = "PSabcdefghijklmnopqrstuvwxyz01234567";
const ACCOUNT: &str = "50123456-01";

fn app_secret() -> String {
    "s3CrEt".repeat(30)
}

fn aegis(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aegis"));
    cmd.current_dir(dir).args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run aegis")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn config_check_with_empty_environment_lists_every_missing_key() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let out = aegis(&dir.0, &["config", "check"], &[]);
    let all = text(&out);
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
    let out = aegis(&dir.0, &["config", "check"], &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("configuration OK"), "{all}");
    assert!(all.contains("******5601"), "{all}");
}

#[test]
fn unknown_toml_key_and_bad_values_are_all_reported() {
    let dir = TempDir::new("aegis-cli").unwrap();
    std::fs::write(
        dir.0.join("aegis.toml"),
        format!("mode = \"PAPER\"\n[kis]\napp_key = \"{APP_KEY}\"\naccount = \"1234-56\"\nhts = \"x\"\n[slack]\nchannel_id = \"general\"\nbot_token = \"xoxb-123456\"\n"),
    )
    .unwrap();
    let out = aegis(&dir.0, &["config", "check"], &[]);
    let all = text(&out);
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
        let out = aegis(&dir.0, args, &env);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        captured.push_str(&text(&out));
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
    let pg = pg_admin_url().map(|_| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(aegis::store::testing::TestDb::new(aegis::store::testing::Backend::Postgres))
            .unwrap()
            .unwrap()
    });
    if let Some(t) = &pg {
        urls.push(t.url.clone());
    }
    for url in urls {
        let env = [("DB_URL", url.as_str())];
        let out = aegis(&dir.0, &["db", "migrate"], &env);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let out = aegis(&dir.0, &["db", "status"], &env);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(all.contains("applied    m20261121_000001_create_core_tables"), "{all}");
        assert!(all.contains("0 pending"), "{all}");
    }
}

#[test]
fn bad_db_url_is_a_config_error() {
    let dir = TempDir::new("aegis-cli").unwrap();
    let out = aegis(&dir.0, &["db", "status"], &[("DB_URL", "mysql://u:topsecretpw@h/db")]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(!all.contains("topsecretpw"), "{all}");
}
