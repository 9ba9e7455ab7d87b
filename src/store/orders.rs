//! The `orders` table ⇔ the domain [`Order`]: write-ahead insert keyed by the idempotency key,
//! guarded (optimistic) status updates and the queries the trading core needs.
//!
//! The domain order id is derived from the row id ([`order_uuid`] / [`row_id`]), so the row id is
//! the single identity of an order in the database and in `events.order_id`.
//!
//! Fencing: given a [`FenceToken`], the insert and every guarded update carry the condition "the
//! pipeline lease is still held by this holder under this epoch" inside the statement itself (an
//! `EXISTS` over `leases`, `FOR SHARE` on PostgreSQL so a takeover waits for the write to commit;
//! SQLite serializes writers), so fencing costs no extra round trip on the happy path.

use chrono::{DateTime, NaiveDate, Utc};
use entity::Dec;
use entity::order::{ActiveModel, Column, Entity, Model};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, OnConflict, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, Iterable, QueryFilter,
    QueryOrder, Set, TryInsertResult,
};
use uuid::Uuid;

use super::StoreError;
use crate::domain::order::{BrokerOrderNo, IdempotencyKey, NewOrder, Order, OrderRecord, OrderStatus};
use crate::domain::{Exchange, MarketRegion, OrderType, Side, Symbol};
use crate::ports::FenceToken;

const TABLE: &str = "orders";

/// Returns the domain order id of a row id.
pub fn order_uuid(row_id: i64) -> Uuid {
    Uuid::from_u64_pair(0, u64::from_ne_bytes(row_id.to_ne_bytes()))
}

/// Returns the row id of a domain order id (the inverse of [`order_uuid`]).
pub fn row_id(order_id: Uuid) -> i64 {
    i64::from_ne_bytes(order_id.as_u64_pair().1.to_ne_bytes())
}

pub use crate::ports::trading_log::{Inserted, OrderMeta, StoredOrder, UpdateExtra};

fn corrupt(id: i64, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { table: TABLE, id: id.to_string(), reason: reason.into() }
}

/// Parses a stored status text.
///
/// # Errors
/// Returns [`StoreError::Corrupt`] for an unknown status.
pub fn parse_status(id: i64, text: &str) -> Result<OrderStatus, StoreError> {
    OrderStatus::ALL
        .iter()
        .copied()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| corrupt(id, format!("unknown status {text:?}")))
}

fn to_stored(m: Model) -> Result<StoredOrder, StoreError> {
    let id = m.id;
    let symbol = Symbol::new(m.symbol.as_str()).map_err(|e| corrupt(id, e.to_string()))?;
    let side: Side = m.side.parse().map_err(|e: crate::domain::DomainError| corrupt(id, e.to_string()))?;
    let order_type: OrderType =
        m.order_type.parse().map_err(|e: crate::domain::DomainError| corrupt(id, e.to_string()))?;
    let exchange: Exchange =
        m.exchange.parse().map_err(|e: crate::domain::DomainError| corrupt(id, e.to_string()))?;
    let status = parse_status(id, &m.status)?;
    let broker_order_no = match &m.broker_order_no {
        Some(n) => Some(
            BrokerOrderNo::new(m.broker_branch.as_deref().unwrap_or(""), n)
                .map_err(|e| corrupt(id, e.to_string()))?,
        ),
        None => None,
    };
    let filled_qty = m.filled_qty.get();
    let filled_amount = match (m.filled_amount, m.avg_fill_price) {
        (Some(a), _) => a.get(),
        (None, Some(avg)) => avg.get().checked_mul(filled_qty).ok_or_else(|| corrupt(id, "filled amount"))?,
        (None, None) => Decimal::ZERO,
    };
    let attempt = u32::try_from(m.submit_attempt).map_err(|_| corrupt(id, "negative submit attempt"))?;
    let rec = OrderRecord {
        id: order_uuid(id),
        request: NewOrder {
            key: IdempotencyKey::from_stored(m.idempotency_key),
            symbol,
            side,
            order_type,
            qty: m.qty.get(),
            price: m.price.map(Dec::get),
            exchange,
        },
        broker_order_no,
        status,
        filled_qty,
        filled_amount,
        attempt,
    };
    let order = Order::restore(rec).map_err(|e| corrupt(id, e.to_string()))?;
    let reject = m.reject_code.map(|c| (c, m.reject_reason.unwrap_or_default()));
    Ok(StoredOrder {
        order,
        id,
        trade_date: m.trade_date,
        created_at: m.created_at,
        sent_at: m.sent_at,
        reject,
    })
}

