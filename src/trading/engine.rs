//! The trading engine: the one owner of the day's trading state — open orders, positions, last
//! prices (in the [`TradingCore`]'s in-memory book) and the strategy instance — updated from
//! market events, acknowledgements and fills. The database is the write-ahead log it writes
//! through, not its read path; the state is rebuilt from the database (and the broker: broker
//! wins) at start-up, after recovery and at every periodic reconciliation.
//!
//! The intraday stage only drives it: it feeds market events to [`Engine::on_market`],
//! executions to [`Engine::on_execution`] and calls [`Engine::reconcile`] and
//! [`Engine::wind_down`] on its timers.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde_json::json;

use super::executions::Handled;
use super::orders::{SubmitOutcome, broker_key};
use super::{TradingCore, TradingError};
use crate::domain::market::{ExecutionEvent, MarketEvent};
use crate::domain::mode::Action;
use crate::domain::price::{TickTable, check_order_price};
use crate::domain::risk::check_intent;
use crate::domain::strategy::{
    MarketInput, MeanReversion, MeanReversionParams, OrderIntent, ParamErrors, Strategy, StrategyView,
};
use crate::ports::Severity;

/// A strategy the engine runs.
pub type BoxedStrategy = Box<dyn Strategy + Send + Sync>;

/// Builds the strategy named `id` from its day's parameters (the `param_load` stage's row).
///
/// # Errors
/// Returns the parameter errors of an invalid row.
pub fn build_strategy(id: &str, params: &serde_json::Value) -> Result<BoxedStrategy, ParamErrors> {
    build_strategy_for(id, params, TickTable::Stock)
}

/// Builds the strategy whose intents are priced on `table` (a US core's strategy prices on
/// cents).
///
/// # Errors
/// Returns every parameter problem.
pub fn build_strategy_for(
    id: &str,
    params: &serde_json::Value,
    table: TickTable,
) -> Result<BoxedStrategy, ParamErrors> {
    let p = MeanReversionParams::from_json(params)?;
    Ok(Box::new(MeanReversion::new(id, p).with_tick_table(table)))
}

/// What the decision path made of one intent (no I/O was done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Passes the mode, the guardrails and the price rules: submit it.
    Send(OrderIntent),
    /// The strategy runs in observe mode: record it, send nothing.
    Observe(OrderIntent),
    /// Blocked before sending (the submit path records why).
    Blocked(OrderIntent),
}

/// What one market event led to.
#[derive(Debug)]
pub struct MarketStep {
    /// Intents the strategy produced.
    pub signals: u64,
    /// Each submitted intent's outcome.
    pub submitted: Vec<Result<SubmitOutcome, TradingError>>,
}

/// The trading engine of one trading date.
pub struct Engine {
    core: TradingCore,
    strategy: Option<BoxedStrategy>,
    send: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("core", &self.core)
            .field("strategy", &self.strategy.as_ref().map(|s| s.id().to_owned()))
            .field("send", &self.send)
            .finish()
    }
}

impl Engine {
    /// An engine over `core` running `strategy` (sending its intents when `send`, recording them
    /// only otherwise). The state is loaded from the log.
    ///
    /// # Errors
    /// Returns a store error when the day's state cannot be loaded.
    pub async fn start(
        core: TradingCore,
        strategy: Option<BoxedStrategy>,
        send: bool,
    ) -> Result<Self, TradingError> {
        core.ensure_loaded().await?;
        let risk = &core.config.risk;
        crate::obs::record::risk_limits(core.config.region, risk.max_orders_per_day, risk.daily_loss);
        Ok(Self { core, strategy, send })
    }

    /// Returns the core (ports, guard, configuration, state).
    pub fn core(&self) -> &TradingCore {
        &self.core
    }

    /// Stops the strategy (no more intents); executions are still handled.
    pub fn stop_strategy(&mut self) {
        self.strategy = None;
    }

