//! Errors of the KIS REST client and their mapping to the port's [`BrokerError`].

use crate::ports::BrokerError;

/// Errors of one REST call. Messages never include credentials, tokens or account numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KisHttpError {
    /// The connection could not be established: the request never reached the server.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The request was sent but no complete answer arrived in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The transfer broke after the request was sent.
    #[error("transport failed: {0}")]
    Transport(String),
    /// The server failed (5xx or a gateway routing/overload code).
    #[error("server error (HTTP {status}) {msg_cd}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Message code, if the body carried one.
        msg_cd: String,
    },
    /// `EGW00201`: per-second limit exceeded.
    #[error("rate limited (EGW00201)")]
    RateLimited,
    /// The access token is expired or invalid (`EGW00121/122/123`, `IGW00221`, HTTP 401).
    #[error("access token rejected ({0})")]
    TokenRejected(String),
    /// `EGW00133`: a token was issued less than a minute ago.
    #[error("token issuance throttled (EGW00133)")]
    TokenThrottled,
    /// Credentials were refused by the token or approval endpoint.
    #[error("credentials refused {code}: {message}")]
    Credentials {
        /// Error code.
        code: String,
        /// Error text.
        message: String,
    },
    /// `EGW00301/00302`: the gateway timed out; the transaction may have happened.
    #[error("gateway timeout {0}: the transaction may have been processed")]
    GatewayTimeout(String),
    /// The broker answered `rt_cd != "0"` with a business or request error.
    #[error("api error {msg_cd}: {msg1}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Message code.
        msg_cd: String,
        /// Message text.
        msg1: String,
    },
    /// The body could not be decoded.
    #[error("cannot decode response: {0}")]
    Decode(String),
    /// The request could not be built (bad configuration or input).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// An order-changing request was not sent: this process does not hold the pipeline lease.
    #[error("this process does not lead (the pipeline lease is lost or lapsed); the order was not sent")]
    NotLeader,
}

