//! Tests of the stage port: the retry class and cause chain of [`StageError`], and typed outputs
//! through the runner on SQLite and PostgreSQL — a typed output is stored as JSON with its keys and
//! read back typed by a later stage; a stored output of another shape fails the reading stage with
//! a typed, non-retryable error instead of a panic; what a stage logs carries the runner's span.

use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::domain::calendar::KrxCalendar;
use crate::pipeline::runner::{RunOutcome, Runner};
use crate::pipeline::stages::{AccessTokenOutput, ConfigCheckOutput};
use crate::store::testing::TestDb;

#[test]
fn stage_errors_keep_their_cause_and_retry_class() {
    let corrupt = || StoreError::Corrupt { table: "orders", id: "7".into(), reason: "bad side".into() };
    let rejected = BrokerError::Rejected { msg_cd: "APBK0919".into(), msg1: "no cash".into() };
    let cases: Vec<(StageError, bool, &str)> = vec![
        (StageError::Retryable("connection reset".into()), true, "connection reset"),
        (StageError::Fatal("refused".into()), false, "refused"),
        (StageError::Timeout(Duration::from_secs(3)), true, "timed out after 3s"),
        (
            StageError::Broker { what: "account".into(), source: BrokerError::RateLimit },
            true,
            "account: rate limit exceeded",
        ),
        (
            StageError::Broker { what: "account".into(), source: rejected },
            false,
            "account: rejected APBK0919: no cash",
        ),
        (
            StageError::Store { what: "orders".into(), source: corrupt() },
            true,
            "orders: corrupt orders row 7: bad side",
        ),
        (
            StageError::Trading { what: "recovery".into(), source: TradingError::Store(corrupt()) },
            false,
            "recovery: corrupt orders row 7: bad side",
        ),
        (StageError::fatal("positions", corrupt()), false, "positions: corrupt orders row 7: bad side"),
        (StageError::retryable("journal", corrupt()), true, "journal: corrupt orders row 7: bad side"),
        (StageError::Cancelled, false, "interrupted by shutdown"),
    ];
    for (err, retryable, report) in cases {
        assert_eq!(err.is_retryable(), retryable, "{err:?}");
        assert_eq!(err.report(), report, "{err:?}");
    }
    let err = StageError::Store { what: "orders".into(), source: corrupt() };
    let cause = err.source().and_then(|s| s.downcast_ref::<StoreError>());
    assert!(matches!(cause, Some(StoreError::Corrupt { table: "orders", .. })), "{err:?}");
}

#[test]
fn the_report_names_each_cause_once() {
    let err = StageError::Trading {
        what: "recovery".into(),
        source: TradingError::Store(StoreError::db("disk full")),
    };
    let text = err.report();
    assert!(text.starts_with("recovery: database error: "), "{text}");
    assert_eq!(text.matches("disk full").count(), 1, "{text}");
}

/// `config_check` with a typed output.
struct TypedConfig;

impl Stage for TypedConfig {
    type Output = ConfigCheckOutput;

    fn name(&self) -> StageName {
        StageName::ConfigCheck
    }

    fn run<'a>(&'a self, _ctx: &'a mut StageContext) -> BoxFuture<'a, Result<ConfigCheckOutput, StageError>> {
        Box::pin(async {
            Ok(ConfigCheckOutput { mode: "Paper".into(), slack: true, smtp: false, ai: false })
        })
    }
}

/// `config_check` writing a row of another shape (as an incompatible version would have).
struct OldConfig;

impl Stage for OldConfig {
    type Output = Value;

    fn name(&self) -> StageName {
        StageName::ConfigCheck
    }

    fn run<'a>(&'a self, _ctx: &'a mut StageContext) -> BoxFuture<'a, Result<Value, StageError>> {
        Box::pin(async { Ok(json!({"mode": "Paper", "slack": "yes"})) })
    }
}

/// `access_token` reading `config_check`'s output typed.
#[derive(Default)]
struct Reader {
    seen: Mutex<Vec<ConfigCheckOutput>>,
}

impl Stage for Reader {
    type Output = AccessTokenOutput;

