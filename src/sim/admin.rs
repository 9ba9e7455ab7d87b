//! The admin API under `/__sim/` (JSON): state snapshot, clock control, fault injection and
//! market prints. The same controls are methods on `SimHandle`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Response, StatusCode, header};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use serde_json::{Value, json};

use super::faults::FaultCommand;
use super::{Shared, SimError};

/// Routes of the admin API (nested under `/__sim`).
pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/state", get(state))
        .route("/clock", post(clock))
        .route("/faults", post(faults))
        .route("/market", post(market))
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    r
}

fn bad(msg: &str) -> Response<Body> {
    json_response(StatusCode::BAD_REQUEST, &json!({ "error": msg }))
}

/// Returns the full state snapshot served by `GET /__sim/state`.
pub fn snapshot(shared: &Shared) -> Value {
    let (st, now) = shared.lock_now();
    let markets: Vec<Value> = st
        .markets
        .values()
        .map(|m| {
            let (lo, hi) = m.band();
            json!({"symbol": m.inst.code, "name": m.inst.name, "last": m.last, "base": m.base, "lower": lo, "upper": hi,
                   "open": m.open, "high": m.high, "low": m.low, "volume": m.volume, "best_ask": m.best_ask(), "best_bid": m.best_bid(),
                   "activity": m.activity})
        })
        .collect();
    let us_markets: Vec<Value> = st
        .us_markets
        .values()
        .map(|m| {
            let usd = |p: i64| super::us::rules::fmt4(p);
            json!({"symbol": m.inst.code, "name": m.inst.name, "exchange": m.inst.listing.ovrs_excg_cd(),
                   "rsym": super::us::rsym(m), "last": usd(m.last), "base": usd(m.base), "open": usd(m.open),
                   "high": usd(m.high), "low": usd(m.low), "volume": m.volume, "best_ask": usd(m.best_ask()),
                   "best_bid": usd(m.best_bid()), "activity": m.activity})
        })
        .collect();
    json!({
        "now": now.to_rfc3339(),
        "speed": shared.clock.speed(),
        "mode": st.cfg.mode.as_str(),
        "trading_date": st.date.format("%Y-%m-%d").to_string(),
        "us_trading_date": st.us_date.format("%Y-%m-%d").to_string(),
        "hts_id": st.cfg.hts_id,
        "commission_rate": st.cfg.commission_rate.to_string(),
        "sell_tax_rate": st.cfg.sell_tax_rate.to_string(),
        "accounts": st.accounts.iter().map(|(k, a)| json!({
            "account": k, "cash": a.cash.to_string(), "reserved": a.reserved.to_string(),
            "initial_cash": a.initial_cash.to_string(), "holdings": a.holdings,
            "usd": {"cash": a.usd.cash.to_string(), "reserved": a.usd.reserved.to_string(),
                    "initial_cash": a.usd.initial_cash.to_string(), "holdings": a.usd.holdings},
        })).collect::<Vec<_>>(),
        "orders": st.orders.values().collect::<Vec<_>>(),
        "fills": st.fills,
        "notices_sent": st.notices_sent,
        "tokens": st.tokens,
        "approval_keys": st.approvals,
        "ws_sessions": st.sessions.values().collect::<Vec<_>>(),
        "faults": st.faults,
        "markets": markets,
        "us_markets": us_markets,
    })
}

async fn state(State(shared): State<Arc<Shared>>) -> Response<Body> {
    json_response(StatusCode::OK, &snapshot(&shared))
}

#[derive(Debug, Deserialize)]
struct ClockCmd {
    #[serde(default)]
    set: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    advance_secs: Option<f64>,
}

