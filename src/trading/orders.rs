//! The order service: intent → mode → guardrails → price check → write-ahead row (committed
//! before the broker call) → broker → Sent / Rejected / SubmitUnknown; resolution of unknown
//! outcomes by asking the broker; cancels (allowed in stop mode).

use chrono::{NaiveDate, TimeDelta};
use rust_decimal::Decimal;
use serde_json::json;

use super::{Checkpoint, TradingCore, TradingError};
use crate::domain::fill::FillSnapshot;
use crate::domain::market::{BrokerOrder, CancelRequest, OrderRequest};
use crate::domain::mode::Action;
use crate::domain::order::{BrokerOrderNo, IdempotencyKey, NewOrder, Order, OrderEvent, OrderStatus};
use crate::domain::price::check_order_price;
use crate::domain::risk::{Breach, RiskSnapshot, check_intent};
use crate::domain::strategy::OrderIntent;
use crate::ports::{
    BrokerError, Inserted, NewEvent, OrderMeta, Severity, StoreError, StoredOrder, UpdateExtra,
};

/// Why an intent was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// The mode does not allow new orders (stop).
    Mode(String),
    /// Guardrails were breached.
    Guardrails(Vec<Breach>),
    /// The price is off tick, outside the daily band or missing.
    Price(String),
    /// New orders wait for the feed to come back and today's orders to be reconciled.
    FeedDown(String),
}

/// The result of [`TradingCore::submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Nothing was written or sent; the reason was recorded.
    Blocked(Blocked),
    /// Observe mode: the signal was recorded, nothing was sent.
    Observed,
    /// The key already had an order that is past `NEW`; the broker was not called again.
    Existing(StoredOrder),
    /// The broker accepted the order.
    Sent(StoredOrder),
    /// The broker rejected the order.
    Rejected(StoredOrder),
    /// The broker call ended without an answer; resolve before acting.
    Unknown(StoredOrder),
    /// The broker call failed before anything was sent; the row is back at `NEW` for a retry.
    NotSent(StoredOrder),
}

/// The result of [`TradingCore::resolve_unknown`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The order did not need resolving.
    NotNeeded,
    /// The broker has the order; its state was adopted.
    Found(BrokerOrderNo),
    /// The broker proves the order never arrived; it is back at `NEW` and may be resent.
    NotFound,
    /// The broker cannot tell yet (or the match is ambiguous); the order stays unknown.
    StillUnknown(String),
}

/// The result of [`TradingCore::cancel`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The mode does not allow cancels (observe).
    Blocked,
    /// Nothing to cancel (terminal, or never accepted).
    NotCancelable(OrderStatus),
    /// The order ended canceled (or filled meanwhile), see the stored order.
    Done(StoredOrder),
    /// The cancel is pending at the broker.
    Pending(StoredOrder),
}

impl TradingCore {
    /// Derives the idempotency key of an intent.
    pub fn key_of(&self, intent: &OrderIntent) -> IdempotencyKey {
        IdempotencyKey::derive(&self.config.strategy_id, self.config.trade_date, &intent.signal_id)
    }

    /// Returns the guardrails' view of the day's state (positions, live orders, today's count),
    /// from memory.
    ///
    /// # Errors
    /// Returns a store error when the state cannot be loaded.
    pub async fn risk_snapshot(&self) -> Result<RiskSnapshot, TradingError> {
        self.ensure_loaded().await?;
        Ok(self.with_book(|b| b.risk_snapshot()))
    }

