//! Advancing the simulated day: runs each symbol's trades and book updates in time order, fills
//! resting orders against the prints, streams trade/book records, and rolls the trading date.

use std::collections::VecDeque;

use chrono::{DateTime, FixedOffset, TimeDelta};
use rust_decimal::Decimal;

use super::clock::at;
use super::market::{Print, SymbolMarket, Tick, session_close, session_open};
use super::records;
use super::state::{FeedMessage, Order, OrderEvent, OrderStatus, SimState};
use crate::domain::Side;

/// Trades streamed per symbol per advance of the markets, about: an advance streams the end of
/// the simulated time it covers that holds this many trades at the symbol's trade rate (with the
/// book updates in that stretch). At real-time speed an advance covers 20 ms, so every record is
/// streamed; at high speed a client sees a sample of the market as busy as a quiet name's.
const STREAMED_TRADES: f64 = 12.0;

/// Records kept per symbol per advance at most, whatever the rates.
const STREAMED_MAX: usize = 400;

impl SimState {
    /// Advances every market to `now`, matching resting orders on each print and rolling days.
    pub fn advance_to(&mut self, now: DateTime<FixedOffset>) {
        if self.faults.take_ws_close(now) {
            let _ = self.feed.send(FeedMessage::CloseAll);
        }
        if std::mem::take(&mut self.faults.malformed_frame) {
            let _ = self.feed.send(FeedMessage::Malformed);
        }
        loop {
            let day = self.date;
            let end = at(day, session_close()) - TimeDelta::seconds(1);
            self.run_markets(now.min(end));
            if now.date_naive() <= day {
                break;
            }
            let next = if (now.date_naive() - day).num_days() > 40 {
                now.date_naive()
            } else {
                day.succ_opt().unwrap_or(day)
            };
            self.end_of_day(next);
        }
    }

    /// Runs every market's events due up to `target`, matching resting orders against the
    /// prints, and streams the trade/book records of the last stretch holding about
    /// [`STREAMED_TRADES`] trades of each symbol (at real-time speed that is every record; a jump
    /// of hours streams only its end).
    fn run_markets(&mut self, target: DateTime<FixedOffset>) {
        let symbols: Vec<String> = self.markets.keys().cloned().collect();
        let trading = self.calendar.is_trading_day(self.date);
        let open = at(self.date, session_open());
        for sym in symbols {
            let Some(mut m) = self.markets.remove(&sym) else { continue };
            if !trading || target <= m.cursor {
                m.cursor = m.cursor.max(target);
                self.markets.insert(sym, m);
                continue;
            }
            if m.next_event < open {
                m.schedule_from(open);
            }
            let resting: Vec<u64> = self
                .orders
                .values()
                .filter(|o| o.symbol == sym && o.status == OrderStatus::Open)
                .map(|o| o.id)
                .collect();
            // Records are formatted only near the end of a long advance.
            let rate = m.activity.trades_per_sec.max(0.001);
            let window = TimeDelta::milliseconds((STREAMED_TRADES / rate * 1_000.0).min(86_400_000.0) as i64);
            let mut frames: VecDeque<FeedMessage> = VecDeque::new();
            while m.next_event <= target {
                let t = m.next_event;
                let tick = m.step(t.time());
                let streamed = target - t <= window;
                if let Tick::Trade(p) = tick {
                    if !resting.is_empty() {
                        self.match_resting(&mut m, &resting, p, t);
                    }
                    if streamed {
                        let record = records::trade(&m, &p);
                        frames.push_back(FeedMessage::Data { tr_id: "H0STCNT0", key: sym.clone(), record });
                    }
                }
                if streamed {
                    let record = records::book(&m, t.time());
                    frames.push_back(FeedMessage::Data { tr_id: "H0STASP0", key: sym.clone(), record });
                }
                while frames.len() > STREAMED_MAX {
                    frames.pop_front();
                }
            }
            m.cursor = target;
            for f in frames {
                let _ = self.feed.send(f);
            }
            self.markets.insert(sym, m);
        }
    }