async fn clock(State(shared): State<Arc<Shared>>, body: Bytes) -> Response<Body> {
    let Ok(cmd) = serde_json::from_slice::<ClockCmd>(&body) else {
        return bad("expected {\"set\":RFC3339?, \"speed\":number?, \"advance_secs\":number?}");
    };
    if let Some(t) = cmd.set {
        shared.clock.set(t);
    }
    if let Some(s) = cmd.speed {
        shared.clock.set_speed(s);
    }
    if let Some(a) = cmd.advance_secs.filter(|a| a.is_finite() && *a >= 0.0) {
        shared.clock.advance(Duration::from_secs_f64(a.min(1e9)));
    }
    let now = shared.advance_now();
    json_response(StatusCode::OK, &json!({"now": now.to_rfc3339(), "speed": shared.clock.speed()}))
}

async fn faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response<Body> {
    let cmds: Vec<FaultCommand> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => match items.into_iter().map(serde_json::from_value).collect() {
            Ok(c) => c,
            Err(e) => return bad(&e.to_string()),
        },
        Ok(v) => match serde_json::from_value(v) {
            Ok(c) => vec![c],
            Err(e) => return bad(&e.to_string()),
        },
        Err(e) => return bad(&e.to_string()),
    };
    for c in &cmds {
        shared.inject(c);
    }
    let f = serde_json::to_value(&shared.lock().faults).unwrap_or(Value::Null);
    json_response(StatusCode::OK, &json!({ "faults": f }))
}

#[derive(Debug, Deserialize)]
struct MarketCmd {
    symbol: String,
    /// KRW (an integer) for a KRX symbol; USD (a number or decimal string) for a US symbol.
    price: Value,
    #[serde(default)]
    qty: Option<i64>,
}

/// Prints a trade at `price` for `symbol` and matches resting orders against it.
///
/// # Errors
/// Returns [`SimError::Admin`] for an unknown symbol.
pub fn set_price(shared: &Shared, symbol: &str, price: i64, qty: Option<i64>) -> Result<(), SimError> {
    let now = shared.clock.now();
    shared
        .lock()
        .force_print(symbol, price, qty.unwrap_or(1_000_000).clamp(1, 1_000_000_000), now)
        .map(|_| ())
        .ok_or_else(|| SimError::Admin(format!("unknown symbol {symbol}")))
}

/// Prints a trade at `price` USD for the US `symbol` and matches resting orders against it.
///
/// # Errors
/// Returns [`SimError::Admin`] for an unknown symbol or a price that is not a positive number
/// of at most four decimals.
pub fn set_us_price(
    shared: &Shared,
    symbol: &str,
    price: rust_decimal::Decimal,
    qty: Option<i64>,
) -> Result<(), SimError> {
    let units = super::us::rules::parse_price(&price.to_string())
        .and_then(Result::ok)
        .filter(|u| *u > 0)
        .ok_or_else(|| {
            SimError::Admin(format!("price {price} is not a positive USD price of at most 4 decimals"))
        })?;
    if !shared.lock().us_markets.contains_key(symbol) {
        return Err(SimError::Admin(format!("unknown US symbol {symbol}")));
    }
    set_price(shared, symbol, units, qty)
}

async fn market(State(shared): State<Arc<Shared>>, body: Bytes) -> Response<Body> {
    let Ok(cmd) = serde_json::from_slice::<MarketCmd>(&body) else {
        return bad("expected {\"symbol\":code, \"price\":number, \"qty\":number?}");
    };
    let us = shared.lock().us_markets.contains_key(&cmd.symbol);
    let text = match &cmd.price {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return bad("price must be a number"),
    };
    let result = if us {
        match text.parse::<rust_decimal::Decimal>() {
            Ok(p) => set_us_price(&shared, &cmd.symbol, p, cmd.qty),
            Err(_) => return bad("price must be a number"),
        }
    } else {
        match text.parse::<i64>() {
            Ok(p) => set_price(&shared, &cmd.symbol, p, cmd.qty),
            Err(_) => return bad("price of a KRX symbol must be a whole number of won"),
        }
    };
    match result {
        Ok(()) => json_response(StatusCode::OK, &json!({"ok": true})),
        Err(e) => bad(&e.to_string()),
    }
}