    /// Runs the pre-send checks; a block is recorded as an event.
    async fn pre_send_checks(
        &self,
        intent: &OrderIntent,
        order_id: Option<i64>,
    ) -> Result<Option<Blocked>, TradingError> {
        let mode = self.guard.mode();
        if !mode.allows(Action::NewOrder) {
            let reason = match &mode {
                crate::domain::mode::TradingMode::Stop { reason } => reason.to_string(),
                other => other.as_str().to_owned(),
            };
            let payload = json!({ "signal_id": intent.signal_id, "mode": mode });
            self.event(
                "ORDER_BLOCKED_MODE",
                Severity::Warning,
                &format!("order blocked: {reason}"),
                payload,
                order_id,
            )
            .await;
            return Ok(Some(Blocked::Mode(reason)));
        }
        if let Some(reason) = self.guard.orders_paused() {
            let payload = json!({ "signal_id": intent.signal_id, "reason": reason });
            let msg = format!("order held back until the feed is reconciled: {reason}");
            self.event("ORDER_PAUSED", Severity::Warning, &msg, payload, order_id).await;
            return Ok(Some(Blocked::FeedDown(reason)));
        }
        let snap = self.risk_snapshot().await?;
        if let Err(breaches) = check_intent(&self.config.risk, &snap, intent) {
            for b in &breaches {
                let payload =
                    json!({ "signal_id": intent.signal_id, "breach": b, "symbol": intent.symbol.as_str() });
                self.event("GUARDRAIL_BREACH", Severity::Warning, &b.to_string(), payload, order_id).await;
            }
            if breaches.iter().any(|b| matches!(b, Breach::DailyLoss { .. })) {
                let _ = self.guard.evaluate(snap.realized_pnl, snap.unrealized_pnl).await;
            }
            return Ok(Some(Blocked::Guardrails(breaches)));
        }
        if let Err(e) =
            check_order_price(intent.order_type, intent.price, &self.price_context(&intent.symbol))
        {
            let payload =
                json!({ "signal_id": intent.signal_id, "price": intent.price, "error": e.to_string() });
            self.event("PRICE_CHECK_FAILED", Severity::Warning, &e.to_string(), payload, order_id).await;
            return Ok(Some(Blocked::Price(e.to_string())));
        }
        Ok(None)
    }

    /// Adopts the stored mode (the operator may have switched it); a failure is recorded and the
    /// in-memory mode is kept. [`Self::submit`] calls it only while the mode holds orders back;
    /// the engine follows the stored mode on its tick, and a one-off caller refreshes first.
    pub async fn refresh_mode(&self) {
        if let Err(e) = self.guard.refresh().await {
            self.event("MODE_REFRESH_FAILED", Severity::Error, &e.to_string(), json!({}), None).await;
        }
    }

    /// Submits an intent: checks, write-ahead row, broker call. The same signal again returns the
    /// existing order and never calls the broker twice; an existing `NEW` row (written but never
    /// sent, e.g. before a crash or after a proven loss) is sent. Costs at most six statements
    /// when sent: the row, `SUBMITTING` and its events, then the broker's answer, its event and
    /// its `audit_log` row (`order.submit`) in one transaction. Runs under the order's correlation
    /// id, its idempotency key ([`crate::ports::correlation`]).
    ///
    /// # Errors
    /// Returns store errors and [`TradingError::Order`] for an invalid intent.
    pub async fn submit(&self, intent: &OrderIntent) -> Result<SubmitOutcome, TradingError> {
        let key = self.key_of(intent);
        crate::ports::correlation::scope(key.as_str(), self.submit_keyed(intent, key.clone())).await
    }

