//! The matching engine: order acceptance with KRX business checks, immediate execution against
//! the synthetic book, resting orders filled by the market's prints, modify/cancel, day roll-over,
//! and the execution notices each step produces. Fills, closes and notices serve KRX and US
//! orders alike (US acceptance is in [`super::us::matching`]).

use chrono::{DateTime, FixedOffset, NaiveTime};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::market::{on_grid, session_close, session_open};
use super::records;
pub use super::requests::{Amend, NewOrder, Reject};
use super::state::{Fill, Market, Order, OrderEvent, OrderKind, OrderStatus, SimState};
use crate::domain::Side;

const EXECUTED: &[&str] = &["00", "01", "03", "04", "11", "12", "13", "14", "15", "16"];

fn is_market_type(d: &str) -> bool {
    matches!(d, "01" | "13" | "14")
}

impl SimState {
    fn order_window(&self, now: DateTime<FixedOffset>) -> Result<(), Reject> {
        let closed = if self.cfg.mode == crate::domain::Mode::Paper {
            Reject::PaperClosed
        } else {
            Reject::LiveClosed
        };
        let open_from = if self.cfg.mode == crate::domain::Mode::Paper {
            session_open()
        } else {
            NaiveTime::from_hms_opt(8, 30, 0).unwrap_or(NaiveTime::MIN)
        };
        let t = now.time();
        if !self.calendar.is_trading_day(now.date_naive()) || t < open_from || t >= session_close() {
            return Err(closed);
        }
        Ok(())
    }

    /// Returns the money value of `units` (price × quantity): KRW, or USD from 0.0001 units.
    pub(super) fn money(market: Market, units: i64) -> Decimal {
        match market {
            Market::Krx => Decimal::from(units),
            Market::Us => super::us::rules::dollars(units),
        }
    }

    /// Commission charged on a fill of `units` (KRW floored; USD in cents, half away from zero).
    fn commission(&self, market: Market, units: i64) -> Decimal {
        let amount = Self::money(market, units);
        match market {
            Market::Krx => (amount * self.cfg.commission_rate).floor(),
            Market::Us => (amount * self.cfg.us.commission_rate)
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
        }
    }

    /// Tax (KRX) or fees (US) charged on a sell fill of `units`.
    fn tax(&self, market: Market, units: i64) -> Decimal {
        let amount = Self::money(market, units);
        match market {
            Market::Krx => (amount * self.cfg.sell_tax_rate).floor(),
            Market::Us => (amount * self.cfg.us.sell_fee_rate)
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
        }
    }

