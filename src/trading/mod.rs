//! Trading use cases: the engine (the day's state in memory, the strategy, the decision path),
//! the order service (write-ahead rows, idempotent submission, resolution of unknown outcomes,
//! cancels), executions (notices and snapshots converge on one state), the guard (modes and kill
//! switch) and crash recovery.
//!
//! [`TradingCore`] holds the ports — the [`TradingLog`] (orders, fills, positions, events), the
//! broker, the clock — with the guard, the configuration and the day's [`book::Book`]: reads come
//! from the book, every change is written through the log first. Every transition and error is
//! written to `events`.

mod book;
pub mod engine;
#[cfg(test)]
mod engine_tests;
pub mod executions;
pub mod guard;
pub mod orders;
pub mod recovery;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;

use crate::domain::order::{Applied, BrokerOrderNo, OrderError, OrderEvent};
use crate::domain::position::{FeeSchedule, Holding};
use crate::domain::price::PriceContext;
use crate::domain::risk::RiskConfig;
use crate::domain::{MarketRegion, Symbol};
use crate::notify::{Alert, AlertKind, Notifier};
use crate::ports::trading_log::OrderWrite;
use crate::ports::{Broker, BrokerError, Clock};
use crate::ports::{NewEvent, Severity, StoreError, StoredOrder, TradingLog, UpdateExtra};
use crate::store::Store;
use book::Book;

pub use guard::{ControlModeStore, Guard, GuardError, InMemoryModeStore, ModeStore};

/// Errors of the trading use cases.
#[derive(Debug, thiserror::Error)]
pub enum TradingError {
    /// The database failed or holds a corrupt row.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A broker call failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The order itself is invalid.
    #[error(transparent)]
    Order(#[from] OrderError),
    /// An order row kept changing under us (guarded update lost repeatedly).
    #[error("order {order_id} changed concurrently {attempts} times; giving up")]
    Contended {
        /// The order row.
        order_id: i64,
        /// Attempts made.
        attempts: u32,
    },
    /// An order row that should exist does not.
    #[error("order {0} not found")]
    NotFound(i64),
}

impl TradingError {
    /// Returns true when the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Broker(e) => e.is_retryable(),
            Self::Contended { .. } => true,
            Self::Store(StoreError::Db(_) | StoreError::Connect { .. }) => true,
            Self::Store(
                StoreError::Corrupt { .. } | StoreError::IdentityConflict { .. } | StoreError::Fenced { .. },
            )
            | Self::Order(_)
            | Self::NotFound(_) => false,
        }
    }
}

/// Configuration of the trading core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradingConfig {
    /// Trading date of the session.
    pub trade_date: NaiveDate,
    /// Strategy id (part of every idempotency key).
    pub strategy_id: String,
    /// Strategy row, when stored.
    pub strategy_row: Option<i64>,
    /// Pre-trade guardrails.
    pub risk: RiskConfig,
    /// Commission and tax.
    pub fees: FeeSchedule,
    /// Holdings at the start of the day (positions = opening + today's fills).
    pub opening: Vec<Holding>,
    /// Seconds after the start of a submit attempt before a missing order counts as proven absent
    /// (requests may still be in flight before that).
    pub resolve_grace_secs: i64,
    /// Seconds before the start of a submit attempt within which a broker order may match it.
    pub match_window_secs: i64,
    /// Tolerance on average prices when comparing positions with the broker's holdings.
    pub avg_price_tolerance: Decimal,
    /// Holds new orders back from the loss of the feed until it is back and today's orders are
    /// reconciled with the broker (on by default).
    pub pause_while_feed_down: bool,
    /// The market this core trades (KRX by default): its orders, fills and positions are the
    /// only ones it loads, reconciles and saves.
    pub region: MarketRegion,
}

impl TradingConfig {
    /// Returns a configuration with the defaults: no guardrails, default fees, 10 s grace.
    pub fn new(trade_date: NaiveDate, strategy_id: impl Into<String>) -> Self {
        Self {
            trade_date,
            strategy_id: strategy_id.into(),
            strategy_row: None,
            risk: RiskConfig::default(),
            fees: FeeSchedule::default(),
            opening: Vec::new(),
            resolve_grace_secs: 10,
            match_window_secs: 120,
            avg_price_tolerance: dec!(1),
            pause_while_feed_down: true,
            region: MarketRegion::Kr,
        }
    }
}

