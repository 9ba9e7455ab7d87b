//! The `events` log: every difference, transition and error, with a masked JSON payload.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, QueryOrder, QuerySelect, Set};
use serde_json::Value;

use super::StoreError;
use crate::telemetry::{mask_account, mask_approval_key, scrubbed};

pub use crate::ports::event_log::Severity;

/// A stored event, as the operator views and tests read it back.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Row id.
    pub id: i64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Trading date it belongs to.
    pub trade_date: Option<NaiveDate>,
    /// Kind (`stage_transition`, `alert` …).
    pub kind: String,
    /// Stored severity ([`Severity::as_str`]).
    pub severity: String,
    /// The scrubbed message.
    pub message: String,
    /// The masked payload.
    pub payload: Value,
    /// Our order row it is about.
    pub order_id: Option<i64>,
}

impl From<entity::event::Model> for EventRecord {
    fn from(m: entity::event::Model) -> Self {
        Self {
            id: m.id,
            at: m.at,
            trade_date: m.trade_date,
            kind: m.kind,
            severity: m.severity,
            message: m.message,
            payload: m.payload,
            order_id: m.order_id,
        }
    }
}

/// Returns the payload with secrets masked: values under secret-like keys are replaced
/// (accounts keep their last 4 digits, approval keys their first 8 characters) and any
/// registered secret inside a string is scrubbed.
pub fn mask_payload(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    let masked = match lower.as_str() {
                        "approval_key" | "approvalkey" => {
                            v.as_str().map(|s| Value::String(mask_approval_key(s)))
                        }
                        "account" | "cano" | "acnt_no" | "account_no" => Some(Value::String(
                            v.as_str().map(mask_account).unwrap_or_else(|| "REDACTED".into()),
                        )),
                        "appkey" | "app_key" | "appsecret" | "app_secret" | "secretkey" | "token"
                        | "access_token" | "authorization" | "password" | "api_key" | "bot_token" => {
                            Some(Value::String("REDACTED".into()))
                        }
                        _ => None,
                    };
                    (k, masked.unwrap_or_else(|| mask_payload(v)))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(mask_payload).collect()),
        Value::String(s) => Value::String(scrubbed(&s)),
        other => other,
    }
}

/// Writes events.
#[derive(Debug, Clone)]
pub struct EventRecorder {
    db: DatabaseConnection,
}

impl EventRecorder {
    /// Creates a recorder on a connection.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Records one event and returns its id. The message is scrubbed and the payload masked.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the insert fails.
    pub async fn record(
        &self,
        kind: &str,
        severity: Severity,
        message: &str,
        payload: Value,
        trade_date: Option<NaiveDate>,
        order_id: Option<i64>,
    ) -> Result<i64, StoreError> {
        let row = entity::event::ActiveModel {
            at: Set(Utc::now()),
            trade_date: Set(trade_date),
            kind: Set(kind.to_owned()),
            severity: Set(severity.as_str().to_owned()),
            message: Set(scrubbed(message)),
            payload: Set(mask_payload(payload)),
            order_id: Set(order_id),
            ..Default::default()
        };
        let saved = row.insert(&self.db).await?;
        tracing::debug!(event_id = saved.id, kind, severity = severity.as_str(), "event recorded");
        Ok(saved.id)
    }

    /// Returns the most recent events, newest first.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn recent(&self, limit: u64) -> Result<Vec<EventRecord>, StoreError> {
        Ok(entity::event::Entity::find()
            .order_by_desc(entity::event::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(EventRecord::from)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn payload_masking() {
        let masked = mask_payload(json!({
            "appkey": "K".repeat(36),
            "nested": {"approval_key": "a2585daf-8c09-4587-9fce-8ab893xxxxxx", "CANO": "5012345601"},
            "list": [{"token": "eyJ..."}],
            "qty": 10,
        }));
        assert_eq!(masked["appkey"], "REDACTED");
        assert_eq!(masked["nested"]["approval_key"], "a2585daf...");
        assert_eq!(masked["nested"]["CANO"], "******5601");
        assert_eq!(masked["list"][0]["token"], "REDACTED");
        assert_eq!(masked["qty"], 10);
    }
}
