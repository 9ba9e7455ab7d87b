//! The store under load (issue #20, "SQLite under load"): two pools on one database behave like
//! two processes sharing it. A read-then-write transaction waits for another writer instead of
//! failing with `database is locked` (SQLite codes 5 and 517); every pooled connection has the
//! busy timeout; a token issuance holds no database lock while it waits on the token endpoint; and
//! a busy database is a transient error that a stage retries.

use std::future::Future;
use std::time::Duration;

use aegis::domain::Symbol;
use aegis::domain::instrument::{InstrumentFlags, Market, MarketWarning, MasterRecord, SecurityGroup};
use aegis::pipeline::StageError;
use aegis::ports::{Secret, StoredToken, TokenKey, TokenStore};
use aegis::storage_test;
use aegis::store::outbox::OutboxChannel;
use aegis::store::params::{NewDraft, approve_draft, ensure_strategy, insert_draft, reject_draft};
use aegis::store::{Store, StoreError, instruments};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, EntityTrait, Set,
    Statement, TransactionTrait,
};
use serde_json::json;

use crate::support::db::{TestDb, sqlite};

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn record(code: &str) -> MasterRecord {
    MasterRecord {
        symbol: Symbol::new(code).unwrap(),
        isin: format!("KR7{code:0>6}003"),
        name: format!("종목{code}"),
        market: Market::Kospi,
        group: SecurityGroup::Stock,
        halted: false,
        admin_issue: false,
        warning: MarketWarning::None,
        base_price: Decimal::from(10_000),
        lot_size: 1,
        listed_on: None,
        prev_volume: 1000,
        flags: InstrumentFlags::default(),
        face_value: None,
        listed_shares: None,
        margin_rate_pct: None,
        prev_market_cap_eok: None,
    }
}

fn records(n: usize) -> Vec<MasterRecord> {
    (0..n).map(|i| record(&format!("{:06}", 100_000 + i))).collect()
}

/// One `audit_log` row: a write any process may make.
fn audit_row(action: &str) -> entity::audit_log::ActiveModel {
    entity::audit_log::ActiveModel {
        at: Set(Utc::now()),
        actor: Set("other-process".into()),
        action: Set(action.into()),
        target: Set("load-test".into()),
        details: Set(json!({})),
        ..Default::default()
    }
}

/// Another process (a second pool on the same database) inside a write transaction: it holds
/// SQLite's write lock until the returned transaction commits.
async fn writer_holding_the_lock(url: &str) -> (Store, DatabaseTransaction) {
    let other = Store::connect(url).await.unwrap();
    let txn = other.conn().begin().await.unwrap();
    audit_row("hold").insert(&txn).await.unwrap();
    (other, txn)
}

/// Runs `op` while another process holds the write lock for a moment: `op` must wait for it (not
/// fail at once) and succeed once the other process commits.
async fn waits_for_the_writer<T, F>(url: &str, what: &str, op: F) -> T
where
    T: Send + 'static,
    F: Future<Output = Result<T, String>> + Send + 'static,
{
    let (_other, txn) = writer_holding_the_lock(url).await;
    let task = tokio::spawn(op);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let early = task.is_finished();
    txn.commit().await.unwrap();
    let result = task.await.unwrap();
    assert!(!early, "{what} did not wait for the other writer: {:?}", result.as_ref().err());
    result.unwrap_or_else(|e| panic!("{what} failed instead of waiting for the other writer: {e}"))
}

