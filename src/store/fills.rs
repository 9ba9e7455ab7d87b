//! The `fills` table ⇔ the domain fill ledger: one row per fill, unique on `fill_key` (the
//! broker's identity of the fill), so a repeated notice or snapshot never adds a row twice.
//!
//! An order number identifies an order only within its trading date (KIS restarts numbering every
//! business day), so the key starts with the order's trading date. A key already held by a row of
//! another order is never dropped silently: it is a [`StoreError::IdentityConflict`].

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use entity::Dec;
use entity::fill::{ActiveModel, Column, Entity, Model};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TryInsertResult};

use super::StoreError;
use crate::domain::fill::{Execution, Fill, FillId, FillKey, FillLedger};
use crate::domain::order::BrokerOrderNo;
use crate::domain::{MarketRegion, Side, Symbol};

const TABLE: &str = "fills";

/// Decimal places of the stored (display) price of a synthetic fill; the amount stays exact.
const PRICE_DP: u32 = 8;

/// Format of the trading date that starts every key.
const DATE_FMT: &str = "%Y-%m-%d";

/// The segment after the date that marks a US order's fill key.
const US_MARK: &str = "US";

fn corrupt(id: impl ToString, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { table: TABLE, id: id.to_string(), reason: reason.into() }
}

/// Returns the stored key of a fill of an order of `market` and `trade_date`:
/// `<YYYY-MM-DD>:<order no>:N:<time>:<qty>:<price>` for a notice,
/// `<YYYY-MM-DD>:<order no>:S:<cumulative qty>` for a snapshot-synthesized fill — a US order's
/// with `US:` before its number (`2026-12-07:US:0000000002:S:1`): each market numbers its orders
/// on its own, so a KRX and a US order of one date may hold the same number.
pub fn fill_key(trade_date: NaiveDate, market: MarketRegion, id: &FillId) -> String {
    let day = match market {
        MarketRegion::Kr => trade_date.format(DATE_FMT).to_string(),
        MarketRegion::Us => format!("{}:{US_MARK}", trade_date.format(DATE_FMT)),
    };
    let no = &id.broker_order_no.number;
    match &id.key {
        FillKey::Notice { exec_time, qty, price } => {
            format!(
                "{day}:{no}:N:{}:{}:{}",
                exec_time.format("%H%M%S%.f"),
                qty.normalize(),
                price.normalize()
            )
        }
        FillKey::Snapshot { cum_qty } => format!("{day}:{no}:S:{}", cum_qty.normalize()),
    }
}

/// A stored fill key taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFillKey {
    /// Trading date of the order.
    pub trade_date: NaiveDate,
    /// The order's market (`US:` in the key, else KRX).
    pub market: MarketRegion,
    /// Order number as stored (10 digits).
    pub number: String,
    /// The fill within the order.
    pub key: FillKey,
}

/// Parses a stored fill key (the order number and date are checked against the row separately).
///
/// # Errors
/// Returns [`StoreError::Corrupt`] when the key is malformed, including a key of the format before
/// trading dates were part of it (the migration `m20261204_000005_rekey_fills` rewrites those).
pub fn parse_fill_key(row: i64, text: &str) -> Result<ParsedFillKey, StoreError> {
    let mut parts: Vec<&str> = text.split(':').collect();
    let market = if parts.get(1) == Some(&US_MARK) {
        parts.remove(1);
        MarketRegion::Us
    } else {
        MarketRegion::Kr
    };
    let dec = |s: &str| Decimal::from_str(s).map_err(|_| corrupt(row, format!("bad number in key {text:?}")));
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, DATE_FMT).map_err(|_| corrupt(row, format!("bad date in key {text:?}")))
    };
    let (day, no, key) = match parts.as_slice() {
        [day, no, "N", time, qty, price] => {
            let exec_time = NaiveTime::parse_from_str(time, "%H%M%S%.f")
                .map_err(|_| corrupt(row, format!("bad time in key {text:?}")))?;
            (day, no, FillKey::Notice { exec_time, qty: dec(qty)?, price: dec(price)? })
        }
        [day, no, "S", cum] => (day, no, FillKey::Snapshot { cum_qty: dec(cum)? }),
        _ => return Err(corrupt(row, format!("bad fill key {text:?}"))),
    };
    if no.is_empty() {
        return Err(corrupt(row, format!("no order number in key {text:?}")));
    }
    Ok(ParsedFillKey { trade_date: date(day)?, market, number: (*no).to_owned(), key })
}

/// Where a fill row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillSource {
    /// A real-time notice.
    Notice,
    /// A REST snapshot (synthesized quantity).
    Snapshot,
}

impl FillSource {
    /// Returns the stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Notice => "NOTICE",
            Self::Snapshot => "SNAPSHOT",
        }
    }
}

