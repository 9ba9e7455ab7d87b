//! The clock port: the only source of "now" for token expiry, breakers and schedules.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Returns the current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Returns how much real time a span of this clock's time takes: the span itself on the
    /// wall clock, less on a compressed one (a rehearsal at 600× waits a 10 s retry backoff in
    /// 17 ms, as the real day would wait 10 s).
    fn real(&self, span: std::time::Duration) -> std::time::Duration {
        span
    }

    /// Returns the span of this clock's time that passes in `real` time: the inverse of
    /// [`real`](Clock::real) (a rehearsal at 1000× lives 5 s of real work as 83 minutes).
    fn span_of(&self, real: std::time::Duration) -> std::time::Duration {
        real
    }

    /// Returns how long to wait for something outside the trading day — network and database
    /// round trips, a broker dropping a dead session — bounded by a span of the day: [`real`]
    /// of the span, but never less than `floor` (nor more than the span itself). A compressed
    /// clock shortens the day, not the time a socket or a disk takes: a 60 s stage timeout at
    /// 1000× would otherwise fire after 60 ms of real work.
    ///
    /// [`real`]: Clock::real
    fn real_at_least(&self, span: std::time::Duration, floor: std::time::Duration) -> std::time::Duration {
        self.real(span).max(floor.min(span))
    }
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct FakeClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl FakeClock {
    /// Returns a clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { now: Arc::new(Mutex::new(start)) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_only_when_told_and_clones_share_time() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let clock = FakeClock::new(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        other.advance(TimeDelta::minutes(5));
        assert_eq!(clock.now(), start + TimeDelta::minutes(5));
        clock.set(start);
        assert_eq!(other.now(), start);
    }

    #[derive(Debug)]
    struct Thousandfold;
    impl Clock for Thousandfold {
        fn now(&self) -> DateTime<Utc> {
            Utc::now()
        }
        fn real(&self, span: std::time::Duration) -> std::time::Duration {
            span / 1000
        }
    }

    #[test]
    fn waits_on_the_outside_world_keep_a_real_floor() {
        use std::time::Duration;
        let s = Duration::from_secs;
        assert_eq!(SystemClock.real_at_least(s(60), s(10)), s(60));
        assert_eq!(Thousandfold.real(s(60)), Duration::from_millis(60));
        assert_eq!(Thousandfold.real_at_least(s(60), s(10)), s(10), "never below the floor");
        assert_eq!(Thousandfold.real_at_least(s(9 * 3600), s(10)), Duration::from_millis(32_400));
        assert_eq!(Thousandfold.real_at_least(s(5), s(10)), s(5), "never above the span");
    }
}
