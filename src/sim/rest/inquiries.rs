//! Order inquiries with KIS pagination: cancellable orders and daily orders/fills.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use rust_decimal::Decimal;

use super::super::Shared;
use super::super::fields as F;
use super::super::matching::won;
use super::super::state::{Market, Order, OrderKind};
use super::super::wire::{self, J, s};
use super::TrIds;
use super::paging::{Resp, begin, dec4, exch_of, name_of, ord_dvsn_name, page_response, paginate_with};
use crate::domain::{Mode, Side};

const PSBL_RVSECNCL: TrIds = TrIds { live: &["TTTC0084R", "TTTC8036R"], paper: &[] };
const DAILY_CCLD: TrIds = TrIds {
    live: &["TTTC0081R", "CTSC9215R", "TTTC8001R", "CTSC9115R"],
    paper: &["VTTC0081R", "VTSC9215R", "VTTC8001R", "VTSC9115R"],
};

/// `GET …/trading/inquire-psbl-rvsecncl` (live only).
pub async fn psbl_rvsecncl(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let c = match begin(shared, &headers, raw, &PSBL_RVSECNCL) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (st, _) = c.shared.lock_now();
    let side = c.get("INQR_DVSN_2");
    let by_stock = c.get("INQR_DVSN_1") == "1";
    let mut open: Vec<_> = st
        .orders
        .values()
        .filter(|o| o.market == Market::Krx && o.account == c.acct && o.remaining() > 0)
        .filter(|o| match side.as_str() {
            "1" => o.side == Side::Sell,
            "2" => o.side == Side::Buy,
            _ => true,
        })
        .collect();
    if by_stock {
        open.sort_by(|a, b| (&a.symbol, a.odno).cmp(&(&b.symbol, b.odno)));
    }
    let build = |o: &Order| {
        let key = format!("{:010}", o.odno);
        let rvse = match (o.kind, o.side) {
            (OrderKind::Modify, Side::Buy) => "매수정정*",
            (OrderKind::Modify, Side::Sell) => "매도정정*",
            _ => "",
        };
        wire::fields(F::PSBL_RVSECNCL, |f| {
            Some(match f {
                "ord_gno_brno" => st.cfg.branch.clone(),
                "odno" => key.clone(),
                "orgn_odno" => o.orig.map_or_else(String::new, |n| format!("{n:010}")),
                "ord_dvsn_name" => ord_dvsn_name(&o.ord_dvsn).to_owned(),
                "pdno" => o.symbol.clone(),
                "prdt_name" => name_of(&st, &o.symbol),
                "rvse_cncl_dvsn_name" => rvse.to_owned(),
                "ord_qty" => o.qty.to_string(),
                "ord_unpr" => o.price.to_string(),
                "ord_tmd" => o.time.format("%H%M%S").to_string(),
                "tot_ccld_qty" => o.filled.to_string(),
                "tot_ccld_amt" => o.filled_amt.to_string(),
                "psbl_qty" => o.remaining().to_string(),
                "sll_buy_dvsn_cd" => if o.side == Side::Sell { "01" } else { "02" }.to_owned(),
                "ord_dvsn_cd" => o.ord_dvsn.clone(),
                "excg_dvsn_cd" => exch_of(&st, &o.symbol).to_owned(),
                "excg_id_dvsn_cd" => "KRX".to_owned(),
                "excg_id_dvsn_name" => "한국거래소".to_owned(),
                "stpm_cndt_pric" => "0".to_owned(),
                "stpm_efct_occr_yn" => "N".to_owned(),
                _ => String::new(),
            })
        })
    };
    let fk = format!("{}^{}^{}^{}^", c.get("CANO"), c.get("ACNT_PRDT_CD"), c.get("INQR_DVSN_1"), side);
    let items = open.iter().map(|o| (format!("{:010}", o.odno), *o)).collect();
    let page = paginate_with(items, 50, &c.g, &c.get("CTX_AREA_NK100"), build);
    page_response(&c.g, &fk, page, "output", None)
}

