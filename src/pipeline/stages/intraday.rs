//! The `intraday` stage: reconciles first (a restart after a crash resumes cleanly), registers the
//! universe's trades and our executions (quotes are not registered: the strategy reads trades), then runs the event loop until the session
//! close by the injected clock. It only drives the [`Engine`]: market events go to
//! [`Engine::on_market`], executions to [`Engine::on_execution`], the reconcile timer to
//! [`Engine::reconcile`] and the close to [`Engine::wind_down`]; it keeps the counters and alerts.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use rust_decimal::Decimal;

use super::outputs::{IntradayOutput, IntradayRun, ParamLoadOutput, ParamsVerdict, UniverseOutput};
use super::trading::build_core;
use super::watch::IntradayAlerts;
use super::{StageDeps, broker_err, trading_err};
use crate::domain::MarketRegion;
use crate::domain::Symbol;
use crate::domain::market::{ExecutionEvent, MarketBatch, MarketEvent, Subscription};
use crate::domain::mode::{ModeEvent, TradingMode};
use crate::domain::price::{PriceBand, PriceContext, TickTable};
use crate::domain::stage::StageName;
use crate::pipeline::stage::{Stage, StageContext, StageError};
use crate::ports::BrokerError;
use crate::store::Severity;
use crate::store::control::ControlStore;
use crate::trading::TradingCore;
use crate::trading::engine::{BoxedStrategy, Engine, build_strategy_for};
use crate::trading::executions::Handled;
use crate::trading::orders::SubmitOutcome;

/// Most instruments registered (one registration each, plus executions, under the cap of 41).
const MAX_SYMBOLS: usize = 40;
/// Real time between two looks at the clock (session end, progress, operator mode changes).
const TICK: Duration = Duration::from_millis(200);

/// How often a subscription refused because the session is in use is tried again.
const SESSION_RETRY: Duration = Duration::from_secs(2);

/// The least real time the session wait lasts on a compressed clock.
const SESSION_WAIT_FLOOR: Duration = Duration::from_secs(30);

/// The least real time between two periodic reconciles on a compressed clock.
const RECONCILE_FLOOR: Duration = Duration::from_secs(2);

/// Counters of the intraday loop, shown live by the demo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntradayProgress {
    /// The clock's now.
    pub now: Option<DateTime<Utc>>,
    /// Session open.
    pub open: Option<DateTime<Utc>>,
    /// Session close.
    pub close: Option<DateTime<Utc>>,
    /// Market events received.
    pub market_events: u64,
    /// Strategy intents.
    pub signals: u64,
    /// Orders accepted by the broker.
    pub orders_sent: u64,
    /// Orders rejected or blocked.
    pub orders_refused: u64,
    /// New fills recorded.
    pub fills: u64,
}

/// Called with the counters about every 200 ms of real time.
pub type ProgressFn = Arc<dyn Fn(&IntradayProgress) + Send + Sync>;

/// The `intraday` stage.
#[derive(Debug)]
pub struct Intraday {
    deps: Arc<StageDeps>,
}

impl Intraday {
    /// Creates the stage.
    pub fn new(deps: Arc<StageDeps>) -> Self {
        Self { deps }
    }
}

/// What `param_load` decided: the strategy to run and whether its intents are sent.
fn strategy_of(
    ctx: &StageContext,
    id: &str,
    region: MarketRegion,
) -> Result<Option<(BoxedStrategy, bool)>, StageError> {
    let Some(out) = ctx.output::<ParamLoadOutput>()? else { return Ok(None) };
    let send = match out.decision {
        ParamsVerdict::Trade => true,
        ParamsVerdict::Observe => false,
        ParamsVerdict::Skip => return Ok(None),
    };
    let strategy = build_strategy_for(id, &out.params, TickTable::stocks_of(region))
        .map_err(|e| StageError::fatal("strategy parameters", e))?;
    Ok(Some((strategy, send)))
}

/// Returns the universe selected by the `universe` stage (capped; none when it has no output).
fn universe_of(ctx: &StageContext) -> Result<Vec<Symbol>, StageError> {
    let selected = ctx.output::<UniverseOutput>()?.map(|u| u.selected).unwrap_or_default();
    Ok(selected.into_iter().take(MAX_SYMBOLS).collect())
}

/// Mirrors a mode the operator set in the database (halt, observe, resume) into the guard.
async fn sync_mode(core: &TradingCore, control: &ControlStore) {
    let Ok(stored) = control.mode().await else { return };
    if stored == core.guard().mode() {
        return;
    }
    let event = match stored {
        TradingMode::Normal => ModeEvent::OperatorResume,
        TradingMode::Observe => ModeEvent::OperatorObserve,
        TradingMode::Stop { reason } => ModeEvent::KillSwitch { reason },
    };
    if let Err(e) = core.guard().apply(event).await {
        tracing::warn!(error = %e, "cannot follow the stored trading mode");
    }
}

/// The driver's state of one run of the loop: the engine, the counters and the alerts.
struct Loop {
    engine: Engine,
    progress: IntradayProgress,
    alerts: IntradayAlerts,
}

