//! Overseas account inquiries (overseas.md §3.5-§3.9): unfilled orders `inquire-nccs`
//! (TTTS3018R), orders and fills `inquire-ccnl` (TTTS3035R), balance `inquire-balance`
//! (TTTS3012R), present balance `inquire-present-balance` (CTRP6504R) and buying power
//! `inquire-psamount` (TTTS3007R); paper ids with a leading `V`. The pageable ones page with
//! `tr_cont` and the 200-character keys `ctx_area_fk200` / `ctx_area_nk200`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::super::super::Shared;
use super::super::super::instruments::Listing;
use super::super::super::state::{Market, Order, OrderKind, OrderStatus, SimState};
use super::super::super::us::fields as F;
use super::super::super::us::records::order_time;
use super::super::super::us::rules::{dollars, fmt_dp, fmt4};
use super::super::super::wire::{self, J};
use super::super::paging::{Resp, paginate_with};
use super::super::{Gate, account as check_account, gate_ids};
use super::{
    OVRS_EXCG_CDS, UsFilter, get, inquiry, invalid, page_response200, passes, query, require, us_filter,
};
use crate::domain::{Mode, Side};

const NCCS: (&[&str], &[&str]) = (&["TTTS3018R"], &["VTTS3018R"]);
const CCNL: (&[&str], &[&str]) = (&["TTTS3035R"], &["VTTS3035R"]);
const BALANCE: (&[&str], &[&str]) = (&["TTTS3012R"], &["VTTS3012R"]);
const PRESENT: (&[&str], &[&str]) = (&["CTRP6504R"], &["VTRP6504R"]);
const PSAMOUNT: (&[&str], &[&str]) = (&["TTTS3007R"], &["VTTS3007R"]);

/// Currency codes of `TR_CRCY_CD` (overseas.md §1.1).
const CURRENCIES: &[&str] = &["USD", "HKD", "CNY", "JPY", "VND"];

struct Ctx {
    shared: Arc<Shared>,
    g: Gate,
    q: HashMap<String, String>,
    acct: String,
}

impl Ctx {
    fn get(&self, k: &str) -> String {
        get(&self.q, k)
    }
}

/// Gate, account (`OPSQ2000`) and the presence of the other required parameters (`OPSQ2001`).
fn begin(
    shared: Arc<Shared>,
    headers: &HeaderMap,
    raw: Option<String>,
    trs: (&[&str], &[&str]),
    required: &[&str],
) -> Result<Ctx, Resp> {
    let g = gate_ids(&shared, headers, trs.0, trs.1)?;
    let q = query(raw.as_deref());
    let acct = check_account(&shared, &get(&q, "CANO"), &get(&q, "ACNT_PRDT_CD"), &g.tr_id)?;
    require(&q, required, &g.tr_id)?;
    Ok(Ctx { shared, g, q, acct })
}

fn usd(d: Decimal) -> String {
    fmt_dp(d, 2)
}

fn rate(num: Decimal, den: Decimal) -> String {
    if den.is_zero() { "0.00".to_owned() } else { fmt_dp(num * Decimal::from(100) / den, 2) }
}

fn krw(d: Decimal) -> String {
    fmt_dp(d, 0)
}

fn listing_of(st: &SimState, sym: &str) -> Option<Listing> {
    st.us_markets.get(sym).map(|m| m.inst.listing)
}

fn side_cd(o: &Order) -> &'static str {
    if o.side == Side::Sell { "01" } else { "02" }
}

fn rvse_cd(o: &Order) -> &'static str {
    match o.kind {
        OrderKind::New => "00",
        OrderKind::Modify => "01",
        OrderKind::Cancel => "02",
    }
}

fn avg_fill(o: &Order) -> i64 {
    if o.filled > 0 { o.filled_amt / o.filled } else { 0 }
}

/// US orders of the account under an exchange filter.
fn us_orders<'a>(st: &'a SimState, acct: &'a str, filter: UsFilter) -> impl Iterator<Item = &'a Order> + 'a {
    st.orders.values().filter(move |o| {
        o.market == Market::Us
            && o.account == acct
            && listing_of(st, &o.symbol).is_some_and(|l| passes(filter, l))
    })
}

