//! Quotation endpoints: current price, book, holidays, product info and daily/minute charts.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Response, StatusCode};
use chrono::{Datelike, NaiveDate, TimeDelta};

use super::super::Shared;
use super::super::fields as F;
use super::super::market::{SymbolMarket, pct, tick_size};
use super::super::wire::{self, J, msg, pad_euckr, s};
use super::{Gate, TrIds, gate, params};
use crate::domain::Mode;

const PRICE: TrIds = TrIds { live: &["FHKST01010100"], paper: &["FHKST01010100"] };
const ASKING: TrIds = TrIds { live: &["FHKST01010200"], paper: &["FHKST01010200"] };
const HOLIDAY: TrIds = TrIds { live: &["CTCA0903R"], paper: &[] };
const SEARCH_INFO: TrIds = TrIds { live: &["CTPF1604R"], paper: &[] };
const SEARCH_STOCK: TrIds = TrIds { live: &["CTPF1002R"], paper: &[] };

/// A finished response.
pub type Resp = Response<Body>;

pub(super) fn quote_ok(g: &Gate, payload: Vec<(String, J)>) -> Resp {
    let mut pairs = payload;
    pairs.extend(wire::head("0", "MCA00000", msg::MCA00000));
    wire::respond(StatusCode::OK, Some(&g.tr_id), None, &J::O(pairs))
}

pub(super) fn begin(
    shared: &Shared,
    headers: &HeaderMap,
    raw: Option<String>,
    tr: &TrIds,
    market_code: bool,
) -> Result<(Gate, HashMap<String, String>), Resp> {
    let g = gate(shared, headers, tr)?;
    let q = params(raw.as_deref());
    if market_code {
        let div = q.get("FID_COND_MRKT_DIV_CODE").map(|s| s.trim().to_ascii_uppercase()).unwrap_or_default();
        let ok = match shared.lock().cfg.mode {
            Mode::Live => matches!(div.as_str(), "J" | "NX" | "UN"),
            Mode::Paper => div == "J",
        };
        if !ok {
            return Err(wire::gateway("OPSQ2001", msg::OPSQ2001, Some(&g.tr_id)));
        }
    }
    Ok((g, q))
}

pub(super) fn code_of(q: &HashMap<String, String>, key: &str) -> String {
    q.get(key).map(|v| v.trim().to_owned()).unwrap_or_default()
}

