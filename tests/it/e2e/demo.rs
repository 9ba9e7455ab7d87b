//! `aegis demo` as a user runs it (a fresh directory, nothing configured), at a high speed.

use std::process::Stdio;
use std::time::Duration;

use aegis::store::testing::TempDir;

/// `aegis demo` in `dir` with `args` (4000× unless they set `--speed`), as a user runs it:
/// nothing configured (the environment's Slack and SMTP settings removed), output captured.
fn demo_command(dir: &TempDir, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_aegis"));
    cmd.args(["demo", "--no-progress"]);
    if !args.contains(&"--speed") {
        cmd.args(["--speed", "4000"]);
    }
    cmd.args(args)
        .current_dir(&dir.0)
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SLACK_") || k.starts_with("SMTP_")) {
        cmd.env_remove(k);
    }
    cmd
}

/// Runs the demo to its end (at most 150 s) and returns its standard output, failing the test
/// unless it exited 0.
async fn demo_succeeds(mut cmd: tokio::process::Command) -> String {
    let out =
        tokio::time::timeout(Duration::from_secs(150), cmd.output()).await.expect("demo timed out").unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{stderr}", out.status.code());
    stdout
}

#[tokio::test]
async fn demo_runs_a_whole_day_and_exits_zero() {
    let dir = TempDir::new("aegis-e2e-demo").unwrap();
    let mut cmd = demo_command(&dir, &["--symbols", "005930,247540"]);
    // A configuration made for LIVE (without its daily-loss limit) still runs the PAPER demo.
    cmd.env("MODE", "LIVE");
    let stdout = demo_succeeds(cmd).await;
    assert!(stdout.contains("aegis demo summary"), "{stdout}");
    assert!(stdout.contains("database and simulator agree"), "{stdout}");
    assert!(stdout.contains("journal -> SUCCEEDED") || stdout.contains("journal=SUCCEEDED"), "{stdout}");
}

/// `aegis demo --db postgres://…` plays the day on the production backend (it opened the URL as
/// an SQLite file name and failed before); a second demo on that database is refused, naming it
/// without its password.
#[tokio::test]
async fn demo_runs_on_postgres_given_its_url() {
    let Some(db) = aegis::store::testing::TestDb::new(aegis::store::testing::Backend::Postgres)
        .await
        .expect("postgres test db")
    else {
        eprintln!("skipped: AEGIS_TEST_PG_URL is not set");
        return;
    };
    let dir = TempDir::new("aegis-e2e-demo-pg").unwrap();
    let demo = || demo_command(&dir, &["--symbols", "005930,247540", "--db", &db.url]);
    let stdout = demo_succeeds(demo()).await;
    assert!(stdout.contains("database and simulator agree"), "{stdout}");
    use sea_orm::{EntityTrait, PaginatorTrait};
    let orders = entity::order::Entity::find().count(db.store.conn()).await.unwrap();
    assert!(orders > 0, "the orders are in PostgreSQL");

    let again = demo().output().await.unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&again.stdout), String::from_utf8_lossy(&again.stderr));
    assert!(!again.status.success(), "{text}");
    assert!(text.contains("already holds a pipeline run"), "{text}");
}

/// `aegis demo --market us` plays a US regular session (New York trade date) through the
/// overseas endpoints and channels, in USD, and exits 0 with the database and the simulator in
/// agreement; it traded (a US order was sent and filled). At 1000× (23 s): the US catalog moves a
/// cent at a time, and at 4000× on a loaded machine the simulated session could pass with too few
/// prints for a signal.
#[tokio::test]
async fn demo_runs_a_us_session_and_exits_zero() {
    let dir = TempDir::new("aegis-e2e-demo-us").unwrap();
    let stdout = demo_succeeds(demo_command(&dir, &["--market", "us", "--speed", "1000"])).await;
    assert!(stdout.contains("(US session, New York date)"), "{stdout}");
    assert!(stdout.contains("database and simulator agree"), "{stdout}");
    assert!(stdout.contains("journal=SUCCEEDED"), "{stdout}");
    assert!(stdout.contains(" USD"), "{stdout}");
    let fills = stdout
        .lines()
        .find_map(|l| l.strip_prefix("fills:").and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok()))
        .expect("a fills line");
    assert!(fills > 0, "the US session traded:\n{stdout}");
}
