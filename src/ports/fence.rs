//! Fencing: a process writes orders only while it holds the pipeline lease, under the epoch it took
//! the lease with. The epoch grows by one whenever the lease changes holder, so a process that lost
//! the lease (its heartbeat stalled, another process took over) names a stale epoch and every order
//! write it attempts is refused by the database — before the broker is ever called.
//!
//! The database cannot see the last step, the broker call itself, so the fence also carries a
//! local deadline: the lease counts as held only until a margin before it could lapse in the
//! database since the last renewal, measured on the monotonic clock. A process frozen past that
//! (SIGSTOP, a paused VM) finds its fence closed when it wakes, before its heartbeat has even run,
//! and the adapter refuses to send an order ([`Fence::may_act`]).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What an order write must name: the lease, its holder and the epoch it was taken under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceToken {
    /// Lease name.
    pub name: String,
    /// This process's holder name.
    pub holder: String,
    /// The epoch the lease was taken under.
    pub epoch: i64,
}

/// The lease this process writes under, shared by the lease keeper (which sets and clears it) and
/// the store (which puts it into every order write).
#[derive(Debug)]
pub struct Fence {
    name: String,
    holder: String,
    /// The held epoch; 0 while the lease is not held.
    epoch: AtomicI64,
    /// Origin of `valid_until`.
    base: Instant,
    /// Nanoseconds after `base` until which this process may act on the lease
    /// (`u64::MAX`: no local deadline).
    valid_until: AtomicU64,
}

impl Fence {
    /// A fence for `holder` on the named lease, not held yet.
    pub fn new(name: impl Into<String>, holder: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            holder: holder.into(),
            epoch: AtomicI64::new(0),
            base: Instant::now(),
            valid_until: AtomicU64::new(u64::MAX),
        }
    }

    /// The lease name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This process's holder name.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Records that the lease is held under `epoch` (a positive number), with no local deadline
    /// (tests, and holders without a heartbeat).
    pub fn hold(&self, epoch: i64) {
        self.valid_until.store(u64::MAX, Ordering::SeqCst);
        self.epoch.store(epoch.max(1), Ordering::SeqCst);
    }

    /// Records that the lease is held under `epoch` until `until` on the monotonic clock (the
    /// start of the renewal plus the time to live, less a margin); a renewal moves `until` on.
    pub fn hold_until(&self, epoch: i64, until: Instant) {
        let nanos = until.saturating_duration_since(self.base).as_nanos();
        self.valid_until.store(u64::try_from(nanos).unwrap_or(u64::MAX - 1), Ordering::SeqCst);
        self.epoch.store(epoch.max(1), Ordering::SeqCst);
    }

    /// True while the lease is held and its local deadline has not passed: the broker may be
    /// asked to act (send, modify or cancel an order) for this process.
    pub fn may_act(&self) -> bool {
        if self.epoch.load(Ordering::SeqCst) <= 0 {
            return false;
        }
        let until = self.valid_until.load(Ordering::SeqCst);
        until == u64::MAX || self.base + Duration::from_nanos(until) > Instant::now()
    }

    /// Records that the lease is no longer held: every order write is refused from now on.
    pub fn lose(&self) {
        self.epoch.store(0, Ordering::SeqCst);
    }

    /// Returns the token to write under, `None` while the lease is not held.
    pub fn token(&self) -> Option<FenceToken> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        (epoch > 0).then(|| FenceToken { name: self.name.clone(), holder: self.holder.clone(), epoch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_gives_a_token_only_while_held() {
        let f = Fence::new("pipeline", "daemon-1");
        assert_eq!(f.token(), None);
        f.hold(3);
        assert_eq!(f.token().map(|t| t.epoch), Some(3));
        f.lose();
        assert_eq!(f.token(), None);
    }

    #[test]
    fn a_fence_past_its_local_deadline_may_not_act() {
        let f = Fence::new("pipeline", "daemon-1");
        assert!(!f.may_act(), "not held");
        f.hold_until(2, Instant::now() + Duration::from_secs(60));
        assert!(f.may_act());
        f.hold_until(2, Instant::now() - Duration::from_millis(1));
        assert!(!f.may_act(), "frozen past the deadline");
        assert!(f.token().is_some(), "the database decides writes; the deadline gates the broker");
        f.hold(3);
        assert!(f.may_act());
        f.lose();
        assert!(!f.may_act());
    }
}
