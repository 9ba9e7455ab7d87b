//! The `fills` table ⇔ the domain fill ledger: one row per fill, unique on `fill_key` (the
//! broker's identity of the fill), so a repeated notice or snapshot never adds a row twice.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveTime, Utc};
use entity::Dec;
use entity::fill::{ActiveModel, Column, Entity, Model};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TryInsertResult};

use super::StoreError;
use crate::domain::fill::{Execution, Fill, FillId, FillKey, FillLedger};
use crate::domain::order::BrokerOrderNo;
use crate::domain::{Side, Symbol};

const TABLE: &str = "fills";

/// Decimal places of the stored (display) price of a synthetic fill; the amount stays exact.
const PRICE_DP: u32 = 8;

fn corrupt(id: impl ToString, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { table: TABLE, id: id.to_string(), reason: reason.into() }
}

/// Returns the stored key of a fill: `<order no>:N:<time>:<qty>:<price>` for a notice,
/// `<order no>:S:<cumulative qty>` for a snapshot-synthesized fill.
pub fn fill_key(id: &FillId) -> String {
    let no = &id.broker_order_no.number;
    match &id.key {
        FillKey::Notice { exec_time, qty, price } => {
            format!("{no}:N:{}:{}:{}", exec_time.format("%H%M%S%.f"), qty.normalize(), price.normalize())
        }
        FillKey::Snapshot { cum_qty } => format!("{no}:S:{}", cum_qty.normalize()),
    }
}

/// Parses a stored fill key back into the fill key (the order number is checked separately).
///
/// # Errors
/// Returns [`StoreError::Corrupt`] when the key is malformed.
pub fn parse_fill_key(row: i64, text: &str) -> Result<(String, FillKey), StoreError> {
    let parts: Vec<&str> = text.split(':').collect();
    let dec = |s: &str| Decimal::from_str(s).map_err(|_| corrupt(row, format!("bad number in key {text:?}")));
    match parts.as_slice() {
        [no, "N", time, qty, price] => {
            let exec_time = NaiveTime::parse_from_str(time, "%H%M%S%.f")
                .map_err(|_| corrupt(row, format!("bad time in key {text:?}")))?;
            Ok(((*no).to_owned(), FillKey::Notice { exec_time, qty: dec(qty)?, price: dec(price)? }))
        }
        [no, "S", cum] => Ok(((*no).to_owned(), FillKey::Snapshot { cum_qty: dec(cum)? })),
        _ => Err(corrupt(row, format!("bad fill key {text:?}"))),
    }
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
    /// Inserts that found the key already present (a concurrent writer recorded it first).
    pub duplicates: usize,
}

fn amount_of(m: &Model) -> Decimal {
    m.amount.map_or_else(|| m.qty.get() * m.price.get(), Dec::get)
}

