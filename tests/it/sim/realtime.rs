//! The simulator at real-time speed (`--speed 1`, the default) and a little faster (5×), as a
//! user subscribing to a large cap sees it: trade and book frames arrive within 2 s of
//! subscribing, `GET /__sim/state` shows the volume growing, and a resting limit order fills when
//! the market trades through its price. The clock runs on its own here, so every wait is bounded
//! by a deadline rather than measured.

use std::time::Duration;

use aegis::domain::Mode;
use aegis::sim::SimConfig;
use futures::StreamExt;
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{Client, Ws, config, day_at, odno, start_with, subscribe, ws_connect};

const SYMBOL: &str = "005930";

fn running(speed: f64) -> SimConfig {
    SimConfig { speed, start: Some(day_at(9, 30)), ..config(Mode::Paper) }
}

async fn admin_state(http: &reqwest::Client, base: &str) -> Value {
    http.get(format!("{base}/__sim/state")).send().await.unwrap().json().await.unwrap()
}

fn market<'a>(state: &'a Value, symbol: &str) -> &'a Value {
    state["markets"].as_array().unwrap().iter().find(|m| m["symbol"] == symbol).unwrap()
}

/// Reads data frames until both TRs were seen or `deadline` passes; returns the TRs seen.
async fn frames_until(ws: &mut Ws, deadline: Instant) -> (bool, bool) {
    let (mut trade, mut book) = (false, false);
    while !(trade && book) {
        let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout_at(deadline, ws.next()).await else {
            break;
        };
        let t = t.as_str();
        if t.starts_with("0|H0STCNT0|") {
            assert!(t.contains(SYMBOL), "{t}");
            trade = true;
        } else if t.starts_with("0|H0STASP0|") {
            book = true;
        }
    }
    (trade, book)
}

async fn streams_trades_and_fills_resting_orders(speed: f64) {
    let sim = start_with(running(speed)).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;
    let key = c.approval().await;
    let mut ws = ws_connect(&sim, "/tryitout").await;
    subscribe(&mut ws, &key, "H0STCNT0", SYMBOL).await;
    subscribe(&mut ws, &key, "H0STASP0", SYMBOL).await;
    let subscribed = Instant::now();
    let (trade, book) = frames_until(&mut ws, subscribed + Duration::from_secs(2)).await;
    assert!(trade && book, "speed {speed}: trade frame {trade}, book frame {book} within 2 s of subscribing");

    let before = market(&admin_state(&c.http, &sim.rest_url).await, SYMBOL)["volume"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = market(&admin_state(&c.http, &sim.rest_url).await, SYMBOL)["volume"].as_i64().unwrap();
        if now > before {
            break;
        }
        assert!(Instant::now() < deadline, "speed {speed}: volume stuck at {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A buy at the last price rests (the best ask is a tick above) and fills on the next print
    // at or below it.
    let last = market(&admin_state(&c.http, &sim.rest_url).await, SYMBOL)["last"].as_i64().unwrap();
    let r = c.order(true, SYMBOL, "00", 1, last).await;
    assert_eq!(r.rt_cd(), "0", "{:?}", r.body);
    let no: u64 = odno(&r).parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = admin_state(&c.http, &sim.rest_url).await;
        let order = state["orders"].as_array().unwrap().iter().find(|o| o["odno"] == no).unwrap().clone();
        if order["filled"] == 1 {
            let fill = state["fills"].as_array().unwrap().iter().find(|f| f["odno"] == no).unwrap();
            assert!(fill["price"].as_i64().unwrap() <= last, "{fill}");
            break;
        }
        assert!(Instant::now() < deadline, "speed {speed}: the resting buy at {last} never filled: {order}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn at_real_time_speed_the_market_trades_streams_and_fills() {
    streams_trades_and_fills_resting_orders(1.0).await;
}

#[tokio::test]
async fn at_five_times_speed_the_market_trades_streams_and_fills() {
    streams_trades_and_fills_resting_orders(5.0).await;
}