/// Where the order service stands in a submission; the crash harness prints these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// Checks passed; the row is about to be written.
    BeforeRow,
    /// The row is committed; the broker was not called yet.
    AfterRow,
    /// `SUBMITTING` is committed; the broker call starts now.
    BeforeSend,
    /// The broker answered; the answer is not stored yet.
    AfterSend,
    /// A fill was recorded.
    Fill,
}

impl Checkpoint {
    /// Returns the marker name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BeforeRow => "before_row",
            Self::AfterRow => "after_row",
            Self::BeforeSend => "before_send",
            Self::AfterSend => "after_send",
            Self::Fill => "fill",
        }
    }
}

/// A callback told about each checkpoint with the signal id (or order id) involved.
pub type CheckpointHook = Arc<dyn Fn(Checkpoint, &str) + Send + Sync>;

/// The trading core: ports, guard, configuration and the day's state in memory ([`book::Book`]),
/// written through the [`TradingLog`] before it changes.
pub struct TradingCore {
    store: Store,
    log: Arc<dyn TradingLog>,
    broker: Arc<dyn Broker>,
    clock: Arc<dyn Clock>,
    guard: Arc<Guard>,
    config: TradingConfig,
    book: Mutex<Book>,
    hook: Option<CheckpointHook>,
    notifier: Option<Arc<dyn Notifier>>,
}

impl std::fmt::Debug for TradingCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TradingCore").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Attempts of a guarded update before giving up.
const MAX_GUARDED_ATTEMPTS: u32 = 5;

tokio::task_local! {
    /// Set while an unknown submit is being resolved: its moves are audited as `order.resolve`.
    static RESOLVING: bool;
}

impl TradingCore {
    /// Assembles the core; the store is its trading log.
    pub fn new(
        store: Store,
        broker: Arc<dyn Broker>,
        clock: Arc<dyn Clock>,
        guard: Arc<Guard>,
        config: TradingConfig,
    ) -> Self {
        let log: Arc<dyn TradingLog> = Arc::new(store.clone());
        Self {
            store,
            log,
            broker,
            clock,
            guard,
            book: Mutex::new(Book::new(config.fees, config.region)),
            config,
            hook: None,
            notifier: None,
        }
    }

