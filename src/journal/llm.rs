//! An OpenAI-compatible chat-completions client: `POST {base}/chat/completions` with a bearer key,
//! a per-attempt timeout, retries with backoff on timeouts and server errors, a response size
//! limit, and the token usage when the provider reports it.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::config::{AiSettings, Secret};
use crate::telemetry::{Redactor, scrubbed};

/// Settings of the chat-completions client.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Base URL (`https://api.openai.com/v1`); `/chat/completions` is appended.
    pub api_base: Url,
    /// Bearer key, if the provider needs one.
    pub api_key: Option<Secret>,
    /// Model name.
    pub model: String,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Further attempts after a timeout, transport error, 408, 429 or 5xx.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Largest accepted response body, in bytes.
    pub max_response_bytes: usize,
    /// Ask for a JSON object (`response_format: json_object`).
    pub json_mode: bool,
}

impl LlmConfig {
    /// Returns the client settings of the configured provider: 2 retries, 1 s backoff, 1 MiB limit.
    pub fn from_settings(ai: &AiSettings) -> Self {
        Self {
            api_base: ai.api_base.clone(),
            api_key: ai.api_key.clone(),
            model: ai.model.clone(),
            timeout: ai.timeout,
            retries: 2,
            backoff: Duration::from_secs(1),
            max_response_bytes: 1024 * 1024,
            json_mode: true,
        }
    }
}

/// Errors of a chat-completions call. Messages never hold the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// The base URL cannot take `chat/completions`.
    #[error("invalid AI_API_BASE: {0}")]
    InvalidUrl(String),
    /// The HTTP client could not be built.
    #[error("cannot build the http client: {0}")]
    Client(String),
    /// No answer within the timeout.
    #[error("chat completion timed out after {timeout_ms} ms")]
    Timeout {
        /// The per-attempt timeout.
        timeout_ms: u128,
    },
    /// The request failed before a complete response.
    #[error("chat completion transport error: {0}")]
    Transport(String),
    /// The provider answered with a non-success status.
    #[error("chat completion answered HTTP {status}: {excerpt}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The start of the body (scrubbed).
        excerpt: String,
    },
    /// The response exceeds the size limit.
    #[error("chat completion response exceeds {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The response is not a chat completion.
    #[error("chat completion response is malformed: {0}")]
    Malformed(String),
}

impl LlmError {
    /// Returns true when another attempt may succeed (timeouts, transport, 408, 429, 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Transport(_) => true,
            Self::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            Self::InvalidUrl(_) | Self::Client(_) | Self::TooLarge { .. } | Self::Malformed(_) => false,
        }
    }

    /// Returns the outcome label stored in `ai_job_runs`.
    pub const fn outcome(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "TIMEOUT",
            _ => "FAILED",
        }
    }
}

/// A successful completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatReply {
    /// The assistant message text.
    pub content: String,
    /// Prompt tokens, when reported.
    pub prompt_tokens: Option<i64>,
    /// Completion tokens, when reported.
    pub completion_tokens: Option<i64>,
    /// Attempts made.
    pub attempts: u32,
}

/// A failed completion and the attempts made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error} (after {attempts} attempts)")]
pub struct ChatFailure {
    /// The last error.
    pub error: LlmError,
    /// Attempts made.
    pub attempts: u32,
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<i64>,
    #[serde(default)]
    completion_tokens: Option<i64>,
}

fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    scrubbed(&text)
}

/// The chat-completions client.
#[derive(Debug, Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    url: Url,
    config: LlmConfig,
}

