//! Circuit breakers per endpoint group: a window of the last 10 calls; at 50 % failures the
//! circuit opens for 30 s, then admits 5 trial calls that decide whether it closes again.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::ports::{BrokerError, Clock};

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Calls in the sliding window.
    pub window: usize,
    /// Failure share (percent) that opens the circuit once the window is full.
    pub failure_percent: u32,
    /// How long the circuit stays open.
    pub open_for: Duration,
    /// Trial calls admitted while half-open.
    pub trial_calls: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self { window: 10, failure_percent: 50, open_for: Duration::from_secs(30), trial_calls: 5 }
    }
}

/// Endpoint groups with separate breakers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointGroup {
    /// Token and approval endpoints.
    Auth,
    /// Orders, modifies, cancels (and their hashkeys).
    Orders,
    /// Account inquiries.
    Account,
    /// Quotations and calendar.
    Quotes,
}

impl EndpointGroup {
    const ALL: [Self; 4] = [Self::Auth, Self::Orders, Self::Account, Self::Quotes];

    /// Returns the group's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Orders => "orders",
            Self::Account => "account",
            Self::Quotes => "quotes",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open { until: DateTime<Utc> },
    HalfOpen { admitted: u32, succeeded: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Acquire,
    Success,
    Failure,
}

#[derive(Debug)]
struct Inner {
    state: State,
    window: VecDeque<bool>,
}

/// One circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    /// The endpoint group (the `group` label of its metrics), when it guards one.
    group: Option<&'static str>,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// Returns a closed breaker.
    pub fn new(config: BreakerConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            group: None,
            config,
            clock,
            inner: Mutex::new(Inner { state: State::Closed, window: VecDeque::new() }),
        }
    }

    /// Names the endpoint group the breaker guards (its state is then exported).
    #[must_use]
    pub fn for_group(mut self, group: EndpointGroup) -> Self {
        self.group = Some(group.as_str());
        crate::obs::record::breaker_state(group.as_str(), 0, false);
        self
    }

    /// Returns true when a call may go ahead (and counts it as a trial while half-open).
    pub fn try_acquire(&self) -> bool {
        self.apply(Event::Acquire)
    }

    /// Records the outcome of an admitted call.
    pub fn record(&self, success: bool) {
        self.apply(if success { Event::Success } else { Event::Failure });
    }

    /// Returns true while the circuit refuses calls.
    pub fn is_open(&self) -> bool {
        matches!(self.lock().state, State::Open { until } if self.clock.now() < until)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn apply(&self, event: Event) -> bool {
        let now = self.clock.now();
        let cfg = self.config;
        let open_until = now + TimeDelta::from_std(cfg.open_for).unwrap_or(TimeDelta::seconds(30));
        let mut inner = self.lock();
        let (next, admitted) = match (inner.state, event) {
            (State::Closed, Event::Acquire) => (State::Closed, true),
            (State::Closed, Event::Success | Event::Failure) => {
                inner.window.push_back(event == Event::Success);
                while inner.window.len() > cfg.window {
                    inner.window.pop_front();
                }
                let failures = inner.window.iter().filter(|ok| !**ok).count();
                let full = inner.window.len() >= cfg.window;
                let tripped = full && failures * 100 >= cfg.window * cfg.failure_percent as usize;
                (if tripped { State::Open { until: open_until } } else { State::Closed }, true)
            }
            (State::Open { until }, Event::Acquire) if now >= until => {
                (State::HalfOpen { admitted: 1, succeeded: 0 }, true)
            }
            (State::Open { until }, _) => (State::Open { until }, false),
            (State::HalfOpen { admitted, succeeded }, Event::Acquire) if admitted < cfg.trial_calls => {
                (State::HalfOpen { admitted: admitted + 1, succeeded }, true)
            }
            (State::HalfOpen { admitted, succeeded }, Event::Acquire) => {
                (State::HalfOpen { admitted, succeeded }, false)
            }
            (State::HalfOpen { succeeded, .. }, Event::Success) if succeeded + 1 >= cfg.trial_calls => {
                inner.window.clear();
                (State::Closed, true)
            }
            (State::HalfOpen { admitted, succeeded }, Event::Success) => {
                (State::HalfOpen { admitted, succeeded: succeeded + 1 }, true)
            }
            (State::HalfOpen { .. }, Event::Failure) => (State::Open { until: open_until }, true),
        };
        if next != inner.state {
            tracing::warn!(from = ?inner.state, to = ?next, "circuit breaker transition");
            if let Some(group) = self.group {
                let (code, opened) = match next {
                    State::Closed => (0, false),
                    State::HalfOpen { .. } => (1, false),
                    State::Open { .. } => (2, true),
                };
                crate::obs::record::breaker_state(group, code, opened);
            }
        }
        inner.state = next;
        admitted
    }
}

