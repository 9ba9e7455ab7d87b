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
    json!({
        "now": now.to_rfc3339(),
        "speed": shared.clock.speed(),
        "mode": st.cfg.mode.as_str(),
        "trading_date": st.date.format("%Y-%m-%d").to_string(),
        "hts_id": st.cfg.hts_id,
        "commission_rate": st.cfg.commission_rate.to_string(),
        "sell_tax_rate": st.cfg.sell_tax_rate.to_string(),
        "accounts": st.accounts.iter().map(|(k, a)| json!({
            "account": k, "cash": a.cash.to_string(), "reserved": a.reserved.to_string(),
            "initial_cash": a.initial_cash.to_string(), "holdings": a.holdings,
        })).collect::<Vec<_>>(),
        "orders": st.orders.values().collect::<Vec<_>>(),
        "fills": st.fills,
        "notices_sent": st.notices_sent,
        "tokens": st.tokens,
        "approval_keys": st.approvals,
        "ws_sessions": st.sessions.values().collect::<Vec<_>>(),
        "faults": st.faults,
        "markets": markets,
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
    price: i64,
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

async fn market(State(shared): State<Arc<Shared>>, body: Bytes) -> Response<Body> {
    let Ok(cmd) = serde_json::from_slice::<MarketCmd>(&body) else {
        return bad("expected {\"symbol\":code, \"price\":number, \"qty\":number?}");
    };
    match set_price(&shared, &cmd.symbol, cmd.price, cmd.qty) {
        Ok(()) => json_response(StatusCode::OK, &json!({"ok": true})),
        Err(e) => bad(&e.to_string()),
    }
}