impl LlmClient {
    /// Builds a client; certificate checks stay on.
    ///
    /// # Errors
    /// Returns [`LlmError::InvalidUrl`] or [`LlmError::Client`].
    pub fn new(config: LlmConfig) -> Result<Self, LlmError> {
        let mut base = config.api_base.clone();
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(LlmError::InvalidUrl(base.to_string()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let url = base.join("chat/completions").map_err(|e| LlmError::InvalidUrl(e.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("aegis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Client(chain(&e)))?;
        Ok(Self { http, url, config })
    }

    /// Returns the model name.
    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// Sends one system and one user message and returns the reply, retrying retryable failures.
    ///
    /// # Errors
    /// Returns [`ChatFailure`] with the last error when every attempt failed.
    pub async fn chat(&self, system: &str, user: &str) -> Result<ChatReply, ChatFailure> {
        let mut body = json!({
            "model": self.config.model,
            "messages": [
                { "role": "system", "content": system },
                { "role": "user", "content": user },
            ],
            "temperature": 0.2,
        });
        if self.config.json_mode {
            body["response_format"] = json!({ "type": "json_object" });
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(&body).await {
                Ok(mut reply) => {
                    reply.attempts = attempts;
                    return Ok(reply);
                }
                Err(error) if error.is_retryable() && attempts <= self.config.retries => {
                    let wait = self.config.backoff.saturating_mul(1 << (attempts - 1).min(8));
                    tracing::warn!(attempts, error = %error, "chat completion failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(error) => return Err(ChatFailure { error, attempts }),
            }
        }
    }

    async fn attempt(&self, body: &serde_json::Value) -> Result<ChatReply, LlmError> {
        let timeout_ms = self.config.timeout.as_millis();
        let transport = |e: reqwest::Error| {
            if e.is_timeout() { LlmError::Timeout { timeout_ms } } else { LlmError::Transport(chain(&e)) }
        };
        let mut request = self.http.post(self.url.clone()).json(body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose());
        }
        let started = Instant::now();
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        let limit = self.config.max_response_bytes;
        if response.content_length().is_some_and(|len| len > limit as u64) {
            return Err(LlmError::TooLarge { limit });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > limit {
                return Err(LlmError::TooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        tracing::debug!(
            status = status.as_u16(),
            bytes = bytes.len(),
            ms = started.elapsed().as_millis(),
            "chat completion"
        );
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let excerpt: String = Redactor::global().scrub(&text).chars().take(200).collect();
            return Err(LlmError::Status { status: status.as_u16(), excerpt });
        }
        let completion: Completion =
            serde_json::from_slice(&bytes).map_err(|e| LlmError::Malformed(e.to_string()))?;
        let content = completion
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| LlmError::Malformed("no choices[0].message.content".into()))?;
        let usage = completion.usage;
        Ok(ChatReply {
            content,
            prompt_tokens: usage.as_ref().and_then(|u| u.prompt_tokens),
            completion_tokens: usage.as_ref().and_then(|u| u.completion_tokens),
            attempts: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_table() {
        let status = |status| LlmError::Status { status, excerpt: String::new() };
        for (e, retry) in [
            (LlmError::Timeout { timeout_ms: 1 }, true),
            (LlmError::Transport("reset".into()), true),
            (status(500), true),
            (status(503), true),
            (status(429), true),
            (status(408), true),
            (status(400), false),
            (status(401), false),
            (LlmError::TooLarge { limit: 1 }, false),
            (LlmError::Malformed("x".into()), false),
            (LlmError::InvalidUrl("x".into()), false),
        ] {
            assert_eq!(e.is_retryable(), retry, "{e}");
        }
        assert_eq!(LlmError::Timeout { timeout_ms: 1 }.outcome(), "TIMEOUT");
        assert_eq!(status(500).outcome(), "FAILED");
    }

    #[test]
    fn the_endpoint_is_joined_under_the_base_path() {
        let config = |base: &str| LlmConfig {
            api_base: Url::parse(base).unwrap(),
            api_key: Some(Secret::new("sk-test-key-123")),
            model: "m".into(),
            timeout: Duration::from_secs(1),
            retries: 0,
            backoff: Duration::ZERO,
            max_response_bytes: 1024,
            json_mode: true,
        };
        let c = LlmClient::new(config("http://127.0.0.1:9/v1")).unwrap();
        assert_eq!(c.url.as_str(), "http://127.0.0.1:9/v1/chat/completions");
        assert!(matches!(LlmClient::new(config("mailto:a@b.c")), Err(LlmError::InvalidUrl(_))));
        assert!(!format!("{c:?}").contains("sk-test-key-123"));
    }
}