    fn name(&self) -> StageName {
        StageName::AccessToken
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<AccessTokenOutput, StageError>> {
        Box::pin(async move {
            let config = ctx
                .output::<ConfigCheckOutput>()?
                .ok_or_else(|| StageError::Fatal("config_check has no output".into()))?;
            let authenticated = config.slack;
            self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(config);
            let checked_at = Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap();
            Ok(AccessTokenOutput { authenticated, checked_at, issued_at: None, expires_at: None })
        })
    }
}

async fn stored_outputs(store: &Store, date: NaiveDate) -> Vec<(String, Option<Value>)> {
    let pipeline = store.pipeline();
    let run = pipeline.find_run(crate::domain::MarketRegion::Kr, date).await.unwrap().expect("run row");
    pipeline.attempts(run.id).await.unwrap().into_iter().map(|r| (r.stage, r.output)).collect()
}

async fn typed_outputs_through_the_runner_body(db: TestDb) {
    let calendar = Arc::new(KrxCalendar::builtin().unwrap());
    let reader = Arc::new(Reader::default());
    let runner = Runner::new(db.store.clone(), calendar.clone())
        .with_stage(Arc::new(TypedConfig))
        .with_stage(reader.clone());
    let date = NaiveDate::from_ymd_opt(2026, 3, 4).unwrap();
    let outcome = runner.run_until(date, StageName::AccessToken).await.unwrap();
    assert_eq!(outcome, RunOutcome::Completed { through: StageName::AccessToken });
    let rows = stored_outputs(&db.store, date).await;
    assert_eq!(
        rows[0],
        ("config_check".into(), Some(json!({"mode": "Paper", "slack": true, "smtp": false, "ai": false})))
    );
    assert_eq!(rows[1].0, "access_token");
    let token = decode_output::<AccessTokenOutput>(rows[1].1.as_ref().unwrap()).unwrap();
    assert!(token.authenticated);
    assert_eq!(reader.seen.lock().unwrap()[0].mode, "Paper");

    // A stored output of another shape: the reading stage fails once, with a typed error.
    let runner =
        Runner::new(db.store.clone(), calendar).with_stage(Arc::new(OldConfig)).with_stage(reader.clone());
    let date = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
    let outcome = runner.run_until(date, StageName::AccessToken).await.unwrap();
    let RunOutcome::Failed { stage: StageName::AccessToken, error } = outcome else { panic!("{outcome:?}") };
    assert!(
        error.starts_with("the stored output of stage config_check does not have the expected shape: "),
        "{error}"
    );
    assert!(error.contains("expected a boolean"), "{error}");
    let rows = stored_outputs(&db.store, date).await;
    assert_eq!(rows.iter().filter(|(s, _)| s == "access_token").count(), 1, "not retried");
    assert_eq!(reader.seen.lock().unwrap().len(), 1);
}

crate::storage_test!(typed_outputs_through_the_runner, typed_outputs_through_the_runner_body);

/// Captured log lines.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `config_check` logging one line from inside its run.
struct Logs;

impl Stage for Logs {
    type Output = Value;

    fn name(&self) -> StageName {
        StageName::ConfigCheck
    }

    fn run<'a>(&'a self, _ctx: &'a mut StageContext) -> BoxFuture<'a, Result<Value, StageError>> {
        Box::pin(async {
            tracing::info!("inside the stage");
            Ok(Value::Null)
        })
    }
}

#[tokio::test]
async fn the_runner_applies_the_stage_span() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let db = TestDb::new(crate::store::testing::Backend::Sqlite).await.unwrap().expect("sqlite");
    let runner =
        Runner::new(db.store.clone(), Arc::new(KrxCalendar::builtin().unwrap())).with_stage(Arc::new(Logs));
    let date = NaiveDate::from_ymd_opt(2026, 3, 4).unwrap();
    let outcome = runner.run_until(date, StageName::ConfigCheck).await.unwrap();
    assert_eq!(outcome, RunOutcome::Completed { through: StageName::ConfigCheck });
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let line = text.lines().find(|l| l.contains("inside the stage")).expect("the stage's line");
    assert!(
        line.contains(r#"stage{run_id=1 stage="config_check" trade_date=2026-03-04 attempt=1}"#),
        "{line}"
    );
}
