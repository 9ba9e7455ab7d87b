//! Fencing: a process that lost the pipeline lease cannot write an order, so it never reaches the
//! broker — on SQLite and PostgreSQL.

use std::sync::Arc;

use aegis::domain::Side;
use aegis::domain::mode::KillSwitchConfig;
use aegis::pipeline::PIPELINE_LEASE;
use aegis::ports::{Broker, Clock, FakeBroker, FakeClock, Fence, StoreError};
use aegis::store::testing::TestDb;
use aegis::trading::orders::SubmitOutcome;
use aegis::trading::{Guard, InMemoryModeStore, TradingConfig, TradingCore, TradingError};
use chrono::{TimeDelta, Utc};
use sea_orm::{EntityTrait, PaginatorTrait};

use super::{day, intent, places, start};

fn core_on(
    db: &TestDb,
    fence: &Arc<Fence>,
    broker: &Arc<FakeBroker>,
    clock: &Arc<dyn Clock>,
    guard: Guard,
) -> TradingCore {
    let store = db.store.clone().with_fence(fence.clone());
    let b: Arc<dyn Broker> = broker.clone();
    TradingCore::new(store, b, clock.clone(), Arc::new(guard), TradingConfig::new(day(), "test-strategy"))
}

fn fenced(r: Result<SubmitOutcome, TradingError>) -> bool {
    matches!(r, Err(TradingError::Store(StoreError::Fenced { .. })))
}

async fn stale_holder_body(db: TestDb) {
    let clock: Arc<dyn Clock> = Arc::new(FakeClock::new(start()));
    let broker = Arc::new(FakeBroker::new(clock.clone()));
    let guard = || async {
        Guard::load(
            Arc::new(InMemoryModeStore::default()),
            db.store.events(),
            clock.clone(),
            KillSwitchConfig::default(),
        )
        .await
        .unwrap()
    };
    let pipeline = db.store.pipeline();
    let ttl = TimeDelta::seconds(2);

    // A leads under epoch 1 and trades.
    let a = Arc::new(Fence::new(PIPELINE_LEASE, "daemon-a"));
    let epoch = pipeline.acquire_lease(PIPELINE_LEASE, "daemon-a", ttl, Utc::now()).await.unwrap();
    assert_eq!(epoch, Some(1));
    a.hold(1);
    let core_a = core_on(&db, &a, &broker, &clock, guard().await);
    assert!(matches!(
        core_a.submit(&intent("005930", Side::Buy, 1, 70_000, "s1")).await,
        Ok(SubmitOutcome::Sent(_))
    ));
    assert_eq!(places(&broker), 1);

    // A stalls past its lease; B takes it over under epoch 2. A's heartbeat has not noticed yet,
    // so A still believes it holds epoch 1.
    assert_eq!(pipeline.acquire_lease(PIPELINE_LEASE, "daemon-b", ttl, Utc::now()).await.unwrap(), None);
    let later = Utc::now() + TimeDelta::seconds(3);
    assert_eq!(pipeline.acquire_lease(PIPELINE_LEASE, "daemon-b", ttl, later).await.unwrap(), Some(2));

    // A's next submit is refused by the database before any broker call, and recorded.
    assert!(fenced(core_a.submit(&intent("005930", Side::Buy, 1, 70_000, "s2")).await));
    assert_eq!(places(&broker), 1, "the stale holder never reached the broker");
    assert_eq!(entity::order::Entity::find().count(db.store.conn()).await.unwrap(), 1, "no row written");
    let refused = crate::support::db::events_of(&db.store, "ORDER_FENCED").await;
    assert_eq!(refused.len(), 1);
    assert!(
        refused[0].message.contains("daemon-a") && refused[0].message.contains("epoch 1"),
        "{}",
        refused[0].message
    );

    // Once its heartbeat notices, nothing is even asked of the database.
    a.lose();
    assert!(fenced(core_a.submit(&intent("005930", Side::Buy, 1, 70_000, "s3")).await));
    assert_eq!(places(&broker), 1);

    // B, the leader now, trades.
    let b = Arc::new(Fence::new(PIPELINE_LEASE, "daemon-b"));
    b.hold(2);
    let core_b = core_on(&db, &b, &broker, &clock, guard().await);
    assert!(matches!(
        core_b.submit(&intent("005930", Side::Buy, 1, 70_000, "s4")).await,
        Ok(SubmitOutcome::Sent(_))
    ));
    assert_eq!(places(&broker), 2);
}
aegis::storage_test!(stale_lease_holder_is_fenced, stale_holder_body);
