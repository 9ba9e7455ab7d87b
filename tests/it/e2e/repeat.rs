//! Two trading days in a row against a simulator that restarts order numbers every business day
//! (as KIS does): both days trade the same symbols through the whole pipeline and the real KIS
//! adapter, so day 2's order numbers repeat day 1's. Afterwards every fill of both days is
//! recorded exactly once, on the order of the right day; positions equal the simulator's holdings;
//! and no order number was ever taken for another day's order.

use std::collections::{BTreeMap, BTreeSet};

use aegis::app::verify::compare_with_sim;
use aegis::domain::stage::StageName;
use aegis::pipeline::RunOutcome;
use aegis::sim::{SimConfig, SimHandle};
use aegis::store::Store;
use aegis::store::pipeline::PipelineStore;
use aegis::store::testing::{TempDir, TestDb};
use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use sea_orm::EntityTrait;
use serde_json::Value;

use super::{build, env, loaded, options, sim_config, trade_date};

/// The second trading day: the Tuesday after [`trade_date`].
fn day2() -> NaiveDate {
    trade_date().succ_opt().unwrap()
}

fn pre_open(date: NaiveDate) -> chrono::DateTime<chrono::FixedOffset> {
    aegis::sim::clock::at(date, NaiveTime::from_hms_opt(8, 59, 50).unwrap())
}

async fn start_sim() -> SimHandle {
    let cfg = SimConfig { daily_order_numbers: true, ..sim_config(3000.0, pre_open(trade_date())) };
    crate::support::sim::start(cfg).await
}

/// (date, order number) → (symbol, side, filled quantity) of the simulator's new orders.
type SimOrders = BTreeMap<(NaiveDate, u64), (String, String, Decimal)>;

fn date_of(v: &Value, key: &str) -> NaiveDate {
    let text = v[key].as_str().unwrap();
    NaiveDate::parse_from_str(&text[..10], "%Y-%m-%d").unwrap()
}

fn sim_orders(state: &Value) -> SimOrders {
    let mut out = SimOrders::new();
    for o in state["orders"].as_array().unwrap().iter().filter(|o| o["orig"].is_null()) {
        let key = (date_of(o, "date"), o["odno"].as_u64().unwrap());
        let side = o["side"].as_str().map_or_else(|| o["side"].to_string(), str::to_owned);
        let value =
            (o["symbol"].as_str().unwrap().to_owned(), side, Decimal::from(o["filled"].as_i64().unwrap()));
        assert!(out.insert(key, value).is_none(), "the simulator numbers an order of {key:?} twice");
    }
    out
}

/// (date, order number) → filled quantity by the simulator's fill records.
fn sim_fills(state: &Value) -> BTreeMap<(NaiveDate, u64), Decimal> {
    let mut out = BTreeMap::new();
    for f in state["fills"].as_array().unwrap() {
        let key = (date_of(f, "time"), f["odno"].as_u64().unwrap());
        *out.entry(key).or_insert(Decimal::ZERO) += Decimal::from(f["qty"].as_i64().unwrap());
    }
    out
}

async fn all_stages_succeeded(store: &Store, date: NaiveDate) {
    let pipeline = PipelineStore::new(store.conn().clone());
    let run = pipeline.find_run(aegis::domain::MarketRegion::Kr, date).await.unwrap().unwrap();
    let attempts = pipeline.attempts(run.id).await.unwrap();
    for s in StageName::ALL {
        let last = attempts.iter().filter(|a| a.stage == s.as_str()).max_by_key(|a| a.attempt);
        assert_eq!(last.map(|a| a.status.as_str()), Some("SUCCEEDED"), "{date} {s}");
    }
}

