//! The sea-orm [`TokenStore`]: access tokens cached in `broker_tokens` per (app-key fingerprint,
//! mode), with issuance serialised across processes — a PostgreSQL transaction-scoped advisory
//! lock, or on SQLite a write lock taken at the start of the transaction.

use chrono::Utc;
use futures::future::BoxFuture;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait,
    QueryFilter, Set, Statement,
};
use sha2::{Digest, Sha256};

use crate::ports::{IssueFn, Secret, StoredToken, TokenKey, TokenStore, TokenStoreError};

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

/// Returns a stable 63-bit advisory-lock id for a token key.
fn lock_id(key: &TokenKey) -> i64 {
    let digest = Sha256::digest(format!("aegis:token:{}:{}", key.app_key_fingerprint, key.mode).as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes) & i64::MAX
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
            // One issuer per process first, so a process never holds two connections for it.
            let _local = self.local.lock().await;
            // On SQLite this takes the write lock: other processes' issuers wait here (busy
            // timeout) until we commit.
            let txn = super::begin_write(&self.db, "broker_tokens").await.map_err(storage)?;
            if self.db.get_database_backend() == DatabaseBackend::Postgres {
                txn.execute_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT pg_advisory_xact_lock($1)",
                    [lock_id(key).into()],
                ))
                .await
                .map_err(storage)?;
            }
            let existing = filter(key).one(&txn).await.map_err(storage)?;
            let current = existing.clone().map(to_stored);
            let token = match issue(current.clone()).await {
                Ok(t) => t,
                Err(e) => {
                    let _ = txn.rollback().await;
                    return Err(TokenStoreError::Issue(e));
                }
            };
            if current.as_ref() != Some(&token) {
                let now = Utc::now();
                match existing {
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
            }
            txn.commit().await.map_err(storage)?;
            Ok(token)
        })
    }
}
