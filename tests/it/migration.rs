//! The upgrade to market-keyed pipeline runs (migration 8, `m20261221_000008_market_runs`) on
//! SQLite and PostgreSQL: a database at migration 7 with runs, attempts and a request goes up
//! keeping every row under its id as a KRX one, takes a US run of a KRX date beside it, keeps its
//! keys (unique runs and attempts, the attempts' foreign key) and its id sequences; it goes back
//! down and up again, and refuses to go down — changing nothing — while a US run has attempts.
//!
//! The rows of the old schema are written with raw SQL (the entities know only the new one). Both
//! backends take the same literals: a date as `YYYY-MM-DD`, a timestamp as RFC 3339 text (what
//! sqlx writes to SQLite's text columns; PostgreSQL parses it into `timestamptz`) and JSON as
//! text (SQLite's `json_text` column; PostgreSQL's `json` takes the untyped literal).

use ::migration::{Migrator, MigratorTrait};
use aegis::domain::MarketRegion;
use aegis::storage_test;
use aegis::store::testing::TestDb;
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait, QueryOrder, Statement,
};
use serde_json::{Value, json};

/// The migration under test.
const MARKET_RUNS: &str = "m20261221_000008_market_runs";

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
}

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap()
}

// --- raw SQL -------------------------------------------------------------------------------------

fn text(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_owned(), |s| format!("'{}'", s.replace('\'', "''")))
}

fn time(t: Option<DateTime<Utc>>) -> String {
    text(t.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, false)).as_deref())
}

fn json_text(v: Option<&Value>) -> String {
    text(v.map(Value::to_string).as_deref())
}

async fn exec(conn: &DatabaseConnection, sql: &str) -> Result<(), DbErr> {
    conn.execute_unprepared(sql).await.map(|_| ())
}

/// Runs an `INSERT … RETURNING id` (SQLite ≥ 3.35 and PostgreSQL) and returns the id.
async fn insert_returning_id(conn: &DatabaseConnection, sql: &str) -> Result<i64, DbErr> {
    let stmt = Statement::from_string(conn.get_database_backend(), format!("{sql} RETURNING id"));
    let row = conn.query_one_raw(stmt).await?.expect("RETURNING gives a row");
    row.try_get::<i64>("", "id")
}

/// The ids a query returns, in its order.
async fn ids(conn: &DatabaseConnection, sql: &str) -> Vec<i64> {
    let stmt = Statement::from_string(conn.get_database_backend(), sql.to_owned());
    let rows = conn.query_all_raw(stmt).await.unwrap();
    rows.iter().map(|r| r.try_get::<i64>("", "id").unwrap()).collect()
}

/// A run as the schema before migration 8 has it (no market).
async fn old_run(
    conn: &DatabaseConnection,
    date: NaiveDate,
    status: &str,
    reason: Option<&str>,
    started: DateTime<Utc>,
    finished: Option<DateTime<Utc>>,
) -> Result<i64, DbErr> {
    insert_returning_id(
        conn,
        &format!(
            "INSERT INTO pipeline_runs (trade_date, status, reason, started_at, finished_at) \
             VALUES ({}, {}, {}, {}, {})",
            text(Some(&date.to_string())),
            text(Some(status)),
            text(reason),
            time(Some(started)),
            time(finished),
        ),
    )
    .await
}

/// An attempt row, written with raw SQL (the same on every schema).
async fn raw_attempt(conn: &DatabaseConnection, a: &entity::stage_run::Model) -> Result<i64, DbErr> {
    insert_returning_id(
        conn,
        &format!(
            "INSERT INTO stage_runs (pipeline_run_id, stage, attempt, status, started_at, finished_at, \
             error, output, requested_by, created_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            a.pipeline_run_id,
            text(Some(&a.stage)),
            a.attempt,
            text(Some(&a.status)),
            time(a.started_at),
            time(a.finished_at),
            text(a.error.as_deref()),
            json_text(a.output.as_ref()),
            text(a.requested_by.as_deref()),
            time(Some(a.created_at)),
        ),
    )
    .await
}

fn attempt(run: i64, stage: &str, n: i32, status: &str, output: Option<Value>) -> entity::stage_run::Model {
    entity::stage_run::Model {
        id: 0,
        pipeline_run_id: run,
        stage: stage.to_owned(),
        attempt: n,
        status: status.to_owned(),
        started_at: Some(at(1, 0, n.unsigned_abs())),
        finished_at: (status != "RUNNING").then(|| at(1, 1, n.unsigned_abs())),
        error: (status == "FAILED").then(|| "broker said no: 'EGW00201'".to_owned()),
        output,
        requested_by: (n > 1).then(|| "ops@cli".to_owned()),
        created_at: at(1, 0, 0),
    }
}