/// `GET …/overseas-stock/v1/trading/inquire-nccs` (unfilled orders).
pub async fn nccs(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    let required = ["OVRS_EXCG_CD", "SORT_SQN", "CTX_AREA_FK200", "CTX_AREA_NK200"];
    let c = match begin(shared, &headers, raw, NCCS, &required) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let excg = c.get("OVRS_EXCG_CD").to_ascii_uppercase();
    if !OVRS_EXCG_CDS.contains(&excg.as_str()) {
        return invalid("OVRS_EXCG_CD", &c.g.tr_id);
    }
    let (st, _) = c.shared.lock_now();
    let filter = us_filter(&excg, true);
    let mut open: Vec<&Order> = us_orders(&st, &c.acct, filter).filter(|o| o.remaining() > 0).collect();
    if c.get("SORT_SQN") != "DS" {
        open.reverse();
    }
    let local_times = st.cfg.us.local_times;
    let build = |o: &Order| {
        wire::fields(F::NCCS, |f| {
            Some(match f {
                "ord_dt" => o.date.format("%Y%m%d").to_string(),
                "ord_gno_brno" => st.cfg.branch.clone(),
                "odno" => format!("{:010}", o.odno),
                "orgn_odno" => o.orig.map_or_else(String::new, |n| format!("{n:010}")),
                "pdno" => o.symbol.clone(),
                "sll_buy_dvsn_cd" => side_cd(o).to_owned(),
                "rvse_cncl_dvsn_cd" => rvse_cd(o).to_owned(),
                "ord_tmd" => order_time(o.time, local_times),
                "tr_crcy_cd" => "USD".to_owned(),
                "natn_cd" => "840".to_owned(),
                "ft_ord_qty" => o.qty.to_string(),
                "ft_ccld_qty" => o.filled.to_string(),
                "nccs_qty" => o.remaining().to_string(),
                "ft_ord_unpr3" => fmt4(o.price),
                "ft_ccld_unpr3" => fmt4(avg_fill(o)),
                "ft_ccld_amt3" => fmt4(o.filled_amt),
                "ovrs_excg_cd" => listing_of(&st, &o.symbol).map_or("", Listing::ovrs_excg_cd).to_owned(),
                "loan_type_cd" => "10".to_owned(),
                "usa_amk_exts_rqst_yn" => "N".to_owned(),
                _ => String::new(),
            })
        })
    };
    let size = if st.cfg.mode == Mode::Live { 40 } else { st.cfg.us.nccs_paper_page };
    let fk = format!("{}^{}^{excg}^{}^", c.get("CANO"), c.get("ACNT_PRDT_CD"), c.get("SORT_SQN"));
    let items = open.iter().map(|o| (format!("{}{:010}", o.date.format("%Y%m%d"), o.odno), *o)).collect();
    let page = paginate_with(items, size, &c.g, &c.get("CTX_AREA_NK200"), build);
    page_response200(&c.g, &fk, page, "output", Vec::new(), st.cfg.us.pad_ctx200)
}

fn date_param(c: &Ctx, k: &str) -> Result<NaiveDate, Resp> {
    NaiveDate::parse_from_str(&c.get(k), "%Y%m%d").map_err(|_| invalid(k, &c.g.tr_id))
}

