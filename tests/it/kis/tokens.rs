//! Token lifecycle against the simulator: one issuance across two process starts sharing the
//! database, a refresh ahead of expiry under a fake clock, and a forced refresh after EGW00123.

use std::sync::Arc;
use std::time::Duration;

use aegis::domain::Mode;
use aegis::ports::{Broker, Clock, FakeClock, InMemoryTokenStore, TokenStore};
use aegis::sim::{FaultCommand, SimHandle, TokenFault};
use aegis::store::Store;
use aegis::store::testing::TestDb;
use aegis::store::tokens::DbTokenStore;
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};

use super::*;

/// Simulated time of the last `tokenP` call of an app key (every call, issued or throttled).
fn last_token_call(sim: &SimHandle, key: u8) -> Option<DateTime<FixedOffset>> {
    sim.shared().lock().token_calls.get(&appkey(key)).copied()
}

fn token_times(sim: &SimHandle, i: usize) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
    let t = &sim.state()["tokens"][i];
    let at = |k: &str| DateTime::parse_from_rfc3339(t[k].as_str().unwrap()).unwrap();
    (at("issued"), at("expires"))
}

async fn two_process_starts_cost_one_issuance(db: TestDb) {
    let sim = start_sim(Some(10_000)).await;
    let key = 2;
    let cfg = kis_config(&sim, key, 1_000);
    let clock = Arc::new(aegis::app::SimTimeClock(sim.clock().clone()));
    let first: Arc<dyn TokenStore> = Arc::new(DbTokenStore::new(db.store.conn().clone()));
    let broker = broker(&cfg, first, clock.clone());
    broker.account().await.unwrap();
    drop(broker);
    let issued_at = last_token_call(&sim, key).unwrap();

    // Ten minutes later a second process opens its own connection to the same database.
    sim.advance(Duration::from_secs(600));
    let other = Store::open(&db.url).await.unwrap();
    let second = super::broker(&cfg, Arc::new(DbTokenStore::new(other.conn().clone())), clock);
    second.account().await.unwrap();
    second.quote(&symbol("005930")).await.unwrap();
    assert_eq!(issued_tokens(&sim), 1);
    assert_eq!(last_token_call(&sim, key), Some(issued_at), "the second start called tokenP");
    sim.shutdown().await;
}

aegis::storage_test!(two_starts, two_process_starts_cost_one_issuance);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_ahead_of_expiry_under_a_fake_clock() {
    let sim = start_sim(Some(10_000)).await;
    let key = 3;
    let clock = Arc::new(FakeClock::new(day_at(10, 0).with_timezone(&Utc)));
    let cfg = kis_config(&sim, key, 1_000);
    assert_eq!(cfg.refresh_ahead, Duration::from_secs(30 * 60));
    let broker = broker(&cfg, Arc::new(InMemoryTokenStore::new()), clock.clone());
    let code = symbol("005930");
    broker.quote(&code).await.unwrap();
    let (_, expires) = token_times(&sim, 0);
    assert_eq!(expires, day_at(10, 0) + TimeDelta::hours(24));

    let step = |by: TimeDelta| {
        clock.advance(by);
        sim.set_time(clock.now().with_timezone(&day_at(0, 0).timezone()));
    };
    // 31 minutes before expiry the cached token is still used.
    step(TimeDelta::hours(23) + TimeDelta::minutes(29));
    broker.quote(&code).await.unwrap();
    assert_eq!(issued_tokens(&sim), 1);
    // 29 minutes before expiry the next call refreshes it first.
    step(TimeDelta::minutes(2));
    broker.quote(&code).await.unwrap();
    assert_eq!(issued_tokens(&sim), 2);
    let (reissued, _) = token_times(&sim, 1);
    assert_eq!(expires - reissued, TimeDelta::minutes(29));
    broker.quote(&code).await.unwrap();
    assert_eq!(issued_tokens(&sim), 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_once_and_the_call_retried() {
    let sim = start_sim(Some(10_000)).await;
    let broker = sim_broker(&sim, 4, 1_000);
    let code = symbol("005930");
    let before = broker.quote(&code).await.unwrap();
    assert_eq!(issued_tokens(&sim), 1);
    // Past KIS's one-issuance-per-minute spacing, the server expires every token (EGW00123).
    sim.advance(Duration::from_secs(61));
    sim.inject(FaultCommand::Token { action: TokenFault::Expire });
    let after = broker.quote(&code).await.unwrap();
    assert_eq!(after.symbol, before.symbol);
    assert_eq!(issued_tokens(&sim), 2, "exactly one forced refresh");
    broker.account().await.unwrap();
    assert_eq!(issued_tokens(&sim), 2);
    assert_eq!(sim.state()["mode"], Mode::Paper.as_str());
    sim.shutdown().await;
}
