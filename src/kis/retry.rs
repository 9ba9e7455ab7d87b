//! Retry policy for transient REST failures: exponential backoff (1 s, 2 s, 4 s by default).
//! Orders whose outcome is unknown are never retried here (see the typed client).

use std::time::Duration;

/// How often and how patiently transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRetry {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Delay before the first retry; doubles for each further retry.
    pub base_delay: Duration,
    /// Upper bound of a single delay.
    pub max_delay: Duration,
}

impl Default for RequestRetry {
    fn default() -> Self {
        Self { retries: 3, base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(30) }
    }
}

impl RequestRetry {
    /// Returns the delay before retry number `retry` (0-based): `base · 2^retry`, capped.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base_delay.checked_mul(factor).unwrap_or(self.max_delay).min(self.max_delay)
    }
}

/// Counts retries of one kind against a policy.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    policy: RequestRetry,
    used: u32,
}

impl Backoff {
    /// Returns a fresh counter.
    pub fn new(policy: RequestRetry) -> Self {
        Self { policy, used: 0 }
    }

    /// Returns the next delay, or `None` when the retries are used up.
    pub fn next_delay(&mut self) -> Option<Duration> {
        (self.used < self.policy.retries).then(|| {
            let d = self.policy.delay(self.used);
            self.used += 1;
            d
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_stops() {
        let mut b = Backoff::new(RequestRetry::default());
        let delays: Vec<u64> = std::iter::from_fn(|| b.next_delay()).map(|d| d.as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4]);
        let p = RequestRetry {
            retries: 40,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
        };
        assert_eq!(p.delay(35), Duration::from_secs(10));
    }
}
