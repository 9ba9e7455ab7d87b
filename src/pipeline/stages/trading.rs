//! The trading-core stages: `recovery` (reconcile the day's orders, fills and positions with the
//! broker) and `guardrails` (risk settings, kill-switch evaluation, the current mode), plus the
//! core builder the intraday and close stages share (the guard's mode lives in `control_state`
//! through [`crate::trading::ControlModeStore`]).

use std::sync::Arc;

use futures::future::BoxFuture;

use super::outputs::{GuardrailsOutput, RecoveryOutput};
use super::{StageDeps, opening_holdings, store_err, strategy_row, trading_err};
use crate::domain::stage::StageName;
use crate::pipeline::stage::{Stage, StageContext, StageError};
use crate::trading::{ControlModeStore, Guard, TradingConfig, TradingCore};

/// Builds the trading core of a stage attempt: the guard loaded from `control_state`, the
/// configured guardrails and fees, the opening holdings of `account_check` and the strategy row of
/// `param_load`.
pub(super) async fn build_core(deps: &StageDeps, ctx: &StageContext) -> Result<TradingCore, StageError> {
    let modes = ControlModeStore::new(ctx.store.control(), "pipeline");
    let guard = Guard::load(Arc::new(modes), ctx.store.events(), deps.clock.clone(), deps.config.kill_switch)
        .await
        .map_err(|e| store_err("trading mode", e))?
        .with_notifier(deps.notifier.clone(), ctx.trade_date);
    let mut cfg = TradingConfig::new(ctx.trade_date, deps.config.strategy.clone());
    cfg.strategy_row = strategy_row(ctx)?;
    cfg.risk = deps.config.risk;
    cfg.fees = deps.config.fees;
    cfg.opening = opening_holdings(ctx)?;
    cfg.region = deps.config.region;
    Ok(TradingCore::new(ctx.store.clone(), deps.broker.clone(), deps.clock.clone(), Arc::new(guard), cfg)
        .with_notifier(deps.notifier.clone()))
}

/// The `recovery` stage: fails (trading stopped) when differences remain unresolved.
#[derive(Debug)]
pub struct Recovery {
    deps: Arc<StageDeps>,
}

impl Recovery {
    /// Creates the stage.
    pub fn new(deps: Arc<StageDeps>) -> Self {
        Self { deps }
    }
}

impl Stage for Recovery {
    type Output = RecoveryOutput;

    fn name(&self) -> StageName {
        StageName::Recovery
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<RecoveryOutput, StageError>> {
        Box::pin(async move {
            let core = build_core(&self.deps, ctx).await?;
            let report = core.recover().await.map_err(|e| trading_err("recovery", e))?;
            if let Some(reason) = &report.stopped {
                return Err(StageError::Fatal(format!("recovery stopped trading: {reason}")));
            }
            let positions = core.recompute_positions().await.map_err(|e| trading_err("positions", e))?;
            Ok(RecoveryOutput {
                orders_checked: report.orders_checked,
                differences: report.differences,
                resendable: report.resendable,
                positions: positions.iter().filter(|p| !p.qty.is_zero()).count(),
            })
        })
    }
}

/// The `guardrails` stage: reports the guardrails in force, evaluates the kill switch on the day's
/// P&L so far and records the mode trading starts in.
#[derive(Debug)]
pub struct Guardrails {
    deps: Arc<StageDeps>,
}

impl Guardrails {
    /// Creates the stage.
    pub fn new(deps: Arc<StageDeps>) -> Self {
        Self { deps }
    }
}

impl Stage for Guardrails {
    type Output = GuardrailsOutput;

    fn name(&self) -> StageName {
        StageName::Guardrails
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<GuardrailsOutput, StageError>> {
        Box::pin(async move {
            let core = build_core(&self.deps, ctx).await?;
            let snap = core.risk_snapshot().await.map_err(|e| trading_err("risk snapshot", e))?;
            let tripped = core
                .guard()
                .evaluate(snap.realized_pnl, snap.unrealized_pnl)
                .await
                .map_err(|e| StageError::retryable("kill switch", e))?;
            let mode = core.guard().mode();
            Ok(GuardrailsOutput {
                trading_allowed: mode.allows(crate::domain::mode::Action::NewOrder),
                mode,
                risk: self.deps.config.risk,
                kill_switch: self.deps.config.kill_switch,
                tripped: tripped.map(|r| r.to_string()),
                orders_today: snap.orders_today,
                realized_pnl: snap.realized_pnl,
                open_orders: snap.open_orders.len(),
            })
        })
    }
}
