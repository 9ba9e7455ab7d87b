//! The simulator (`aegis sim` in-process on port 0) and clients against it: the shared account,
//! credentials and trading day, a frozen-clock configuration, the KIS adapter pointed at a
//! simulator, and reads of the simulator's admin state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aegis::app::SimTimeClock;
use aegis::domain::Mode;
use aegis::kis::KisBroker;
use aegis::kis::config::KisConfig;
use aegis::ports::{Clock, InMemoryTokenStore, Secret, TokenStore};
use aegis::sim::{Sim, SimConfig, SimHandle};
use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde_json::Value;
use url::Url;

/// The simulator's default account, whole and split as KIS wants it (CANO, ACNT_PRDT_CD).
pub const ACCOUNT: &str = "50000000-01";
pub const CANO: &str = "50000000";
pub const PRDT: &str = "01";
/// The simulator's default HTS id (the fill-notice subscription key).
pub const HTS: &str = "simuser";

/// 2026-03-03, a Tuesday and a KRX trading day (2026-03-04 follows), at `hh:mm` KST.
pub fn day_at(hh: u32, mm: u32) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(&format!("2026-03-03T{hh:02}:{mm:02}:00+09:00")).unwrap()
}

/// A 36-character app key unique to `n` (the adapter's rate limiter is shared per app key in a
/// process, and the simulator throttles token issuance per app key).
pub fn appkey(n: u8) -> String {
    format!("PS{n:0>34}")
}

/// A 180-character app secret.
pub fn secret() -> String {
    "s".repeat(180)
}

/// A paper simulator on the default account, frozen at 10:00 on [`day_at`]'s day, trading
/// `symbols`, allowing `rate_limit` REST calls per second (`None`: the paper default of 2/s).
pub fn frozen(symbols: &[&str], seed: u64, rate_limit: Option<u32>) -> SimConfig {
    SimConfig {
        symbols: symbols.iter().map(|s| (*s).to_owned()).collect(),
        start: Some(day_at(10, 0)),
        speed: 0.0,
        seed,
        rate_limit,
        ..SimConfig::default()
    }
}

/// Starts a simulator on port 0.
pub async fn start(cfg: SimConfig) -> SimHandle {
    Sim::start(cfg).await.expect("sim start")
}

/// Paper adapter settings pointed at `sim` with app key `appkey`, at `rps` requests per second,
/// with no paging delay.
pub fn kis_config(sim: &SimHandle, appkey: &str, rps: u32) -> KisConfig {
    let mut cfg =
        KisConfig::defaults(Mode::Paper, Secret::new(appkey), Secret::new(secret()), Secret::new(HTS))
            .unwrap();
    cfg = cfg.with_endpoints(
        Url::parse(&sim.rest_url).unwrap(),
        Url::parse(&format!("{}/tryitout", sim.ws_url)).unwrap(),
    );
    cfg.requests_per_second = rps;
    cfg.page_delay = Duration::ZERO;
    cfg
}

/// The KIS adapter on the default account.
pub fn broker(cfg: &KisConfig, store: Arc<dyn TokenStore>, clock: Arc<dyn Clock>) -> KisBroker {
    KisBroker::new(cfg, ACCOUNT, store, clock).unwrap()
}

/// The KIS adapter on the simulator's clock with an in-memory token store.
pub fn sim_broker(sim: &SimHandle, cfg: &KisConfig) -> KisBroker {
    broker(cfg, Arc::new(InMemoryTokenStore::new()), Arc::new(SimTimeClock(sim.clock().clone())))
}

/// A number of the simulator's state or of a KIS body (a JSON number or a numeric string).
pub fn dec(v: &Value) -> Decimal {
    match v {
        Value::Number(n) => n.to_string().parse().unwrap(),
        Value::String(s) => s.trim().parse().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

/// The simulator's orders (admin state).
pub fn orders(sim: &SimHandle) -> Vec<Value> {
    sim.state()["orders"].as_array().cloned().unwrap_or_default()
}

/// The holdings of the first account that are not flat: symbol → quantity.
pub fn holdings(state: &Value) -> BTreeMap<String, Decimal> {
    state["accounts"][0]["holdings"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(s, h)| (s.clone(), dec(&h["qty"])))
        .filter(|(_, q)| !q.is_zero())
        .collect()
}

/// Tick size of the KRX grid at `price` (since 2023-01-25).
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

/// The query of inquire-balance (REFERENCE.md §4.5) on the default account, first page.
pub const BALANCE_QUERY: [(&str, &str); 11] = [
    ("CANO", CANO),
    ("ACNT_PRDT_CD", PRDT),
    ("AFHR_FLPR_YN", "N"),
    ("OFL_YN", ""),
    ("INQR_DVSN", "02"),
    ("UNPR_DVSN", "01"),
    ("FUND_STTL_ICLD_YN", "N"),
    ("FNCG_AMT_AUTO_RDPT_YN", "N"),
    ("PRCS_DVSN", "00"),
    ("CTX_AREA_FK100", ""),
    ("CTX_AREA_NK100", ""),
];

/// The query of inquire-daily-ccld (REFERENCE.md §4.4) on the default account: every order of
/// `date` (`YYYYMMDD`), newest first (`order` "00") or oldest first ("01"), at the page keys
/// `fk` / `nk` (empty for the first page).
pub fn daily_ccld_query<'a>(
    date: &'a str,
    order: &'a str,
    fk: &'a str,
    nk: &'a str,
) -> [(&'a str, &'a str); 15] {
    [
        ("CANO", CANO),
        ("ACNT_PRDT_CD", PRDT),
        ("INQR_STRT_DT", date),
        ("INQR_END_DT", date),
        ("SLL_BUY_DVSN_CD", "00"),
        ("PDNO", ""),
        ("ORD_GNO_BRNO", ""),
        ("ODNO", ""),
        ("CCLD_DVSN", "00"),
        ("INQR_DVSN", order),
        ("INQR_DVSN_1", ""),
        ("INQR_DVSN_3", "00"),
        ("EXCG_ID_DVSN_CD", "KRX"),
        ("CTX_AREA_FK100", fk),
        ("CTX_AREA_NK100", nk),
    ]
}