/// The condition "the lease is held by `token`'s holder under its epoch", for a statement's
/// `WHERE`.
fn lease_held(token: &FenceToken) -> Expr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(entity::lease::Entity)
            .and_where(entity::lease::Column::Name.eq(token.name.as_str()))
            .and_where(entity::lease::Column::Holder.eq(token.holder.as_str()))
            .and_where(entity::lease::Column::Epoch.eq(token.epoch))
            .lock_shared()
            .to_owned(),
    )
}

/// The error of a write refused by the fence.
fn fenced(token: &FenceToken) -> StoreError {
    StoreError::Fenced {
        lease: token.name.clone(),
        holder: token.holder.clone(),
        epoch: format!(" under epoch {}", token.epoch),
    }
}

/// Returns `Ok` when the lease is still held under `token` (one query; only asked after a fenced
/// statement changed nothing, to tell a refused write from a lost race).
async fn check_fence<C: ConnectionTrait>(conn: &C, token: &FenceToken) -> Result<(), StoreError> {
    let held = conn.query_one(&Query::select().expr(lease_held(token)).to_owned()).await?;
    let held = held.map(|r| r.try_get_by_index::<bool>(0)).transpose()?.unwrap_or(false);
    if held { Ok(()) } else { Err(fenced(token)) }
}

/// `INSERT INTO orders (…) SELECT … WHERE <lease held> ON CONFLICT DO NOTHING RETURNING id`: the
/// row's id, or `None` when the key exists or the fence refused.
async fn insert_fenced<C: ConnectionTrait>(
    conn: &C,
    row: &ActiveModel,
    token: &FenceToken,
) -> Result<Option<i64>, StoreError> {
    let (mut columns, mut values) = (Vec::new(), Vec::new());
    for column in Column::iter() {
        if let ActiveValue::Set(v) = row.get(column)
            && v != v.as_null()
        {
            columns.push(column);
            values.push(Expr::val(v));
        }
    }
    let select: SelectStatement = Query::select().exprs(values).and_where(lease_held(token)).to_owned();
    let mut insert = Query::insert();
    insert
        .into_table(Entity)
        .columns(columns)
        .select_from(select)
        .map_err(|e| StoreError::db(e.to_string()))?
        .on_conflict(OnConflict::column(Column::IdempotencyKey).do_nothing().to_owned())
        .returning_col(Column::Id);
    let row = conn.query_one(&insert).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "id")).transpose()?)
}

