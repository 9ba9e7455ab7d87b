//! Issue #20 (outage policy): refused real-time registrations against the simulator. A refused
//! registration (`OPSP0008` over the session's 41) stays in the feed's registry, is retried and
//! is active again by itself; `OPSP8996` (the app key's session held by another connection) is a
//! condition of the connection that keeps every registration; and `aegis status` shows each
//! registration's state from what the trading core recorded.

use std::sync::Arc;
use std::time::Duration;

use aegis::app::SimTimeClock;
use aegis::domain::market::{ExecutionEvent, FeedStatus, RegistrationState, Subscription};
use aegis::domain::mode::KillSwitchConfig;
use aegis::kis::KisBroker;
use aegis::ports::{Broker, BrokerError, Clock};
use aegis::sim::SimHandle;
use aegis::store::testing::TestDb;
use aegis::trading::{Guard, InMemoryModeStore, TradingConfig, TradingCore};
use chrono::NaiveDate;
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_tungstenite::tungstenite::Message;

use super::*;
use crate::support::ws;

const DAY: &str = "2026-03-03";

/// 21 codes the simulator trades: 42 market registrations, one more than a session holds.
fn codes() -> Vec<String> {
    let mut all = symbols();
    all.push("900011".to_owned());
    all
}

/// A trading core over `broker` on the simulated day, recording into `db`.
async fn core(db: &TestDb, broker: Arc<KisBroker>, clock: Arc<dyn Clock>) -> TradingCore {
    let modes = Arc::new(InMemoryModeStore::default());
    let guard =
        Guard::load(modes, db.store.events(), clock.clone(), KillSwitchConfig::default()).await.unwrap();
    let day = NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap();
    let b: Arc<dyn Broker> = broker;
    TradingCore::new(db.store.clone(), b, clock, Arc::new(guard), TradingConfig::new(day, "registrations"))
}

/// Reads the feed's events, each handled by the trading core as the intraday loop does, until
/// one satisfies `want`; returns those read.
async fn handle_until(
    core: &TradingCore,
    rx: &mut UnboundedReceiver<ExecutionEvent>,
    want: impl Fn(&ExecutionEvent) -> bool,
) -> Vec<ExecutionEvent> {
    let mut seen = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; saw {seen:?}"))
            .expect("channel open");
        core.handle_execution(&ev).await.unwrap();
        let hit = want(&ev);
        seen.push(ev);
        if hit {
            return seen;
        }
    }
}

/// The states of a registrations report, when `ev` is one.
fn report(ev: &ExecutionEvent) -> Option<&[aegis::domain::market::FeedRegistration]> {
    match ev {
        ExecutionEvent::Status(FeedStatus::Registrations { connected: true, registrations, .. }) => {
            Some(registrations)
        }
        _ => None,
    }
}

async fn aegis_status(db: &TestDb) -> String {
    let out = crate::support::bin::run_async(&["status", "--date", DAY], [("DB_URL", db.url.as_str())]).await;
    let text = crate::support::bin::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    text
}

fn registered(sim: &SimHandle) -> Vec<(String, String)> {
    sessions(sim).concat()
}

