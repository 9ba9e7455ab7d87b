//! Alert rules, pure and driven by explicit timestamps: each returns an [`Alert`] once per
//! episode and re-arms when its condition clears.
//!
//! - [`FeedDownRule`]: the realtime feed down longer than 30 s.
//! - [`OrderFailureRule`]: more than 10 % of orders failed over 5 minutes (with a minimum sample).
//! - [`OrderLimitRule`]: 80 % of the daily order limit reached (once per trade date).
//! - [`StageOverdueRule`]: a stage without a transition by its expected time.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Seoul;

use super::{Alert, AlertKind};

fn kst(at: DateTime<Utc>) -> String {
    at.with_timezone(&Seoul).format("%H:%M:%S KST").to_string()
}

fn chrono_dur(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

/// Alerts when the realtime feed has been down longer than the threshold.
#[derive(Debug, Clone)]
pub struct FeedDownRule {
    threshold: Duration,
    down_since: Option<DateTime<Utc>>,
    fired: bool,
}

impl Default for FeedDownRule {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl FeedDownRule {
    /// Creates the rule with a threshold (30 s in production).
    pub fn new(threshold: Duration) -> Self {
        Self { threshold, down_since: None, fired: false }
    }

    /// Observes the feed state at `now`; returns an alert the first time an outage exceeds the
    /// threshold. The feed coming back re-arms the rule.
    pub fn observe(&mut self, up: bool, now: DateTime<Utc>) -> Option<Alert> {
        if up {
            self.down_since = None;
            self.fired = false;
            return None;
        }
        let since = *self.down_since.get_or_insert(now);
        if self.fired || now - since <= chrono_dur(self.threshold) {
            return None;
        }
        self.fired = true;
        let secs = (now - since).num_seconds();
        Some(Alert {
            kind: AlertKind::FeedDown,
            text: format!(
                "Realtime feed down for {secs}s (since {}); orders rely on REST polling.",
                kst(since)
            ),
        })
    }
}

/// Alerts when the share of failed orders in a sliding window is above a threshold.
#[derive(Debug, Clone)]
pub struct OrderFailureRule {
    window: Duration,
    threshold_pct: u32,
    min_samples: usize,
    samples: VecDeque<(DateTime<Utc>, bool)>,
    firing: bool,
}

impl Default for OrderFailureRule {
    fn default() -> Self {
        Self::new(Duration::from_secs(300), 10, 10)
    }
}

impl OrderFailureRule {
    /// Creates the rule: a `window` (5 min), a threshold in percent (10) and the minimum number
    /// of orders in the window before it can fire.
    pub fn new(window: Duration, threshold_pct: u32, min_samples: usize) -> Self {
        Self {
            window,
            threshold_pct,
            min_samples: min_samples.max(1),
            samples: VecDeque::new(),
            firing: false,
        }
    }

    /// Records one order outcome at `at` (`failed` true for a rejected or errored order).
    pub fn record(&mut self, at: DateTime<Utc>, failed: bool) -> Option<Alert> {
        self.samples.push_back((at, failed));
        self.check(at)
    }

    /// Re-evaluates the window at `now` (call it periodically so the rule re-arms with time).
    pub fn check(&mut self, now: DateTime<Utc>) -> Option<Alert> {
        let start = now - chrono_dur(self.window);
        while self.samples.front().is_some_and(|(t, _)| *t <= start) {
            self.samples.pop_front();
        }
        let total = self.samples.len();
        let failed = self.samples.iter().filter(|(_, f)| *f).count();
        let above = total >= self.min_samples && failed * 100 > total * self.threshold_pct as usize;
        if !above {
            self.firing = false;
            return None;
        }
        if self.firing {
            return None;
        }
        self.firing = true;
        Some(Alert {
            kind: AlertKind::OrderFailureRate,
            text: format!(
                "{failed} of {total} orders failed in the last {} min (above {}%), as of {}.",
                self.window.as_secs() / 60,
                self.threshold_pct,
                kst(now)
            ),
        })
    }
}

/// Alerts once per trade date when the orders sent reach a share of the daily limit.
#[derive(Debug, Clone)]
pub struct OrderLimitRule {
    daily_limit: u32,
    pct: u32,
    fired_on: Option<NaiveDate>,
}

impl OrderLimitRule {
    /// Creates the rule for a daily order limit and a share in percent (80).
    pub fn new(daily_limit: u32, pct: u32) -> Self {
        Self { daily_limit, pct, fired_on: None }
    }

    /// Observes the count of orders sent on a trade date.
    pub fn observe(&mut self, trade_date: NaiveDate, orders_sent: u32) -> Option<Alert> {
        if self.daily_limit == 0 || self.fired_on == Some(trade_date) {
            return None;
        }
        if u64::from(orders_sent) * 100 < u64::from(self.daily_limit) * u64::from(self.pct) {
            return None;
        }
        self.fired_on = Some(trade_date);
        Some(Alert {
            kind: AlertKind::OrderLimitNear,
            text: format!(
                "{orders_sent} of {} daily orders used on {trade_date} (≥ {}%).",
                self.daily_limit, self.pct
            ),
        })
    }
}

/// A stage that should have moved by a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedTransition {
    /// The stage name.
    pub stage: String,
    /// The latest time of its first transition.
    pub by: DateTime<Utc>,
}

/// Alerts when a stage has had no transition by its expected time.
#[derive(Debug, Clone, Default)]
pub struct StageOverdueRule {
    expected: Vec<ExpectedTransition>,
    seen: HashSet<String>,
    alerted: HashSet<String>,
}

impl StageOverdueRule {
    /// Creates the rule for one run's schedule of expected transitions.
    pub fn new(expected: Vec<ExpectedTransition>) -> Self {
        Self { expected, seen: HashSet::new(), alerted: HashSet::new() }
    }

    /// Records a transition of a stage (clears its overdue state).
    pub fn on_transition(&mut self, stage: &str) {
        self.seen.insert(stage.to_owned());
        self.alerted.remove(stage);
    }

    /// Returns whether some expectation has passed at `now` without a transition or an alert.
    pub fn any_due(&self, now: DateTime<Utc>) -> bool {
        self.expected
            .iter()
            .any(|e| now > e.by && !self.seen.contains(&e.stage) && !self.alerted.contains(&e.stage))
    }

    /// Returns one alert for every stage newly overdue at `now`.
    pub fn check(&mut self, now: DateTime<Utc>) -> Vec<Alert> {
        let mut out = Vec::new();
        for e in &self.expected {
            if now <= e.by || self.seen.contains(&e.stage) || self.alerted.contains(&e.stage) {
                continue;
            }
            self.alerted.insert(e.stage.clone());
            out.push(Alert {
                kind: AlertKind::StageOverdue,
                text: format!(
                    "Stage {} has not started: expected by {}, now {}.",
                    e.stage,
                    kst(e.by),
                    kst(now)
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap() + chrono::TimeDelta::seconds(secs)
    }

    #[test]
    fn feed_down_fires_once_after_30s_and_rearms() {
        let mut r = FeedDownRule::default();
        assert!(r.observe(true, t(0)).is_none());
        assert!(r.observe(false, t(1)).is_none());
        assert!(r.observe(false, t(31)).is_none(), "exactly 30 s is not longer than 30 s");
        let a = r.observe(false, t(32)).expect("fires after 31 s");
        assert_eq!(a.kind, AlertKind::FeedDown);
        assert!(a.text.contains("31s") && a.text.contains("09:00:01 KST"), "{}", a.text);
        assert!(r.observe(false, t(90)).is_none(), "no spam in the same outage");
        assert!(r.observe(true, t(91)).is_none());
        assert!(r.observe(false, t(100)).is_none());
        assert!(r.observe(false, t(131)).is_some(), "a new outage fires again");
    }

    #[test]
    fn failure_rate_needs_min_samples_and_fires_once() {
        let mut r = OrderFailureRule::new(Duration::from_secs(300), 10, 10);
        for i in 0..5 {
            assert!(r.record(t(i), true).is_none(), "below the minimum sample");
        }
        let mut fired = 0;
        for i in 5..20 {
            fired += usize::from(r.record(t(i), false).is_some());
        }
        // 5 failures of 10 orders (50 %) fires at the 10th sample and not again while above.
        assert_eq!(fired, 1);
        // The failures leave the window after 5 minutes: the rate clears and the rule re-arms.
        assert!(r.check(t(305)).is_none());
        for i in 0..20 {
            r.record(t(306 + i), false);
        }
        assert!(r.record(t(330), true).is_none(), "1 of 21 is below 10 %");
        assert!(r.record(t(331), true).is_none(), "2 of 22");
        assert!(r.record(t(332), true).is_some(), "3 of 23 is above 10 %: fires again");
    }

    #[test]
    fn exactly_ten_percent_does_not_fire() {
        let mut r = OrderFailureRule::new(Duration::from_secs(300), 10, 10);
        for i in 0..9 {
            assert!(r.record(t(i), false).is_none());
        }
        assert!(r.record(t(9), true).is_none(), "1 of 10 = 10 % is not above 10 %");
    }

    #[test]
    fn order_limit_once_per_day() {
        let d1 = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let d2 = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let mut r = OrderLimitRule::new(100, 80);
        assert!(r.observe(d1, 79).is_none());
        let a = r.observe(d1, 80).unwrap();
        assert!(a.text.contains("80 of 100"));
        assert!(r.observe(d1, 95).is_none());
        assert!(r.observe(d2, 10).is_none());
        assert!(r.observe(d2, 81).is_some());
        assert!(OrderLimitRule::new(0, 80).observe(d1, 1000).is_none());
    }

    #[test]
    fn overdue_stage_alerts_once_and_clears_on_transition() {
        let mut r = StageOverdueRule::new(vec![
            ExpectedTransition { stage: "access_token".into(), by: t(60) },
            ExpectedTransition { stage: "intraday".into(), by: t(600) },
        ]);
        assert!(r.check(t(60)).is_empty());
        let a = r.check(t(61));
        assert_eq!(a.len(), 1);
        assert!(a[0].text.contains("access_token") && a[0].text.contains("09:01:00 KST"));
        assert!(r.check(t(120)).is_empty(), "no spam");
        r.on_transition("access_token");
        r.on_transition("intraday");
        assert!(r.check(t(700)).is_empty());
    }
}
