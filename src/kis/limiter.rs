//! A smooth request limiter per app key, shared by every caller in the process. Requests are
//! spaced evenly (rate · (1 − margin)); orders and cancels go ahead of waiting inquiries.
//!
//! It is a small GCRA-style scheduler on tokio's clock rather than `governor`, so tests can run
//! it under `tokio::time::pause()`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Who goes first when both wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Orders, modifies and cancels.
    Order,
    /// Everything else.
    Inquiry,
}

impl Priority {
    /// The `priority` label of the limiter's metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Inquiry => "inquiry",
        }
    }
}

#[derive(Debug)]
struct State {
    next_free: Option<Instant>,
    orders_waiting: usize,
}

/// The limiter of one app key.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    tolerance: Duration,
    state: Mutex<State>,
    order_queue: tokio::sync::Mutex<()>,
    inquiry_queue: tokio::sync::Mutex<()>,
}

/// Share of the nominal rate kept as headroom against clock and network jitter (percent).
pub const DEFAULT_MARGIN_PERCENT: u32 = 5;
/// Most lateness of a waiter that later slots absorb (capped at one interval).
pub const LATE_WAKE_TOLERANCE: Duration = Duration::from_millis(20);

impl RateLimiter {
    /// Returns a limiter admitting `per_second` requests per second minus the margin.
    pub fn new(per_second: u32) -> Self {
        let per_second = per_second.max(1);
        let nominal = Duration::from_secs(1) / per_second;
        let interval = nominal + nominal * DEFAULT_MARGIN_PERCENT / 100;
        Self {
            interval,
            tolerance: interval.min(LATE_WAKE_TOLERANCE),
            state: Mutex::new(State { next_free: None, orders_waiting: 0 }),
            order_queue: tokio::sync::Mutex::new(()),
            inquiry_queue: tokio::sync::Mutex::new(()),
        }
    }

    /// Returns the process-wide limiter of an app key (by fingerprint), creating it on first use.
    pub fn shared(app_key_fingerprint: &str, per_second: u32) -> Arc<Self> {
        static ALL: OnceLock<Mutex<HashMap<String, Arc<RateLimiter>>>> = OnceLock::new();
        let mut all = ALL.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
        all.entry(app_key_fingerprint.to_owned()).or_insert_with(|| Arc::new(Self::new(per_second))).clone()
    }

    /// Returns the spacing between two requests.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a slot. Inquiries wait while any order is waiting.
    pub async fn acquire(&self, priority: Priority) {
        let started = Instant::now();
        let label = priority.as_str();
        let _queued = crate::obs::record::LimiterQueued::enter(label);
        self.wait_for_slot(priority).await;
        crate::obs::record::limiter_wait(label, started.elapsed());
    }

    async fn wait_for_slot(&self, priority: Priority) {
        let order = priority == Priority::Order;
        if order {
            self.lock().orders_waiting += 1;
        }
        let _guard = OrderGuard { limiter: self, active: order };
        let _turn = if order { self.order_queue.lock().await } else { self.inquiry_queue.lock().await };
        loop {
            let wake = {
                let mut s = self.lock();
                let now = Instant::now();
                let free = s.next_free.is_none_or(|t| t <= now);
                if free && (order || s.orders_waiting == 0) {
                    let earliest = now.checked_sub(self.tolerance).unwrap_or(now);
                    let slot = s.next_free.map_or(now, |t| t.max(earliest));
                    s.next_free = Some(slot + self.interval);
                    return;
                }
                match s.next_free {
                    Some(t) if t > now => t,
                    // Free now but an order is waiting: yield one interval's tick to it.
                    _ => now + self.interval / 8,
                }
            };
            tokio::time::sleep_until(wake).await;
        }
    }

    /// Pushes the next slot back by `pause` (after an `EGW00201`).
    pub fn back_off(&self, pause: Duration) {
        let mut s = self.lock();
        let until = Instant::now() + pause;
        s.next_free = Some(s.next_free.map_or(until, |t| t.max(until)));
    }
}

struct OrderGuard<'a> {
    limiter: &'a RateLimiter,
    active: bool,
}

impl Drop for OrderGuard<'_> {
    fn drop(&mut self) {
        if self.active {
            let mut s = self.limiter.lock();
            s.orders_waiting = s.orders_waiting.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_and_never_exceeds_the_rate() {
        let limiter = Arc::new(RateLimiter::new(2));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..1000 {
            let l = limiter.clone();
            tasks.push(tokio::spawn(async move {
                l.acquire(Priority::Inquiry).await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        for pair in times.windows(3) {
            assert!(pair[2] - pair[0] >= Duration::from_secs(1), "three requests within one second");
        }
        let elapsed = (*times.last().unwrap() - start).as_secs_f64();
        let rate = 999.0 / elapsed;
        assert!((1.8..=2.0).contains(&rate), "1,000 queued calls at the paper limit ran at {rate}/s");
    }

    #[tokio::test(start_paused = true)]
    async fn late_wakes_do_not_push_later_slots_back() {
        let limiter = RateLimiter::new(20);
        let interval = limiter.interval();
        let t0 = Instant::now();
        limiter.acquire(Priority::Inquiry).await;
        // The second caller comes 10 ms after its slot: the third keeps the schedule.
        tokio::time::advance(interval + Duration::from_millis(10)).await;
        limiter.acquire(Priority::Inquiry).await;
        limiter.acquire(Priority::Inquiry).await;
        let ms = Duration::from_millis(1);
        // (tokio's timer wakes on whole milliseconds)
        let took = Instant::now() - t0;
        assert!(took >= interval * 2 && took <= interval * 2 + ms, "{took:?}");
        // After a long pause the catch-up is bounded by the tolerance.
        tokio::time::advance(Duration::from_secs(10)).await;
        let t1 = Instant::now();
        limiter.acquire(Priority::Inquiry).await;
        limiter.acquire(Priority::Inquiry).await;
        let gap = Instant::now() - t1;
        let least = interval - LATE_WAKE_TOLERANCE;
        assert!(gap >= least && gap <= least + ms, "{gap:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn orders_jump_the_inquiry_queue() {
        let limiter = Arc::new(RateLimiter::new(2));
        limiter.acquire(Priority::Inquiry).await;
        let mut inquiries = Vec::new();
        for _ in 0..10 {
            let l = limiter.clone();
            inquiries.push(tokio::spawn(async move {
                l.acquire(Priority::Inquiry).await;
                Instant::now()
            }));
        }
        tokio::task::yield_now().await;
        let l = limiter.clone();
        let order = tokio::spawn(async move {
            l.acquire(Priority::Order).await;
            Instant::now()
        });
        let order_at = order.await.unwrap();
        let mut later = 0;
        for t in inquiries {
            if t.await.unwrap() > order_at {
                later += 1;
            }
        }
        assert!(later >= 9, "the order went ahead of at least 9 of 10 waiting inquiries ({later})");
    }

    #[tokio::test(start_paused = true)]
    async fn back_off_delays_the_next_slot() {
        let limiter = RateLimiter::new(20);
        limiter.acquire(Priority::Inquiry).await;
        limiter.back_off(Duration::from_secs(1));
        let before = Instant::now();
        limiter.acquire(Priority::Inquiry).await;
        assert!(Instant::now() - before >= Duration::from_secs(1));
        assert!(Arc::ptr_eq(&RateLimiter::shared("k", 2), &RateLimiter::shared("k", 20)));
    }
}
