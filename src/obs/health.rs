//! What `/readyz` decides on, and the rule it applies ([`readiness`]).
//!
//! The state is the process's (one daemon per process): the lease as the lease keeper last saw
//! it, the real-time feed as its task last reported it (plain atomics, so the feed's frame path
//! costs a few relaxed stores and no lock), and the database the probe pings.
//!
//! The rule — ready (200) when all three hold, else 503 with the reasons:
//! - **database**: a `ping` of the store answers within 2 s;
//! - **lease**: this process holds the pipeline lease (a process that takes no lease, like
//!   `aegis demo`, passes); while another process holds it (standby), before the first attempt
//!   decided it, and after losing it, the check fails and says why (who holds it);
//! - **feed**: while the feed holds registrations (the intraday stage subscribed: the session), the
//!   WebSocket is connected; outside the session the feed is not required.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use serde::Serialize;

/// The lease as this process last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LeaseState {
    /// The process takes no lease (`aegis demo`): not a readiness condition.
    #[default]
    Unmanaged,
    /// The daemon started and has not tried the lease yet.
    Pending,
    /// This process holds the lease.
    Held {
        /// Our holder name.
        holder: String,
        /// The epoch we lead under.
        epoch: i64,
    },
    /// Another process holds the lease: this one stands by.
    Standby {
        /// The holder, when known.
        other: Option<String>,
    },
    /// This process lost the lease (and stands by again).
    Lost {
        /// Why.
        reason: String,
    },
}

/// The feed as its task last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedView {
    /// The WebSocket is connected.
    pub connected: bool,
    /// Registrations held (subscriptions of the session).
    pub registrations: usize,
}

/// One readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// True when it passes.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The outcome of the readiness rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// True when every check passes (`/readyz` answers 200).
    pub ready: bool,
    /// The database check.
    pub database: Check,
    /// The lease check.
    pub lease: Check,
    /// The feed check.
    pub feed: Check,
}

/// Applies the readiness rule (see the module documentation).
pub fn readiness(database: Result<(), String>, lease: &LeaseState, feed: FeedView) -> Readiness {
    let database = match database {
        Ok(()) => Check { ok: true, detail: "reachable".into() },
        Err(e) => Check { ok: false, detail: e },
    };
    let lease = match lease {
        LeaseState::Unmanaged => Check { ok: true, detail: "this process takes no lease".into() },
        LeaseState::Pending => Check { ok: false, detail: "the lease is not decided yet".into() },
        LeaseState::Held { holder, epoch } => {
            Check { ok: true, detail: format!("held by this process ({holder}, epoch {epoch})") }
        }
        LeaseState::Standby { other } => Check {
            ok: false,
            detail: format!(
                "standby: the pipeline lease is held by {}",
                other.as_deref().unwrap_or("another process")
            ),
        },
        LeaseState::Lost { reason } => Check { ok: false, detail: format!("lease lost: {reason}") },
    };
    let feed = match feed {
        FeedView { registrations: 0, .. } => {
            Check { ok: true, detail: "not in session (no registrations)".into() }
        }
        FeedView { connected: true, registrations } => {
            Check { ok: true, detail: format!("connected ({registrations} registrations)") }
        }
        FeedView { connected: false, registrations } => Check {
            ok: false,
            detail: format!("disconnected during the session ({registrations} registrations waiting)"),
        },
    };
    Readiness { ready: database.ok && lease.ok && feed.ok, database, lease, feed }
}

/// The real-time channels counted separately; any other TR id counts as `other`.
pub const CHANNELS: [&str; 9] =
    ["H0STASP0", "H0STCNT0", "H0STCNI0", "H0STCNI9", "HDFSASP0", "HDFSCNT0", "H0GSCNI0", "H0GSCNI9", "other"];

fn channel_index(tr_id: &str) -> usize {
    CHANNELS.iter().position(|c| *c == tr_id).unwrap_or(CHANNELS.len() - 1)
}

#[derive(Debug, Default)]
struct ChannelStats {
    frames: AtomicU64,
    records: AtomicU64,
    /// Milliseconds since [`Health::epoch`] of the last frame, plus one (0: never).
    last_frame: AtomicU64,
}

/// The feed's counters (atomics: the frame path takes no lock and calls no recorder).
#[derive(Debug, Default)]
pub struct FeedStats {
    connected: AtomicBool,
    registrations: AtomicUsize,
    reconnects: AtomicU64,
    malformed: AtomicU64,
    channels: [ChannelStats; CHANNELS.len()],
}

impl FeedStats {
    /// Records the socket's state and how many registrations the feed holds.
    pub fn set_state(&self, connected: bool, registrations: usize) {
        self.connected.store(connected, Ordering::Relaxed);
        self.registrations.store(registrations, Ordering::Relaxed);
    }

    /// Counts a reconnect.
    pub fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one decoded data frame of `tr_id` carrying `records` records.
    pub fn frame(&self, tr_id: &str, records: usize) {
        let c = &self.channels[channel_index(tr_id)];
        c.frames.fetch_add(1, Ordering::Relaxed);
        c.records.fetch_add(records as u64, Ordering::Relaxed);
        let ms = u64::try_from(health().epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        c.last_frame.store(ms + 1, Ordering::Relaxed);
    }

    /// Counts one malformed frame.
    pub fn malformed(&self) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
    }

    /// The socket's state and registrations.
    pub fn view(&self) -> FeedView {
        FeedView {
            connected: self.connected.load(Ordering::Relaxed),
            registrations: self.registrations.load(Ordering::Relaxed),
        }
    }

