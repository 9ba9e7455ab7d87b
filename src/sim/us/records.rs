//! Builders of the `^`-joined US realtime records: HDFSCNT0 trades, HDFSASP0 books and the
//! H0GSCNI0 / H0GSCNI9 notices, in the field order of `overseas_ws_fields.json`. Prices are
//! decimal text with four decimals (`ZDIV` 4); notice prices are digits with four implied
//! decimals (overseas.md §1.5: US `001480100` = 148.0100).

use chrono::{DateTime, FixedOffset};

use super::super::market::{Print, SymbolMarket, pct};
use super::super::records::NoticeKind;
use super::super::state::{Order, OrderKind, SimState};
use super::fields;
use super::rules::{fmt4, local};
use crate::domain::Side;

/// Returns the change sign code of `diff` (domestic codes: 2 up, 3 flat, 5 down; UNCONFIRMED for
/// the overseas channels).
pub fn sign_of(diff: i64) -> &'static str {
    match diff {
        d if d > 0 => "2",
        d if d < 0 => "5",
        _ => "3",
    }
}

fn ymd(t: DateTime<FixedOffset>) -> String {
    t.format("%Y%m%d").to_string()
}

fn hms(t: DateTime<FixedOffset>) -> String {
    t.format("%H%M%S").to_string()
}

/// Local (New York) and KST date/time stamps of `t`: `[XYMD, XHMS, KYMD, KHMS]`.
fn stamps(t: DateTime<FixedOffset>) -> [String; 4] {
    let l = local(t);
    [l.format("%Y%m%d").to_string(), l.format("%H%M%S").to_string(), ymd(t), hms(t)]
}

/// Builds one HDFSCNT0 record (26 fields) for a print at `t`.
pub fn trade(m: &SymbolMarket, p: &Print, t: DateTime<FixedOffset>) -> String {
    let diff = p.price - m.base;
    let [xymd, xhms, kymd, khms] = stamps(t);
    let (buy_v, sell_v) = (m.flow[2], m.flow[3]);
    let f: Vec<String> = vec![
        super::rsym(m),
        m.inst.code.clone(),
        "4".to_owned(),
        m.date.format("%Y%m%d").to_string(),
        xymd,
        xhms,
        kymd,
        khms,
        fmt4(m.open),
        fmt4(m.high),
        fmt4(m.low),
        fmt4(p.price),
        sign_of(diff).to_owned(),
        fmt4(diff),
        pct(diff, m.base),
        fmt4(m.best_bid()),
        fmt4(m.best_ask()),
        m.book.bids.first().map_or(0, |l| l.1).to_string(),
        m.book.asks.first().map_or(0, |l| l.1).to_string(),
        p.qty.to_string(),
        m.volume.to_string(),
        (m.turnover / super::rules::UNIT).to_string(),
        sell_v.to_string(),
        buy_v.to_string(),
        pct(buy_v, sell_v.max(1)),
        "1".to_owned(),
    ];
    debug_assert_eq!(f.len(), fields::HDFSCNT0.len());
    f.join("^")
}

/// Builds one HDFSASP0 record of the current book at `t`: 17 fields (level 1) or 71 (10 levels).
pub fn book(m: &SymbolMarket, t: DateTime<FixedOffset>, levels: usize) -> String {
    let [xymd, xhms, kymd, khms] = stamps(t);
    let total = |side: &[(i64, i64)]| side.iter().map(|l| l.1).sum::<i64>();
    let mut f: Vec<String> = vec![
        super::rsym(m),
        m.inst.code.clone(),
        "4".to_owned(),
        xymd,
        xhms,
        kymd,
        khms,
        total(&m.book.bids).to_string(),
        total(&m.book.asks).to_string(),
        "0".to_owned(),
        "0".to_owned(),
    ];
    for n in 0..levels.clamp(1, 10) {
        let bid = m.book.bids.get(n).copied().unwrap_or_default();
        let ask = m.book.asks.get(n).copied().unwrap_or_default();
        f.extend([fmt4(bid.0), fmt4(ask.0), bid.1.to_string(), ask.1.to_string(), "0".into(), "0".into()]);
    }
    debug_assert_eq!(f.len(), 11 + 6 * levels.clamp(1, 10));
    f.join("^")
}

/// Returns `ODER_KIND2` of a US `ORD_DVSN` (2 limit, A MOO, B LOO, C MOC, D LOC).
pub fn order_kind(ord_dvsn: &str) -> &'static str {
    match ord_dvsn {
        "31" => "A",
        "32" => "B",
        "33" => "C",
        "34" => "D",
        "01" => "1",
        _ => "2",
    }
}

/// Returns an order time as the wire shows it: KST, or New York time with `local_times`.
pub fn order_time(t: DateTime<FixedOffset>, local_times: bool) -> String {
    if local_times { local(t).format("%H%M%S").to_string() } else { hms(t) }
}

