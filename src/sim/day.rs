//! Advancing the simulated day: runs each symbol's trades and book updates in time order, fills
//! resting orders against the prints, streams trade/book records, and rolls the trading date —
//! for the KRX markets on the KST date and for the US markets on the New York date.

use std::collections::VecDeque;

use chrono::{DateTime, FixedOffset, TimeDelta};
use rust_decimal::Decimal;

use super::clock::at;
use super::market::{Print, SymbolMarket, Tick, session_close, session_open};
use super::records;
use super::state::{FeedMessage, Market, Order, OrderEvent, OrderStatus, SimState};
use super::us;
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
            self.run_markets(Market::Krx, now.min(end));
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
        loop {
            let day = self.us_date;
            let end = us::rules::close_at(day) - TimeDelta::seconds(1);
            self.run_markets(Market::Us, now.min(end));
            let local = us::rules::local_date(now);
            if local <= day {
                break;
            }
            let next = if (local - day).num_days() > 40 { local } else { day.succ_opt().unwrap_or(day) };
            self.end_of_us_day(next);
        }
    }

    /// Runs every market's events due up to `target`, matching resting orders against the
    /// prints, and streams the trade/book records of the last stretch holding about
    /// [`STREAMED_TRADES`] trades of each symbol (at real-time speed that is every record; a jump
    /// of hours streams only its end).
    fn run_markets(&mut self, market: Market, target: DateTime<FixedOffset>) {
        let (symbols, trading, open): (Vec<String>, bool, DateTime<FixedOffset>) = match market {
            Market::Krx => (
                self.markets.keys().cloned().collect(),
                self.calendar.is_trading_day(self.date),
                at(self.date, session_open()),
            ),
            Market::Us => (
                self.us_markets.keys().cloned().collect(),
                self.us_calendar.is_trading_day(self.us_date),
                us::rules::open_at(self.us_date),
            ),
        };
        let book_levels = self.cfg.us.book_levels;
        for sym in symbols {
            let Some(mut m) = self.markets_mut(market).remove(&sym) else { continue };
            if !trading || target <= m.cursor {
                m.cursor = m.cursor.max(target);
                self.markets_mut(market).insert(sym, m);
                continue;
            }
            if m.next_event < open {
                m.schedule_from(open);
            }
            let resting: Vec<u64> = self
                .orders
                .values()
                .filter(|o| {
                    o.market == market && o.symbol == sym && o.status == OrderStatus::Open && o.continuous()
                })
                .map(|o| o.id)
                .collect();
            let rsym = us::rsym(&m);
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
                        frames.push_back(match market {
                            Market::Krx => {
                                let record = records::trade(&m, &p);
                                FeedMessage::Data { tr_id: "H0STCNT0", key: sym.clone(), record }
                            }
                            Market::Us => {
                                let record = us::records::trade(&m, &p, t);
                                FeedMessage::Data { tr_id: "HDFSCNT0", key: rsym.clone(), record }
                            }
                        });
                    }
                }
                if streamed {
                    frames.push_back(match market {
                        Market::Krx => {
                            let record = records::book(&m, t.time());
                            FeedMessage::Data { tr_id: "H0STASP0", key: sym.clone(), record }
                        }
                        Market::Us => {
                            let record = us::records::book(&m, t, book_levels);
                            FeedMessage::Data { tr_id: "HDFSASP0", key: rsym.clone(), record }
                        }
                    });
                }
                while frames.len() > STREAMED_MAX {
                    frames.pop_front();
                }
            }
            m.cursor = target;
            for f in frames {
                let _ = self.feed.send(f);
            }
            self.markets_mut(market).insert(sym, m);
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

    /// Closes the KRX trading day: expires open orders and rolls markets and positions to `next`.
    pub fn end_of_day(&mut self, next: chrono::NaiveDate) {
        let open: Vec<u64> = self
            .orders
            .values()
            .filter(|o| o.market == Market::Krx && o.status == OrderStatus::Open)
            .map(|o| o.id)
            .collect();
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
        let market = if self.markets.contains_key(symbol) { Market::Krx } else { Market::Us };
        let mut m = self.markets_mut(market).remove(symbol)?;
        let (lo, hi) = m.band();
        let mut p = price.clamp(lo, hi);
        p -= p % m.grid.tick(p);
        let p = p.max(lo);
        let print = Print { time: now.time(), price: p, qty: qty.max(1), buyer_initiated: p >= m.last };
        m.record(print.time, p, print.qty, print.buyer_initiated);
        m.rebuild_book();
        let resting: Vec<u64> = self
            .orders
            .values()
            .filter(|o| {
                o.market == market && o.symbol == symbol && o.status == OrderStatus::Open && o.continuous()
            })
            .map(|o| o.id)
            .collect();
        let live = match market {
            Market::Krx => self.in_continuous(now),
            Market::Us => self.in_us_session(now),
        };
        if live {
            self.match_resting(&mut m, &resting, print, now);
        }
        let (trade, book) = match market {
            Market::Krx => (
                FeedMessage::Data {
                    tr_id: "H0STCNT0",
                    key: symbol.to_owned(),
                    record: records::trade(&m, &print),
                },
                FeedMessage::Data {
                    tr_id: "H0STASP0",
                    key: symbol.to_owned(),
                    record: records::book(&m, print.time),
                },
            ),
            Market::Us => (
                FeedMessage::Data {
                    tr_id: "HDFSCNT0",
                    key: us::rsym(&m),
                    record: us::records::trade(&m, &print, now),
                },
                FeedMessage::Data {
                    tr_id: "HDFSASP0",
                    key: us::rsym(&m),
                    record: us::records::book(&m, now, self.cfg.us.book_levels),
                },
            ),
        };
        let _ = self.feed.send(trade);
        let _ = self.feed.send(book);
        self.markets_mut(market).insert(symbol.to_owned(), m);
        Some(p)
    }
}
