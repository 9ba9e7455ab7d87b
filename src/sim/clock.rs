//! The simulated clock: real time, accelerated by a speed factor, or frozen and driven by hand.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Offset, TimeDelta};

/// Korea Standard Time (UTC+9, no daylight saving).
pub fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| chrono::Utc.fix())
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    sim: DateTime<FixedOffset>,
    real: Instant,
    speed: f64,
}

/// A shareable simulated clock in KST.
///
/// The clock reads `anchor_sim + (now_real - anchor_real) * speed`. A speed of `0` freezes it, so tests
/// move time only through [`SimClock::set`] and [`SimClock::advance`].
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<Mutex<Anchor>>,
}

impl SimClock {
    /// Creates a clock that starts at `start` and runs at `speed` times real time.
    pub fn new(start: DateTime<FixedOffset>, speed: f64) -> Self {
        let speed = sanitize_speed(speed);
        Self {
            inner: Arc::new(Mutex::new(Anchor {
                sim: start.with_timezone(&kst()),
                real: Instant::now(),
                speed,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Anchor> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read(anchor: &Anchor) -> DateTime<FixedOffset> {
        let elapsed = anchor.real.elapsed().as_secs_f64() * anchor.speed;
        let nanos = (elapsed * 1e9).min(i64::MAX as f64) as i64;
        anchor.sim + TimeDelta::nanoseconds(nanos)
    }

    /// Returns the current simulated time in KST.
    pub fn now(&self) -> DateTime<FixedOffset> {
        Self::read(&self.lock())
    }

    /// Returns the current speed factor.
    pub fn speed(&self) -> f64 {
        self.lock().speed
    }

    /// Jumps to `to` (KST), keeping the speed.
    pub fn set(&self, to: DateTime<FixedOffset>) {
        let mut a = self.lock();
        a.sim = to.with_timezone(&kst());
        a.real = Instant::now();
    }

    /// Changes the speed factor from now on (`0` freezes the clock).
    pub fn set_speed(&self, speed: f64) {
        let mut a = self.lock();
        a.sim = Self::read(&a);
        a.real = Instant::now();
        a.speed = sanitize_speed(speed);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut a = self.lock();
        let delta = TimeDelta::from_std(by).unwrap_or(TimeDelta::zero());
        a.sim = Self::read(&a) + delta;
        a.real = Instant::now();
    }

    /// Converts a simulated duration into the real duration it takes at the current speed
    /// (`None` when the clock is frozen).
    pub fn real_for(&self, sim: Duration) -> Option<Duration> {
        let speed = self.speed();
        (speed > 0.0).then(|| Duration::from_secs_f64(sim.as_secs_f64() / speed))
    }
}

fn sanitize_speed(speed: f64) -> f64 {
    if speed.is_finite() && speed >= 0.0 { speed.min(1_000_000.0) } else { 1.0 }
}

/// Builds a KST timestamp from a date and a wall-clock time.
pub fn at(date: NaiveDate, time: NaiveTime) -> DateTime<FixedOffset> {
    date.and_time(time)
        .and_local_timezone(kst())
        .single()
        .unwrap_or_else(|| date.and_time(time).and_utc().fixed_offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_by_hand() {
        let start =
            at(NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(), NaiveTime::from_hms_opt(9, 0, 0).unwrap());
        let c = SimClock::new(start, 0.0);
        assert_eq!(c.now(), start);
        c.advance(Duration::from_secs(90));
        assert_eq!(c.now(), start + TimeDelta::seconds(90));
        c.set(start);
        assert_eq!(c.now(), start);
        assert_eq!(c.real_for(Duration::from_secs(1)), None);
        c.set_speed(200.0);
        assert!(c.now() >= start);
        assert_eq!(c.real_for(Duration::from_secs(200)), Some(Duration::from_secs(1)));
    }
}