    /// Sends alerts (an identity conflict) to `notifier` as well; without one they are only
    /// recorded as `alert` events.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Installs a checkpoint callback (used by the crash harness).
    #[must_use]
    pub fn with_hook(mut self, hook: CheckpointHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Returns the store (alerts and the guard's mode live there too).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Returns the trading log.
    pub fn log(&self) -> &Arc<dyn TradingLog> {
        &self.log
    }

    /// Returns the clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Returns the broker.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    /// Returns the guard.
    pub fn guard(&self) -> &Arc<Guard> {
        &self.guard
    }

    /// Returns the configuration.
    pub fn config(&self) -> &TradingConfig {
        &self.config
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the day's state (never held across an await).
    pub(crate) fn with_book<T>(&self, f: impl FnOnce(&mut Book) -> T) -> T {
        f(&mut self.book())
    }

    /// Records the last price of an instrument (for guardrails and unrealized P&L).
    pub fn mark_price(&self, symbol: &Symbol, price: Decimal) {
        self.book().mark(symbol, price);
    }

    /// Sets the tick table and daily band used to check an instrument's order prices.
    pub fn set_price_context(&self, symbol: &Symbol, ctx: PriceContext) {
        self.book().price_ctx.insert(symbol.clone(), ctx);
    }

    fn price_context(&self, symbol: &Symbol) -> PriceContext {
        self.book().price_ctx.get(symbol).copied().unwrap_or_default()
    }

    /// Returns the day's orders as held in memory, oldest first.
    ///
    /// # Errors
    /// Returns a store error when the state cannot be loaded.
    pub async fn orders(&self) -> Result<Vec<StoredOrder>, TradingError> {
        self.ensure_loaded().await?;
        Ok(self.book().orders().cloned().collect())
    }

    /// Returns one order (from memory, else from the log).
    ///
    /// # Errors
    /// Returns a store error.
    pub async fn order(&self, id: i64) -> Result<Option<StoredOrder>, TradingError> {
        self.ensure_loaded().await?;
        if let Some(o) = self.book().order(id) {
            return Ok(Some(o.clone()));
        }
        let found = self.log.order(id).await?;
        if let Some(o) = &found {
            self.book().put(o.clone());
        }
        Ok(found)
    }

    /// Loads the day's state from the log unless it is loaded.
    async fn ensure_loaded(&self) -> Result<(), TradingError> {
        if self.book().loaded {
            return Ok(());
        }
        self.reload().await
    }

    /// Rebuilds the day's state from the log (orders, fills, positions); last prices are kept.
    ///
    /// # Errors
    /// Returns a store error; fills that do not make valid ledgers or positions are corrupt.
    pub async fn reload(&self) -> Result<(), TradingError> {
        let day = self.log.load_day(self.config.trade_date).await?.of_region(self.config.region);
        self.book()
            .load(day, self.config.fees, &self.config.opening)
            .map_err(|reason| StoreError::Corrupt { table: "fills", id: "*".into(), reason })?;
        Ok(())
    }

    fn checkpoint(&self, at: Checkpoint, what: &str) {
        if let Some(h) = &self.hook {
            h(at, what);
        }
    }

    /// An event of the session's trading date.
    fn new_event(
        &self,
        kind: &'static str,
        severity: Severity,
        message: &str,
        payload: Value,
        order_id: Option<i64>,
    ) -> NewEvent {
        let payload = match self.correlation_of(order_id) {
            Some(cid) => crate::ports::correlation::tag(payload, &cid),
            None => payload,
        };
        NewEvent {
            kind,
            severity,
            message: message.to_owned(),
            payload,
            trade_date: Some(self.config.trade_date),
            order_id,
        }
    }

    /// Records an event; a failure to record is logged, never raised (recording must not stop trading).
    /// Returns the correlation id of an event: its order's idempotency key (from memory), else
    /// the id of the order action running (a signal's key before its row exists).
    fn correlation_of(&self, order_id: Option<i64>) -> Option<String> {
        order_id
            .and_then(|id| self.book().order(id).map(|o| o.order.request().key.as_str().to_owned()))
            .or_else(|| crate::ports::correlation::current().map(|c| c.to_string()))
    }

    /// Runs an action of an order under its correlation id (span and task-local, see
    /// [`crate::ports::correlation`]); an order unknown in memory runs as it is.
    async fn in_order_scope<F: std::future::Future>(&self, order_id: i64, fut: F) -> F::Output {
        match self.correlation_of(Some(order_id)) {
            Some(cid) => crate::ports::correlation::scope(&cid, fut).await,
            None => fut.await,
        }
    }

    /// Returns the `audit_log` row of an order's move when the move is an order action: the
    /// answer to a submit (`order.submit`: accepted, rejected, unknown, not sent, blocked), the
    /// resolution of an unknown submit (`order.resolve`: found, not found, rejected) and a cancel
    /// (`order.cancel`: requested, rejected). Fills and confirmations are the broker's doing and
    /// are in `events`. The engine never modifies an order, so there is no `order.modify`.
    fn audit_of(
        &self,
        order_id: i64,
        from: crate::domain::order::OrderStatus,
        event: &OrderEvent,
        order: &crate::domain::order::Order,
    ) -> Option<crate::ports::trading_log::AuditNote> {
        use crate::domain::order::OrderStatus as S;
        let resolving = RESOLVING.try_with(|r| *r).unwrap_or(false);
        let submit = if resolving || from == S::SubmitUnknown { "order.resolve" } else { "order.submit" };
        let (action, result, mut details) = match (from, event) {
            (S::Submitting | S::SubmitUnknown, OrderEvent::Accepted { broker_order_no }) => {
                let found = if submit == "order.resolve" { "found" } else { "accepted" };
                (submit, found, serde_json::json!({ "broker_order_no": broker_order_no.number }))
            }
            (S::Submitting | S::SubmitUnknown, OrderEvent::Rejected { code, reason }) => {
                (submit, "rejected", serde_json::json!({ "code": code, "reason": reason }))
            }
            (S::New, OrderEvent::Rejected { code, reason }) => {
                ("order.submit", "blocked", serde_json::json!({ "code": code, "reason": reason }))
            }
            (S::Submitting, OrderEvent::SubmitOutcomeUnknown) => {
                ("order.submit", "unknown", serde_json::json!({}))
            }
            (S::Submitting, OrderEvent::ResolvedNotFound) if !resolving => {
                ("order.submit", "not_sent", serde_json::json!({}))
            }
            (S::Submitting | S::SubmitUnknown, OrderEvent::ResolvedNotFound) => {
                ("order.resolve", "not_found", serde_json::json!({}))
            }
            (_, OrderEvent::CancelRequested) => {
                let result = if order.status().is_terminal() { "canceled" } else { "requested" };
                ("order.cancel", result, serde_json::json!({}))
            }
            (_, OrderEvent::CancelRejected { code, reason }) => {
                ("order.cancel", "rejected", serde_json::json!({ "code": code, "reason": reason }))
            }
            _ => return None,
        };
        let r = order.request();
        if let Some(map) = details.as_object_mut() {
            map.insert("result".into(), result.into());
            map.insert("symbol".into(), r.symbol.as_str().into());
            map.insert("side".into(), r.side.as_str().into());
            map.insert("qty".into(), r.qty.to_string().into());
            map.insert("status".into(), order.status().as_str().into());
            map.insert(crate::ports::correlation::FIELD.into(), r.key.as_str().into());
        }
        Some(crate::ports::trading_log::AuditNote {
            actor: format!("strategy:{}", self.config.strategy_id),
            action: action.to_owned(),
            target: format!("orders/{order_id}"),
            details,
        })
    }

    async fn event(
        &self,
        kind: &'static str,
        severity: Severity,
        message: &str,
        payload: Value,
        order_id: Option<i64>,
    ) {
        let e = self.new_event(kind, severity, message, payload, order_id);
        if let Err(err) = self.log.record_events(std::slice::from_ref(&e)).await {
            tracing::error!(kind, error = %err, "cannot record event");
        }
    }

    /// Turns a store error into a trading error; an identity conflict (one broker order number of
    /// a date claimed by two of our orders) is recorded as a critical `IDENTITY_CONFLICT` event,
    /// raised as an alert and trips stop mode first, since nothing was attached and an operator
    /// must look.
    async fn store_failure(&self, err: StoreError, order_id: Option<i64>) -> TradingError {
        if let StoreError::IdentityConflict { key, orders } = &err {
            let payload = serde_json::json!({ "key": key, "orders": orders });
            self.event("IDENTITY_CONFLICT", Severity::Critical, &err.to_string(), payload, order_id).await;
            let text = format!(
                "Broker identity {key} is claimed by orders {orders:?}; nothing was attached. Trading on this \
                 state is unsafe: check the orders and fills of the day."
            );
            let alert = Alert { kind: AlertKind::IdentityConflict, text };
            crate::notify::raise_alert(&self.store, self.notifier.as_deref(), self.config.trade_date, alert)
                .await;
            let reason = crate::domain::mode::StopReason::Reconciliation { detail: err.to_string() };
            if let Err(e) = self.guard.trip(reason).await {
                tracing::error!(error = %e, "cannot persist stop mode");
            }
        }
        TradingError::Store(err)
    }

    /// Returns our order that the broker knows under `number` on `trade_date` (an order number
    /// identifies an order only within its trading date): from memory, else from the log.
    ///
    /// # Errors
    /// Returns a store error; two orders holding the number is an
    /// [`StoreError::IdentityConflict`], recorded and alerted.
    pub(crate) async fn find_by_broker_no(
        &self,
        trade_date: NaiveDate,
        number: &str,
    ) -> Result<Option<StoredOrder>, TradingError> {
        let Ok(no) = BrokerOrderNo::new("", number) else { return Ok(None) };
        self.ensure_loaded().await?;
        let held = self.book().by_broker(trade_date, &no.number);
        match held.as_slice() {
            [one] => return Ok(self.book().order(*one).cloned()),
            [] => {}
            many => {
                let err = StoreError::IdentityConflict {
                    key: crate::store::orders::broker_identity(trade_date, &no.number),
                    orders: many.to_vec(),
                };
                return Err(self.store_failure(err, None).await);
            }
        }
        // Each market numbers its orders on its own: the other market's order of the date that
        // holds the same number is not this one (and never enters this core's book).
        match self.log.order_by_broker_no(self.config.region, trade_date, &no.number).await {
            Ok(found) => {
                if let Some(o) = &found {
                    self.book().put(o.clone());
                }
                Ok(found)
            }
            Err(e) => Err(self.store_failure(e, None).await),
        }
    }

    /// Applies an event to an order with a guarded update, re-reading and re-applying when
    /// another writer moved the row first. Refused moves are recorded and leave the row unchanged.
    ///
    /// # Errors
    /// Returns [`TradingError::NotFound`], [`TradingError::Contended`] or a store error.
    pub async fn apply_order_event(
        &self,
        order_id: i64,
        event: &OrderEvent,
        extra: &UpdateExtra,
    ) -> Result<(StoredOrder, Option<Applied>), TradingError> {
        self.apply_order_event_with(order_id, event, extra, Vec::new()).await
    }

    /// As [`Self::apply_order_event`], recording `also` in the same write as the transition.
    async fn apply_order_event_with(
        &self,
        order_id: i64,
        event: &OrderEvent,
        extra: &UpdateExtra,
        mut also: Vec<NewEvent>,
    ) -> Result<(StoredOrder, Option<Applied>), TradingError> {
        let mut stored = self.order(order_id).await?.ok_or(TradingError::NotFound(order_id))?;
        for _ in 0..MAX_GUARDED_ATTEMPTS {
            let mut order = stored.order.clone();
            let expected = (order.status(), order.record().attempt);
            let applied = match order.apply(event) {
                Ok(a) => a,
                Err(e) => {
                    let payload = serde_json::json!({
                        "from": expected.0.as_str(), "event": event, "error": e.to_string(),
                    });
                    also.push(self.new_event(
                        "ORDER_TRANSITION_REFUSED",
                        Severity::Warning,
                        &e.to_string(),
                        payload,
                        Some(order_id),
                    ));
                    if let Err(err) = self.log.record_events(&also).await {
                        tracing::error!(error = %err, "cannot record event");
                    }
                    return Ok((stored, None));
                }
            };
            if applied == Applied::Unchanged {
                if !also.is_empty()
                    && let Err(err) = self.log.record_events(&also).await
                {
                    tracing::error!(error = %err, "cannot record event");
                }
                return Ok((stored, Some(applied)));
            }
            let now = self.clock.now();
            let payload = serde_json::json!({
                "from": expected.0.as_str(), "to": order.status().as_str(), "event": event,
                "symbol": order.request().symbol.as_str(),
            });
            let msg = format!("order {order_id}: {} -> {} on {event}", expected.0, order.status());
            let mut events = also.clone();
            events.push(self.new_event("ORDER_TRANSITION", Severity::Info, &msg, payload, Some(order_id)));
            let audited;
            let extra = match self.audit_of(order_id, expected.0, event, &order) {
                Some(note) => {
                    audited = UpdateExtra { audit: Some(note), ..extra.clone() };
                    &audited
                }
                None => extra,
            };
            let write = OrderWrite { order: &order, expected, extra, now };
            if self.log.update_order(write, &events).await? {
                stored.order = order;
                if let Some(at) = extra.sent_at {
                    stored.sent_at = Some(at);
                }
                if let Some(r) = &extra.reject {
                    stored.reject = Some(r.clone());
                }
                self.book().put(stored.clone());
                return Ok((stored, Some(applied)));
            }
            // Another writer moved the row: read it back and apply again.
            stored = self.log.order(order_id).await?.ok_or(TradingError::NotFound(order_id))?;
            self.book().put(stored.clone());
        }
        Err(TradingError::Contended { order_id, attempts: MAX_GUARDED_ATTEMPTS })
    }
}