/// One breaker per endpoint group.
#[derive(Debug)]
pub struct Breakers {
    groups: [CircuitBreaker; 4],
}

impl Breakers {
    /// Returns closed breakers for every group.
    pub fn new(config: BreakerConfig, clock: &Arc<dyn Clock>) -> Self {
        Self { groups: EndpointGroup::ALL.map(|g| CircuitBreaker::new(config, clock.clone()).for_group(g)) }
    }

    /// Returns the breaker of `group`.
    pub fn get(&self, group: EndpointGroup) -> &CircuitBreaker {
        let [auth, orders, account, quotes] = &self.groups;
        match group {
            EndpointGroup::Auth => auth,
            EndpointGroup::Orders => orders,
            EndpointGroup::Account => account,
            EndpointGroup::Quotes => quotes,
        }
    }

    /// Admits a call of `group`.
    ///
    /// # Errors
    /// Returns [`BrokerError::CircuitOpen`] while the group's circuit is open.
    pub fn admit(&self, group: EndpointGroup) -> Result<(), BrokerError> {
        if self.get(group).try_acquire() {
            Ok(())
        } else {
            Err(BrokerError::CircuitOpen { group: group.as_str().into() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::FakeClock;

    fn breaker() -> (CircuitBreaker, FakeClock) {
        let clock = FakeClock::new(DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        (CircuitBreaker::new(BreakerConfig::default(), Arc::new(clock.clone())), clock)
    }

    fn call(b: &CircuitBreaker, ok: bool) -> bool {
        let admitted = b.try_acquire();
        if admitted {
            b.record(ok);
        }
        admitted
    }

    #[test]
    fn opens_at_half_failures_of_a_full_window() {
        let (b, _) = breaker();
        for i in 0..9 {
            assert!(call(&b, i % 2 == 0), "window not full yet");
        }
        assert!(!b.is_open());
        assert!(call(&b, false), "10th call: 5 of 10 failed");
        assert!(b.is_open());
        assert!(!b.try_acquire());
    }

    #[test]
    fn stays_closed_below_threshold() {
        let (b, _) = breaker();
        for i in 0..30 {
            assert!(call(&b, i % 3 != 0));
        }
        assert!(!b.is_open());
    }

    #[test]
    fn half_open_admits_five_trials_then_closes_or_reopens() {
        let (b, clock) = breaker();
        for _ in 0..10 {
            call(&b, false);
        }
        clock.advance(TimeDelta::seconds(29));
        assert!(!b.try_acquire());
        clock.advance(TimeDelta::seconds(1));
        let admitted: Vec<bool> = (0..6).map(|_| b.try_acquire()).collect();
        assert_eq!(admitted, [true, true, true, true, true, false]);
        for _ in 0..5 {
            b.record(true);
        }
        assert!(b.try_acquire(), "closed after five successful trials");

        for _ in 0..10 {
            call(&b, false);
        }
        clock.advance(TimeDelta::seconds(30));
        assert!(call(&b, true));
        assert!(call(&b, false), "a failed trial reopens");
        assert!(b.is_open());
    }

    #[test]
    fn groups_are_independent() {
        let clock: Arc<dyn Clock> = Arc::new(FakeClock::new(DateTime::from_timestamp(0, 0).unwrap()));
        let all = Breakers::new(BreakerConfig::default(), &clock);
        for _ in 0..10 {
            all.admit(EndpointGroup::Quotes).unwrap();
            all.get(EndpointGroup::Quotes).record(false);
        }
        assert!(matches!(all.admit(EndpointGroup::Quotes), Err(BrokerError::CircuitOpen { .. })));
        assert!(all.admit(EndpointGroup::Orders).is_ok());
    }
}
