//! The pipeline killed in the middle of the intraday stage (its task aborted, its socket closed)
//! and started again: it resumes at intraday without repeating the stages that succeeded, and the
//! simulator holds no duplicate order.

use aegis::app::verify::compare_with_sim;
use aegis::domain::stage::StageName;
use aegis::pipeline::RunOutcome;
use aegis::store::testing::{TempDir, TestDb};

use crate::common::{build, env, loaded, options, orders, stages, start_sim, status, trade_date, wait_for};

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
