//! The outbox worker: a background task that delivers due rows with exponential retries, records
//! every failed delivery as a `notify.delivery_failed` event and marks a row FAILED after its last
//! attempt. Rows left PENDING by a previous process are picked up at start.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use slack_morphism::prelude::SlackMessageContent;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Console, EmailError, EmailMessage, EmailSender, NowFn, SlackError, SlackSender, system_clock};
use crate::config::Settings;
use crate::store::outbox::{Outbox, OutboxChannel, OutboxEntry};
use crate::store::{EventRecorder, Severity, Store, StoreError};
use crate::telemetry::Redactor;

/// Longest error text kept in a row or an event (Slack decode errors quote the whole body).
const ERROR_MAX: usize = 500;

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", text.get(..i).unwrap_or(text)),
        None => text.to_owned(),
    }
}

/// Exponential backoff between delivery attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRetry {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Delay after the first failed attempt.
    pub initial: Duration,
    /// Upper bound of a delay.
    pub max: Duration,
}

impl Default for DeliveryRetry {
    fn default() -> Self {
        Self { max_attempts: 5, initial: Duration::from_secs(1), max: Duration::from_secs(60) }
    }
}

impl DeliveryRetry {
    /// Returns the delay after failed attempt number `attempt` (1-based): `initial * 2^(attempt-1)`,
    /// capped at `max`.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.initial.checked_mul(factor).unwrap_or(self.max).min(self.max)
    }
}

/// Tuning of the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Retry policy.
    pub retry: DeliveryRetry,
    /// Longest idle sleep between looks at the table (rows from other processes are found by it).
    pub poll_interval: Duration,
    /// Time limit of one delivery.
    pub send_timeout: Duration,
    /// How long a claimed row is reserved; a crash mid-delivery retries it after this.
    pub lease: Duration,
    /// Rows taken per pass.
    pub batch: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            retry: DeliveryRetry::default(),
            poll_interval: Duration::from_secs(5),
            send_timeout: Duration::from_secs(30),
            lease: Duration::from_secs(120),
            batch: 50,
        }
    }
}

/// Why one delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Slack refused or could not be reached.
    #[error(transparent)]
    Slack(#[from] SlackError),
    /// SMTP refused or could not be reached.
    #[error(transparent)]
    Email(#[from] EmailError),
    /// The row's channel is not configured in this process.
    #[error("channel {0} is not configured")]
    NotConfigured(&'static str),
    /// The stored payload is not a message of its channel.
    #[error("bad payload: {0}")]
    BadPayload(String),
    /// The delivery took longer than the send timeout.
    #[error("delivery timed out after {0:?}")]
    Timeout(Duration),
}

impl DeliveryError {
    /// Returns true when another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Slack(e) => e.is_retryable(),
            Self::Email(e) => e.is_retryable(),
            Self::NotConfigured(_) | Self::BadPayload(_) => false,
            Self::Timeout(_) => true,
        }
    }
}

/// The channel adapters a worker delivers through.
#[derive(Debug, Default)]
pub struct Deliverers {
    /// Slack, when configured.
    pub slack: Option<SlackSender>,
    /// Email, when configured.
    pub email: Option<EmailSender>,
    /// The console (for CONSOLE rows).
    pub console: Console,
}

impl Deliverers {
    /// Builds the adapters the settings configure.
    ///
    /// # Errors
    /// Returns the [`DeliveryError`] of an adapter that cannot be built.
    pub fn from_settings(settings: &Settings, console: Console) -> Result<Self, DeliveryError> {
        Ok(Self {
            slack: settings.slack.as_ref().map(SlackSender::new).transpose()?,
            email: settings.smtp.as_ref().map(EmailSender::new).transpose()?,
            console,
        })
    }

    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError> {
        let bad = |e: serde_json::Error| DeliveryError::BadPayload(e.to_string());
        match entry.channel {
            OutboxChannel::Slack => {
                let slack = self.slack.as_ref().ok_or(DeliveryError::NotConfigured("SLACK"))?;
                let content: SlackMessageContent =
                    serde_json::from_value(entry.payload.clone()).map_err(bad)?;
                Ok(slack.post(&content).await?)
            }
            OutboxChannel::Email => {
                let email = self.email.as_ref().ok_or(DeliveryError::NotConfigured("EMAIL"))?;
                let msg: EmailMessage = serde_json::from_value(entry.payload.clone()).map_err(bad)?;
                Ok(email.send(&msg).await?)
            }
            OutboxChannel::Console => {
                let line = entry.payload.get("line").and_then(|l| l.as_str());
                self.console.write(line.ok_or_else(|| DeliveryError::BadPayload("no `line`".into()))?);
                Ok(())
            }
        }
    }
}

/// Delivers outbox rows in the background.
pub struct OutboxWorker {
    outbox: Outbox,
    events: EventRecorder,
    deliverers: Deliverers,
    config: WorkerConfig,
    wake: Arc<Notify>,
    clock: NowFn,
}

impl std::fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxWorker").field("config", &self.config).finish_non_exhaustive()
    }
}

