//! Local fakes of the notification channels (the notification and end-to-end suites): a Slack Web
//! API (axum) that records chat.postMessage and chat.update calls (each post gets its own `ts`)
//! and can fail, rate-limit (429 with `Retry-After`) or answer slowly on demand, and an SMTP sink
//! that speaks just enough SMTP for lettre.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aegis::config::{Secret, SlackSettings, SmtpSettings, SmtpTls};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Returns a port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn slack_settings(base: &str) -> SlackSettings {
    SlackSettings {
        bot_token: Secret::new("xoxb-notify-test-token"),
        channel_id: "C0123456789".into(),
        api_base: url::Url::parse(base).unwrap(),
    }
}

pub fn smtp_settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "aegis@example.com".into(),
        to: vec!["ops@example.com".into()],
    }
}

/// One accepted chat.postMessage or chat.update call.
#[derive(Debug, Clone)]
pub struct Post {
    pub channel: String,
    pub authorization: String,
    pub body: Value,
    /// The message's `ts`: given to a post, named by an update.
    pub ts: String,
    /// When it was accepted.
    pub at: Instant,
}

impl Post {
    /// The `thread_ts` of a reply.
    pub fn thread(&self) -> Option<&str> {
        self.body["thread_ts"].as_str()
    }

    /// Everything the message says (fallback text and blocks).
    pub fn content(&self) -> String {
        format!("{} {}", self.body["text"], self.body["blocks"])
    }
}

#[derive(Default)]
struct SlackState {
    posts: Mutex<Vec<Post>>,
    updates: Mutex<Vec<Post>>,
    failing: AtomicBool,
    rejected: AtomicUsize,
    api_error: Mutex<Option<String>>,
    /// The next this-many calls answer 429 with `Retry-After` (seconds).
    rate_limit: Mutex<(usize, u64)>,
    /// When each 429 was answered.
    limited: Mutex<Vec<Instant>>,
    /// How long a post takes.
    post_delay: Mutex<Duration>,
}

impl SlackState {
    /// The answer of a call that is refused, if it is.
    fn refusal(&self) -> Option<Response> {
        if self.failing.load(Ordering::SeqCst) {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            return Some((StatusCode::INTERNAL_SERVER_ERROR, "upstream down").into_response());
        }
        {
            let mut limit = self.rate_limit.lock().unwrap();
            if limit.0 > 0 {
                limit.0 -= 1;
                self.limited.lock().unwrap().push(Instant::now());
                let body = Json(json!({"ok": false, "error": "ratelimited"}));
                return Some(
                    (StatusCode::TOO_MANY_REQUESTS, [("retry-after", limit.1.to_string())], body)
                        .into_response(),
                );
            }
        }
        if let Some(code) = self.api_error.lock().unwrap().clone() {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            return Some(Json(json!({"ok": false, "error": code})).into_response());
        }
        None
    }
}

/// A fake Slack Web API on 127.0.0.1.
pub struct FakeSlack {
    pub base: String,
    state: Arc<SlackState>,
}

async fn post_message(
    State(state): State<Arc<SlackState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = state.refusal() {
        return refused;
    }
    let delay = *state.post_delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let channel = body["channel"].as_str().unwrap_or_default().to_owned();
    let authorization =
        headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = body["text"].clone();
    let ts = {
        let mut posts = state.posts.lock().unwrap();
        let ts = format!("1700000000.{:06}", 100 + posts.len());
        posts.push(Post {
            channel: channel.clone(),
            authorization,
            body,
            ts: ts.clone(),
            at: Instant::now(),
        });
        ts
    };
    Json(json!({"ok": true, "channel": channel, "ts": ts, "message": {"type": "message", "ts": ts, "text": text}}))
        .into_response()
}

async fn update_message(
    State(state): State<Arc<SlackState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = state.refusal() {
        return refused;
    }
    let channel = body["channel"].as_str().unwrap_or_default().to_owned();
    let ts = body["ts"].as_str().unwrap_or_default().to_owned();
    let known = state.posts.lock().unwrap().iter().any(|p| p.ts == ts && p.channel == channel);
    if !known {
        return Json(json!({"ok": false, "error": "message_not_found"})).into_response();
    }
    let authorization =
        headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = body["text"].clone();
    state.updates.lock().unwrap().push(Post {
        channel: channel.clone(),
        authorization,
        body,
        ts: ts.clone(),
        at: Instant::now(),
    });
    Json(json!({"ok": true, "channel": channel, "ts": ts, "text": text, "message": {"text": text}}))
        .into_response()
}

impl FakeSlack {
    pub async fn start() -> Self {
        Self::serve(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    pub async fn start_on(port: u16) -> Self {
        Self::serve(TcpListener::bind(("127.0.0.1", port)).await.unwrap())
    }

    fn serve(listener: TcpListener) -> Self {
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(SlackState::default());
        let app = axum::Router::new()
            .route("/api/chat.postMessage", axum::routing::post(post_message))
            .route("/api/chat.update", axum::routing::post(update_message))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base: format!("http://127.0.0.1:{port}/api/"), state }
    }

    /// Every accepted chat.postMessage, in order.
    pub fn posts(&self) -> Vec<Post> {
        self.state.posts.lock().unwrap().clone()
    }

    /// Every accepted chat.update, in order.
    pub fn updates(&self) -> Vec<Post> {
        self.state.updates.lock().unwrap().clone()
    }

    /// The next `calls` calls answer 429 with `Retry-After: {retry_after_secs}`.
    pub fn rate_limit(&self, calls: usize, retry_after_secs: u64) {
        *self.state.rate_limit.lock().unwrap() = (calls, retry_after_secs);
    }

    /// When each 429 was answered.
    pub fn limited(&self) -> Vec<Instant> {
        self.state.limited.lock().unwrap().clone()
    }

    /// Makes every post take this long.
    pub fn set_post_delay(&self, delay: Duration) {
        *self.state.post_delay.lock().unwrap() = delay;
    }

    pub fn rejected(&self) -> usize {
        self.state.rejected.load(Ordering::SeqCst)
    }

    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    pub fn set_api_error(&self, code: Option<&str>) {
        *self.state.api_error.lock().unwrap() = code.map(str::to_owned);
    }
}

/// One received mail.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// An SMTP sink on 127.0.0.1: 220, EHLO/HELO → 250, MAIL/RCPT → 250, DATA → 354 … "." → 250,
/// QUIT → 221.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let sink = mails.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(session(sock, sink.clone()));
            }
        });
        Self { port, mails }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

async fn session(sock: tokio::net::TcpStream, mails: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut lines = BufReader::new(r).lines();
    w.write_all(b"220 sink ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            w.write_all(b"250 sink\r\n").await?;
        } else if let Some(addr) = upper.strip_prefix("MAIL FROM:").map(|_| line[10..].trim().to_owned()) {
            from = addr;
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(line[8..].trim().to_owned());
            w.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            w.write_all(b"354 end with .\r\n").await?;
            let mut data = String::new();
            while let Some(l) = lines.next_line().await? {
                if l == "." {
                    break;
                }
                data.push_str(&l);
                data.push('\n');
            }
            mails.lock().unwrap().push(Mail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            w.write_all(b"250 queued\r\n").await?;
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            w.write_all(b"250 OK\r\n").await?;
        }
    }
    Ok(())
}
