//! Crash recovery: our open orders against the broker's orders and fills. The broker wins; every
//! difference is recorded as an event; positions are recomputed from fills and compared with the
//! broker's holdings; what cannot be resolved trips stop mode with a clear reason.
//!
//! Broker orders are matched by (trading date, order number): numbers restart every trading date,
//! so a broker order of another date is never taken for one of ours.
//!
//! At the close, [`TradingCore::settle_day`] brings every order of the day to a terminal state
//! from the broker's orders of the day, or records and alerts the ones it cannot settle.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::orders::{Resolution, broker_key, fold_cancel_records, is_broker_order};
use super::{TradingCore, TradingError};
use crate::domain::market::BrokerOrder;
use crate::domain::mode::StopReason;
use crate::domain::order::{OrderEvent, OrderStatus};
use crate::domain::position::{Holding, HoldingDiff};
use crate::notify::{Alert, AlertKind};
use crate::ports::{Severity, StoreError, UpdateExtra};
use crate::store::orders as order_rows;

/// One difference recovery found (and what it did about it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Difference {
    /// Our row differed from the broker's state; the broker's state was adopted.
    OrderAdopted {
        /// Order row.
        order_id: i64,
        /// Status before.
        from: OrderStatus,
        /// Status after.
        to: OrderStatus,
        /// Filled quantity before.
        filled_before: Decimal,
        /// Filled quantity after.
        filled_after: Decimal,
    },
    /// An order of unknown outcome was found at the broker.
    UnknownFound {
        /// Order row.
        order_id: i64,
    },
    /// An order of unknown outcome proved absent; it may be resent.
    UnknownNotFound {
        /// Order row.
        order_id: i64,
    },
    /// An order of unknown outcome could not be resolved.
    UnknownUnresolved {
        /// Order row.
        order_id: i64,
        /// Why.
        reason: String,
    },
    /// Our order has a broker number the broker does not list.
    MissingAtBroker {
        /// Order row.
        order_id: i64,
    },
    /// The broker lists an order that is not ours.
    ForeignOrder {
        /// Broker order number.
        broker_order_no: String,
    },
    /// Positions differ from the broker's holdings.
    Holding(HoldingDiff),
}

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryReport {
    /// Orders of the day checked.
    pub orders_checked: usize,
    /// Every difference found.
    pub differences: Vec<Difference>,
    /// Orders proven never sent; they are `NEW` again and may be resent.
    pub resendable: Vec<i64>,
    /// Set when recovery tripped stop mode.
    pub stopped: Option<String>,
}

impl RecoveryReport {
    /// Returns true when nothing is left unresolved.
    pub fn is_clean(&self) -> bool {
        self.stopped.is_none()
    }
}

