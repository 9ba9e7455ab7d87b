//! The broker-session stages: `access_token` (issue or reuse the REST token; the output carries its
//! expiry, never the token), `approval_key` (the WebSocket approval key; the output says when it
//! was ensured, never the key) and `account_check` (orderable cash, holdings and totals).

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use tracing::Instrument;

use super::{StageDeps, broker_err};
use crate::domain::stage::StageName;
use crate::pipeline::runner::{Stage, StageContext, StageError};
use crate::ports::{TokenKey, TokenStore};

/// The `access_token` stage.
#[derive(Debug)]
pub struct AccessToken {
    deps: Arc<StageDeps>,
    tokens: Option<(Arc<dyn TokenStore>, TokenKey)>,
}

impl AccessToken {
    /// Creates the stage.
    pub fn new(deps: Arc<StageDeps>) -> Self {
        Self { deps, tokens: None }
    }

    /// Reads the token's expiry from the token store the broker writes to.
    #[must_use]
    pub fn with_token_store(mut self, store: Arc<dyn TokenStore>, key: TokenKey) -> Self {
        self.tokens = Some((store, key));
        self
    }
}

impl Stage for AccessToken {
    fn name(&self) -> StageName {
        StageName::AccessToken
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<Value, StageError>> {
        let span = super::span(ctx, self.name());
        Box::pin(
            async move {
                self.deps.broker.authenticate().await.map_err(|e| broker_err("access token", &e))?;
                let mut out = json!({ "authenticated": true, "checked_at": self.deps.clock.now() });
                if let Some((store, key)) = &self.tokens
                    && let Ok(Some(t)) = store.load(key).await
                {
                    out["issued_at"] = json!(t.issued_at);
                    out["expires_at"] = json!(t.expires_at);
                }
                Ok(out)
            }
            .instrument(span),
        )
    }
}

/// The `approval_key` stage.
#[derive(Debug)]
pub struct ApprovalKey {
    deps: Arc<StageDeps>,
}

impl ApprovalKey {
    /// Creates the stage.
    pub fn new(deps: Arc<StageDeps>) -> Self {
        Self { deps }
    }
}

impl Stage for ApprovalKey {
    fn name(&self) -> StageName {
        StageName::ApprovalKey
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<Value, StageError>> {
        let span = super::span(ctx, self.name());
        Box::pin(
            async move {
                self.deps.broker.approval_key().await.map_err(|e| broker_err("approval key", &e))?;
                Ok(json!({ "approval_key": "held (never recorded)", "checked_at": self.deps.clock.now() }))
            }
            .instrument(span),
        )
    }
}

/// The `account_check` stage.
#[derive(Debug)]
pub struct AccountCheck {
    deps: Arc<StageDeps>,
}

impl AccountCheck {
    /// Creates the stage.
    pub fn new(deps: Arc<StageDeps>) -> Self {
        Self { deps }
    }
}

impl Stage for AccountCheck {
    fn name(&self) -> StageName {
        StageName::AccountCheck
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<Value, StageError>> {
        let span = super::span(ctx, self.name());
        Box::pin(
            async move {
                let a = self.deps.broker.account().await.map_err(|e| broker_err("account", &e))?;
                if a.orderable_cash.is_sign_negative() {
                    return Err(StageError::Fatal(format!(
                        "orderable cash is negative ({})",
                        a.orderable_cash
                    )));
                }
                Ok(json!({
                    "orderable_cash": a.orderable_cash,
                    "cash_d0": a.cash_d0,
                    "cash_d2": a.cash_d2,
                    "holdings": a.holdings,
                    "purchase_total": a.purchase_total,
                    "eval_total": a.eval_total,
                    "unrealized_pnl_total": a.unrealized_pnl_total,
                    "account_total": a.account_total,
                    "net_asset": a.net_asset,
                }))
            }
            .instrument(span),
        )
    }
}
