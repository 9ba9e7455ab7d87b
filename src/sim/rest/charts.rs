//! Chart endpoints: daily/weekly/monthly/yearly bars (≤ 100, newest first) and today's
//! one-minute bars (≤ 30, newest first).

// Handlers return the finished KIS error response as the `Err` value.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use chrono::{Datelike, NaiveDate, NaiveTime};

use super::super::Shared;
use super::super::fields as F;
use super::super::market::{Bar, SymbolMarket, pct};
use super::super::wire::{self, J};
use super::TrIds;
use super::quotes::{Resp, begin, code_of, quote_ok};

const DAILY: TrIds = TrIds { live: &["FHKST03010100"], paper: &["FHKST03010100"] };
const MINUTE: TrIds = TrIds { live: &["FHKST03010200"], paper: &["FHKST03010200"] };

fn chart_summary(m: Option<&SymbolMarket>, names: &[&str]) -> J {
    let Some(m) = m else {
        return wire::fields(names, |_| Some("0".to_owned()));
    };
    let (lo, hi) = m.band();
    let (diff, sign) = m.change(m.last);
    let prev = m.daily.last();
    wire::fields(names, |f| {
        Some(match f {
            "prdy_vrss" => diff.to_string(),
            "prdy_vrss_sign" => sign.to_owned(),
            "prdy_ctrt" => m.change_rate(m.last),
            "stck_prdy_clpr" => m.base.to_string(),
            "acml_vol" => m.volume.to_string(),
            "acml_tr_pbmn" => m.turnover.to_string(),
            "hts_kor_isnm" => m.inst.name.clone(),
            "stck_prpr" => m.last.to_string(),
            "stck_shrn_iscd" => m.inst.code.clone(),
            "prdy_vol" => m.prev_volume.to_string(),
            "stck_mxpr" => hi.to_string(),
            "stck_llam" => lo.to_string(),
            "stck_oprc" => m.open.to_string(),
            "stck_hgpr" => m.high.to_string(),
            "stck_lwpr" => m.low.to_string(),
            "stck_prdy_oprc" => prev.map_or(0, |b| b.open).to_string(),
            "stck_prdy_hgpr" => prev.map_or(0, |b| b.high).to_string(),
            "stck_prdy_lwpr" => prev.map_or(0, |b| b.low).to_string(),
            "askp" => m.best_ask().to_string(),
            "bidp" => m.best_bid().to_string(),
            "prdy_vrss_vol" => (m.volume - m.prev_volume).to_string(),
            "vol_tnrt" => pct(m.volume, m.inst.listed_shares.max(1)),
            "stck_fcam" => m.inst.par.to_string(),
            "lstn_stcn" => m.inst.listed_shares.to_string(),
            "cpfn" => (i128::from(m.inst.listed_shares) * i128::from(m.inst.par) / 100_000_000).to_string(),
            "hts_avls" => (i128::from(m.last) * i128::from(m.inst.listed_shares) / 100_000_000).to_string(),
            "per" | "eps" | "pbr" | "itewhol_loan_rmnd_ratem" => "0.00".to_owned(),
            _ => "0".to_owned(),
        })
    })
}

fn aggregate(bars: &[Bar], period: &str) -> Vec<Bar> {
    let key = |d: NaiveDate| -> (i32, u32) {
        match period {
            "W" => (d.iso_week().year(), d.iso_week().week()),
            "M" => (d.year(), d.month()),
            "Y" => (d.year(), 0),
            _ => (d.year(), d.ordinal()),
        }
    };
    let mut out: Vec<Bar> = Vec::new();
    for b in bars {
        match out.last_mut() {
            Some(a) if key(a.date) == key(b.date) => {
                a.date = b.date;
                a.high = a.high.max(b.high);
                a.low = a.low.min(b.low);
                a.close = b.close;
                a.volume += b.volume;
                a.turnover += b.turnover;
            }
            _ => out.push(b.clone()),
        }
    }
    out
}

