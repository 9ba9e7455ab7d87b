//! The day's trading state in memory: our orders with their indexes (idempotency key, broker
//! identity), each order's fill ledger, positions, last prices and price contexts.
//!
//! The database is the write-ahead log behind it: the book is rebuilt from the
//! [`TradingLog`](crate::ports::TradingLog) at start-up, after recovery and at each periodic
//! reconciliation, and every change is written through before the book takes it.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::orders::broker_key;
use crate::domain::fill::{Execution, Fill, FillLedger};
use crate::domain::position::{FeeSchedule, Holding, PositionError, Positions};
use crate::domain::price::PriceContext;
use crate::domain::risk::RiskSnapshot;
use crate::domain::strategy::{LastPrices, OpenOrderView};
use crate::domain::{MarketRegion, Symbol};
use crate::ports::StoredOrder;
use crate::ports::trading_log::DayLog;

/// The in-memory state of one trading date.
#[derive(Debug, Clone)]
pub(crate) struct Book {
    /// Orders of the date by row id.
    orders: BTreeMap<i64, StoredOrder>,
    /// Row id by idempotency key.
    by_key: HashMap<String, i64>,
    /// Row id by broker identity (trading date, number without zero padding); two orders of ours
    /// holding one identity are both listed (an identity conflict).
    by_broker: HashMap<(NaiveDate, String), Vec<i64>>,
    /// Fill ledgers by order row (orders with a broker number).
    ledgers: HashMap<i64, FillLedger>,
    /// Positions: opening holdings plus every recorded fill.
    pub positions: Positions,
    /// Live orders as a strategy and the guardrails see them (rebuilt when an order changes).
    open: Vec<OpenOrderView>,
    /// Orders sent today (the daily order limit counts them).
    sent: u32,
    /// Last price per instrument.
    pub last_prices: LastPrices,
    /// Tick table and band per instrument.
    pub price_ctx: HashMap<Symbol, PriceContext>,
    /// True once loaded from the log.
    pub loaded: bool,
    /// The market the book's core trades: its metrics are that market's series (the KRX and the
    /// US engine run in one process).
    region: MarketRegion,
}

impl Book {
    /// An empty, unloaded book of a market.
    pub fn new(fees: FeeSchedule, region: MarketRegion) -> Self {
        Self {
            orders: BTreeMap::new(),
            by_key: HashMap::new(),
            by_broker: HashMap::new(),
            ledgers: HashMap::new(),
            positions: Positions::new(fees),
            open: Vec::new(),
            sent: 0,
            last_prices: LastPrices::new(),
            price_ctx: HashMap::new(),
            loaded: false,
            region,
        }
    }

    /// Replaces the orders, ledgers and positions with the log's (last prices and price contexts
    /// are kept).
    ///
    /// # Errors
    /// Returns a description when the stored fills do not make a valid ledger or valid positions.
    pub fn load(&mut self, day: DayLog, fees: FeeSchedule, opening: &[Holding]) -> Result<(), String> {
        let mut positions =
            Positions::from_fills(fees, opening, &day.executions).map_err(|e| e.to_string())?;
        for (s, p) in &self.last_prices {
            positions.mark(s, *p);
        }
        let mut fills = day.fills;
        self.orders.clear();
        self.by_key.clear();
        self.by_broker.clear();
        self.ledgers.clear();
        for o in day.orders {
            if let Some(no) = o.order.broker_order_no() {
                let stored = fills.remove(&o.id).unwrap_or_default();
                let ledger = FillLedger::restore(no.clone(), o.order.request().qty, stored)
                    .map_err(|e| format!("order {}: {e}", o.id))?;
                self.ledgers.insert(o.id, ledger);
            }
            self.index(o);
        }
        self.positions = positions;
        self.refresh_views();
        self.loaded = true;
        Ok(())
    }

    fn index(&mut self, o: StoredOrder) {
        self.by_key.insert(o.order.request().key.as_str().to_owned(), o.id);
        if let Some(no) = o.order.broker_order_no() {
            let ids = self.by_broker.entry(broker_key(o.trade_date, &no.number)).or_default();
            if !ids.contains(&o.id) {
                ids.push(o.id);
            }
        }
        self.orders.insert(o.id, o);
    }

    /// Takes an order's new state (from a write that committed, or read back from the log).
    pub fn put(&mut self, o: StoredOrder) {
        if let Some(no) = o.order.broker_order_no()
            && !self.ledgers.contains_key(&o.id)
        {
            self.ledgers.insert(o.id, FillLedger::new(no.clone(), o.order.request().qty));
        }
        self.index(o);
        self.refresh_views();
    }

