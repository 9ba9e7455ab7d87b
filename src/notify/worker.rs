//! The outbox worker: a background task that delivers due rows with exponential retries, records
//! every failed delivery as a `notify.delivery_failed` event and marks a row FAILED after its last
//! attempt. Rows left PENDING by a previous process are picked up at start.
//!
//! Slack rows follow the day message ([`super::day`]): only the newest version of a day's message
//! is sent (older ones are SUPERSEDED), the first one posts it and records its `ts`, later ones
//! update it (`chat.update`); one delivery at a time may post it, so an update never overtakes
//! the post. A thread reply waits for its day's message while that is still on its way. A rate
//! limit (`ratelimited`, HTTP 429 with `Retry-After`) is not a failed attempt: the row, and every
//! Slack row after it, waits the time Slack asked for and is sent then, once.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use slack_morphism::prelude::SlackMessageContent;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::day::SlackPayload;
use super::{Console, EmailError, EmailMessage, EmailSender, NowFn, SlackError, SlackSender, system_clock};
use crate::config::Settings;
use crate::store::outbox::{Outbox, OutboxChannel, OutboxEntry, OutboxStatus};
use crate::store::slack_days::{DayMessage, SlackDays};
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
    /// The state of the day's Slack message could not be read or written.
    #[error("notification store: {0}")]
    Store(#[from] StoreError),
}

impl DeliveryError {
    /// Returns true when another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Slack(e) => e.is_retryable(),
            Self::Email(e) => e.is_retryable(),
            Self::NotConfigured(_) | Self::BadPayload(_) => false,
            Self::Timeout(_) | Self::Store(_) => true,
        }
    }
}