/// The universe stage's upsert (read the active rows, then write) waits for a writer that holds
/// the lock; before `BEGIN IMMEDIATE` it failed at once with `(code: 5) database is locked`.
#[tokio::test]
async fn instrument_upsert_waits_for_another_writer() {
    let db = sqlite().await;
    let store = db.store.clone();
    let stats = waits_for_the_writer(&db.url, "upsert_instruments", async move {
        instruments::upsert_instruments(&store, &[Market::Kospi], &records(20), Utc::now())
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    assert_eq!(stats.upserted, 20);
}

/// Approving and rejecting a draft (read the draft, then write) wait for another writer.
#[tokio::test]
async fn draft_decisions_wait_for_another_writer() {
    let db = sqlite().await;
    let now = Utc::now();
    let sid = ensure_strategy(&db.store, "mean-revert", "load test", now).await.unwrap();
    let draft = |rationale: &str| NewDraft {
        strategy_id: sid,
        trade_date: day(),
        params: json!({"entry_pct": 2.0}),
        source: "RULE".into(),
        rationale: rationale.into(),
        rejected: None,
        created_at: now,
    };
    let a = insert_draft(&db.store, draft("a")).await.unwrap().id;
    let b = insert_draft(&db.store, draft("b")).await.unwrap().id;
    let store = db.store.clone();
    let approved = waits_for_the_writer(&db.url, "approve_draft", async move {
        approve_draft(&store, a, "carol", Utc::now(), |_| Ok(())).await.map_err(|e| e.to_string())
    })
    .await;
    assert_eq!(approved.draft.id, a);
    let store = db.store.clone();
    let rejected = waits_for_the_writer(&db.url, "reject_draft", async move {
        reject_draft(&store, b, "carol", "no", Utc::now()).await.map_err(|e| e.to_string())
    })
    .await;
    assert_eq!(rejected.id, b);
}

/// `aegis demo` with Slack and email: the outbox worker writes all the time while the universe
/// stage upserts. No upsert may fail with `database is locked` (code 5, or 517 when another
/// process commits between the upsert's read and its write).
#[tokio::test]
async fn instrument_upserts_succeed_while_another_process_keeps_writing() {
    let db = sqlite().await;
    let other = Store::connect(&db.url).await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let writer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let outbox = other.outbox();
            let mut written = 0_u32;
            while !stop.is_cancelled() {
                outbox
                    .enqueue(OutboxChannel::Slack, "load", json!({"n": written}), Utc::now())
                    .await
                    .unwrap();
                written += 1;
                tokio::task::yield_now().await;
            }
            written
        })
    };
    let mut failures = Vec::new();
    for round in 0..40 {
        let markets = &[Market::Kospi];
        let rows = records(40 + round % 3);
        if let Err(e) = instruments::upsert_instruments(&db.store, markets, &rows, Utc::now()).await {
            failures.push(e.to_string());
        }
    }
    stop.cancel();
    let written = writer.await.unwrap();
    assert!(written > 0, "the other process wrote nothing");
    assert!(failures.is_empty(), "{} of 40 upserts failed: {:?}", failures.len(), failures.first());
}

/// Every pooled connection waits 10 s for a lock, not only the one `Store::connect` first used.
#[tokio::test]
async fn every_pooled_connection_has_the_busy_timeout() {
    let db = sqlite().await;
    let store = Store::connect(&db.url).await.unwrap();
    // Four transactions hold the pool's four connections at once.
    let mut txns = Vec::new();
    for _ in 0..4 {
        txns.push(store.conn().begin().await.unwrap());
    }
    let mut timeouts = Vec::new();
    for txn in &txns {
        let row = txn
            .query_one_raw(Statement::from_string(DatabaseBackend::Sqlite, "PRAGMA busy_timeout"))
            .await
            .unwrap()
            .unwrap();
        timeouts.push(row.try_get_by_index::<i64>(0).unwrap());
    }
    assert_eq!(timeouts, vec![10_000; 4], "busy_timeout (ms) of each pooled connection");
    for txn in txns {
        txn.rollback().await.unwrap();
    }
}

fn at(h: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap() + TimeDelta::hours(h)
}

fn token_key() -> TokenKey {
    TokenKey { app_key_fingerprint: "0123456789abcdef".into(), mode: aegis::domain::Mode::Paper }
}

/// While an issuance waits on a slow token endpoint (or its one-a-minute spacing), another
/// process writes to the database at once, and the issued token is stored afterwards.
async fn issuance_holds_no_database_lock(db: TestDb) {
    let tokens = db.store.tokens();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let issuer = tokio::spawn(async move {
        let key = token_key();
        tokens
            .with_issue_lock(
                &key,
                Box::new(move |_| {
                    Box::pin(async move {
                        let _ = started_tx.send(());
                        let _ = release_rx.await;
                        Ok(StoredToken {
                            token: Secret::new("tok-slow"),
                            issued_at: at(0),
                            expires_at: at(24),
                        })
                    })
                }),
            )
            .await
    });
    started_rx.await.unwrap();
    let other = Store::connect(&db.url).await.unwrap();
    let write = tokio::time::timeout(
        Duration::from_secs(3),
        other.outbox().enqueue(OutboxChannel::Slack, "during-issuance", json!({}), Utc::now()),
    )
    .await;
    let _ = release_tx.send(());
    let token = issuer.await.unwrap().unwrap();
    assert!(matches!(write, Ok(Ok(_))), "a writer was held up by a token issuance: {write:?}");
    assert_eq!(token.token.expose(), "tok-slow");
    let stored = other.tokens().load(&token_key()).await.unwrap().unwrap();
    assert_eq!(stored, token);
}
storage_test!(token_issuance_holds_no_database_lock, issuance_holds_no_database_lock);

/// An issuance that waits longer than PostgreSQL's idle-in-transaction limit (5 s) still stores
/// its token: it holds no transaction open while it waits.
mod slow_token_issuance {
    use super::*;

