//! The Slack channel through slack-morphism, to a channel ID, on a configurable API base
//! (`SLACK_API_BASE`; plain `http` is accepted for loopback hosts only, so tests can use a local
//! fake Web API): chat.postMessage (in the channel, or in a thread and broadcast to the channel)
//! and chat.update with Block Kit. Rate limits (`ratelimited`, HTTP 429 with `Retry-After`) come
//! back as [`SlackError::RateLimited`] for the outbox worker to honour.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnectorBuilder;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::{
    SlackApiChatPostMessageRequest, SlackApiChatUpdateRequest, SlackApiToken, SlackApiTokenValue,
    SlackChannelId, SlackClient, SlackClientHyperConnector, SlackClientHyperHttpsConnector,
    SlackMessageContent, SlackTs,
};

use crate::config::SlackSettings;

/// Slack API error codes worth another attempt.
const RETRYABLE_CODES: &[&str] =
    &["internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"];

/// Errors of the Slack channel.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// The settings cannot be used (never includes the token).
    #[error("slack is misconfigured: {0}")]
    Config(String),
    /// Slack answered `ok: false`.
    #[error("slack api error: {code}")]
    Api {
        /// Slack's error code (e.g. `channel_not_found`).
        code: String,
    },
    /// Slack answered 429 or `ratelimited`.
    #[error("slack rate limited (retry after {retry_after:?})")]
    RateLimited {
        /// The `Retry-After` delay, when given.
        retry_after: Option<Duration>,
    },
    /// Slack answered an HTTP error status.
    #[error("slack http status {status}")]
    Http {
        /// The status code.
        status: u16,
    },
    /// The request did not complete (connection refused, reset, TLS).
    #[error("slack transport error: {0}")]
    Transport(String),
    /// The response could not be decoded.
    #[error("slack response could not be decoded: {0}")]
    Protocol(String),
}

impl SlackError {
    /// Returns true when another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Config(_) | Self::Protocol(_) => false,
            Self::Api { code } => RETRYABLE_CODES.contains(&code.as_str()),
            Self::RateLimited { .. } | Self::Transport(_) => true,
            Self::Http { status } => *status >= 500 || *status == 408 || *status == 429,
        }
    }

    /// Returns true when Slack asked to slow down (the attempt was not made: retrying it after
    /// the wait neither loses nor duplicates the message).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Self::RateLimited { .. })
    }

    /// Returns true when the message to update no longer exists (deleted, or in another channel).
    pub fn is_message_gone(&self) -> bool {
        matches!(self, Self::Api { code } if code == "message_not_found" || code == "cant_update_message")
    }

    /// Returns the delay Slack asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

impl From<SlackClientError> for SlackError {
    fn from(e: SlackClientError) -> Self {
        match e {
            SlackClientError::ApiError(a) if a.code == "ratelimited" => {
                Self::RateLimited { retry_after: None }
            }
            SlackClientError::ApiError(a) => Self::Api { code: a.code },
            SlackClientError::RateLimitError(r) => Self::RateLimited { retry_after: r.retry_after },
            SlackClientError::HttpError(h) if h.status_code.as_u16() == 429 => {
                Self::RateLimited { retry_after: None }
            }
            SlackClientError::HttpError(h) => Self::Http { status: h.status_code.as_u16() },
            SlackClientError::ProtocolError(p) => Self::Protocol(p.to_string()),
            other => Self::Transport(other.to_string()),
        }
    }
}

/// Returns true for `localhost` and loopback IP hosts.
pub(crate) fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Posts messages to one Slack channel.
pub struct SlackSender {
    client: SlackClient<SlackClientHyperHttpsConnector>,
    token: SlackApiToken,
    channel: SlackChannelId,
}

impl std::fmt::Debug for SlackSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSender").field("channel", &self.channel).field("token", &"REDACTED").finish()
    }
}

