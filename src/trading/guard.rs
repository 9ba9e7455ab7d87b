//! The guard: the persisted trading mode (normal, stop, observe), operator switches and the kill
//! switch (daily loss, repeated rejects, broker disconnected too long).
//!
//! The mode lives behind the [`ModeStore`] port so that a restart keeps it and the operator CLI
//! (`aegis halt/resume/observe`) shares it: [`ControlModeStore`] keeps it in `control_state`,
//! tests may use [`InMemoryModeStore`]. Every mode change is recorded as an event.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use rust_decimal::Decimal;

use crate::domain::mode::{
    Action, InvalidModeTransition, KillSwitchConfig, KillSwitchInputs, ModeEvent, StopReason, TradingMode,
    evaluate_kill_switch, transition,
};
use crate::notify::{KillSwitchTrip, Notification, Notifier};
use crate::ports::Clock;
use crate::store::control::{ControlError, ControlStore};
use crate::store::{EventRecorder, Severity, StoreError};

/// Where the trading mode is kept.
pub trait ModeStore: Send + Sync + std::fmt::Debug {
    /// Returns the stored mode, `None` when never set.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when it cannot be read.
    fn get(&self) -> BoxFuture<'_, Result<Option<TradingMode>, StoreError>>;

    /// Applies a mode event to the *stored* mode (through the mode transition table) and returns
    /// the stored mode after it.
    ///
    /// # Errors
    /// Returns [`GuardError::Transition`] for a refused change (nothing stored) and
    /// [`GuardError::Store`] when the mode cannot be read or written.
    fn apply<'a>(
        &'a self,
        event: &'a ModeEvent,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<TradingMode, GuardError>>;
}

/// A [`ModeStore`] in memory (unit tests and tools that must not share the operator's mode).
#[derive(Debug, Default)]
pub struct InMemoryModeStore {
    mode: Mutex<Option<TradingMode>>,
}

impl ModeStore for InMemoryModeStore {
    fn get(&self) -> BoxFuture<'_, Result<Option<TradingMode>, StoreError>> {
        Box::pin(async move { Ok(self.mode.lock().unwrap_or_else(PoisonError::into_inner).clone()) })
    }

    fn apply<'a>(
        &'a self,
        event: &'a ModeEvent,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<TradingMode, GuardError>> {
        Box::pin(async move {
            let mut slot = self.mode.lock().unwrap_or_else(PoisonError::into_inner);
            let to = transition(&slot.clone().unwrap_or_default(), event)?;
            *slot = Some(to.clone());
            Ok(to)
        })
    }
}

/// The [`ModeStore`] on the persisted `control_state` row: shared with the operator CLI and the
/// pipeline, every change with an `audit_log` row written by [`ControlStore::apply`].
#[derive(Debug, Clone)]
pub struct ControlModeStore {
    control: ControlStore,
    actor: String,
}

impl ControlModeStore {
    /// Creates the store; `actor` names the writer in the audit log (e.g. `trader`).
    pub fn new(control: ControlStore, actor: impl Into<String>) -> Self {
        Self { control, actor: actor.into() }
    }
}

impl ModeStore for ControlModeStore {
    fn get(&self) -> BoxFuture<'_, Result<Option<TradingMode>, StoreError>> {
        Box::pin(async move { self.control.mode().await.map(Some) })
    }

    fn apply<'a>(
        &'a self,
        event: &'a ModeEvent,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<TradingMode, GuardError>> {
        Box::pin(async move {
            match self.control.apply(event, &self.actor, now).await {
                Ok(change) => Ok(change.to),
                Err(ControlError::Transition(e)) => Err(GuardError::Transition(e)),
                Err(ControlError::Store(e)) => Err(GuardError::Store(e)),
            }
        })
    }
}

