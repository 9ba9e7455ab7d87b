//! Trading modes (normal, stop, observe), what each allows, the mode transition table and the
//! kill switch that trips stop mode.
//!
//! - **Normal**: everything runs.
//! - **Stop**: no new orders; cancels are still sent; the strategy is not run; recording continues.
//! - **Observe**: signals are computed and recorded; nothing is sent (neither orders nor cancels).
//!
//! The kill switch is a pure function of counters and timestamps passed in; the caller persists
//! the resulting mode and records the reason.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::risk::DailyLossLimit;

/// Why trading stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StopReason {
    /// The daily loss limit was reached.
    DailyLoss {
        /// Loss (positive).
        loss: Decimal,
        /// Configured limit.
        limit: Decimal,
    },
    /// Too many rejects in the window.
    RepeatedRejects {
        /// Rejects counted in the window.
        count: u32,
        /// Window length in seconds.
        window_secs: u64,
    },
    /// The broker connection has been down too long.
    BrokerDisconnected {
        /// Since when.
        since: DateTime<Utc>,
        /// For how many seconds at evaluation.
        for_secs: i64,
    },
    /// Recovery found differences it could not resolve.
    Reconciliation {
        /// What did not match.
        detail: String,
    },
    /// A pipeline stage whose failure stops trading failed.
    StageFailed {
        /// The stage's name.
        stage: String,
        /// Its (scrubbed) error.
        error: String,
    },
    /// The operator stopped trading.
    Operator {
        /// Operator's note.
        note: String,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DailyLoss { loss, limit } => write!(f, "daily loss {loss} reached the limit {limit}"),
            Self::RepeatedRejects { count, window_secs } => {
                write!(f, "{count} rejects within {window_secs}s")
            }
            Self::BrokerDisconnected { for_secs, .. } => write!(f, "broker disconnected for {for_secs}s"),
            Self::Reconciliation { detail } => write!(f, "unresolved reconciliation differences: {detail}"),
            Self::StageFailed { stage, error } => write!(f, "pipeline stage {stage} failed: {error}"),
            Self::Operator { note } => write!(f, "stopped by the operator: {note}"),
        }
    }
}

/// The trading mode, persisted so that a restart keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradingMode {
    /// Everything runs.
    #[default]
    Normal,
    /// No new orders; cancels allowed; recording continues.
    Stop {
        /// Why.
        reason: StopReason,
    },
    /// Signals computed and recorded; nothing sent.
    Observe,
}

/// Something the trading loop wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send a new order.
    NewOrder,
    /// Send a cancel.
    Cancel,
    /// Run the strategy and record its signals.
    ComputeSignals,
    /// Record market data, notices and events.
    Record,
}

impl TradingMode {
    /// Returns whether the mode allows an action.
    pub const fn allows(&self, action: Action) -> bool {
        match (self, action) {
            (Self::Normal, _) | (_, Action::Record) => true,
            (Self::Stop { .. }, Action::Cancel) => true,
            (Self::Stop { .. }, Action::NewOrder | Action::ComputeSignals) => false,
            (Self::Observe, Action::ComputeSignals) => true,
            (Self::Observe, Action::NewOrder | Action::Cancel) => false,
        }
    }

    /// Returns the stable name used in the database.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Stop { .. } => "STOP",
            Self::Observe => "OBSERVE",
        }
    }
}

/// An event that may change the mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ModeEvent {
    /// The kill switch (or recovery) tripped.
    KillSwitch {
        /// Why.
        reason: StopReason,
    },
    /// The operator stops trading.
    OperatorStop {
        /// Operator's note.
        note: String,
    },
    /// The operator switches to observe mode.
    OperatorObserve,
    /// The operator resumes normal trading.
    OperatorResume,
}

/// A refused mode change; the mode is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid mode transition from {} on {event:?}", from.as_str())]
pub struct InvalidModeTransition {
    /// Mode before (and after).
    pub from: TradingMode,
    /// The refused event.
    pub event: ModeEvent,
}

