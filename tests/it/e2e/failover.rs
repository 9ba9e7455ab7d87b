//! Hot standby: two `aegis run` processes on one database. One leads, the other stands by without
//! touching the broker; the leader is SIGKILLed while the intraday stage trades, the standby takes
//! the lease over (the next epoch) once it lapses, recovers and finishes the day — and the
//! simulator holds no duplicate order and positions equal its holdings. A leader frozen (SIGSTOP)
//! past its lease and thawed again is the stale holder (PostgreSQL): it finds the lease gone and
//! its fence closed, sends nothing more, cancels its work, gives the broker's one real-time
//! session back and stands by, while the standby waits for that session and finishes the day.

use aegis::app::verify::compare_with_sim;
use aegis::domain::stage::StageName;
use aegis::pipeline::PIPELINE_LEASE;
use aegis::ports::LeaseRecord;
use aegis::store::testing::{TempDir, TestDb};
use chrono::Utc;

use super::{env, orders, spawn_daemon, stages, start_sim, status, trade_date};
use crate::support::wait::wait_for;

async fn lease(db: &TestDb) -> Option<LeaseRecord> {
    db.store.pipeline().live_lease(PIPELINE_LEASE, Utc::now()).await.unwrap()
}

fn held_by(lease: Option<&LeaseRecord>, child: &tokio::process::Child) -> bool {
    let pid = child.id().expect("the process runs");
    lease.is_some_and(|l| l.holder.starts_with(&format!("daemon-{pid}-")))
}

async fn failover_body(db: TestDb) {
    let sim = start_sim(1500.0).await;
    let (dir_a, dir_b) =
        (TempDir::new("aegis-e2e-failover-a").unwrap(), TempDir::new("aegis-e2e-failover-b").unwrap());
    let env = env(&sim, &db.url, None);
    aegis::app::demo::activate_params(&db.store, trade_date()).await.unwrap();

    let mut leader = spawn_daemon(&env, &dir_a);
    wait_for("the first daemon leads", 30, || async { held_by(lease(&db).await.as_ref(), &leader) }).await;
    let mut standby = spawn_daemon(&env, &dir_b);
    wait_for("orders while the leader's intraday stage runs", 60, || async {
        status(&stages(&db.store).await, StageName::Intraday) == "RUNNING" && orders(&db.store).await >= 2
    })
    .await;
    // Both processes are alive: the lease never moved (epoch 1) and the standby only waited.
    let led = lease(&db).await;
    assert!(held_by(led.as_ref(), &leader), "the leader keeps the lease: {led:?}");
    assert_eq!(led.map(|l| l.epoch), Some(1), "the lease never changed hands");
    assert!(standby.try_wait().unwrap().is_none(), "the standby stands by instead of exiting");

    leader.kill().await.unwrap();
    let sim_orders_at_kill = sim.state()["orders"].as_array().unwrap().len();
    wait_for("the standby takes the lease over", 30, || async {
        let l = lease(&db).await;
        held_by(l.as_ref(), &standby) && l.is_some_and(|l| l.epoch == 2)
    })
    .await;
    wait_for("the standby finishes the intraday stage", 120, || async {
        status(&stages(&db.store).await, StageName::Intraday) == "SUCCEEDED"
    })
    .await;
    standby.kill().await.unwrap();

    let map = stages(&db.store).await;
    for s in StageName::ALL.into_iter().filter(|s| *s < StageName::Intraday) {
        assert_eq!(map[&s], ("SUCCEEDED".to_owned(), 1), "{s} must not run twice");
    }
    assert_eq!(map[&StageName::Intraday].1, 2, "killed, then resumed by the standby: {map:?}");
    let state = sim.state();
    let cmp = compare_with_sim(&db.store, trade_date(), &state).await.unwrap();
    assert!(cmp.matches(), "{:?}", cmp.mismatches);
    assert!(cmp.sim_orders >= sim_orders_at_kill);
    assert_eq!(cmp.db_orders_at_broker, cmp.sim_orders, "no order reached the broker twice");
    let held = crate::support::sim::holdings(&state);
    assert_eq!(crate::support::db::positions(&db.store).await, held, "positions vs the simulator's holdings");
    let taken = crate::support::db::events_of(&db.store, "alert").await;
    assert!(
        taken.iter().any(|e| e.message.contains("took the pipeline over")),
        "the takeover is announced: {:?}",
        taken.iter().map(|e| &e.message).collect::<Vec<_>>()
    );
    sim.shutdown().await;
}
aegis::storage_test!(failover_standby_takes_over, failover_body);

