//! Account inquiries: balance (paged), buying power, sellable quantity and period P&L (paged).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use rust_decimal::Decimal;

use super::super::Shared;
use super::super::fields as F;
use super::super::matching::won;
use super::super::state::Market;
use super::super::wire::{self, J, msg};
use super::TrIds;
use super::paging::{Resp, begin, dec4, dec8, name_of, page_response, paginate, rate2, single};
use crate::domain::{Mode, Side};

const BALANCE: TrIds = TrIds { live: &["TTTC8434R"], paper: &["VTTC8434R"] };
const PSBL_ORDER: TrIds = TrIds { live: &["TTTC8908R"], paper: &["VTTC8908R"] };
const PSBL_SELL: TrIds = TrIds { live: &["TTTC8408R"], paper: &[] };
const PERIOD_PROFIT: TrIds = TrIds { live: &["TTTC8715R"], paper: &[] };

/// `GET …/trading/inquire-balance`.
pub async fn balance(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    let c = match begin(shared, &headers, raw, &BALANCE) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (st, now) = c.shared.lock_now();
    let Some(acct) = st.accounts.get(&c.acct) else {
        return wire::gateway("OPSQ2000", msg::OPSQ2000, Some(&c.g.tr_id));
    };
    let today = now.date_naive();
    let (mut thdt_buy, mut thdt_sll, mut thdt_tlex) = (0_i64, 0_i64, Decimal::ZERO);
    for f in st
        .fills
        .iter()
        .filter(|f| f.market == Market::Krx && f.account == c.acct && f.time.date_naive() == today)
    {
        match f.side {
            Side::Buy => thdt_buy += f.qty * f.price,
            Side::Sell => thdt_sll += f.qty * f.price,
        }
        thdt_tlex += f.commission + f.tax;
    }
    let (mut pchs_sum, mut evlu_sum) = (Decimal::ZERO, 0_i64);
    let mut rows = Vec::new();
    for (sym, h) in &acct.holdings {
        if h.qty == 0 && h.bought_today == 0 && h.sold_today == 0 {
            continue;
        }
        let m = st.markets.get(sym);
        let prpr = m.map_or(0, |m| m.last);
        let avg = if h.qty > 0 { h.cost / Decimal::from(h.qty) } else { Decimal::ZERO };
        let pchs = h.cost.floor();
        let evlu = prpr * h.qty;
        pchs_sum += pchs;
        evlu_sum += evlu;
        let pfls = Decimal::from(evlu) - pchs;
        let j = wire::fields(F::BALANCE_OUTPUT1, |f| {
            Some(match f {
                "pdno" => sym.clone(),
                "prdt_name" => name_of(&st, sym),
                "trad_dvsn_name" => "현금".to_owned(),
                "bfdy_buy_qty" | "bfdy_sll_qty" | "loan_amt" | "stln_slng_chgs" => "0".to_owned(),
                "thdt_buyqty" => h.bought_today.to_string(),
                "thdt_sll_qty" => h.sold_today.to_string(),
                "hldg_qty" => h.qty.to_string(),
                "ord_psbl_qty" => (h.qty - h.reserved).max(0).to_string(),
                "pchs_avg_pric" => dec4(avg),
                "pchs_amt" => won(pchs).to_string(),
                "prpr" => prpr.to_string(),
                "evlu_amt" => evlu.to_string(),
                "evlu_pfls_amt" => won(pfls).to_string(),
                "evlu_pfls_rt" => rate2(pfls, pchs),
                "evlu_erng_rt" => "0.00000000".to_owned(),
                "fltt_rt" => {
                    m.map_or_else(|| "0.00000000".to_owned(), |m| format!("{}000000", m.change_rate(prpr)))
                }
                "bfdy_cprs_icdc" => m.map_or(0, |m| prpr - m.base).to_string(),
                "sbst_pric" => (prpr * 7 / 10).to_string(),
                "stck_loan_unpr" => "0.0000".to_owned(),
                _ => String::new(),
            })
        });
        rows.push((sym.clone(), j));
    }
    let tot = acct.cash + Decimal::from(evlu_sum);
    let cash = won(acct.cash).to_string();
    let out2 = wire::fields(F::BALANCE_OUTPUT2, |f| {
        Some(match f {
            "dnca_tot_amt" | "nxdy_excc_amt" | "prvs_rcdl_excc_amt" => cash.clone(),
            "thdt_buy_amt" => thdt_buy.to_string(),
            "thdt_sll_amt" => thdt_sll.to_string(),
            "thdt_tlex_amt" => won(thdt_tlex).to_string(),
            "scts_evlu_amt" | "evlu_amt_smtl_amt" => evlu_sum.to_string(),
            "tot_evlu_amt" | "nass_amt" => won(tot).to_string(),
            "fncg_gld_auto_rdpt_yn" => String::new(),
            "pchs_amt_smtl_amt" => won(pchs_sum).to_string(),
            "evlu_pfls_smtl_amt" => won(Decimal::from(evlu_sum) - pchs_sum).to_string(),
            "bfdy_tot_asst_evlu_amt" => won(acct.start_assets).to_string(),
            "asst_icdc_amt" => won(tot - acct.start_assets).to_string(),
            "asst_icdc_erng_rt" => dec8(Decimal::ZERO),
            _ => "0".to_owned(),
        })
    });
    let size = if st.cfg.mode == Mode::Live { 50 } else { 20 };
    let fk = format!("{}^{}^{}^", c.get("CANO"), c.get("ACNT_PRDT_CD"), c.get("INQR_DVSN"));
    let page = paginate(rows, size, &c.g, &c.get("CTX_AREA_NK100"));
    page_response(&c.g, &fk, page, "output1", Some(J::A(vec![out2])))
}

