//! The pipeline killed in the middle of the intraday stage (its task aborted, its socket closed)
//! and started again: it resumes at intraday without repeating the stages that succeeded, and the
//! simulator holds no duplicate order.

use aegis::app::verify::compare_with_sim;
use aegis::domain::stage::StageName;
use aegis::pipeline::RunOutcome;
use aegis::store::testing::{TempDir, TestDb};

use super::{build, env, loaded, options, orders, spawn_daemon, stages, start_sim, status, trade_date};
use crate::support::wait::wait_for;

async fn resume_body(db: TestDb) {
    let sim = start_sim(1500.0).await;
    let dir = TempDir::new("aegis-e2e-resume").unwrap();
    let env = env(&sim, &db.url, None);
    let first = build(&db.store, options(&sim, loaded(env.clone()), &dir));
    let runner = first.runner.clone();
    let task = tokio::spawn(async move { runner.run_until(trade_date(), StageName::Journal).await });
    wait_for("orders while the intraday stage runs", 60, || async {
        status(&stages(&db.store).await, StageName::Intraday) == "RUNNING" && orders(&db.store).await >= 2
    })
    .await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    first.shutdown().await;
    let sim_orders_at_kill = sim.state()["orders"].as_array().unwrap().len();

    let second = build(&db.store, options(&sim, loaded(env), &dir));
    let outcome = second.runner.run_until(trade_date(), StageName::Journal).await.unwrap();
    assert_eq!(outcome, RunOutcome::Completed { through: StageName::Journal });
    let map = stages(&db.store).await;
    for s in StageName::ALL.into_iter().filter(|s| *s < StageName::Intraday) {
        assert_eq!(map[&s], ("SUCCEEDED".to_owned(), 1), "{s} must not run twice");
    }
    assert_eq!(map[&StageName::Intraday], ("SUCCEEDED".to_owned(), 2), "interrupted, then resumed");
    for s in [StageName::Close, StageName::Journal] {
        assert_eq!(map[&s], ("SUCCEEDED".to_owned(), 1));
    }
    let cmp = compare_with_sim(&db.store, trade_date(), &sim.state()).await.unwrap();
    assert!(cmp.matches(), "{:?}", cmp.mismatches);
    assert!(cmp.sim_orders >= sim_orders_at_kill);
    assert_eq!(cmp.db_orders_at_broker, cmp.sim_orders, "no order reached the broker twice");
    second.shutdown().await;
    sim.shutdown().await;
}
aegis::storage_test!(resume_after_kill, resume_body);

/// The daemon process (`aegis run`) killed with SIGKILL while the intraday stage trades, then
/// started again: it takes the dead process's lease over, resumes at intraday without repeating
/// a succeeded stage, and the simulator holds no duplicate order.
async fn daemon_kill_body(db: TestDb) {
    let sim = start_sim(1500.0).await;
    let dir = TempDir::new("aegis-e2e-daemon-kill").unwrap();
    let env = env(&sim, &db.url, None);
    aegis::app::demo::activate_params(&db.store, trade_date()).await.unwrap();
    let mut daemon = spawn_daemon(&env, &dir);
    wait_for("orders while the daemon's intraday stage runs", 60, || async {
        status(&stages(&db.store).await, StageName::Intraday) == "RUNNING" && orders(&db.store).await >= 2
    })
    .await;
    daemon.kill().await.unwrap();
    let sim_orders_at_kill = sim.state()["orders"].as_array().unwrap().len();
    assert_eq!(status(&stages(&db.store).await, StageName::Intraday), "RUNNING", "killed mid-stage");

    let mut daemon = spawn_daemon(&env, &dir);
    wait_for("the restarted daemon finishes the intraday stage", 90, || async {
        status(&stages(&db.store).await, StageName::Intraday) == "SUCCEEDED"
    })
    .await;
    daemon.kill().await.unwrap();
    let map = stages(&db.store).await;
    for s in StageName::ALL.into_iter().filter(|s| *s < StageName::Intraday) {
        assert_eq!(map[&s], ("SUCCEEDED".to_owned(), 1), "{s} must not run twice");
    }
    assert_eq!(map[&StageName::Intraday].1, 2, "killed, then resumed: {map:?}");
    let cmp = compare_with_sim(&db.store, trade_date(), &sim.state()).await.unwrap();
    assert!(cmp.matches(), "{:?}", cmp.mismatches);
    assert!(cmp.sim_orders >= sim_orders_at_kill);
    assert_eq!(cmp.db_orders_at_broker, cmp.sim_orders, "no order reached the broker twice");
    sim.shutdown().await;
}
aegis::storage_test!(daemon_killed_mid_intraday, daemon_kill_body);