fn signal(child: &tokio::process::Child, sig: &str) {
    let pid = child.id().expect("the process runs").to_string();
    let ok = std::process::Command::new("kill").args([sig, pid.as_str()]).status().unwrap().success();
    assert!(ok, "kill {sig} {pid}");
}

async fn frozen_leader_body(db: TestDb) {
    let sim = start_sim(1500.0).await;
    let (dir_a, dir_b) =
        (TempDir::new("aegis-e2e-frozen-a").unwrap(), TempDir::new("aegis-e2e-frozen-b").unwrap());
    let env = env(&sim, &db.url, None);
    aegis::app::demo::activate_params(&db.store, trade_date()).await.unwrap();
    let mut leader = spawn_daemon(&env, &dir_a);
    wait_for("the first daemon leads", 30, || async { held_by(lease(&db).await.as_ref(), &leader) }).await;
    let mut standby = spawn_daemon(&env, &dir_b);
    wait_for("orders while the leader's intraday stage runs", 60, || async {
        status(&stages(&db.store).await, StageName::Intraday) == "RUNNING" && orders(&db.store).await >= 2
    })
    .await;

    // Frozen past its lease (2 s): the standby takes over while the leader still holds the
    // broker's real-time session.
    signal(&leader, "-STOP");
    wait_for("the standby takes the lease over", 30, || async {
        let l = lease(&db).await;
        held_by(l.as_ref(), &standby) && l.is_some_and(|l| l.epoch == 2)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    signal(&leader, "-CONT");
    wait_for("the standby finishes the intraday stage", 120, || async {
        status(&stages(&db.store).await, StageName::Intraday) == "SUCCEEDED"
    })
    .await;
    wait_for("the thawed leader announces that it lost the lease", 30, || async {
        let alerts = crate::support::db::events_of(&db.store, "alert").await;
        alerts.iter().any(|e| e.message.contains("lost the pipeline lease"))
    })
    .await;
    assert!(leader.try_wait().unwrap().is_none(), "the thawed leader stands by instead of exiting");
    assert!(held_by(lease(&db).await.as_ref(), &standby), "the lease stays with the new leader");
    leader.kill().await.unwrap();
    standby.kill().await.unwrap();

    let state = sim.state();
    let cmp = compare_with_sim(&db.store, trade_date(), &state).await.unwrap();
    assert!(cmp.matches(), "{:?}", cmp.mismatches);
    assert_eq!(cmp.db_orders_at_broker, cmp.sim_orders, "no order reached the broker twice");
    let held = crate::support::sim::holdings(&state);
    assert_eq!(crate::support::db::positions(&db.store).await, held, "positions vs the simulator's holdings");
    let mode = db.store.control().mode().await.unwrap();
    assert_eq!(mode.as_str(), "NORMAL", "the failover did not stop trading: {mode:?}");
    sim.shutdown().await;
}

/// PostgreSQL only: there a frozen session is ended by the server (`idle_in_transaction_session_
/// timeout`) and its locks go with it. SQLite has no server: a leader frozen inside a write
/// transaction holds the file's only write lock until it thaws, so nobody can take over meanwhile
/// (`deploy/README.md`: a standby on SQLite is for a process crash, not a frozen one).
#[tokio::test]
async fn failover_frozen_leader_lets_go_postgres() {
    let db = TestDb::new(aegis::store::testing::Backend::Postgres).await.expect("postgres test db");
    match db {
        Some(db) => frozen_leader_body(db).await,
        None => eprintln!("skipped: AEGIS_TEST_PG_URL is not set"),
    }
}
