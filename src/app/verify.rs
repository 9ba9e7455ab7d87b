//! Compares the day's orders and fills in the database with the simulator's own records (the
//! demo's summary and the end-to-end tests): every broker order must be ours exactly once with the
//! same filled quantity.
//!
//! Order numbers restart every trading date, so only the simulator's orders and fills of the
//! compared date count, and an order is matched by (date, number).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::domain::MarketRegion;
use crate::store::{Store, StoreError};

/// The outcome of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimComparison {
    /// Our orders of the day.
    pub db_orders: usize,
    /// Our orders that reached the broker (have a broker order number).
    pub db_orders_at_broker: usize,
    /// The simulator's new orders of the date (modify/cancel records excluded).
    pub sim_orders: usize,
    /// Filled quantity by our fills.
    pub db_filled_qty: Decimal,
    /// Filled quantity by the simulator.
    pub sim_filled_qty: Decimal,
    /// Fill rows in the database.
    pub db_fills: usize,
    /// Fill records of the date in the simulator.
    pub sim_fills: usize,
    /// Every difference found.
    pub mismatches: Vec<String>,
}

impl SimComparison {
    /// Returns true when nothing differs.
    pub fn matches(&self) -> bool {
        self.mismatches.is_empty()
    }
}

fn num(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// Returns the trade date of a simulator record: its `date` field (a US record's is the New York
/// date), else the date part of its RFC 3339 `time` (the simulator writes times in KST).
fn sim_date(v: &Value) -> Option<NaiveDate> {
    let text = v.get("date").and_then(Value::as_str).or_else(|| v.get("time").and_then(Value::as_str))?;
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

/// Compares the database's KRX orders and fills of `date` with a simulator state snapshot
/// ([`crate::sim::SimHandle::state`]).
///
/// # Errors
/// Returns a [`StoreError`] when the database cannot be read.
pub async fn compare_with_sim(
    store: &Store,
    date: NaiveDate,
    sim: &Value,
) -> Result<SimComparison, StoreError> {
    compare_market_with_sim(store, date, sim, MarketRegion::Kr).await
}

/// Whether a simulator record belongs to `region` (the simulator writes `Krx` or `Us`).
fn of_market(v: &Value, region: MarketRegion) -> bool {
    let market = v.get("market").and_then(Value::as_str).unwrap_or("Krx");
    match region {
        MarketRegion::Kr => market == "Krx",
        MarketRegion::Us => market == "Us",
    }
}

/// Compares the database's orders and fills of one market's trade `date` (the New York date for
/// the US) with the simulator's records of that market and date.
///
/// # Errors
/// Returns a [`StoreError`] when the database cannot be read.
pub async fn compare_market_with_sim(
    store: &Store,
    date: NaiveDate,
    sim: &Value,
    region: MarketRegion,
) -> Result<SimComparison, StoreError> {
    let day = crate::ports::TradingLog::load_day(store, date).await?.of_region(region);
    let (orders, fills) = (day.orders, day.executions);
    let mut out = SimComparison {
        db_orders: orders.len(),
        db_filled_qty: fills.iter().map(|f| f.qty).sum(),
        db_fills: fills.len(),
        ..SimComparison::default()
    };
    let mut ours: BTreeMap<u64, (i64, Decimal)> = BTreeMap::new();
    for o in &orders {
        if let Some(no) = o.order.broker_order_no() {
            out.db_orders_at_broker += 1;
            let n = no.number.trim_start_matches('0').parse::<u64>().unwrap_or(0);
            if ours.insert(n, (o.id, o.order.filled_qty())).is_some() {
                out.mismatches.push(format!("broker order {n} is held by two of our orders"));
            }
        }
    }
    let empty = Vec::new();
    let sim_orders = sim.get("orders").and_then(Value::as_array).unwrap_or(&empty);
    let new_orders_of_date = sim_orders.iter().filter(|o| {
        o.get("orig").is_none_or(Value::is_null) && sim_date(o) == Some(date) && of_market(o, region)
    });
    for o in new_orders_of_date {
        out.sim_orders += 1;
        let odno = o.get("odno").and_then(Value::as_u64).unwrap_or(0);
        let filled = Decimal::from(num(o, "filled"));
        out.sim_filled_qty += filled;
        match ours.remove(&odno) {
            None => out.mismatches.push(format!("sim order {odno} is not in the database")),
            Some((id, qty)) if qty != filled => out
                .mismatches
                .push(format!("order {id} (sim {odno}): filled {qty} here, {filled} at the sim")),
            Some(_) => {}
        }
    }
    for (n, (id, _)) in ours {
        out.mismatches.push(format!("order {id} carries broker number {n}, unknown to the sim"));
    }
    // A fill belongs to its order's trade date (a US fill after midnight KST is still the New
    // York date's).
    let order_dates: BTreeMap<u64, Option<NaiveDate>> =
        sim_orders.iter().map(|o| (o.get("id").and_then(Value::as_u64).unwrap_or(0), sim_date(o))).collect();
    let fill_date = |f: &Value| {
        f.get("order_id")
            .and_then(Value::as_u64)
            .and_then(|id| order_dates.get(&id).copied().flatten())
            .or_else(|| sim_date(f))
    };
    out.sim_fills = sim.get("fills").and_then(Value::as_array).map_or(0, |fills| {
        fills.iter().filter(|f| fill_date(f) == Some(date) && of_market(f, region)).count()
    });
    if out.db_filled_qty != out.sim_filled_qty {
        out.mismatches.push(format!(
            "filled quantity: {} in the database, {} at the sim",
            out.db_filled_qty, out.sim_filled_qty
        ));
    }
    Ok(out)
}
