//! Notifications: stage transitions, kill-switch trips, alerts and journal summaries, rendered for
//! Slack (Block Kit), email and the console, and delivered through a persisted outbox so that a
//! notifier outage never blocks or fails trading.
//!
//! - [`Notification`]: the messages; [`render`] turns them into [`Rendered`] text.
//! - [`Fanout`]: the [`Notifier`] the pipeline calls; prints to the console at once and enqueues
//!   Slack and email rows in `notification_outbox`. Slack gets one message per trade date, updated
//!   in place with the pipeline table ([`day`]), and a reply in its thread, broadcast to the
//!   channel, only for what needs a human: a failed stage, a kill-switch trip, an alert, the
//!   journal. Email gets failures, kill-switch trips and alerts.
//! - [`OutboxWorker`]: the background task that delivers rows with exponential retries, honouring
//!   Slack's rate limits.
//! - [`alerts`]: pure alert rules (feed down, order failure rate, order limit, overdue stage).

pub mod alerts;
mod console;
pub mod day;
mod email;
mod fanout;
mod render;
mod slack;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;

pub use console::Console;
pub use email::{EmailError, EmailSender};
pub use fanout::Fanout;
pub(crate) use render::fmt_duration;
pub use render::{EmailMessage, Rendered, render};
pub use slack::{SlackError, SlackSender};
pub use worker::{Deliverers, DeliveryError, DeliveryRetry, OutboxWorker, WorkerConfig};

/// Starts notifications for a process: builds the channel adapters the settings configure,
/// spawns the [`OutboxWorker`] (stopped by `cancel`) and returns the [`Fanout`] to notify through.
///
/// # Errors
/// Returns the [`DeliveryError`] of a channel adapter that cannot be built from the settings.
pub fn start(
    store: &crate::store::Store,
    settings: &crate::config::Settings,
    console: Console,
    config: WorkerConfig,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<(Fanout, tokio::task::JoinHandle<()>), DeliveryError> {
    let deliverers = Deliverers::from_settings(settings, console.clone())?;
    let fanout = Fanout::new(store.outbox(), console, settings);
    let worker = OutboxWorker::new(store, deliverers, config, fanout.waker()).spawn(cancel);
    Ok((fanout, worker))
}

/// Raises an alert: records it as an `alert` event of the trade date and hands it to the
/// notifier, when there is one (delivery goes through the outbox, so this never blocks on Slack
/// or SMTP). A failure to record is logged, never returned: alerting must not stop trading.
pub async fn raise_alert(
    store: &crate::store::Store,
    notifier: Option<&dyn Notifier>,
    trade_date: NaiveDate,
    alert: Alert,
) {
    tracing::info!(kind = alert.kind.as_str(), text = %alert.text, "alert");
    crate::obs::record::alert(alert.kind.as_str());
    let payload = serde_json::json!({ "alert": alert.kind.as_str(), "text": alert.text });
    if let Err(e) = store
        .events()
        .record("alert", crate::store::Severity::Warning, &alert.text, payload, Some(trade_date), None)
        .await
    {
        tracing::warn!(error = %e, "alert not recorded");
    }
    if let Some(n) = notifier {
        n.notify_on(trade_date, Notification::Alert(alert)).await;
    }
}

/// The source of "now" for the outbox (injected so tests and the demo's compressed clock agree).
pub type NowFn = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Returns the wall clock as a [`NowFn`].
pub fn system_clock() -> NowFn {
    Arc::new(Utc::now)
}

/// One stage of a pipeline run moved from one state to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageTransition {
    /// The stage name (e.g. `access_token`).
    pub stage: String,
    /// The trade date of the run.
    pub trade_date: NaiveDate,
    /// The attempt number (1-based).
    pub attempt: u32,
    /// The state left (e.g. `RUNNING`).
    pub from: String,
    /// The state entered (e.g. `FAILED`).
    pub to: String,
    /// How long the attempt ran, once it has finished.
    pub duration: Option<Duration>,
    /// The error of a failed attempt.
    pub error: Option<String>,
    /// The exact command that re-runs the stage.
    pub rerun_command: String,
    /// When the stage entered the state (the trading clock).
    pub at: DateTime<Utc>,
    /// The failure failed the run: the pipeline waits for an operator's re-run (false for an
    /// attempt the runner retries, or one a shutdown or crash interrupted, which it resumes).
    pub run_failed: bool,
}

impl StageTransition {
    /// Returns true when the stage entered FAILED.
    pub fn is_failure(&self) -> bool {
        self.to.eq_ignore_ascii_case("FAILED")
    }

    /// Returns true when a human has to act: the stage failed and the run waits for a re-run.
    pub fn needs_operator(&self) -> bool {
        self.is_failure() && self.run_failed
    }
}

