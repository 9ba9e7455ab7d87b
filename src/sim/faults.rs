//! Fault injection: the commands accepted by the admin API, the CLI and `SimHandle`, and the
//! counters they arm. Faults are counter- or clock-driven, so a run is deterministic for a seed.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// One fault-injection command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum FaultCommand {
    /// Closes every WebSocket session: once now, at a simulated time, or every N simulated seconds.
    WsClose {
        /// Simulated time (RFC 3339) at which to close.
        #[serde(default)]
        at: Option<DateTime<FixedOffset>>,
        /// Close again every this many simulated seconds.
        #[serde(default)]
        every_secs: Option<u64>,
    },
    /// Delays every REST response by `ms` real milliseconds (`0` clears it).
    Delay {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Never answers REST requests whose path contains `path` (the client times out).
    Hang {
        /// Path fragment, e.g. `inquire-balance`.
        path: String,
    },
    /// Accepts the next `count` orders (they reach the book) and then never answers them.
    HangAfterOrder {
        /// Number of orders.
        count: u32,
    },
    /// Answers the next `count` REST requests with a 5xx.
    Rest5xx {
        /// Number of requests.
        count: u32,
        /// HTTP status (500 sends the `EGW00203` envelope; others an empty body).
        #[serde(default)]
        status: Option<u16>,
    },
    /// Answers the next `count` REST requests with `EGW00201`.
    RateLimitStorm {
        /// Number of requests.
        count: u32,
    },
    /// Revokes (`EGW00121`) or expires (`EGW00123`) every issued access token.
    Token {
        /// `revoke` or `expire`.
        action: TokenFault,
    },
    /// Refuses (drops) new TCP connections while `on`.
    RefuseConnections {
        /// Whether to refuse.
        on: bool,
    },
    /// Sends each of the next `count` execution notices twice.
    NoticeDuplicate {
        /// Number of notices.
        count: u32,
    },
    /// Delays every execution notice by `ms` real milliseconds (`0` clears it).
    NoticeDelay {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Swaps the order of the next `count` pairs of execution notices.
    NoticeReorder {
        /// Number of pairs.
        count: u32,
    },
    /// Sends one malformed frame to every WebSocket session.
    MalformedFrame,
    /// Accepts the next `count` orders at the REST layer, then rejects them at the exchange.
    RejectOrders {
        /// Number of orders.
        count: u32,
    },
    /// Clears every armed fault.
    Clear,
}

/// What happens to tokens in a [`FaultCommand::Token`] fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFault {
    /// Tokens become invalid (`EGW00121`).
    Revoke,
    /// Tokens become expired (`EGW00123`).
    Expire,
}

/// The armed faults.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Faults {
    /// Pending one-shot WebSocket close.
    pub ws_close_once: bool,
    /// Simulated time of a scheduled WebSocket close.
    pub ws_close_at: Option<DateTime<FixedOffset>>,
    /// Period of repeated closes in simulated seconds.
    pub ws_close_every_secs: Option<u64>,
    /// Last time a periodic close fired.
    pub ws_close_last: Option<DateTime<FixedOffset>>,
    /// REST response delay in milliseconds.
    pub delay_ms: u64,
    /// Path fragments that never get an answer.
    pub hang_paths: Vec<String>,
    /// Orders to accept and then leave unanswered.
    pub hang_after_order: u32,
    /// REST requests to fail with a 5xx.
    pub rest_5xx: u32,
    /// Status used for those failures.
    pub rest_5xx_status: u16,
    /// REST requests to fail with `EGW00201`.
    pub rate_limit_storm: u32,
    /// Whether new TCP connections are dropped.
    pub refuse_connections: bool,
    /// Notices to send twice.
    pub notice_duplicate: u32,
    /// Notice delay in milliseconds.
    pub notice_delay_ms: u64,
    /// Notice pairs to swap.
    pub notice_reorder: u32,
    /// Pending malformed frame.
    pub malformed_frame: bool,
    /// Orders to reject at the exchange after acceptance.
    pub reject_orders: u32,
}

impl Faults {
    /// Arms `cmd`, except token faults, which the state applies to its tokens directly.
    pub fn apply(&mut self, cmd: &FaultCommand) {
        match cmd {
            FaultCommand::WsClose { at: None, every_secs: None } => self.ws_close_once = true,
            FaultCommand::WsClose { at, every_secs } => {
                self.ws_close_at = *at;
                self.ws_close_every_secs = every_secs.filter(|s| *s > 0);
                self.ws_close_last = None;
            }
            FaultCommand::Delay { ms } => self.delay_ms = *ms,
            FaultCommand::Hang { path } => self.hang_paths.push(path.clone()),
            FaultCommand::HangAfterOrder { count } => self.hang_after_order = *count,
            FaultCommand::Rest5xx { count, status } => {
                self.rest_5xx = *count;
                self.rest_5xx_status = status.filter(|s| (500..600).contains(s)).unwrap_or(500);
            }
            FaultCommand::RateLimitStorm { count } => self.rate_limit_storm = *count,
            FaultCommand::Token { .. } => {}
            FaultCommand::RefuseConnections { on } => self.refuse_connections = *on,
            FaultCommand::NoticeDuplicate { count } => self.notice_duplicate = *count,
            FaultCommand::NoticeDelay { ms } => self.notice_delay_ms = *ms,
            FaultCommand::NoticeReorder { count } => self.notice_reorder = *count,
            FaultCommand::MalformedFrame => self.malformed_frame = true,
            FaultCommand::RejectOrders { count } => self.reject_orders = *count,
            FaultCommand::Clear => *self = Self::default(),
        }
    }

    /// Returns true (and re-arms periodic closes) when WebSocket sessions must be closed at `now`.
    pub fn take_ws_close(&mut self, now: DateTime<FixedOffset>) -> bool {
        if std::mem::take(&mut self.ws_close_once) {
            return true;
        }
        if let Some(at) = self.ws_close_at
            && now >= at
        {
            self.ws_close_at = None;
            return true;
        }
        if let Some(every) = self.ws_close_every_secs {
            let every = chrono::TimeDelta::seconds(i64::try_from(every).unwrap_or(i64::MAX / 2));
            match self.ws_close_last {
                None => self.ws_close_last = Some(now),
                Some(last) if now - last >= every => {
                    self.ws_close_last = Some(now);
                    return true;
                }
                Some(_) => {}
            }
        }
        false
    }
}

/// Decrements a counter and returns whether it was armed.
pub fn take(counter: &mut u32) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_from_admin_json() {
        let c: FaultCommand = serde_json::from_str(r#"{"fault":"rest5xx","count":3}"#).unwrap();
        assert_eq!(c, FaultCommand::Rest5xx { count: 3, status: None });
        let c: FaultCommand = serde_json::from_str(r#"{"fault":"ws_close","every_secs":30}"#).unwrap();
        let mut f = Faults::default();
        f.apply(&c);
        let t0 = crate::sim::clock::at(
            chrono::NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
            chrono::NaiveTime::MIN,
        );
        assert!(!f.take_ws_close(t0));
        assert!(!f.take_ws_close(t0 + chrono::TimeDelta::seconds(10)));
        assert!(f.take_ws_close(t0 + chrono::TimeDelta::seconds(30)));
        f.apply(&FaultCommand::Rest5xx { count: 1, status: Some(503) });
        assert!(take(&mut f.rest_5xx));
        assert!(!take(&mut f.rest_5xx));
        f.apply(&FaultCommand::Clear);
        assert_eq!(f, Faults::default());
    }
}
