//! Errors of the real-time feed and its codec.

/// Errors of the KIS WebSocket codec and feed. Messages never include payload contents,
/// keys or account numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KisWsError {
    /// The frame is empty.
    #[error("empty frame")]
    Empty,
    /// The frame exceeds the size limit.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    Oversized {
        /// Frame length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The `enc|TR|CNT|payload` header is malformed.
    #[error("malformed frame header: {0}")]
    Header(&'static str),
    /// The channel is not one the codec decodes.
    #[error("unsupported channel {0}")]
    UnsupportedChannel(String),
    /// The field total does not split into `count` equal records.
    #[error("{tr}: {fields} fields do not split into {count} records")]
    RecordSplit {
        /// Channel.
        tr: String,
        /// Field total.
        fields: usize,
        /// Declared record count.
        count: usize,
    },
    /// Records are shorter than the known layout.
    #[error("{tr}: record has {observed} fields, layout needs {expected}")]
    Truncated {
        /// Channel.
        tr: String,
        /// Known width.
        expected: usize,
        /// Observed width.
        observed: usize,
    },
    /// A field could not be parsed.
    #[error("{tr}: invalid field {field}")]
    Field {
        /// Channel.
        tr: String,
        /// Field name.
        field: &'static str,
    },
    /// A JSON control frame could not be understood.
    #[error("invalid control frame: {0}")]
    Control(String),
    /// Decryption failed.
    #[error("decryption failed: {0}")]
    Crypto(String),
    /// An encrypted frame arrived before its channel's key.
    #[error("{0}: no key for encrypted frame")]
    MissingKey(String),
    /// The subscription cap is reached.
    #[error("subscription cap of {cap} registrations reached")]
    SubscriptionCap {
        /// Cap.
        cap: usize,
    },
    /// The server refused a subscription.
    #[error("subscription refused {msg_cd}: {msg1}")]
    Refused {
        /// Control code.
        msg_cd: String,
        /// Control message.
        msg1: String,
    },
    /// The socket failed.
    #[error("socket error: {0}")]
    Socket(String),
    /// The feed task is gone.
    #[error("feed closed")]
    Closed,
}

impl KisWsError {
    /// Returns true when reconnecting or resubscribing may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Socket(_) | Self::Refused { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_classification_table() {
        let table = [
            (KisWsError::Empty, false),
            (KisWsError::Oversized { len: 2, max: 1 }, false),
            (KisWsError::Header("x"), false),
            (KisWsError::UnsupportedChannel("X".into()), false),
            (KisWsError::RecordSplit { tr: "T".into(), fields: 3, count: 2 }, false),
            (KisWsError::Truncated { tr: "T".into(), expected: 2, observed: 1 }, false),
            (KisWsError::Field { tr: "T".into(), field: "F" }, false),
            (KisWsError::Control("x".into()), false),
            (KisWsError::Crypto("x".into()), false),
            (KisWsError::MissingKey("T".into()), false),
            (KisWsError::SubscriptionCap { cap: 41 }, false),
            (KisWsError::Refused { msg_cd: "OPSP0007".into(), msg1: "x".into() }, true),
            (KisWsError::Socket("x".into()), true),
            (KisWsError::Closed, false),
        ];
        for (err, retryable) in table {
            assert_eq!(err.is_retryable(), retryable, "{err}");
        }
    }
}