impl Loop {
    /// Handles a data frame's market events in order (stops at the first error).
    async fn on_market(&mut self, batch: MarketBatch) -> Result<(), StageError> {
        for ev in &batch {
            self.on_market_event(ev).await?;
        }
        Ok(())
    }

    async fn on_market_event(&mut self, ev: &MarketEvent) -> Result<(), StageError> {
        self.progress.market_events += 1;
        let step = self.engine.on_market(ev).await;
        self.progress.signals += step.signals;
        for outcome in step.submitted {
            let now = self.engine.core().clock().now();
            match outcome {
                Ok(SubmitOutcome::Sent(_)) => {
                    self.progress.orders_sent += 1;
                    self.alerts.on_order(now, true, false).await;
                }
                Ok(SubmitOutcome::Rejected(_)) => {
                    self.progress.orders_refused += 1;
                    self.alerts.on_order(now, false, true).await;
                }
                Ok(SubmitOutcome::Blocked(_)) => self.progress.orders_refused += 1,
                Ok(SubmitOutcome::Unknown(_) | SubmitOutcome::NotSent(_)) => {
                    self.alerts.on_order(now, false, true).await;
                }
                Ok(SubmitOutcome::Observed | SubmitOutcome::Existing(_)) => {}
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %e, "submit failed");
                    self.alerts.on_order(now, false, true).await;
                }
                Err(e) => return Err(trading_err("submit", e)),
            }
        }
        Ok(())
    }

    async fn on_execution(&mut self, ev: ExecutionEvent) -> Result<(), StageError> {
        if let ExecutionEvent::Status(status) = &ev {
            self.alerts.on_feed(status, self.engine.core().clock().now()).await;
        }
        match self.engine.on_execution(&ev).await {
            Ok(Handled::FillRecorded(_)) => self.progress.fills += 1,
            Ok(_) => {}
            Err(e) if e.is_retryable() => tracing::warn!(error = %e, "execution not recorded yet"),
            Err(e) => return Err(trading_err("execution", e)),
        }
        Ok(())
    }
}

impl Intraday {
    async fn price_contexts(&self, core: &TradingCore, symbols: &[Symbol]) {
        for s in symbols {
            match self.deps.broker.quote(s).await {
                Ok(q) => {
                    let band = (q.lower_limit > Decimal::ZERO && q.upper_limit >= q.lower_limit)
                        .then_some(PriceBand { lower: q.lower_limit, upper: q.upper_limit });
                    let table = TickTable::stocks_of(q.exchange.region());
                    core.set_price_context(s, PriceContext { exchange: q.exchange, table, band });
                    core.mark_price(s, q.price);
                }
                Err(e) => tracing::warn!(symbol = %s, error = %e, "no quote: price band unknown"),
            }
        }
    }

