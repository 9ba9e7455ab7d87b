//! Order state machine: statuses, events, one flat transition table and the `Order` aggregate.
//!
//! Statuses only move forward. The single exception is [`OrderEvent::ResolvedNotFound`]: when the
//! broker proves an order never arrived, the order returns to [`OrderStatus::New`] with its submit
//! attempt counter raised, so the pair `(attempt, rank)` still only grows (see [`Order::progress`]).

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest quantity or price the domain accepts; keeps every product and sum far from overflow.
pub const MAX_INPUT: Decimal = dec!(1_000_000_000_000);

/// Where an order is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// The row (with its idempotency key) is committed; nothing was sent yet.
    New,
    /// The broker call is in flight.
    Submitting,
    /// The broker call ended without a usable answer (timeout, dropped connection).
    SubmitUnknown,
    /// The broker accepted the order and gave it a number.
    Sent,
    /// Some quantity is filled, some is still open.
    Partial,
    /// A cancel was requested; the order may still fill until the broker confirms.
    CancelPending,
    /// Fully filled (terminal).
    Filled,
    /// Canceled, possibly after partial fills (terminal).
    Canceled,
    /// Refused by the broker or before sending (terminal).
    Rejected,
}

impl OrderStatus {
    /// Every status, in rank order.
    pub const ALL: &'static [Self] = &[
        Self::New,
        Self::Submitting,
        Self::SubmitUnknown,
        Self::Sent,
        Self::Partial,
        Self::CancelPending,
        Self::Filled,
        Self::Canceled,
        Self::Rejected,
    ];

    /// Returns the rank used to check that statuses only move forward; terminals share the top rank.
    pub const fn rank(self) -> u8 {
        match self {
            Self::New => 0,
            Self::Submitting => 1,
            Self::SubmitUnknown => 2,
            Self::Sent => 3,
            Self::Partial => 4,
            Self::CancelPending => 5,
            Self::Filled | Self::Canceled | Self::Rejected => 6,
        }
    }

    /// Returns true when no further event can change the order.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Filled | Self::Canceled | Self::Rejected)
    }

    /// Returns true when the broker may hold (or be about to hold) a live order.
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            Self::Submitting | Self::SubmitUnknown | Self::Sent | Self::Partial | Self::CancelPending
        )
    }

    /// Returns true when only the broker can tell whether the order exists (resolve before acting).
    pub const fn needs_resolution(self) -> bool {
        matches!(self, Self::Submitting | Self::SubmitUnknown)
    }

    /// Returns the stable text form used in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::Submitting => "SUBMITTING",
            Self::SubmitUnknown => "SUBMIT_UNKNOWN",
            Self::Sent => "SENT",
            Self::Partial => "PARTIAL",
            Self::CancelPending => "CANCEL_PENDING",
            Self::Filled => "FILLED",
            Self::Canceled => "CANCELED",
            Self::Rejected => "REJECTED",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The broker's identity of an accepted order: forwarding branch (`KRX_FWDG_ORD_ORGNO`) and `ODNO`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BrokerOrderNo {
    /// Order-forwarding branch number (`KRX_FWDG_ORD_ORGNO` / `ord_gno_brno`), may be empty.
    pub branch: String,
    /// Order number, normalised to 10 zero-padded digits.
    pub number: String,
}

impl BrokerOrderNo {
    /// Builds a broker order number, zero-padding the number to 10 digits.
    ///
    /// # Errors
    /// Returns [`OrderError::InvalidBrokerOrderNo`] when the number is empty, not all digits or
    /// longer than 10 digits.
    pub fn new(branch: &str, number: &str) -> Result<Self, OrderError> {
        let n = number.trim();
        if n.is_empty() || n.len() > 10 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OrderError::InvalidBrokerOrderNo(n.chars().take(16).collect()));
        }
        Ok(Self { branch: branch.trim().to_owned(), number: format!("{n:0>10}") })
    }
}

impl fmt::Display for BrokerOrderNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.branch, self.number)
    }
}

/// Something that happened to an order (from our code, the broker answer, a notice or a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderEvent {
    /// The broker call starts.
    Submit,
    /// The broker accepted the order (answer, notice or snapshot).
    Accepted {
        /// The broker's order number.
        broker_order_no: BrokerOrderNo,
    },
    /// The broker call ended without a usable answer.
    SubmitOutcomeUnknown,
    /// Cumulative fill progress (from a deduplicated [`crate::domain::fill::FillLedger`]).
    Fill {
        /// Total filled quantity so far.
        cum_qty: Decimal,
        /// Total filled amount (sum of quantity × price) so far.
        cum_amount: Decimal,
        /// Quantity still open after this fill (order quantity − `cum_qty`).
        leaves_qty: Decimal,
    },
    /// We asked the broker to cancel the rest (or dropped an unsent order).
    CancelRequested,
    /// The broker refused the cancel; the order stays cancel-pending until the broker's truth arrives.
    CancelRejected {
        /// Broker message code.
        code: String,
        /// Broker message.
        reason: String,
    },
    /// The broker confirmed the cancel (or canceled the remainder itself, e.g. IOC/FOK, end of day).
    CancelConfirmed,
    /// The broker (or a pre-send check) refused the order.
    Rejected {
        /// Message code (`msg_cd`, or a local code).
        code: String,
        /// Human-readable reason.
        reason: String,
    },
    /// The broker's orders and fills of the day prove the order never arrived: it may be resent.
    ResolvedNotFound,
}

