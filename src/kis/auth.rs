//! Access-token lifecycle and the WebSocket approval key.
//!
//! The token is cached in the [`TokenStore`] (shared across restarts and processes) and in
//! memory, refreshed ahead of expiry, and issued by one caller at a time: in process through an
//! async mutex, across processes through the store's issuance lock. Forced refreshes (after
//! `EGW00123` and friends) respect the one-issuance-per-minute rule (`EGW00133`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::http::KisHttpError;
use super::http::raw::RawClient;
use crate::domain::Mode;
use crate::domain::market::kst_to_utc;
use crate::ports::{BrokerError, Clock, Secret, StoredToken, TokenKey, TokenStore, TokenStoreError};

/// Returns how long to wait before issuing again when the last issuance was at `last`
/// (KIS allows one issuance per `spacing`, normally a minute).
pub fn issue_wait(last: Option<DateTime<Utc>>, now: DateTime<Utc>, spacing: Duration) -> Option<Duration> {
    let spacing = TimeDelta::from_std(spacing).unwrap_or(TimeDelta::seconds(60));
    last.map(|at| at + spacing - now).and_then(|d| d.to_std().ok()).filter(|d| !d.is_zero())
}

/// Returns a non-reversible fingerprint of an app key (16 hex chars of its SHA-256).
pub fn app_key_fingerprint(app_key: &Secret) -> String {
    let digest = Sha256::digest(app_key.expose().as_bytes());
    hex::encode(digest).chars().take(16).collect()
}

/// Manages the access token and approval key of one app key.
#[derive(Debug)]
pub struct TokenManager {
    raw: RawClient,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    key: TokenKey,
    refresh_ahead: TimeDelta,
    issue_spacing: Duration,
    cached: Mutex<Option<StoredToken>>,
    approval: Mutex<Option<Secret>>,
}

fn store_error(err: TokenStoreError) -> BrokerError {
    match err {
        TokenStoreError::Issue(e) => e,
        TokenStoreError::Storage(m) => BrokerError::Authentication { message: format!("token store: {m}") },
    }
}

impl TokenManager {
    /// Returns a manager for `app_key` in `mode`.
    pub fn new(
        raw: RawClient,
        store: Arc<dyn TokenStore>,
        clock: Arc<dyn Clock>,
        app_key: &Secret,
        mode: Mode,
        refresh_ahead: Duration,
    ) -> Self {
        crate::obs::record::token_refresh_ahead(refresh_ahead);
        Self {
            raw,
            store,
            clock,
            key: TokenKey { app_key_fingerprint: app_key_fingerprint(app_key), mode },
            refresh_ahead: TimeDelta::from_std(refresh_ahead).unwrap_or(TimeDelta::minutes(30)),
            issue_spacing: Duration::from_secs(60),
            cached: Mutex::new(None),
            approval: Mutex::new(None),
        }
    }

    /// Sets the minimum spacing between two issuances (one minute by default, as KIS enforces).
    #[must_use]
    pub fn with_issue_spacing(mut self, spacing: Duration) -> Self {
        self.issue_spacing = spacing;
        self
    }

    fn fresh(&self, token: &StoredToken) -> bool {
        self.clock.now() + self.refresh_ahead < token.expires_at
    }