fn price_fields(m: Option<&SymbolMarket>) -> J {
    let Some(m) = m else {
        return wire::fields(F::INQUIRE_PRICE, |_| Some("0".to_owned()));
    };
    let (lo, hi) = m.band();
    let (diff, sign) = m.change(m.last);
    let w52_hi = m.daily.iter().map(|b| b.high).max().unwrap_or(m.last).max(m.high);
    let w52_lo = m.daily.iter().map(|b| b.low).min().unwrap_or(m.last);
    let date_of = |p: i64, high: bool| {
        m.daily
            .iter()
            .rev()
            .find(|b| if high { b.high == p } else { b.low == p })
            .map_or_else(String::new, |b| b.date.format("%Y%m%d").to_string())
    };
    let wavg = if m.volume > 0 { m.turnover / m.volume } else { m.last };
    wire::fields(F::INQUIRE_PRICE, |f| {
        Some(match f {
            "iscd_stat_cls_code" => "55".to_owned(),
            "marg_rate" => "20.00".to_owned(),
            "rprs_mrkt_kor_name" => m.inst.listing.korean_name().to_owned(),
            "new_hgpr_lwpr_cls_code"
            | "bstp_kor_isnm"
            | "grmn_rate_cls_code"
            | "fcam_cnnm"
            | "cpfn_cnnm"
            | "stac_month" => String::new(),
            "temp_stop_yn" | "oprc_rang_cont_yn" | "clpr_rang_cont_yn" | "elw_pblc_yn" | "ssts_yn"
            | "invt_caful_yn" | "short_over_yn" | "sltr_yn" => "N".to_owned(),
            "crdt_able_yn" => "Y".to_owned(),
            "vi_cls_code" | "ovtm_vi_cls_code" => "N".to_owned(),
            "mrkt_warn_cls_code" | "mang_issu_cls_code" => "00".to_owned(),
            "stck_prpr" => m.last.to_string(),
            "prdy_vrss" => diff.to_string(),
            "prdy_vrss_sign" => sign.to_owned(),
            "prdy_ctrt" => m.change_rate(m.last),
            "acml_tr_pbmn" => m.turnover.to_string(),
            "acml_vol" => m.volume.to_string(),
            "prdy_vrss_vol_rate" => pct(m.volume, m.prev_volume.max(1)),
            "stck_oprc" => m.open.to_string(),
            "stck_hgpr" => m.high.to_string(),
            "stck_lwpr" => m.low.to_string(),
            "stck_mxpr" => hi.to_string(),
            "stck_llam" => lo.to_string(),
            "stck_sdpr" => m.base.to_string(),
            "wghn_avrg_stck_prc" => format!("{wavg}.00"),
            "stck_fcam" => m.inst.par.to_string(),
            "aspr_unit" => tick_size(m.last, m.flat()).to_string(),
            "hts_deal_qty_unit_val" => "1".to_owned(),
            "lstn_stcn" => m.inst.listed_shares.to_string(),
            "hts_avls" => (i128::from(m.last) * i128::from(m.inst.listed_shares) / 100_000_000).to_string(),
            "vol_tnrt" => pct(m.volume, m.inst.listed_shares.max(1)),
            "d250_hgpr" | "stck_dryy_hgpr" | "w52_hgpr" => w52_hi.to_string(),
            "d250_lwpr" | "stck_dryy_lwpr" | "w52_lwpr" => w52_lo.to_string(),
            "d250_hgpr_date" | "dryy_hgpr_date" | "w52_hgpr_date" => date_of(w52_hi, true),
            "d250_lwpr_date" | "dryy_lwpr_date" | "w52_lwpr_date" => date_of(w52_lo, false),
            "d250_hgpr_vrss_prpr_rate" | "dryy_hgpr_vrss_prpr_rate" | "w52_hgpr_vrss_prpr_ctrt" => {
                pct(m.last - w52_hi, w52_hi.max(1))
            }
            "d250_lwpr_vrss_prpr_rate" | "dryy_lwpr_vrss_prpr_rate" | "w52_lwpr_vrss_prpr_ctrt" => {
                pct(m.last - w52_lo, w52_lo.max(1))
            }
            "stck_shrn_iscd" => m.inst.code.clone(),
            "per" | "pbr" | "eps" | "bps" | "hts_frgn_ehrt" | "whol_loan_rmnd_rate" | "apprch_rate" => {
                "0.00".to_owned()
            }
            _ => "0".to_owned(),
        })
    })
}

