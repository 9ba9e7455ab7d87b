//! The correlation id of an order: its idempotency key (`YYYYMMDD-<32 hex>`, derived from the
//! strategy, the trade date and the signal id, and unique in `orders.idempotency_key`). No second
//! id is invented: the key is already written ahead of the broker call and survives restarts.
//!
//! The trading core runs each order action (submit, cancel, resolution, a notice or fill of the
//! order) inside [`scope`]: a tracing span `order{cid=…}` that every log line of the action
//! carries (the KIS REST client's `kis call` line included), and a task-local value that the REST
//! client copies into the [`CallRecord`](crate::kis::http::raw::CallRecord) of each call and that
//! the core writes as `correlation_id` into the payload of the order's events.

use std::future::Future;
use std::sync::Arc;

use tracing::Instrument;

tokio::task_local! {
    static CORRELATION_ID: Arc<str>;
}

/// The payload field of an event (and of an audit row's details) that holds the correlation id.
pub const FIELD: &str = "correlation_id";

/// Runs `fut` under the correlation id `cid`: a span `order{cid}` and the task-local id read by
/// [`current`]. A nested scope replaces the outer id for its duration.
pub async fn scope<F: Future>(cid: &str, fut: F) -> F::Output {
    let span = tracing::info_span!("order", cid = %cid);
    CORRELATION_ID.scope(Arc::from(cid), fut.instrument(span)).await
}

/// Returns the correlation id of the running order action, if any.
pub fn current() -> Option<Arc<str>> {
    CORRELATION_ID.try_with(Arc::clone).ok()
}

/// Adds `correlation_id` to a JSON object payload (a payload that already has one, or is not an
/// object, is returned as it is).
pub fn tag(payload: serde_json::Value, cid: &str) -> serde_json::Value {
    match payload {
        serde_json::Value::Object(mut map) => {
            map.entry(FIELD).or_insert_with(|| serde_json::Value::String(cid.to_owned()));
            serde_json::Value::Object(map)
        }
        serde_json::Value::Null => serde_json::json!({ FIELD: cid }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_is_seen_inside_its_scope_only() {
        assert!(current().is_none());
        let inner = scope("20261207-abc", async { current().map(|c| c.to_string()) }).await;
        assert_eq!(inner.as_deref(), Some("20261207-abc"));
        assert!(current().is_none());
    }

    #[test]
    fn tag_adds_the_field_once() {
        let v = tag(serde_json::json!({ "a": 1 }), "k");
        assert_eq!(v, serde_json::json!({ "a": 1, "correlation_id": "k" }));
        let kept = tag(serde_json::json!({ "correlation_id": "x" }), "k");
        assert_eq!(kept, serde_json::json!({ "correlation_id": "x" }));
    }
}