    #[tokio::test]
    async fn postgres() {
        let Some(db) = crate::support::db::postgres().await else {
            eprintln!("skipped: AEGIS_TEST_PG_URL is not set");
            return;
        };
        let key = token_key();
        let token = db
            .store
            .tokens()
            .with_issue_lock(
                &key,
                Box::new(move |_| {
                    Box::pin(async move {
                        tokio::time::sleep(Duration::from_secs(6)).await;
                        Ok(StoredToken { token: Secret::new("tok-6s"), issued_at: at(0), expires_at: at(24) })
                    })
                }),
            )
            .await
            .unwrap();
        assert_eq!(db.store.tokens().load(&key).await.unwrap(), Some(token));
    }
}

/// A real busy error, as a deferred read-then-write transaction gets it from SQLite while another
/// process holds the write lock.
async fn a_busy_error(url: &str) -> DbErr {
    let store = Store::connect(url).await.unwrap();
    let txn = store.conn().begin().await.unwrap();
    entity::audit_log::Entity::find().all(&txn).await.unwrap();
    let (_other, held) = writer_holding_the_lock(url).await;
    let err = audit_row("upgrade").insert(&txn).await.unwrap_err();
    held.rollback().await.unwrap();
    txn.rollback().await.unwrap();
    err
}

/// A store error that another attempt may not meet is retried by a stage, however the stage's
/// layer classified it: the universe stage's first attempt in `aegis demo` failed on one.
#[tokio::test]
async fn a_busy_database_is_retried_by_a_stage() {
    let db = sqlite().await;
    let err = StoreError::from(a_busy_error(&db.url).await);
    assert!(err.to_string().contains("database is locked"), "{err}");
    let universe = aegis::universe::refresh::UniverseRefreshError::Store(err);
    let stage = StageError::Failed { what: "universe".into(), retryable: false, source: Box::new(universe) };
    assert!(stage.is_retryable(), "{}", stage.report());
    let locked =
        StoreError::db("Execution Error: error returned from database: (code: 517) database is locked");
    assert!(StageError::fatal("instruments", locked).is_retryable());
    let corrupt = StoreError::Corrupt { table: "orders", id: "7".into(), reason: "bad side".into() };
    assert!(!StageError::fatal("positions", corrupt).is_retryable());
}

/// A deadlock victim on PostgreSQL is transient whatever language the server speaks: the store
/// names its SQLSTATE, and a stage retries it.
mod deadlock_is_transient {
    use super::*;

    async fn lock_then(txn: &DatabaseTransaction, first: i64, then: i64) -> Result<(), DbErr> {
        for id in [first, then] {
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "UPDATE audit_log SET actor = actor WHERE id = $1",
                [id.into()],
            ))
            .await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    #[tokio::test]
    async fn postgres() {
        let Some(db) = crate::support::db::postgres().await else {
            eprintln!("skipped: AEGIS_TEST_PG_URL is not set");
            return;
        };
        let a = audit_row("a").insert(db.store.conn()).await.unwrap().id;
        let b = audit_row("b").insert(db.store.conn()).await.unwrap().id;
        let (t1, t2) = (db.store.conn().begin().await.unwrap(), db.store.conn().begin().await.unwrap());
        let (r1, r2) = tokio::join!(lock_then(&t1, a, b), lock_then(&t2, b, a));
        let _ = (t1.rollback().await, t2.rollback().await);
        let err = r1.err().or(r2.err()).expect("one transaction is the deadlock victim");
        let err = StoreError::from(err);
        assert!(err.to_string().contains("(SQLSTATE 40P01)"), "{err}");
        assert!(err.is_transient(), "{err}");
        assert!(StageError::fatal("positions", err).is_retryable());
    }
}

/// An issuance cancelled half-way (a stage timeout) gives its lease back: the next one does
/// not wait for it to lapse.
async fn cancelled_issuance_releases_its_lease(db: TestDb) {
    let tokens = db.store.tokens();
    let key = token_key();
    let cancelled = tokio::time::timeout(
        Duration::from_millis(300),
        tokens.with_issue_lock(&key, Box::new(|_| Box::pin(std::future::pending()))),
    )
    .await;
    assert!(cancelled.is_err(), "the endless issuance was cut short");
    let other = Store::connect(&db.url).await.unwrap().tokens();
    let next = tokio::time::timeout(
        Duration::from_secs(5),
        other.with_issue_lock(
            &key,
            Box::new(|_| {
                Box::pin(async {
                    Ok(StoredToken { token: Secret::new("tok-next"), issued_at: at(0), expires_at: at(24) })
                })
            }),
        ),
    )
    .await;
    assert!(matches!(&next, Ok(Ok(t)) if t.token.expose() == "tok-next"), "{next:?}");
}
storage_test!(cancelled_token_issuance_releases_its_lease, cancelled_issuance_releases_its_lease);