/// Builds one H0GSCNI0 / H0GSCNI9 record (25 fields, or the older 24 / 21 per the settings).
pub fn notice(
    st: &SimState,
    o: &Order,
    kind: NoticeKind,
    qty: i64,
    price: i64,
    now: DateTime<FixedOffset>,
) -> String {
    let rctf = match o.kind {
        OrderKind::New => "0",
        OrderKind::Modify => "1",
        OrderKind::Cancel => "2",
    };
    let (rctf, cntg_yn, acpt_yn, rfus) = match kind {
        NoticeKind::Accepted => ("0", "1", "1", "0"),
        NoticeKind::Fill => (rctf, "2", "2", "0"),
        NoticeKind::Modified => ("1", "1", "2", "0"),
        NoticeKind::Cancelled => ("2", "1", "2", "0"),
        NoticeKind::Rejected => (rctf, "1", "1", "1"),
        NoticeKind::RemainderCancelled => ("2", "1", "3", "0"),
    };
    let fill = kind == NoticeKind::Fill;
    let mut f: Vec<String> = vec![
        st.cfg.hts_id.clone(),
        o.account.clone(),
        format!("{:010}", o.odno),
        o.orig.map_or_else(String::new, |n| format!("{n:010}")),
        if o.side == Side::Sell { "01" } else { "02" }.to_owned(),
        rctf.to_owned(),
        order_kind(&o.ord_dvsn).to_owned(),
        o.symbol.clone(),
        format!("{:010}", qty.max(0)),
        format!("{:09}", price.max(0)),
        order_time(now, st.cfg.us.local_times),
        rfus.to_owned(),
        cntg_yn.to_owned(),
        acpt_yn.to_owned(),
        st.cfg.branch.clone(),
        if fill { format!("{:010}", o.qty) } else { String::new() },
        st.cfg.account_name.clone(),
        o.name.clone(),
        String::new(),
        "10".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        fmt4(price.max(0)),
    ];
    debug_assert_eq!(f.len(), fields::H0GSCNI0.len());
    f.truncate(st.cfg.us.notice_fields.clamp(1, fields::H0GSCNI0.len()));
    f.join("^")
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use tokio::sync::broadcast;

    use super::*;
    use crate::sim::SimConfig;
    use crate::sim::state::{Market, OrderStatus};
    use crate::sim::us::UsConfig;

    fn state(us: UsConfig) -> (SimState, DateTime<FixedOffset>) {
        let now = DateTime::parse_from_rfc3339("2026-03-04T00:00:00+09:00").unwrap();
        let (tx, _) = broadcast::channel(4);
        (SimState::new(SimConfig { us, ..SimConfig::default() }, now, tx), now)
    }

    #[test]
    fn records_have_the_configured_widths() {
        let (st, now) = state(UsConfig::default());
        let m = st.us_markets.get("AAPL").unwrap();
        let p = Print { time: now.time(), price: m.last, qty: 5, buyer_initiated: true };
        let t: Vec<String> = trade(m, &p, now).split('^').map(str::to_owned).collect();
        assert_eq!(t.len(), 26);
        assert_eq!((t[0].as_str(), t[3].as_str(), t[6].as_str()), ("DNASAAPL", "20260303", "20260304"));
        assert_eq!(t[5], "100000", "XHMS is New York time (10:00 EST)");
        assert_eq!(book(m, now, 1).split('^').count(), 17);
        assert_eq!(book(m, now, 10).split('^').count(), 71);
        let o = Order {
            id: 1,
            market: Market::Us,
            odno: 7,
            orig: None,
            kind: OrderKind::New,
            account: "5000000001".into(),
            symbol: "AAPL".into(),
            name: "애플".into(),
            side: Side::Buy,
            ord_dvsn: "34".into(),
            price: 1_480_100,
            qty: 3,
            filled: 0,
            filled_amt: 0,
            closed: 0,
            rejected: 0,
            status: OrderStatus::Open,
            date: now.date_naive(),
            time: now,
            reserved: rust_decimal::Decimal::ZERO,
        };
        let n: Vec<String> =
            notice(&st, &o, NoticeKind::Accepted, 3, o.price, now).split('^').map(str::to_owned).collect();
        assert_eq!(n.len(), 25);
        assert_eq!(
            (n[6].as_str(), n[9].as_str(), n[15].as_str()),
            ("D", "001480100", ""),
            "overseas.md §1.5: 001480100 = 148.0100"
        );
        let (old, _) = state(UsConfig { notice_fields: 21, local_times: true, ..UsConfig::default() });
        let n: Vec<String> =
            notice(&old, &o, NoticeKind::Fill, 1, o.price, now).split('^').map(str::to_owned).collect();
        assert_eq!(n.len(), 21);
        assert_eq!((n[10].as_str(), n[12].as_str(), n[15].as_str()), ("100000", "2", "0000000003"));
    }
}