/// What became of a row that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivered {
    /// Sent.
    Sent,
    /// A newer row of the same day's message exists: nothing sent.
    Superseded,
    /// Not attempted: it waits (for its day's message) until then.
    Wait(DateTime<Utc>),
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

    /// Delivers an email or console row (Slack rows need the worker's store).
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError> {
        let bad = |e: serde_json::Error| DeliveryError::BadPayload(e.to_string());
        match entry.channel {
            OutboxChannel::Slack => Err(DeliveryError::BadPayload("a slack row needs the worker".into())),
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
    days: SlackDays,
    events: EventRecorder,
    /// Slack asked to wait until then (a rate limit): no Slack row is attempted before.
    slack_paused_until: Mutex<Option<DateTime<Utc>>>,
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
            days: store.slack_days(),
            events: store.events(),
            slack_paused_until: Mutex::new(None),
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
            let pass = self.run_once().await;
            self.publish_backlog().await;
            let pause = match pass {
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

    /// Exports the PENDING rows per channel (one small read per pass).
    async fn publish_backlog(&self) {
        match self.outbox.pending_by_channel().await {
            Ok(counts) => crate::obs::record::outbox_pending(&counts),
            Err(e) => tracing::debug!(error = %e, "outbox backlog not read"),
        }
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
        if entry.channel == OutboxChannel::Slack
            && let Some(until) = self.slack_paused((self.clock)())
        {
            self.outbox.postpone(entry, until).await?;
            return Ok(false);
        }
        let result =
            match tokio::time::timeout(self.config.send_timeout, self.deliver(entry, lease_until)).await {
                Ok(r) => r,
                Err(_) => Err(DeliveryError::Timeout(self.config.send_timeout)),
            };
        let now = (self.clock)();
        let err = match result {
            Ok(Delivered::Superseded) => {
                self.outbox.supersede(entry.id).await?;
                tracing::debug!(outbox_id = entry.id, "day message superseded by a newer version");
                return Ok(true);
            }
            Ok(Delivered::Wait(until)) => {
                self.outbox.postpone(entry, until).await?;
                tracing::debug!(outbox_id = entry.id, %until, "slack reply waits for the day's message");
                return Ok(true);
            }
            Err(DeliveryError::Slack(e)) if e.is_rate_limited() => {
                // Slack did not take the message: it is sent after the wait, once, and the wait
                // is not a failed attempt.
                let wait = e.retry_after().unwrap_or(self.config.retry.max);
                let until = now + wait;
                self.pause_slack(until);
                self.outbox.postpone(entry, until).await?;
                tracing::warn!(
                    outbox_id = entry.id,
                    kind = entry.kind,
                    retry_after_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "slack rate limited; waiting as asked"
                );
                return Ok(true);
            }
            Ok(Delivered::Sent) => {
                self.outbox.mark_sent(entry.id, now).await?;
                crate::obs::record::outbox_delivered(entry.channel.as_str());
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
        crate::obs::record::outbox_failed(entry.channel.as_str(), last);
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
            self.outbox.schedule_retry(entry.id, now + self.config.retry.delay_after(attempt), &text).await?;
        }
        Ok(true)
    }

    /// Returns until when Slack asked to wait, if that is still ahead.
    fn slack_paused(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let paused = self.slack_paused_until.lock().unwrap_or_else(PoisonError::into_inner);
        paused.filter(|until| *until > now)
    }

    fn pause_slack(&self, until: DateTime<Utc>) {
        let mut paused = self.slack_paused_until.lock().unwrap_or_else(PoisonError::into_inner);
        *paused = Some(paused.map_or(until, |p| p.max(until)));
    }

    /// How long a reply waits before it looks for its day's message again.
    fn wait_step(&self) -> Duration {
        self.config.poll_interval.min(Duration::from_secs(1))
    }

    async fn deliver(
        &self,
        entry: &OutboxEntry,
        lease_until: DateTime<Utc>,
    ) -> Result<Delivered, DeliveryError> {
        if entry.channel != OutboxChannel::Slack {
            return self.deliverers.deliver(entry).await.map(|()| Delivered::Sent);
        }
        let slack = self.deliverers.slack.as_ref().ok_or(DeliveryError::NotConfigured("SLACK"))?;
        let payload = SlackPayload::from_value(entry.payload.clone())
            .map_err(|e| DeliveryError::BadPayload(e.to_string()))?;
        match payload {
            SlackPayload::Plain(message) => {
                slack.post(&message, None).await.map(|_| Delivered::Sent).map_err(Into::into)
            }
            SlackPayload::Day { trade_date, message } => {
                self.deliver_day(slack, entry, trade_date, &message, lease_until).await
            }
            SlackPayload::Thread { trade_date, message } => {
                self.deliver_reply(slack, trade_date, &message).await
            }
        }
    }

    /// Sends a version of the day's message: nothing when a newer version exists, an update of
    /// the posted message, or the post itself by the one delivery allowed to make it.
    async fn deliver_day(
        &self,
        slack: &SlackSender,
        entry: &OutboxEntry,
        date: NaiveDate,
        message: &SlackMessageContent,
        lease_until: DateTime<Utc>,
    ) -> Result<Delivered, DeliveryError> {
        let Some(day) = self.days.get(date).await? else {
            // No state of the day (written with every version): post it on its own.
            slack.post(message, None).await?;
            return Ok(Delivered::Sent);
        };
        if day.outbox_id.is_some_and(|newest| newest > entry.id) {
            return Ok(Delivered::Superseded);
        }
        if let Some(ts) = day.ts_in(slack.channel()) {
            match slack.update(ts, message).await {
                Ok(()) => return Ok(Delivered::Sent),
                // Deleted in Slack: the day gets a new message.
                Err(e) if e.is_message_gone() => self.days.forget(date, ts).await?,
                Err(e) => return Err(e.into()),
            }
        }
        let now = (self.clock)();
        if !self.days.claim_post(date, slack.channel(), now, lease_until).await? {
            // Another delivery is posting it (or just did): update once it is there.
            return Ok(Delivered::Wait(now + self.wait_step()));
        }
        match slack.post(message, None).await {
            Ok(ts) => {
                self.record_posted(date, slack.channel(), &ts).await;
                Ok(Delivered::Sent)
            }
            Err(e) => {
                if let Err(se) = self.days.release_post(date).await {
                    tracing::warn!(%date, error = %se, "claim to post the day's message not released");
                }
                Err(e.into())
            }
        }
    }

    /// Keeps the `ts` of a posted day message (a few tries: without it the next version would
    /// post a second message).
    async fn record_posted(&self, date: NaiveDate, channel: &str, ts: &str) {
        for n in 1..=3u32 {
            match self.days.posted(date, channel, ts, (self.clock)()).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(%date, attempt = n, error = %e, "the day message's ts not recorded");
                    tokio::time::sleep(Duration::from_millis(200) * n).await;
                }
            }
        }
    }

    /// Sends a reply in the day's thread, broadcast to the channel; it waits while the day's
    /// message is on its way, and goes in the channel alone when the day has none.
    async fn deliver_reply(
        &self,
        slack: &SlackSender,
        date: Option<NaiveDate>,
        message: &SlackMessageContent,
    ) -> Result<Delivered, DeliveryError> {
        let day = match date {
            Some(d) => self.days.get(d).await?,
            None => None,
        };
        let thread = match &day {
            Some(day) => match day.ts_in(slack.channel()) {
                Some(ts) => Some(ts.to_owned()),
                None if self.day_on_its_way(day).await? => {
                    return Ok(Delivered::Wait((self.clock)() + self.wait_step()));
                }
                None => None,
            },
            None => None,
        };
        slack.post(message, thread.as_deref()).await?;
        Ok(Delivered::Sent)
    }

    /// Whether the day's message is still to be posted: its newest version is PENDING or a
    /// delivery is posting it.
    async fn day_on_its_way(&self, day: &DayMessage) -> Result<bool, StoreError> {
        let now = (self.clock)();
        if day.posting_until.is_some_and(|until| until > now) {
            return Ok(true);
        }
        let Some(id) = day.outbox_id else { return Ok(false) };
        Ok(self.outbox.get(id).await?.is_some_and(|e| e.status == OutboxStatus::Pending))
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