impl OutboxWorker {
    /// Creates a worker on a store; `wake` is the [`super::Fanout::waker`] of the producer.
    pub fn new(store: &Store, deliverers: Deliverers, config: WorkerConfig, wake: Arc<Notify>) -> Self {
        Self {
            outbox: store.outbox(),
            events: store.events(),
            deliverers,
            config,
            wake,
            clock: system_clock(),
        }
    }

    /// Replaces the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: NowFn) -> Self {
        self.clock = clock;
        self
    }

    /// Spawns [`OutboxWorker::run`] on the runtime.
    pub fn spawn(self, cancel: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(self.run(cancel))
    }

    /// Delivers due rows until cancelled, sleeping until the next due row, a wake-up or the poll
    /// interval.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!("notification outbox worker started");
        while !cancel.is_cancelled() {
            let pause = match self.run_once().await {
                Ok(n) if n as u64 >= self.config.batch => Duration::ZERO,
                Ok(_) => self.idle_pause().await,
                Err(e) => {
                    tracing::warn!(error = %e, "notification outbox unavailable");
                    self.config.poll_interval
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("notification outbox worker stopped");
    }

    async fn idle_pause(&self) -> Duration {
        let poll = self.config.poll_interval;
        match self.outbox.next_due_at().await {
            Ok(Some(at)) => (at - (self.clock)()).to_std().unwrap_or(Duration::ZERO).min(poll),
            Ok(None) | Err(_) => poll,
        }
    }

    /// Makes one attempt at every due row (up to the batch size) and returns how many it tried.
    ///
    /// # Errors
    /// Returns a [`StoreError`] when the due rows cannot be read; errors on single rows are logged.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let due = self.outbox.due((self.clock)(), self.config.batch).await?;
        let mut tried = 0;
        for entry in due {
            match self.attempt(&entry).await {
                Ok(true) => tried += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(outbox_id = entry.id, error = %e, "outbox row not updated"),
            }
        }
        Ok(tried)
    }

    async fn attempt(&self, entry: &OutboxEntry) -> Result<bool, StoreError> {
        let lease_until = (self.clock)() + self.config.lease;
        if !self.outbox.claim(entry, lease_until).await? {
            return Ok(false);
        }
        let attempt = entry.attempts.saturating_add(1);
        let result =
            match tokio::time::timeout(self.config.send_timeout, self.deliverers.deliver(entry)).await {
                Ok(r) => r,
                Err(_) => Err(DeliveryError::Timeout(self.config.send_timeout)),
            };
        let now = (self.clock)();
        let err = match result {
            Ok(()) => {
                self.outbox.mark_sent(entry.id, now).await?;
                tracing::debug!(
                    outbox_id = entry.id,
                    channel = entry.channel.as_str(),
                    "notification delivered"
                );
                return Ok(true);
            }
            Err(e) => e,
        };
        let text = truncate(&Redactor::global().scrub(&err.to_string()), ERROR_MAX);
        let retryable = err.is_retryable();
        let last = !retryable || attempt >= self.config.retry.max_attempts;
        // The event first: whoever sees the row's new state finds its failure recorded too.
        let message = format!(
            "{} delivery of {} #{} failed (attempt {attempt}/{}{}): {text}",
            entry.channel.as_str(),
            entry.kind,
            entry.id,
            self.config.retry.max_attempts,
            if last { ", giving up" } else { "" },
        );
        tracing::warn!(outbox_id = entry.id, channel = entry.channel.as_str(), attempt, last, error = %text, "notification delivery failed");
        let payload = json!({
            "outbox_id": entry.id,
            "channel": entry.channel.as_str(),
            "kind": entry.kind,
            "attempt": attempt,
            "max_attempts": self.config.retry.max_attempts,
            "retryable": retryable,
            "final": last,
            "error": text,
        });
        if let Err(e) = self
            .events
            .record("notify.delivery_failed", Severity::Warning, &message, payload, None, None)
            .await
        {
            tracing::warn!(outbox_id = entry.id, error = %e, "delivery failure not recorded as an event");
        }
        if last {
            self.outbox.mark_failed(entry.id, &text).await?;
        } else {
            let mut delay = self.config.retry.delay_after(attempt);
            if let DeliveryError::Slack(s) = &err {
                delay = delay.max(s.retry_after().unwrap_or_default());
            }
            self.outbox.schedule_retry(entry.id, now + delay, &text).await?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = DeliveryRetry::default();
        let secs: Vec<u64> = (1..=8).map(|a| p.delay_after(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(p.delay_after(200), Duration::from_secs(60));
        assert_eq!(p.delay_after(0), Duration::from_secs(1));
    }

    #[test]
    fn long_errors_are_cut() {
        assert_eq!(truncate("héllo", 3), "hél…");
        assert_eq!(truncate("héllo", 5), "héllo");
    }

    #[test]
    fn delivery_errors_retryable() {
        assert!(DeliveryError::Timeout(Duration::from_secs(1)).is_retryable());
        assert!(!DeliveryError::NotConfigured("SLACK").is_retryable());
        assert!(!DeliveryError::BadPayload("x".into()).is_retryable());
        assert!(DeliveryError::Slack(SlackError::Http { status: 502 }).is_retryable());
    }
}