/// `GET …/quotations/inquire-price`.
pub async fn inquire_price(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let (g, q) = match begin(&shared, &headers, raw, &PRICE, true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (st, _) = shared.lock_now();
    let out = price_fields(st.markets.get(&code_of(&q, "FID_INPUT_ISCD")));
    quote_ok(&g, vec![("output".to_owned(), out)])
}

/// `GET …/quotations/inquire-asking-price-exp-ccn`.
pub async fn asking_price(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let (g, q) = match begin(&shared, &headers, raw, &ASKING, true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (st, now) = shared.lock_now();
    let m = st.markets.get(&code_of(&q, "FID_INPUT_ISCD"));
    let level = |side: &str, n: usize, qty: bool| -> String {
        let Some(m) = m else { return "0".to_owned() };
        let book = if side == "ask" { &m.book.asks } else { &m.book.bids };
        book.get(n.saturating_sub(1)).map_or(0, |l| if qty { l.1 } else { l.0 }).to_string()
    };
    let total = |ask: bool| {
        m.map_or(0, |m| if ask { &m.book.asks } else { &m.book.bids }.iter().map(|l| l.1).sum::<i64>())
    };
    let out1 = wire::fields(F::ASKING_OUTPUT1, |f| {
        let num = |p: &str| f.strip_prefix(p).and_then(|n| n.parse::<usize>().ok());
        Some(if f == "aspr_acpt_hour" {
            now.format("%H%M%S").to_string()
        } else if let Some(n) = num("askp_rsqn_icdc").or_else(|| num("bidp_rsqn_icdc")) {
            let _ = n;
            "0".to_owned()
        } else if let Some(n) = num("askp_rsqn") {
            level("ask", n, true)
        } else if let Some(n) = num("bidp_rsqn") {
            level("bid", n, true)
        } else if let Some(n) = num("askp") {
            level("ask", n, false)
        } else if let Some(n) = num("bidp") {
            level("bid", n, false)
        } else {
            match f {
                "total_askp_rsqn" => total(true).to_string(),
                "total_bidp_rsqn" => total(false).to_string(),
                "ntby_aspr_rsqn" => (total(false) - total(true)).to_string(),
                "new_mkop_cls_code" => "20".to_owned(),
                _ => "0".to_owned(),
            }
        })
    });
    let out2 = wire::fields(F::ASKING_OUTPUT2, |f| {
        let Some(m) = m else { return Some("0".to_owned()) };
        Some(match f {
            "antc_mkop_cls_code" => "112".to_owned(),
            "stck_prpr" => m.last.to_string(),
            "stck_oprc" => m.open.to_string(),
            "stck_hgpr" => m.high.to_string(),
            "stck_lwpr" => m.low.to_string(),
            "stck_sdpr" => m.base.to_string(),
            "antc_cnpr" => m.open.to_string(),
            "antc_cntg_vrss_sign" => m.change(m.open.max(1)).1.to_owned(),
            "antc_cntg_vrss" => {
                if m.open > 0 {
                    (m.open - m.base).to_string()
                } else {
                    "0".to_owned()
                }
            }
            "antc_cntg_prdy_ctrt" => {
                if m.open > 0 {
                    m.change_rate(m.open)
                } else {
                    "0.00".to_owned()
                }
            }
            "antc_vol" => "0".to_owned(),
            "stck_shrn_iscd" => m.inst.code.clone(),
            "vi_cls_code" => "N".to_owned(),
            _ => "0".to_owned(),
        })
    });
    quote_ok(&g, vec![("output1".to_owned(), out1), ("output2".to_owned(), out2)])
}

/// `GET …/quotations/chk-holiday` (live only).
pub async fn chk_holiday(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let (g, q) = match begin(&shared, &headers, raw, &HOLIDAY, false) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let st = shared.lock();
    let mut start = NaiveDate::parse_from_str(&code_of(&q, "BASS_DT"), "%Y%m%d")
        .unwrap_or_else(|_| shared.clock.now().date_naive());
    let nk = code_of(&q, "CTX_AREA_NK");
    if g.tr_cont == "N"
        && let Ok(d) = NaiveDate::parse_from_str(nk.trim(), "%Y%m%d")
    {
        start = d;
    }
    let rows: Vec<J> = (0..23)
        .filter_map(|i| start.checked_add_signed(TimeDelta::days(i)))
        .map(|d| {
            let open = st.calendar.is_trading_day(d);
            let yn = |b: bool| if b { "Y" } else { "N" }.to_owned();
            wire::fields(F::CHK_HOLIDAY, |f| {
                Some(match f {
                    "bass_dt" => d.format("%Y%m%d").to_string(),
                    "wday_dvsn_cd" => format!("{:02}", d.weekday().num_days_from_sunday() + 1),
                    _ => yn(open),
                })
            })
        })
        .collect();
    let next = start.checked_add_signed(TimeDelta::days(23)).unwrap_or(start).format("%Y%m%d").to_string();
    let mut pairs = vec![
        ("ctx_area_nk".to_owned(), s(format!("{next:<20}"))),
        ("ctx_area_fk".to_owned(), s(format!("{:<20}", start.format("%Y%m%d")))),
        ("output".to_owned(), J::A(rows)),
    ];
    pairs.extend(wire::head("0", "KIOK0500", &pad_euckr(msg::KIOK0500, 80)));
    wire::respond(StatusCode::OK, Some(&g.tr_id), Some("M"), &J::O(pairs))
}

fn not_found(g: &Gate) -> Resp {
    wire::business("7", "KIOK0560", &pad_euckr("조회할 내용이 없습니다", 80), &g.tr_id)
}

fn padded_ok(g: &Gate, out: J) -> Resp {
    let mut pairs = vec![("output".to_owned(), out)];
    pairs.extend(wire::head("0", "KIOK0530", &pad_euckr(msg::KIOK0530, 80)));
    wire::respond(StatusCode::OK, Some(&g.tr_id), None, &J::O(pairs))
}

/// `GET …/quotations/search-info` (live only).
pub async fn search_info(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let (g, q) = match begin(&shared, &headers, raw, &SEARCH_INFO, false) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let st = shared.lock();
    let kind = code_of(&q, "PRDT_TYPE_CD");
    let Some(m) = st.markets.get(&code_of(&q, "PDNO")).filter(|_| kind == "300") else {
        return not_found(&g);
    };
    let i = &m.inst;
    let out = wire::fields(F::SEARCH_INFO, |f| {
        Some(match f {
            "pdno" | "shtn_pdno" => i.code.clone(),
            "prdt_type_cd" => kind.clone(),
            "prdt_name" | "prdt_name120" | "prdt_abrv_name" => i.name.clone(),
            "prdt_eng_name" | "prdt_eng_name120" | "prdt_eng_abrv_name" => i.eng_name.clone(),
            "std_pdno" => i.isin.clone(),
            "prdt_clsf_cd" => "101110".to_owned(),
            "prdt_clsf_name" => "국내주식".to_owned(),
            "ivst_prdt_type_cd" => "1011".to_owned(),
            "ivst_prdt_type_cd_name" => "국내주식".to_owned(),
            "frst_erlm_dt" => i.listed_on.to_owned(),
            _ => String::new(),
        })
    });
    padded_ok(&g, out)
}

/// `GET …/quotations/search-stock-info` (live only).
pub async fn search_stock_info(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let (g, q) = match begin(&shared, &headers, raw, &SEARCH_STOCK, false) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (st, _) = shared.lock_now();
    let kind = code_of(&q, "PRDT_TYPE_CD");
    let Some(m) = st.markets.get(&code_of(&q, "PDNO")).filter(|_| kind == "300") else {
        return not_found(&g);
    };
    let i = &m.inst;
    let kospi = i.listing == super::super::instruments::Listing::Kospi;
    let out = wire::fields(F::SEARCH_STOCK_INFO, |f| {
        Some(match f {
            "pdno" => super::account::padded_pdno(&i.code),
            "prdt_type_cd" => kind.clone(),
            "mket_id_cd" => i.listing.market_id().to_owned(),
            "scty_grp_id_cd" => i.group.to_owned(),
            "excg_dvsn_cd" => i.listing.exchange_code().to_owned(),
            "setl_mmdd" => "12".to_owned(),
            "lstg_stqt" => i.listed_shares.to_string(),
            "lstg_cptl_amt" | "cpta" => (i128::from(i.listed_shares) * i128::from(i.par)).to_string(),
            "papr" => i.par.to_string(),
            "issu_pric" => i.par.to_string(),
            "kospi200_item_yn" => if kospi && i.group == "ST" { "Y" } else { "N" }.to_owned(),
            "scts_mket_lstg_dt" => if kospi { i.listed_on } else { "" }.to_owned(),
            "kosdaq_mket_lstg_dt" => if kospi { "" } else { i.listed_on }.to_owned(),
            "stck_kind_cd" => "101".to_owned(),
            "prdt_name" | "prdt_name120" => format!("{}보통주", i.name),
            "prdt_abrv_name" => i.name.clone(),
            "std_pdno" => i.isin.clone(),
            "prdt_eng_name" | "prdt_eng_name120" | "prdt_eng_abrv_name" => i.eng_name.clone(),
            "sbst_pric" | "thco_sbst_pric" => (m.base * 7 / 10).to_string(),
            "tr_stop_yn"
            | "admn_item_yn"
            | "nxt_tr_stop_yn"
            | "oilf_fund_yn"
            | "crfd_item_yn"
            | "etf_etn_ivst_heed_item_yn" => "N".to_owned(),
            "dpsi_aptm_erlm_yn" | "elec_scty_yn" | "cptt_trad_tr_psbl_yn" => "Y".to_owned(),
            "thdt_clpr" => m.last.to_string(),
            "bfdy_clpr" => m.base.to_string(),
            "etf_cu_qty" => "0".to_owned(),
            "etf_chas_erng_rt_dbnb" | "frnr_psnl_lmt_rt" => "0".to_owned(),
            _ => String::new(),
        })
    });
    padded_ok(&g, out)
}
