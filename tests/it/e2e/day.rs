//! A full simulated day: every stage SUCCEEDED, and the orders and fills in the database match the
//! simulator's own records.

use aegis::app::verify::compare_with_sim;
use aegis::domain::stage::StageName;
use aegis::pipeline::RunOutcome;
use aegis::store::testing::{TempDir, TestDb};

use super::{build, env, loaded, options, stages, start_sim, status, trade_date};

async fn full_day_body(db: TestDb) {
    let sim = start_sim(3000.0).await;
    let dir = TempDir::new("aegis-e2e-day").unwrap();
    let opts = options(&sim, loaded(env(&sim, &db.url, None)), &dir);
    let app = build(&db.store, opts);
    let outcome = app.runner.run_until(trade_date(), StageName::Journal).await.unwrap();
    assert_eq!(outcome, RunOutcome::Completed { through: StageName::Journal });
    let map = stages(&db.store).await;
    for s in StageName::ALL {
        assert_eq!(status(&map, s), "SUCCEEDED", "{s}: {map:?}");
    }
    let cmp = compare_with_sim(&db.store, trade_date(), &sim.state()).await.unwrap();
    assert!(cmp.matches(), "{:?}", cmp.mismatches);
    assert!(cmp.sim_orders > 0 && cmp.db_filled_qty > rust_decimal::Decimal::ZERO, "{cmp:?}");
    assert_eq!(cmp.db_orders_at_broker, cmp.sim_orders);
    let journal = std::fs::read_dir(dir.0.join("journal")).unwrap().count();
    assert_eq!(journal, 1, "one Markdown journal is written");
    app.shutdown().await;
    sim.shutdown().await;
}
aegis::storage_test!(full_day, full_day_body);