    /// [`Self::submit`] under the order's correlation id (its key).
    async fn submit_keyed(
        &self,
        intent: &OrderIntent,
        key: IdempotencyKey,
    ) -> Result<SubmitOutcome, TradingError> {
        self.ensure_loaded().await?;
        let existing = self.with_book(|b| b.by_key(key.as_str()).cloned());
        if let Some(s) = &existing
            && s.order.status() != OrderStatus::New
        {
            return Ok(SubmitOutcome::Existing(s.clone()));
        }
        if !self.guard.allows(Action::NewOrder) {
            // Held back: an operator may have resumed (or switched to observe) from another
            // process. A halt while trading is picked up by the engine's tick instead, so the
            // order path reads nothing but memory.
            self.refresh_mode().await;
        }
        if !self.guard.allows(Action::NewOrder) && self.guard.allows(Action::ComputeSignals) {
            let payload = json!({ "signal_id": intent.signal_id, "intent": intent });
            self.event("SIGNAL_OBSERVED", Severity::Info, &intent.reason, payload, None).await;
            return Ok(SubmitOutcome::Observed);
        }
        let request = NewOrder {
            key: key.clone(),
            symbol: intent.symbol.clone(),
            side: intent.side,
            order_type: intent.order_type,
            qty: intent.qty,
            price: intent.price,
            exchange: self.price_context(&intent.symbol).exchange,
        };
        Order::new(uuid::Uuid::nil(), request.clone())?;
        if let Some(block) = self.pre_send_checks(intent, existing.as_ref().map(|s| s.id)).await? {
            if let Some(s) = existing {
                let ev = OrderEvent::Rejected { code: "LOCAL_BLOCKED".into(), reason: format!("{block:?}") };
                let extra = UpdateExtra {
                    reject: Some(("LOCAL_BLOCKED".into(), format!("{block:?}"))),
                    ..UpdateExtra::default()
                };
                self.apply_order_event(s.id, &ev, &extra).await?;
            }
            return Ok(SubmitOutcome::Blocked(block));
        }
        self.checkpoint(Checkpoint::BeforeRow, &intent.signal_id);
        let (stored, created) = match existing {
            Some(s) => (s, Vec::new()),
            None => {
                let meta =
                    OrderMeta { trade_date: self.config.trade_date, strategy_id: self.config.strategy_row };
                let inserted = match self.log.insert_order(&request, &meta, self.clock.now()).await {
                    Ok(inserted) => inserted,
                    Err(e @ StoreError::Fenced { .. }) => {
                        // Refused before the broker call: this process no longer leads.
                        let payload = json!({ "signal_id": intent.signal_id, "key": key.as_str() });
                        let ev =
                            self.new_event("ORDER_FENCED", Severity::Error, &e.to_string(), payload, None);
                        if let Err(re) = self.log.record_events(&[ev]).await {
                            tracing::warn!(error = %re, "cannot record the fenced order");
                        }
                        return Err(e.into());
                    }
                    Err(e) => return Err(e.into()),
                };
                self.with_book(|b| b.put(inserted.stored().clone()));
                match inserted {
                    Inserted::Created(s) => {
                        let payload = json!({ "signal_id": intent.signal_id, "key": key.as_str(), "reason": intent.reason });
                        let created = self.new_event(
                            "ORDER_CREATED",
                            Severity::Info,
                            "order row written",
                            payload,
                            Some(s.id),
                        );
                        (s, vec![created])
                    }
                    Inserted::Existing(s) if s.order.status() == OrderStatus::New => (s, Vec::new()),
                    Inserted::Existing(s) => return Ok(SubmitOutcome::Existing(s)),
                }
            }
        };
        self.checkpoint(Checkpoint::AfterRow, &intent.signal_id);
        self.send(stored, &intent.signal_id, created).await
    }

