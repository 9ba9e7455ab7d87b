//! A local stand-in for the Slack Web API: records every `chat.postMessage` body with the time it
//! arrived and answers `ok`.

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
}

impl Post {
    /// Whether the post is an alert: an alert, a kill-switch trip or a stage that FAILED (routine
    /// stage transitions and journal summaries are not).
    pub fn is_alert(&self) -> bool {
        self.text.starts_with("aegis alert (")
            || self.text.starts_with("aegis: kill switch")
            || self.text.contains("→ FAILED")
    }
}

type Posts = Arc<Mutex<Vec<Post>>>;

/// The running stand-in.
#[derive(Debug, Clone)]
pub struct SlackStandIn {
    /// `SLACK_API_BASE` for the daemon.
    pub base: String,
    posts: Posts,
}

async fn post_message(State(posts): State<Posts>, Json(body): Json<Value>) -> Json<Value> {
    let text = body.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
    posts.lock().unwrap_or_else(PoisonError::into_inner).push(Post { at: Utc::now(), text: text.clone() });
    let ts = "1700000000.000100";
    Json(json!({
        "ok": true, "channel": body.get("channel"), "ts": ts,
        "message": {"type": "message", "ts": ts, "text": text},
    }))
}

impl SlackStandIn {
    /// Starts it on a free loopback port.
    ///
    /// # Errors
    /// Returns the bind error.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let posts: Posts = Arc::default();
        let app = axum::Router::new()
            .route("/api/chat.postMessage", axum::routing::post(post_message))
            .with_state(posts.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { base: format!("http://127.0.0.1:{port}/api/"), posts })
    }

    /// Every post so far.
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