/// `GET …/quotations/inquire-daily-itemchartprice`.
pub async fn daily_chart(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let (g, q) = match begin(&shared, &headers, raw, &DAILY, true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (st, _) = shared.lock_now();
    let m = st.markets.get(&code_of(&q, "FID_INPUT_ISCD"));
    let date = |k: &str| NaiveDate::parse_from_str(&code_of(&q, k), "%Y%m%d").ok();
    let from = date("FID_INPUT_DATE_1").unwrap_or(NaiveDate::MIN);
    let to = date("FID_INPUT_DATE_2").unwrap_or(NaiveDate::MAX);
    let period = code_of(&q, "FID_PERIOD_DIV_CODE").to_ascii_uppercase();
    let mut rows = Vec::new();
    if let Some(m) = m {
        let mut bars = m.daily.clone();
        if m.volume > 0 {
            bars.push(Bar {
                date: m.date,
                time: m.cursor.time(),
                open: m.open,
                high: m.high,
                low: m.low,
                close: m.last,
                volume: m.volume,
                turnover: m.turnover,
            });
        }
        bars.retain(|b| b.date >= from && b.date <= to);
        let agg = aggregate(&bars, &period);
        let mut prev_close: Option<i64> = None;
        let mut with_prev = Vec::with_capacity(agg.len());
        for b in agg {
            with_prev.push((prev_close, b.clone()));
            prev_close = Some(b.close);
        }
        for (prev, b) in with_prev.into_iter().rev().take(100) {
            let base = prev.unwrap_or(b.open);
            let diff = b.close - base;
            rows.push(wire::fields(F::DAILY_CHART_OUTPUT2, |f| {
                Some(match f {
                    "stck_bsop_date" => b.date.format("%Y%m%d").to_string(),
                    "stck_clpr" => b.close.to_string(),
                    "stck_oprc" => b.open.to_string(),
                    "stck_hgpr" => b.high.to_string(),
                    "stck_lwpr" => b.low.to_string(),
                    "acml_vol" => b.volume.to_string(),
                    "acml_tr_pbmn" => b.turnover.to_string(),
                    "flng_cls_code" => "00".to_owned(),
                    "prtt_rate" => "0.00".to_owned(),
                    "mod_yn" => "N".to_owned(),
                    "prdy_vrss_sign" => match diff {
                        d if d > 0 => "2",
                        d if d < 0 => "5",
                        _ => "3",
                    }
                    .to_owned(),
                    "prdy_vrss" => diff.to_string(),
                    _ => String::new(),
                })
            }));
        }
    }
    quote_ok(
        &g,
        vec![
            ("output1".to_owned(), chart_summary(m, F::DAILY_CHART_OUTPUT1)),
            ("output2".to_owned(), J::A(rows)),
        ],
    )
}

/// `GET …/quotations/inquire-time-itemchartprice`.
pub async fn time_chart(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let (g, q) = match begin(&shared, &headers, raw, &MINUTE, true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (st, _) = shared.lock_now();
    let m = st.markets.get(&code_of(&q, "FID_INPUT_ISCD"));
    let until =
        NaiveTime::parse_from_str(&code_of(&q, "FID_INPUT_HOUR_1"), "%H%M%S").unwrap_or(NaiveTime::MIN);
    let rows: Vec<J> = m
        .map(|m| {
            m.minutes
                .iter()
                .rev()
                .filter(|b| b.time <= until)
                .take(30)
                .map(|b| {
                    wire::fields(F::TIME_CHART_OUTPUT2, |f| {
                        Some(match f {
                            "stck_bsop_date" => b.date.format("%Y%m%d").to_string(),
                            "stck_cntg_hour" => b.time.format("%H%M%S").to_string(),
                            "stck_prpr" => b.close.to_string(),
                            "stck_oprc" => b.open.to_string(),
                            "stck_hgpr" => b.high.to_string(),
                            "stck_lwpr" => b.low.to_string(),
                            "cntg_vol" => b.volume.to_string(),
                            "acml_tr_pbmn" => b.turnover.to_string(),
                            _ => String::new(),
                        })
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    quote_ok(
        &g,
        vec![
            ("output1".to_owned(), chart_summary(m, F::TIME_CHART_OUTPUT1)),
            ("output2".to_owned(), J::A(rows)),
        ],
    )
}