/// `GET …/trading/inquire-psbl-order`.
pub async fn psbl_order(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let c = match begin(shared, &headers, raw, &PSBL_ORDER) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (st, _) = c.shared.lock_now();
    let Some(acct) = st.accounts.get(&c.acct) else {
        return wire::gateway("OPSQ2000", msg::OPSQ2000, Some(&c.g.tr_id));
    };
    let avail = (acct.cash - acct.reserved).max(Decimal::ZERO);
    let m = st.markets.get(&c.get("PDNO"));
    let asked = c.get("ORD_UNPR").parse::<i64>().unwrap_or(0);
    let price = if asked > 0 { asked } else { m.map_or(0, |m| m.last) };
    let qty = if price > 0 {
        (avail / (Decimal::from(price) * (Decimal::ONE + st.cfg.commission_rate))).floor()
    } else {
        Decimal::ZERO
    };
    let amt = (Decimal::from(price) * qty).floor();
    let out = wire::fields(F::PSBL_ORDER, |f| {
        Some(match f {
            "ord_psbl_cash" => won(avail).to_string(),
            "psbl_qty_calc_unpr" => price.to_string(),
            "nrcvb_buy_amt" | "max_buy_amt" => won(amt).to_string(),
            "nrcvb_buy_qty" | "max_buy_qty" => won(qty).to_string(),
            _ => "0".to_owned(),
        })
    });
    single(&c.g, "KIOK0510", msg::KIOK0510, out)
}

/// `GET …/trading/inquire-psbl-sell` (live only).
pub async fn psbl_sell(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let c = match begin(shared, &headers, raw, &PSBL_SELL) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (st, _) = c.shared.lock_now();
    let sym = c.get("PDNO");
    let h = st.accounts.get(&c.acct).and_then(|a| a.holdings.get(&sym)).cloned().unwrap_or_default();
    let now_pric = st.markets.get(&sym).map_or(0, |m| m.last);
    let avg = if h.qty > 0 { h.cost / Decimal::from(h.qty) } else { Decimal::ZERO };
    let evlu = now_pric * h.qty;
    let pfls = Decimal::from(evlu) - h.cost.floor();
    let out = wire::fields(F::PSBL_SELL, |f| {
        Some(match f {
            "pdno" => sym.clone(),
            "prdt_name" => name_of(&st, &sym),
            "buy_qty" => h.bought_today.to_string(),
            "sll_qty" => h.sold_today.to_string(),
            "cblc_qty" => h.qty.to_string(),
            "nsvg_qty" => "0".to_owned(),
            "ord_psbl_qty" => (h.qty - h.reserved).max(0).to_string(),
            "pchs_avg_pric" => dec4(avg),
            "pchs_amt" => won(h.cost.floor()).to_string(),
            "now_pric" => now_pric.to_string(),
            "evlu_amt" => evlu.to_string(),
            "evlu_pfls_amt" => won(pfls).to_string(),
            "evlu_pfls_rt" => rate2(pfls, h.cost.floor()),
            _ => String::new(),
        })
    });
    single(&c.g, "KIOK0420", msg::KIOK0420, out)
}

/// Returns the 12-char `pdno` of P&L rows (`00000A005930`).
pub fn padded_pdno(code: &str) -> String {
    if code.len() == 6 { format!("00000A{code}") } else { format!("{code:0>12}") }
}