// --- migrations ----------------------------------------------------------------------------------

fn names() -> Vec<String> {
    Migrator::migrations().iter().map(|m| m.name().to_owned()).collect()
}

/// Goes down to the schema before migration 8 (every later migration goes down too, however many
/// there are by now).
async fn down_before_market_runs(conn: &DatabaseConnection) -> Result<(), DbErr> {
    let names = names();
    let at = names.iter().position(|n| n == MARKET_RUNS).expect("the market runs migration");
    Migrator::down(conn, Some(u32::try_from(names.len() - at).unwrap())).await
}

async fn applied(conn: &DatabaseConnection) -> Vec<String> {
    Migrator::get_applied_migrations(conn).await.unwrap().iter().map(|m| m.name().to_owned()).collect()
}

/// Whether the schema is the one before migration 8: the migration is pending and neither table
/// has a market.
async fn assert_old_schema(conn: &DatabaseConnection) {
    assert!(!applied(conn).await.contains(&MARKET_RUNS.to_owned()), "migration 8 is rolled back");
    for table in ["pipeline_runs", "stage_requests"] {
        let read = exec(conn, &format!("SELECT market FROM {table}")).await;
        assert!(read.is_err(), "{table} has no market before migration 8");
    }
}

async fn assert_new_schema(conn: &DatabaseConnection) {
    assert_eq!(applied(conn).await, names(), "every migration is applied");
    for table in ["pipeline_runs", "stage_requests"] {
        exec(conn, &format!("SELECT market FROM {table}")).await.unwrap();
    }
    if conn.get_database_backend() == DatabaseBackend::Sqlite {
        // The rebuild left no table behind, its foreign keys hold, and the attempts' key names
        // the new runs table.
        let leftovers = "SELECT name AS id FROM sqlite_master WHERE name LIKE '%_old'";
        let stmt = Statement::from_string(DatabaseBackend::Sqlite, leftovers.to_owned());
        assert!(conn.query_all_raw(stmt).await.unwrap().is_empty(), "no *_old table is left");
        let check = Statement::from_string(DatabaseBackend::Sqlite, "PRAGMA foreign_key_check".to_owned());
        assert!(conn.query_all_raw(check).await.unwrap().is_empty(), "every foreign key holds");
        let fks =
            Statement::from_string(DatabaseBackend::Sqlite, "PRAGMA foreign_key_list(stage_runs)".to_owned());
        let parents: Vec<String> = conn
            .query_all_raw(fks)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String>("", "table").unwrap())
            .collect();
        assert_eq!(parents, ["pipeline_runs"], "stage_runs references the rebuilt pipeline_runs");
    }
}

/// Every run (as stored) and every attempt, by id.
async fn rows(
    conn: &DatabaseConnection,
) -> (Vec<entity::pipeline_run::Model>, Vec<entity::stage_run::Model>) {
    let runs = entity::pipeline_run::Entity::find()
        .order_by_asc(entity::pipeline_run::Column::Id)
        .all(conn)
        .await
        .unwrap();
    let attempts = entity::stage_run::Entity::find()
        .order_by_asc(entity::stage_run::Column::Id)
        .all(conn)
        .await
        .unwrap();
    (runs, attempts)
}

fn assert_unique_violation(res: Result<i64, DbErr>, what: &str) {
    let err = res.expect_err(what).to_string();
    assert!(err.to_lowercase().contains("unique"), "{what}: {err}");
}

fn assert_fk_violation(res: Result<i64, DbErr>, what: &str) {
    let err = res.expect_err(what).to_string();
    assert!(err.to_lowercase().contains("foreign key"), "{what}: {err}");
}

// --- the test ------------------------------------------------------------------------------------