    /// Sends a `NEW` order: `SUBMITTING` is committed first (with `also`, the row's creation
    /// event), then the broker is called.
    async fn send(
        &self,
        stored: StoredOrder,
        signal: &str,
        also: Vec<NewEvent>,
    ) -> Result<SubmitOutcome, TradingError> {
        let extra = UpdateExtra { sent_at: Some(self.clock.now()), ..UpdateExtra::default() };
        let (stored, applied) =
            self.apply_order_event_with(stored.id, &OrderEvent::Submit, &extra, also).await?;
        if applied.is_none() || stored.order.status() != OrderStatus::Submitting {
            return Ok(SubmitOutcome::Existing(stored));
        }
        let r = stored.order.request();
        let req = OrderRequest {
            symbol: r.symbol.clone(),
            side: r.side,
            order_type: r.order_type,
            qty: r.qty,
            price: r.price.unwrap_or(Decimal::ZERO),
            exchange: r.exchange,
        };
        self.checkpoint(Checkpoint::BeforeSend, signal);
        let answer = self.broker.place_order(&req).await;
        self.checkpoint(Checkpoint::AfterSend, signal);
        let id = stored.id;
        match answer {
            Ok(ack) => match BrokerOrderNo::new(&ack.branch, &ack.broker_order_no) {
                Ok(no) => {
                    let ev = OrderEvent::Accepted { broker_order_no: no };
                    let (s, _) = self.apply_order_event(id, &ev, &UpdateExtra::default()).await?;
                    Ok(SubmitOutcome::Sent(s))
                }
                Err(e) => {
                    self.event("BROKER_ANSWER_INVALID", Severity::Error, &e.to_string(), json!({}), Some(id))
                        .await;
                    let (s, _) = self
                        .apply_order_event(id, &OrderEvent::SubmitOutcomeUnknown, &UpdateExtra::default())
                        .await?;
                    Ok(SubmitOutcome::Unknown(s))
                }
            },
            Err(BrokerError::Rejected { msg_cd, msg1 }) => {
                let ev = OrderEvent::Rejected { code: msg_cd.clone(), reason: msg1.clone() };
                let extra = UpdateExtra { reject: Some((msg_cd, msg1)), ..UpdateExtra::default() };
                let (s, _) = self.apply_order_event(id, &ev, &extra).await?;
                let snap = self.risk_snapshot().await?;
                let _ = self.guard.record_reject(snap.realized_pnl, snap.unrealized_pnl).await;
                Ok(SubmitOutcome::Rejected(s))
            }
            Err(
                e @ (BrokerError::Invalid { .. }
                | BrokerError::NotLeader { .. }
                | BrokerError::RateLimit
                | BrokerError::CircuitOpen { .. }
                | BrokerError::Authentication { .. }),
            ) => {
                // Refused before anything left for the exchange: proven not sent.
                self.event("ORDER_NOT_SENT", Severity::Warning, &e.to_string(), json!({}), Some(id)).await;
                let (s, _) = self
                    .apply_order_event(id, &OrderEvent::ResolvedNotFound, &UpdateExtra::default())
                    .await?;
                Ok(SubmitOutcome::NotSent(s))
            }
            Err(e) => {
                self.event("ORDER_OUTCOME_UNKNOWN", Severity::Error, &e.to_string(), json!({}), Some(id))
                    .await;
                let (s, _) = self
                    .apply_order_event(id, &OrderEvent::SubmitOutcomeUnknown, &UpdateExtra::default())
                    .await?;
                Ok(SubmitOutcome::Unknown(s))
            }
        }
    }

    /// Resolves an order whose submission outcome is unknown by asking the broker for today's orders.
    ///
    /// # Errors
    /// Returns store errors; a failing broker query is recorded and yields `StillUnknown`.
    pub async fn resolve_unknown(&self, order_id: i64) -> Result<Resolution, TradingError> {
        self.ensure_loaded().await?;
        self.in_order_scope(order_id, self.resolve_unknown_scoped(order_id)).await
    }

    async fn resolve_unknown_scoped(&self, order_id: i64) -> Result<Resolution, TradingError> {
        let broker_orders = match self.broker.todays_orders().await {
            Ok(list) => list,
            Err(e) => {
                self.event("RESOLVE_FAILED", Severity::Error, &e.to_string(), json!({}), Some(order_id))
                    .await;
                return Ok(Resolution::StillUnknown(e.to_string()));
            }
        };
        self.resolve_with(order_id, &broker_orders).await
    }

    /// Resolves an unknown order against a list of today's broker orders (complete for the day).
    ///
    /// # Errors
    /// Returns store errors.
    pub async fn resolve_with(
        &self,
        order_id: i64,
        broker_orders: &[BrokerOrder],
    ) -> Result<Resolution, TradingError> {
        let stored = self.order(order_id).await?.ok_or(TradingError::NotFound(order_id))?;
        let resolve = super::RESOLVING.scope(true, self.resolve_stored(stored, broker_orders));
        self.in_order_scope(order_id, resolve).await
    }

