//! Executions: real-time notices and fills (`ExecutionEvent`) and REST snapshots (today's orders)
//! converge on the same database state whichever arrives first and however often.
//!
//! Fills go through the order's [`crate::domain::fill::FillLedger`] (held in memory, rebuilt from
//! the `fills` rows with the day's state), so a fill is stored once whatever its source; the new
//! fill rows and the order's move to the ledger's cumulative quantity (forward only) are one unit
//! of work, and positions in memory take the new fills (the `positions` table is written with each
//! reconciliation and at the close).
//!
//! Broker order numbers restart every trading date, so an event finds its order by (trading date,
//! number): a notice by the date of the session it arrived in, a snapshot row by its order date.

use rust_decimal::Decimal;
use serde_json::json;

use super::orders::{fold_cancel_records, is_broker_order};
use super::{Checkpoint, TradingCore, TradingError};
use crate::domain::fill::{FillLedger, FillSnapshot, LedgerOutcome, NoticeFill};
use crate::domain::market::{
    BrokerOrder, ExecutionEvent, FeedStatus, FillNotice, NoticeKind, OrderNotice, Subscription,
};
use crate::domain::mode::StopReason;
use crate::domain::order::{Applied, BrokerOrderNo, OrderEvent, OrderStatus};
use crate::ports::trading_log::{FillsWrite, FillsWritten, OrderWrite};
use crate::ports::{Severity, StoredOrder, UpdateExtra};

/// Attempts of a fill write before giving up (another writer kept moving the order).
const MAX_FILL_ATTEMPTS: u32 = 5;

/// What handling one execution event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The order (row id) was updated or confirmed.
    Order(i64),
    /// A fill was new and recorded for the order.
    FillRecorded(i64),
    /// The fill was already known.
    Duplicate(i64),
    /// No order of ours matches; recorded as an event (recovery picks it up from snapshots).
    Unmatched,
    /// Feed status or an informational notice; recorded.
    Status,
}

/// One input to the ledger.
enum LedgerInput {
    Notice(NoticeFill),
    Snapshot(FillSnapshot),
}

impl TradingCore {
    /// Handles one real-time execution event. A fill notice goes to its order's ledger; after
    /// [`FeedStatus::Reconnected`] the broker's snapshot of today's orders goes to the ledgers
    /// too, so fills whose notices were lost with the socket are recorded once.
    ///
    /// # Errors
    /// Returns store errors.
    pub async fn handle_execution(&self, event: &ExecutionEvent) -> Result<Handled, TradingError> {
        match event {
            ExecutionEvent::Fill(f) => self.handle_fill(f).await,
            ExecutionEvent::Notice(n) => self.handle_notice(n).await,
            ExecutionEvent::Status(s) => {
                self.handle_status(s).await?;
                Ok(Handled::Status)
            }
        }
    }

    /// Ends a pause of new orders after a successful reconciliation with the broker, provided
    /// the feed is up (the reconnect snapshot may have failed; a later periodic reconciliation then
    /// lets orders go out again).
    pub async fn resume_orders_if_reconciled(&self) {
        if self.guard.feed_down() {
            return;
        }
        if let Some(since) = self.guard.resume_orders() {
            let secs = (self.clock.now() - since).num_seconds();
            let msg = format!("feed back and reconciled after {secs} s; new orders resume");
            self.event("ORDERS_RESUMED", Severity::Info, &msg, json!({ "paused_secs": secs }), None).await;
        }
    }