async fn market_runs_upgrade_body(db: TestDb) {
    let conn = db.store.conn();
    let store = db.store.pipeline();
    let sqlite = conn.get_database_backend() == DatabaseBackend::Sqlite;
    if sqlite {
        // The test connections enforce foreign keys (sqlx turns them on), so the foreign key
        // checks below hold on SQLite as they do on PostgreSQL.
        let fk = Statement::from_string(DatabaseBackend::Sqlite, "PRAGMA foreign_keys".to_owned());
        let on = conn.query_one_raw(fk).await.unwrap().unwrap().try_get_by_index::<i32>(0).unwrap();
        assert_eq!(on, 1, "foreign keys are enforced");
    }

    // 1. The schema of migration 7, with two runs, their attempts and a request.
    down_before_market_runs(conn).await.unwrap();
    assert_old_schema(conn).await;
    let first = old_run(conn, day(1), "SUCCEEDED", None, at(1, 0, 0), Some(at(1, 7, 0))).await.unwrap();
    let second =
        old_run(conn, day(2), "FAILED", Some("close: 'broker down'"), at(2, 0, 0), None).await.unwrap();
    assert_unique_violation(
        old_run(conn, day(1), "RUNNING", None, at(1, 0, 0), None).await,
        "one run per date before migration 8",
    );
    let mut attempts = vec![
        attempt(
            first,
            "prepare",
            1,
            "SUCCEEDED",
            Some(json!({"symbols": ["005930", "000660"], "budget": "1000000.50"})),
        ),
        attempt(first, "close", 1, "FAILED", None),
        attempt(
            first,
            "close",
            2,
            "SUCCEEDED",
            Some(json!({"pnl": "-1200.5", "orders": 3, "note": "it's done"})),
        ),
        attempt(second, "prepare", 1, "RUNNING", None),
    ];
    for a in &mut attempts {
        a.id = raw_attempt(conn, a).await.unwrap();
    }
    // A run and an attempt that were deleted: their ids must not come back either.
    let gone_run = old_run(conn, day(3), "CANCELLED", None, at(3, 0, 0), None).await.unwrap();
    let gone_attempt = raw_attempt(conn, &attempt(gone_run, "prepare", 1, "FAILED", None)).await.unwrap();
    exec(conn, &format!("DELETE FROM stage_runs WHERE id = {gone_attempt}")).await.unwrap();
    exec(conn, &format!("DELETE FROM pipeline_runs WHERE id = {gone_run}")).await.unwrap();
    let request = insert_returning_id(
        conn,
        &format!(
            "INSERT INTO stage_requests (trade_date, stage, kind, requested_by, requested_at, status) \
             VALUES ('2026-12-02', 'close', 'RERUN', 'ops@cli', {}, 'PENDING')",
            time(Some(at(2, 9, 30))),
        ),
    )
    .await
    .unwrap();

    // 2. Up: every row is kept under its id, as a KRX one.
    Migrator::up(conn, None).await.unwrap();
    assert_new_schema(conn).await;
    let run = |id, date, status: &str, reason: Option<&str>, started, finished| entity::pipeline_run::Model {
        id,
        market: "KR".to_owned(),
        trade_date: date,
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        started_at: started,
        finished_at: finished,
    };
    let old_runs = vec![
        run(first, day(1), "SUCCEEDED", None, at(1, 0, 0), Some(at(1, 7, 0))),
        run(second, day(2), "FAILED", Some("close: 'broker down'"), at(2, 0, 0), None),
    ];
    assert_eq!(rows(conn).await, (old_runs.clone(), attempts.clone()), "every row kept, as KR");
    let req = store.request(request).await.unwrap().expect("the request");
    assert_eq!(
        (req.market.as_str(), req.trade_date, req.stage.as_str(), req.status.as_str()),
        ("KR", day(2), "close", "PENDING")
    );

    // A US run of a KRX date, under a new id past every old one (the deleted one too).
    let (us, created) =
        store.get_or_create_run(MarketRegion::Us, day(1), "RUNNING", None, at(1, 14, 0)).await.unwrap();
    assert!(created, "a US run of a KR date is a new run");
    assert_eq!((us.market.as_str(), us.trade_date, us.status.as_str()), ("US", day(1), "RUNNING"));
    assert!(us.id > gone_run, "the run ids go on past the old ones: {} after {gone_run}", us.id);
    let kr = store.find_run(MarketRegion::Kr, day(1)).await.unwrap().expect("the KR run");
    assert_eq!((kr.id, kr.status.as_str()), (first, "SUCCEEDED"));
    let (again, created) =
        store.get_or_create_run(MarketRegion::Us, day(1), "FAILED", None, at(1, 15, 0)).await.unwrap();
    assert!(!created, "the US run exists");
    assert_eq!((again.id, again.status.as_str()), (us.id, "RUNNING"));
    assert_unique_violation(
        insert_returning_id(
            conn,
            &format!(
                "INSERT INTO pipeline_runs (market, trade_date, status, started_at) VALUES ('KR', '2026-12-01', 'RUNNING', {})",
                time(Some(at(1, 0, 0))),
            ),
        )
        .await,
        "a second KR run of a date",
    );
    // Its attempts: new ids past every old one, the attempt key still unique, the foreign key on.
    let us_prepare = store.insert_attempt(us.id, "prepare", 1, None, at(1, 14, 1)).await.unwrap();
    let us_close =
        store.insert_attempt(us.id, "close", 1, Some("ops@cli".to_owned()), at(1, 14, 2)).await.unwrap();
    assert!(
        us_prepare.id > gone_attempt,
        "the attempt ids go on past the old ones: {} after {gone_attempt}",
        us_prepare.id
    );
    assert!(us_close.id > us_prepare.id);
    assert!(
        store.insert_attempt(us.id, "prepare", 1, None, at(1, 14, 3)).await.is_err(),
        "an attempt number is unique"
    );
    assert_fk_violation(
        raw_attempt(conn, &attempt(us.id + 1000, "prepare", 1, "PENDING", None)).await,
        "an attempt of no run",
    );
    let kr_attempt = store.insert_attempt(second, "prepare", 2, None, at(2, 1, 0)).await.unwrap();
    assert_eq!(
        store.attempts(second).await.unwrap().iter().map(|a| a.id).collect::<Vec<_>>(),
        [attempts[3].id, kr_attempt.id]
    );

    // 3. Down without the US run (its attempts first): the KRX rows stay under their ids and the
    // date alone is the key again.
    exec(conn, &format!("DELETE FROM stage_runs WHERE pipeline_run_id = {}", us.id)).await.unwrap();
    exec(conn, &format!("DELETE FROM pipeline_runs WHERE id = {}", us.id)).await.unwrap();
    down_before_market_runs(conn).await.unwrap();
    assert_old_schema(conn).await;
    assert_eq!(ids(conn, "SELECT id FROM pipeline_runs ORDER BY id").await, [first, second]);
    let mut old_attempts: Vec<i64> = attempts.iter().map(|a| a.id).collect();
    old_attempts.push(kr_attempt.id);
    assert_eq!(ids(conn, "SELECT id FROM stage_runs ORDER BY id").await, old_attempts);
    assert_eq!(ids(conn, "SELECT id FROM stage_requests").await, [request]);
    assert_unique_violation(
        old_run(conn, day(2), "RUNNING", None, at(2, 0, 0), None).await,
        "one run per date after going back",
    );
    let fourth = old_run(conn, day(4), "RUNNING", None, at(4, 0, 0), None).await.unwrap();
    assert!(fourth > us.id, "the run ids go on past the US run's after going back: {fourth} after {}", us.id);
    assert_fk_violation(
        raw_attempt(conn, &attempt(fourth + 1000, "prepare", 1, "PENDING", None)).await,
        "an attempt of no run, back at 7",
    );
    let back_attempt = raw_attempt(conn, &attempt(fourth, "prepare", 1, "PENDING", None)).await.unwrap();
    assert!(
        back_attempt > us_close.id,
        "the attempt ids go on past the US run's: {back_attempt} after {}",
        us_close.id
    );

    // And up again.
    Migrator::up(conn, None).await.unwrap();
    assert_new_schema(conn).await;
    let (runs, after) = rows(conn).await;
    assert_eq!(runs[..2], old_runs[..], "the old runs after a round trip");
    assert_eq!((runs[2].id, runs[2].market.as_str(), runs[2].trade_date), (fourth, "KR", day(4)));
    assert_eq!(after[..4], attempts[..], "the old attempts after a round trip");
    assert_eq!(after.iter().map(|a| a.id).skip(4).collect::<Vec<_>>(), [kr_attempt.id, back_attempt]);
    assert_eq!(store.request(request).await.unwrap().expect("the request").market, "KR");

    // 4. A US run with attempts: going down must fail, and change nothing.
    let (us, created) =
        store.get_or_create_run(MarketRegion::Us, day(2), "RUNNING", None, at(2, 14, 0)).await.unwrap();
    assert!(created && us.id > fourth, "a new US run past every old id: {}", us.id);
    let us_attempt = store.insert_attempt(us.id, "prepare", 1, None, at(2, 14, 1)).await.unwrap();
    let before = rows(conn).await;
    let err = down_before_market_runs(conn).await.expect_err("going down with a US run's attempts must fail");
    assert!(err.to_string().to_lowercase().contains("foreign key"), "fails on the foreign key: {err}");
    assert_new_schema(conn).await;
    assert_eq!(rows(conn).await, before, "the failed down changed no row");
    assert_eq!(store.find_run(MarketRegion::Us, day(2)).await.unwrap().map(|r| r.id), Some(us.id));
    assert_eq!(
        store.attempts(us.id).await.unwrap().iter().map(|a| a.id).collect::<Vec<_>>(),
        [us_attempt.id]
    );
    assert_eq!(store.request(request).await.unwrap().expect("the request").market, "KR");
    // Still the new keys: the runs of both markets of the 2nd, one of each.
    assert_eq!(store.find_run(MarketRegion::Kr, day(2)).await.unwrap().map(|r| r.id), Some(second));
    let next = store.insert_attempt(us.id, "close", 1, None, at(2, 14, 2)).await.unwrap();
    assert!(next.id > us_attempt.id);
}
storage_test!(market_runs_upgrade, market_runs_upgrade_body);
