//! The event log's record: every difference, transition and error the service writes to `events`.

use chrono::NaiveDate;
use serde_json::Value;

/// How serious an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Routine record.
    Info,
    /// Something an operator should look at.
    Warning,
    /// A failure.
    Error,
    /// Trading was stopped or must be.
    Critical,
}

impl Severity {
    /// Returns the stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
            Self::Critical => "CRITICAL",
        }
    }
}

/// One event to write. The store scrubs the message and masks the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Kind (`ORDER_TRANSITION`, `FILL_RECORDED` …).
    pub kind: &'static str,
    /// Severity.
    pub severity: Severity,
    /// One line for a human.
    pub message: String,
    /// Details.
    pub payload: Value,
    /// Trading date the event belongs to.
    pub trade_date: Option<NaiveDate>,
    /// Our order row the event is about.
    pub order_id: Option<i64>,
}