/// Inserts one fill row; a row with the same key already present makes this a no-op that
/// returns false.
///
/// # Errors
/// Returns [`StoreError::Db`] on a failed query.
pub async fn insert<C: ConnectionTrait>(conn: &C, fill: &Fill, meta: &FillMeta) -> Result<bool, StoreError> {
    let price = fill.price().map_or(Decimal::ZERO, |p| p.round_dp(PRICE_DP));
    let source = if fill.is_synthetic() { FillSource::Snapshot } else { FillSource::Notice };
    let row = ActiveModel {
        order_id: Set(meta.order_id),
        fill_key: Set(fill_key(&fill.id)),
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
    Ok(matches!(res, TryInsertResult::Inserted(n) if n > 0))
}

/// Returns the stored fills of an order as domain fills.
///
/// # Errors
/// Returns [`StoreError::Db`] or [`StoreError::Corrupt`].
pub async fn for_order<C: ConnectionTrait>(conn: &C, order_id: i64) -> Result<Vec<Fill>, StoreError> {
    let rows = Entity::find().filter(Column::OrderId.eq(order_id)).order_by_asc(Column::Id).all(conn).await?;
    rows.iter().map(to_fill).collect()
}

fn to_fill(m: &Model) -> Result<Fill, StoreError> {
    let (no, key) = parse_fill_key(m.id, &m.fill_key)?;
    if no != m.broker_order_no {
        return Err(corrupt(m.id, "fill key names another order"));
    }
    let broker_order_no = BrokerOrderNo::new("", &no).map_err(|e| corrupt(m.id, e.to_string()))?;
    Ok(Fill { id: FillId { broker_order_no, key }, qty: m.qty.get(), amount: amount_of(m) })
}

/// Rebuilds the fill ledger of an order from its rows.
///
/// # Errors
/// Returns [`StoreError::Corrupt`] when the rows break a ledger invariant, or [`StoreError::Db`].
pub async fn load_ledger<C: ConnectionTrait>(
    conn: &C,
    order_id: i64,
    broker_order_no: &BrokerOrderNo,
    order_qty: Decimal,
) -> Result<FillLedger, StoreError> {
    let fills = for_order(conn, order_id).await?;
    FillLedger::restore(broker_order_no.clone(), order_qty, fills)
        .map_err(|e| corrupt(order_id, e.to_string()))
}

/// Makes the rows of an order equal to its ledger: inserts new fills, updates synthetic fills whose
/// quantity shrank and deletes the ones fully replaced by notices.
///
/// # Errors
/// Returns [`StoreError::Db`] or [`StoreError::Corrupt`].
pub async fn sync_ledger<C: ConnectionTrait>(
    conn: &C,
    ledger: &FillLedger,
    meta: &FillMeta,
) -> Result<SyncReport, StoreError> {
    let rows = Entity::find().filter(Column::OrderId.eq(meta.order_id)).all(conn).await?;
    let mut existing: BTreeMap<String, Model> = rows.into_iter().map(|m| (m.fill_key.clone(), m)).collect();
    let mut report = SyncReport::default();
    for fill in ledger.fills() {
        let key = fill_key(&fill.id);
        match existing.remove(&key) {
            None => {
                if insert(conn, fill, meta).await? {
                    report.inserted += 1;
                } else {
                    report.duplicates += 1;
                }
            }
            Some(m) if m.qty.get() != fill.qty || amount_of(&m) != fill.amount => {
                let price = fill.price().map_or(Decimal::ZERO, |p| p.round_dp(PRICE_DP));
                Entity::update_many()
                    .col_expr(Column::Qty, Expr::value(Dec(fill.qty)))
                    .col_expr(Column::Amount, Expr::value(Dec(fill.amount)))
                    .col_expr(Column::Price, Expr::value(Dec(price)))
                    .filter(Column::Id.eq(m.id))
                    .exec(conn)
                    .await?;
                report.updated += 1;
            }
            Some(_) => {}
        }
    }
    for m in existing.values() {
        if m.source != FillSource::Snapshot.as_str() {
            return Err(corrupt(m.id, "a notice fill is missing from the ledger"));
        }
        Entity::delete_by_id(m.id).exec(conn).await?;
        report.deleted += 1;
    }
    Ok(report)
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

    #[test]
    fn fill_keys_round_trip() {
        let no = BrokerOrderNo::new("06010", "42").unwrap();
        let keys = [
            FillKey::Notice {
                exec_time: NaiveTime::from_hms_milli_opt(9, 1, 2, 250).unwrap(),
                qty: dec!(3),
                price: dec!(70000.0),
            },
            FillKey::Snapshot { cum_qty: dec!(5) },
        ];
        for key in keys {
            let text = fill_key(&FillId { broker_order_no: no.clone(), key: key.clone() });
            let (n, back) = parse_fill_key(1, &text).unwrap();
            assert_eq!((n.as_str(), &back), ("0000000042", &key), "{text}");
        }
        assert_eq!(
            fill_key(&FillId { broker_order_no: no, key: FillKey::Snapshot { cum_qty: dec!(5.00) } }),
            "0000000042:S:5"
        );
        for bad in ["", "1:X:2", "1:S:x", "1:N:99:1:1"] {
            assert!(parse_fill_key(1, bad).is_err(), "{bad}");
        }
    }
}
