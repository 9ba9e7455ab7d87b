//! The typed recording functions the instrumentation seams call (one line each at the seam).
//! Every one is a no-op until [`super::install`] ran.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics::{counter, gauge, histogram};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::health::{self, LeaseState};
use super::names as n;
use crate::domain::{Currency, MarketRegion};

/// An amount of money as a sample value (in the currency its family names).
fn amount(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

fn unix_seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

/// One KIS REST call: its TR id (or auth endpoint name), outcome and latency.
pub fn rest_call(tr_id: &str, outcome: &'static str, latency: Duration) {
    let tr_id = tr_id.to_owned();
    counter!(n::REST_REQUESTS, "tr_id" => tr_id.clone(), "outcome" => outcome).increment(1);
    histogram!(n::REST_DURATION, "tr_id" => tr_id).record(latency.as_secs_f64());
    if outcome == "rate_limited" {
        counter!(n::REST_EGW00201).increment(1);
    }
}

/// Time a call waited for the rate limiter.
pub fn limiter_wait(priority: &'static str, waited: Duration) {
    histogram!(n::LIMITER_WAIT, "priority" => priority).record(waited.as_secs_f64());
}

/// Counts a waiter of the rate limiter while it lives.
#[derive(Debug)]
pub struct LimiterQueued(&'static str);

impl LimiterQueued {
    /// A call starts waiting.
    pub fn enter(priority: &'static str) -> Self {
        gauge!(n::LIMITER_QUEUE, "priority" => priority).increment(1.0);
        Self(priority)
    }
}

impl Drop for LimiterQueued {
    fn drop(&mut self) {
        gauge!(n::LIMITER_QUEUE, "priority" => self.0).decrement(1.0);
    }
}

/// A circuit breaker's state: 0 closed, 1 half-open, 2 open (`opened`: it just opened).
pub fn breaker_state(group: &'static str, state: u8, opened: bool) {
    gauge!(n::BREAKER_STATE, "group" => group).set(f64::from(state));
    if opened {
        counter!(n::BREAKER_OPENED, "group" => group).increment(1);
    } else {
        // The family exists from the first transition on, whatever it was.
        counter!(n::BREAKER_OPENED, "group" => group).increment(0);
    }
}

/// The access token in use expires at `at`.
pub fn token_expiry(at: DateTime<Utc>) {
    gauge!(n::TOKEN_EXPIRY).set(unix_seconds(at));
}

/// An access token was issued.
pub fn token_issued() {
    counter!(n::TOKEN_ISSUED).increment(1);
}

/// The token is refreshed this long before it expires.
pub fn token_refresh_ahead(ahead: Duration) {
    gauge!(n::TOKEN_REFRESH_AHEAD).set(ahead.as_secs_f64());
}

/// The current trade date's orders of one market by status (every status, zeros included) and
/// how many were sent. The KRX and the US engine each keep their own series (`market`).
pub fn orders(market: MarketRegion, by_status: &[(&'static str, usize)], sent: u32) {
    let m = market.as_str();
    for (status, count) in by_status {
        gauge!(n::ORDERS, "market" => m, "status" => *status).set(*count as f64);
    }
    gauge!(n::ORDERS_SENT, "market" => m).set(f64::from(sent));
}

/// The money families of a market: named by its currency (the KRX engine's in KRW, the US
/// engine's in USD), so that one never overwrites the other's amounts.
struct MoneyFamilies {
    realized: &'static str,
    unrealized: &'static str,
    loss: &'static str,
    loss_limit: &'static str,
}

const fn money(market: MarketRegion) -> MoneyFamilies {
    match market.currency() {
        Currency::Krw => MoneyFamilies {
            realized: n::PNL_REALIZED,
            unrealized: n::PNL_UNREALIZED,
            loss: n::RISK_LOSS,
            loss_limit: n::RISK_LOSS_LIMIT,
        },
        Currency::Usd => MoneyFamilies {
            realized: n::PNL_REALIZED_USD,
            unrealized: n::PNL_UNREALIZED_USD,
            loss: n::RISK_LOSS_USD,
            loss_limit: n::RISK_LOSS_LIMIT_USD,
        },
    }
}

/// Whether a market's daily loss counts unrealized P&L (`RISK_DAILY_LOSS_INCLUDE_UNREALIZED`,
/// `US_RISK_DAILY_LOSS_INCLUDE_UNREALIZED`), by market: KRX, US.
static LOSS_INCLUDES_UNREALIZED: [AtomicBool; 2] = [AtomicBool::new(true), AtomicBool::new(true)];

const fn loss_includes_unrealized(market: MarketRegion) -> &'static AtomicBool {
    match market {
        MarketRegion::Kr => &LOSS_INCLUDES_UNREALIZED[0],
        MarketRegion::Us => &LOSS_INCLUDES_UNREALIZED[1],
    }
}

/// A market's limits the alert rules compare against (`RISK_MAX_ORDERS_PER_DAY`,
/// `RISK_DAILY_LOSS_KRW` and whether it counts unrealized P&L; the US engine's `US_RISK_*`, in
/// USD).
pub fn risk_limits(
    market: MarketRegion,
    max_orders_per_day: Option<u32>,
    daily_loss: Option<crate::domain::risk::DailyLossLimit>,
) {
    if let Some(max) = max_orders_per_day {
        gauge!(n::RISK_MAX_ORDERS, "market" => market.as_str()).set(f64::from(max));
    }
    if let Some(limit) = daily_loss {
        loss_includes_unrealized(market).store(limit.include_unrealized, Ordering::Relaxed);
        gauge!(money(market).loss_limit).set(amount(limit.max_loss));
    }
}

/// A market's P&L for the day (of the guardrails' snapshot) and the loss its daily-loss limit
/// counts (negative: a profit), in the market's currency.
pub fn pnl(market: MarketRegion, realized: Decimal, unrealized: Decimal) {
    let f = money(market);
    gauge!(f.realized).set(amount(realized));
    gauge!(f.unrealized).set(amount(unrealized));
    let counted = if loss_includes_unrealized(market).load(Ordering::Relaxed) {
        realized + unrealized
    } else {
        realized
    };
    gauge!(f.loss).set(amount(-counted));
}

/// The realized P&L of a market's book (after fills), in the market's currency.
pub fn realized_pnl(market: MarketRegion, realized: Decimal) {
    gauge!(money(market).realized).set(amount(realized));
}

/// New fills of a market recorded on one side.
pub fn fills(market: MarketRegion, side: &'static str, count: usize) {
    counter!(n::FILLS, "market" => market.as_str(), "side" => side).increment(count as u64);
}

/// A stage transition (status gauge, transition count, duration of a finished attempt).
pub fn stage_transition(t: &crate::pipeline::Transition) {
    use crate::domain::stage::StageStatus;
    let stage = t.stage.as_str();
    // The KRX and the US pipeline run the same stages: each keeps its own series.
    let market = t.market.as_str();
    for s in [
        StageStatus::Pending,
        StageStatus::Running,
        StageStatus::Succeeded,
        StageStatus::Failed,
        StageStatus::Skipped,
    ] {
        let v = if s == t.to { 1.0 } else { 0.0 };
        gauge!(n::STAGE_STATUS, "market" => market, "stage" => stage, "status" => s.as_str()).set(v);
    }
    counter!(n::STAGE_TRANSITIONS, "market" => market, "stage" => stage, "to" => t.to.as_str()).increment(1);
    gauge!(n::STAGE_LAST_TRANSITION, "market" => market, "stage" => stage).set(unix_seconds(t.at));
    if let Some(d) = t.duration {
        histogram!(n::STAGE_DURATION, "market" => market, "stage" => stage, "outcome" => t.to.as_str())
            .record(d.as_secs_f64());
    }
}

/// An alert was raised.
pub fn alert(kind: &'static str) {
    counter!(n::ALERTS, "kind" => kind).increment(1);
}

/// The outbox's PENDING rows per channel (every channel, zeros included).
pub fn outbox_pending(by_channel: &[(&'static str, usize)]) {
    for (channel, count) in by_channel {
        gauge!(n::OUTBOX_PENDING, "channel" => *channel).set(*count as f64);
    }
}

/// A notification was delivered.
pub fn outbox_delivered(channel: &'static str) {
    counter!(n::OUTBOX_DELIVERED, "channel" => channel).increment(1);
}

/// A delivery failed (`last`: the row is given up).
pub fn outbox_failed(channel: &'static str, last: bool) {
    let last = if last { "true" } else { "false" };
    counter!(n::OUTBOX_FAILURES, "channel" => channel, "final" => last).increment(1);
}

/// The holder last published, so that its series drops to 0 when another holder is seen.
static LAST_HOLDER: Mutex<Option<(String, String)>> = Mutex::new(None);

fn holder_info(lease: &str, holder: Option<&str>) {
    let mut last = LAST_HOLDER.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((l, h)) = last.take()
        && (l != lease || Some(h.as_str()) != holder)
    {
        gauge!(n::LEASE_HOLDER, "lease" => l, "holder" => h).set(0.0);
    }
    if let Some(h) = holder {
        gauge!(n::LEASE_HOLDER, "lease" => lease.to_owned(), "holder" => h.to_owned()).set(1.0);
        *last = Some((lease.to_owned(), h.to_owned()));
    }
}

/// The lease as the keeper now sees it (also the readiness state).
pub fn lease(lease: &str, state: LeaseState) {
    let name = lease.to_owned();
    match &state {
        LeaseState::Held { holder, epoch } => {
            gauge!(n::LEASE_HELD, "lease" => name.clone()).set(1.0);
            gauge!(n::LEASE_EPOCH, "lease" => name).set(*epoch as f64);
            holder_info(lease, Some(holder));
        }
        LeaseState::Standby { other } => {
            gauge!(n::LEASE_HELD, "lease" => name).set(0.0);
            holder_info(lease, other.as_deref());
        }
        LeaseState::Lost { .. } | LeaseState::Pending => {
            gauge!(n::LEASE_HELD, "lease" => name).set(0.0);
            holder_info(lease, None);
        }
        LeaseState::Unmanaged => {}
    }
    health::health().set_lease(state);
}

/// The readiness rule's latest verdict.
pub fn ready(ready: bool) {
    gauge!(n::READY).set(if ready { 1.0 } else { 0.0 });
}

/// Creates the counters a quiet day may never touch at 0, so every family is in the first scrape
/// and `increase()` sees the first event (labelled families: every label value known up front).
pub(crate) fn preregister() {
    use crate::notify::AlertKind;
    counter!(n::REST_EGW00201).absolute(0);
    counter!(n::TOKEN_ISSUED).increment(0);
    for market in [MarketRegion::Kr, MarketRegion::Us] {
        for side in ["BUY", "SELL"] {
            counter!(n::FILLS, "market" => market.as_str(), "side" => side).increment(0);
        }
    }
    for kind in [
        AlertKind::FeedDown,
        AlertKind::OrderFailureRate,
        AlertKind::OrderLimitNear,
        AlertKind::StageOverdue,
        AlertKind::IdentityConflict,
        AlertKind::LeaseLost,
        AlertKind::LeaseTakenOver,
        AlertKind::OrderNotTerminal,
    ] {
        counter!(n::ALERTS, "kind" => kind.as_str()).increment(0);
    }
    for channel in ["SLACK", "EMAIL", "CONSOLE"] {
        counter!(n::OUTBOX_DELIVERED, "channel" => channel).increment(0);
        for last in ["true", "false"] {
            counter!(n::OUTBOX_FAILURES, "channel" => channel, "final" => last).increment(0);
        }
    }
    for priority in ["order", "inquiry"] {
        gauge!(n::LIMITER_QUEUE, "priority" => priority).increment(0.0);
    }
    gauge!(n::READY).set(0.0);
}

/// Sets the process's start time and build information (once, at install).
pub fn process_started() {
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    gauge!(n::START_TIME).set(start);
    gauge!(n::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// Publishes what is computed at scrape time: the feed's counters and channels, the process RSS.
pub(crate) fn publish_scrape_values() {
    let feed = health::feed();
    let view = feed.view();
    gauge!(n::WS_CONNECTED).set(if view.connected { 1.0 } else { 0.0 });
    gauge!(n::WS_REGISTRATIONS).set(view.registrations as f64);
    let (reconnects, malformed) = feed.totals();
    counter!(n::WS_RECONNECTS).absolute(reconnects);
    counter!(n::WS_MALFORMED).absolute(malformed);
    for (channel, frames, records, since) in feed.channels() {
        counter!(n::WS_FRAMES, "channel" => channel).absolute(frames);
        counter!(n::WS_RECORDS, "channel" => channel).absolute(records);
        gauge!(n::WS_SINCE_LAST_FRAME, "channel" => channel).set(since.as_secs_f64());
    }
    if let Some(rss) = health::resident_memory_bytes() {
        gauge!(n::RSS).set(rss as f64);
    }
}
