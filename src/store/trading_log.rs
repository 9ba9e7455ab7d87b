//! [`TradingLog`] on sea-orm: each port method is one unit of work of a few statements.
//!
//! Statement budget (what the `statement_counts` test holds us to): an order's write-ahead row is
//! one `INSERT … RETURNING`, each guarded move one `UPDATE` plus one multi-row `INSERT` of its
//! events; a move that is an order action (the broker's answer to a submit, a cancel, a
//! resolution) adds one `INSERT` of its `audit_log` row, and the three commit in one transaction;
//! a new fill is one `INSERT` of the fill, one `UPDATE` of the order and one `INSERT` of the
//! events, in one transaction.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{EntityTrait, Set};

use super::events::mask_payload;
use super::{Store, StoreError, fills, orders, positions};
use crate::domain::MarketRegion;
use crate::domain::order::{IdempotencyKey, NewOrder};
use crate::domain::position::Positions;
use crate::ports::NewEvent;
use crate::ports::trading_log::{
    DayLog, FillsWrite, FillsWritten, Inserted, LogFuture, OrderMeta, OrderWrite, StoredOrder, TradingLog,
};
use crate::store::fills::FillMeta;
use crate::telemetry::scrubbed;

/// Returns the row of an event: message scrubbed, payload masked.
pub(crate) fn event_row(e: &NewEvent, at: DateTime<Utc>) -> entity::event::ActiveModel {
    entity::event::ActiveModel {
        at: Set(at),
        trade_date: Set(e.trade_date),
        kind: Set(e.kind.to_owned()),
        severity: Set(e.severity.as_str().to_owned()),
        message: Set(scrubbed(&e.message)),
        payload: Set(mask_payload(e.payload.clone())),
        order_id: Set(e.order_id),
        ..Default::default()
    }
}

/// Writes events in one statement.
async fn insert_events<C: sea_orm::ConnectionTrait>(conn: &C, events: &[NewEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    entity::event::Entity::insert_many(events.iter().map(|e| event_row(e, now)))
        .exec_without_returning(conn)
        .await?;
    for e in events {
        tracing::debug!(kind = e.kind, severity = e.severity.as_str(), "event recorded");
    }
    Ok(())
}

impl TradingLog for Store {
    fn load_day(&self, trade_date: NaiveDate) -> LogFuture<'_, DayLog> {
        Box::pin(async move {
            let orders = orders::list_for_date(self.conn(), trade_date).await?;
            let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
            let (fills, executions) = fills::of_orders(self.conn(), &ids, trade_date).await?;
            Ok(DayLog { orders, fills, executions })
        })
    }

    fn order(&self, id: i64) -> LogFuture<'_, Option<StoredOrder>> {
        Box::pin(orders::get(self.conn(), id))
    }

    fn order_by_key<'a>(&'a self, key: &'a IdempotencyKey) -> LogFuture<'a, Option<StoredOrder>> {
        Box::pin(orders::find_by_key(self.conn(), key))
    }

    fn order_by_broker_no<'a>(
        &'a self,
        market: MarketRegion,
        trade_date: NaiveDate,
        number: &'a str,
    ) -> LogFuture<'a, Option<StoredOrder>> {
        Box::pin(orders::find_by_broker_no(self.conn(), market, trade_date, number))
    }

    fn insert_order<'a>(
        &'a self,
        request: &'a NewOrder,
        meta: &'a OrderMeta,
        now: DateTime<Utc>,
    ) -> LogFuture<'a, Inserted> {
        Box::pin(async move {
            let fence = self.fence_token()?;
            orders::insert_or_get(self.conn(), request, meta, now, fence.as_ref()).await
        })
    }

    fn update_order<'a>(&'a self, write: OrderWrite<'a>, events: &'a [NewEvent]) -> LogFuture<'a, bool> {
        Box::pin(async move {
            let fence = self.fence_token()?;
            if let Some(note) = &write.extra.audit {
                // An order action: the move, its events and its audit row commit together.
                let txn = super::begin_write(self.conn()).await?;
                if !orders::update_guarded(
                    &txn,
                    write.order,
                    write.expected,
                    write.extra,
                    write.now,
                    fence.as_ref(),
                )
                .await?
                {
                    txn.rollback().await?;
                    return Ok(false);
                }
                insert_events(&txn, events).await?;
                super::audit::insert(&txn, note, write.now).await?;
                txn.commit().await?;
                return Ok(true);
            }
            if !orders::update_guarded(
                self.conn(),
                write.order,
                write.expected,
                write.extra,
                write.now,
                fence.as_ref(),
            )
            .await?
            {
                return Ok(false);
            }
            insert_events(self.conn(), events).await?;
            Ok(true)
        })
    }

    fn record_fills<'a>(
        &'a self,
        write: FillsWrite<'a>,
        events: &'a [NewEvent],
    ) -> LogFuture<'a, FillsWritten> {
        Box::pin(async move {
            let fence = self.fence_token()?;
            let txn = super::begin_write(self.conn()).await?;
            let meta = FillMeta {
                order_id: write.order_id,
                trade_date: write.trade_date,
                symbol: write.symbol.clone(),
                side: write.side,
                filled_at: write.filled_at,
            };
            let report = fills::sync_ledger_from(&txn, write.before, write.ledger, &meta).await?;
            if let Some(w) = write.order
                && !orders::update_guarded(&txn, w.order, w.expected, w.extra, w.now, fence.as_ref()).await?
            {
                txn.rollback().await?;
                return Ok(FillsWritten::OrderMoved);
            }
            insert_events(&txn, events).await?;
            txn.commit().await?;
            Ok(FillsWritten::Committed {
                inserted: report.inserted,
                replaced: report.updated + report.deleted,
            })
        })
    }

    fn save_positions<'a>(
        &'a self,
        positions: &'a Positions,
        region: MarketRegion,
        now: DateTime<Utc>,
    ) -> LogFuture<'a, ()> {
        Box::pin(positions::save(self.conn(), positions, region, now))
    }

    fn record_events<'a>(&'a self, events: &'a [NewEvent]) -> LogFuture<'a, ()> {
        Box::pin(insert_events(self.conn(), events))
    }
}
