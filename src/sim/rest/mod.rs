//! REST routing and the checks every KIS call goes through: REST faults, app key / secret
//! headers, the per-app-key rate limit, the bearer token and the TR id valid for the mode.

// Handlers return the finished KIS error response as the `Err` value; boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod account;
pub mod auth;
pub mod charts;
pub mod inquiries;
pub mod orders;
pub mod overseas;
pub mod paging;
pub mod quotes;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Response, StatusCode};
use axum::middleware::{self, Next};
use axum::routing::{get, post};

use super::Shared;
use super::faults::take;
use super::wire::{self, msg};
use crate::domain::Mode;

/// TR ids an endpoint accepts per mode (current and legacy).
#[derive(Debug, Clone, Copy)]
pub struct TrIds {
    /// Live TR ids.
    pub live: &'static [&'static str],
    /// Paper TR ids (empty: live only).
    pub paper: &'static [&'static str],
}

/// What a passed gate knows about the caller.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The request's TR id.
    pub tr_id: String,
    /// The caller's app key.
    pub appkey: String,
    /// Request header `tr_cont` (`N` asks for the next page).
    pub tr_cont: String,
}

const TRADING: &str = "/uapi/domestic-stock/v1/trading";
const QUOTES: &str = "/uapi/domestic-stock/v1/quotations";
const OVRS_TRADING: &str = "/uapi/overseas-stock/v1/trading";
const OVRS_QUOTES: &str = "/uapi/overseas-price/v1/quotations";

/// Builds the full router: KIS REST, WebSocket upgrades, master files and the admin API.
pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/oauth2/tokenP", post(auth::token))
        .route("/oauth2/revokeP", post(auth::revoke))
        .route("/oauth2/Approval", post(auth::approval))
        .route("/uapi/hashkey", post(auth::hashkey))
        .route(&format!("{TRADING}/order-cash"), post(orders::order_cash))
        .route(&format!("{TRADING}/order-rvsecncl"), post(orders::order_rvsecncl))
        .route(&format!("{TRADING}/inquire-psbl-rvsecncl"), get(inquiries::psbl_rvsecncl))
        .route(&format!("{TRADING}/inquire-daily-ccld"), get(inquiries::daily_ccld))
        .route(&format!("{TRADING}/inquire-balance"), get(account::balance))
        .route(&format!("{TRADING}/inquire-psbl-order"), get(account::psbl_order))
        .route(&format!("{TRADING}/inquire-psbl-sell"), get(account::psbl_sell))
        .route(&format!("{TRADING}/inquire-period-trade-profit"), get(account::period_trade_profit))
        .route(&format!("{QUOTES}/inquire-price"), get(quotes::inquire_price))
        .route(&format!("{QUOTES}/chk-holiday"), get(quotes::chk_holiday))
        .route(&format!("{QUOTES}/inquire-asking-price-exp-ccn"), get(quotes::asking_price))
        .route(&format!("{QUOTES}/search-info"), get(quotes::search_info))
        .route(&format!("{QUOTES}/search-stock-info"), get(quotes::search_stock_info))
        .route(&format!("{QUOTES}/inquire-daily-itemchartprice"), get(charts::daily_chart))
        .route(&format!("{QUOTES}/inquire-time-itemchartprice"), get(charts::time_chart))
        .route(&format!("{OVRS_TRADING}/order"), post(overseas::orders::order))
        .route(&format!("{OVRS_TRADING}/order-rvsecncl"), post(overseas::orders::order_rvsecncl))
        .route(&format!("{OVRS_TRADING}/inquire-nccs"), get(overseas::account::nccs))
        .route(&format!("{OVRS_TRADING}/inquire-ccnl"), get(overseas::account::ccnl))
        .route(&format!("{OVRS_TRADING}/inquire-balance"), get(overseas::account::balance))
        .route(&format!("{OVRS_TRADING}/inquire-present-balance"), get(overseas::account::present_balance))
        .route(&format!("{OVRS_TRADING}/inquire-psamount"), get(overseas::account::psamount))
        .route(&format!("{OVRS_QUOTES}/price"), get(overseas::quotes::price))
        .route(&format!("{OVRS_QUOTES}/inquire-asking-price"), get(overseas::quotes::asking_price))
        .fallback(unknown)
        .layer(middleware::from_fn_with_state(shared.clone(), rest_faults))
        .layer(middleware::from_fn(echo_gt_uid));
    Router::new()
        .route("/", get(super::ws::upgrade))
        .route("/tryitout", get(super::ws::upgrade))
        .route("/tryitout/{tr}", get(super::ws::upgrade))
        .route("/common/master/{name}", get(super::master::serve))
        .nest("/__sim", super::admin::router())
        .merge(api)
        .with_state(shared)
}

/// Echoes a corporate caller's `gt_uid` request header on the answer, as the gateway does (the
/// name stays lowercase on the wire).
async fn echo_gt_uid(req: Request, next: Next) -> Response<Body> {
    let gt_uid = req.headers().get("gt_uid").cloned();
    let mut r = next.run(req).await;
    if let Some(v) = gt_uid {
        r.headers_mut().insert("gt_uid", v);
    }
    r
}

