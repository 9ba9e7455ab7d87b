//! Order endpoints: `order-cash` (buy/sell) and `order-rvsecncl` (modify/cancel).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode};

use super::super::Shared;
use super::super::matching::{Amend, NewOrder, Reject};
use super::super::state::Order;
use super::super::wire::{self, J, head, msg, obj, s};
use super::{TrIds, account, gate, header};
use crate::domain::Side;

const CASH_SELL: TrIds = TrIds { live: &["TTTC0011U", "TTTC0801U"], paper: &["VTTC0011U", "VTTC0801U"] };
const CASH_BUY: TrIds = TrIds { live: &["TTTC0012U", "TTTC0802U"], paper: &["VTTC0012U", "VTTC0802U"] };
const CASH_ALL: TrIds = TrIds {
    live: &["TTTC0011U", "TTTC0801U", "TTTC0012U", "TTTC0802U"],
    paper: &["VTTC0011U", "VTTC0801U", "VTTC0012U", "VTTC0802U"],
};
const RVSECNCL: TrIds = TrIds { live: &["TTTC0013U", "TTTC0803U"], paper: &["VTTC0013U", "VTTC0803U"] };

pub(super) fn field(v: &serde_json::Value, key: &str) -> String {
    v.get(key).and_then(serde_json::Value::as_str).unwrap_or_default().trim().to_owned()
}

/// Parses a numeric body field (at most 10 digits, like `ORD_QTY`; prices fit as well).
fn int(v: &serde_json::Value, key: &str) -> Option<i64> {
    let t = field(v, key);
    if t.is_empty() { Some(0) } else { t.parse::<i64>().ok().filter(|n| (0..=9_999_999_999).contains(n)) }
}

pub(super) fn parse_body(
    headers: &HeaderMap,
    body: &Bytes,
    tr_id: &str,
) -> Result<serde_json::Value, Response<Body>> {
    let hk = header(headers, "hashkey");
    if !hk.is_empty() && hk != super::auth::hash_of(body) {
        return Err(wire::gateway("EGW00131", msg::EGW00131, Some(tr_id)));
    }
    serde_json::from_slice(body).map_err(|_| wire::gateway("OPSQ9997", msg::OPSQ9997, Some(tr_id)))
}

pub(super) fn reject(r: Reject, tr_id: &str) -> Response<Body> {
    let (rt, code, text) = r.wire();
    wire::business(rt, code, text, tr_id)
}

fn accepted(shared: &Shared, o: &Order, tr_id: &str) -> Response<Body> {
    let branch = shared.lock().cfg.branch.clone();
    let mut pairs = head("0", "APBK0013", msg::APBK0013);
    pairs.push((
        "output".to_owned(),
        obj([
            ("KRX_FWDG_ORD_ORGNO", s(branch)),
            ("ODNO", s(format!("{:010}", o.odno))),
            ("ORD_TMD", s(o.time.format("%H%M%S"))),
        ]),
    ));
    wire::respond(StatusCode::OK, Some(tr_id), None, &J::O(pairs))
}

/// Answers an order, modify or cancel (domestic or overseas): an accepted one through
/// `accepted` after the `hang_after_order` fault had its chance (the order is recorded before
/// the connection hangs, as at KIS), a refused one with its business error.
pub(super) async fn answer(
    shared: &Shared,
    result: Result<Order, Reject>,
    tr_id: &str,
    accepted: fn(&Shared, &Order, &str) -> Response<Body>,
) -> Response<Body> {
    match result {
        Ok(o) => {
            maybe_hang(shared).await;
            accepted(shared, &o, tr_id)
        }
        Err(r) => reject(r, tr_id),
    }
}

pub(super) async fn maybe_hang(shared: &Shared) {
    let hang = super::super::faults::take(&mut shared.lock().faults.hang_after_order);
    if hang {
        shared.cancel.cancelled().await;
    }
}

/// `POST …/trading/order-cash`.
pub async fn order_cash(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let g = match gate(&shared, &headers, &CASH_ALL) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let side = if CASH_SELL.live.contains(&g.tr_id.as_str()) || CASH_SELL.paper.contains(&g.tr_id.as_str()) {
        Side::Sell
    } else if CASH_BUY.live.contains(&g.tr_id.as_str()) || CASH_BUY.paper.contains(&g.tr_id.as_str()) {
        Side::Buy
    } else {
        return wire::gateway("OPSQ0002", msg::OPSQ0002, Some(&g.tr_id));
    };
    let v = match parse_body(&headers, &body, &g.tr_id) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let acct = match account(&shared, &field(&v, "CANO"), &field(&v, "ACNT_PRDT_CD"), &g.tr_id) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (Some(qty), Some(price)) = (int(&v, "ORD_QTY"), int(&v, "ORD_UNPR")) else {
        return reject(Reject::BadQty, &g.tr_id);
    };
    let venue = match field(&v, "EXCG_ID_DVSN_CD") {
        e if e.is_empty() => "KRX".to_owned(),
        e => e,
    };
    let req = NewOrder {
        account: acct,
        symbol: field(&v, "PDNO"),
        side,
        ord_dvsn: field(&v, "ORD_DVSN"),
        qty,
        price,
        venue,
    };
    let now = shared.clock.now();
    let result = shared.lock().place(req, now);
    answer(&shared, result, &g.tr_id, accepted).await
}

/// `POST …/trading/order-rvsecncl`.
pub async fn order_rvsecncl(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let g = match gate(&shared, &headers, &RVSECNCL) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let v = match parse_body(&headers, &body, &g.tr_id) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let acct = match account(&shared, &field(&v, "CANO"), &field(&v, "ACNT_PRDT_CD"), &g.tr_id) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(orig) = field(&v, "ORGN_ODNO").parse::<u64>() else {
        return reject(Reject::NoOrder, &g.tr_id);
    };
    let cancel = match field(&v, "RVSE_CNCL_DVSN_CD").as_str() {
        "01" => false,
        "02" => true,
        _ => return reject(Reject::OrderType, &g.tr_id),
    };
    let (Some(qty), Some(price)) = (int(&v, "ORD_QTY"), int(&v, "ORD_UNPR")) else {
        return reject(Reject::BadQty, &g.tr_id);
    };
    let branch = field(&v, "KRX_FWDG_ORD_ORGNO");
    if !branch.is_empty() && branch != shared.lock().cfg.branch {
        return reject(Reject::NoOrder, &g.tr_id);
    }
    let req = Amend {
        account: acct,
        orig,
        cancel,
        ord_dvsn: field(&v, "ORD_DVSN"),
        qty,
        price,
        all: field(&v, "QTY_ALL_ORD_YN").eq_ignore_ascii_case("Y"),
    };
    let now = shared.clock.now();
    let result = shared.lock().amend(req, now);
    answer(&shared, result, &g.tr_id, accepted).await
}