/// The kill switch stopped trading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillSwitchTrip {
    /// Why it tripped.
    pub reason: String,
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// The realtime feed has been down longer than the threshold.
    FeedDown,
    /// Too many orders failed in the window.
    OrderFailureRate,
    /// Most of the daily order limit is used.
    OrderLimitNear,
    /// A stage did not transition by its expected time.
    StageOverdue,
    /// One broker order number of a trading date (or a fill of it) maps to two of our orders;
    /// nothing was attached to either.
    IdentityConflict,
    /// This process lost the pipeline lease: its order writes are fenced off and it stands by.
    LeaseLost,
    /// This process took the pipeline lease over from another holder and leads now.
    LeaseTakenOver,
    /// The close could not bring an order of the day to a terminal state (named, with the reason).
    OrderNotTerminal,
}

impl AlertKind {
    /// Returns the stable name used in outbox rows and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FeedDown => "feed_down",
            Self::OrderFailureRate => "order_failure_rate",
            Self::OrderLimitNear => "order_limit_near",
            Self::StageOverdue => "stage_overdue",
            Self::IdentityConflict => "identity_conflict",
            Self::LeaseLost => "lease_lost",
            Self::LeaseTakenOver => "lease_taken_over",
            Self::OrderNotTerminal => "order_not_terminal",
        }
    }

    /// Returns a short human title.
    pub const fn title(self) -> &'static str {
        match self {
            Self::FeedDown => "Realtime feed down",
            Self::OrderFailureRate => "Order failure rate high",
            Self::OrderLimitNear => "Daily order limit nearly reached",
            Self::StageOverdue => "Stage overdue",
            Self::IdentityConflict => "Broker order number claimed twice",
            Self::LeaseLost => "Pipeline lease lost; standing by",
            Self::LeaseTakenOver => "Standby took the pipeline over",
            Self::OrderNotTerminal => "Order left open after the close",
        }
    }
}

/// An operational alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// What it is about.
    pub kind: AlertKind,
    /// The details.
    pub text: String,
}

/// The AI journal of a trade date was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSummary {
    /// The trade date.
    pub trade_date: NaiveDate,
    /// A short summary.
    pub summary: String,
    /// Where the journal file is.
    pub path: String,
}

/// Every message the notifiers carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A stage transition.
    Stage(StageTransition),
    /// A kill-switch trip.
    KillSwitch(KillSwitchTrip),
    /// An alert.
    Alert(Alert),
    /// A journal summary.
    Journal(JournalSummary),
}

impl Notification {
    /// Returns the kind stored with outbox rows.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Stage(_) => "stage_transition",
            Self::KillSwitch(_) => "kill_switch",
            Self::Alert(_) => "alert",
            Self::Journal(_) => "journal_summary",
        }
    }

    /// Returns true when the message needs a human: a failed stage the run waits on, a
    /// kill-switch trip, an alert, the journal. On Slack these are replies in the day's thread,
    /// broadcast to the channel; every stage transition updates the day's message.
    pub fn needs_attention(&self) -> bool {
        match self {
            Self::Stage(t) => t.needs_operator(),
            Self::KillSwitch(_) | Self::Alert(_) | Self::Journal(_) => true,
        }
    }

    /// Returns the trade date the message belongs to, when it names one.
    pub fn trade_date(&self) -> Option<NaiveDate> {
        match self {
            Self::Stage(t) => Some(t.trade_date),
            Self::Journal(j) => Some(j.trade_date),
            Self::KillSwitch(_) | Self::Alert(_) => None,
        }
    }

    /// Returns true when the message also goes by email: stage failures the run waits on,
    /// kill-switch trips and alerts.
    pub fn wants_email(&self) -> bool {
        match self {
            Self::Stage(t) => t.needs_operator(),
            Self::KillSwitch(_) | Self::Alert(_) => true,
            Self::Journal(_) => false,
        }
    }
}

impl From<StageTransition> for Notification {
    fn from(v: StageTransition) -> Self {
        Self::Stage(v)
    }
}

impl From<KillSwitchTrip> for Notification {
    fn from(v: KillSwitchTrip) -> Self {
        Self::KillSwitch(v)
    }
}

impl From<Alert> for Notification {
    fn from(v: Alert) -> Self {
        Self::Alert(v)
    }
}

impl From<JournalSummary> for Notification {
    fn from(v: JournalSummary) -> Self {
        Self::Journal(v)
    }
}

/// The port the pipeline and trading code notify through. Implementations never fail and never
/// block for long: delivery problems are theirs to record.
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Hands a message over for delivery.
    fn notify(&self, msg: Notification) -> BoxFuture<'_, ()>;

    /// Hands over a message that belongs to a trade date (an alert raised for it): Slack threads
    /// it under that day's message. Without an override the date is not used.
    fn notify_on(&self, trade_date: NaiveDate, msg: Notification) -> BoxFuture<'_, ()> {
        let _ = trade_date;
        self.notify(msg)
    }
}
