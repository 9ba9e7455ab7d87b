//! The fan-out notifier: the console line at once, then the outbox rows of the remote channels.
//! On Slack every stage transition updates the day's table (one message per trade date, see
//! [`super::day`]) and what needs a human becomes a reply in the day's thread, broadcast to the
//! channel; email gets failures, kill-switch trips and alerts. It never fails and never waits
//! long: a database problem is logged and the message stays on the console.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::day::{Board, BoardRow, DAY_KIND, SlackPayload};
use super::{Console, Notification, Notifier, NowFn, StageTransition, render, system_clock};
use crate::config::Settings;
use crate::store::StoreError;
use crate::store::outbox::{Outbox, OutboxChannel};
use crate::store::slack_days::SlackDays;

/// How long enqueueing one message may take before it is abandoned (and logged).
const DEFAULT_ENQUEUE_TIMEOUT: Duration = Duration::from_secs(2);

/// Routes notifications: console always; Slack, when configured, the day's table for every stage
/// transition and a thread reply for what needs a human; email, when configured, for failures,
/// kill-switch trips and alerts.
#[derive(Clone)]
pub struct Fanout {
    outbox: Outbox,
    days: SlackDays,
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
            days: SlackDays::new(outbox.conn().clone()),
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

    /// Returns the channels a message goes to besides the console: Slack for every stage
    /// transition (the day's table) and for what needs a human (a thread reply), email for
    /// failures, kill-switch trips and alerts.
    pub fn channels_for(&self, msg: &Notification) -> Vec<OutboxChannel> {
        let mut out = Vec::with_capacity(2);
        if self.slack && (matches!(msg, Notification::Stage(_)) || msg.needs_attention()) {
            out.push(OutboxChannel::Slack);
        }
        if self.email && msg.wants_email() {
            out.push(OutboxChannel::Email);
        }
        out
    }

    /// Prints the message on the console and enqueues it for Slack and email; a message without
    /// a trade date of its own (a kill-switch trip) is threaded under the latest day's message.
    /// Never fails and waits at most the enqueue timeout (2 s) in total: a database error or a
    /// slow database is logged and the message is left out of the outbox (it is still on the
    /// console).
    pub async fn notify(&self, msg: Notification) {
        self.notify_dated(msg.trade_date(), msg).await;
    }

    /// Like [`Fanout::notify`], for a message that belongs to `trade_date` (an alert raised for
    /// it): its Slack reply goes in that day's thread.
    pub async fn notify_on(&self, trade_date: NaiveDate, msg: Notification) {
        self.notify_dated(Some(trade_date), msg).await;
    }

    async fn notify_dated(&self, trade_date: Option<NaiveDate>, msg: Notification) {
        let rendered = render(&msg);
        self.console.write(&rendered.console);
        let kind = msg.kind();
        let deadline = Instant::now() + self.enqueue_timeout;
        let mut queued = false;
        for channel in self.channels_for(&msg) {
            match channel {
                OutboxChannel::Slack => {
                    if let Notification::Stage(t) = &msg {
                        queued |= self.enqueue_day(t.trade_date, Some(t), deadline).await;
                    }
                    if msg.needs_attention() {
                        let day = match trade_date {
                            // The day gets its message first, when this is the first word of it.
                            Some(d) => {
                                queued |= self.enqueue_day(d, None, deadline).await;
                                Some(d)
                            }
                            None => self.latest_day(deadline).await,
                        };
                        let payload =
                            SlackPayload::Thread { trade_date: day, message: rendered.slack.clone() };
                        match serde_json::to_value(&payload) {
                            Ok(v) => queued |= self.enqueue(channel, kind, v, deadline).await,
                            Err(e) => {
                                tracing::warn!(kind, error = %e, "slack message could not be serialised")
                            }
                        }
                    }
                }
                OutboxChannel::Email => {
                    let payload = json!({"subject": rendered.email.subject, "body": rendered.email.body});
                    queued |= self.enqueue(channel, kind, payload, deadline).await;
                }
                OutboxChannel::Console => {
                    queued |= self.enqueue(channel, kind, json!({"line": rendered.console}), deadline).await;
                }
            }
        }
        if queued {
            self.wake.notify_one();
        }
    }

    /// Logs the outcome of one enqueueing step; returns whether a row was queued.
    fn logged(
        channel: OutboxChannel,
        kind: &str,
        r: Result<Result<Option<i64>, StoreError>, tokio::time::error::Elapsed>,
    ) -> bool {
        match r {
            Ok(Ok(Some(id))) => {
                tracing::debug!(outbox_id = id, channel = channel.as_str(), kind, "notification queued");
                true
            }
            Ok(Ok(None)) => false,
            Ok(Err(e)) => {
                tracing::warn!(channel = channel.as_str(), kind, error = %e, "notification not queued");
                false
            }
            Err(_) => {
                tracing::warn!(channel = channel.as_str(), kind, "notification not queued: timeout");
                false
            }
        }
    }

    async fn enqueue(&self, channel: OutboxChannel, kind: &str, payload: Value, deadline: Instant) -> bool {
        let insert = async { self.outbox.enqueue(channel, kind, payload, (self.clock)()).await.map(Some) };
        Self::logged(channel, kind, tokio::time::timeout_at(deadline, insert).await)
    }

    /// Brings the day's table up to date with a transition and enqueues the new version of the
    /// day's message (superseding an older one not yet sent). Without a transition, only a day
    /// that has no message yet gets one (with an empty table): a thread needs its parent.
    async fn enqueue_day(&self, date: NaiveDate, t: Option<&StageTransition>, deadline: Instant) -> bool {
        let update = |stored: &Value| {
            let mut board = Board::from_value(stored);
            let changed = match t {
                Some(t) => board.merge(BoardRow::of(t)),
                None => stored.is_null(),
            };
            if !changed {
                return None;
            }
            let payload = SlackPayload::Day { trade_date: date, message: board.render(date) };
            Some((board.to_value(), serde_json::to_value(payload).ok()?))
        };
        let write = self.days.enqueue_update(date, DAY_KIND, (self.clock)(), update);
        Self::logged(OutboxChannel::Slack, DAY_KIND, tokio::time::timeout_at(deadline, write).await)
    }

    /// The latest day with a message (where an undated message is threaded), if any.
    async fn latest_day(&self, deadline: Instant) -> Option<NaiveDate> {
        match tokio::time::timeout_at(deadline, self.days.latest()).await {
            Ok(Ok(day)) => day.map(|d| d.trade_date),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the day's slack message not found; posting in the channel");
                None
            }
            Err(_) => None,
        }
    }
}

impl Notifier for Fanout {
    fn notify(&self, msg: Notification) -> BoxFuture<'_, ()> {
        Box::pin(Fanout::notify(self, msg))
    }

    fn notify_on(&self, trade_date: NaiveDate, msg: Notification) -> BoxFuture<'_, ()> {
        Box::pin(Fanout::notify_on(self, trade_date, msg))
    }
}