/// The execution notices over the session's cap: refused with `OPSP0008`, kept (the call
/// stands), reported to the trading core (which holds new orders: no fill would arrive in real
/// time) and shown refused by `aegis status`; an unsubscription frees a slot, the feed sends the
/// notices again by itself, and they are active — in the simulator's session, in the core, and
/// in `aegis status`.
async fn a_refused_registration_comes_back_by_itself_and_status_shows_each_state(db: TestDb) {
    let sim = crate::support::sim::start(SimConfig { symbols: codes(), ..sim_config(Some(1_000)) }).await;
    let mut cfg = kis_config(&sim, 40, 100);
    // The feed allows one more than the broker: the broker's refusal is what is tested.
    cfg.feed.max_registrations = 42;
    let clock: Arc<dyn Clock> = Arc::new(SimTimeClock(sim.clock().clone()));
    let broker = Arc::new(crate::support::sim::broker(
        &cfg,
        Arc::new(aegis::ports::InMemoryTokenStore::new()),
        clock.clone(),
    ));
    let mut streams = broker.take_streams().unwrap();
    let core = core(&db, broker.clone(), clock).await;

    let codes = codes();
    let mut subs: Vec<Subscription> = codes[..20]
        .iter()
        .flat_map(|c| [Subscription::Quotes(symbol(c)), Subscription::Trades(symbol(c))])
        .collect();
    subs.push(Subscription::Trades(symbol(&codes[20])));
    for s in &subs {
        broker.subscribe(s.clone()).await.unwrap();
    }
    broker.subscribe(Subscription::Executions).await.expect("refused, but kept: the registration stands");

    let notices_refused = |ev: &ExecutionEvent| {
        report(ev).is_some_and(|r| {
            r.len() == 42
                && matches!(&r[0].state, RegistrationState::Refused { code, .. } if code == "OPSP0008")
                && r[1..].iter().all(|x| x.state == RegistrationState::Active)
        })
    };
    let seen = handle_until(&core, &mut streams.executions, notices_refused).await;
    assert!(
        seen.iter().any(|e| matches!(e, ExecutionEvent::Status(FeedStatus::RegistrationRefused {
            subscription: Subscription::Executions, code, ..
        }) if code == "OPSP0008")),
        "{seen:?}"
    );
    assert!(!registered(&sim).contains(&("H0STCNI9".to_owned(), HTS.to_owned())));
    let paused = core.guard().orders_paused().expect("new orders wait while no fill arrives");
    assert!(paused.contains("OPSP0008"), "{paused}");

    let status = aegis_status(&db).await;
    assert!(status.contains("connected; registrations 42/42 (41 active, 1 refused)"), "{status}");
    assert!(
        status
            .contains("H0STCNI9  notices  refused OPSP0008 MAX SUBSCRIBE OVER since 10:00:00 KST (retried)"),
        "{status}"
    );
    for c in &codes[..20] {
        assert!(status.contains(&format!("H0STASP0  {c}   active")), "{c}: {status}");
        assert!(status.contains(&format!("H0STCNT0  {c}   active")), "{c}: {status}");
    }
    assert!(!status.contains(HTS), "the notices' key (the HTS id) is not shown: {status}");

    // A slot frees: the notices are sent again at once and taken.
    broker.unsubscribe(Subscription::Quotes(symbol(&codes[0]))).await.unwrap();
    let all_active = |ev: &ExecutionEvent| {
        report(ev).is_some_and(|r| r.len() == 41 && r.iter().all(|x| x.state == RegistrationState::Active))
    };
    let seen = handle_until(&core, &mut streams.executions, all_active).await;
    assert!(
        seen.contains(&ExecutionEvent::Status(FeedStatus::RegistrationRestored {
            subscription: Subscription::Executions
        })),
        "{seen:?}"
    );
    assert!(registered(&sim).contains(&("H0STCNI9".to_owned(), HTS.to_owned())));
    assert_eq!(core.guard().orders_paused(), None, "reconciled: new orders go out again");

    let status = aegis_status(&db).await;
    assert!(status.contains("connected; registrations 41/42 (41 active)"), "{status}");
    assert!(status.contains("H0STCNI9  notices  active"), "{status}");
    assert!(!status.contains("refused"), "{status}");

    broker.disconnect().await.unwrap();
    handle_until(&core, &mut streams.executions, |e| *e == ExecutionEvent::Status(FeedStatus::Closed)).await;
    let status = aegis_status(&db).await;
    assert!(status.contains("closed; no registrations"), "{status}");
    sim.shutdown().await;
}
aegis::storage_test!(
    refused_registration_is_retried_and_shown,
    a_refused_registration_comes_back_by_itself_and_status_shows_each_state
);

/// Another connection holds the app key's one session (a previous process the broker has not
/// dropped yet): the feed's first registration is answered `OPSP8996`, the caller is told, and
/// the feed reconnects with every registration — the refused one included — until the old
/// session is gone; then all are registered on the one session.
#[tokio::test]
async fn session_in_use_keeps_every_registration_until_the_old_session_is_gone() {
    let sim = start_sim(Some(1_000)).await;
    let cfg = kis_config(&sim, 41, 100);
    let broker = crate::support::sim::sim_broker(&sim, &cfg);
    let mut streams = broker.take_streams().unwrap();

    // The lingering session: a raw connection of the same app key holding one registration.
    let approval: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/oauth2/Approval", sim.rest_url))
        .json(&serde_json::json!({"grant_type":"client_credentials","appkey":appkey(41),"secretkey":crate::support::sim::secret()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut old = ws::connect(&sim, "/tryitout").await;
    let key = approval["approval_key"].as_str().unwrap().to_owned();
    old.send(Message::text(ws::request(&key, "1", "H0STCNT0", "000660"))).await.unwrap();
    let ack = old.next().await.unwrap().unwrap();
    assert!(ack.to_text().unwrap().contains("OPSP0000"), "{ack:?}");

    let err = broker.subscribe(Subscription::Executions).await.unwrap_err();
    assert!(matches!(err, BrokerError::SessionInUse { .. }), "{err:?}");
    broker.subscribe(Subscription::Trades(symbol("005930"))).await.expect("kept while the socket is down");
    until(&mut streams.executions, 10, |e| {
        matches!(e, ExecutionEvent::Status(FeedStatus::Disconnected { reason }) if reason.contains("OPSP8996"))
    })
    .await;
    // The old session lingers through a few attempts, then goes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    old.close(None).await.unwrap();
    drop(old);
    let mut open = sessions(&sim);
    for _ in 0..200 {
        if open.len() == 1 && open[0].len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        open = sessions(&sim);
    }
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(
        open[0].contains(&("H0STCNI9".to_owned(), HTS.to_owned())),
        "the notices were not given up: {open:?}"
    );
    assert!(open[0].contains(&("H0STCNT0".to_owned(), "005930".to_owned())), "{open:?}");
    until(&mut streams.executions, 10, |e| {
        matches!(e, ExecutionEvent::Status(FeedStatus::Registrations { connected: true, registrations, .. })
            if registrations.len() == 2 && registrations.iter().all(|r| r.state == RegistrationState::Active))
    })
    .await;
    broker.disconnect().await.unwrap();
    sim.shutdown().await;
}