async fn order_numbers_repeat_body(db: TestDb) {
    let sim = start_sim().await;
    let dir = TempDir::new("aegis-e2e-repeat").unwrap();
    let app = build(&db.store, options(&sim, loaded(env(&sim, &db.url, None)), &dir));

    for (i, date) in [trade_date(), day2()].into_iter().enumerate() {
        if i > 0 {
            sim.set_time(pre_open(date));
        }
        let outcome = app.runner.run_until(date, StageName::Journal).await.unwrap();
        assert_eq!(outcome, RunOutcome::Completed { through: StageName::Journal }, "{date}");
        all_stages_succeeded(&db.store, date).await;
    }
    let state = sim.state();
    let theirs = sim_orders(&state);

    // Day 2's numbers repeat day 1's: the case this test is about must actually have happened.
    let numbers = |d: NaiveDate| theirs.keys().filter(|k| k.0 == d).map(|k| k.1).collect::<BTreeSet<_>>();
    let (first, second) = (numbers(trade_date()), numbers(day2()));
    assert!(!first.is_empty() && !second.is_empty(), "both days traded: {first:?} / {second:?}");
    let repeated: Vec<_> = first.intersection(&second).collect();
    assert!(!repeated.is_empty(), "no order number repeated: day 1 {first:?}, day 2 {second:?}");

    // Each day agrees with the simulator on every order and its filled quantity.
    for date in [trade_date(), day2()] {
        let cmp = compare_with_sim(&db.store, date, &state).await.unwrap();
        assert!(cmp.matches(), "{date}: {:?}", cmp.mismatches);
        assert_eq!(cmp.db_orders_at_broker, cmp.sim_orders, "{date}");
        assert!(cmp.sim_orders > 0, "{date}: {cmp:?}");
    }

    // Every fill of both days is recorded exactly once, on the order of the day the sim says.
    let conn = db.store.conn();
    let orders: BTreeMap<i64, entity::order::Model> =
        entity::order::Entity::find().all(conn).await.unwrap().into_iter().map(|o| (o.id, o)).collect();
    let mut ours: BTreeMap<(NaiveDate, u64), Decimal> = BTreeMap::new();
    for f in entity::fill::Entity::find().all(conn).await.unwrap() {
        let o = &orders[&f.order_id];
        let number = f.broker_order_no.parse::<u64>().unwrap();
        assert_eq!(o.broker_order_no.as_deref(), Some(f.broker_order_no.as_str()), "fill {}", f.id);
        assert!(
            f.fill_key.starts_with(&format!("{}:{}:", o.trade_date, f.broker_order_no)),
            "fill {} keyed {} for an order of {}",
            f.id,
            f.fill_key,
            o.trade_date
        );
        let (symbol, _, _) = theirs
            .get(&(o.trade_date, number))
            .unwrap_or_else(|| panic!("fill {} of order {} is on no sim order of its day", f.id, o.id));
        assert_eq!(symbol, &o.symbol, "fill {}: the sim order of its day trades another symbol", f.id);
        assert_eq!(f.symbol, o.symbol, "fill {}", f.id);
        *ours.entry((o.trade_date, number)).or_insert(Decimal::ZERO) += f.qty.get();
    }
    let sim_filled = sim_fills(&state);
    assert!(!sim_filled.is_empty(), "something filled");
    assert_eq!(ours, sim_filled, "filled quantity per (date, order number): database vs simulator");
    for ((date, no), (_, _, filled)) in &theirs {
        assert_eq!(sim_filled.get(&(*date, *no)).copied().unwrap_or_default(), *filled, "sim {date} {no}");
    }

    // Positions equal the simulator's holdings after day 2.
    let held = crate::support::sim::holdings(&state);
    let positions = crate::support::db::positions(&db.store).await;
    assert_eq!(positions, held, "positions vs the simulator's holdings");

    // Nothing was refused or claimed twice on the way.
    for kind in ["IDENTITY_CONFLICT", "FILL_REFUSED"] {
        let n = crate::support::db::events_of(&db.store, kind).await.len();
        assert_eq!(n, 0, "{kind} events");
    }
    app.shutdown().await;
    sim.shutdown().await;
}
aegis::storage_test!(order_numbers_repeat, order_numbers_repeat_body);