    async fn resolve_stored(
        &self,
        stored: StoredOrder,
        broker_orders: &[BrokerOrder],
    ) -> Result<Resolution, TradingError> {
        let order_id = stored.id;
        if !stored.order.status().needs_resolution() {
            return Ok(Resolution::NotNeeded);
        }
        let broker_orders = &fold_cancel_records(broker_orders);
        let matches = self.fingerprint_matches(&stored, broker_orders).await?;
        match matches.as_slice() {
            [one] => {
                let no = BrokerOrderNo::new(&one.branch, &one.broker_order_no)?;
                let payload = json!({ "broker_order_no": one.broker_order_no, "status": stored.order.status().as_str() });
                self.event(
                    "ORDER_RESOLVED_FOUND",
                    Severity::Warning,
                    "unknown order found at the broker",
                    payload,
                    Some(order_id),
                )
                .await;
                self.adopt_broker_order(order_id, one).await?;
                Ok(Resolution::Found(no))
            }
            [] => {
                let now = self.clock.now();
                let started = stored.sent_at.unwrap_or(stored.created_at);
                if (now - started).num_seconds() < self.config.resolve_grace_secs {
                    return Ok(Resolution::StillUnknown("submission too recent to prove absence".into()));
                }
                self.event(
                    "ORDER_RESOLVED_NOT_FOUND",
                    Severity::Warning,
                    "broker proves the order never arrived",
                    json!({}),
                    Some(order_id),
                )
                .await;
                self.apply_order_event(order_id, &OrderEvent::ResolvedNotFound, &UpdateExtra::default())
                    .await?;
                Ok(Resolution::NotFound)
            }
            many => {
                let msg = format!("{} broker orders match the submission", many.len());
                self.event("ORDER_RESOLVE_AMBIGUOUS", Severity::Error, &msg, json!({}), Some(order_id)).await;
                Ok(Resolution::StillUnknown(msg))
            }
        }
    }

