//! Hot standby: two `aegis run` processes on one database. One leads, the other stands by without
//! touching the broker; the leader is SIGKILLed while the intraday stage trades, the standby takes
//! the lease over (the next epoch) once it lapses, recovers and finishes the day — and the
//! simulator holds no duplicate order and positions equal its holdings.

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
