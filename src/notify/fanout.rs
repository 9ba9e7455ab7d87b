//! The fan-out notifier: the console line at once, then one outbox row per remote channel. It
//! never fails and never waits long: a database problem is logged and the message stays on the
//! console.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::{Console, Notification, Notifier, NowFn, render, system_clock};
use crate::config::Settings;
use crate::store::outbox::{Outbox, OutboxChannel};

/// How long enqueueing one message may take before it is abandoned (and logged).
const DEFAULT_ENQUEUE_TIMEOUT: Duration = Duration::from_secs(2);

/// Routes notifications: console always, Slack for everything when configured, email for
/// failures, kill-switch trips and alerts when configured.
#[derive(Clone)]
pub struct Fanout {
    outbox: Outbox,
    console: Console,
    slack: bool,
    email: bool,
    wake: Arc<Notify>,
    clock: NowFn,
    enqueue_timeout: Duration,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("slack", &self.slack)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl Fanout {
    /// Creates a fan-out whose remote channels follow the settings (`slack` / `smtp` present).
    pub fn new(outbox: Outbox, console: Console, settings: &Settings) -> Self {
        Self::with_channels(outbox, console, settings.slack.is_some(), settings.smtp.is_some())
    }

    /// Creates a fan-out with the remote channels given explicitly.
    pub fn with_channels(outbox: Outbox, console: Console, slack: bool, email: bool) -> Self {
        Self {
            outbox,
            console,
            slack,
            email,
            wake: Arc::new(Notify::new()),
            clock: system_clock(),
            enqueue_timeout: DEFAULT_ENQUEUE_TIMEOUT,
        }
    }

    /// Replaces the clock used for the rows' timestamps.
    #[must_use]
    pub fn with_clock(mut self, clock: NowFn) -> Self {
        self.clock = clock;
        self
    }

    /// Returns the signal that wakes the [`super::OutboxWorker`] when a row is enqueued.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Returns the channels a message goes to besides the console.
    pub fn channels_for(&self, msg: &Notification) -> Vec<OutboxChannel> {
        let mut out = Vec::with_capacity(2);
        if self.slack {
            out.push(OutboxChannel::Slack);
        }
        if self.email && msg.wants_email() {
            out.push(OutboxChannel::Email);
        }
        out
    }

    /// Prints the message on the console and enqueues it for Slack and email. Never fails and
    /// waits at most the enqueue timeout (2 s) in total: a database error or a slow database is
    /// logged and the message is left out of the outbox (it is still on the console).
    pub async fn notify(&self, msg: Notification) {
        let rendered = render(&msg);
        self.console.write(&rendered.console);
        let kind = msg.kind();
        let deadline = tokio::time::Instant::now() + self.enqueue_timeout;
        let mut queued = false;
        for channel in self.channels_for(&msg) {
            let payload: Value = match channel {
                OutboxChannel::Slack => match serde_json::to_value(&rendered.slack) {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!(kind, error = %e, "slack message could not be serialised");
                        continue;
                    }
                },
                OutboxChannel::Email => {
                    json!({"subject": rendered.email.subject, "body": rendered.email.body})
                }
                OutboxChannel::Console => json!({"line": rendered.console}),
            };
            let insert = self.outbox.enqueue(channel, kind, payload, (self.clock)());
            match tokio::time::timeout_at(deadline, insert).await {
                Ok(Ok(id)) => {
                    queued = true;
                    tracing::debug!(outbox_id = id, channel = channel.as_str(), kind, "notification queued");
                }
                Ok(Err(e)) => {
                    tracing::warn!(channel = channel.as_str(), kind, error = %e, "notification not queued")
                }
                Err(_) => {
                    tracing::warn!(channel = channel.as_str(), kind, "notification not queued: timeout")
                }
            }
        }
        if queued {
            self.wake.notify_one();
        }
    }
}

impl Notifier for Fanout {
    fn notify(&self, msg: Notification) -> BoxFuture<'_, ()> {
        Box::pin(Fanout::notify(self, msg))
    }
}
