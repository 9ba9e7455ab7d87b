//! Overseas order endpoints: `POST …/overseas-stock/v1/trading/order` (US buy `TTTT1002U`, sell
//! `TTTT1006U`; paper `VTTT1002U` and the configurable paper sell id, default `VTTT1001U`) and
//! `…/order-rvsecncl` (`TTTT1004U` / `VTTT1004U`).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode};

use super::super::super::Shared;
use super::super::super::matching::Reject;
use super::super::super::state::Order;
use super::super::super::us::matching::{UsAmend, UsOrder};
use super::super::super::us::records::order_time;
use super::super::super::us::rules::parse_price;
use super::super::super::wire::{self, J, head, msg, obj, s};
use super::super::orders::{answer, field, parse_body, reject};
use super::super::{account, gate_ids};
use super::invalid;
use crate::domain::{Mode, Side};

const BUY: (&str, &str) = ("TTTT1002U", "VTTT1002U");
const RVSECNCL: &[&str] = &["TTTT1004U"];
const RVSECNCL_PAPER: &[&str] = &["VTTT1004U"];

/// The US exchanges an order may name (`OVRS_EXCG_CD`).
const US_EXCHANGES: &[&str] = &["NASD", "NYSE", "AMEX"];

fn accepted(shared: &Shared, o: &Order, tr_id: &str) -> Response<Body> {
    let (branch, local_times) = {
        let st = shared.lock();
        (st.cfg.branch.clone(), st.cfg.us.local_times)
    };
    let mut pairs = head("0", "APBK0013", msg::APBK0013);
    pairs.push((
        "output".to_owned(),
        obj([
            ("KRX_FWDG_ORD_ORGNO", s(branch)),
            ("ODNO", s(format!("{:010}", o.odno))),
            ("ORD_TMD", s(order_time(o.time, local_times))),
        ]),
    ));
    wire::respond(StatusCode::OK, Some(tr_id), None, &J::O(pairs))
}

/// Checks that the body has every key of `names` (an empty value counts as present).
fn require_body(v: &serde_json::Value, names: &[&str], tr_id: &str) -> Result<(), Response<Body>> {
    let has = |k: &str| v.as_object().is_some_and(|o| o.keys().any(|x| x.eq_ignore_ascii_case(k)));
    match names.iter().find(|n| !has(n)) {
        Some(n) => Err(invalid(n, tr_id)),
        None => Ok(()),
    }
}

/// Reads a body value by key, case-insensitively (UPPERCASE is the documented spelling).
fn value(v: &serde_json::Value, key: &str) -> String {
    let direct = field(v, key);
    if !direct.is_empty() {
        return direct;
    }
    v.as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
        .and_then(|(_, x)| x.as_str())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn qty_of(v: &serde_json::Value) -> Option<i64> {
    let t = value(v, "ORD_QTY");
    t.parse::<i64>().ok().filter(|n| (0..=9_999_999_999).contains(n))
}

/// The price of a body in 0.0001 USD (`Err` rejects the order: not a number, or finer than
/// $0.0001).
fn price_of(v: &serde_json::Value) -> Result<i64, Reject> {
    match parse_price(&value(v, "OVRS_ORD_UNPR")) {
        Some(Ok(p)) => Ok(p),
        _ => Err(Reject::OffTick),
    }
}

/// `POST …/overseas-stock/v1/trading/order`.
pub async fn order(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let (mode, sell_paper) = {
        let st = shared.lock();
        (st.cfg.mode, st.cfg.us.paper_sell_tr.clone())
    };
    let live = [BUY.0, "TTTT1006U"];
    let paper = [BUY.1, sell_paper.as_str()];
    let g = match gate_ids(&shared, &headers, &live, &paper) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let side = match mode {
        Mode::Live if g.tr_id == BUY.0 => Side::Buy,
        Mode::Paper if g.tr_id == BUY.1 => Side::Buy,
        _ => Side::Sell,
    };
    let v = match parse_body(&headers, &body, &g.tr_id) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let acct = match account(&shared, &value(&v, "CANO"), &value(&v, "ACNT_PRDT_CD"), &g.tr_id) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let required = ["OVRS_EXCG_CD", "PDNO", "ORD_QTY", "OVRS_ORD_UNPR", "ORD_SVR_DVSN_CD", "ORD_DVSN"];
    if let Err(r) = require_body(&v, &required, &g.tr_id) {
        return r;
    }
    let exchange = value(&v, "OVRS_EXCG_CD").to_ascii_uppercase();
    if !US_EXCHANGES.contains(&exchange.as_str()) {
        return invalid("OVRS_EXCG_CD", &g.tr_id);
    }
    let Some(qty) = qty_of(&v) else {
        return reject(Reject::BadQty, &g.tr_id);
    };
    let price = match price_of(&v) {
        Ok(p) => p,
        Err(e) => return reject(e, &g.tr_id),
    };
    let req = UsOrder {
        account: acct,
        exchange,
        symbol: value(&v, "PDNO").to_ascii_uppercase(),
        side,
        ord_dvsn: value(&v, "ORD_DVSN"),
        qty,
        price,
    };
    let now = shared.clock.now();
    let result = shared.lock().place_us(req, now);
    answer(&shared, result, &g.tr_id, accepted).await
}

/// `POST …/overseas-stock/v1/trading/order-rvsecncl`.
pub async fn order_rvsecncl(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let g = match gate_ids(&shared, &headers, RVSECNCL, RVSECNCL_PAPER) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let v = match parse_body(&headers, &body, &g.tr_id) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let acct = match account(&shared, &value(&v, "CANO"), &value(&v, "ACNT_PRDT_CD"), &g.tr_id) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let required = [
        "OVRS_EXCG_CD",
        "PDNO",
        "ORGN_ODNO",
        "RVSE_CNCL_DVSN_CD",
        "ORD_QTY",
        "OVRS_ORD_UNPR",
        "ORD_SVR_DVSN_CD",
    ];
    if let Err(r) = require_body(&v, &required, &g.tr_id) {
        return r;
    }
    let exchange = value(&v, "OVRS_EXCG_CD").to_ascii_uppercase();
    if !US_EXCHANGES.contains(&exchange.as_str()) {
        return invalid("OVRS_EXCG_CD", &g.tr_id);
    }
    let Ok(orig) = value(&v, "ORGN_ODNO").parse::<u64>() else {
        return reject(Reject::NoOrder, &g.tr_id);
    };
    let cancel = match value(&v, "RVSE_CNCL_DVSN_CD").as_str() {
        "01" => false,
        "02" => true,
        _ => return reject(Reject::OrderType, &g.tr_id),
    };
    let Some(qty) = qty_of(&v) else {
        return reject(Reject::BadQty, &g.tr_id);
    };
    let price = if cancel {
        0
    } else {
        match price_of(&v) {
            Ok(p) => p,
            Err(e) => return reject(e, &g.tr_id),
        }
    };
    let req = UsAmend {
        account: acct,
        exchange,
        symbol: value(&v, "PDNO").to_ascii_uppercase(),
        orig,
        cancel,
        qty,
        price,
    };
    let now = shared.clock.now();
    let result = shared.lock().amend_us(req, now);
    answer(&shared, result, &g.tr_id, accepted).await
}
