//! The `close` stage: cancels the orders still open while the session is (the intraday stage
//! cancels them before the close; afterwards the exchange refuses cancels and expires them), reconciles
//! the day's orders, fills and positions with the broker one last time, leaves every order of the
//! day in a terminal state (broker wins: fills adopted, the remainder expired by the exchange once
//! the session has closed; an order it cannot settle is recorded and alerted with the reason) and
//! writes the daily summary (orders by status, fills, P&L, positions) as its output and as an event.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use rust_decimal::Decimal;

use super::outputs::{CloseOutput, ClosePosition, CloseReconciliation};
use super::trading::build_core;
use super::{StageDeps, broker_err, store_err, trading_err};
use crate::domain::stage::StageName;
use crate::pipeline::stage::{OutputError, Stage, StageContext, StageError};
use crate::ports::TradingLog;
use crate::store::Severity;
use crate::trading::orders::CancelOutcome;

/// The `close` stage.
#[derive(Debug)]
pub struct Close {
    deps: Arc<StageDeps>,
}

impl Close {
    /// Creates the stage.
    pub fn new(deps: Arc<StageDeps>) -> Self {
        Self { deps }
    }
}

impl Close {
    async fn close(&self, ctx: &StageContext) -> Result<CloseOutput, StageError> {
        let core = build_core(&self.deps, ctx).await?;
        let log: &dyn TradingLog = &ctx.store;
        let date = ctx.trade_date;
        let mut canceled = 0u32;
        let close_at = self.deps.calendar.session_window(date).map(|s| s.close);
        let in_session = close_at.is_some_and(|c| self.deps.clock.now() < c);
        if self.deps.config.cancel_open_at_close && in_session {
            let day = log
                .load_day(date)
                .await
                .map_err(|e| store_err("orders", e))?
                .of_region(self.deps.config.region);
            for o in day.orders.iter().filter(|o| o.order.status().is_open()) {
                match core.cancel(o.id).await.map_err(|e| trading_err("cancel", e))? {
                    CancelOutcome::Done(_) => canceled += 1,
                    CancelOutcome::Pending(_) | CancelOutcome::Blocked | CancelOutcome::NotCancelable(_) => {}
                }
            }
        }
        let broker_orders =
            self.deps.broker.todays_orders().await.map_err(|e| broker_err("orders snapshot", e))?;
        core.apply_orders_snapshot(&broker_orders).await.map_err(|e| trading_err("reconcile", e))?;
        let report = core.recover().await.map_err(|e| trading_err("final reconciliation", e))?;
        // Every order of the day ends terminal (broker wins), or is recorded and alerted.
        let settled = core
            .settle_day(&broker_orders, !in_session)
            .await
            .map_err(|e| trading_err("settle orders", e))?;

        // The summary counts this market's orders and fills only.
        let day = log
            .load_day(date)
            .await
            .map_err(|e| store_err("orders and fills", e))?
            .of_region(self.deps.config.region);
        let (orders, fills) = (day.orders, day.executions);
        let mut by_status: BTreeMap<&'static str, usize> = BTreeMap::new();
        for o in &orders {
            *by_status.entry(o.order.status().as_str()).or_default() += 1;
        }
        let held: Vec<_> = core
            .recompute_positions()
            .await
            .map_err(|e| trading_err("positions", e))?
            .iter()
            .filter(|p| !p.qty.is_zero())
            .map(|p| p.symbol.clone())
            .collect();
        for s in &held {
            if let Ok(q) = self.deps.broker.quote(s).await {
                core.mark_price(s, q.price);
            }
        }
        let positions = core.recompute_positions().await.map_err(|e| trading_err("positions", e))?;
        let realized = positions.realized_pnl();
        let unrealized = positions.unrealized_pnl();
        let summary = CloseOutput {
            trade_date: date,
            orders: orders.len(),
            orders_by_status: by_status.into_iter().map(|(s, n)| (s.to_owned(), n)).collect(),
            open_orders_canceled: canceled,
            open_orders_left_to_expire: settled.expired.len(),
            cancels_pending: orders
                .iter()
                .filter(|o| o.order.status() == crate::domain::order::OrderStatus::CancelPending)
                .count()
                .try_into()
                .unwrap_or(u32::MAX),
            fills: fills.len(),
            filled_qty: fills.iter().map(|f| f.qty).sum::<Decimal>(),
            realized_pnl: realized,
            unrealized_pnl: unrealized,
            positions: positions
                .iter()
                .filter(|p| !p.qty.is_zero())
                .map(|p| ClosePosition {
                    symbol: p.symbol.clone(),
                    qty: p.qty,
                    avg_price: p.avg_price(),
                    last_price: p.last_price,
                })
                .collect(),
            reconciliation: CloseReconciliation {
                orders_checked: report.orders_checked,
                differences: report.differences.len(),
                stopped: report.stopped,
            },
        };
        let payload = serde_json::to_value(&summary)
            .map_err(|source| OutputError::Encode { stage: StageName::Close, source })?;
        let mut message = format!(
            "daily summary {date}: {} orders, {} fills, realized P&L {realized}, unrealized {unrealized}",
            orders.len(),
            fills.len()
        );
        if !settled.unsettled.is_empty() {
            message.push_str(&format!("; {} orders left open (alerted)", settled.unsettled.len()));
        }
        ctx.store
            .events()
            .record("daily_summary", Severity::Info, &message, payload, Some(date), None)
            .await
            .map_err(|e| store_err("event", e))?;
        self.prune_audit(ctx).await;
        Ok(summary)
    }

    /// Deletes the `audit_log` rows older than the retention (`AUDIT_RETENTION_DAYS`); a failure
    /// is logged and retried by the next close, it does not fail the day.
    async fn prune_audit(&self, ctx: &StageContext) {
        let before = self.deps.clock.now() - self.deps.config.audit_retention;
        match crate::store::audit::prune(&ctx.store, before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, %before, "audit_log rows past their retention deleted"),
            Err(e) => tracing::warn!(error = %e, "cannot prune audit_log"),
        }
    }
}

impl Stage for Close {
    type Output = CloseOutput;

    fn name(&self) -> StageName {
        StageName::Close
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<CloseOutput, StageError>> {
        Box::pin(async move { self.close(ctx).await })
    }
}

#[cfg(test)]
#[path = "close_tests.rs"]
mod tests;