    fn match_resting(&mut self, m: &mut SymbolMarket, resting: &[u64], p: Print, t: DateTime<FixedOffset>) {
        let mut ids: Vec<(u64, Side, i64)> = resting
            .iter()
            .filter_map(|id| self.orders.get(id))
            .filter(|o| o.status == OrderStatus::Open)
            .map(|o| (o.id, o.side, o.price))
            .collect();
        if ids.is_empty() {
            return;
        }
        ids.sort_by_key(|&(id, side, price)| {
            let key = if price == 0 {
                i64::MIN
            } else if side == Side::Buy {
                -price
            } else {
                price
            };
            (side == Side::Sell, key, id)
        });
        let mut pool = p.qty;
        for (id, side, price) in ids {
            let buy = side == Side::Buy;
            let remaining = self.orders.get(&id).map_or(0, Order::remaining);
            if remaining == 0 {
                continue;
            }
            let crosses = price == 0 || if buy { price >= m.best_ask() } else { price <= m.best_bid() };
            if crosses {
                let limit = (price > 0).then_some(price);
                for (px, q) in m.take(buy, remaining, limit) {
                    self.apply_fill(id, px, q, t);
                }
            } else if pool > 0 && ((buy && p.price <= price) || (!buy && p.price >= price)) {
                let q = remaining.min(pool);
                pool -= q;
                self.apply_fill(id, price, q, t);
            }
        }
    }

    /// Closes the trading day: expires open orders and rolls markets and positions to `next`.
    pub fn end_of_day(&mut self, next: chrono::NaiveDate) {
        let open: Vec<u64> =
            self.orders.values().filter(|o| o.status == OrderStatus::Open).map(|o| o.id).collect();
        let close_time = at(self.date, session_close());
        for id in open {
            self.finish(id, OrderEvent::Close, close_time, false);
        }
        for m in self.markets.values_mut() {
            m.roll_to(next);
            m.cursor = at(next, session_open()) - TimeDelta::seconds(1);
        }
        let prices: std::collections::BTreeMap<String, i64> =
            self.markets.iter().map(|(k, m)| (k.clone(), m.last)).collect();
        for acct in self.accounts.values_mut() {
            let mut assets = acct.cash;
            for (sym, h) in &mut acct.holdings {
                h.start_qty = h.qty;
                h.bought_today = 0;
                h.sold_today = 0;
                assets += Decimal::from(h.qty * prices.get(sym).copied().unwrap_or(0));
            }
            acct.start_assets = assets;
        }
        self.date = next;
    }

    /// Returns the value of an account's holdings at last prices.
    pub fn holdings_value(&self, account: &str) -> i64 {
        self.accounts.get(account).map_or(0, |a| {
            a.holdings.iter().map(|(s, h)| h.qty * self.markets.get(s).map_or(0, |m| m.last)).sum()
        })
    }

    /// Prints a trade of other participants at `price` (snapped into the band and onto the grid)
    /// and matches resting orders against it; returns the price used, or `None` for an unknown
    /// symbol.
    pub fn force_print(
        &mut self,
        symbol: &str,
        price: i64,
        qty: i64,
        now: DateTime<FixedOffset>,
    ) -> Option<i64> {
        self.advance_to(now);
        let mut m = self.markets.remove(symbol)?;
        let (lo, hi) = m.band();
        let flat = m.flat();
        let mut p = price.clamp(lo, hi);
        p -= p % super::market::tick_size(p, flat);
        let p = p.max(lo);
        let print = Print { time: now.time(), price: p, qty: qty.max(1), buyer_initiated: p >= m.last };
        m.record(print.time, p, print.qty, print.buyer_initiated);
        m.rebuild_book(flat);
        let resting: Vec<u64> = self
            .orders
            .values()
            .filter(|o| o.symbol == symbol && o.status == OrderStatus::Open)
            .map(|o| o.id)
            .collect();
        if self.in_continuous(now) {
            self.match_resting(&mut m, &resting, print, now);
        }
        let trade = records::trade(&m, &print);
        let book = records::book(&m, print.time);
        let _ =
            self.feed.send(FeedMessage::Data { tr_id: "H0STCNT0", key: symbol.to_owned(), record: trade });
        let _ = self.feed.send(FeedMessage::Data { tr_id: "H0STASP0", key: symbol.to_owned(), record: book });
        self.markets.insert(symbol.to_owned(), m);
        Some(p)
    }
}