/// `GET …/overseas-stock/v1/trading/inquire-ccnl` (orders and fills by exchange-local date).
pub async fn ccnl(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    let required = [
        "PDNO",
        "ORD_STRT_DT",
        "ORD_END_DT",
        "SLL_BUY_DVSN",
        "CCLD_NCCS_DVSN",
        "OVRS_EXCG_CD",
        "SORT_SQN",
        "CTX_AREA_NK200",
        "CTX_AREA_FK200",
    ];
    let c = match begin(shared, &headers, raw, CCNL, &required) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (from, to) = match (date_param(&c, "ORD_STRT_DT"), date_param(&c, "ORD_END_DT")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let side = c.get("SLL_BUY_DVSN");
    let ccld = c.get("CCLD_NCCS_DVSN");
    let excg = c.get("OVRS_EXCG_CD").to_ascii_uppercase();
    for (k, v, ok) in [
        ("SLL_BUY_DVSN", &side, &["", "00", "01", "02"][..]),
        ("CCLD_NCCS_DVSN", &ccld, &["", "00", "01", "02"][..]),
    ] {
        if !ok.contains(&v.as_str()) {
            return invalid(k, &c.g.tr_id);
        }
    }
    if !(excg.is_empty() || excg == "%" || OVRS_EXCG_CDS.contains(&excg.as_str())) {
        return invalid("OVRS_EXCG_CD", &c.g.tr_id);
    }
    let pdno = c.get("PDNO").to_ascii_uppercase();
    let (st, _) = c.shared.lock_now();
    let filter = us_filter(&excg, true);
    let mut rows: Vec<&Order> = us_orders(&st, &c.acct, filter)
        .filter(|o| o.date >= from && o.date <= to)
        .filter(|o| pdno.is_empty() || pdno == "%" || o.symbol == pdno)
        .filter(|o| match side.as_str() {
            "01" => o.side == Side::Sell,
            "02" => o.side == Side::Buy,
            _ => true,
        })
        .filter(|o| match ccld.as_str() {
            "01" => o.filled > 0,
            "02" => o.remaining() > 0,
            _ => true,
        })
        .collect();
    // Paper cannot choose the order (DS, forward); live: DS forward, AS reverse.
    if st.cfg.mode == Mode::Live && c.get("SORT_SQN") == "AS" {
        rows.reverse();
    }
    let local_times = st.cfg.us.local_times;
    let build = |o: &Order| {
        let listing = listing_of(&st, &o.symbol);
        wire::fields(F::CCNL, |f| {
            Some(match f {
                "ord_dt" => o.date.format("%Y%m%d").to_string(),
                "ord_gno_brno" => st.cfg.branch.clone(),
                "odno" => format!("{:010}", o.odno),
                "orgn_odno" => o.orig.map_or_else(String::new, |n| format!("{n:010}")),
                "sll_buy_dvsn_cd" => side_cd(o).to_owned(),
                "sll_buy_dvsn_cd_name" => if o.side == Side::Sell { "매도" } else { "매수" }.to_owned(),
                "rvse_cncl_dvsn" => rvse_cd(o).to_owned(),
                "rvse_cncl_dvsn_name" => match o.kind {
                    OrderKind::New => "",
                    OrderKind::Modify => "정정",
                    OrderKind::Cancel => "취소",
                }
                .to_owned(),
                "pdno" => o.symbol.clone(),
                "prdt_name" => o.name.clone(),
                "ft_ord_qty" => o.qty.to_string(),
                "ft_ord_unpr3" => fmt4(o.price),
                "ft_ccld_qty" => o.filled.to_string(),
                "ft_ccld_unpr3" => fmt4(avg_fill(o)),
                "ft_ccld_amt3" => fmt4(o.filled_amt),
                "nccs_qty" => o.remaining().to_string(),
                "prcs_stat_name" => match o.status {
                    OrderStatus::Rejected => "거부",
                    OrderStatus::Open => "접수",
                    _ => "완료",
                }
                .to_owned(),
                "ord_tmd" => order_time(o.time, local_times),
                "tr_mket_name" => listing.map_or("", Listing::korean_name).to_owned(),
                "tr_crcy_cd" => "USD".to_owned(),
                "tr_natn" => "840".to_owned(),
                "ovrs_excg_cd" => listing.map_or("", Listing::ovrs_excg_cd).to_owned(),
                "tr_natn_name" => "미국".to_owned(),
                "dmst_ord_dt" => o.time.format("%Y%m%d").to_string(),
                "thco_ord_tmd" => o.time.format("%H%M%S").to_string(),
                "loan_type_cd" => "10".to_owned(),
                "mdia_dvsn_name" => "OpenAPI".to_owned(),
                "usa_amk_exts_rqst_yn" => "N".to_owned(),
                _ => String::new(),
            })
        })
    };
    let size = if st.cfg.mode == Mode::Live { 20 } else { 15 };
    let fk = format!(
        "{}^{}^{}^{}^{side}^{ccld}^{excg}^",
        c.get("CANO"),
        c.get("ACNT_PRDT_CD"),
        from.format("%Y%m%d"),
        to.format("%Y%m%d")
    );
    let items = rows.iter().map(|o| (format!("{}{:010}", o.date.format("%Y%m%d"), o.odno), *o)).collect();
    let page = paginate_with(items, size, &c.g, &c.get("CTX_AREA_NK200"), build);
    page_response200(&c.g, &fk, page, "output", Vec::new(), st.cfg.us.pad_ctx200)
}

/// Today's (current US trading date) USD buy and sell amounts and realized P&L of an account.
fn today_flows(st: &SimState, acct: &str) -> (Decimal, Decimal, Decimal, Decimal) {
    let (mut buy, mut sell, mut realized, mut sold_cost) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let ids: std::collections::HashSet<u64> = st
        .orders
        .values()
        .filter(|o| o.market == Market::Us && o.account == acct && o.date == st.us_date)
        .map(|o| o.id)
        .collect();
    for f in st.fills.iter().filter(|f| ids.contains(&f.order_id)) {
        let amount = dollars(f.price * f.qty);
        match f.side {
            Side::Buy => buy += amount,
            Side::Sell => {
                sell += amount;
                realized += f.realized;
                sold_cost += f.avg_cost * Decimal::from(f.qty);
            }
        }
    }
    (buy, sell, realized, sold_cost)
}

/// One US position valued at the last price: (ticker, listing, qty, sellable, cost, value, last).
struct Position {
    sym: String,
    listing: Listing,
    qty: i64,
    sellable: i64,
    bought: i64,
    sold: i64,
    cost: Decimal,
    value: Decimal,
    last: i64,
}

fn positions(st: &SimState, acct: &str, filter: UsFilter) -> Vec<Position> {
    let Some(a) = st.accounts.get(acct) else { return Vec::new() };
    a.usd
        .holdings
        .iter()
        .filter(|(_, h)| h.qty > 0 || h.bought_today > 0 || h.sold_today > 0)
        .filter_map(|(sym, h)| {
            let m = st.us_markets.get(sym)?;
            passes(filter, m.inst.listing).then(|| Position {
                sym: sym.clone(),
                listing: m.inst.listing,
                qty: h.qty,
                sellable: (h.qty - h.reserved).max(0),
                bought: h.bought_today,
                sold: h.sold_today,
                cost: h.cost,
                value: dollars(m.last * h.qty),
                last: m.last,
            })
        })
        .collect()
}

/// `GET …/overseas-stock/v1/trading/inquire-balance`.
pub async fn balance(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    let required = ["OVRS_EXCG_CD", "TR_CRCY_CD", "CTX_AREA_FK200", "CTX_AREA_NK200"];
    let c = match begin(shared, &headers, raw, BALANCE, &required) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let excg = c.get("OVRS_EXCG_CD").to_ascii_uppercase();
    if excg != "NAS" && !OVRS_EXCG_CDS.contains(&excg.as_str()) {
        return invalid("OVRS_EXCG_CD", &c.g.tr_id);
    }
    let crcy = c.get("TR_CRCY_CD").to_ascii_uppercase();
    if !CURRENCIES.contains(&crcy.as_str()) {
        return invalid("TR_CRCY_CD", &c.g.tr_id);
    }
    let (st, _) = c.shared.lock_now();
    // Live: NASD = every US exchange, NAS = Nasdaq; paper: NASD = Nasdaq (overseas.md §1.1).
    let filter = if crcy == "USD" { us_filter(&excg, st.cfg.mode == Mode::Live) } else { None };
    let pos = positions(&st, &c.acct, filter);
    let (cano, prdt) = (c.get("CANO"), c.get("ACNT_PRDT_CD"));
    let rows: Vec<(String, J)> = pos
        .iter()
        .map(|p| {
            let avg = if p.qty > 0 { p.cost / Decimal::from(p.qty) } else { Decimal::ZERO };
            let j = wire::fields(F::BALANCE_OUTPUT1, |f| {
                Some(match f {
                    "cano" => cano.clone(),
                    "acnt_prdt_cd" => prdt.clone(),
                    "prdt_type_cd" => p.listing.prdt_type_cd().to_owned(),
                    "ovrs_pdno" => p.sym.clone(),
                    "frcr_evlu_pfls_amt" => usd(p.value - p.cost),
                    "evlu_pfls_rt" => rate(p.value - p.cost, p.cost),
                    "pchs_avg_pric" => fmt_dp(avg, 4),
                    "ovrs_cblc_qty" => p.qty.to_string(),
                    "ord_psbl_qty" => p.sellable.to_string(),
                    "frcr_pchs_amt1" => usd(p.cost),
                    "ovrs_stck_evlu_amt" => usd(p.value),
                    "now_pric2" => fmt4(p.last),
                    "tr_crcy_cd" => "USD".to_owned(),
                    "ovrs_excg_cd" => p.listing.ovrs_excg_cd().to_owned(),
                    "loan_type_cd" => "10".to_owned(),
                    _ => String::new(),
                })
            });
            (p.sym.clone(), j)
        })
        .collect();
    let cost: Decimal = pos.iter().map(|p| p.cost).sum();
    let value: Decimal = pos.iter().map(|p| p.value).sum();
    let (buy, _, realized, sold_cost) = today_flows(&st, &c.acct);
    let unrealized = value - cost;
    let out2 = wire::fields(F::BALANCE_OUTPUT2, |f| {
        Some(match f {
            "frcr_pchs_amt1" => usd(cost),
            "ovrs_rlzt_pfls_amt" | "ovrs_rlzt_pfls_amt2" => usd(realized),
            "ovrs_tot_pfls" => usd(realized + unrealized),
            "rlzt_erng_rt" => rate(realized, sold_cost),
            "tot_evlu_pfls_amt" => usd(unrealized),
            "tot_pftrt" => rate(unrealized, cost),
            "frcr_buy_amt_smtl1" | "frcr_buy_amt_smtl2" => usd(buy),
            _ => String::new(),
        })
    });
    let out2 = if st.cfg.us.balance_output2_array { J::A(vec![out2]) } else { out2 };
    let size = if st.cfg.mode == Mode::Live { 100 } else { st.cfg.us.balance_paper_page };
    let fk = format!("{cano}^{prdt}^{excg}^{crcy}^");
    let page = paginate_with(rows, size, &c.g, &c.get("CTX_AREA_NK200"), |j| j);
    page_response200(&c.g, &fk, page, "output1", vec![("output2".to_owned(), out2)], st.cfg.us.pad_ctx200)
}

/// The `TR_MKET_CD` values valid with a `NATN_CD` (overseas_endpoints.json code_tables).
fn tr_mket_ok(natn: &str, mket: &str) -> bool {
    let ok: &[&str] = match natn {
        "000" => &["00"],
        "840" => &["00", "01", "02", "03", "04", "05"],
        "156" => &["00", "01", "02", "03", "04"],
        "392" => &["01"],
        "704" => &["01", "02"],
        "344" => &["01", "02", "03"],
        _ => &[],
    };
    ok.contains(&mket)
}

/// `GET …/overseas-stock/v1/trading/inquire-present-balance`.
pub async fn present_balance(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let required = ["WCRC_FRCR_DVSN_CD", "NATN_CD", "TR_MKET_CD", "INQR_DVSN_CD"];
    let c = match begin(shared, &headers, raw, PRESENT, &required) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let wcrc = c.get("WCRC_FRCR_DVSN_CD");
    let natn = c.get("NATN_CD");
    let mket = c.get("TR_MKET_CD");
    let inqr = c.get("INQR_DVSN_CD");
    if !["01", "02"].contains(&wcrc.as_str()) {
        return invalid("WCRC_FRCR_DVSN_CD", &c.g.tr_id);
    }
    if !["000", "840", "344", "156", "392", "704"].contains(&natn.as_str()) {
        return invalid("NATN_CD", &c.g.tr_id);
    }
    if !tr_mket_ok(&natn, &mket) {
        return invalid("TR_MKET_CD", &c.g.tr_id);
    }
    if !["00", "01", "02"].contains(&inqr.as_str()) {
        return invalid("INQR_DVSN_CD", &c.g.tr_id);
    }
    let (st, _) = c.shared.lock_now();
    let fx = st.cfg.us.usd_krw;
    let us = natn == "000" || natn == "840";
    let filter: UsFilter = match (us, inqr.as_str(), mket.as_str()) {
        (false, _, _) | (_, "02", _) => None,
        (true, _, "01") => Some(Some(Listing::Nasdaq)),
        (true, _, "02") => Some(Some(Listing::Nyse)),
        (true, _, "05") => Some(Some(Listing::Amex)),
        (true, _, "00") => Some(None),
        _ => None,
    };
    let pos = positions(&st, &c.acct, filter);
    let Some(a) = st.accounts.get(&c.acct) else {
        return wire::gateway("OPSQ2000", wire::msg::OPSQ2000, Some(&c.g.tr_id));
    };
    let today: HashMap<String, (Decimal, Decimal)> = {
        let mut m: HashMap<String, (Decimal, Decimal)> = HashMap::new();
        for f in st.fills.iter().filter(|f| f.market == Market::Us && f.account == c.acct) {
            if st.orders.get(&f.order_id).is_some_and(|o| o.date == st.us_date) {
                let e = m.entry(f.symbol.clone()).or_default();
                let amount = dollars(f.price * f.qty);
                if f.side == Side::Buy { e.0 += amount } else { e.1 += amount }
            }
        }
        m
    };
    let out1: Vec<J> = pos
        .iter()
        .map(|p| {
            let avg = if p.qty > 0 { p.cost / Decimal::from(p.qty) } else { Decimal::ZERO };
            let (tb, ts) = today.get(&p.sym).copied().unwrap_or_default();
            let isin = st.us_markets.get(&p.sym).map_or_else(String::new, |m| m.inst.isin.clone());
            wire::fields(F::PRESENT_OUTPUT1, |f| {
                Some(match f {
                    "cblc_qty13" | "ccld_qty_smtl1" => p.qty.to_string(),
                    "thdt_buy_ccld_qty1" => p.bought.to_string(),
                    "thdt_sll_ccld_qty1" => p.sold.to_string(),
                    "ord_psbl_qty1" => p.sellable.to_string(),
                    "frcr_pchs_amt" => usd(p.cost),
                    "frcr_evlu_amt2" => usd(p.value),
                    "evlu_pfls_amt2" => usd(p.value - p.cost),
                    "evlu_pfls_rt1" => rate(p.value - p.cost, p.cost),
                    "pdno" => p.sym.clone(),
                    "bass_exrt" => fmt_dp(fx, 4),
                    "buy_crcy_cd" => "USD".to_owned(),
                    "ovrs_now_pric1" => fmt4(p.last),
                    "avg_unpr3" => fmt_dp(avg, 4),
                    "tr_mket_name" => p.listing.korean_name().to_owned(),
                    "natn_kor_name" => "미국".to_owned(),
                    "pchs_rmnd_wcrc_amt" => krw(p.cost * fx),
                    "thdt_buy_ccld_frcr_amt" => usd(tb),
                    "thdt_sll_ccld_frcr_amt" => usd(ts),
                    "unit_amt" => "1".to_owned(),
                    "std_pdno" => isin.clone(),
                    "prdt_type_cd" => p.listing.prdt_type_cd().to_owned(),
                    "loan_rmnd" => "0".to_owned(),
                    "ovrs_excg_cd" => p.listing.ovrs_excg_cd().to_owned(),
                    "item_lnkg_excg_cd" => p.listing.excd().to_owned(),
                    _ => String::new(),
                })
            })
        })
        .collect();
    let (buy, sell, _, _) = today_flows(&st, &c.acct);
    let w = &a.usd;
    let free = (w.cash - w.reserved).max(Decimal::ZERO);
    let out2: Vec<J> = if us {
        vec![wire::fields(F::PRESENT_OUTPUT2, |f| {
            Some(match f {
                "crcy_cd" => "USD".to_owned(),
                "frcr_buy_amt_smtl" => usd(buy),
                "frcr_sll_amt_smtl" => usd(sell),
                "frcr_dncl_amt_2" => usd(w.cash),
                "frst_bltn_exrt" => fmt_dp(fx, 4),
                "frcr_buy_mgn_amt" => usd(w.reserved),
                "frcr_etc_mgna" => usd(Decimal::ZERO),
                "frcr_drwg_psbl_amt_1" | "nxdy_frcr_drwg_psbl_amt" => usd(free),
                "frcr_evlu_amt2" => krw(free * fx),
                "acpl_cstd_crcy_yn" => "Y".to_owned(),
                _ => String::new(),
            })
        })]
    } else {
        Vec::new()
    };
    let cost: Decimal = pos.iter().map(|p| p.cost).sum();
    let value: Decimal = pos.iter().map(|p| p.value).sum();
    // 01: KRW amounts (whole won); 02: foreign-currency amounts (USD, cents) unless the
    // setting keeps output3 in KRW.
    let won = wcrc == "01" || st.cfg.us.present_output3_krw;
    let conv = |usd_amt: Decimal| if won { krw(usd_amt * fx) } else { usd(usd_amt) };
    let krw_amt = |krw_amt: Decimal| if won { krw(krw_amt) } else { usd(krw_amt / fx) };
    let krw_free = (a.cash - a.reserved).max(Decimal::ZERO);
    let out3 = wire::fields(F::PRESENT_OUTPUT3, |f| {
        Some(match f {
            "pchs_amt_smtl" | "pchs_amt_smtl_amt" => conv(cost),
            "evlu_amt_smtl" | "evlu_amt_smtl_amt" => conv(value),
            "evlu_pfls_amt_smtl" | "tot_evlu_pfls_amt" => conv(value - cost),
            "dncl_amt" => krw_amt(a.cash),
            "tot_dncl_amt" => {
                if won {
                    krw(a.cash + w.cash * fx)
                } else {
                    usd(a.cash / fx + w.cash)
                }
            }
            "wdrw_psbl_tot_amt" => {
                if won {
                    krw(krw_free + free * fx)
                } else {
                    usd(krw_free / fx + free)
                }
            }
            "frcr_evlu_tota" => conv(w.cash + value),
            "evlu_erng_rt1" => rate(value - cost, cost),
            "tot_asst_amt" => {
                if won {
                    krw(a.cash + (w.cash + value) * fx)
                } else {
                    usd(a.cash / fx + w.cash + value)
                }
            }
            "buy_mgn_amt" | "mgna_tota" => conv(w.reserved),
            "frcr_use_psbl_amt" => usd(free),
            "ustl_sll_amt_smtl" => conv(sell),
            "ustl_buy_amt_smtl" => conv(buy),
            "tot_frcr_cblc_smtl" => usd(w.cash),
            _ => conv(Decimal::ZERO),
        })
    });
    inquiry(
        &c.g,
        vec![
            ("output1".to_owned(), J::A(out1)),
            ("output2".to_owned(), J::A(out2)),
            ("output3".to_owned(), out3),
        ],
    )
}

/// `GET …/overseas-stock/v1/trading/inquire-psamount` (buying power).
pub async fn psamount(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let required = ["OVRS_EXCG_CD", "OVRS_ORD_UNPR", "ITEM_CD"];
    let c = match begin(shared, &headers, raw, PSAMOUNT, &required) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let excg = c.get("OVRS_EXCG_CD").to_ascii_uppercase();
    if !OVRS_EXCG_CDS.contains(&excg.as_str()) {
        return invalid("OVRS_EXCG_CD", &c.g.tr_id);
    }
    let Some(Ok(asked)) = super::super::super::us::rules::parse_price(&c.get("OVRS_ORD_UNPR")) else {
        return invalid("OVRS_ORD_UNPR", &c.g.tr_id);
    };
    let (st, _) = c.shared.lock_now();
    let Some(a) = st.accounts.get(&c.acct) else {
        return wire::gateway("OPSQ2000", wire::msg::OPSQ2000, Some(&c.g.tr_id));
    };
    let item = c.get("ITEM_CD").to_ascii_uppercase();
    let m = st.us_markets.get(&item).filter(|m| passes(us_filter(&excg, false), m.inst.listing));
    let price = if asked > 0 { asked } else { m.map_or(0, |m| m.last) };
    let fx = st.cfg.us.usd_krw;
    let free = (a.usd.cash - a.usd.reserved).max(Decimal::ZERO);
    let krw_free = (a.cash - a.reserved).max(Decimal::ZERO);
    let exchanged = free + (krw_free / fx).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
    let per_share = dollars(price) * (Decimal::ONE + st.cfg.us.commission_rate);
    let qty_for = |cash: Decimal| {
        if price > 0 && m.is_some() { (cash / per_share).floor().to_string() } else { "0".to_owned() }
    };
    let out = wire::fields(F::PSAMOUNT, |f| {
        Some(match f {
            "tr_crcy_cd" => "USD".to_owned(),
            "ord_psbl_frcr_amt" | "ovrs_ord_psbl_amt" | "frcr_ord_psbl_amt1" => usd(free),
            "sll_ruse_psbl_amt" => usd(Decimal::ZERO),
            "max_ord_psbl_qty" | "ord_psbl_qty" | "ovrs_max_ord_psbl_qty" => qty_for(free),
            "echm_af_ord_psbl_amt" => usd(exchanged),
            "echm_af_ord_psbl_qty" => qty_for(exchanged),
            "exrt" => fmt_dp(fx, 4),
            _ => String::new(),
        })
    });
    inquiry(&c.g, vec![("output".to_owned(), out)])
}
