//! The token store port: persists broker access tokens so a day normally costs one issuance,
//! and serialises issuance across processes that share the database.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::{BrokerError, Secret};
use crate::domain::Mode;

/// Which token a row holds: one per (app key, mode).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    /// A non-reversible fingerprint of the app key (never the key itself).
    pub app_key_fingerprint: String,
    /// Live or paper.
    pub mode: Mode,
}

/// An access token with its lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// The bearer token.
    pub token: Secret,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// Errors of the token store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenStoreError {
    /// The storage failed.
    #[error("token storage failed: {0}")]
    Storage(String),
    /// The issuance callback failed.
    #[error(transparent)]
    Issue(#[from] BrokerError),
}

/// The issuance step run under the lock: receives the currently stored token (if any) and
/// returns the token to keep (the same one when it is still good, or a newly issued one).
pub type IssueFn<'a> =
    Box<dyn FnOnce(Option<StoredToken>) -> BoxFuture<'a, Result<StoredToken, BrokerError>> + Send + 'a>;

/// Persistence of access tokens with a cross-process single-flight hook.
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// Returns the stored token for `key`, if any.
    ///
    /// # Errors
    /// Returns [`TokenStoreError::Storage`] when the storage fails.
    fn load<'a>(&'a self, key: &'a TokenKey) -> BoxFuture<'a, Result<Option<StoredToken>, TokenStoreError>>;

    /// Takes the issuance lock for `key` (an advisory or row lock shared by every process using
    /// the same database), loads the stored token, runs `issue` with it, stores the result when
    /// it differs, and releases the lock. Concurrent callers wait for each other.
    ///
    /// # Errors
    /// Returns [`TokenStoreError::Storage`] when the storage fails and
    /// [`TokenStoreError::Issue`] when `issue` fails (nothing is stored then).
    fn with_issue_lock<'a>(
        &'a self,
        key: &'a TokenKey,
        issue: IssueFn<'a>,
    ) -> BoxFuture<'a, Result<StoredToken, TokenStoreError>>;
}

/// An in-memory token store for tests and single-process use.
#[derive(Debug, Default)]
pub struct InMemoryTokenStore {
    rows: Mutex<HashMap<TokenKey, StoredToken>>,
    lock: tokio::sync::Mutex<()>,
}

impl InMemoryTokenStore {
    /// Returns an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn get(&self, key: &TokenKey) -> Option<StoredToken> {
        self.rows.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).cloned()
    }
}

impl TokenStore for InMemoryTokenStore {
    fn load<'a>(&'a self, key: &'a TokenKey) -> BoxFuture<'a, Result<Option<StoredToken>, TokenStoreError>> {
        Box::pin(async move { Ok(self.get(key)) })
    }

    fn with_issue_lock<'a>(
        &'a self,
        key: &'a TokenKey,
        issue: IssueFn<'a>,
    ) -> BoxFuture<'a, Result<StoredToken, TokenStoreError>> {
        Box::pin(async move {
            let _guard = self.lock.lock().await;
            let current = self.get(key);
            let token = issue(current.clone()).await?;
            if current.as_ref() != Some(&token) {
                self.rows
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key.clone(), token.clone());
            }
            Ok(token)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn key() -> TokenKey {
        TokenKey { app_key_fingerprint: "fp".into(), mode: Mode::Paper }
    }

    fn token(v: &str) -> StoredToken {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        StoredToken { token: Secret::new(v), issued_at: at, expires_at: at }
    }

    #[tokio::test]
    async fn concurrent_issuers_run_one_after_another() {
        let store = Arc::new(InMemoryTokenStore::new());
        let issued = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (store, issued) = (store.clone(), issued.clone());
            tasks.push(tokio::spawn(async move {
                let k = key();
                store
                    .with_issue_lock(
                        &k,
                        Box::new(move |current| {
                            Box::pin(async move {
                                if let Some(t) = current {
                                    return Ok(t);
                                }
                                tokio::task::yield_now().await;
                                issued.fetch_add(1, Ordering::SeqCst);
                                Ok(token("t1"))
                            })
                        }),
                    )
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), token("t1"));
        }
        assert_eq!(issued.load(Ordering::SeqCst), 1);
        assert_eq!(store.load(&key()).await.unwrap(), Some(token("t1")));
    }

    #[tokio::test]
    async fn failed_issue_stores_nothing() {
        let store = InMemoryTokenStore::new();
        let k = key();
        let err = store
            .with_issue_lock(&k, Box::new(|_| Box::pin(async { Err(BrokerError::RateLimit) })))
            .await
            .unwrap_err();
        assert_eq!(err, TokenStoreError::Issue(BrokerError::RateLimit));
        assert_eq!(store.load(&k).await.unwrap(), None);
    }
}
