//! Shared pieces of the account inquiries: KIS pagination (`tr_cont` F/M/D/E, 100-char
//! `ctx_area_*` keys), padded `msg1` envelopes, the request context and number formats.

// Handlers return the finished KIS error response as the `Err` value.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Response, StatusCode};
use rust_decimal::Decimal;

use super::super::Shared;
use super::super::state::SimState;
use super::super::wire::{self, J, msg, pad_euckr, pad100, s};
use super::{Gate, TrIds, account, gate, params};

/// A finished response.
pub type Resp = Response<Body>;

/// Returns the Korean name of an ORD_DVSN code.
pub fn ord_dvsn_name(code: &str) -> &'static str {
    match code {
        "00" => "지정가",
        "01" => "시장가",
        "03" => "최유리지정가",
        "04" => "최우선지정가",
        "11" => "IOC지정가",
        "12" => "FOK지정가",
        "13" => "IOC시장가",
        "14" => "FOK시장가",
        "15" => "IOC최유리",
        "16" => "FOK최유리",
        _ => "",
    }
}

pub(super) fn dec4(d: Decimal) -> String {
    format!("{:.4}", d.round_dp(4))
}

pub(super) fn dec8(d: Decimal) -> String {
    format!("{:.8}", d.round_dp(8))
}

pub(super) fn rate2(num: Decimal, den: Decimal) -> String {
    if den.is_zero() {
        "0.00".to_owned()
    } else {
        format!("{:.2}", (num * Decimal::from(100) / den).round_dp(2))
    }
}

/// One page of rows plus its paging header and keys.
pub(super) struct Page {
    pub(super) rows: Vec<J>,
    pub(super) more: bool,
    pub(super) first: bool,
    pub(super) nk: String,
}

impl Page {
    /// Returns the response header `tr_cont`: F/M while more pages follow, D/E on the last.
    pub(super) fn tr_cont(&self) -> &'static str {
        match (self.more, self.first) {
            (true, true) => "F",
            (true, false) => "M",
            (false, true) => "D",
            (false, false) => "E",
        }
    }

    /// Returns `msg_cd` and `msg1` of the page (more pages: KIOK0500, last: KIOK0510).
    pub(super) fn msg(&self) -> (&'static str, &'static str) {
        if self.more { ("KIOK0500", msg::KIOK0500) } else { ("KIOK0510", msg::KIOK0510) }
    }
}

pub(super) fn paginate(rows: Vec<(String, J)>, size: usize, g: &Gate, nk_in: &str) -> Page {
    paginate_with(rows, size, g, nk_in, |j| j)
}

/// Pages `items` (each with its continuation key) and builds JSON only for the rows of the
/// requested page, so listing a long day page by page stays linear.
pub(super) fn paginate_with<T>(
    items: Vec<(String, T)>,
    size: usize,
    g: &Gate,
    nk_in: &str,
    build: impl FnMut(T) -> J,
) -> Page {
    let nk_in = nk_in.trim();
    let first = g.tr_cont != "N" || nk_in.is_empty();
    let start =
        if first { 0 } else { items.iter().position(|(k, _)| k == nk_in).map_or(items.len(), |i| i + 1) };
    let end = (start + size).min(items.len());
    let more = end < items.len();
    let nk = if more {
        items.get(end.saturating_sub(1)).map(|(k, _)| k.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    let rows = items.into_iter().skip(start).take(end - start).map(|(_, t)| t).map(build).collect();
    Page { rows, more, first, nk }
}

pub(super) fn page_response(g: &Gate, fk: &str, page: Page, out1: &str, out2: Option<J>) -> Resp {
    let cont = match (page.more, page.first) {
        (true, true) => "F",
        (true, false) => "M",
        (false, true) => "D",
        (false, false) => "E",
    };
    let (code, text) = if page.more { ("KIOK0500", msg::KIOK0500) } else { ("KIOK0510", msg::KIOK0510) };
    let mut pairs = vec![
        ("ctx_area_fk100".to_owned(), s(pad100(fk))),
        ("ctx_area_nk100".to_owned(), s(pad100(&page.nk))),
        (out1.to_owned(), J::A(page.rows)),
    ];
    if let Some(o2) = out2 {
        pairs.push(("output2".to_owned(), o2));
    }
    pairs.extend(wire::head("0", code, &pad_euckr(text, 80)));
    wire::respond(StatusCode::OK, Some(&g.tr_id), Some(cont), &J::O(pairs))
}

pub(super) fn single(g: &Gate, code: &str, text: &str, output: J) -> Resp {
    let mut pairs = vec![("output".to_owned(), output)];
    pairs.extend(wire::head("0", code, &pad_euckr(text, 80)));
    wire::respond(StatusCode::OK, Some(&g.tr_id), None, &J::O(pairs))
}

pub(super) struct Ctx {
    pub(super) shared: Arc<Shared>,
    pub(super) g: Gate,
    pub(super) q: HashMap<String, String>,
    pub(super) acct: String,
}

pub(super) fn begin(
    shared: Arc<Shared>,
    headers: &HeaderMap,
    raw: Option<String>,
    tr: &TrIds,
) -> Result<Ctx, Resp> {
    let g = gate(&shared, headers, tr)?;
    let q = params(raw.as_deref());
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let acct = account(&shared, &get("CANO"), &get("ACNT_PRDT_CD"), &g.tr_id)?;
    Ok(Ctx { shared, g, q, acct })
}

impl Ctx {
    pub(super) fn get(&self, k: &str) -> String {
        self.q.get(k).map(|v| v.trim().to_owned()).unwrap_or_default()
    }
}

pub(super) fn name_of(st: &SimState, sym: &str) -> String {
    st.markets.get(sym).map_or_else(String::new, |m| m.inst.name.clone())
}

pub(super) fn exch_of(st: &SimState, sym: &str) -> &'static str {
    st.markets.get(sym).map_or("02", |m| m.inst.listing.exchange_code())
}
