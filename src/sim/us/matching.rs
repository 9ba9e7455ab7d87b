//! US order acceptance and the US trading day: the business checks of an overseas order (the
//! regular session only, `ORD_DVSN` per side and host, the cent grid, USD buying power),
//! modify/cancel, the closing auction of on-close orders and the New York day roll-over. Fills,
//! closes and notices go through the same engine as KRX orders ([`super::super::matching`]).

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use rust_decimal::Decimal;

use super::super::market::Print;
use super::super::records::NoticeKind;
use super::super::requests::Reject;
use super::super::state::{Market, Order, OrderEvent, OrderKind, OrderStatus, SimState};
use super::rules;
use crate::domain::{Mode, Side};

/// A new US order as the REST layer parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsOrder {
    /// 10-digit account.
    pub account: String,
    /// Trading exchange code (`OVRS_EXCG_CD`: NASD, NYSE, AMEX).
    pub exchange: String,
    /// Ticker.
    pub symbol: String,
    /// Side (from the TR id).
    pub side: Side,
    /// `ORD_DVSN` (00, 31-34).
    pub ord_dvsn: String,
    /// Quantity.
    pub qty: i64,
    /// Price in 0.0001 USD (0 for market-type orders).
    pub price: i64,
}

/// A US modify or cancel request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsAmend {
    /// 10-digit account.
    pub account: String,
    /// Trading exchange code of the original order.
    pub exchange: String,
    /// Ticker of the original order.
    pub symbol: String,
    /// Original order number.
    pub orig: u64,
    /// True for cancel, false for modify.
    pub cancel: bool,
    /// Quantity (`0`: the whole remainder — UNCONFIRMED, see overseas.md §3.4).
    pub qty: i64,
    /// New price in 0.0001 USD (modify).
    pub price: i64,
}

impl SimState {
    /// Returns true while the New York regular session of a trading day runs at `now`.
    pub fn in_us_session(&self, now: DateTime<FixedOffset>) -> bool {
        let d = rules::local_date(now);
        self.us_calendar.is_trading_day(d) && now >= rules::open_at(d) && now < rules::close_at(d)
    }

    fn us_window(&self, now: DateTime<FixedOffset>) -> Result<(), Reject> {
        if self.in_us_session(now) {
            Ok(())
        } else if self.cfg.mode == Mode::Paper {
            Err(Reject::PaperClosed)
        } else {
            Err(Reject::LiveClosed)
        }
    }

    /// Validates and accepts a new US order, executing a limit order against the book at once.
    ///
    /// # Errors
    /// Returns the business [`Reject`] of a refused order (the overseas `msg_cd` values are
    /// UNCONFIRMED; the domestic ones are used).
    pub fn place_us(&mut self, req: UsOrder, now: DateTime<FixedOffset>) -> Result<Order, Reject> {
        self.advance_to(now);
        let m = self.us_markets.get(&req.symbol).ok_or(Reject::UnknownSymbol)?;
        if m.inst.listing.ovrs_excg_cd() != req.exchange {
            return Err(Reject::UnknownSymbol);
        }
        if req.qty <= 0 {
            return Err(Reject::BadQty);
        }
        let allowed: &[&str] = match (self.cfg.mode, req.side) {
            (Mode::Paper, _) => &["00"],
            (Mode::Live, Side::Buy) => &["00", "32", "34"],
            (Mode::Live, Side::Sell) => &["00", "31", "32", "33", "34"],
        };
        if !allowed.contains(&req.ord_dvsn.as_str()) {
            return Err(Reject::OrderType);
        }
        self.us_window(now)?;
        // Orders are taken during the regular session only, after the opening auction.
        if matches!(req.ord_dvsn.as_str(), "31" | "32") {
            return Err(Reject::OrderType);
        }
        let priced = req.ord_dvsn != "31" && req.ord_dvsn != "33";
        let price = if priced {
            if !m.grid.on_grid(req.price) {
                return Err(Reject::OffTick);
            }
            req.price
        } else {
            0
        };
        let name = m.inst.name.clone();
        let need =
            if req.side == Side::Buy { self.buy_need_in(Market::Us, price, req.qty) } else { Decimal::ZERO };
        let acct = self.accounts.get_mut(&req.account).ok_or(Reject::NoOrder)?;
        let mut reserved = Decimal::ZERO;
        match req.side {
            Side::Buy => {
                if acct.usd.cash - acct.usd.reserved < need {
                    return Err(Reject::NoCash);
                }
                acct.usd.reserved += need;
                reserved = need;
            }
            Side::Sell => {
                let h = acct.usd.holdings.entry(req.symbol.clone()).or_default();
                if h.qty - h.reserved < req.qty {
                    return Err(Reject::NoShares);
                }
                h.reserved += req.qty;
            }
        }
        let date = rules::local_date(now);
        let (id, odno) = self.take_us_order_number(date);
        let order = Order {
            id,
            market: Market::Us,
            odno,
            orig: None,
            kind: OrderKind::New,
            account: req.account,
            symbol: req.symbol,
            name,
            side: req.side,
            ord_dvsn: req.ord_dvsn,
            price,
            qty: req.qty,
            filled: 0,
            filled_amt: 0,
            closed: 0,
            rejected: 0,
            status: OrderStatus::Open,
            date,
            time: now,
            reserved,
        };
        self.orders.insert(id, order.clone());
        self.notify(&order, NoticeKind::Accepted, order.qty, order.price, now);
        if super::super::faults::take(&mut self.faults.reject_orders) {
            self.finish(id, OrderEvent::Reject, now, true);
        } else if order.continuous() {
            self.execute_now(id, now);
        }
        Ok(self.orders.get(&id).cloned().unwrap_or(order))
    }