    async fn handle_status(&self, s: &FeedStatus) -> Result<(), TradingError> {
        let now = self.clock.now();
        if let FeedStatus::Registrations { .. } = s {
            // The picture `aegis status` shows (the last of them), under a kind of its own.
            let payload = json!({ "status": s });
            self.event("FEED_REGISTRATIONS", Severity::Info, "feed registrations", payload, None).await;
            return Ok(());
        }
        let notices_refused =
            matches!(s, FeedStatus::RegistrationRefused { subscription: Subscription::Executions, .. });
        match s {
            FeedStatus::Connected { .. } => self.guard.set_disconnected(None),
            FeedStatus::Disconnected { reason } => {
                self.guard.set_disconnected(Some(now));
                if self.config.pause_while_feed_down {
                    self.guard.pause_orders(&format!("feed lost: {reason}"), now);
                }
            }
            FeedStatus::StopTrading { reason } => {
                let r = StopReason::BrokerDisconnected { since: now, for_secs: 0 };
                tracing::warn!(reason = %reason, "feed asks to stop trading");
                let _ = self.guard.trip(r).await;
            }
            // No fill arrives in real time while the execution notices are refused: to the
            // orders that is the feed being down (the registration is retried by the feed).
            FeedStatus::RegistrationRefused { code, message, .. } if notices_refused => {
                self.guard.set_disconnected(Some(now));
                if self.config.pause_while_feed_down {
                    self.guard.pause_orders(&format!("execution notices refused: {code} {message}"), now);
                }
            }
            FeedStatus::RegistrationRestored { subscription: Subscription::Executions } => {
                self.guard.set_disconnected(None);
            }
            _ => {}
        }
        let payload = json!({ "status": s });
        let (severity, message) = match s {
            FeedStatus::RegistrationRefused { subscription, code, message } => (
                Severity::Warning,
                format!(
                    "real-time registration refused ({subscription}): {code} {message}; kept and retried"
                ),
            ),
            _ => (Severity::Info, "feed status".to_owned()),
        };
        self.event("FEED_STATUS", severity, &message, payload, None).await;
        match s {
            FeedStatus::Connected { .. } => {}
            FeedStatus::Reconnected
            | FeedStatus::RegistrationRestored { subscription: Subscription::Executions } => {
                // Notices sent while the socket was down (or the notices refused) are lost: the
                // broker's snapshot brings their fills through the orders' ledgers (a late notice
                // of one is absorbed there).
                match self.broker.todays_orders().await {
                    Ok(list) => {
                        self.apply_orders_snapshot(&list).await?;
                        // Back and reconciled: new orders go out again by themselves.
                        self.resume_orders_if_reconciled().await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "orders snapshot after a reconnect failed");
                        let msg = format!("fills missed while disconnected not recovered yet: {e}");
                        let payload = json!({ "error": e.to_string() });
                        self.event("FEED_RECONCILE_FAILED", Severity::Warning, &msg, payload, None).await;
                    }
                }
            }
            _ => {
                let _ = self.guard.evaluate(Decimal::ZERO, Decimal::ZERO).await;
            }
        }
        Ok(())
    }

    async fn handle_notice(&self, n: &OrderNotice) -> Result<Handled, TradingError> {
        let target = n.original_order_no.as_deref().unwrap_or(&n.broker_order_no);
        let Some(stored) = self.find_by_broker_no(n.trade_date, target).await? else {
            if n.kind == NoticeKind::Accepted
                && let Some(id) = self.match_pending(n).await?
            {
                let no = BrokerOrderNo::new(&n.branch, &n.broker_order_no)?;
                self.apply_order_event(
                    id,
                    &OrderEvent::Accepted { broker_order_no: no },
                    &UpdateExtra::default(),
                )
                .await?;
                return Ok(Handled::Order(id));
            }
            let payload = json!({ "notice": n });
            self.event("UNMATCHED_NOTICE", Severity::Warning, "notice for no known order", payload, None)
                .await;
            return Ok(Handled::Unmatched);
        };
        let id = stored.id;
        self.in_order_scope(id, self.handle_order_notice(stored, n)).await
    }

    /// Applies a notice to its order (under the order's correlation id).
    async fn handle_order_notice(
        &self,
        stored: StoredOrder,
        n: &OrderNotice,
    ) -> Result<Handled, TradingError> {
        let id = stored.id;
        let ev = match n.kind {
            NoticeKind::Accepted => {
                OrderEvent::Accepted { broker_order_no: BrokerOrderNo::new(&n.branch, &n.broker_order_no)? }
            }
            NoticeKind::CancelAccepted | NoticeKind::RemainderCanceled => OrderEvent::CancelConfirmed,
            NoticeKind::Rejected if n.original_order_no.is_some() => OrderEvent::CancelRejected {
                code: "NOTICE".into(),
                reason: "cancel or modify rejected".into(),
            },
            NoticeKind::Rejected => {
                OrderEvent::Rejected { code: "NOTICE".into(), reason: "rejected by the broker".into() }
            }
            NoticeKind::ModifyAccepted => {
                self.event(
                    "MODIFY_NOTICE",
                    Severity::Info,
                    "modify accepted",
                    json!({ "notice": n }),
                    Some(id),
                )
                .await;
                return Ok(Handled::Status);
            }
        };
        if ev == OrderEvent::CancelConfirmed {
            // Fills that preceded the cancel must be counted before the order becomes terminal.
            self.sync_order_from_broker(&stored).await?;
        }
        self.apply_order_event(id, &ev, &UpdateExtra::default()).await?;
        Ok(Handled::Order(id))
    }

    /// Finds our submitting order an acceptance notice belongs to, by fingerprint (unique only).
    async fn match_pending(&self, n: &OrderNotice) -> Result<Option<i64>, TradingError> {
        if n.trade_date != self.config.trade_date {
            return Ok(None);
        }
        let orders = self.orders().await?;
        let cands: Vec<i64> = orders
            .iter()
            .filter(|o| o.order.status().needs_resolution() && o.order.broker_order_no().is_none())
            .filter(|o| {
                let r = o.order.request();
                r.symbol == n.symbol
                    && r.side == n.side
                    && r.qty == n.qty
                    && r.price.unwrap_or(Decimal::ZERO) == n.price
            })
            .map(|o| o.id)
            .collect();
        Ok(if cands.len() == 1 { cands.first().copied() } else { None })
    }

    async fn handle_fill(&self, f: &FillNotice) -> Result<Handled, TradingError> {
        let Some(stored) = self.find_by_broker_no(f.trade_date, &f.broker_order_no).await? else {
            let payload = json!({ "fill": f });
            self.event("UNMATCHED_FILL", Severity::Warning, "fill for no known order", payload, None).await;
            return Ok(Handled::Unmatched);
        };
        let no = BrokerOrderNo::new(&f.branch, &f.broker_order_no)?;
        // The notice's own KST execution time: its identity in the ledger (`FillKey::Notice`).
        let notice = NoticeFill { broker_order_no: no, exec_time: f.exec_time, qty: f.qty, price: f.price };
        let (s, new) =
            self.in_order_scope(stored.id, self.apply_ledger(&stored, LedgerInput::Notice(notice))).await?;
        Ok(if new { Handled::FillRecorded(s.id) } else { Handled::Duplicate(s.id) })
    }

    /// Applies a cumulative fill snapshot of one order.
    ///
    /// # Errors
    /// Returns store errors.
    pub async fn apply_fill_snapshot(
        &self,
        order_id: i64,
        snap: &FillSnapshot,
    ) -> Result<StoredOrder, TradingError> {
        let stored = self.order(order_id).await?.ok_or(TradingError::NotFound(order_id))?;
        Ok(self.apply_ledger(&stored, LedgerInput::Snapshot(snap.clone())).await?.0)
    }

    /// Offers a notice or snapshot to the order's ledger (held in memory); new fills and the
    /// order's new state are written in one unit of work — a fill insert, the order's guarded
    /// update and one insert of the events — and then taken into memory with the positions.
    /// Returns the order and whether anything new was recorded.
    async fn apply_ledger(
        &self,
        stored: &StoredOrder,
        input: LedgerInput,
    ) -> Result<(StoredOrder, bool), TradingError> {
        let id = stored.id;
        let mut stored = stored.clone();
        for _ in 0..MAX_FILL_ATTEMPTS {
            let Some(no) = stored.order.broker_order_no().cloned() else { return Ok((stored, false)) };
            let qty = stored.order.request().qty;
            let before =
                self.with_book(|b| b.ledger(id).cloned()).unwrap_or_else(|| FillLedger::new(no, qty));
            let mut ledger = before.clone();
            let outcome = match &input {
                LedgerInput::Notice(n) => ledger.apply_notice(n),
                LedgerInput::Snapshot(s) => ledger.apply_snapshot(s),
            };
            let outcome = match outcome {
                Ok(o) => o,
                Err(e) => {
                    let payload = json!({ "error": e.to_string() });
                    self.event("FILL_REFUSED", Severity::Error, &e.to_string(), payload, Some(id)).await;
                    return Ok((stored, false));
                }
            };
            if !matches!(outcome, LedgerOutcome::Recorded { .. }) {
                // The order row may lag behind its fills after a crash: catch it up.
                let caught = self.catch_up_order(id, &ledger).await?;
                return Ok((caught, false));
            }
            // The order's new state, when the fill moves it (never while it is still `NEW`).
            let mut moved = stored.order.clone();
            let expected = (moved.status(), moved.record().attempt);
            let mut transition = None;
            if stored.order.status() != OrderStatus::New {
                let ev = stored.order.fill_event(ledger.cum_qty(), ledger.cum_amount());
                match moved.apply(&ev) {
                    Ok(Applied::Unchanged) => {}
                    Ok(_) => transition = Some(ev),
                    Err(e) => {
                        let payload =
                            json!({ "from": expected.0.as_str(), "event": ev, "error": e.to_string() });
                        self.event(
                            "ORDER_TRANSITION_REFUSED",
                            Severity::Warning,
                            &e.to_string(),
                            payload,
                            Some(id),
                        )
                        .await;
                        moved = stored.order.clone();
                    }
                }
            }
            let now = self.clock.now();
            let payload = json!({ "outcome": format!("{outcome:?}"), "cum_qty": ledger.cum_qty() });
            let mut events =
                vec![self.new_event("FILL_RECORDED", Severity::Info, "fill recorded", payload, Some(id))];
            if let Some(ev) = &transition {
                let payload = json!({
                    "from": expected.0.as_str(), "to": moved.status().as_str(), "event": ev,
                    "symbol": moved.request().symbol.as_str(),
                });
                let msg = format!("order {id}: {} -> {} on {ev}", expected.0, moved.status());
                events.push(self.new_event("ORDER_TRANSITION", Severity::Info, &msg, payload, Some(id)));
            }
            let extra = UpdateExtra::default();
            let symbol = stored.order.request().symbol.clone();
            let write = FillsWrite {
                order_id: id,
                trade_date: stored.trade_date,
                symbol: &symbol,
                side: stored.order.request().side,
                before: before.fills(),
                ledger: &ledger,
                order: transition.as_ref().map(|_| OrderWrite {
                    order: &moved,
                    expected,
                    extra: &extra,
                    now,
                }),
                filled_at: now,
            };
            match self.log.record_fills(write, &events).await {
                Ok(FillsWritten::Committed { .. }) => {}
                Ok(FillsWritten::OrderMoved) => {
                    // Another writer moved the order: read the day back and offer the input again.
                    self.reload().await?;
                    stored = self.order(id).await?.ok_or(TradingError::NotFound(id))?;
                    continue;
                }
                // Rolled back: a fill is never attached to another order's key, nor dropped quietly.
                Err(e) => return Err(self.store_failure(e, Some(id)).await),
            }
            stored.order = moved;
            let positions_ok = self.with_book(|b| {
                let ok = b.take_fills(id, ledger, before.fills(), &symbol);
                b.put(stored.clone());
                ok
            });
            if !positions_ok {
                self.reload().await?;
            }
            self.checkpoint(Checkpoint::Fill, &id.to_string());
            return Ok((stored, true));
        }
        Err(TradingError::Contended { order_id: id, attempts: MAX_FILL_ATTEMPTS })
    }

    /// Moves the order to the ledger's cumulative fill (forward only; refusals are recorded).
    async fn catch_up_order(&self, id: i64, ledger: &FillLedger) -> Result<StoredOrder, TradingError> {
        let stored = self.order(id).await?.ok_or(TradingError::NotFound(id))?;
        let cum = ledger.cum_qty();
        if cum.is_zero()
            || (cum == stored.order.filled_qty()
                && ledger.cum_amount() == stored.order.record().filled_amount)
        {
            return Ok(stored);
        }
        if stored.order.status() == OrderStatus::New {
            return Ok(stored);
        }
        let ev = stored.order.fill_event(cum, ledger.cum_amount());
        Ok(self.apply_order_event(id, &ev, &UpdateExtra::default()).await?.0)
    }

    /// Reads the broker's state of one order and adopts it (fills first).
    async fn sync_order_from_broker(&self, stored: &StoredOrder) -> Result<(), TradingError> {
        let Some(no) = stored.order.broker_order_no() else { return Ok(()) };
        match self.broker.todays_orders().await {
            Ok(list) => {
                if let Some(b) = list.iter().find(|b| is_broker_order(b, stored.trade_date, &no.number))
                    && b.filled_qty > Decimal::ZERO
                {
                    let snap = FillSnapshot {
                        broker_order_no: no.clone(),
                        cum_qty: b.filled_qty,
                        cum_amount: b.filled_amount,
                    };
                    self.apply_fill_snapshot(stored.id, &snap).await?;
                }
            }
            Err(e) => {
                self.event("SYNC_FAILED", Severity::Warning, &e.to_string(), json!({}), Some(stored.id))
                    .await;
            }
        }
        Ok(())
    }

    /// Applies a REST snapshot of today's orders: every broker order that is ours is adopted
    /// (number, fills, cancel, reject). Returns the broker orders that match no order of ours.
    ///
    /// # Errors
    /// Returns store errors.
    pub async fn apply_orders_snapshot<'b>(
        &self,
        broker_orders: &'b [BrokerOrder],
    ) -> Result<Vec<&'b BrokerOrder>, TradingError> {
        let mut foreign = Vec::new();
        let folded = fold_cancel_records(broker_orders);
        for (b, f) in broker_orders.iter().zip(&folded).filter(|(b, _)| b.original_order_no.is_none()) {
            match self.find_by_broker_no(b.trade_date(), &b.broker_order_no).await? {
                Some(s) => {
                    self.adopt_broker_order(s.id, f).await?;
                }
                None => foreign.push(b),
            }
        }
        Ok(foreign)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::market::{AccountHolding, AccountSnapshot};
    use crate::domain::strategy::OrderIntent;
    use crate::domain::{OrderType, Side, Symbol};
    use crate::ports::{Broker, Clock, FakeBroker, FakeClock};
    use crate::store::testing::{Backend, TestDb};
    use crate::trading::orders::SubmitOutcome;
    use crate::trading::recovery::Difference;
    use crate::trading::{Guard, InMemoryModeStore, TradingConfig};

    /// Broker values beyond what `Decimal` can multiply (a notice's or a snapshot's quantity and
    /// price, the account's holdings) reach the engine: each is refused and recorded, none panics.
    #[tokio::test]
    async fn broker_values_beyond_the_decimal_range_are_refused_and_recorded_not_a_panic() {
        let db = TestDb::new(Backend::Sqlite).await.expect("db").expect("sqlite");
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        let clock = FakeClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).single().expect("time"));
        let c: Arc<dyn Clock> = Arc::new(clock);
        let broker = Arc::new(FakeBroker::new(c.clone()));
        let guard = Guard::load(
            Arc::new(InMemoryModeStore::default()),
            db.store.events(),
            c.clone(),
            Default::default(),
        )
        .await
        .expect("guard");
        let b: Arc<dyn Broker> = broker.clone();
        let core =
            TradingCore::new(db.store.clone(), b, c, Arc::new(guard), TradingConfig::new(day, "overflow"));
        let symbol = Symbol::new("005930").expect("symbol");
        let intent = OrderIntent {
            symbol: symbol.clone(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            qty: dec!(5),
            price: Some(dec!(70000)),
            reason: "test".into(),
            signal_id: "big".into(),
        };
        let SubmitOutcome::Sent(order) = core.submit(&intent).await.expect("submit") else { panic!("sent") };
        let no = order.order.broker_order_no().expect("number").clone();
        let huge = dec!(999_999_999_999_999_999);

        let fill = FillNotice {
            trade_date: day,
            exec_time: NaiveTime::from_hms_opt(9, 30, 0).expect("time"),
            broker_order_no: no.number.clone(),
            branch: no.branch.clone(),
            symbol: symbol.clone(),
            side: Side::Buy,
            qty: huge,
            price: huge,
        };
        let handled = core.handle_execution(&ExecutionEvent::Fill(fill)).await.expect("handled");
        assert_eq!(handled, Handled::Duplicate(order.id), "refused, nothing recorded");
        let snap = FillSnapshot { broker_order_no: no.clone(), cum_qty: dec!(1), cum_amount: Decimal::MAX };
        let stored = core.apply_fill_snapshot(order.id, &snap).await.expect("snapshot");
        assert!(stored.order.filled_qty().is_zero());

        let holding = |qty, avg_price| AccountHolding {
            symbol: symbol.clone(),
            name: "big".into(),
            qty,
            sellable_qty: qty,
            avg_price,
            purchase_amount: Decimal::ZERO,
            current_price: Decimal::ZERO,
            eval_amount: Decimal::ZERO,
            unrealized_pnl: Decimal::ZERO,
        };
        let z = Decimal::ZERO;
        broker.set_account(AccountSnapshot {
            orderable_cash: z,
            cash_d0: z,
            cash_d2: z,
            holdings: vec![holding(huge, huge), holding(huge, huge)],
            purchase_total: z,
            eval_total: z,
            unrealized_pnl_total: z,
            account_total: z,
            net_asset: z,
        });
        let report = core.recover().await.expect("recovered");
        assert!(report.differences.iter().any(|d| matches!(d, Difference::Holding(_))), "{report:?}");
        let kinds: Vec<String> =
            db.store.events().recent(100).await.expect("events").into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "FILL_REFUSED").count(), 2, "{kinds:?}");
        assert!(kinds.iter().any(|k| k == "RECOVERY_DIFFERENCE"), "{kinds:?}");
    }
}