impl KisHttpError {
    /// Returns true when repeating the call may succeed (for non-order calls).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Connect(_)
                | Self::Timeout(_)
                | Self::Transport(_)
                | Self::Server { .. }
                | Self::RateLimited
                | Self::TokenRejected(_)
                | Self::TokenThrottled
                | Self::GatewayTimeout(_)
        )
    }

    /// The `outcome` label of the call in `aegis_kis_rest_requests_total`: `rejected` is the
    /// broker's business refusal of a well-formed call; every other label but `ok` is a failure of
    /// the call itself.
    pub fn metric_outcome(&self) -> &'static str {
        match self {
            Self::Connect(_) | Self::Timeout(_) | Self::Transport(_) => "transport_error",
            Self::Server { .. } => "server_error",
            Self::RateLimited => "rate_limited",
            Self::TokenRejected(_) => "token_rejected",
            Self::TokenThrottled => "token_throttled",
            Self::Credentials { .. } => "credentials_refused",
            Self::GatewayTimeout(_) => "gateway_timeout",
            Self::Api { .. } => "rejected",
            Self::Decode(_) => "decode_error",
            Self::Invalid(_) | Self::NotLeader => "not_sent",
        }
    }

    /// Returns true when a request may have been executed although no success was seen;
    /// such an order must never be resent.
    pub fn may_have_executed(&self) -> bool {
        matches!(
            self,
            Self::Timeout(_)
                | Self::Transport(_)
                | Self::Server { .. }
                | Self::GatewayTimeout(_)
                | Self::Decode(_)
        )
    }

    /// Returns true for errors that a token refresh can cure.
    pub fn is_token_rejected(&self) -> bool {
        matches!(self, Self::TokenRejected(_))
    }

    /// Classifies an error envelope by `msg_cd`.
    pub fn from_envelope(status: u16, msg_cd: &str, msg1: &str) -> Self {
        match msg_cd {
            "EGW00201" => Self::RateLimited,
            "EGW00121" | "EGW00122" | "EGW00123" | "IGW00221" => Self::TokenRejected(msg_cd.to_owned()),
            "EGW00133" => Self::TokenThrottled,
            "EGW00301" | "EGW00302" => Self::GatewayTimeout(msg_cd.to_owned()),
            "EGW00001" | "EGW00002" | "EGW00202" | "EGW00203" | "EGW00204" | "EGW00300" => {
                Self::Server { status, msg_cd: msg_cd.to_owned() }
            }
            "EGW00102" | "EGW00103" | "EGW00104" | "EGW00105" => {
                Self::Credentials { code: msg_cd.to_owned(), message: msg1.trim().to_owned() }
            }
            _ if status == 401 => Self::TokenRejected(format!("HTTP 401 {msg_cd}")),
            _ => Self::Api { status, msg_cd: msg_cd.to_owned(), msg1: msg1.trim().to_owned() },
        }
    }

    /// Maps the error of an inquiry or other non-order call to the port error.
    pub fn into_broker(self) -> BrokerError {
        match self {
            Self::Connect(m) | Self::Timeout(m) | Self::Transport(m) => {
                BrokerError::Connection { message: m }
            }
            Self::Server { status, msg_cd } => {
                BrokerError::Connection { message: format!("server error HTTP {status} {msg_cd}") }
            }
            Self::GatewayTimeout(code) => {
                BrokerError::Connection { message: format!("gateway timeout {code}") }
            }
            Self::RateLimited => BrokerError::RateLimit,
            Self::TokenRejected(code) => {
                BrokerError::Authentication { message: format!("token rejected ({code})") }
            }
            Self::TokenThrottled => {
                BrokerError::Authentication { message: "token issuance throttled".into() }
            }
            Self::Credentials { code, message } => {
                BrokerError::Authentication { message: format!("{code}: {message}") }
            }
            Self::Api { msg_cd, msg1, .. } => BrokerError::Api { msg_cd, msg1 },
            Self::Decode(m) | Self::Invalid(m) => BrokerError::Invalid { message: m },
            e @ Self::NotLeader => BrokerError::NotLeader { message: e.to_string() },
        }
    }

    /// Maps the error of an order, modify or cancel call to the port error: anything that may
    /// have executed becomes `OutcomeUnknown`, business errors become `Rejected`.
    pub fn into_order_error(self) -> BrokerError {
        if self.may_have_executed() {
            return BrokerError::OutcomeUnknown { message: self.to_string() };
        }
        match self {
            Self::Api { msg_cd, msg1, .. } => BrokerError::Rejected { msg_cd, msg1 },
            other => other.into_broker(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        use KisHttpError as E;
        // (error, retryable, may_have_executed)
        let table = [
            (E::Connect("x".into()), true, false),
            (E::Timeout("x".into()), true, true),
            (E::Transport("x".into()), true, true),
            (E::Server { status: 500, msg_cd: String::new() }, true, true),
            (E::RateLimited, true, false),
            (E::TokenRejected("EGW00123".into()), true, false),
            (E::TokenThrottled, true, false),
            (E::Credentials { code: "EGW00103".into(), message: "x".into() }, false, false),
            (E::GatewayTimeout("EGW00301".into()), true, true),
            (E::Api { status: 200, msg_cd: "APBK0406".into(), msg1: "x".into() }, false, false),
            (E::Decode("x".into()), false, true),
            (E::Invalid("x".into()), false, false),
            (E::NotLeader, false, false),
        ];
        for (err, retryable, executed) in table {
            assert_eq!(err.is_retryable(), retryable, "{err}");
            assert_eq!(err.may_have_executed(), executed, "{err}");
        }
    }

    #[test]
    fn envelopes_classify_by_code() {
        assert_eq!(KisHttpError::from_envelope(500, "EGW00201", ""), KisHttpError::RateLimited);
        assert!(KisHttpError::from_envelope(500, "EGW00123", "").is_token_rejected());
        assert!(KisHttpError::from_envelope(200, "IGW00221", "").is_token_rejected());
        assert!(KisHttpError::from_envelope(401, "", "").is_token_rejected());
        assert_eq!(
            KisHttpError::from_envelope(200, "APBK0406", " over limit  ").into_order_error(),
            BrokerError::Rejected { msg_cd: "APBK0406".into(), msg1: "over limit".into() }
        );
        assert!(matches!(
            KisHttpError::from_envelope(500, "EGW00301", "").into_order_error(),
            BrokerError::OutcomeUnknown { .. }
        ));
        assert!(matches!(
            KisHttpError::Connect("refused".into()).into_order_error(),
            BrokerError::Connection { .. }
        ));
    }
}