/// Returns the mode an event leads to: the flat mode transition table. A kill switch in stop mode
/// keeps the first reason.
///
/// # Errors
/// Returns [`InvalidModeTransition`] for moves that change nothing meaningful (resume while
/// normal, observe while observing, operator stop while stopped).
pub fn transition(from: &TradingMode, event: &ModeEvent) -> Result<TradingMode, InvalidModeTransition> {
    use TradingMode as M;
    let to = match (from, event) {
        (M::Normal | M::Observe, ModeEvent::KillSwitch { reason }) => M::Stop { reason: reason.clone() },
        (M::Stop { .. }, ModeEvent::KillSwitch { .. }) => from.clone(),
        (M::Normal | M::Observe, ModeEvent::OperatorStop { note }) => {
            M::Stop { reason: StopReason::Operator { note: note.clone() } }
        }
        (M::Normal | M::Stop { .. }, ModeEvent::OperatorObserve) => M::Observe,
        (M::Stop { .. } | M::Observe, ModeEvent::OperatorResume) => M::Normal,
        _ => return Err(InvalidModeTransition { from: from.clone(), event: event.clone() }),
    };
    Ok(to)
}

/// Kill-switch settings; each trigger is switched on separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchConfig {
    /// Trip when this daily loss limit is reached.
    pub daily_loss: Option<DailyLossLimit>,
    /// Trip after this many rejects within `reject_window_secs`.
    pub max_rejects: Option<u32>,
    /// Length of the reject window in seconds.
    #[serde(default = "default_reject_window")]
    pub reject_window_secs: u64,
    /// Trip when the broker has been disconnected this many seconds.
    pub max_disconnect_secs: Option<u64>,
}

const fn default_reject_window() -> u64 {
    300
}

/// Counters and timestamps the kill switch looks at.
#[derive(Debug, Clone, Copy)]
pub struct KillSwitchInputs<'a> {
    /// Evaluation time (from the injected clock).
    pub now: DateTime<Utc>,
    /// Today's realized P&L net of fees.
    pub realized_pnl: Decimal,
    /// Unrealized P&L at the last prices.
    pub unrealized_pnl: Decimal,
    /// Times of recent order rejects.
    pub reject_times: &'a [DateTime<Utc>],
    /// Start of the current broker disconnection, if disconnected.
    pub disconnected_since: Option<DateTime<Utc>>,
}

/// Returns the first trigger that fires (daily loss, then rejects, then disconnection), if any.
pub fn evaluate_kill_switch(cfg: &KillSwitchConfig, i: &KillSwitchInputs<'_>) -> Option<StopReason> {
    if let Some(l) = cfg.daily_loss {
        let pnl = i.realized_pnl + if l.include_unrealized { i.unrealized_pnl } else { Decimal::ZERO };
        if -pnl >= l.max_loss {
            return Some(StopReason::DailyLoss { loss: -pnl, limit: l.max_loss });
        }
    }
    if let Some(max) = cfg.max_rejects {
        let secs = i64::try_from(cfg.reject_window_secs).unwrap_or(i64::MAX);
        let window = chrono::TimeDelta::try_seconds(secs).unwrap_or(chrono::TimeDelta::MAX);
        let recent = i.reject_times.iter().filter(|t| **t <= i.now && i.now - **t < window).count();
        let count = u32::try_from(recent).unwrap_or(u32::MAX);
        if count >= max {
            return Some(StopReason::RepeatedRejects { count, window_secs: cfg.reject_window_secs });
        }
    }
    if let (Some(max), Some(since)) = (cfg.max_disconnect_secs, i.disconnected_since) {
        let for_secs = (i.now - since).num_seconds();
        if u64::try_from(for_secs).is_ok_and(|s| s >= max) {
            return Some(StopReason::BrokerDisconnected { since, for_secs });
        }
    }
    None
}

#[cfg(test)]
mod tests;