    async fn run_loop(&self, ctx: &StageContext) -> Result<IntradayOutput, StageError> {
        let date = ctx.trade_date;
        let session = self
            .deps
            .calendar
            .session_window(date)
            .ok_or_else(|| StageError::Skip(format!("the market is closed on {date}")))?;
        let (open_at, close_at) = (session.open, session.close);
        let core = build_core(&self.deps, ctx).await?;
        let recovered = core.recover().await.map_err(|e| trading_err("recovery", e))?;
        if self.deps.clock.now() >= close_at {
            return Ok(IntradayOutput::NotRun {
                why: "not run: the session had closed".to_owned(),
                recovery: recovered,
            });
        }
        let symbols = universe_of(ctx)?;
        let strategy = strategy_of(ctx, &self.deps.config.strategy, self.deps.config.region)?;
        let mut streams = self
            .deps
            .take_streams()
            .ok_or_else(|| StageError::Fatal("the broker's real-time streams are in use".into()))?;
        let mut subs = vec![Subscription::Executions];
        subs.extend(symbols.iter().cloned().map(Subscription::Trades));
        let mut result = self.subscribe_all(&subs, ctx).await;
        self.price_contexts(&core, &symbols).await;
        // The same count of sent orders the daily-limit guardrail uses.
        let sent_before =
            core.risk_snapshot().await.map_err(|e| trading_err("risk snapshot", e))?.orders_today;
        let alerts = IntradayAlerts::new(
            self.deps.notifier.clone(),
            ctx.store.clone(),
            date,
            self.deps.config.risk.max_orders_per_day,
            sent_before,
        );
        let (strategy, send) = match strategy {
            Some((s, send)) => (Some(s), send),
            None => (None, false),
        };
        let engine = Engine::start(core, strategy, send).await.map_err(|e| trading_err("engine state", e))?;
        let mut lp = Loop {
            engine,
            progress: IntradayProgress { open: Some(open_at), close: Some(close_at), ..Default::default() },
            alerts,
        };
        let control = ctx.store.control();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A span of the trading day, but each reconcile is a few REST calls whose budget is real
        // time (the broker's calls per second): at most one every RECONCILE_FLOOR.
        let every = self.deps.clock.real_at_least(self.deps.config.reconcile_every, RECONCILE_FLOOR);
        let mut reconcile_every = tokio::time::interval(every.max(TICK));
        reconcile_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        reconcile_every.tick().await;
        let mut ticks: u64 = 0;
        let mut interrupted = false;
        let mut wound_down = false;
        let cfg = &self.deps.config;
        while result.is_ok() {
            tokio::select! {
                biased;
                () = ctx.cancel.cancelled() => { interrupted = true; break; }
                _ = tick.tick() => {
                    ticks += 1;
                    let now = self.deps.clock.now();
                    lp.progress.now = Some(now);
                    lp.alerts.on_tick(now).await;
                    if let Some(report) = &self.deps.progress {
                        report(&lp.progress);
                    }
                    if !wound_down && cfg.cancel_open_at_close && now >= close_at - cfg.cancel_lead {
                        wound_down = true;
                        lp.engine.wind_down().await;
                    }
                    if now >= close_at {
                        break;
                    }
                    if ticks.is_multiple_of(5) {
                        sync_mode(lp.engine.core(), &control).await;
                    }
                }
                _ = reconcile_every.tick() => {
                    if let Err(e) = lp.engine.reconcile().await {
                        tracing::warn!(error = %e, "intraday reconciliation failed");
                    }
                }
                Some(ev) = streams.executions.recv() => { result = lp.on_execution(ev).await; }
                Some(batch) = streams.market.recv() => { result = lp.on_market(batch).await; }
            }
        }
        for s in subs {
            if let Err(e) = self.deps.broker.unsubscribe(s).await {
                tracing::debug!(error = %e, "unsubscribe failed");
            }
        }
        if interrupted || matches!(result, Err(StageError::Cancelled)) {
            // Stopped mid-session (the lease lost, a shutdown): give the broker's one real-time
            // session per app key back, so whoever trades next can open it.
            if let Err(e) = self.deps.broker.disconnect().await {
                tracing::debug!(error = %e, "closing the real-time feed failed");
            }
        }
        while let Ok(ev) = streams.executions.try_recv() {
            if lp.on_execution(ev).await.is_err() {
                break;
            }
        }
        self.deps.return_streams(streams);
        result?;
        if interrupted {
            return Err(StageError::Cancelled);
        }
        if let Err(e) = lp.engine.reconcile().await {
            tracing::warn!(error = %e, "end-of-session reconciliation failed");
        }
        let p = &lp.progress;
        Ok(IntradayOutput::Ran(IntradayRun {
            symbols,
            strategy: self.deps.config.strategy.clone(),
            wound_down_before_close: wound_down,
            recovery: recovered,
            market_events: p.market_events,
            signals: p.signals,
            orders_sent: p.orders_sent,
            orders_refused: p.orders_refused,
            fills_recorded: p.fills,
            ended_at: self.deps.clock.now(),
        }))
    }
}

impl Intraday {
    /// Registers the subscriptions. While the socket cannot be opened (the first connection is
    /// retried like any other) or the broker's one real-time session per app key is held by
    /// another connection (a previous leader letting go, or a dead one the broker has not dropped
    /// yet), retries every [`SESSION_RETRY`] for up to `session_wait`, recording the wait once.
    async fn subscribe_all(&self, subs: &[Subscription], ctx: &StageContext) -> Result<(), StageError> {
        // The broker drops a dead session in real time: the wait keeps a real floor.
        let clock = &self.deps.clock;
        let deadline = tokio::time::Instant::now()
            + clock.real_at_least(self.deps.config.session_wait, SESSION_WAIT_FLOOR);
        let retry = clock.real_at_least(SESSION_RETRY, TICK);
        let mut told = false;
        for s in subs {
            loop {
                match self.deps.broker.subscribe(s.clone()).await {
                    Ok(()) => break,
                    Err(e @ (BrokerError::SessionInUse { .. } | BrokerError::Connection { .. }))
                        if tokio::time::Instant::now() < deadline =>
                    {
                        if !told {
                            told = true;
                            let text = format!(
                                "{e}; retrying the real-time feed for up to {} s",
                                self.deps.config.session_wait.as_secs()
                            );
                            tracing::warn!("{text}");
                            let payload = serde_json::json!({ "subscription": format!("{s:?}") });
                            let events = ctx.store.events();
                            let date = Some(ctx.trade_date);
                            if let Err(err) = events
                                .record("FEED_SESSION_IN_USE", Severity::Warning, &text, payload, date, None)
                                .await
                            {
                                tracing::warn!(error = %err, "cannot record the session wait");
                            }
                        }
                        tokio::select! {
                            () = ctx.cancel.cancelled() => return Err(StageError::Cancelled),
                            () = tokio::time::sleep(retry) => {}
                        }
                    }
                    Err(e) => return Err(broker_err("subscribe", e)),
                }
            }
        }
        Ok(())
    }
}

impl Stage for Intraday {
    type Output = IntradayOutput;

    fn name(&self) -> StageName {
        StageName::Intraday
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<IntradayOutput, StageError>> {
        Box::pin(async move { self.run_loop(ctx).await })
    }
}
