//! Helpers for the adapter suites: a simulator on port 0 with a frozen clock, a `KisBroker`
//! pointed at it, and a [`Clock`] that reads the simulator's clock.

use std::sync::Arc;
use std::time::Duration;

use aegis::domain::market::{ExecutionEvent, FeedStatus};
use aegis::domain::{AccountNo, Mode, Symbol};
use aegis::kis::KisBroker;
use aegis::kis::config::KisConfig;
use aegis::ports::{Clock, InMemoryTokenStore, Secret, TokenStore};
use aegis::sim::{Sim, SimClock, SimConfig, SimHandle};
use chrono::{DateTime, FixedOffset, Utc};
use tokio::sync::mpsc;
use url::Url;

pub const ACCOUNT: &str = "50000000-01";
pub const HTS: &str = "simuser";

/// The adapter's clock reading the simulator's clock (so "today" and fill times agree).
#[derive(Debug, Clone)]
pub struct SimTime(pub SimClock);

impl Clock for SimTime {
    fn now(&self) -> DateTime<Utc> {
        self.0.now().with_timezone(&Utc)
    }
}

/// A Tuesday trading day at `hh:mm` KST.
pub fn day_at(hh: u32, mm: u32) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(&format!("2026-03-03T{hh:02}:{mm:02}:00+09:00")).unwrap()
}

/// The 10 catalog symbols plus 10 synthetic ones: 20 codes, 40 market registrations.
pub fn symbols() -> Vec<String> {
    let mut all = aegis::sim::instruments::default_symbols();
    all.extend((1..=10).map(|i| format!("9000{i:02}")));
    all.truncate(20);
    all
}

pub fn symbol(code: &str) -> Symbol {
    Symbol::new(code).unwrap()
}

/// A paper simulator frozen at 10:00 on a trading day, allowing `rate` REST calls per second.
pub fn sim_config(rate: Option<u32>) -> SimConfig {
    SimConfig {
        mode: Mode::Paper,
        accounts: vec![AccountNo::parse(ACCOUNT).unwrap()],
        hts_id: HTS.into(),
        symbols: symbols(),
        start: Some(day_at(10, 0)),
        speed: 0.0,
        seed: 11,
        rate_limit: rate,
        ..SimConfig::default()
    }
}

pub async fn start_sim(rate: Option<u32>) -> SimHandle {
    Sim::start(sim_config(rate)).await.unwrap()
}

/// A 36-character app key unique to a test (the limiter is shared per app key in the process).
pub fn appkey(n: u8) -> Secret {
    Secret::new(format!("PS{n:0>34}"))
}

/// Paper settings pointed at `sim`, at `rps` requests per second, with fast retries and reconnects.
pub fn kis_config(sim: &SimHandle, key: u8, rps: u32) -> KisConfig {
    let mut cfg =
        KisConfig::defaults(Mode::Paper, appkey(key), Secret::new("s".repeat(180)), Secret::new(HTS))
            .unwrap();
    cfg = cfg.with_endpoints(
        Url::parse(&sim.rest_url).unwrap(),
        Url::parse(&format!("{}/tryitout", sim.ws_url)).unwrap(),
    );
    cfg.requests_per_second = rps;
    cfg.page_delay = Duration::ZERO;
    cfg.retry.base_delay = Duration::from_millis(50);
    cfg.feed.reconnect_base = Duration::from_millis(20);
    cfg
}

pub fn broker(cfg: &KisConfig, store: Arc<dyn TokenStore>, clock: Arc<dyn Clock>) -> KisBroker {
    KisBroker::new(cfg, ACCOUNT, store, clock).unwrap()
}

/// A broker on the simulator's clock with an in-memory token store.
pub fn sim_broker(sim: &SimHandle, key: u8, rps: u32) -> KisBroker {
    broker(
        &kis_config(sim, key, rps),
        Arc::new(InMemoryTokenStore::new()),
        Arc::new(SimTime(sim.clock().clone())),
    )
}

/// Number of access tokens the simulator has issued.
pub fn issued_tokens(sim: &SimHandle) -> usize {
    sim.state()["tokens"].as_array().map_or(0, Vec::len)
}

/// Registrations `(tr_id, tr_key)` of every open WebSocket session.
pub fn sessions(sim: &SimHandle) -> Vec<Vec<(String, String)>> {
    sim.state()["ws_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::from_value(s["registrations"].clone()).unwrap())
        .collect()
}

/// Waits (up to `secs`) for the next execution event accepted by `want`, returning the events
/// seen on the way (including the match, last).
pub async fn until(
    rx: &mut mpsc::UnboundedReceiver<ExecutionEvent>,
    secs: u64,
    mut want: impl FnMut(&ExecutionEvent) -> bool,
) -> Vec<ExecutionEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; saw {seen:?}"))
            .expect("executions channel closed");
        let hit = want(&ev);
        seen.push(ev);
        if hit {
            return seen;
        }
    }
}

pub fn is_connected(ev: &ExecutionEvent) -> bool {
    matches!(ev, ExecutionEvent::Status(FeedStatus::Connected { .. }))
}

/// Tick size of the KRX grid at `price`.
pub fn tick(price: i64) -> i64 {
    match price {
        ..2_000 => 1,
        2_000..5_000 => 5,
        5_000..20_000 => 10,
        20_000..50_000 => 50,
        50_000..200_000 => 100,
        200_000..500_000 => 500,
        _ => 1_000,
    }
}

/// Lower price limit and last price of `code` from the simulator.
pub fn band(sim: &SimHandle, code: &str) -> (i64, i64) {
    let state = sim.state();
    let m = state["markets"].as_array().unwrap().iter().find(|m| m["symbol"] == code).unwrap().clone();
    (m["lower"].as_i64().unwrap(), m["last"].as_i64().unwrap())
}

/// Serialises the timing-sensitive suites (the rate measurement and the accelerated day) so
/// they do not starve each other of the two CI cores.
pub async fn timing_lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
