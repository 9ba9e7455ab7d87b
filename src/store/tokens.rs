//! The sea-orm [`TokenStore`]: access tokens cached in `broker_tokens` per (app-key fingerprint,
//! mode), with issuance serialised across processes by a short lease of its own in `leases`
//! (`broker_token:<fingerprint>:<mode>`), renewed while the issuance runs and released after it.
//! No transaction or database lock is held while an issuer waits for the issuance spacing or the
//! token endpoint: taking the lease and storing the token are statements of their own, so other
//! writers (the pipeline, the outbox, another process) go on meanwhile.

use std::future::Future;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use futures::future::BoxFuture;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use super::pipeline::PipelineStore;
use crate::ports::{IssueFn, Secret, StoredToken, TokenKey, TokenStore, TokenStoreError};

/// How long an issuer's lease lasts without renewal: a process that dies while issuing holds
/// the others up for at most this long.
const ISSUE_LEASE_TTL: TimeDelta = TimeDelta::seconds(30);
/// How often a running issuance renews its lease.
const ISSUE_LEASE_RENEW: Duration = Duration::from_secs(10);
/// How often an issuer waiting for another's lease looks again.
const ISSUE_LEASE_POLL: Duration = Duration::from_millis(100);

/// Access tokens in the database.
#[derive(Debug, Clone)]
pub struct DbTokenStore {
    db: DatabaseConnection,
    local: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl DbTokenStore {
    /// Creates a token store on a connection.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, local: std::sync::Arc::new(tokio::sync::Mutex::new(())) }
    }

    /// Stores `token` as the key's token (one short write transaction).
    async fn save(&self, key: &TokenKey, token: &StoredToken) -> Result<(), TokenStoreError> {
        let txn = super::begin_write(&self.db).await.map_err(storage)?;
        let now = Utc::now();
        match filter(key).one(&txn).await.map_err(storage)? {
            Some(row) => {
                let mut active: entity::broker_token::ActiveModel = row.into();
                active.token = Set(token.token.expose().to_owned());
                active.issued_at = Set(token.issued_at);
                active.expires_at = Set(token.expires_at);
                active.updated_at = Set(now);
                active.update(&txn).await.map_err(storage)?;
            }
            None => {
                entity::broker_token::ActiveModel {
                    app_key_fingerprint: Set(key.app_key_fingerprint.clone()),
                    mode: Set(key.mode.as_str().to_owned()),
                    token: Set(token.token.expose().to_owned()),
                    issued_at: Set(token.issued_at),
                    expires_at: Set(token.expires_at),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(&txn)
                .await
                .map_err(storage)?;
            }
        }
        txn.commit().await.map_err(storage)
    }
}

/// The issuance lease of one token key, held by this issuer. Dropped unreleased (the issuance
/// was cancelled, a stage timed out), it is released by a task of its own, so a retry does not
/// wait for it to lapse.
struct IssueLease {
    leases: PipelineStore,
    name: String,
    holder: String,
    released: bool,
}

impl IssueLease {
    /// Waits until this issuer holds the key's lease (another issuer releases it, or lets it
    /// lapse by dying). Transient database errors are waited out too.
    async fn take(db: &DatabaseConnection, key: &TokenKey) -> Result<Self, TokenStoreError> {
        let lease = Self {
            leases: PipelineStore::new(db.clone()),
            name: format!("broker_token:{}:{}", key.app_key_fingerprint, key.mode.as_str()),
            holder: format!("token-issuer:{}:{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            released: false,
        };
        loop {
            let now = Utc::now();
            // Read first: a waiting issuer does not write while another holds the lease.
            let free = match lease.leases.live_lease(&lease.name, now).await {
                Ok(live) => live.is_none(),
                Err(e) if e.is_transient() => false,
                Err(e) => return Err(storage(e)),
            };
            if free {
                match lease.leases.acquire_lease(&lease.name, &lease.holder, ISSUE_LEASE_TTL, now).await {
                    Ok(Some(_)) => return Ok(lease),
                    Ok(None) => {}
                    Err(e) if e.is_transient() => {}
                    Err(e) => return Err(storage(e)),
                }
            }
            tokio::time::sleep(ISSUE_LEASE_POLL).await;
        }
    }

    /// Runs `work`, renewing the lease while it runs.
    async fn renewed_while<T>(&self, work: impl Future<Output = T>) -> T {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                () = tokio::time::sleep(ISSUE_LEASE_RENEW) => {
                    match self.leases.acquire_lease(&self.name, &self.holder, ISSUE_LEASE_TTL, Utc::now()).await {
                        Ok(Some(_)) => {}
                        Ok(None) => tracing::warn!(
                            target: "aegis::store::tokens",
                            lease = %self.name,
                            "token issuance lease lapsed; another process may issue as well"
                        ),
                        Err(e) => tracing::warn!(
                            target: "aegis::store::tokens",
                            lease = %self.name,
                            error = %e,
                            "token issuance lease not renewed"
                        ),
                    }
                }
            }
        }
    }

    /// Releases the lease (a failure only leaves it to lapse).
    async fn release(mut self) {
        self.released = true;
        release(&self.leases, &self.name, &self.holder).await;
    }
}

impl Drop for IssueLease {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (leases, name, holder) = (self.leases.clone(), self.name.clone(), self.holder.clone());
            rt.spawn(async move { release(&leases, &name, &holder).await });
        }
    }
}

async fn release(leases: &PipelineStore, name: &str, holder: &str) {
    if let Err(e) = leases.release_lease(name, holder).await {
        tracing::warn!(target: "aegis::store::tokens", lease = %name, error = %e, "token issuance lease not released");
    }
}

fn storage(e: impl std::fmt::Display) -> TokenStoreError {
    TokenStoreError::Storage(e.to_string())
}

fn to_stored(row: entity::broker_token::Model) -> StoredToken {
    StoredToken { token: Secret::new(row.token), issued_at: row.issued_at, expires_at: row.expires_at }
}

fn filter(key: &TokenKey) -> sea_orm::Select<entity::broker_token::Entity> {
    entity::broker_token::Entity::find()
        .filter(entity::broker_token::Column::AppKeyFingerprint.eq(key.app_key_fingerprint.clone()))
        .filter(entity::broker_token::Column::Mode.eq(key.mode.as_str()))
}

impl TokenStore for DbTokenStore {
    fn load<'a>(&'a self, key: &'a TokenKey) -> BoxFuture<'a, Result<Option<StoredToken>, TokenStoreError>> {
        Box::pin(async move { Ok(filter(key).one(&self.db).await.map_err(storage)?.map(to_stored)) })
    }

    fn with_issue_lock<'a>(
        &'a self,
        key: &'a TokenKey,
        issue: IssueFn<'a>,
    ) -> BoxFuture<'a, Result<StoredToken, TokenStoreError>> {
        Box::pin(async move {
            // One issuer per process first, so a process never polls for its own lease.
            let _local = self.local.lock().await;
            // Then one across processes: the others wait for the lease (no lock is held).
            let lease = IssueLease::take(&self.db, key).await?;
            let result = async {
                // Read after the lease: a token another process issued meanwhile is seen here.
                let current = filter(key).one(&self.db).await.map_err(storage)?.map(to_stored);
                // The spacing sleep and the network call run here, with no transaction open.
                let token =
                    lease.renewed_while(issue(current.clone())).await.map_err(TokenStoreError::Issue)?;
                if current.as_ref() != Some(&token) {
                    self.save(key, &token).await?;
                }
                Ok(token)
            }
            .await;
            lease.release().await;
            result
        })
    }
}