    /// Cash a buy of `qty` at `price` reserves: the amount plus the commission rounded up.
    pub(super) fn buy_need_in(&self, market: Market, price: i64, qty: i64) -> Decimal {
        let amount = Self::money(market, price * qty);
        match market {
            Market::Krx => amount + (amount * self.cfg.commission_rate).ceil(),
            Market::Us => {
                amount
                    + (amount * self.cfg.us.commission_rate)
                        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToPositiveInfinity)
            }
        }
    }

    fn buy_need(&self, price: i64, qty: i64) -> Decimal {
        self.buy_need_in(Market::Krx, price, qty)
    }

    /// Builds and emits the execution notice of `o` on its market's channel.
    pub(super) fn notify(
        &mut self,
        o: &Order,
        kind: records::NoticeKind,
        qty: i64,
        price: i64,
        now: DateTime<FixedOffset>,
    ) {
        match o.market {
            Market::Krx => {
                let rec = records::notice(self, o, kind, qty, price, now);
                self.emit_notice(rec);
            }
            Market::Us => {
                let rec = super::us::records::notice(self, o, kind, qty, price, now);
                let tr = super::us::UsConfig::notice_tr(self.cfg.mode);
                self.emit_notice_as(tr, rec);
            }
        }
    }

    /// Returns the markets of one side of the simulator.
    pub(super) fn markets_mut(
        &mut self,
        market: Market,
    ) -> &mut std::collections::BTreeMap<String, super::market::SymbolMarket> {
        match market {
            Market::Krx => &mut self.markets,
            Market::Us => &mut self.us_markets,
        }
    }

    /// Validates and accepts a new order, executing what the book allows at once.
    ///
    /// # Errors
    /// Returns the KIS business [`Reject`] for a refused order.
    pub fn place(&mut self, req: NewOrder, now: DateTime<FixedOffset>) -> Result<Order, Reject> {
        self.advance_to(now);
        let m = self.markets.get(&req.symbol).ok_or(Reject::UnknownSymbol)?;
        if req.qty <= 0 {
            return Err(Reject::BadQty);
        }
        if !EXECUTED.contains(&req.ord_dvsn.as_str()) {
            return Err(Reject::OrderType);
        }
        if self.cfg.mode == crate::domain::Mode::Paper && req.venue != "KRX" {
            return Err(Reject::Venue);
        }
        self.order_window(now)?;
        let (lo, hi) = m.band();
        let flat = m.flat();
        let name = m.inst.name.clone();
        let priced = matches!(req.ord_dvsn.as_str(), "00" | "11" | "12");
        let price = if priced {
            if req.price > hi {
                return Err(Reject::AboveUpper);
            }
            if req.price < lo {
                return Err(Reject::BelowLower);
            }
            if !on_grid(req.price, flat) {
                return Err(Reject::OffTick);
            }
            req.price
        } else {
            match req.ord_dvsn.as_str() {
                "03" | "15" | "16" => {
                    if req.side == Side::Buy {
                        m.best_ask()
                    } else {
                        m.best_bid()
                    }
                }
                "04" => {
                    if req.side == Side::Buy {
                        m.best_bid()
                    } else {
                        m.best_ask()
                    }
                }
                _ => 0,
            }
        };
        let reserve_price = if price == 0 { hi } else { price };
        let mut reserved = Decimal::ZERO;
        let acct = self.accounts.get_mut(&req.account).ok_or(Reject::NoOrder)?;
        match req.side {
            Side::Buy => {
                let need = Decimal::from(reserve_price * req.qty)
                    + (Decimal::from(reserve_price * req.qty) * self.cfg.commission_rate).ceil();
                if acct.cash - acct.reserved < need {
                    return Err(Reject::NoCash);
                }
                acct.reserved += need;
                reserved = need;
            }
            Side::Sell => {
                let h = acct.holdings.entry(req.symbol.clone()).or_default();
                if h.qty - h.reserved < req.qty {
                    return Err(Reject::NoShares);
                }
                h.reserved += req.qty;
            }
        }
        let (id, odno) = self.take_order_number(now.date_naive());
        let order = Order {
            id,
            market: Market::Krx,
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
            date: now.date_naive(),
            time: now,
            reserved,
        };
        self.orders.insert(id, order.clone());
        self.notify(&order, records::NoticeKind::Accepted, order.qty, order.price, now);
        if super::faults::take(&mut self.faults.reject_orders) {
            self.finish(id, OrderEvent::Reject, now, true);
        } else if self.in_continuous(now) {
            self.execute_now(id, now);
        }
        Ok(self.orders.get(&id).cloned().unwrap_or(order))
    }

    pub(super) fn in_continuous(&self, now: DateTime<FixedOffset>) -> bool {
        let t = now.time();
        self.calendar.is_trading_day(now.date_naive()) && t >= session_open() && t < session_close()
    }

    /// Executes an order against the current book as an aggressor, then applies IOC/FOK rules.
    pub(super) fn execute_now(&mut self, id: u64, now: DateTime<FixedOffset>) {
        let Some(o) = self.orders.get(&id).cloned() else { return };
        let Some(mut m) = self.markets_mut(o.market).remove(&o.symbol) else { return };
        let buy = o.side == Side::Buy;
        let limit = (o.price > 0).then_some(o.price);
        let cond = o.condition();
        if cond == 2 {
            let facing = if buy { &m.book.asks } else { &m.book.bids };
            let avail: i64 = facing
                .iter()
                .filter(|l| l.1 > 0 && l.0 > 0 && limit.is_none_or(|p| if buy { l.0 <= p } else { l.0 >= p }))
                .map(|l| l.1)
                .sum();
            if avail < o.qty {
                self.markets_mut(o.market).insert(o.symbol.clone(), m);
                self.finish(id, OrderEvent::Close, now, true);
                return;
            }
        }
        let crosses = match limit {
            None => true,
            Some(p) if buy => p >= m.best_ask(),
            Some(p) => p <= m.best_bid(),
        };
        if crosses {
            for (price, qty) in m.take(buy, o.remaining(), limit) {
                self.apply_fill(id, price, qty, now);
            }
        }
        self.markets_mut(o.market).insert(o.symbol.clone(), m);
        if cond != 0 && self.orders.get(&id).is_some_and(|o| o.status == OrderStatus::Open) {
            self.finish(id, OrderEvent::Close, now, true);
        }
    }

    /// Closes (or rejects) the remainder of an order, releases reservations and notifies.
    pub(super) fn finish(&mut self, id: u64, event: OrderEvent, now: DateTime<FixedOffset>, notify: bool) {
        let Some(o) = self.orders.get_mut(&id) else { return };
        let left = o.remaining();
        let Ok(next) = o.status.transition(event) else { return };
        if event == OrderEvent::Reject {
            o.rejected += left;
        } else {
            o.closed += left;
        }
        o.status = next;
        let released = std::mem::take(&mut o.reserved);
        let order = o.clone();
        if let Some(acct) = self.accounts.get_mut(&order.account) {
            let (_, reserved, holdings) = acct.parts_mut(order.market);
            match order.side {
                Side::Buy => *reserved = (*reserved - released).max(Decimal::ZERO),
                Side::Sell => {
                    if let Some(h) = holdings.get_mut(&order.symbol) {
                        h.reserved = (h.reserved - left).max(0);
                    }
                }
            }
        }
        if notify {
            let kind = if event == OrderEvent::Reject {
                records::NoticeKind::Rejected
            } else {
                records::NoticeKind::RemainderCancelled
            };
            self.notify(&order, kind, left, order.price, now);
        }
    }

    /// Books one execution of the order record `id` and notifies it.
    pub(super) fn apply_fill(&mut self, id: u64, price: i64, qty: i64, now: DateTime<FixedOffset>) {
        if qty <= 0 {
            return;
        }
        let Some(market) = self.orders.get(&id).map(|o| o.market) else { return };
        let comm = self.commission(market, price * qty);
        let tax = self.tax(market, price * qty);
        let reserve_price = self.orders.get(&id).map_or(0, |o| o.price);
        let partial_need =
            if reserve_price > 0 { self.buy_need_in(market, reserve_price, qty) } else { Decimal::ZERO };
        let Some(o) = self.orders.get_mut(&id) else { return };
        let qty = qty.min(o.remaining());
        if qty <= 0 {
            return;
        }
        let event = if qty == o.remaining() { OrderEvent::LastFill } else { OrderEvent::PartFill };
        let Ok(next) = o.status.transition(event) else { return };
        o.filled += qty;
        o.filled_amt += price * qty;
        o.status = next;
        let release = if next == OrderStatus::Open && reserve_price > 0 {
            partial_need.min(o.reserved)
        } else if next == OrderStatus::Open {
            // market buy: reserved at the upper limit; release pro rata of the remaining quantity
            let rem = o.remaining() + qty;
            if rem > 0 {
                (o.reserved * Decimal::from(qty) / Decimal::from(rem)).round_dp(0).min(o.reserved)
            } else {
                o.reserved
            }
        } else {
            o.reserved
        };
        o.reserved -= release;
        let order = o.clone();
        let amount = Self::money(market, price * qty);
        let mut realized = Decimal::ZERO;
        let mut avg_cost = Decimal::ZERO;
        let mut tax_charged = Decimal::ZERO;
        if let Some(acct) = self.accounts.get_mut(&order.account) {
            let (cash, reserved, holdings) = acct.parts_mut(market);
            let h = holdings.entry(order.symbol.clone()).or_default();
            if h.qty > 0 {
                avg_cost = h.cost / Decimal::from(h.qty);
            }
            match order.side {
                Side::Buy => {
                    *reserved = (*reserved - release).max(Decimal::ZERO);
                    *cash -= amount + comm;
                    h.qty += qty;
                    h.cost += amount;
                    h.bought_today += qty;
                }
                Side::Sell => {
                    tax_charged = tax;
                    let cost = if h.qty > 0 {
                        h.cost * Decimal::from(qty) / Decimal::from(h.qty)
                    } else {
                        Decimal::ZERO
                    };
                    *cash += amount - comm - tax;
                    h.cost -= cost;
                    h.qty -= qty;
                    h.reserved = (h.reserved - qty).max(0);
                    h.sold_today += qty;
                    if h.qty == 0 {
                        h.cost = Decimal::ZERO;
                    }
                    realized = amount - cost - comm - tax;
                }
            }
        }
        let seq = self.fills.len() as u64 + 1;
        self.fills.push(Fill {
            seq,
            order_id: id,
            market,
            odno: order.odno,
            account: order.account.clone(),
            symbol: order.symbol.clone(),
            side: order.side,
            price,
            qty,
            commission: comm,
            tax: tax_charged,
            realized,
            avg_cost,
            time: now,
        });
        self.notify(&order, records::NoticeKind::Fill, qty, price, now);
    }

    /// Modifies or cancels an open order.
    ///
    /// # Errors
    /// Returns the KIS business [`Reject`] for a refused request.
    pub fn amend(&mut self, req: Amend, now: DateTime<FixedOffset>) -> Result<Order, Reject> {
        self.advance_to(now);
        let orig = self
            .order_of(&req.account, Market::Krx, now.date_naive(), req.orig)
            .cloned()
            .ok_or(Reject::NoOrder)?;
        self.order_window(now)?;
        let left = orig.remaining();
        if left == 0 {
            return Err(Reject::NothingLeft);
        }
        let qty = if req.all { left } else { req.qty };
        if qty <= 0 {
            return Err(Reject::BadQty);
        }
        if qty > left {
            return Err(Reject::QtyExceeds);
        }
        let mut new_price = orig.price;
        let mut new_dvsn = orig.ord_dvsn.clone();
        if !req.cancel {
            if !EXECUTED.contains(&req.ord_dvsn.as_str()) {
                return Err(Reject::OrderType);
            }
            let m = self.markets.get(&orig.symbol).ok_or(Reject::UnknownSymbol)?;
            let (lo, hi) = m.band();
            new_dvsn = req.ord_dvsn.clone();
            new_price = if is_market_type(&req.ord_dvsn) { 0 } else { req.price };
            if new_price != 0 {
                if new_price > hi {
                    return Err(Reject::AboveUpper);
                }
                if new_price < lo {
                    return Err(Reject::BelowLower);
                }
                if !on_grid(new_price, m.flat()) {
                    return Err(Reject::OffTick);
                }
            }
            if orig.side == Side::Buy {
                let hi_or = if new_price == 0 { hi } else { new_price };
                let need = self.buy_need(hi_or, qty);
                let freed = if orig.remaining() > 0 {
                    orig.reserved * Decimal::from(qty) / Decimal::from(orig.remaining())
                } else {
                    Decimal::ZERO
                };
                let acct = self.accounts.get(&req.account).ok_or(Reject::NoOrder)?;
                if acct.cash - acct.reserved + freed < need {
                    return Err(Reject::NoCash);
                }
            }
        }
        let number = self.take_order_number(now.date_naive());
        let rec =
            self.book_amend(&orig, qty, req.cancel, new_dvsn, new_price, number, now.date_naive(), now)?;
        let id = rec.id;
        if !req.cancel && self.in_continuous(now) {
            self.execute_now(id, now);
        }
        Ok(self.orders.get(&id).cloned().unwrap_or(rec))
    }

    /// Takes `qty` off the working order `orig`, books the modify (a new working order at
    /// `new_price`) or cancel record numbered `number` on `date`, moves the reservations and
    /// notifies; the caller executes a modify against the book.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn book_amend(
        &mut self,
        orig: &Order,
        qty: i64,
        cancel: bool,
        new_dvsn: String,
        new_price: i64,
        number: (u64, u64),
        date: chrono::NaiveDate,
        now: DateTime<FixedOffset>,
    ) -> Result<Order, Reject> {
        let left = orig.remaining();
        let freed = {
            let o = self.orders.get_mut(&orig.id).ok_or(Reject::NoOrder)?;
            let freed = if qty == left {
                o.reserved
            } else {
                (o.reserved * Decimal::from(qty) / Decimal::from(left)).round_dp(0)
            };
            o.reserved -= freed;
            o.closed += qty;
            if qty == left {
                o.status = o.status.transition(OrderEvent::Close).unwrap_or(o.status);
            }
            freed
        };
        let (id, odno) = number;
        let mut rec = Order {
            id,
            market: orig.market,
            odno,
            orig: Some(orig.odno),
            kind: if cancel { OrderKind::Cancel } else { OrderKind::Modify },
            account: orig.account.clone(),
            symbol: orig.symbol.clone(),
            name: orig.name.clone(),
            side: orig.side,
            ord_dvsn: new_dvsn,
            price: if cancel { orig.price } else { new_price },
            qty,
            filled: 0,
            filled_amt: 0,
            closed: 0,
            rejected: 0,
            status: if cancel { OrderStatus::Request } else { OrderStatus::Open },
            date,
            time: now,
            reserved: Decimal::ZERO,
        };
        let hi = self.markets_mut(orig.market).get(&orig.symbol).map_or(0, |m| m.band().1);
        let need = if orig.side == Side::Buy && !cancel {
            let p = if rec.price == 0 { hi } else { rec.price };
            self.buy_need_in(orig.market, p, qty)
        } else {
            Decimal::ZERO
        };
        if let Some(acct) = self.accounts.get_mut(&orig.account) {
            let (_, reserved, holdings) = acct.parts_mut(orig.market);
            if orig.side == Side::Buy {
                *reserved = (*reserved - freed).max(Decimal::ZERO);
                if !cancel {
                    *reserved += need;
                    rec.reserved = need;
                }
            } else if cancel && let Some(h) = holdings.get_mut(&orig.symbol) {
                h.reserved = (h.reserved - qty).max(0);
            }
        }
        self.orders.insert(id, rec.clone());
        let kind = if cancel { records::NoticeKind::Cancelled } else { records::NoticeKind::Modified };
        self.notify(&rec, kind, qty, rec.price, now);
        Ok(rec)
    }
}

/// Converts a decimal amount to whole won for the wire.
pub fn won(d: Decimal) -> i64 {
    d.round_dp(0).to_i64().unwrap_or(0)
}
