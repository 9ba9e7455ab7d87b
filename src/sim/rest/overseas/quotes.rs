//! Overseas quotations: `GET /uapi/overseas-price/v1/quotations/price` (HHDFS00000300, both
//! hosts) and `…/inquire-asking-price` (HHDFS76200100, live; paper only with the setting).
//! Prices carry four decimals (`zdiv` 4).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};

use super::super::super::Shared;
use super::super::super::instruments::Listing;
use super::super::super::market::{SymbolMarket, pct};
use super::super::super::state::SimState;
use super::super::super::us::fields as F;
use super::super::super::us::records::{order_time, sign_of};
use super::super::super::us::rules::{fmt4, local};
use super::super::super::wire::{self, J, msg};
use super::super::paging::Resp;
use super::super::{Gate, gate_ids};
use super::{EXCDS, get, invalid, query, require};

const PRICE_TR: &[&str] = &["HHDFS00000300"];
const ASKING_TR: &[&str] = &["HHDFS76200100"];

fn quote_ok(g: &Gate, payload: Vec<(String, J)>) -> Resp {
    let mut pairs = payload;
    pairs.extend(wire::head("0", "MCA00000", msg::MCA00000));
    wire::respond(StatusCode::OK, Some(&g.tr_id), None, &J::O(pairs))
}

/// Checks `EXCD` / `SYMB` and returns the quotation code and the market asked for (`None` for a
/// symbol the simulator does not list on that exchange: KIS answers such a query with empty
/// values).
fn lookup<'a>(
    st: &'a SimState,
    q: &std::collections::HashMap<String, String>,
    tr_id: &str,
) -> Result<(String, Option<&'a SymbolMarket>), Resp> {
    require(q, &["EXCD", "SYMB"], tr_id)?;
    let excd = get(q, "EXCD").to_ascii_uppercase();
    if !EXCDS.contains(&excd.as_str()) {
        return Err(invalid("EXCD", tr_id));
    }
    let symb = get(q, "SYMB").to_ascii_uppercase();
    let listing = Listing::from_excd(&excd);
    let m = st.us_markets.get(&symb).filter(|m| Some(m.inst.listing) == listing);
    Ok((excd, m))
}

/// Returns the realtime key the quote answers with: `D` + code + ticker, `R` for the day-session
/// codes (BAQ, BAY, BAA; the simulator serves the regular session's values there).
fn rsym(excd: &str, m: &SymbolMarket) -> String {
    let prefix = if excd.starts_with("BA") { "R" } else { "D" };
    format!("{prefix}{excd}{}", m.inst.code)
}

/// `GET …/overseas-price/v1/quotations/price`.
pub async fn price(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    let g = match gate_ids(&shared, &headers, PRICE_TR, PRICE_TR) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let q = query(raw.as_deref());
    let (st, _) = shared.lock_now();
    let (excd, m) = match lookup(&st, &q, &g.tr_id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let out = wire::fields(F::PRICE, |f| {
        let m = m?;
        let diff = m.last - m.base;
        Some(match f {
            "rsym" => rsym(&excd, m),
            "zdiv" => "4".to_owned(),
            "base" => fmt4(m.base),
            "pvol" => m.prev_volume.to_string(),
            "last" => fmt4(m.last),
            "sign" => sign_of(diff).to_owned(),
            "diff" => fmt4(diff),
            "rate" => pct(diff, m.base),
            "tvol" => m.volume.to_string(),
            "tamt" => (m.turnover / super::super::super::us::rules::UNIT).to_string(),
            "ordy" => "매수가능".to_owned(),
            _ => String::new(),
        })
    });
    quote_ok(&g, vec![("output".to_owned(), out)])
}

/// `GET …/overseas-price/v1/quotations/inquire-asking-price`.
pub async fn asking_price(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    let paper: &[&str] = if shared.lock().cfg.us.paper_asking_price { ASKING_TR } else { &[] };
    let g = match gate_ids(&shared, &headers, ASKING_TR, paper) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let q = query(raw.as_deref());
    let (st, now) = shared.lock_now();
    let (excd, m) = match lookup(&st, &q, &g.tr_id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let total = |side: &[(i64, i64)]| side.iter().map(|l| l.1).sum::<i64>();
    let out1 = wire::fields(F::ASKING_OUTPUT1, |f| {
        let m = m?;
        let rate = |p: i64| if p == 0 { "0.00".to_owned() } else { pct(p - m.base, m.base) };
        Some(match f {
            "rsym" => rsym(&excd, m),
            "zdiv" => "4".to_owned(),
            "curr" => "USD".to_owned(),
            "base" => fmt4(m.base),
            "open" => fmt4(m.open),
            "high" => fmt4(m.high),
            "low" => fmt4(m.low),
            "last" => fmt4(m.last),
            "dymd" => local(now).format("%Y%m%d").to_string(),
            "dhms" => order_time(now, st.cfg.us.local_times),
            "bvol" => total(&m.book.bids).to_string(),
            "avol" => total(&m.book.asks).to_string(),
            "bdvl" | "advl" => "0".to_owned(),
            "code" => m.inst.code.clone(),
            "ropen" => rate(m.open),
            "rhigh" => rate(m.high),
            "rlow" => rate(m.low),
            "rclose" => rate(m.last),
            _ => String::new(),
        })
    });
    let levels = st.cfg.us.book_levels.clamp(1, 10);
    let mut out2: Vec<(String, J)> = Vec::new();
    for n in 1..=levels {
        for name in F::ASKING_OUTPUT2 {
            let key = format!("{}{n}", name.trim_end_matches('1'));
            let v = m.map_or_else(String::new, |m| {
                let bid = m.book.bids.get(n - 1).copied().unwrap_or_default();
                let ask = m.book.asks.get(n - 1).copied().unwrap_or_default();
                match *name {
                    "pbid1" => fmt4(bid.0),
                    "pask1" => fmt4(ask.0),
                    "vbid1" => bid.1.to_string(),
                    "vask1" => ask.1.to_string(),
                    _ => "0".to_owned(),
                }
            });
            out2.push((key, J::S(v)));
        }
    }
    let out3 = wire::fields(F::ASKING_OUTPUT3, |f| {
        m?;
        Some(match f {
            "vstm" | "vetm" => String::new(),
            "iev" => "0".to_owned(),
            _ => fmt4(0),
        })
    });
    quote_ok(
        &g,
        vec![("output1".to_owned(), out1), ("output2".to_owned(), J::O(out2)), ("output3".to_owned(), out3)],
    )
}