/// Writes a `NEW` order row unless its idempotency key exists; on a duplicate key (also when a
/// concurrent writer wins the race) the existing order is returned. The database's unique
/// constraint decides. With a `fence`, the row is written only while the lease is held under it.
///
/// # Errors
/// Returns [`StoreError::Fenced`] when the fence refused, [`StoreError::Db`] on a failed query and
/// [`StoreError::Corrupt`] for an unreadable row.
pub async fn insert_or_get<C: ConnectionTrait>(
    conn: &C,
    req: &NewOrder,
    meta: &OrderMeta,
    now: DateTime<Utc>,
    fence: Option<&FenceToken>,
) -> Result<Inserted, StoreError> {
    let row = ActiveModel {
        idempotency_key: Set(req.key.as_str().to_owned()),
        strategy_id: Set(meta.strategy_id),
        trade_date: Set(meta.trade_date),
        symbol: Set(req.symbol.as_str().to_owned()),
        side: Set(req.side.as_str().to_owned()),
        order_type: Set(req.order_type.as_str().to_owned()),
        qty: Set(Dec(req.qty)),
        price: Set(req.price.map(Dec)),
        status: Set(OrderStatus::New.as_str().to_owned()),
        filled_qty: Set(Dec(Decimal::ZERO)),
        avg_fill_price: Set(None),
        broker_order_no: Set(None),
        broker_branch: Set(None),
        original_order_no: Set(None),
        exchange: Set(req.exchange.as_str().to_owned()),
        reject_code: Set(None),
        reject_reason: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        updated_at: Set(now),
        filled_amount: Set(Some(Dec(Decimal::ZERO))),
        submit_attempt: Set(0),
        ..Default::default()
    };
    let inserted = match fence {
        Some(token) => insert_fenced(conn, &row, token).await?,
        None => {
            match Entity::insert(row).on_conflict_do_nothing_on([Column::IdempotencyKey]).exec(conn).await? {
                TryInsertResult::Inserted(done) => Some(done.last_insert_id),
                _ => None,
            }
        }
    };
    if let Some(id) = inserted {
        // The row is exactly what was written: no need to read it back.
        let rec = OrderRecord {
            id: order_uuid(id),
            request: req.clone(),
            broker_order_no: None,
            status: OrderStatus::New,
            filled_qty: Decimal::ZERO,
            filled_amount: Decimal::ZERO,
            attempt: 0,
        };
        let order = Order::restore(rec).map_err(|e| corrupt(id, e.to_string()))?;
        let stored = StoredOrder {
            order,
            id,
            trade_date: meta.trade_date,
            created_at: now,
            sent_at: None,
            reject: None,
        };
        return Ok(Inserted::Created(stored));
    }
    if let Some(token) = fence {
        check_fence(conn, token).await?;
    }
    let stored = find_by_key(conn, &req.key)
        .await?
        .ok_or_else(|| corrupt(0, format!("order with key {} vanished after insert", req.key)))?;
    Ok(Inserted::Existing(stored))
}

/// Returns the order with an idempotency key.
///
/// # Errors
/// Returns [`StoreError::Db`] or [`StoreError::Corrupt`].
pub async fn find_by_key<C: ConnectionTrait>(
    conn: &C,
    key: &IdempotencyKey,
) -> Result<Option<StoredOrder>, StoreError> {
    Entity::find().filter(Column::IdempotencyKey.eq(key.as_str())).one(conn).await?.map(to_stored).transpose()
}

/// Returns the order with a row id.
///
/// # Errors
/// Returns [`StoreError::Db`] or [`StoreError::Corrupt`].
pub async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> Result<Option<StoredOrder>, StoreError> {
    Entity::find_by_id(id).one(conn).await?.map(to_stored).transpose()
}

/// Returns the broker identity text of an order number of a trading date (`<YYYY-MM-DD>:<number>`),
/// as events and errors name it.
pub fn broker_identity(trade_date: NaiveDate, number: &str) -> String {
    format!("{}:{number}", trade_date.format("%Y-%m-%d"))
}

/// Returns our order the broker knows under `number` (10 digits) on `trade_date`, if any. An order
/// number identifies an order only within its trading date, so orders of other dates are never
/// returned.
///
/// # Errors
/// Returns [`StoreError::IdentityConflict`] when more than one order of the date holds the number
/// (none is picked), [`StoreError::Db`] or [`StoreError::Corrupt`].
pub async fn find_by_broker_no<C: ConnectionTrait>(
    conn: &C,
    market: MarketRegion,
    trade_date: NaiveDate,
    number: &str,
) -> Result<Option<StoredOrder>, StoreError> {
    let venues = Exchange::ALL.iter().filter(|e| e.region() == market).map(|e| e.as_str());
    let mut rows = Entity::find()
        .filter(Column::TradeDate.eq(trade_date))
        .filter(Column::BrokerOrderNo.eq(number))
        .filter(Column::Exchange.is_in(venues))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    if rows.len() > 1 {
        let orders = rows.iter().map(|m| m.id).collect();
        return Err(StoreError::IdentityConflict { key: broker_identity(trade_date, number), orders });
    }
    rows.pop().map(to_stored).transpose()
}

