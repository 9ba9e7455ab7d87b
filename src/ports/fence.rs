//! Fencing: a process writes orders only while it holds the pipeline lease, under the epoch it took
//! the lease with. The epoch grows by one whenever the lease changes holder, so a process that lost
//! the lease (its heartbeat stalled, another process took over) names a stale epoch and every order
//! write it attempts is refused by the database — before the broker is ever called.

use std::sync::atomic::{AtomicI64, Ordering};

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
}

impl Fence {
    /// A fence for `holder` on the named lease, not held yet.
    pub fn new(name: impl Into<String>, holder: impl Into<String>) -> Self {
        Self { name: name.into(), holder: holder.into(), epoch: AtomicI64::new(0) }
    }

    /// The lease name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This process's holder name.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Records that the lease is held under `epoch` (a positive number).
    pub fn hold(&self, epoch: i64) {
        self.epoch.store(epoch.max(1), Ordering::SeqCst);
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
}