    /// The decision path, without I/O: marks the price, runs the strategy against the in-memory
    /// positions and live orders, and checks each intent against the mode, the guardrails and the
    /// price rules.
    pub fn decide(&mut self, event: &MarketEvent) -> Vec<Decision> {
        let MarketEvent::Trade(t) = event else { return Vec::new() };
        if crate::domain::sessions::trade_date_in(t.symbol.region(), t.at) != self.core.config.trade_date {
            // Another day's print (one left in the market channel from yesterday's session): not
            // today's market, neither for the strategy nor for today's prices. A US print belongs
            // to its New York date: the session runs on past KST midnight.
            return Vec::new();
        }
        let Some(strategy) = self.strategy.as_mut() else {
            self.core.mark_price(&t.symbol, t.price);
            return Vec::new();
        };
        let guard = &self.core.guard;
        let compute = guard.allows(Action::ComputeSignals);
        let send = self.send && guard.allows(Action::NewOrder);
        let risk = &self.core.config.risk;
        self.core.with_book(|book| {
            book.mark(&t.symbol, t.price);
            if !compute {
                return Vec::new();
            }
            let input = MarketInput { symbol: t.symbol.clone(), price: t.price, volume: t.qty, ts: t.at };
            let view = StrategyView { positions: &book.positions, open_orders: book.open_orders() };
            let intents = strategy.on_market(&input, &view);
            if intents.is_empty() {
                return Vec::new();
            }
            let snap = book.risk_snapshot();
            intents
                .into_iter()
                .map(|intent| {
                    if !send {
                        return Decision::Observe(intent);
                    }
                    let ctx = book.price_ctx.get(&intent.symbol).copied().unwrap_or_default();
                    let ok = check_intent(risk, &snap, &intent).is_ok()
                        && check_order_price(intent.order_type, intent.price, &ctx).is_ok();
                    if ok { Decision::Send(intent) } else { Decision::Blocked(intent) }
                })
                .collect()
        })
    }

    /// Handles one market event: decides, then submits what is to be sent (a blocked intent goes
    /// through the submit path too, which records why it was blocked). Each submission's result,
    /// error included, is in the step.
    pub async fn on_market(&mut self, event: &MarketEvent) -> MarketStep {
        let decisions = self.decide(event);
        let mut step = MarketStep { signals: decisions.len() as u64, submitted: Vec::new() };
        for d in decisions {
            match d {
                Decision::Observe(intent) => {
                    let payload = json!({ "intent": intent, "decision": "OBSERVE" });
                    self.core.event("SIGNAL_OBSERVED", Severity::Info, &intent.reason, payload, None).await;
                }
                Decision::Send(intent) | Decision::Blocked(intent) => {
                    step.submitted.push(self.core.submit(&intent).await);
                }
            }
        }
        step
    }

    /// Handles one execution event (notice, fill or feed status).
    ///
    /// # Errors
    /// Returns store errors.
    pub async fn on_execution(&mut self, event: &ExecutionEvent) -> Result<Handled, TradingError> {
        self.core.handle_execution(event).await
    }

    /// Reloads the day's state from the log (an operator may have acted from another process),
    /// reconciles live orders with the broker's snapshot of today's orders, resolves unknown
    /// outcomes and stores the positions. Broker orders are ours by (trading date, number).
    ///
    /// # Errors
    /// Returns what failed, as text for the log.
    pub async fn reconcile(&self) -> Result<(), String> {
        let core = &self.core;
        core.reload().await.map_err(|e| format!("reload: {e}"))?;
        let stored = core.orders().await.map_err(|e| e.to_string())?;
        let live: BTreeSet<(NaiveDate, String)> = stored
            .iter()
            .filter(|s| !s.order.status().is_terminal())
            .filter_map(|s| s.order.broker_order_no().map(|n| broker_key(s.trade_date, &n.number)))
            .collect();
        if !live.is_empty() {
            let orders = core.broker().todays_orders().await.map_err(|e| format!("orders snapshot: {e}"))?;
            let ours: Vec<_> = orders
                .into_iter()
                .filter(|b| live.contains(&broker_key(b.trade_date(), &b.broker_order_no)))
                .collect();
            core.apply_orders_snapshot(&ours).await.map_err(|e| format!("apply snapshot: {e}"))?;
        }
        for s in stored.iter().filter(|s| s.order.status().needs_resolution()) {
            core.resolve_unknown(s.id).await.map_err(|e| format!("resolve order {}: {e}", s.id))?;
        }
        core.flush_positions().await.map_err(|e| format!("positions: {e}"))?;
        core.resume_orders_if_reconciled().await;
        Ok(())
    }

    /// Stops the strategy and cancels every open order (before the close).
    pub async fn wind_down(&mut self) {
        self.strategy = None;
        let open = match self.core.orders().await {
            Ok(list) => list.into_iter().filter(|o| o.order.status().is_open()).collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list open orders before the close");
                return;
            }
        };
        tracing::info!(orders = open.len(), "strategy stopped; canceling open orders before the close");
        for o in open {
            if let Err(e) = self.core.cancel(o.id).await {
                tracing::warn!(order = o.id, error = %e, "cancel before the close failed");
            }
        }
    }
}