/// Returns every order of a trading date, oldest first.
///
/// # Errors
/// Returns [`StoreError::Db`] or [`StoreError::Corrupt`].
pub async fn list_for_date<C: ConnectionTrait>(
    conn: &C,
    trade_date: NaiveDate,
) -> Result<Vec<StoredOrder>, StoreError> {
    Entity::find()
        .filter(Column::TradeDate.eq(trade_date))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_stored)
        .collect()
}

/// Moves an order row to the state of `order` only if the row is still at `expected`
/// (status and submit attempt): two writers can never move an order backwards. Returns false
/// when another writer changed the row first (reload and re-apply). With a `fence`, the row moves
/// only while the lease is held under it.
///
/// # Errors
/// Returns [`StoreError::Fenced`] when the fence refused, [`StoreError::Db`] on a failed query.
pub async fn update_guarded<C: ConnectionTrait>(
    conn: &C,
    order: &Order,
    expected: (OrderStatus, u32),
    extra: &UpdateExtra,
    now: DateTime<Utc>,
    fence: Option<&FenceToken>,
) -> Result<bool, StoreError> {
    let rec = order.record();
    let attempt = i32::try_from(rec.attempt).unwrap_or(i32::MAX);
    let expected_attempt = i32::try_from(expected.1).unwrap_or(i32::MAX);
    let mut q = Entity::update_many()
        .col_expr(Column::Status, Expr::value(rec.status.as_str()))
        .col_expr(Column::FilledQty, Expr::value(Dec(rec.filled_qty)))
        .col_expr(Column::FilledAmount, Expr::value(Dec(rec.filled_amount)))
        .col_expr(Column::AvgFillPrice, Expr::value(order.avg_fill_price().map(|p| Dec(p.round_dp(4)))))
        .col_expr(Column::BrokerOrderNo, Expr::value(rec.broker_order_no.as_ref().map(|b| b.number.clone())))
        .col_expr(Column::BrokerBranch, Expr::value(rec.broker_order_no.as_ref().map(|b| b.branch.clone())))
        .col_expr(Column::SubmitAttempt, Expr::value(attempt))
        .col_expr(Column::UpdatedAt, Expr::value(now));
    if let Some(at) = extra.sent_at {
        q = q.col_expr(Column::SentAt, Expr::value(at));
    }
    if let Some((code, reason)) = &extra.reject {
        q = q
            .col_expr(Column::RejectCode, Expr::value(code.clone()))
            .col_expr(Column::RejectReason, Expr::value(reason.clone()));
    }
    q = q
        .filter(Column::Id.eq(row_id(order.id())))
        .filter(Column::Status.eq(expected.0.as_str()))
        .filter(Column::SubmitAttempt.eq(expected_attempt));
    if let Some(token) = fence {
        q = q.filter(lease_held(token));
    }
    if q.exec(conn).await?.rows_affected == 1 {
        return Ok(true);
    }
    if let Some(token) = fence {
        check_fence(conn, token).await?;
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ids_round_trip_through_uuids() {
        for id in [0_i64, 1, 42, i64::MAX, -1] {
            assert_eq!(row_id(order_uuid(id)), id);
        }
        assert!(parse_status(1, "FILLED").is_ok());
        assert!(matches!(parse_status(1, "DONE"), Err(StoreError::Corrupt { .. })));
    }
}
