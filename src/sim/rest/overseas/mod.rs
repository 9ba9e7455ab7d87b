//! The overseas (US) REST endpoints of overseas.md §3: quotations (`price`,
//! `inquire-asking-price`), account inquiries (`inquire-nccs`, `inquire-ccnl`, `inquire-balance`,
//! `inquire-present-balance`, `inquire-psamount`) and orders (`order`, `order-rvsecncl`). They go
//! through the same gate as the domestic ones (REST faults, app credentials, rate limit, token,
//! TR id of the mode), check the account like them (`OPSQ2000`) and answer a missing or invalid
//! required parameter with `OPSQ2001` `ERROR : INPUT INVALID_CHECK_<PARAM>`, the shape of the
//! domestic market-code check.

// Handlers return the finished KIS error response as the `Err` value.
#![allow(clippy::result_large_err)]

pub mod account;
pub mod orders;
pub mod quotes;

use std::collections::HashMap;

use axum::http::StatusCode;

use super::super::instruments::Listing;
use super::super::wire::{self, J, s};
use super::paging::{Page, Resp};
use super::{Gate, params};

/// The error of a missing or invalid required parameter (`OPSQ2001`, HTTP 500 like the domestic
/// market-code check; msg1 names the parameter as KIS does, `ERROR : INPUT INVALID_CHECK_…`).
pub fn invalid(param: &str, tr_id: &str) -> Resp {
    wire::gateway("OPSQ2001", &format!("ERROR : INPUT INVALID_CHECK_{param}"), Some(tr_id))
}

/// Checks that every parameter of `names` was sent (an empty value counts as sent).
///
/// # Errors
/// Returns the [`invalid`] response naming the first missing one.
pub fn require(q: &HashMap<String, String>, names: &[&str], tr_id: &str) -> Result<(), Resp> {
    match names.iter().find(|n| !q.contains_key(**n)) {
        Some(n) => Err(invalid(n, tr_id)),
        None => Ok(()),
    }
}

/// Returns a parameter, trimmed (empty when absent).
pub fn get(q: &HashMap<String, String>, k: &str) -> String {
    q.get(k).map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// Parses the query (UPPERCASE keys).
pub fn query(raw: Option<&str>) -> HashMap<String, String> {
    params(raw)
}

/// The trading exchange codes of overseas.md §1.1 (`OVRS_EXCG_CD`).
pub const OVRS_EXCG_CDS: &[&str] = &["NASD", "NYSE", "AMEX", "SEHK", "SHAA", "SZAA", "TKSE", "HASE", "VNSE"];

/// The quotation exchange codes of overseas.md §1.1 (`EXCD`).
pub const EXCDS: &[&str] =
    &["NAS", "NYS", "AMS", "BAQ", "BAY", "BAA", "HKS", "TSE", "SHS", "SZS", "SHI", "SZI", "HSX", "HNX"];

/// Which US listings an exchange filter selects: `Some(None)` every US exchange, `Some(Some(l))`
/// one of them, `None` no US listing (another country's market).
pub type UsFilter = Option<Option<Listing>>;

/// Returns the US listings an `OVRS_EXCG_CD` of an inquiry selects: `NASD` (and `%`, `""`) means
/// every US exchange where `nasd_all`, Nasdaq otherwise; `NAS` Nasdaq only.
pub fn us_filter(code: &str, nasd_all: bool) -> UsFilter {
    match code {
        "" | "%" => Some(None),
        "NASD" if nasd_all => Some(None),
        "NASD" | "NAS" => Some(Some(Listing::Nasdaq)),
        "NYSE" => Some(Some(Listing::Nyse)),
        "AMEX" => Some(Some(Listing::Amex)),
        _ => None,
    }
}

/// Returns true when `listing` passes `filter`.
pub fn passes(filter: UsFilter, listing: Listing) -> bool {
    match filter {
        Some(None) => listing.is_us(),
        Some(Some(l)) => l == listing,
        None => false,
    }
}

/// Right-pads a 200-character paging key (when the setting says so).
pub fn ctx200(key: &str, pad: bool) -> String {
    if pad { format!("{key:<200}") } else { key.to_owned() }
}

/// A paged answer: `ctx_area_fk200`, `ctx_area_nk200`, the rows under `out_key`, `extra`
/// outputs, then `rt_cd`/`msg_cd`/`msg1` (msg1 padded to 80 EUC-KR bytes) and header `tr_cont`.
pub(super) fn page_response200(
    g: &Gate,
    fk: &str,
    page: Page,
    out_key: &str,
    extra: Vec<(String, J)>,
    pad: bool,
) -> Resp {
    let cont = page.tr_cont();
    let (code, text) = page.msg();
    let mut pairs = vec![
        ("ctx_area_fk200".to_owned(), s(ctx200(fk, pad))),
        ("ctx_area_nk200".to_owned(), s(ctx200(&page.nk, pad))),
        (out_key.to_owned(), J::A(page.rows)),
    ];
    pairs.extend(extra);
    pairs.extend(wire::head("0", code, &wire::pad_euckr(text, 80)));
    wire::respond(StatusCode::OK, Some(&g.tr_id), Some(cont), &J::O(pairs))
}

/// An account inquiry answer without paging (msg1 padded to 80 EUC-KR bytes).
pub fn inquiry(g: &Gate, outputs: Vec<(String, J)>) -> Resp {
    let mut pairs = outputs;
    pairs.extend(wire::head("0", "KIOK0510", &wire::pad_euckr(wire::msg::KIOK0510, 80)));
    wire::respond(StatusCode::OK, Some(&g.tr_id), None, &J::O(pairs))
}
