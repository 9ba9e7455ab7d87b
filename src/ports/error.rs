//! The error type every broker port call returns, with its retry classification.

/// Errors of the broker port. Messages never carry secrets or full account numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// Credentials were refused or the access token could not be obtained.
    #[error("authentication failed: {message}")]
    Authentication {
        /// What failed.
        message: String,
    },
    /// The broker could not be reached (timeouts, connection errors, 5xx) after all retries.
    #[error("connection failed: {message}")]
    Connection {
        /// What failed.
        message: String,
    },
    /// The broker answered with an error code.
    #[error("broker error {msg_cd}: {msg1}")]
    Api {
        /// Broker message code.
        msg_cd: String,
        /// Broker message text.
        msg1: String,
    },
    /// The per-second request limit was exceeded and backing off did not help.
    #[error("rate limit exceeded")]
    RateLimit,
    /// The broker rejected the order or request on business grounds.
    #[error("rejected {msg_cd}: {msg1}")]
    Rejected {
        /// Broker message code.
        msg_cd: String,
        /// Broker message text.
        msg1: String,
    },
    /// An order was possibly submitted but no answer arrived; query today's orders to resolve it.
    #[error("order outcome unknown: {message}")]
    OutcomeUnknown {
        /// What happened.
        message: String,
    },
    /// The endpoint group is failing; calls are refused until the circuit closes again.
    #[error("circuit open for {group}")]
    CircuitOpen {
        /// Endpoint group.
        group: String,
    },
    /// The request was invalid before it was sent, or the answer could not be understood.
    #[error("invalid: {message}")]
    Invalid {
        /// What was wrong.
        message: String,
    },
    /// A real-time subscription could not be registered.
    #[error("subscription failed: {message}")]
    Subscription {
        /// What failed.
        message: String,
    },
    /// Refused before sending: this process no longer holds the pipeline lease (or its hold
    /// lapsed locally, e.g. after it was frozen), so it may not act on the account.
    #[error("not sent: {message}")]
    NotLeader {
        /// Why.
        message: String,
    },
    /// The broker's one real-time session per app key is held by another connection (a previous
    /// leader that has not let go yet); it frees when that connection closes.
    #[error("real-time session in use: {message}")]
    SessionInUse {
        /// What the broker said.
        message: String,
    },
}

impl BrokerError {
    /// Returns true when the same call may succeed if tried again later.
    ///
    /// `OutcomeUnknown` is not retryable: resending could double an order.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connection { .. }
            | Self::RateLimit
            | Self::CircuitOpen { .. }
            | Self::SessionInUse { .. } => true,
            Self::Authentication { .. }
            | Self::Api { .. }
            | Self::Rejected { .. }
            | Self::OutcomeUnknown { .. }
            | Self::Invalid { .. }
            | Self::Subscription { .. }
            | Self::NotLeader { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_classification_table() {
        let m = || String::from("x");
        let table = [
            (BrokerError::Authentication { message: m() }, false),
            (BrokerError::Connection { message: m() }, true),
            (BrokerError::Api { msg_cd: m(), msg1: m() }, false),
            (BrokerError::RateLimit, true),
            (BrokerError::Rejected { msg_cd: m(), msg1: m() }, false),
            (BrokerError::OutcomeUnknown { message: m() }, false),
            (BrokerError::CircuitOpen { group: m() }, true),
            (BrokerError::Invalid { message: m() }, false),
            (BrokerError::Subscription { message: m() }, false),
            (BrokerError::SessionInUse { message: m() }, true),
            (BrokerError::NotLeader { message: m() }, false),
        ];
        for (err, retryable) in table {
            assert_eq!(err.is_retryable(), retryable, "{err}");
        }
    }
}
