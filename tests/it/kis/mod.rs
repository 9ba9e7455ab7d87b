//! Integration suites of the KIS adapter (`KisBroker`) against `aegis sim` over real sockets,
//! with the simulator's faults switched on (issue #4, "Done when"); the simulator has a frozen
//! clock that the adapter reads.

mod flow;
mod overseas;
mod rate;
mod reconnect;
mod registrations;
mod tokens;
mod us_feed;

use aegis::domain::Symbol;
use aegis::domain::market::{ExecutionEvent, FeedStatus};
use aegis::kis::KisBroker;
use aegis::kis::config::KisConfig;
use aegis::sim::{SimConfig, SimHandle};
use std::time::Duration;

pub use crate::support::sim::{HTS, broker, day_at, tick};
pub use crate::support::wait::until;

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
    SimConfig { symbols: symbols(), ..crate::support::sim::frozen(&[], 11, rate) }
}

pub async fn start_sim(rate: Option<u32>) -> SimHandle {
    crate::support::sim::start(sim_config(rate)).await
}

/// The app key of test `n` (unique per test: the limiter is shared per app key in the process).
pub fn appkey(n: u8) -> String {
    crate::support::sim::appkey(n)
}

/// Paper settings pointed at `sim`, at `rps` requests per second, with fast retries and reconnects.
pub fn kis_config(sim: &SimHandle, key: u8, rps: u32) -> KisConfig {
    let mut cfg = crate::support::sim::kis_config(sim, &appkey(key), rps);
    cfg.retry.base_delay = Duration::from_millis(50);
    cfg.feed.reconnect_base = Duration::from_millis(20);
    cfg
}

/// A broker on the simulator's clock with an in-memory token store.
pub fn sim_broker(sim: &SimHandle, key: u8, rps: u32) -> KisBroker {
    crate::support::sim::sim_broker(sim, &kis_config(sim, key, rps))
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

pub fn is_connected(ev: &ExecutionEvent) -> bool {
    matches!(ev, ExecutionEvent::Status(FeedStatus::Connected { .. }))
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