/// `GET …/trading/inquire-daily-ccld`.
pub async fn daily_ccld(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let c = match begin(shared, &headers, raw, &DAILY_CCLD) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (st, now) = c.shared.lock_now();
    let today = now.format("%Y%m%d").to_string();
    let from = Some(c.get("INQR_STRT_DT")).filter(|s| !s.is_empty()).unwrap_or_else(|| today.clone());
    let to = Some(c.get("INQR_END_DT")).filter(|s| !s.is_empty()).unwrap_or(today);
    let side = c.get("SLL_BUY_DVSN_CD");
    let pdno = c.get("PDNO");
    let odno = c.get("ODNO");
    let ccld = c.get("CCLD_DVSN");
    let mut orders: Vec<_> = st
        .orders
        .values()
        .filter(|o| o.market == Market::Krx && o.account == c.acct)
        .filter(|o| {
            let d = o.date.format("%Y%m%d").to_string();
            d >= from && d <= to
        })
        .filter(|o| match side.as_str() {
            "01" => o.side == Side::Sell,
            "02" => o.side == Side::Buy,
            _ => true,
        })
        .filter(|o| pdno.is_empty() || o.symbol == pdno)
        .filter(|o| odno.is_empty() || odno.parse::<u64>().ok() == Some(o.odno))
        .filter(|o| match ccld.as_str() {
            "01" => o.filled > 0,
            "02" => o.remaining() > 0,
            _ => true,
        })
        .collect();
    if c.get("INQR_DVSN") != "01" {
        orders.reverse();
    }
    let mut fees = Decimal::ZERO;
    let (mut buy_qty, mut buy_amt) = (0_i64, 0_i64);
    let ids: std::collections::HashSet<u64> = orders.iter().map(|o| o.id).collect();
    for f in st.fills.iter().filter(|f| ids.contains(&f.order_id)) {
        fees += f.commission + f.tax;
        if f.side == Side::Buy {
            buy_qty += f.qty;
            buy_amt += f.qty * f.price;
        }
    }
    let out2 = J::O(vec![
        ("tot_ord_qty".to_owned(), s(orders.iter().map(|o| o.qty).sum::<i64>())),
        ("tot_ccld_qty".to_owned(), s(orders.iter().map(|o| o.filled).sum::<i64>())),
        ("tot_ccld_amt".to_owned(), s(orders.iter().map(|o| o.filled_amt).sum::<i64>())),
        ("prsm_tlex_smtl".to_owned(), s(won(fees))),
        (
            "pchs_avg_pric".to_owned(),
            s(dec4(if buy_qty > 0 {
                Decimal::from(buy_amt) / Decimal::from(buy_qty)
            } else {
                Decimal::ZERO
            })),
        ),
    ]);
    let build = |o: &Order| {
        let key = format!("{:010}", o.odno);
        let cancel = o.kind == OrderKind::Cancel;
        wire::fields(F::DAILY_CCLD_OUTPUT1, |f| {
            Some(match f {
                "ord_dt" => o.date.format("%Y%m%d").to_string(),
                "ord_gno_brno" | "ord_orgno" => st.cfg.branch.clone(),
                "odno" => key.clone(),
                "orgn_odno" => o.orig.map_or_else(String::new, |n| format!("{n:010}")),
                "ord_dvsn_name" => ord_dvsn_name(&o.ord_dvsn).to_owned(),
                "sll_buy_dvsn_cd" => if o.side == Side::Sell { "01" } else { "02" }.to_owned(),
                "sll_buy_dvsn_cd_name" => match (o.side, o.kind) {
                    (Side::Sell, OrderKind::New) => "매도",
                    (Side::Buy, OrderKind::New) => "매수",
                    (Side::Sell, OrderKind::Modify) => "매도정정*",
                    (Side::Buy, OrderKind::Modify) => "매수정정*",
                    (Side::Sell, OrderKind::Cancel) => "매도취소*",
                    (Side::Buy, OrderKind::Cancel) => "매수취소*",
                }
                .to_owned(),
                "pdno" => o.symbol.clone(),
                "prdt_name" => name_of(&st, &o.symbol),
                "ord_qty" => o.qty.to_string(),
                "ord_unpr" => o.price.to_string(),
                "ord_tmd" => o.time.format("%H%M%S").to_string(),
                "tot_ccld_qty" => o.filled.to_string(),
                "avg_prvs" => {
                    if o.filled > 0 {
                        (o.filled_amt / o.filled).to_string()
                    } else {
                        "0".to_owned()
                    }
                }
                "cncl_yn" => if cancel { "Y" } else { "" }.to_owned(),
                "tot_ccld_amt" => o.filled_amt.to_string(),
                "ord_dvsn_cd" => o.ord_dvsn.clone(),
                "cncl_cfrm_qty" => if cancel { o.qty } else { 0 }.to_string(),
                "rmn_qty" => o.remaining().to_string(),
                "rjct_qty" => o.rejected.to_string(),
                "ccld_cndt_name" => match o.condition() {
                    1 => "IOC",
                    2 => "FOK",
                    _ => "없음",
                }
                .to_owned(),
                "prdt_type_cd" => "300".to_owned(),
                "excg_dvsn_cd" => exch_of(&st, &o.symbol).to_owned(),
                "excg_id_dvsn_cd" => "KRX".to_owned(),
                "stpm_cndt_pric" => "0".to_owned(),
                _ => String::new(),
            })
        })
    };
    let page_size = if st.cfg.mode == Mode::Live { 100 } else { 15 };
    let fk = format!("{}^{}^{from}^{to}^{side}^{ccld}^", &c.get("CANO"), c.get("ACNT_PRDT_CD"));
    // The continuation key names the date too: a range of days repeats order numbers.
    let items = orders.iter().map(|o| (format!("{}{:010}", o.date.format("%Y%m%d"), o.odno), *o)).collect();
    let page = paginate_with(items, page_size, &c.g, &c.get("CTX_AREA_NK100"), build);
    page_response(&c.g, &fk, page, "output1", Some(out2))
}
