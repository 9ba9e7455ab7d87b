//! Trading use cases: the order service (write-ahead rows, idempotent submission, resolution of
//! unknown outcomes, cancels), executions (notices and snapshots converge on one state), the
//! guard (modes and kill switch) and crash recovery.
//!
//! Everything goes through [`TradingCore`], which holds the store, the broker and clock ports, the
//! guard and the configuration. Every transition and error is written to `events`.

pub mod executions;
pub mod guard;
pub mod orders;
pub mod recovery;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;

use crate::domain::Symbol;
use crate::domain::order::{Applied, BrokerOrderNo, OrderError, OrderEvent};
use crate::domain::position::{FeeSchedule, Holding};
use crate::domain::price::PriceContext;
use crate::domain::risk::RiskConfig;
use crate::domain::strategy::LastPrices;
use crate::notify::{Alert, AlertKind, Notifier};
use crate::ports::{Broker, BrokerError, Clock};
use crate::store::orders::{self as order_rows, StoredOrder, UpdateExtra};
use crate::store::{Severity, Store, StoreError};

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
            Self::Store(StoreError::Corrupt { .. } | StoreError::IdentityConflict { .. })
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

/// The trading core: ports, guard, configuration and the small in-memory market state.
pub struct TradingCore {
    store: Store,
    broker: Arc<dyn Broker>,
    clock: Arc<dyn Clock>,
    guard: Arc<Guard>,
    config: TradingConfig,
    last_prices: Mutex<LastPrices>,
    price_ctx: Mutex<HashMap<Symbol, PriceContext>>,
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

impl TradingCore {
    /// Assembles the core.
    pub fn new(
        store: Store,
        broker: Arc<dyn Broker>,
        clock: Arc<dyn Clock>,
        guard: Arc<Guard>,
        config: TradingConfig,
    ) -> Self {
        Self {
            store,
            broker,
            clock,
            guard,
            config,
            last_prices: Mutex::new(LastPrices::new()),
            price_ctx: Mutex::new(HashMap::new()),
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

    /// Returns the store.
    pub fn store(&self) -> &Store {
        &self.store
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

    /// Records the last price of an instrument (for guardrails and unrealized P&L).
    pub fn mark_price(&self, symbol: &Symbol, price: Decimal) {
        self.last_prices.lock().unwrap_or_else(PoisonError::into_inner).insert(symbol.clone(), price);
    }

    /// Sets the tick table and daily band used to check an instrument's order prices.
    pub fn set_price_context(&self, symbol: &Symbol, ctx: PriceContext) {
        self.price_ctx.lock().unwrap_or_else(PoisonError::into_inner).insert(symbol.clone(), ctx);
    }

    fn last_prices(&self) -> LastPrices {
        self.last_prices.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn price_context(&self, symbol: &Symbol) -> PriceContext {
        self.price_ctx.lock().unwrap_or_else(PoisonError::into_inner).get(symbol).copied().unwrap_or_default()
    }

    fn checkpoint(&self, at: Checkpoint, what: &str) {
        if let Some(h) = &self.hook {
            h(at, what);
        }
    }

    /// Records an event; a failure to record is logged, never raised (recording must not stop trading).
    async fn event(
        &self,
        kind: &str,
        severity: Severity,
        message: &str,
        payload: Value,
        order_id: Option<i64>,
    ) {
        let res = self
            .store
            .events()
            .record(kind, severity, message, payload, Some(self.config.trade_date), order_id)
            .await;
        if let Err(e) = res {
            tracing::error!(kind, error = %e, "cannot record event");
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
    /// identifies an order only within its trading date).
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
        match order_rows::find_by_broker_no(self.store.conn(), trade_date, &no.number).await {
            Ok(found) => Ok(found),
            Err(e) => Err(self.store_failure(e, None).await),
        }
    }

    /// Applies an event to a stored order with a guarded update, re-reading and re-applying when
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
        for _ in 0..MAX_GUARDED_ATTEMPTS {
            let stored = order_rows::get(self.store.conn(), order_id)
                .await?
                .ok_or(TradingError::NotFound(order_id))?;
            let mut order = stored.order.clone();
            let expected = (order.status(), order.record().attempt);
            let applied = match order.apply(event) {
                Ok(a) => a,
                Err(e) => {
                    let payload = serde_json::json!({
                        "from": expected.0.as_str(), "event": event, "error": e.to_string(),
                    });
                    self.event(
                        "ORDER_TRANSITION_REFUSED",
                        Severity::Warning,
                        &e.to_string(),
                        payload,
                        Some(order_id),
                    )
                    .await;
                    return Ok((stored, None));
                }
            };
            if applied == Applied::Unchanged {
                return Ok((stored, Some(applied)));
            }
            let now = self.clock.now();
            if order_rows::update_guarded(self.store.conn(), &order, expected, extra, now).await? {
                let payload = serde_json::json!({
                    "from": expected.0.as_str(), "to": order.status().as_str(), "event": event,
                    "symbol": order.request().symbol.as_str(),
                });
                let msg = format!("order {order_id}: {} -> {} on {event}", expected.0, order.status());
                self.event("ORDER_TRANSITION", Severity::Info, &msg, payload, Some(order_id)).await;
                let stored = order_rows::get(self.store.conn(), order_id)
                    .await?
                    .ok_or(TradingError::NotFound(order_id))?;
                return Ok((stored, Some(applied)));
            }
        }
        Err(TradingError::Contended { order_id, attempts: MAX_GUARDED_ATTEMPTS })
    }
}