/// `GET …/trading/inquire-period-trade-profit` (live only).
pub async fn period_trade_profit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let c = match begin(shared, &headers, raw, &PERIOD_PROFIT) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (st, _) = c.shared.lock_now();
    let from = c.get("INQR_STRT_DT");
    let to = c.get("INQR_END_DT");
    let pdno = c.get("PDNO");
    #[derive(Default)]
    struct Agg {
        buy_qty: i64,
        buy_amt: i64,
        sll_qty: i64,
        sll_amt: i64,
        cost: Decimal,
        fee: Decimal,
        tax: Decimal,
        realized: Decimal,
    }
    let mut groups: BTreeMap<(String, String), Agg> = BTreeMap::new();
    for f in st.fills.iter().filter(|f| f.market == Market::Krx && f.account == c.acct) {
        let d = f.time.format("%Y%m%d").to_string();
        if (!from.is_empty() && d < from)
            || (!to.is_empty() && d > to)
            || (!pdno.is_empty() && f.symbol != pdno)
        {
            continue;
        }
        let a = groups.entry((d, f.symbol.clone())).or_default();
        a.fee += f.commission;
        a.tax += f.tax;
        match f.side {
            Side::Buy => {
                a.buy_qty += f.qty;
                a.buy_amt += f.qty * f.price;
            }
            Side::Sell => {
                a.sll_qty += f.qty;
                a.sll_amt += f.qty * f.price;
                a.cost += f.avg_cost * Decimal::from(f.qty);
                a.realized += f.realized;
            }
        }
    }
    let mut tot = Agg::default();
    let mut rows: Vec<(String, J)> = Vec::new();
    for ((d, sym), a) in &groups {
        tot.buy_qty += a.buy_qty;
        tot.buy_amt += a.buy_amt;
        tot.sll_qty += a.sll_qty;
        tot.sll_amt += a.sll_amt;
        tot.cost += a.cost;
        tot.fee += a.fee;
        tot.tax += a.tax;
        tot.realized += a.realized;
        let hldg = st.accounts.get(&c.acct).and_then(|x| x.holdings.get(sym)).map_or(0, |h| h.qty);
        let pchs_unpr = if a.sll_qty > 0 {
            a.cost / Decimal::from(a.sll_qty)
        } else if a.buy_qty > 0 {
            Decimal::from(a.buy_amt) / Decimal::from(a.buy_qty)
        } else {
            Decimal::ZERO
        };
        let j = wire::fields(F::PROFIT_OUTPUT1, |f| {
            Some(match f {
                "trad_dt" => d.clone(),
                "pdno" => padded_pdno(sym),
                "prdt_name" => name_of(&st, sym),
                "trad_dvsn_name" => "현금".to_owned(),
                "hldg_qty" => hldg.to_string(),
                "pchs_unpr" => won(pchs_unpr).to_string(),
                "buy_qty" => a.buy_qty.to_string(),
                "buy_amt" => a.buy_amt.to_string(),
                "sll_pric" => {
                    if a.sll_qty > 0 {
                        (a.sll_amt / a.sll_qty).to_string()
                    } else {
                        "0".to_owned()
                    }
                }
                "sll_qty" => a.sll_qty.to_string(),
                "sll_amt" => a.sll_amt.to_string(),
                "rlzt_pfls" => won(a.realized).to_string(),
                "pfls_rt" => {
                    if a.cost.is_zero() {
                        dec8(Decimal::ZERO)
                    } else {
                        dec8(a.realized * Decimal::from(100) / a.cost)
                    }
                }
                "fee" => won(a.fee).to_string(),
                "tl_tax" => won(a.tax).to_string(),
                "loan_int" => "0".to_owned(),
                _ => String::new(),
            })
        });
        rows.push((format!("{d}^{}^", padded_pdno(sym)), j));
    }
    if c.get("SORT_DVSN") != "01" {
        rows.reverse();
    }
    let sll_fee_tax: Decimal = st
        .fills
        .iter()
        .filter(|f| f.market == Market::Krx && f.account == c.acct && f.side == Side::Sell)
        .filter(|f| {
            let d = f.time.format("%Y%m%d").to_string();
            (from.is_empty() || d >= from)
                && (to.is_empty() || d <= to)
                && (pdno.is_empty() || f.symbol == pdno)
        })
        .map(|f| f.commission)
        .sum();
    let buy_fee = tot.fee - sll_fee_tax;
    let out2 = wire::fields(F::PROFIT_OUTPUT2, |f| {
        Some(match f {
            "sll_qty_smtl" => tot.sll_qty.to_string(),
            "sll_tr_amt_smtl" => tot.sll_amt.to_string(),
            "sll_fee_smtl" => won(sll_fee_tax).to_string(),
            "sll_tltx_smtl" => won(tot.tax).to_string(),
            "sll_excc_amt_smtl" => won(Decimal::from(tot.sll_amt) - sll_fee_tax - tot.tax).to_string(),
            "buyqty_smtl" => tot.buy_qty.to_string(),
            "buy_tr_amt_smtl" => tot.buy_amt.to_string(),
            "buy_fee_smtl" => won(buy_fee).to_string(),
            "buy_tax_smtl" => "0".to_owned(),
            "buy_excc_amt_smtl" => won(Decimal::from(tot.buy_amt) + buy_fee).to_string(),
            "tot_qty" => (tot.sll_qty + tot.buy_qty).to_string(),
            "tot_tr_amt" => (tot.sll_amt + tot.buy_amt).to_string(),
            "tot_fee" => won(tot.fee).to_string(),
            "tot_tltx" => won(tot.tax).to_string(),
            "tot_excc_amt" => won(Decimal::from(tot.sll_amt) - sll_fee_tax - tot.tax).to_string(),
            "tot_rlzt_pfls" => won(tot.realized).to_string(),
            "loan_int" => "0".to_owned(),
            "tot_pftrt" => {
                if tot.cost.is_zero() {
                    dec8(Decimal::ZERO)
                } else {
                    dec8(tot.realized * Decimal::from(100) / tot.cost)
                }
            }
            _ => "0".to_owned(),
        })
    });
    let fk = String::new();
    let page = paginate(rows, 50, &c.g, &c.get("CTX_AREA_NK100"));
    page_response(&c.g, &fk, page, "output1", Some(out2))
}
