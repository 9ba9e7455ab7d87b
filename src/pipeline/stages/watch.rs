//! The alert rules of the intraday loop ([`crate::notify::alerts`]) fed with what the loop sees:
//! the realtime feed's status, every order outcome and the day's order count. A firing alert is
//! recorded as an `alert` event and handed to the notifiers (Slack and email through the outbox),
//! so an outage of a notifier never slows the loop.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::market::{FeedStatus, Subscription};
use crate::notify::alerts::{FeedDownRule, OrderFailureRule, OrderLimitRule};
use crate::notify::{Alert, AlertKind, Notifier};
use crate::store::Store;

/// Share of the daily order limit that raises an alert (percent).
pub const ORDER_LIMIT_ALERT_PCT: u32 = 80;

/// The intraday alert rules and where their alerts go.
pub struct IntradayAlerts {
    notifier: Arc<dyn Notifier>,
    store: Store,
    date: NaiveDate,
    feed: FeedDownRule,
    feed_up: bool,
    /// Why the broker refuses the execution notices, while it does (fills then rely on polling).
    notices_refused: Option<String>,
    failures: OrderFailureRule,
    limit: Option<OrderLimitRule>,
    sent: u32,
}

impl std::fmt::Debug for IntradayAlerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntradayAlerts")
            .field("date", &self.date)
            .field("feed_up", &self.feed_up)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl IntradayAlerts {
    /// Creates the rules for a trade date on which `sent_before` orders were already sent (a
    /// restart keeps counting towards the daily limit), with the daily order limit if any.
    pub fn new(
        notifier: Arc<dyn Notifier>,
        store: Store,
        date: NaiveDate,
        daily_limit: Option<u32>,
        sent_before: u32,
    ) -> Self {
        Self {
            notifier,
            store,
            date,
            feed: FeedDownRule::default(),
            feed_up: true,
            notices_refused: None,
            failures: OrderFailureRule::default(),
            limit: daily_limit.map(|l| OrderLimitRule::new(l, ORDER_LIMIT_ALERT_PCT)),
            sent: sent_before,
        }
    }

    /// Replaces the feed rule (tests use a shorter threshold).
    #[must_use]
    pub fn with_feed_rule(mut self, rule: FeedDownRule) -> Self {
        self.feed = rule;
        self
    }

    /// Observes a status of the realtime feed. Refused execution notices count as the feed
    /// being down (no fill arrives in real time), until they are active again or a new
    /// connection sends them again.
    pub async fn on_feed(&mut self, status: &FeedStatus, now: DateTime<Utc>) {
        match status {
            FeedStatus::Connected { .. } => {
                self.feed_up = true;
                self.notices_refused = None;
            }
            FeedStatus::Disconnected { .. } | FeedStatus::StopTrading { .. } | FeedStatus::Closed => {
                self.feed_up = false;
            }
            FeedStatus::RegistrationRefused { subscription: Subscription::Executions, code, message } => {
                self.notices_refused = Some(format!("{code} {message}"));
            }
            FeedStatus::RegistrationRestored { subscription: Subscription::Executions } => {
                self.notices_refused = None;
            }
            _ => return,
        }
        let alert = self.feed.observe(self.up(), now);
        self.fire(alert).await;
    }

    /// Whether fills arrive in real time: the socket is up and the notices are not refused.
    fn up(&self) -> bool {
        self.feed_up && self.notices_refused.is_none()
    }

    /// Observes the outcome of one order: `sent` when the broker took it, `failed` when it was
    /// rejected or the call failed.
    pub async fn on_order(&mut self, now: DateTime<Utc>, sent: bool, failed: bool) {
        if sent {
            self.sent = self.sent.saturating_add(1);
            let alert = self.limit.as_mut().and_then(|l| l.observe(self.date, self.sent));
            self.fire(alert).await;
        }
        if sent || failed {
            let alert = self.failures.record(now, failed);
            self.fire(alert).await;
        }
    }

    /// Re-evaluates the time-based rules (the loop calls it on every tick).
    pub async fn on_tick(&mut self, now: DateTime<Utc>) {
        let alert = self.feed.observe(self.up(), now);
        self.fire(alert).await;
        let alert = self.failures.check(now);
        self.fire(alert).await;
    }

    async fn fire(&self, alert: Option<Alert>) {
        if let Some(mut alert) = alert {
            if let (AlertKind::FeedDown, true, Some(why)) = (alert.kind, self.feed_up, &self.notices_refused)
            {
                alert.text = format!(
                    "{} Cause: the broker refuses the execution notices ({why}) on a connected feed; \
                     aegis keeps retrying the registration.",
                    alert.text
                );
            }
            crate::notify::raise_alert(&self.store, Some(self.notifier.as_ref()), self.date, alert).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use chrono::TimeZone;
    use futures::future::BoxFuture;

    use super::*;
    use crate::notify::{AlertKind, Notification};
    use crate::store::testing::{Backend, TestDb};

    #[derive(Debug, Default)]
    struct Captured(Mutex<Vec<Notification>>);

    impl Notifier for Captured {
        fn notify(&self, msg: Notification) -> BoxFuture<'_, ()> {
            self.0.lock().unwrap().push(msg);
            Box::pin(async {})
        }
    }

    fn kinds(c: &Captured) -> Vec<AlertKind> {
        c.0.lock()
            .unwrap()
            .iter()
            .filter_map(|n| match n {
                Notification::Alert(a) => Some(a.kind),
                _ => None,
            })
            .collect()
    }

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap() + chrono::TimeDelta::seconds(secs)
    }

    async fn alerts(limit: Option<u32>, sent_before: u32) -> (Arc<Captured>, IntradayAlerts, TestDb) {
        let db = TestDb::new(Backend::Sqlite).await.unwrap().unwrap();
        let captured = Arc::new(Captured::default());
        let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let a = IntradayAlerts::new(captured.clone(), db.store.clone(), date, limit, sent_before);
        (captured, a, db)
    }

    #[tokio::test]
    async fn feed_down_longer_than_30s_alerts_once_and_is_recorded() {
        let (captured, mut a, db) = alerts(None, 0).await;
        a.on_feed(&FeedStatus::Disconnected { reason: "reset".into() }, t(0)).await;
        a.on_tick(t(20)).await;
        assert!(kinds(&captured).is_empty());
        a.on_tick(t(31)).await;
        a.on_tick(t(40)).await;
        assert_eq!(kinds(&captured), vec![AlertKind::FeedDown]);
        a.on_feed(&FeedStatus::Connected { registrations: 3 }, t(41)).await;
        a.on_tick(t(100)).await;
        assert_eq!(kinds(&captured).len(), 1, "no alert while the feed is up");
        let events = db.store.events().recent(10).await.unwrap();
        assert!(events.iter().any(|e| e.kind == "alert" && e.message.contains("Realtime feed down")));
    }

    /// Issue #20: refused execution notices are the feed being down for fills: past the threshold
    /// an alert names the refusal; the registration restored ends it.
    #[tokio::test]
    async fn refused_execution_notices_alert_like_a_feed_down_and_name_the_refusal() {
        let (captured, mut a, db) = alerts(None, 0).await;
        a.on_feed(&FeedStatus::Connected { registrations: 3 }, t(0)).await;
        let refused = FeedStatus::RegistrationRefused {
            subscription: Subscription::Executions,
            code: "OPSP0008".into(),
            message: "MAX SUBSCRIBE OVER".into(),
        };
        a.on_feed(&refused, t(1)).await;
        a.on_tick(t(20)).await;
        assert!(kinds(&captured).is_empty());
        a.on_tick(t(32)).await;
        assert_eq!(kinds(&captured), vec![AlertKind::FeedDown]);
        let events = db.store.events().recent(10).await.unwrap();
        assert!(
            events.iter().any(|e| e.kind == "alert" && e.message.contains("OPSP0008 MAX SUBSCRIBE OVER")),
            "{events:?}"
        );
        a.on_feed(&FeedStatus::RegistrationRestored { subscription: Subscription::Executions }, t(40)).await;
        a.on_tick(t(100)).await;
        assert_eq!(kinds(&captured).len(), 1, "no alert once the notices are back");
        // A refused market-data registration is not the feed being down.
        let trades = FeedStatus::RegistrationRefused {
            subscription: Subscription::Trades(crate::domain::Symbol::new("005930").unwrap()),
            code: "OPSP0008".into(),
            message: "MAX SUBSCRIBE OVER".into(),
        };
        a.on_feed(&trades, t(101)).await;
        a.on_tick(t(200)).await;
        assert_eq!(kinds(&captured).len(), 1);
    }

    #[tokio::test]
    async fn failure_rate_and_order_limit_alert() {
        let (captured, mut a, _db) = alerts(Some(20), 5).await;
        for i in 0..10 {
            a.on_order(t(i), true, false).await;
        }
        assert!(kinds(&captured).is_empty(), "10 failures-free orders, 15 of 20 used");
        a.on_order(t(11), true, false).await;
        assert_eq!(kinds(&captured), vec![AlertKind::OrderLimitNear], "16 of 20 is 80 %");
        a.on_order(t(12), false, true).await;
        a.on_order(t(13), false, true).await;
        assert_eq!(kinds(&captured), vec![AlertKind::OrderLimitNear, AlertKind::OrderFailureRate]);
        a.on_tick(t(13 + Duration::from_secs(300).as_secs() as i64)).await;
        assert_eq!(kinds(&captured).len(), 2, "the window emptied: no new alert");
    }
}
