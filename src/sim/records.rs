//! Builders of the `^`-joined realtime records: H0STCNT0 trades, H0STASP0 books and the
//! H0STCNI0/H0STCNI9 execution notices, in the field order of `ws_fields.json`.

use chrono::{DateTime, FixedOffset, NaiveTime};

use super::fields;
use super::market::{Print, SymbolMarket, pct, session_close, session_open};
use super::state::{Order, OrderKind, SimState};
use crate::domain::Side;

/// What an execution notice reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A new order was received.
    Accepted,
    /// A fill.
    Fill,
    /// A modify was confirmed.
    Modified,
    /// A cancel was confirmed.
    Cancelled,
    /// The exchange rejected the order.
    Rejected,
    /// The IOC/FOK remainder was cancelled.
    RemainderCancelled,
}

fn hms(t: NaiveTime) -> String {
    t.format("%H%M%S").to_string()
}

fn sign_of(diff: i64) -> &'static str {
    match diff {
        d if d > 0 => "2",
        d if d < 0 => "5",
        _ => "3",
    }
}

fn ratio2(num: i64, den: i64) -> String {
    pct(num, den)
}

/// Builds one H0STCNT0 record (46 fields) for a print.
pub fn trade(m: &SymbolMarket, p: &Print) -> String {
    let (diff, sign) = m.change(p.price);
    let wavg =
        if m.volume > 0 { format!("{:.2}", m.turnover as f64 / m.volume as f64) } else { "0.00".to_owned() };
    let [buy_n, sell_n, buy_v, sell_v] = [m.flow[0], m.flow[1], m.flow[2], m.flow[3]];
    let total_ask: i64 = m.book.asks.iter().map(|l| l.1).sum();
    let total_bid: i64 = m.book.bids.iter().map(|l| l.1).sum();
    let elapsed = (p.time - session_open()).num_seconds().max(0);
    let day = (session_close() - session_open()).num_seconds().max(1);
    let prdy_same_time = m.prev_volume * elapsed / day;
    let f: Vec<String> = vec![
        m.inst.code.clone(),
        hms(p.time),
        p.price.to_string(),
        sign.to_owned(),
        diff.to_string(),
        m.change_rate(p.price),
        wavg,
        m.open.to_string(),
        m.high.to_string(),
        m.low.to_string(),
        m.best_ask().to_string(),
        m.best_bid().to_string(),
        p.qty.to_string(),
        m.volume.to_string(),
        m.turnover.to_string(),
        sell_n.to_string(),
        buy_n.to_string(),
        (buy_n - sell_n).to_string(),
        ratio2(buy_v, sell_v.max(1)),
        sell_v.to_string(),
        buy_v.to_string(),
        if p.buyer_initiated { "1" } else { "5" }.to_owned(),
        ratio2(buy_v, (buy_v + sell_v).max(1)),
        ratio2(m.volume, m.prev_volume.max(1)),
        hms(m.ohl_times[0]),
        sign_of(p.price - m.open).to_owned(),
        (p.price - m.open).to_string(),
        hms(m.ohl_times[1]),
        sign_of(p.price - m.high).to_owned(),
        (p.price - m.high).to_string(),
        hms(m.ohl_times[2]),
        sign_of(p.price - m.low).to_owned(),
        (p.price - m.low).to_string(),
        m.date.format("%Y%m%d").to_string(),
        "20".to_owned(),
        "N".to_owned(),
        m.book.asks.first().map_or(0, |l| l.1).to_string(),
        m.book.bids.first().map_or(0, |l| l.1).to_string(),
        total_ask.to_string(),
        total_bid.to_string(),
        ratio2(m.volume, m.inst.listed_shares.max(1)),
        prdy_same_time.to_string(),
        ratio2(m.volume, prdy_same_time.max(1)),
        "0".to_owned(),
        String::new(),
        m.base.to_string(),
    ];
    debug_assert_eq!(f.len(), fields::H0STCNT0.len());
    f.join("^")
}

/// Builds one H0STASP0 record (59 fields) of the current book.
pub fn book(m: &SymbolMarket, time: NaiveTime) -> String {
    let mut f: Vec<String> = Vec::with_capacity(59);
    f.push(m.inst.code.clone());
    f.push(hms(time));
    f.push("0".to_owned());
    f.extend(m.book.asks.iter().map(|l| l.0.to_string()));
    f.extend(m.book.bids.iter().map(|l| l.0.to_string()));
    f.extend(m.book.asks.iter().map(|l| l.1.to_string()));
    f.extend(m.book.bids.iter().map(|l| l.1.to_string()));
    let total_ask: i64 = m.book.asks.iter().map(|l| l.1).sum();
    let total_bid: i64 = m.book.bids.iter().map(|l| l.1).sum();
    f.push(total_ask.to_string());
    f.push(total_bid.to_string());
    f.extend(["0", "0", "0", "0", "0", "0", "3", "0.00"].map(str::to_owned));
    f.push(m.volume.to_string());
    f.extend(["0", "0", "0", "0", ""].map(str::to_owned));
    debug_assert_eq!(f.len(), fields::H0STASP0.len());
    f.join("^")
}

/// Builds one H0STCNI0/H0STCNI9 record (26 fields).
pub fn notice(
    st: &SimState,
    o: &Order,
    kind: NoticeKind,
    qty: i64,
    price: i64,
    now: DateTime<FixedOffset>,
) -> String {
    let (rctf, cntg_yn, acpt_yn, rfus) = match kind {
        NoticeKind::Accepted => ("0", "1", "1", "0"),
        NoticeKind::Fill => (rctf_of(o), "2", "2", "0"),
        NoticeKind::Modified => ("1", "1", "2", "0"),
        NoticeKind::Cancelled => ("2", "1", "2", "0"),
        NoticeKind::Rejected => (rctf_of(o), "1", "1", "1"),
        NoticeKind::RemainderCancelled => ("2", "1", "3", "0"),
    };
    let f: Vec<String> = vec![
        st.cfg.hts_id.clone(),
        o.account.clone(),
        format!("{:010}", o.odno),
        o.orig.map_or_else(String::new, |n| format!("{n:010}")),
        if o.side == Side::Sell { "01" } else { "02" }.to_owned(),
        rctf.to_owned(),
        o.ord_dvsn.clone(),
        o.condition().to_string(),
        o.symbol.clone(),
        format!("{:010}", qty.max(0)),
        format!("{:09}", price.max(0)),
        now.format("%H%M%S").to_string(),
        rfus.to_owned(),
        cntg_yn.to_owned(),
        acpt_yn.to_owned(),
        st.cfg.branch.clone(),
        format!("{:09}", o.qty),
        st.cfg.account_name.clone(),
        String::new(),
        "1".to_owned(),
        "Y".to_owned(),
        String::new(),
        "10".to_owned(),
        String::new(),
        o.name.clone(),
        format!("{:09}", o.price.max(0)),
    ];
    debug_assert_eq!(f.len(), fields::H0STCNI0.len());
    f.join("^")
}

fn rctf_of(o: &Order) -> &'static str {
    match o.kind {
        OrderKind::New => "0",
        OrderKind::Modify => "1",
        OrderKind::Cancel => "2",
    }
}
