//! A simulated trading day with several concurrent random clients: fills never exceed order
//! quantities, cash and holdings reconcile with fills, commission and tax, and every fill
//! appears once in inquire-daily-ccld and exactly once as a notice.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aegis::domain::Mode;
use aegis::sim::SimConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde_json::Value;

use super::*;

const SYMBOLS: [&str; 3] = ["005930", "000660", "069500"];

async fn last_price(c: &Client, code: &str) -> i64 {
    let r = c
        .get(
            "/uapi/domestic-stock/v1/quotations/inquire-price",
            "FHKST01010100",
            &[("FID_COND_MRKT_DIV_CODE", "J"), ("FID_INPUT_ISCD", code)],
        )
        .await;
    num(&r.body["output"]["stck_prpr"])
}

async fn trader(c: Client, seed: u64, done: Arc<std::sync::atomic::AtomicBool>) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut mine: Vec<String> = Vec::new();
    let mut accepted = 0;
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let code = SYMBOLS[rng.random_range(0..SYMBOLS.len())];
        let roll: f64 = rng.random();
        if roll < 0.15 && !mine.is_empty() {
            let o = mine[rng.random_range(0..mine.len())].clone();
            let _ = c.amend(&o, true, "00", 0, 0, true).await;
            continue;
        }
        let buy = rng.random_bool(0.6);
        let qty = rng.random_range(1..=20);
        let r = if roll < 0.45 {
            c.order(buy, code, "01", qty, 0).await
        } else {
            let last = last_price(&c, code).await;
            let tick = if code == "069500" {
                5
            } else if last < 200_000 {
                100
            } else {
                500
            };
            let off = rng.random_range(-3_i64..=3) * tick;
            c.order(buy, code, "00", qty, last + off).await
        };
        if r.msg_cd() == "APBK0013" {
            accepted += 1;
            mine.push(odno(&r));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    accepted
}

#[tokio::test]
async fn a_simulated_day_keeps_its_invariants() {
    let cfg = SimConfig {
        symbols: SYMBOLS.iter().map(|s| (*s).to_owned()).collect(),
        start: Some(day_at(9, 0)),
        cash: Decimal::from(1_000_000_000),
        ..config(Mode::Live)
    };
    let sim = start_with(cfg).await;
    let watcher = Client::new(&sim, 99, Mode::Live).await;
    let key = watcher.approval().await;
    let mut ws = ws_connect(&sim, "/tryitout").await;
    let ack = subscribe(&mut ws, &key, "H0STCNI0", HTS).await;
    let (k, iv) = (
        ack["body"]["output"]["key"].as_str().unwrap().to_owned(),
        ack["body"]["output"]["iv"].as_str().unwrap().to_owned(),
    );
    let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let sink = seen.clone();
    let reader = tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(Ok(m)) = ws.next().await {
            if let Some(b64) = m.to_text().ok().and_then(|t| t.strip_prefix("1|H0STCNI0|001|")) {
                let f: Vec<String> = decrypt(&k, &iv, b64).split('^').map(str::to_owned).collect();
                sink.lock().unwrap().push(f);
            }
        }
    });

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..4_u8 {
        let c = Client::new(&sim, i + 1, Mode::Live).await;
        tasks.push(tokio::spawn(trader(c, u64::from(i) + 11, done.clone())));
    }
    for _ in 0..78 {
        sim.advance(Duration::from_secs(300));
        tokio::time::sleep(Duration::from_millis(8)).await;
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.unwrap();
    }
    assert!(accepted > 50, "the clients traded: {accepted}");

    let st = sim.state();
    let fills = st["fills"].as_array().unwrap().clone();
    assert!(!fills.is_empty());
    for o in st["orders"].as_array().unwrap() {
        let q = o["qty"].as_i64().unwrap();
        let filled = o["filled"].as_i64().unwrap();
        assert!(filled + o["closed"].as_i64().unwrap() + o["rejected"].as_i64().unwrap() <= q, "{o}");
        let from_fills: i64 =
            fills.iter().filter(|f| f["odno"] == o["odno"]).map(|f| f["qty"].as_i64().unwrap()).sum();
        assert_eq!(from_fills, filled);
    }

    let rate = Decimal::new(15, 5);
    let tax_rate = Decimal::new(20, 4);
    let mut cash = Decimal::from(1_000_000_000);
    let mut held: BTreeMap<String, i64> = BTreeMap::new();
    for f in &fills {
        let amount = Decimal::from(f["price"].as_i64().unwrap() * f["qty"].as_i64().unwrap());
        let comm: Decimal = f["commission"].as_str().unwrap().parse().unwrap();
        let tax: Decimal = f["tax"].as_str().unwrap().parse().unwrap();
        assert_eq!(comm, (amount * rate).floor());
        let q = f["qty"].as_i64().unwrap();
        let e = held.entry(f["symbol"].as_str().unwrap().to_owned()).or_default();
        if f["side"] == "BUY" {
            assert_eq!(tax, Decimal::ZERO);
            cash -= amount + comm;
            *e += q;
        } else {
            assert_eq!(tax, (amount * tax_rate).floor());
            cash += amount - comm - tax;
            *e -= q;
        }
    }
    let acct = &st["accounts"][0];
    assert_eq!(acct["cash"].as_str().unwrap().parse::<Decimal>().unwrap(), cash);
    let open_reserved: Decimal = st["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "Open")
        .map(|o| o["reserved"].as_str().unwrap().parse::<Decimal>().unwrap())
        .sum();
    assert_eq!(
        acct["reserved"].as_str().unwrap().parse::<Decimal>().unwrap(),
        open_reserved,
        "reservations cover open buys"
    );

    let b = watcher.balance().await;
    assert_eq!(num(&b.body["output2"][0]["dnca_tot_amt"]), cash.round().to_string().parse::<i64>().unwrap());
    for row in b.body["output1"].as_array().unwrap() {
        assert_eq!(num(&row["hldg_qty"]), held.get(row["pdno"].as_str().unwrap()).copied().unwrap_or(0));
    }

    let rows = watcher.daily_ccld_all().await;
    let mut by_order: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rows {
        assert!(
            by_order.insert(r["odno"].as_str().unwrap().to_owned(), num(&r["tot_ccld_qty"])).is_none(),
            "one row per order"
        );
    }
    for o in st["orders"].as_array().unwrap() {
        let id = format!("{:010}", o["odno"].as_u64().unwrap());
        assert_eq!(by_order.get(&id).copied(), Some(o["filled"].as_i64().unwrap()));
    }

    let mut want: Vec<(String, i64, i64)> = fills
        .iter()
        .map(|f| {
            (
                format!("{:010}", f["odno"].as_u64().unwrap()),
                f["qty"].as_i64().unwrap(),
                f["price"].as_i64().unwrap(),
            )
        })
        .collect();
    want.sort();
    let mut got = Vec::new();
    for _ in 0..300 {
        got = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|n| n[13] == "2")
            .map(|n| (n[2].clone(), n[9].parse::<i64>().unwrap(), n[10].parse::<i64>().unwrap()))
            .collect();
        if got.len() >= want.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    got.sort();
    assert_eq!(got, want, "every fill exactly once as a notice");
    reader.abort();

    sim.set_time(chrono::DateTime::parse_from_rfc3339("2026-03-04T08:00:00+09:00").unwrap());
    let next: Value = sim.state();
    assert_eq!(next["trading_date"], "2026-03-04");
    assert_eq!(next["accounts"][0]["reserved"], "0", "day orders expire at the close");
    assert!(next["orders"].as_array().unwrap().iter().all(|o| o["status"] != "Open"));
}