    /// Returns a valid access token, loading or issuing one when needed.
    ///
    /// # Errors
    /// [`BrokerError::Authentication`] when issuance is refused; connection errors as such.
    pub async fn token(&self) -> Result<Secret, BrokerError> {
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| self.fresh(t)) {
            return Ok(t.token.clone());
        }
        let token = self.obtain(None).await?;
        let secret = token.token.clone();
        crate::obs::record::token_expiry(token.expires_at);
        *cached = Some(token);
        Ok(secret)
    }

    /// Replaces a token the server rejected. Callers that raced on the same rejection get the
    /// token the first one obtained.
    ///
    /// # Errors
    /// As [`TokenManager::token`].
    pub async fn force_refresh(&self, rejected: &Secret) -> Result<Secret, BrokerError> {
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| t.token != *rejected && self.fresh(t)) {
            return Ok(t.token.clone());
        }
        tracing::info!(target: "aegis::kis::auth", token = %rejected.preview(), "forced token refresh");
        let token = self.obtain(Some(rejected)).await?;
        let secret = token.token.clone();
        crate::obs::record::token_expiry(token.expires_at);
        *cached = Some(token);
        Ok(secret)
    }

    async fn obtain(&self, rejected: Option<&Secret>) -> Result<StoredToken, BrokerError> {
        let key = self.key.clone();
        let rejected = rejected.cloned();
        self.store
            .with_issue_lock(
                &key,
                Box::new(move |current| {
                    Box::pin(async move {
                        if let Some(c) = current.as_ref()
                            && self.fresh(c)
                            && rejected.as_ref() != Some(&c.token)
                        {
                            return Ok(c.clone());
                        }
                        self.issue(current.as_ref().map(|c| c.issued_at)).await
                    })
                }),
            )
            .await
            .map_err(store_error)
    }

    async fn issue(&self, last_issued: Option<DateTime<Utc>>) -> Result<StoredToken, BrokerError> {
        if let Some(wait) = issue_wait(last_issued, self.clock.now(), self.issue_spacing) {
            tracing::info!(target: "aegis::kis::auth", wait_ms = wait.as_millis() as u64, "waiting for the issuance spacing");
            tokio::time::sleep(wait).await;
        }
        let mut throttled_once = false;
        loop {
            match self.raw.oauth2_token_p().await {
                Ok(resp) => {
                    let issued_at = self.clock.now();
                    let expires_at =
                        NaiveDateTime::parse_from_str(&resp.access_token_token_expired, "%Y-%m-%d %H:%M:%S")
                            .map(|kst| kst_to_utc(kst.date(), kst.time()))
                            .unwrap_or_else(|_| {
                                let secs = resp.expires_in.unwrap_or(86_400);
                                issued_at + TimeDelta::seconds(i64::try_from(secs).unwrap_or(86_400))
                            });
                    tracing::info!(target: "aegis::kis::auth", %expires_at, "access token issued");
                    crate::obs::record::token_issued();
                    return Ok(StoredToken { token: Secret::new(resp.access_token), issued_at, expires_at });
                }
                Err(KisHttpError::TokenThrottled) if !throttled_once => {
                    throttled_once = true;
                    tokio::time::sleep(self.issue_spacing).await;
                }
                Err(e) => return Err(e.into_broker()),
            }
        }
    }

    /// Returns the WebSocket approval key, issuing one when none is held or `renew` is set.
    ///
    /// # Errors
    /// As [`TokenManager::token`].
    pub async fn approval_key(&self, renew: bool) -> Result<Secret, BrokerError> {
        let mut approval = self.approval.lock().await;
        if let Some(k) = approval.as_ref().filter(|_| !renew) {
            return Ok(k.clone());
        }
        let key =
            Secret::new(self.raw.oauth2_approval().await.map_err(KisHttpError::into_broker)?.approval_key);
        tracing::info!(target: "aegis::kis::auth", approval_key = %key.preview(), "approval key issued");
        *approval = Some(key.clone());
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuance_spacing_is_respected() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let minute = Duration::from_secs(60);
        assert_eq!(issue_wait(None, t0, minute), None);
        assert_eq!(issue_wait(Some(t0), t0 + TimeDelta::seconds(20), minute), Some(Duration::from_secs(40)));
        assert_eq!(issue_wait(Some(t0), t0 + TimeDelta::seconds(60), minute), None);
        assert_eq!(issue_wait(Some(t0), t0 + TimeDelta::seconds(600), minute), None);
        assert_ne!(app_key_fingerprint(&Secret::new("a")), app_key_fingerprint(&Secret::new("b")));
        assert_eq!(app_key_fingerprint(&Secret::new("a")).len(), 16);
    }
}