impl OrderEvent {
    /// Returns a short stable name for events and logs.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Submit => "SUBMIT",
            Self::Accepted { .. } => "ACCEPTED",
            Self::SubmitOutcomeUnknown => "SUBMIT_OUTCOME_UNKNOWN",
            Self::Fill { .. } => "FILL",
            Self::CancelRequested => "CANCEL_REQUESTED",
            Self::CancelRejected { .. } => "CANCEL_REJECTED",
            Self::CancelConfirmed => "CANCEL_CONFIRMED",
            Self::Rejected { .. } => "REJECTED",
            Self::ResolvedNotFound => "RESOLVED_NOT_FOUND",
        }
    }
}

impl fmt::Display for OrderEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fill { cum_qty, leaves_qty, .. } => write!(f, "FILL(cum={cum_qty}, leaves={leaves_qty})"),
            Self::Accepted { broker_order_no } => write!(f, "ACCEPTED({broker_order_no})"),
            other => f.write_str(other.name()),
        }
    }
}

/// A refused move: the event is not legal in the current status. Nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid order transition from {from} on {event}")]
pub struct InvalidOrderTransition {
    /// Status the order was in (and stays in).
    pub from: OrderStatus,
    /// The refused event.
    pub event: OrderEvent,
}

/// Returns the status an event moves an order to: the one flat transition table.
///
/// # Errors
/// Returns [`InvalidOrderTransition`] for every move not listed (backwards, sideways or from a terminal).
pub fn transition(from: OrderStatus, event: &OrderEvent) -> Result<OrderStatus, InvalidOrderTransition> {
    use OrderEvent as E;
    use OrderStatus as S;
    let to = match (from, event) {
        (S::New, E::Submit) => S::Submitting,
        (S::New, E::Rejected { .. }) => S::Rejected,
        (S::New, E::CancelRequested) => S::Canceled,
        (S::Submitting, E::Accepted { .. }) => S::Sent,
        (S::Submitting, E::SubmitOutcomeUnknown) => S::SubmitUnknown,
        (S::Submitting, E::Rejected { .. }) => S::Rejected,
        (S::Submitting, E::ResolvedNotFound) => S::New,
        (S::SubmitUnknown, E::Accepted { .. }) => S::Sent,
        (S::SubmitUnknown, E::Rejected { .. }) => S::Rejected,
        (S::SubmitUnknown, E::ResolvedNotFound) => S::New,
        (S::Sent, E::Rejected { .. }) => S::Rejected,
        (S::Sent | S::Partial, E::CancelRequested) => S::CancelPending,
        (S::Sent | S::Partial, E::CancelConfirmed) => S::Canceled,
        (S::Submitting | S::SubmitUnknown | S::Sent | S::Partial, E::Fill { leaves_qty, .. })
            if leaves_qty.is_zero() =>
        {
            S::Filled
        }
        (S::Submitting | S::SubmitUnknown | S::Sent | S::Partial, E::Fill { .. }) => S::Partial,
        (S::CancelPending, E::Fill { leaves_qty, .. }) if leaves_qty.is_zero() => S::Filled,
        (S::CancelPending, E::Fill { .. }) => S::CancelPending,
        (S::CancelPending, E::CancelRequested) => S::CancelPending,
        (S::CancelPending, E::CancelRejected { .. }) => S::CancelPending,
        (S::CancelPending, E::CancelConfirmed) => S::Canceled,
        _ => return Err(InvalidOrderTransition { from, event: event.clone() }),
    };
    Ok(to)
}

/// Errors raised by the [`Order`] aggregate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// The status table refuses the event.
    #[error(transparent)]
    InvalidTransition(#[from] InvalidOrderTransition),
    /// A fill would take the filled quantity above the order quantity.
    #[error("fill exceeds order quantity: cumulative {cum_qty} > ordered {order_qty}")]
    FillExceedsQuantity {
        /// Cumulative quantity the event claims.
        cum_qty: Decimal,
        /// Ordered quantity.
        order_qty: Decimal,
    },
    /// A fill's cumulative quantity went down, or its numbers are inconsistent.
    #[error("inconsistent fill: cumulative {cum_qty}, amount {cum_amount}, leaves {leaves_qty}")]
    InconsistentFill {
        /// Cumulative quantity the event claims.
        cum_qty: Decimal,
        /// Cumulative amount the event claims.
        cum_amount: Decimal,
        /// Leaves quantity the event claims.
        leaves_qty: Decimal,
    },
    /// The broker order number of an `Accepted` differs from the one already known.
    #[error("broker order number conflict: known {known}, got {got}")]
    BrokerOrderNoConflict {
        /// Number already recorded.
        known: BrokerOrderNo,
        /// Number in the event.
        got: BrokerOrderNo,
    },
    /// The order fields are not valid (quantity, price).
    #[error("invalid order: {0}")]
    InvalidOrder(&'static str),
    /// A broker order number is malformed.
    #[error("invalid broker order number {0:?}")]
    InvalidBrokerOrderNo(String),
}

/// A deterministic idempotency key: the same strategy, trading date and signal give the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Derives the key `YYYYMMDD-<32 hex chars of SHA-256(strategy, date, signal)>`.
    pub fn derive(strategy_id: &str, trade_date: chrono::NaiveDate, signal_id: &str) -> Self {
        let date = trade_date.format("%Y%m%d").to_string();
        let mut h = Sha256::new();
        for part in [strategy_id, date.as_str(), signal_id] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let digest = hex::encode(h.finalize());
        Self(format!("{date}-{}", digest.get(..32).unwrap_or(&digest)))
    }

    /// Wraps a key read back from storage.
    pub fn from_stored(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// Returns the key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

mod aggregate;
pub use aggregate::{Applied, NewOrder, Order, OrderRecord};

#[cfg(test)]
mod tests;