    /// (reconnects, malformed frames).
    pub(crate) fn totals(&self) -> (u64, u64) {
        (self.reconnects.load(Ordering::Relaxed), self.malformed.load(Ordering::Relaxed))
    }

    /// Per channel that saw a frame: (channel, frames, records, time since its last frame).
    pub(crate) fn channels(&self) -> Vec<(&'static str, u64, u64, Duration)> {
        let now = health().epoch.elapsed();
        CHANNELS
            .iter()
            .zip(&self.channels)
            .filter_map(|(name, c)| {
                let last = c.last_frame.load(Ordering::Relaxed).checked_sub(1)?;
                let since = now.saturating_sub(Duration::from_millis(last));
                Some((*name, c.frames.load(Ordering::Relaxed), c.records.load(Ordering::Relaxed), since))
            })
            .collect()
    }
}

/// The process's health state.
#[derive(Debug)]
pub struct Health {
    epoch: Instant,
    lease: Mutex<LeaseState>,
    database: Mutex<Option<DatabaseConnection>>,
    feed: FeedStats,
}

/// Returns the process's health state.
pub fn health() -> &'static Health {
    static HEALTH: OnceLock<Health> = OnceLock::new();
    HEALTH.get_or_init(|| Health {
        epoch: Instant::now(),
        lease: Mutex::new(LeaseState::Unmanaged),
        database: Mutex::new(None),
        feed: FeedStats::default(),
    })
}

/// Returns the feed's counters.
pub fn feed() -> &'static FeedStats {
    &health().feed
}

/// How long the database probe may take.
pub const DB_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Health {
    /// Records the lease state.
    pub fn set_lease(&self, state: LeaseState) {
        *self.lease.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// The lease state.
    pub fn lease(&self) -> LeaseState {
        self.lease.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Sets the database the readiness probe pings.
    pub fn set_database(&self, conn: DatabaseConnection) {
        *self.database.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn);
    }

    /// Pings the database (within [`DB_PROBE_TIMEOUT`]).
    pub async fn probe_database(&self) -> Result<(), String> {
        let conn = self.database.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let Some(conn) = conn else { return Err("the database is not opened yet".into()) };
        match tokio::time::timeout(DB_PROBE_TIMEOUT, conn.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("unreachable: {}", crate::telemetry::scrubbed(&e.to_string()))),
            Err(_) => Err(format!("no answer within {}s", DB_PROBE_TIMEOUT.as_secs())),
        }
    }

    /// Evaluates readiness now (pinging the database).
    pub async fn readiness(&self) -> Readiness {
        let db = self.probe_database().await;
        let r = readiness(db, &self.lease(), self.feed.view());
        super::record::ready(r.ready);
        r
    }
}

/// The resident memory of this process in bytes (`VmRSS` of `/proc/self/status`); `None` where
/// there is no procfs.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let value: u64 = parts.next()?.parse().ok()?;
    let factor = match parts.next().unwrap_or("kB") {
        "kB" | "KB" | "kb" => 1024,
        "mB" | "MB" => 1024 * 1024,
        _ => 1,
    };
    value.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> LeaseState {
        LeaseState::Held { holder: "daemon-1".into(), epoch: 4 }
    }

    #[test]
    fn ready_needs_the_database_the_lease_and_the_feed_in_session() {
        let idle = FeedView::default();
        assert!(readiness(Ok(()), &held(), idle).ready);
        assert!(readiness(Ok(()), &LeaseState::Unmanaged, idle).ready, "the demo takes no lease");
        let r = readiness(Err("unreachable: refused".into()), &held(), idle);
        assert!(!r.ready && !r.database.ok && r.lease.ok);
        let standby = LeaseState::Standby { other: Some("daemon-2".into()) };
        let r = readiness(Ok(()), &standby, idle);
        assert!(!r.ready);
        assert_eq!(r.lease.detail, "standby: the pipeline lease is held by daemon-2");
        assert!(!readiness(Ok(()), &LeaseState::Pending, idle).ready);
        assert!(!readiness(Ok(()), &LeaseState::Lost { reason: "taken over".into() }, idle).ready);
        let session_down = FeedView { connected: false, registrations: 13 };
        let r = readiness(Ok(()), &held(), session_down);
        assert!(!r.ready && !r.feed.ok, "{r:?}");
        assert!(readiness(Ok(()), &held(), FeedView { connected: true, registrations: 13 }).ready);
        assert!(
            readiness(Ok(()), &held(), FeedView { connected: false, registrations: 0 }).ready,
            "outside the session the feed is not required"
        );
    }

    #[test]
    fn rss_is_read_from_proc_status() {
        assert_eq!(parse_vm_rss("Name:\taegis\nVmRSS:\t   51200 kB\nVmSwap: 0 kB\n"), Some(51200 * 1024));
        assert_eq!(parse_vm_rss("Name:\taegis\n"), None);
        #[cfg(target_os = "linux")]
        assert!(resident_memory_bytes().is_some_and(|b| b > 1024 * 1024));
    }

    #[test]
    fn channels_are_counted_per_frame() {
        let stats = FeedStats::default();
        assert!(stats.channels().is_empty());
        stats.frame("H0STCNT0", 3);
        stats.frame("H0STCNT0", 2);
        stats.frame("H9UNKNOWN", 1);
        let seen = stats.channels();
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[0].0, seen[0].1, seen[0].2), ("H0STCNT0", 2, 5));
        assert_eq!((seen[1].0, seen[1].1, seen[1].2), ("other", 1, 1));
        assert!(seen[0].3 < Duration::from_secs(5));
    }
}