    fn refresh_views(&mut self) {
        self.open = self
            .orders
            .values()
            .filter(|o| o.order.status().is_open())
            .map(|o| OpenOrderView {
                symbol: o.order.request().symbol.clone(),
                side: o.order.request().side,
                leaves_qty: o.order.leaves_qty(),
                price: o.order.request().price,
            })
            .collect();
        self.sent =
            u32::try_from(self.orders.values().filter(|o| o.sent_at.is_some()).count()).unwrap_or(u32::MAX);
        self.publish();
    }

    /// Exports the orders by status, the orders sent and the realized P&L (see [`crate::obs`]).
    fn publish(&self) {
        let by_status: Vec<(&'static str, usize)> = crate::domain::order::OrderStatus::ALL
            .iter()
            .map(|s| (s.as_str(), self.orders.values().filter(|o| o.order.status() == *s).count()))
            .collect();
        crate::obs::record::orders(self.region, &by_status, self.sent);
        crate::obs::record::realized_pnl(self.region, self.positions.realized_pnl());
    }

    /// Returns an order.
    pub fn order(&self, id: i64) -> Option<&StoredOrder> {
        self.orders.get(&id)
    }

    /// Returns every order of the date, oldest first.
    pub fn orders(&self) -> impl Iterator<Item = &StoredOrder> {
        self.orders.values()
    }

    /// Returns the order of an idempotency key.
    pub fn by_key(&self, key: &str) -> Option<&StoredOrder> {
        self.by_key.get(key).and_then(|id| self.orders.get(id))
    }

    /// Returns the orders holding a broker identity (more than one is a conflict).
    pub fn by_broker(&self, trade_date: NaiveDate, number: &str) -> Vec<i64> {
        self.by_broker.get(&broker_key(trade_date, number)).cloned().unwrap_or_default()
    }

    /// Returns an order's ledger.
    pub fn ledger(&self, id: i64) -> Option<&FillLedger> {
        self.ledgers.get(&id)
    }

    /// Takes an order's ledger after its fills were written; the fills new to the ledger are
    /// applied to positions. Returns false when positions must be rebuilt from the log (fills
    /// were replaced rather than added, or the new fills do not apply).
    pub fn take_fills(&mut self, id: i64, ledger: FillLedger, before: &[Fill], symbol: &Symbol) -> bool {
        let side = self.orders.get(&id).map(|o| o.order.request().side);
        let added: Vec<&Fill> =
            ledger.fills().iter().filter(|f| !before.iter().any(|b| b.id == f.id)).collect();
        // Net of fills the ledger replaced (a snapshot's fill superseded by the notices' own).
        let dropped = before.iter().filter(|b| !ledger.fills().iter().any(|f| f.id == b.id)).count();
        let added_count = added.len().saturating_sub(dropped);
        let replaced = before.iter().any(|b| !ledger.fills().iter().any(|f| f.id == b.id && f.qty == b.qty));
        let mut ok = !replaced;
        if ok && let Some(side) = side {
            for f in added {
                let e = Execution { symbol: symbol.clone(), side, qty: f.qty, amount: f.amount };
                if let Err(PositionError::Oversell { .. } | PositionError::Invalid(_)) =
                    self.positions.apply(&e)
                {
                    ok = false;
                    break;
                }
            }
            if let Some(p) = self.last_prices.get(symbol) {
                self.positions.mark(symbol, *p);
            }
        }
        if let Some(side) = side {
            crate::obs::record::fills(self.region, side.as_str(), added_count);
        }
        crate::obs::record::realized_pnl(self.region, self.positions.realized_pnl());
        self.ledgers.insert(id, ledger);
        ok
    }

    /// Records the last price of an instrument.
    pub fn mark(&mut self, symbol: &Symbol, price: Decimal) {
        if let Some(p) = self.last_prices.get_mut(symbol) {
            *p = price;
        } else {
            self.last_prices.insert(symbol.clone(), price);
        }
        self.positions.mark(symbol, price);
    }

    /// Live orders.
    pub fn open_orders(&self) -> &[OpenOrderView] {
        &self.open
    }

    /// The guardrails' view of the state.
    pub fn risk_snapshot(&self) -> RiskSnapshot {
        let snap = RiskSnapshot::from_positions(
            &self.positions,
            self.last_prices.clone(),
            self.open.clone(),
            self.sent,
        );
        crate::obs::record::pnl(self.region, snap.realized_pnl, snap.unrealized_pnl);
        snap
    }
}