impl TradingCore {
    /// Reconciles the database with the broker after a start or a crash.
    ///
    /// # Errors
    /// Returns store errors; broker failures make the report unresolved (stop mode) instead.
    pub async fn recover(&self) -> Result<RecoveryReport, TradingError> {
        let mut report = RecoveryReport::default();
        let mut unresolved: Vec<String> = Vec::new();
        let broker_orders = match self.broker.todays_orders().await {
            Ok(list) => fold_cancel_records(&list),
            Err(e) => {
                return self.finish(report, vec![format!("cannot read the broker's orders: {e}")]).await;
            }
        };
        // Start from what the log holds, not from what an earlier run left in memory.
        self.reload().await?;
        let orders = self.orders().await?;
        report.orders_checked = orders.len();
        for stored in &orders {
            let id = stored.id;
            let status = stored.order.status();
            if status.needs_resolution() {
                let res = self.resolve_with(id, &broker_orders).await?;
                let diff = match res {
                    Resolution::Found(_) => Difference::UnknownFound { order_id: id },
                    Resolution::NotFound => {
                        report.resendable.push(id);
                        Difference::UnknownNotFound { order_id: id }
                    }
                    Resolution::StillUnknown(reason) => {
                        unresolved.push(format!("order {id} outcome unknown: {reason}"));
                        Difference::UnknownUnresolved { order_id: id, reason }
                    }
                    Resolution::NotNeeded => continue,
                };
                report.differences.push(diff);
                continue;
            }
            let Some(no) = stored.order.broker_order_no() else { continue };
            let Some(b) = broker_orders.iter().find(|b| is_broker_order(b, stored.trade_date, &no.number))
            else {
                if status.is_open() || stored.order.filled_qty() > Decimal::ZERO {
                    unresolved.push(format!("order {id} ({no}) is not listed by the broker"));
                    report.differences.push(Difference::MissingAtBroker { order_id: id });
                }
                continue;
            };
            let after = self.adopt_broker_order(id, b).await?;
            let changed =
                after.order.status() != status || after.order.filled_qty() != stored.order.filled_qty();
            if changed {
                report.differences.push(Difference::OrderAdopted {
                    order_id: id,
                    from: status,
                    to: after.order.status(),
                    filled_before: stored.order.filled_qty(),
                    filled_after: after.order.filled_qty(),
                });
            }
        }
        let ours = self.orders().await?;
        // The broker identities our orders claim: (trading date, number), each by one order only.
        let mut claimed: HashMap<_, i64> = HashMap::new();
        for o in &ours {
            let Some(no) = o.order.broker_order_no() else { continue };
            let key = broker_key(o.trade_date, &no.number);
            if let Some(first) = claimed.insert(key, o.id) {
                let err = StoreError::IdentityConflict {
                    key: order_rows::broker_identity(o.trade_date, &no.number),
                    orders: vec![first, o.id],
                };
                unresolved.push(err.to_string());
                let _ = self.store_failure(err, Some(o.id)).await;
            }
        }
        for b in broker_orders.iter().filter(|b| b.original_order_no.is_none()) {
            if !claimed.contains_key(&broker_key(b.trade_date(), &b.broker_order_no)) {
                report
                    .differences
                    .push(Difference::ForeignOrder { broker_order_no: b.broker_order_no.clone() });
            }
        }
        let positions = match self.recompute_positions().await {
            Ok(p) => Some(p),
            Err(e) => {
                unresolved.push(format!("positions cannot be recomputed: {e}"));
                None
            }
        };
        match (positions, self.broker.account().await) {
            (Some(p), Ok(account)) => {
                let theirs: Vec<Holding> = account
                    .holdings
                    .iter()
                    .map(|h| Holding { symbol: h.symbol.clone(), qty: h.qty, avg_price: h.avg_price })
                    .collect();
                for d in p.diff_with_broker(&theirs, self.config.avg_price_tolerance) {
                    if matches!(d, HoldingDiff::QtyMismatch { .. }) {
                        unresolved.push(format!(
                            "holding differs: {}",
                            serde_json::to_string(&d).unwrap_or_default()
                        ));
                    }
                    report.differences.push(Difference::Holding(d));
                }
            }
            (_, Err(e)) => unresolved.push(format!("cannot read the broker's holdings: {e}")),
            (None, Ok(_)) => {}
        }
        for d in &report.differences {
            let payload = json!({ "difference": d });
            let order_id = match d {
                Difference::OrderAdopted { order_id, .. }
                | Difference::UnknownFound { order_id }
                | Difference::UnknownNotFound { order_id }
                | Difference::UnknownUnresolved { order_id, .. }
                | Difference::MissingAtBroker { order_id } => Some(*order_id),
                _ => None,
            };
            self.event(
                "RECOVERY_DIFFERENCE",
                Severity::Warning,
                "recovery difference (broker wins)",
                payload,
                order_id,
            )
            .await;
        }
        self.finish(report, unresolved).await
    }