/// Row fields of the fills of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillMeta {
    /// The order row.
    pub order_id: i64,
    /// Trading date of the order (part of every fill key).
    pub trade_date: NaiveDate,
    /// Instrument.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Time written as `filled_at` for new rows.
    pub filled_at: DateTime<Utc>,
}

/// What [`sync_ledger`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Rows inserted.
    pub inserted: usize,
    /// Rows whose quantity or amount changed (synthetic fills replaced by notices).
    pub updated: usize,
    /// Rows removed (synthetic fills fully replaced by notices).
    pub deleted: usize,
    /// Inserts that found the key already present on the same order (a concurrent writer
    /// recorded it first).
    pub duplicates: usize,
}

fn amount_of(m: &Model) -> Decimal {
    m.amount.map_or_else(|| m.qty.get() * m.price.get(), Dec::get)
}

/// Inserts one fill row; a row of the same order with the same key already present makes this a
/// no-op that returns false.
///
/// # Errors
/// Returns [`StoreError::IdentityConflict`] when the key is held by a row of another order (the
/// fill is not written), [`StoreError::Db`] on a failed query.
pub async fn insert<C: ConnectionTrait>(conn: &C, fill: &Fill, meta: &FillMeta) -> Result<bool, StoreError> {
    let price = fill.price().map_or(Decimal::ZERO, |p| p.round_dp(PRICE_DP));
    let source = if fill.is_synthetic() { FillSource::Snapshot } else { FillSource::Notice };
    let key = fill_key(meta.trade_date, meta.symbol.region(), &fill.id);
    let row = ActiveModel {
        order_id: Set(meta.order_id),
        fill_key: Set(key.clone()),
        broker_order_no: Set(fill.id.broker_order_no.number.clone()),
        symbol: Set(meta.symbol.as_str().to_owned()),
        side: Set(meta.side.as_str().to_owned()),
        qty: Set(Dec(fill.qty)),
        price: Set(Dec(price)),
        filled_at: Set(meta.filled_at),
        source: Set(source.as_str().to_owned()),
        created_at: Set(Utc::now()),
        amount: Set(Some(Dec(fill.amount))),
        ..Default::default()
    };
    let res =
        Entity::insert(row).on_conflict_do_nothing_on([Column::FillKey]).exec_without_returning(conn).await?;
    if matches!(res, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(true);
    }
    match Entity::find().filter(Column::FillKey.eq(key.as_str())).one(conn).await? {
        Some(existing) if existing.order_id != meta.order_id => {
            Err(StoreError::IdentityConflict { key, orders: vec![existing.order_id, meta.order_id] })
        }
        _ => Ok(false),
    }
}

/// Returns the stored fills of an order of `trade_date` as domain fills.
///
/// # Errors
/// Returns [`StoreError::Db`], or [`StoreError::Corrupt`] when a key is malformed or names another
/// order number or trading date than its row.
pub async fn for_order<C: ConnectionTrait>(
    conn: &C,
    order_id: i64,
    trade_date: NaiveDate,
) -> Result<Vec<Fill>, StoreError> {
    let rows = Entity::find().filter(Column::OrderId.eq(order_id)).order_by_asc(Column::Id).all(conn).await?;
    rows.iter().map(|m| to_fill(m, trade_date)).collect()
}

fn to_fill(m: &Model, trade_date: NaiveDate) -> Result<Fill, StoreError> {
    let parsed = parse_fill_key(m.id, &m.fill_key)?;
    if parsed.number != m.broker_order_no {
        return Err(corrupt(m.id, "fill key names another order"));
    }
    if Symbol::new(&m.symbol).is_ok_and(|s| s.region() != parsed.market) {
        return Err(corrupt(
            m.id,
            format!("fill key names the {} market, its symbol {} another", parsed.market, m.symbol),
        ));
    }
    if parsed.trade_date != trade_date {
        return Err(corrupt(
            m.id,
            format!("fill key names {}, its order trades on {trade_date}", parsed.trade_date),
        ));
    }
    let broker_order_no = BrokerOrderNo::new("", &parsed.number).map_err(|e| corrupt(m.id, e.to_string()))?;
    Ok(Fill { id: FillId { broker_order_no, key: parsed.key }, qty: m.qty.get(), amount: amount_of(m) })
}

/// Rebuilds the fill ledger of an order from its rows.
///
/// # Errors
/// Returns [`StoreError::Corrupt`] when the rows break a ledger invariant, or [`StoreError::Db`].
pub async fn load_ledger<C: ConnectionTrait>(
    conn: &C,
    order_id: i64,
    trade_date: NaiveDate,
    broker_order_no: &BrokerOrderNo,
    order_qty: Decimal,
) -> Result<FillLedger, StoreError> {
    let fills = for_order(conn, order_id, trade_date).await?;
    FillLedger::restore(broker_order_no.clone(), order_qty, fills)
        .map_err(|e| corrupt(order_id, e.to_string()))
}