    /// Modifies or cancels a working US order of the current US trading date.
    ///
    /// # Errors
    /// Returns the business [`Reject`] of a refused request.
    pub fn amend_us(&mut self, req: UsAmend, now: DateTime<FixedOffset>) -> Result<Order, Reject> {
        self.advance_to(now);
        let date = rules::local_date(now);
        let orig = self.order_of(&req.account, Market::Us, date, req.orig).cloned().ok_or(Reject::NoOrder)?;
        let listing = self.us_markets.get(&orig.symbol).map(|m| m.inst.listing);
        if orig.symbol != req.symbol || listing.map(|l| l.ovrs_excg_cd()) != Some(req.exchange.as_str()) {
            return Err(Reject::NoOrder);
        }
        self.us_window(now)?;
        let left = orig.remaining();
        if left == 0 {
            return Err(Reject::NothingLeft);
        }
        let qty = if req.qty == 0 { left } else { req.qty };
        if qty < 0 {
            return Err(Reject::BadQty);
        }
        if qty > left {
            return Err(Reject::QtyExceeds);
        }
        let mut new_price = orig.price;
        if !req.cancel {
            if orig.price == 0 {
                return Err(Reject::OrderType);
            }
            let m = self.us_markets.get(&orig.symbol).ok_or(Reject::UnknownSymbol)?;
            if !m.grid.on_grid(req.price) {
                return Err(Reject::OffTick);
            }
            new_price = req.price;
            if orig.side == Side::Buy {
                let need = self.buy_need_in(Market::Us, new_price, qty);
                let freed = orig.reserved * Decimal::from(qty) / Decimal::from(left);
                let acct = self.accounts.get(&req.account).ok_or(Reject::NoOrder)?;
                if acct.usd.cash - acct.usd.reserved + freed < need {
                    return Err(Reject::NoCash);
                }
            }
        }
        let number = self.take_us_order_number(date);
        let rec =
            self.book_amend(&orig, qty, req.cancel, orig.ord_dvsn.clone(), new_price, number, date, now)?;
        let id = rec.id;
        if !req.cancel && rec.continuous() {
            self.execute_now(id, now);
        }
        Ok(self.orders.get(&id).cloned().unwrap_or(rec))
    }

    /// Closes the US trading day: crosses on-close orders (33 MOC, 34 LOC) at the closing price,
    /// expires every other working US order and rolls the US markets and the USD side to `next`.
    pub fn end_of_us_day(&mut self, next: NaiveDate) {
        let day = self.us_date;
        let close = rules::close_at(day);
        if self.us_calendar.is_trading_day(day) {
            let on_close: Vec<(u64, String, Side, i64)> = self
                .orders
                .values()
                .filter(|o| o.market == Market::Us && o.status == OrderStatus::Open)
                .filter(|o| matches!(o.ord_dvsn.as_str(), "33" | "34"))
                .map(|o| (o.id, o.symbol.clone(), o.side, o.price))
                .collect();
            for (id, sym, side, limit) in on_close {
                let Some(last) = self.us_markets.get(&sym).map(|m| m.last) else { continue };
                let crosses = limit == 0 || if side == Side::Buy { limit >= last } else { limit <= last };
                let left = self.orders.get(&id).map_or(0, Order::remaining);
                if crosses && left > 0 {
                    self.apply_fill(id, last, left, close - TimeDelta::seconds(1));
                    if let Some(m) = self.us_markets.get_mut(&sym) {
                        let t = (close - TimeDelta::seconds(1)).time();
                        let p = Print { time: t, price: last, qty: left, buyer_initiated: side == Side::Buy };
                        m.record(p.time, p.price, p.qty, p.buyer_initiated);
                    }
                }
            }
        }
        let open: Vec<u64> = self
            .orders
            .values()
            .filter(|o| o.market == Market::Us && o.status == OrderStatus::Open)
            .map(|o| o.id)
            .collect();
        for id in open {
            self.finish(id, OrderEvent::Close, close, false);
        }
        for m in self.us_markets.values_mut() {
            m.roll_to(next);
            m.cursor = m.open_at(next) - TimeDelta::seconds(1);
        }
        let prices: std::collections::BTreeMap<String, i64> =
            self.us_markets.iter().map(|(k, m)| (k.clone(), m.last)).collect();
        for acct in self.accounts.values_mut() {
            let w = &mut acct.usd;
            let mut assets = w.cash;
            for (sym, h) in &mut w.holdings {
                h.start_qty = h.qty;
                h.bought_today = 0;
                h.sold_today = 0;
                assets += rules::dollars(h.qty * prices.get(sym).copied().unwrap_or(0));
            }
            w.start_assets = assets;
        }
        self.us_date = next;
    }

    /// Returns the value of an account's US holdings at last prices, in USD.
    pub fn us_holdings_value(&self, account: &str) -> Decimal {
        self.accounts.get(account).map_or(Decimal::ZERO, |a| {
            a.usd
                .holdings
                .iter()
                .map(|(s, h)| rules::dollars(h.qty * self.us_markets.get(s).map_or(0, |m| m.last)))
                .sum()
        })
    }
}
