//! A local stand-in for the Slack Web API: records every `chat.postMessage` (with the time it
//! arrived and whether it is a reply in a thread) and every `chat.update`, and answers `ok` — each
//! post with its own `ts`, an update of an unknown `ts` with `message_not_found`.

use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// One recorded post.
#[derive(Debug, Clone)]
pub struct Post {
    /// When it arrived (wall clock).
    pub at: DateTime<Utc>,
    /// The message's fallback text.
    pub text: String,
    /// Its `ts`.
    pub ts: String,
    /// A reply in a thread (what needs a human) rather than a day's message.
    pub reply: bool,
}

impl Post {
    /// Whether the post is an alert: an alert, a kill-switch trip or a stage that FAILED (the
    /// day's message and the journal are not).
    pub fn is_alert(&self) -> bool {
        self.text.starts_with("aegis alert (")
            || self.text.starts_with("aegis: kill switch")
            || self.text.contains("→ FAILED")
    }

    /// The trade date of a day's message (its text starts `aegis <date>:`).
    pub fn day(&self) -> Option<&str> {
        if self.reply {
            return None;
        }
        self.text.strip_prefix("aegis ").and_then(|t| t.split(':').next())
    }
}

#[derive(Debug, Default)]
struct Calls {
    posts: Vec<Post>,
    updates: usize,
}

type Shared = Arc<Mutex<Calls>>;

/// The running stand-in.
#[derive(Debug, Clone)]
pub struct SlackStandIn {
    /// `SLACK_API_BASE` for the daemon.
    pub base: String,
    calls: Shared,
}

async fn post_message(State(calls): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    let text = body.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
    let reply = body.get("thread_ts").and_then(Value::as_str).is_some();
    let ts = {
        let mut calls = calls.lock().unwrap_or_else(PoisonError::into_inner);
        let ts = format!("1700000000.{:06}", 100 + calls.posts.len());
        calls.posts.push(Post { at: Utc::now(), text: text.clone(), ts: ts.clone(), reply });
        ts
    };
    Json(json!({
        "ok": true, "channel": body.get("channel"), "ts": ts,
        "message": {"type": "message", "ts": ts, "text": text},
    }))
}

async fn update_message(State(calls): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    let ts = body.get("ts").and_then(Value::as_str).unwrap_or_default().to_owned();
    let text = body.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut calls = calls.lock().unwrap_or_else(PoisonError::into_inner);
    if !calls.posts.iter().any(|p| p.ts == ts) {
        return Json(json!({"ok": false, "error": "message_not_found"}));
    }
    calls.updates += 1;
    Json(
        json!({"ok": true, "channel": body.get("channel"), "ts": ts, "text": text, "message": {"text": text}}),
    )
}

impl SlackStandIn {
    /// Starts it on a free loopback port.
    ///
    /// # Errors
    /// Returns the bind error.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let calls: Shared = Arc::default();
        let app = axum::Router::new()
            .route("/api/chat.postMessage", axum::routing::post(post_message))
            .route("/api/chat.update", axum::routing::post(update_message))
            .with_state(calls.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { base: format!("http://127.0.0.1:{port}/api/"), calls })
    }

    /// Every post so far (day messages and replies).
    pub fn posts(&self) -> Vec<Post> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).posts.clone()
    }

    /// How many updates of a day's message so far.
    pub fn updates(&self) -> usize {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).updates
    }
}