/// Makes the rows of an order equal to its ledger: inserts new fills, updates synthetic fills whose
/// quantity shrank and deletes the ones fully replaced by notices. The rows are read first; a caller
/// that holds them already calls [`sync_ledger_from`].
///
/// # Errors
/// Returns [`StoreError::IdentityConflict`] when a new fill's key is held by a row of another
/// order (run it in a transaction: the changes before it are then rolled back),
/// [`StoreError::Db`] or [`StoreError::Corrupt`].
pub async fn sync_ledger<C: ConnectionTrait>(
    conn: &C,
    ledger: &FillLedger,
    meta: &FillMeta,
) -> Result<SyncReport, StoreError> {
    let before = for_order(conn, meta.order_id, meta.trade_date).await?;
    sync_ledger_from(conn, &before, ledger, meta).await
}

/// As [`sync_ledger`], given the order's stored fills (`before`) instead of reading them.
///
/// # Errors
/// As [`sync_ledger`]; a notice fill of `before` missing from the ledger is
/// [`StoreError::Corrupt`].
pub async fn sync_ledger_from<C: ConnectionTrait>(
    conn: &C,
    before: &[Fill],
    ledger: &FillLedger,
    meta: &FillMeta,
) -> Result<SyncReport, StoreError> {
    let mut existing: BTreeMap<String, &Fill> =
        before.iter().map(|f| (fill_key(meta.trade_date, meta.symbol.region(), &f.id), f)).collect();
    let mut report = SyncReport::default();
    for fill in ledger.fills() {
        let key = fill_key(meta.trade_date, meta.symbol.region(), &fill.id);
        match existing.remove(&key) {
            None => {
                if insert(conn, fill, meta).await? {
                    report.inserted += 1;
                } else {
                    report.duplicates += 1;
                }
            }
            Some(old) if old.qty != fill.qty || old.amount != fill.amount => {
                update_by_key(conn, &key, fill).await?;
                report.updated += 1;
            }
            Some(_) => {}
        }
    }
    for (key, old) in &existing {
        if !old.is_synthetic() {
            return Err(corrupt(key, "a notice fill is missing from the ledger"));
        }
        delete_by_key(conn, key).await?;
        report.deleted += 1;
    }
    Ok(report)
}