    /// Returns the broker orders that may be this order — only orders of its trading date, since
    /// numbers restart every date: by number when known, otherwise by the submission fingerprint
    /// (symbol, side, quantity, price, time window) among numbers no other order of ours claims
    /// on that date.
    async fn fingerprint_matches<'b>(
        &self,
        stored: &StoredOrder,
        broker_orders: &'b [BrokerOrder],
    ) -> Result<Vec<&'b BrokerOrder>, TradingError> {
        let o = &stored.order;
        let day = stored.trade_date;
        if let Some(no) = o.broker_order_no() {
            return Ok(broker_orders.iter().filter(|b| is_broker_order(b, day, &no.number)).collect());
        }
        let r = o.request();
        let since =
            stored.sent_at.unwrap_or(stored.created_at) - TimeDelta::seconds(self.config.match_window_secs);
        let mut out = Vec::new();
        for b in broker_orders {
            let same = b.original_order_no.is_none()
                && b.trade_date() == day
                && b.symbol == r.symbol
                && b.side == r.side
                && b.qty == r.qty
                && b.price == r.price.unwrap_or(Decimal::ZERO)
                && b.ordered_at >= since;
            if !same {
                continue;
            }
            match self.find_by_broker_no(day, &b.broker_order_no).await? {
                Some(other) if other.id != stored.id => {}
                _ => out.push(b),
            }
        }
        Ok(out)
    }

    /// Adopts the broker's state of an order: number, fills, cancel or reject.
    ///
    /// # Errors
    /// Returns store errors.
    pub async fn adopt_broker_order(
        &self,
        order_id: i64,
        b: &BrokerOrder,
    ) -> Result<StoredOrder, TradingError> {
        let no = BrokerOrderNo::new(&b.branch, &b.broker_order_no)?;
        let (mut stored, _) = self
            .apply_order_event(
                order_id,
                &OrderEvent::Accepted { broker_order_no: no.clone() },
                &UpdateExtra::default(),
            )
            .await?;
        if b.filled_qty > Decimal::ZERO {
            let snap =
                FillSnapshot { broker_order_no: no, cum_qty: b.filled_qty, cum_amount: b.filled_amount };
            stored = self.apply_fill_snapshot(order_id, &snap).await?;
        }
        if b.rejected && b.filled_qty.is_zero() {
            let ev = OrderEvent::Rejected { code: "BROKER".into(), reason: "rejected at the broker".into() };
            stored = self.apply_order_event(order_id, &ev, &UpdateExtra::default()).await?.0;
        } else if (b.canceled || b.rejected) && b.remaining_qty.is_zero() && b.filled_qty < b.qty {
            stored = self
                .apply_order_event(order_id, &OrderEvent::CancelConfirmed, &UpdateExtra::default())
                .await?
                .0;
        }
        Ok(stored)
    }

    /// Cancels the rest of an order (allowed in stop mode): `CANCEL_PENDING` is committed first,
    /// then the broker is asked, then the broker's state of the order is adopted.
    ///
    /// # Errors
    /// Returns store errors; broker failures are recorded and leave the cancel pending.
    pub async fn cancel(&self, order_id: i64) -> Result<CancelOutcome, TradingError> {
        self.ensure_loaded().await?;
        if self.with_book(|b| b.order(order_id).is_none()) {
            // Read it into memory first, so the cancel runs under its correlation id.
            self.order(order_id).await?;
        }
        self.in_order_scope(order_id, self.cancel_scoped(order_id)).await
    }

    async fn cancel_scoped(&self, order_id: i64) -> Result<CancelOutcome, TradingError> {
        self.refresh_mode().await;
        if !self.guard.allows(Action::Cancel) {
            self.event(
                "CANCEL_BLOCKED_MODE",
                Severity::Warning,
                "cancel blocked by the mode",
                json!({}),
                Some(order_id),
            )
            .await;
            return Ok(CancelOutcome::Blocked);
        }
        let stored = self.order(order_id).await?.ok_or(TradingError::NotFound(order_id))?;
        let status = stored.order.status();
        if status == OrderStatus::New {
            let (s, _) = self
                .apply_order_event(order_id, &OrderEvent::CancelRequested, &UpdateExtra::default())
                .await?;
            return Ok(CancelOutcome::Done(s));
        }
        let Some(no) = stored.order.broker_order_no().cloned() else {
            return Ok(CancelOutcome::NotCancelable(status));
        };
        if !matches!(status, OrderStatus::Sent | OrderStatus::Partial | OrderStatus::CancelPending) {
            return Ok(CancelOutcome::NotCancelable(status));
        }
        let (stored, _) =
            self.apply_order_event(order_id, &OrderEvent::CancelRequested, &UpdateExtra::default()).await?;
        let req = CancelRequest {
            symbol: stored.order.request().symbol.clone(),
            broker_order_no: no.number.clone(),
            branch: no.branch.clone(),
            qty: None,
            exchange: stored.order.request().exchange,
        };
        match self.broker.cancel_order(&req).await {
            Ok(_) => {}
            Err(BrokerError::Rejected { msg_cd, msg1 }) => {
                let ev = OrderEvent::CancelRejected { code: msg_cd, reason: msg1 };
                self.apply_order_event(order_id, &ev, &UpdateExtra::default()).await?;
            }
            Err(e) => {
                self.event("CANCEL_FAILED", Severity::Error, &e.to_string(), json!({}), Some(order_id)).await;
                return Ok(CancelOutcome::Pending(stored));
            }
        }
        let broker_orders = match self.broker.todays_orders().await {
            Ok(list) => fold_cancel_records(&list),
            Err(e) => {
                self.event(
                    "CANCEL_SYNC_FAILED",
                    Severity::Warning,
                    &e.to_string(),
                    json!({}),
                    Some(order_id),
                )
                .await;
                return Ok(CancelOutcome::Pending(stored));
            }
        };
        let s = match broker_orders.iter().find(|b| is_broker_order(b, stored.trade_date, &no.number)) {
            Some(b) => self.adopt_broker_order(order_id, b).await?,
            None => stored,
        };
        if s.order.status().is_terminal() {
            Ok(CancelOutcome::Done(s))
        } else {
            Ok(CancelOutcome::Pending(s))
        }
    }

    /// Rebuilds the day's state from the log and stores its positions (opening holdings and
    /// today's fills).
    ///
    /// # Errors
    /// Returns store errors (corrupt when the fills do not make valid positions).
    pub async fn recompute_positions(&self) -> Result<crate::domain::position::Positions, TradingError> {
        self.reload().await?;
        self.flush_positions().await
    }

    /// Stores the positions held in memory (the engine flushes them with each reconciliation and
    /// at the close; fills themselves are durable when recorded).
    ///
    /// # Errors
    /// Returns store errors.
    pub async fn flush_positions(&self) -> Result<crate::domain::position::Positions, TradingError> {
        self.ensure_loaded().await?;
        let pos = self.with_book(|b| b.positions.clone());
        self.log.save_positions(&pos, self.config.region, self.clock.now()).await?;
        Ok(pos)
    }
}