async fn unknown() -> Response<Body> {
    let mut r = wire::gateway("OPSQ0002", msg::OPSQ0002, None);
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

async fn rest_faults(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let (hang, delay, fail) = {
        let mut st = shared.lock();
        let hang = st.faults.hang_paths.iter().any(|p| !p.is_empty() && path.contains(p.as_str()));
        let fail = take(&mut st.faults.rest_5xx).then_some(st.faults.rest_5xx_status);
        (hang, st.faults.delay_ms, fail)
    };
    if hang {
        shared.cancel.cancelled().await;
        return wire::gateway("EGW00302", "거래시간 초과", None);
    }
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(status) = fail {
        if status == 500 {
            return wire::gateway("EGW00203", msg::EGW00203, None);
        }
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        return r;
    }
    next.run(req).await
}

/// Returns a header value as text (empty when absent or not UTF-8).
pub fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().trim().to_owned()
}

/// Parses a query string into a map with UPPERCASE keys.
pub fn params(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.to_ascii_uppercase(), v.into_owned()))
        .collect()
}

/// Checks app credentials (shared by the gate and the hashkey endpoint).
pub fn check_app(
    shared: &Shared,
    headers: &HeaderMap,
    tr_id: Option<&str>,
) -> Result<String, Response<Body>> {
    let appkey = header(headers, "appkey");
    let secret = header(headers, "appsecret");
    let st = shared.lock();
    if appkey.is_empty() {
        return Err(wire::gateway("EGW00102", msg::EGW00102, tr_id));
    }
    if appkey.len() != 36 || st.cfg.app_key.as_ref().is_some_and(|k| *k != appkey) {
        return Err(wire::gateway("EGW00103", msg::EGW00103, tr_id));
    }
    if secret.is_empty() {
        return Err(wire::gateway("EGW00104", "AppSecret은 필수입니다.", tr_id));
    }
    if secret.len() != 180 || st.cfg.app_secret.as_ref().is_some_and(|s| *s != secret) {
        return Err(wire::gateway("EGW00105", msg::EGW00105, tr_id));
    }
    Ok(appkey)
}

/// Counts a call against the app key's rate limit (and any rate-limit storm).
pub fn check_rate(shared: &Shared, appkey: &str, tr_id: Option<&str>) -> Result<(), Response<Body>> {
    let mut st = shared.lock();
    if take(&mut st.faults.rate_limit_storm) || !st.admit(appkey, Instant::now()) {
        return Err(wire::gateway("EGW00201", msg::EGW00201, tr_id));
    }
    Ok(())
}

/// Runs every check of an authenticated KIS call and returns the caller's identity.
///
/// # Errors
/// Returns the exact KIS error response of the first failed check.
pub fn gate(shared: &Shared, headers: &HeaderMap, tr: &TrIds) -> Result<Gate, Response<Body>> {
    gate_ids(shared, headers, tr.live, tr.paper)
}

/// [`gate`] with TR ids known only at run time (settings such as the paper US sell TR).
///
/// # Errors
/// Returns the exact KIS error response of the first failed check.
pub fn gate_ids(
    shared: &Shared,
    headers: &HeaderMap,
    live: &[&str],
    paper: &[&str],
) -> Result<Gate, Response<Body>> {
    let tr_id = header(headers, "tr_id");
    let echo = (!tr_id.is_empty()).then_some(tr_id.as_str());
    let appkey = check_app(shared, headers, echo)?;
    check_rate(shared, &appkey, echo)?;
    let auth = header(headers, "authorization");
    let Some(token) = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer ")) else {
        return Err(wire::gateway("EGW00205", msg::EGW00205, echo));
    };
    let now = shared.clock.now();
    {
        let st = shared.lock();
        match st.tokens.iter().find(|t| t.token == token.trim() && t.appkey == appkey) {
            None => return Err(wire::gateway("EGW00121", msg::EGW00121, echo)),
            Some(t) if t.revoked => return Err(wire::gateway("EGW00121", msg::EGW00121, echo)),
            Some(t) if now >= t.expires => return Err(wire::gateway("EGW00123", msg::EGW00123, echo)),
            Some(_) => {}
        }
        let allowed = match st.cfg.mode {
            Mode::Live => live,
            Mode::Paper => paper,
        };
        if !allowed.contains(&tr_id.as_str()) {
            let live_only = st.cfg.mode == Mode::Paper && paper.is_empty() && !tr_id.is_empty();
            let wrong_family = st.cfg.mode == Mode::Paper && live.contains(&tr_id.as_str());
            if live_only || wrong_family {
                return Err(wire::gateway("EGW00213", msg::EGW00213, echo));
            }
            return Err(wire::gateway("OPSQ0002", msg::OPSQ0002, echo));
        }
    }
    Ok(Gate { tr_id, appkey, tr_cont: header(headers, "tr_cont") })
}

/// Resolves `CANO` + `ACNT_PRDT_CD` to a served account (`OPSQ2000` otherwise).
///
/// # Errors
/// Returns the `OPSQ2000` response for an unknown account.
pub fn account(shared: &Shared, cano: &str, prdt: &str, tr_id: &str) -> Result<String, Response<Body>> {
    let key = format!("{cano}{prdt}");
    if cano.len() == 8 && prdt.len() == 2 && shared.lock().accounts.contains_key(&key) {
        Ok(key)
    } else {
        Err(wire::gateway("OPSQ2000", msg::OPSQ2000, Some(tr_id)))
    }
}
