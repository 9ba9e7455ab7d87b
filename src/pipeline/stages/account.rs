//! The broker-session stages: `access_token` (issue or reuse the REST token; the output carries its
//! expiry, never the token), `approval_key` (the WebSocket approval key; the output says when it
//! was ensured, never the key) and `account_check` (orderable cash, holdings and totals).

use std::sync::Arc;

use futures::future::BoxFuture;

use super::outputs::{APPROVAL_KEY_NOTE, AccessTokenOutput, AccountCheckOutput, ApprovalKeyOutput};
use super::{StageDeps, broker_err};
use crate::domain::stage::StageName;
use crate::pipeline::stage::{Stage, StageContext, StageError};
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
    type Output = AccessTokenOutput;

    fn name(&self) -> StageName {
        StageName::AccessToken
    }

    fn run<'a>(&'a self, _ctx: &'a mut StageContext) -> BoxFuture<'a, Result<AccessTokenOutput, StageError>> {
        Box::pin(async move {
            self.deps.broker.authenticate().await.map_err(|e| broker_err("access token", e))?;
            let mut out = AccessTokenOutput {
                authenticated: true,
                checked_at: self.deps.clock.now(),
                issued_at: None,
                expires_at: None,
            };
            if let Some((store, key)) = &self.tokens
                && let Ok(Some(t)) = store.load(key).await
            {
                out.issued_at = Some(t.issued_at);
                out.expires_at = Some(t.expires_at);
            }
            Ok(out)
        })
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
    type Output = ApprovalKeyOutput;

    fn name(&self) -> StageName {
        StageName::ApprovalKey
    }

    fn run<'a>(&'a self, _ctx: &'a mut StageContext) -> BoxFuture<'a, Result<ApprovalKeyOutput, StageError>> {
        Box::pin(async move {
            self.deps.broker.approval_key().await.map_err(|e| broker_err("approval key", e))?;
            Ok(ApprovalKeyOutput {
                approval_key: APPROVAL_KEY_NOTE.to_owned(),
                checked_at: self.deps.clock.now(),
            })
        })
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
    type Output = AccountCheckOutput;

    fn name(&self) -> StageName {
        StageName::AccountCheck
    }

    fn run<'a>(
        &'a self,
        _ctx: &'a mut StageContext,
    ) -> BoxFuture<'a, Result<AccountCheckOutput, StageError>> {
        Box::pin(async move {
            let account = self.deps.broker.account().await.map_err(|e| broker_err("account", e))?;
            if account.orderable_cash.is_sign_negative() {
                return Err(StageError::Fatal(format!(
                    "orderable cash is negative ({})",
                    account.orderable_cash
                )));
            }
            Ok(AccountCheckOutput { account })
        })
    }
}