/// Errors of the guard.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The mode table refuses the change.
    #[error(transparent)]
    Transition(#[from] InvalidModeTransition),
    /// The mode could not be persisted.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default)]
struct GuardState {
    mode: TradingMode,
    /// A change applied in memory that the store did not take yet (retried on refresh).
    unsynced: Option<ModeEvent>,
    rejects: Vec<DateTime<Utc>>,
    disconnected_since: Option<DateTime<Utc>>,
    /// New orders wait: the feed was lost and today's orders are not reconciled with the broker
    /// yet (why, and since when).
    feed_pause: Option<(String, DateTime<Utc>)>,
}

/// The trading mode and the kill switch.
#[derive(Debug)]
pub struct Guard {
    store: Arc<dyn ModeStore>,
    events: EventRecorder,
    clock: Arc<dyn Clock>,
    cfg: KillSwitchConfig,
    state: Mutex<GuardState>,
    /// Told when the kill switch trips, with the trade date it trips on.
    notifier: Option<(Arc<dyn Notifier>, NaiveDate)>,
}

impl Guard {
    /// Loads the persisted mode (normal when none is stored).
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the mode cannot be read.
    pub async fn load(
        store: Arc<dyn ModeStore>,
        events: EventRecorder,
        clock: Arc<dyn Clock>,
        cfg: KillSwitchConfig,
    ) -> Result<Self, StoreError> {
        let mode = store.get().await?.unwrap_or_default();
        let state = Mutex::new(GuardState { mode, ..GuardState::default() });
        Ok(Self { store, events, clock, cfg, state, notifier: None })
    }

    /// Tells `notifier` when the kill switch trips trading into stop mode on `trade_date` (a
    /// failed stage's stop and an operator's halt are told elsewhere, or need no telling).
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>, trade_date: NaiveDate) -> Self {
        self.notifier = Some((notifier, trade_date));
        self
    }

    fn with<R>(&self, f: impl FnOnce(&mut GuardState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Returns the current mode.
    pub fn mode(&self) -> TradingMode {
        self.with(|s| s.mode.clone())
    }

    /// Returns whether the current mode allows an action.
    pub fn allows(&self, action: Action) -> bool {
        self.with(|s| s.mode.allows(action))
    }

    /// Applies a mode event (operator switch or kill switch) to the stored mode, adopts the result
    /// and records the change.
    ///
    /// # Errors
    /// Returns [`GuardError::Transition`] for a refused change, [`GuardError::Store`] when the mode
    /// cannot be persisted (the in-memory mode still changes: stopping must not depend on storage;
    /// [`Guard::refresh`] retries the write).
    pub async fn apply(&self, event: ModeEvent) -> Result<TradingMode, GuardError> {
        let from = self.mode();
        let (to, failed) = match self.store.apply(&event, self.clock.now()).await {
            Ok(to) => {
                self.with(|s| {
                    s.mode = to.clone();
                    s.unsynced = None;
                });
                (to, None)
            }
            Err(GuardError::Transition(e)) => return Err(GuardError::Transition(e)),
            Err(GuardError::Store(e)) => {
                let to = self.with(|s| {
                    let to = transition(&s.mode, &event)?;
                    s.mode = to.clone();
                    s.unsynced = Some(event.clone());
                    Ok::<_, InvalidModeTransition>(to)
                })?;
                (to, Some(e))
            }
        };
        self.record_change(&from, &to, &event).await;
        self.tell_trip(&from, &to, &event).await;
        match failed {
            Some(e) => Err(GuardError::Store(e)),
            None => Ok(to),
        }
    }

    async fn record_change(&self, from: &TradingMode, to: &TradingMode, event: &ModeEvent) {
        if from == to {
            return;
        }
        let severity =
            if matches!(to, TradingMode::Stop { .. }) { Severity::Critical } else { Severity::Warning };
        let msg = match to {
            TradingMode::Stop { reason } => format!("trading stopped: {reason}"),
            other => format!("trading mode {} -> {}", from.as_str(), other.as_str()),
        };
        let payload = serde_json::json!({ "from": from, "to": to, "event": event });
        if let Err(e) = self.events.record("MODE_CHANGED", severity, &msg, payload, None, None).await {
            tracing::error!(error = %e, "cannot record mode change");
        }
    }

    /// Tells the notifier that the kill switch stopped trading, once per trip: on entering stop
    /// mode for one of the guard's own reasons (not a failed stage, whose failure is told, nor
    /// the operator's halt).
    async fn tell_trip(&self, from: &TradingMode, to: &TradingMode, event: &ModeEvent) {
        let Some((notifier, date)) = &self.notifier else { return };
        let ModeEvent::KillSwitch { reason } = event else { return };
        let own = !matches!(reason, StopReason::StageFailed { .. } | StopReason::Operator { .. });
        if own && !matches!(from, TradingMode::Stop { .. }) && matches!(to, TradingMode::Stop { .. }) {
            let trip = KillSwitchTrip { reason: reason.to_string() };
            notifier.notify_on(*date, Notification::KillSwitch(trip)).await;
        }
    }

    /// Re-reads the stored mode (the operator may have switched it from another process) and
    /// adopts it; a change the store missed earlier is written first.
    ///
    /// # Errors
    /// Returns [`GuardError::Store`] when the store cannot be read or written (the in-memory mode
    /// is kept).
    pub async fn refresh(&self) -> Result<TradingMode, GuardError> {
        if let Some(event) = self.with(|s| s.unsynced.clone()) {
            match self.store.apply(&event, self.clock.now()).await {
                Ok(_) | Err(GuardError::Transition(_)) => self.with(|s| s.unsynced = None),
                Err(e @ GuardError::Store(_)) => return Err(e),
            }
        }
        let stored = self.store.get().await?.unwrap_or_default();
        let from = self.with(|s| std::mem::replace(&mut s.mode, stored.clone()));
        if from != stored {
            let event = serde_json::json!({ "kind": "STORED_MODE_ADOPTED" });
            let payload = serde_json::json!({ "from": from, "to": stored, "event": event });
            let msg = format!("trading mode {} -> {} (stored)", from.as_str(), stored.as_str());
            if let Err(e) =
                self.events.record("MODE_CHANGED", Severity::Warning, &msg, payload, None, None).await
            {
                tracing::error!(error = %e, "cannot record mode change");
            }
        }
        Ok(stored)
    }

    /// Trips stop mode with a reason (a no-op keeping the first reason when already stopped).
    ///
    /// # Errors
    /// Returns [`GuardError::Store`] when the mode cannot be persisted.
    pub async fn trip(&self, reason: StopReason) -> Result<TradingMode, GuardError> {
        self.apply(ModeEvent::KillSwitch { reason }).await
    }

    /// Counts an order reject for the repeated-rejects trigger and evaluates the kill switch.
    ///
    /// # Errors
    /// Returns [`GuardError::Store`] when a tripped mode cannot be persisted.
    pub async fn record_reject(
        &self,
        realized: Decimal,
        unrealized: Decimal,
    ) -> Result<Option<StopReason>, GuardError> {
        let now = self.clock.now();
        self.with(|s| s.rejects.push(now));
        self.evaluate(realized, unrealized).await
    }

    /// Records the start (`Some`) or end (`None`) of a broker disconnection.
    pub fn set_disconnected(&self, since: Option<DateTime<Utc>>) {
        self.with(|s| match since {
            Some(t) => {
                s.disconnected_since.get_or_insert(t);
            }
            None => s.disconnected_since = None,
        });
    }

    /// Pauses new orders until [`Guard::resume_orders`]: the feed was lost, and orders decided
    /// before today's orders are reconciled again could act on a stale book. Not a mode: nothing
    /// is persisted, cancels go on, and the pause ends by itself once the feed is back and
    /// reconciled (stop mode stays for real risk events).
    pub fn pause_orders(&self, reason: &str, at: DateTime<Utc>) {
        self.with(|s| {
            s.feed_pause.get_or_insert_with(|| (reason.to_owned(), at));
        });
    }

    /// Ends a pause of new orders; returns since when it lasted, if one was on.
    pub fn resume_orders(&self) -> Option<DateTime<Utc>> {
        self.with(|s| s.feed_pause.take().map(|(_, at)| at))
    }

    /// True while the broker's feed is down.
    pub fn feed_down(&self) -> bool {
        self.with(|s| s.disconnected_since.is_some())
    }

    /// Why new orders are paused, if they are.
    pub fn orders_paused(&self) -> Option<String> {
        self.with(|s| s.feed_pause.as_ref().map(|(r, _)| r.clone()))
    }

    /// Evaluates the kill switch at the clock's now; trips stop mode when a trigger fires.
    ///
    /// # Errors
    /// Returns [`GuardError::Store`] when a tripped mode cannot be persisted.
    pub async fn evaluate(
        &self,
        realized: Decimal,
        unrealized: Decimal,
    ) -> Result<Option<StopReason>, GuardError> {
        let now = self.clock.now();
        let reason = self.with(|s| {
            let window = i64::try_from(self.cfg.reject_window_secs).unwrap_or(i64::MAX);
            s.rejects.retain(|t| (now - *t).num_seconds() < window);
            let inputs = KillSwitchInputs {
                now,
                realized_pnl: realized,
                unrealized_pnl: unrealized,
                reject_times: &s.rejects,
                disconnected_since: s.disconnected_since,
            };
            evaluate_kill_switch(&self.cfg, &inputs)
        });
        if let Some(r) = &reason {
            self.trip(r.clone()).await?;
        }
        Ok(reason)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::ports::FakeClock;
    use crate::store::testing::{Backend, TestDb};

    /// An in-memory store whose writes can be made to fail.
    #[derive(Debug, Default)]
    struct Flaky {
        inner: InMemoryModeStore,
        down: AtomicBool,
    }

    impl ModeStore for Flaky {
        fn get(&self) -> BoxFuture<'_, Result<Option<TradingMode>, StoreError>> {
            self.inner.get()
        }

        fn apply<'a>(
            &'a self,
            event: &'a ModeEvent,
            now: DateTime<Utc>,
        ) -> BoxFuture<'a, Result<TradingMode, GuardError>> {
            if self.down.load(Ordering::SeqCst) {
                let e = StoreError::Corrupt { table: "control_state", id: "x".into(), reason: "down".into() };
                return Box::pin(async move { Err(GuardError::Store(e)) });
            }
            self.inner.apply(event, now)
        }
    }

    async fn guard(store: Arc<dyn ModeStore>, db: &TestDb) -> Guard {
        let clock: Arc<dyn Clock> = Arc::new(FakeClock::new(Utc::now()));
        Guard::load(store, db.store.events(), clock, KillSwitchConfig::default()).await.unwrap()
    }

    /// Keeps every notification with the date it was given for.
    #[derive(Debug, Default)]
    struct Told(Mutex<Vec<(Option<NaiveDate>, Notification)>>);

    impl Notifier for Told {
        fn notify(&self, msg: Notification) -> BoxFuture<'_, ()> {
            self.0.lock().unwrap().push((None, msg));
            Box::pin(async {})
        }

        fn notify_on(&self, date: NaiveDate, msg: Notification) -> BoxFuture<'_, ()> {
            self.0.lock().unwrap().push((Some(date), msg));
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn a_trip_is_told_once_and_a_failed_stage_or_a_halt_not_at_all() {
        let db = TestDb::new(Backend::Sqlite).await.unwrap().unwrap();
        let told = Arc::new(Told::default());
        let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let g = guard(Arc::new(InMemoryModeStore::default()), &db).await.with_notifier(told.clone(), date);
        let loss = StopReason::DailyLoss { loss: Decimal::from(60_000), limit: Decimal::from(50_000) };
        g.trip(loss.clone()).await.unwrap();
        g.trip(loss).await.unwrap();
        let seen = std::mem::take(&mut *told.0.lock().unwrap());
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].0, Some(date));
        let Notification::KillSwitch(trip) = &seen[0].1 else { panic!("{seen:?}") };
        assert!(
            trip.reason.contains("60000") || trip.reason.to_lowercase().contains("loss"),
            "{}",
            trip.reason
        );

        g.apply(ModeEvent::OperatorResume).await.unwrap();
        g.trip(StopReason::StageFailed { stage: "recovery".into(), error: "x".into() }).await.unwrap();
        g.apply(ModeEvent::OperatorResume).await.unwrap();
        g.apply(ModeEvent::OperatorStop { note: "lunch".into() }).await.unwrap();
        assert!(told.0.lock().unwrap().is_empty(), "told elsewhere, or by the operator");
    }

    #[tokio::test]
    async fn the_stored_mode_is_shared_through_the_control_table() {
        let db = TestDb::new(Backend::Sqlite).await.unwrap().unwrap();
        let control = db.store.control();
        let g = guard(Arc::new(ControlModeStore::new(control.clone(), "trader")), &db).await;
        g.apply(ModeEvent::OperatorObserve).await.unwrap();
        assert_eq!(control.mode().await.unwrap(), TradingMode::Observe);
        assert!(matches!(g.apply(ModeEvent::OperatorObserve).await, Err(GuardError::Transition(_))));
        // Another process (the operator CLI) stops trading: the guard adopts it on refresh.
        control.apply(&ModeEvent::OperatorStop { note: "cli".into() }, "operator", Utc::now()).await.unwrap();
        assert_eq!(g.mode(), TradingMode::Observe);
        assert!(matches!(g.refresh().await.unwrap(), TradingMode::Stop { .. }));
        assert!(!g.allows(Action::NewOrder) && g.allows(Action::Cancel));
        let again = guard(Arc::new(ControlModeStore::new(control, "trader")), &db).await;
        assert!(matches!(again.mode(), TradingMode::Stop { .. }), "a restart keeps the mode");
    }

    #[tokio::test]
    async fn stopping_does_not_depend_on_storage_and_is_persisted_later() {
        let db = TestDb::new(Backend::Sqlite).await.unwrap().unwrap();
        let store = Arc::new(Flaky::default());
        let g = guard(store.clone(), &db).await;
        store.down.store(true, Ordering::SeqCst);
        let reason = StopReason::Operator { note: "x".into() };
        assert!(matches!(g.trip(reason).await, Err(GuardError::Store(_))));
        assert!(!g.allows(Action::NewOrder), "stopped in memory");
        assert!(g.refresh().await.is_err());
        assert!(!g.allows(Action::NewOrder), "a failed refresh keeps the stop");
        store.down.store(false, Ordering::SeqCst);
        assert!(matches!(g.refresh().await.unwrap(), TradingMode::Stop { .. }));
        assert!(matches!(store.get().await.unwrap(), Some(TradingMode::Stop { .. })), "persisted on refresh");
    }
}