/// Folds cancel records into the orders they cancel. KIS lists a cancel as a row of its own that
/// carries the original number (`CNCL_YN` = `Y`) and leaves the original with no remainder and
/// `CNCL_YN` = `N`; the original then counts as canceled.
pub fn fold_cancel_records(list: &[BrokerOrder]) -> Vec<BrokerOrder> {
    let mut out = list.to_vec();
    for o in out.iter_mut().filter(|o| o.original_order_no.is_none()) {
        let closed = o.remaining_qty.is_zero() && o.filled_qty < o.qty && !o.rejected;
        if closed
            && list.iter().any(|c| {
                c.canceled
                    && c.trade_date() == o.trade_date()
                    && c.original_order_no.as_deref().is_some_and(|n| number_eq(n, &o.broker_order_no))
            })
        {
            o.canceled = true;
        }
    }
    out
}

/// Returns a broker order number without its zero padding.
fn bare(number: &str) -> &str {
    number.trim().trim_start_matches('0')
}

/// Compares broker order numbers, ignoring zero padding.
pub(crate) fn number_eq(a: &str, b: &str) -> bool {
    bare(a) == bare(b)
}

/// Returns true when the broker order is the one numbered `number` on `trade_date`: numbers
/// restart every date, so a number alone names no order.
pub(crate) fn is_broker_order(b: &BrokerOrder, trade_date: NaiveDate, number: &str) -> bool {
    b.trade_date() == trade_date && number_eq(&b.broker_order_no, number)
}

/// Returns the key of a broker order number on a trading date, zero padding ignored: numbers
/// restart every date, so a number alone names no order.
pub(crate) fn broker_key(trade_date: NaiveDate, number: &str) -> (NaiveDate, String) {
    (trade_date, bare(number).to_owned())
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::{Side, Symbol};

    fn row(no: &str, orig: Option<&str>, filled: Decimal, remaining: Decimal, canceled: bool) -> BrokerOrder {
        BrokerOrder {
            broker_order_no: no.into(),
            branch: "06010".into(),
            original_order_no: orig.map(Into::into),
            symbol: Symbol::new("005930").unwrap(),
            side: Side::Buy,
            order_type: None,
            qty: dec!(5),
            price: dec!(70000),
            filled_qty: filled,
            avg_fill_price: Decimal::ZERO,
            filled_amount: filled * dec!(70000),
            remaining_qty: remaining,
            canceled,
            rejected: false,
            ordered_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn cancel_records_mark_their_originals_canceled() {
        let list = vec![
            row("0000000011", None, dec!(2), Decimal::ZERO, false),
            row("0000000012", Some("11"), Decimal::ZERO, Decimal::ZERO, true),
            row("0000000013", None, dec!(5), Decimal::ZERO, false),
            row("0000000014", None, Decimal::ZERO, dec!(5), false),
            row("0000000015", Some("14"), Decimal::ZERO, Decimal::ZERO, true),
        ];
        let folded = fold_cancel_records(&list);
        let canceled: Vec<bool> = folded.iter().map(|o| o.canceled).collect();
        // 11: canceled after a partial fill; 13: filled, no cancel; 14: still resting (cancel pending).
        assert_eq!(canceled, [true, true, false, false, true]);
    }
}