/// Returns the stored fills of orders of `trade_date`, per order, and the same fills as
/// executions in time order (then row order), in one query.
///
/// # Errors
/// Returns [`StoreError::Db`] or [`StoreError::Corrupt`].
pub async fn of_orders<C: ConnectionTrait>(
    conn: &C,
    order_ids: &[i64],
    trade_date: NaiveDate,
) -> Result<(HashMap<i64, Vec<Fill>>, Vec<Execution>), StoreError> {
    let mut per_order: HashMap<i64, Vec<Fill>> = HashMap::new();
    if order_ids.is_empty() {
        return Ok((per_order, Vec::new()));
    }
    let mut rows = Entity::find()
        .filter(Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(Column::FilledAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    let mut executions = Vec::with_capacity(rows.len());
    for m in &rows {
        let symbol = Symbol::new(m.symbol.as_str()).map_err(|e| corrupt(m.id, e.to_string()))?;
        let side = Side::from_str(&m.side).map_err(|e| corrupt(m.id, e.to_string()))?;
        executions.push(Execution { symbol, side, qty: m.qty.get(), amount: amount_of(m) });
    }
    // A ledger lists its fills in row order.
    rows.sort_by_key(|m| m.id);
    for m in &rows {
        per_order.entry(m.order_id).or_default().push(to_fill(m, trade_date)?);
    }
    Ok((per_order, executions))
}

/// Changes the quantity and amount of the fill row with `key` (a synthetic fill partly replaced
/// by notices).
///
/// # Errors
/// Returns [`StoreError::Db`].
pub async fn update_by_key<C: ConnectionTrait>(conn: &C, key: &str, fill: &Fill) -> Result<(), StoreError> {
    let price = fill.price().map_or(Decimal::ZERO, |p| p.round_dp(PRICE_DP));
    Entity::update_many()
        .col_expr(Column::Qty, Expr::value(Dec(fill.qty)))
        .col_expr(Column::Amount, Expr::value(Dec(fill.amount)))
        .col_expr(Column::Price, Expr::value(Dec(price)))
        .filter(Column::FillKey.eq(key))
        .exec(conn)
        .await?;
    Ok(())
}

/// Removes the fill row with `key` (a synthetic fill fully replaced by notices).
///
/// # Errors
/// Returns [`StoreError::Db`].
pub async fn delete_by_key<C: ConnectionTrait>(conn: &C, key: &str) -> Result<(), StoreError> {
    Entity::delete_many().filter(Column::FillKey.eq(key)).exec(conn).await?;
    Ok(())
}

/// Returns the fills of the given orders as executions, in time order (then row order).
///
/// # Errors
/// Returns [`StoreError::Db`] or [`StoreError::Corrupt`].
pub async fn executions<C: ConnectionTrait>(
    conn: &C,
    order_ids: &[i64],
) -> Result<Vec<Execution>, StoreError> {
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = Entity::find()
        .filter(Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(Column::FilledAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    rows.iter()
        .map(|m| {
            let symbol = Symbol::new(m.symbol.as_str()).map_err(|e| corrupt(m.id, e.to_string()))?;
            let side = Side::from_str(&m.side).map_err(|e| corrupt(m.id, e.to_string()))?;
            Ok(Execution { symbol, side, qty: m.qty.get(), amount: amount_of(m) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn notice_key() -> FillKey {
        FillKey::Notice {
            exec_time: NaiveTime::from_hms_milli_opt(9, 1, 2, 250).unwrap(),
            qty: dec!(3),
            price: dec!(70000.0),
        }
    }

    fn id(no: &str, key: FillKey) -> FillId {
        FillId { broker_order_no: BrokerOrderNo::new("06010", no).unwrap(), key }
    }

    #[test]
    fn fill_keys_name_the_trading_date_and_round_trip() {
        let cases = [
            (day(23), "42", notice_key(), "2026-11-23:0000000042:N:090102.250:3:70000"),
            (day(24), "42", notice_key(), "2026-11-24:0000000042:N:090102.250:3:70000"),
            (day(23), "42", FillKey::Snapshot { cum_qty: dec!(5.00) }, "2026-11-23:0000000042:S:5"),
            (day(24), "0000000001", FillKey::Snapshot { cum_qty: dec!(5) }, "2026-11-24:0000000001:S:5"),
        ];
        for (date, no, key, text) in cases {
            let fill = id(no, key.clone());
            assert_eq!(fill_key(date, MarketRegion::Kr, &fill), text);
            let back = parse_fill_key(1, text).unwrap();
            assert_eq!(back.market, MarketRegion::Kr, "{text}");
            assert_eq!(back.trade_date, date, "{text}");
            assert_eq!(back.number, fill.broker_order_no.number, "{text}");
            assert_eq!(back.key.clone(), key, "{text}");
        }
    }

    #[test]
    fn the_same_fill_of_the_same_number_on_two_dates_has_two_keys() {
        let fill = id("1", notice_key());
        assert_ne!(fill_key(day(23), MarketRegion::Kr, &fill), fill_key(day(24), MarketRegion::Kr, &fill));
    }

    /// KRX and US orders are numbered apart: the same number and fill on one date are two keys,
    /// and a US key reads back as the US market's.
    #[test]
    fn a_us_fill_key_is_apart_from_the_krx_one_of_the_same_number() {
        let fill = id("2", FillKey::Snapshot { cum_qty: dec!(1) });
        let (kr, us) =
            (fill_key(day(23), MarketRegion::Kr, &fill), fill_key(day(23), MarketRegion::Us, &fill));
        assert_eq!((kr.as_str(), us.as_str()), ("2026-11-23:0000000002:S:1", "2026-11-23:US:0000000002:S:1"));
        let back = parse_fill_key(1, &us).unwrap();
        assert_eq!(
            (back.market, back.trade_date, back.number.as_str()),
            (MarketRegion::Us, day(23), "0000000002")
        );
        let notice = id("2", notice_key());
        let text = fill_key(day(23), MarketRegion::Us, &notice);
        assert_eq!(text, "2026-11-23:US:0000000002:N:090102.250:3:70000");
        assert_eq!(parse_fill_key(1, &text).unwrap().key, notice_key());
        assert!(parse_fill_key(1, "2026-11-23:US::S:1").is_err());
    }

    #[test]
    fn malformed_and_undated_keys_are_refused() {
        let bad = [
            "",
            "1:X:2",
            "2026-11-23:1:S:x",
            "2026-11-23:1:N:99:1:1",
            "2026-13-01:0000000001:S:5",
            "2026-11-23::S:5",
            // The format before trading dates were part of the key.
            "0000000042:S:5",
            "0000000042:N:090102.250:3:70000",
        ];
        for text in bad {
            assert!(matches!(parse_fill_key(1, text), Err(StoreError::Corrupt { .. })), "{text:?}");
        }
    }
}