impl SlackSender {
    /// Builds a sender from the settings. The connector uses rustls with the ring provider and the
    /// system's root certificates; an `http` base is allowed for loopback hosts only.
    ///
    /// # Errors
    /// Returns [`SlackError::Config`] for a plain-http non-loopback base or when no root
    /// certificates can be loaded.
    pub fn new(settings: &SlackSettings) -> Result<Self, SlackError> {
        let base = &settings.api_base;
        let plain = base.scheme() == "http";
        if plain && !is_loopback_host(base) {
            return Err(SlackError::Config("SLACK_API_BASE may use http only for a loopback host".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = HttpsConnectorBuilder::new();
        let https = if plain {
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| SlackError::Config(e.to_string()))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            builder.with_tls_config(tls).https_or_http().enable_http1().enable_http2().build()
        } else {
            builder
                .with_provider_and_native_roots(provider)
                .map_err(|e| SlackError::Config(format!("cannot load root certificates: {e}")))?
                .https_only()
                .enable_http1()
                .enable_http2()
                .build()
        };
        let connector = SlackClientHyperConnector::with_connector(https)
            .with_slack_api_url(base.as_str().trim_end_matches('/'));
        Ok(Self {
            client: SlackClient::new(connector),
            token: SlackApiToken::new(SlackApiTokenValue::new(settings.bot_token.expose().to_owned())),
            channel: SlackChannelId::new(settings.channel_id.clone()),
        })
    }

    /// Returns the configured channel ID.
    pub fn channel(&self) -> &str {
        &self.channel.0
    }

    /// Posts one message (chat.postMessage) to the configured channel and returns Slack's id of
    /// it (`ts`). With `thread`, the message is a reply in the thread of that message, broadcast
    /// to the channel as well (`reply_broadcast`).
    ///
    /// # Errors
    /// Returns a [`SlackError`]; see [`SlackError::is_retryable`].
    pub async fn post(
        &self,
        content: &SlackMessageContent,
        thread: Option<&str>,
    ) -> Result<String, SlackError> {
        let session = self.client.open_session(&self.token);
        let mut req = SlackApiChatPostMessageRequest::new(self.channel.clone(), content.clone());
        if let Some(ts) = thread {
            req = req.with_thread_ts(SlackTs::new(ts.to_owned())).with_reply_broadcast(true);
        }
        Ok(session.chat_post_message(&req).await?.ts.0)
    }

    /// Replaces the content of a message of the configured channel (chat.update).
    ///
    /// # Errors
    /// Returns a [`SlackError`]; [`SlackError::is_message_gone`] when there is no such message.
    pub async fn update(&self, ts: &str, content: &SlackMessageContent) -> Result<(), SlackError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatUpdateRequest::new(
            self.channel.clone(),
            content.clone(),
            SlackTs::new(ts.to_owned()),
        );
        session.chat_update(&req).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_table() {
        let cases = [
            (SlackError::Config("x".into()), false),
            (SlackError::Api { code: "channel_not_found".into() }, false),
            (SlackError::Api { code: "invalid_auth".into() }, false),
            (SlackError::Api { code: "internal_error".into() }, true),
            (SlackError::RateLimited { retry_after: Some(Duration::from_secs(3)) }, true),
            (SlackError::Http { status: 500 }, true),
            (SlackError::Http { status: 503 }, true),
            (SlackError::Http { status: 408 }, true),
            (SlackError::Http { status: 404 }, false),
            (SlackError::Transport("connection refused".into()), true),
            (SlackError::Protocol("missing field ts".into()), false),
        ];
        for (e, want) in cases {
            assert_eq!(e.is_retryable(), want, "{e}");
        }
        assert!(SlackError::RateLimited { retry_after: None }.is_rate_limited());
        assert!(!SlackError::Http { status: 500 }.is_rate_limited());
        assert!(SlackError::Api { code: "message_not_found".into() }.is_message_gone());
        assert!(!SlackError::Api { code: "channel_not_found".into() }.is_message_gone());
    }

    #[test]
    fn rate_limits_keep_the_requested_wait() {
        use slack_morphism::errors::{SlackClientApiError, SlackRateLimitError};
        let limited = SlackError::from(SlackClientError::RateLimitError(
            SlackRateLimitError::new().with_retry_after(Duration::from_secs(7)),
        ));
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
        let coded =
            SlackError::from(SlackClientError::ApiError(SlackClientApiError::new("ratelimited".into())));
        assert!(coded.is_rate_limited() && coded.retry_after().is_none());
    }

    #[test]
    fn plain_http_only_for_loopback() {
        let settings = |base: &str| SlackSettings {
            bot_token: crate::config::Secret::new("xoxb-test-token"),
            channel_id: "C0123456789".into(),
            api_base: url::Url::parse(base).unwrap(),
        };
        assert!(SlackSender::new(&settings("http://127.0.0.1:9/api/")).is_ok());
        assert!(SlackSender::new(&settings("http://localhost:9/api")).is_ok());
        let err = SlackSender::new(&settings("http://slack.example.com/api")).unwrap_err();
        assert!(matches!(err, SlackError::Config(_)));
        let dbg = format!("{:?}", SlackSender::new(&settings("http://[::1]:9/api")).unwrap());
        assert!(!dbg.contains("xoxb-test-token"));
    }
}