    async fn finish(
        &self,
        mut report: RecoveryReport,
        unresolved: Vec<String>,
    ) -> Result<RecoveryReport, TradingError> {
        if !unresolved.is_empty() {
            let detail = unresolved.join("; ");
            if let Err(e) = self.guard.trip(StopReason::Reconciliation { detail: detail.clone() }).await {
                tracing::error!(error = %e, "cannot persist stop mode");
            }
            report.stopped = Some(detail);
        }
        let payload = json!({ "report": report });
        let sev = if report.is_clean() { Severity::Info } else { Severity::Critical };
        self.event("RECOVERY_DONE", sev, "recovery finished", payload, None).await;
        Ok(report)
    }
}

/// What the close did to bring the day's orders to a terminal state ([`TradingCore::settle_day`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// Orders whose remainder the exchange expired at the session's close (recorded canceled).
    pub expired: Vec<i64>,
    /// Orders that never reached the broker, dropped (recorded canceled).
    pub dropped: Vec<i64>,
    /// Orders left open, each alerted and recorded with the reason.
    pub unsettled: Vec<Unsettled>,
}

/// An order the close could not bring to a terminal state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsettled {
    /// Order row.
    pub order_id: i64,
    /// Its status, as left.
    pub status: OrderStatus,
    /// The broker's order number, when known.
    pub broker_order_no: Option<String>,
    /// Why it could not be settled.
    pub reason: String,
}

/// How one order was settled.
enum Settled {
    /// It was (or became, by the broker's state) terminal.
    Terminal,
    /// The exchange expired its remainder at the close.
    Expired,
    /// It never reached the broker and was dropped.
    Dropped,
}

impl TradingCore {
    /// Brings every order of the day to a terminal state at the close; `broker_orders` are the
    /// broker's orders of the day, which win. An order of unknown outcome is resolved against them;
    /// an order they list takes its fills, cancel or reject from them; once the session has closed
    /// (`session_over`) the remainder still open there was expired by the exchange and the order
    /// is recorded canceled (`ORDER_EXPIRED`, with its transition); an order that never reached the
    /// broker is dropped (`ORDER_DROPPED`). An order that cannot be settled — the session still
    /// open, the broker not listing it, its fills differing from the broker's, its outcome still
    /// unknown — is recorded (`ORDER_UNSETTLED`) and alerted ([`AlertKind::OrderNotTerminal`])
    /// with the reason, and left as it is.
    ///
    /// # Errors
    /// Returns store errors.
    pub async fn settle_day(
        &self,
        broker_orders: &[BrokerOrder],
        session_over: bool,
    ) -> Result<Settlement, TradingError> {
        let broker_orders = fold_cancel_records(broker_orders);
        self.reload().await?;
        let mut out = Settlement::default();
        for stored in self.orders().await? {
            if stored.order.status().is_terminal() {
                continue;
            }
            let id = stored.id;
            match self.settle_order(id, &broker_orders, session_over).await? {
                Ok(Settled::Terminal) => {}
                Ok(Settled::Expired) => out.expired.push(id),
                Ok(Settled::Dropped) => out.dropped.push(id),
                Err(reason) => {
                    let left = self.order(id).await?.unwrap_or(stored);
                    out.unsettled.push(Unsettled {
                        order_id: id,
                        status: left.order.status(),
                        broker_order_no: left.order.broker_order_no().map(|n| n.number.clone()),
                        reason,
                    });
                }
            }
        }
        for u in &out.unsettled {
            self.report_unsettled(u).await;
        }
        Ok(out)
    }

