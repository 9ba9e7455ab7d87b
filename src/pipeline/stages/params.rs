//! The `param_load` stage: registers the strategy when missing and chooses the day's parameters —
//! today's ACTIVE row, else the configured [`ParamsPolicy`](crate::domain::strategy::ParamsPolicy)
//! over the last ACTIVE row, else (no row at all) the strategy's defaults, saying so.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::outputs::{ParamLoadOutput, ParamsSource, ParamsVerdict};
use super::{StageDeps, store_err};
use crate::domain::stage::StageName;
use crate::domain::strategy::{ParamsDecision, decide_params, validate_params};
use crate::journal::drafts::schema_for;
use crate::pipeline::stage::{Stage, StageContext, StageError};
use crate::store::params::{active_params, ensure_strategy, last_active_params};

/// The `param_load` stage.
#[derive(Debug)]
pub struct ParamLoad {
    deps: Arc<StageDeps>,
}

impl ParamLoad {
    /// Creates the stage.
    pub fn new(deps: Arc<StageDeps>) -> Self {
        Self { deps }
    }
}

/// Returns the decision's verdict, parameters and reason.
fn describe(decision: &ParamsDecision) -> (ParamsVerdict, Value, Option<String>) {
    match decision {
        ParamsDecision::Trade(p) => (ParamsVerdict::Trade, p.to_json(), None),
        ParamsDecision::Observe(p) => (ParamsVerdict::Observe, p.to_json(), None),
        ParamsDecision::Skip { reason } => (ParamsVerdict::Skip, Value::Null, Some(reason.clone())),
    }
}

impl Stage for ParamLoad {
    type Output = ParamLoadOutput;

    fn name(&self) -> StageName {
        StageName::ParamLoad
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<ParamLoadOutput, StageError>> {
        Box::pin(async move {
            let cfg = &self.deps.config;
            let specs = schema_for(&cfg.strategy)
                .ok_or_else(|| StageError::Fatal(format!("unknown strategy `{}`", cfg.strategy)))?;
            let now = self.deps.clock.now();
            let id = ensure_strategy(&ctx.store, &cfg.strategy, "reference strategy", now)
                .await
                .map_err(|e| store_err("strategy row", e))?;
            let today =
                active_params(&ctx.store, id, ctx.trade_date).await.map_err(|e| store_err("params", e))?;
            let last = last_active_params(&ctx.store, id, ctx.trade_date)
                .await
                .map_err(|e| store_err("params", e))?;
            let invalid = |e: crate::domain::strategy::ParamErrors| {
                StageError::fatal(format!("invalid parameters for {}", cfg.strategy), e)
            };
            let (decision, source, row, note) = if today.is_none() && last.is_none() {
                let base = cfg.default_params.clone().unwrap_or_else(|| json!({}));
                let params = validate_params(specs, &base).map_err(invalid)?;
                let note = "no strategy_params row exists: trading with the strategy's defaults";
                tracing::warn!(strategy = %cfg.strategy, "{note}");
                (ParamsDecision::Trade(params), ParamsSource::Defaults, None, Some(note.to_owned()))
            } else {
                let d = decide_params(
                    specs,
                    cfg.params_policy,
                    today.as_ref().map(|r| &r.params),
                    last.as_ref().map(|r| &r.params),
                )
                .map_err(invalid)?;
                match (&today, &last) {
                    (Some(r), _) => (d, ParamsSource::ActiveToday, Some(r.id), None),
                    (None, Some(r)) => (d, ParamsSource::LastActive, Some(r.id), None),
                    (None, None) => (d, ParamsSource::None, None, None),
                }
            };
            let (verdict, params, reason) = describe(&decision);
            Ok(ParamLoadOutput {
                strategy: cfg.strategy.clone(),
                strategy_id: id,
                policy: cfg.params_policy,
                decision: verdict,
                params,
                source,
                params_row: row,
                reason: reason.or(note),
            })
        })
    }
}