    /// Settles one open order; `Err` carries why it cannot be.
    async fn settle_order(
        &self,
        id: i64,
        broker_orders: &[BrokerOrder],
        session_over: bool,
    ) -> Result<Result<Settled, String>, TradingError> {
        let mut stored = self.order(id).await?.ok_or(TradingError::NotFound(id))?;
        if stored.order.status().needs_resolution() {
            if let Resolution::StillUnknown(reason) = self.resolve_with(id, broker_orders).await? {
                return Ok(Err(format!("the outcome of its submission is still unknown ({reason})")));
            }
            stored = self.order(id).await?.ok_or(TradingError::NotFound(id))?;
        }
        if stored.order.status() == OrderStatus::New {
            // Never sent, or proven never to have reached the broker: nothing can fill it now.
            let payload =
                json!({ "from": OrderStatus::New.as_str(), "attempt": stored.order.record().attempt });
            let note = self.new_event(
                "ORDER_DROPPED",
                Severity::Info,
                &format!("order {id} never reached the broker; dropped at the close"),
                payload,
                Some(id),
            );
            let (after, _) = self
                .apply_order_event_with(id, &OrderEvent::CancelRequested, &UpdateExtra::default(), vec![note])
                .await?;
            return Ok(if after.order.status().is_terminal() {
                Ok(Settled::Dropped)
            } else {
                Err(format!("it could not be dropped from {}", after.order.status()))
            });
        }
        let Some(no) = stored.order.broker_order_no().cloned() else {
            return Ok(Err("it has no broker order number".into()));
        };
        let day = stored.trade_date;
        let Some(b) = broker_orders.iter().find(|b| is_broker_order(b, day, &no.number)) else {
            return Ok(Err(format!(
                "the broker does not list order number {} among its orders of {day}",
                no.number
            )));
        };
        let stored = self.adopt_broker_order(id, b).await?;
        if stored.order.status().is_terminal() {
            return Ok(Ok(Settled::Terminal));
        }
        if stored.order.filled_qty() != b.filled_qty {
            return Ok(Err(format!(
                "its fills differ from the broker's: {} recorded, {} at the broker",
                stored.order.filled_qty(),
                b.filled_qty
            )));
        }
        if !session_over {
            return Ok(Err(format!(
                "the session is still open and the broker shows {} of {} unfilled and not canceled",
                b.remaining_qty, b.qty
            )));
        }
        // The broker lists it with all its fills and the session is over: the exchange expired the
        // remainder at the close (KIS keeps such a row as it was, with no cancel record).
        let payload = json!({
            "broker_order_no": no.number, "filled_qty": b.filled_qty, "remaining_qty": b.remaining_qty,
            "from": stored.order.status().as_str(),
        });
        let note = self.new_event(
            "ORDER_EXPIRED",
            Severity::Info,
            &format!("order {id} ({}): remainder expired by the exchange at the close", no.number),
            payload,
            Some(id),
        );
        let (after, _) = self
            .apply_order_event_with(id, &OrderEvent::CancelConfirmed, &UpdateExtra::default(), vec![note])
            .await?;
        Ok(if after.order.status().is_terminal() {
            Ok(Settled::Expired)
        } else {
            Err(format!("its expiry could not be recorded from {}", after.order.status()))
        })
    }

    /// Records and alerts an order the close left open.
    async fn report_unsettled(&self, u: &Unsettled) {
        let date = self.config.trade_date;
        let what = match self.order(u.order_id).await {
            Ok(Some(o)) => {
                let r = o.order.request();
                let price = r.price.map_or_else(|| "market".to_owned(), |p| p.to_string());
                format!("{} {} {} @ {price}", r.symbol.as_str(), r.side.as_str(), r.qty)
            }
            _ => String::new(),
        };
        let no = u.broker_order_no.as_deref().unwrap_or("none");
        let message = format!(
            "the close of {date} left order {} ({what}, broker number {no}) {}: {}",
            u.order_id, u.status, u.reason
        );
        self.event("ORDER_UNSETTLED", Severity::Error, &message, json!({ "order": u }), Some(u.order_id))
            .await;
        let text = format!("{message}. Check the order at the broker and settle it by hand.");
        let alert = Alert { kind: AlertKind::OrderNotTerminal, text };
        crate::notify::raise_alert(&self.store, self.notifier.as_deref(), date, alert).await;
    }
}
