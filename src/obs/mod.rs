//! Observability: Prometheus metrics and the health endpoints.
//!
//! The instrumentation seams (the KIS REST client, the rate limiter, the circuit breakers, the
//! token manager, the real-time feed, the trading book and guard, the stage runner, the outbox
//! worker, the lease keeper) record through the [`metrics`] facade, mostly via the small typed
//! functions of [`record`], so every metric name, label and unit is written in one place
//! ([`names`]). Nothing is recorded until [`install`] puts the Prometheus recorder in place (until
//! then every call is a no-op); `aegis run` installs it when `METRICS_LISTEN` is not `off`, and
//! `aegis demo` / `aegis rehearse` with `--metrics-listen`.
//!
//! The real-time feed does not touch the recorder per frame: it bumps a few atomics of
//! [`health::feed`], which a scrape publishes (with the process RSS, the readiness and the
//! seconds since each channel's last frame) right before rendering.
//!
//! [`server::serve`] answers `GET /metrics` (Prometheus text format 0.0.4), `GET /healthz` and
//! `GET /readyz` on one axum listener of its own. The readiness rule is [`health::readiness`].

pub mod health;
pub mod names;
pub mod record;
pub mod server;

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub use server::{MetricsServer, serve};

use names as n;

/// REST latency buckets (seconds).
const REST_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Rate-limiter wait buckets (seconds): from no wait to a long `EGW00201` back-off.
const LIMITER_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Stage duration buckets (seconds): from a token check to the whole session.
const STAGE_BUCKETS: &[f64] =
    &[0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder as the process's `metrics` recorder (once; later calls return
/// the first outcome). Returns false when another recorder was installed first (metrics are then
/// not served).
pub fn install() -> bool {
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(n::REST_DURATION.into()), REST_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(n::LIMITER_WAIT.into()), LIMITER_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(n::STAGE_DURATION.into()), STAGE_BUCKETS)
                });
            let handle = match built.map(PrometheusBuilder::install_recorder) {
                Ok(Ok(h)) => h,
                Ok(Err(e)) | Err(e) => {
                    tracing::warn!(error = %e, "the Prometheus recorder cannot be installed; no metrics");
                    return None;
                }
            };
            describe();
            record::preregister();
            record::process_started();
            Some(handle)
        })
        .is_some()
}

/// True once [`install`] succeeded.
pub fn installed() -> bool {
    HANDLE.get().is_some_and(Option::is_some)
}

/// Publishes the values computed at scrape time (feed channels, process RSS, readiness as last
/// evaluated) and returns the Prometheus text exposition; `None` when not installed.
pub fn render() -> Option<String> {
    let handle = HANDLE.get()?.as_ref()?;
    record::publish_scrape_values();
    Some(handle.render())
}

/// Drains histogram samples into their buckets (run periodically by the server, so a day without
/// scrapes does not keep every sample).
pub fn upkeep() {
    if let Some(Some(h)) = HANDLE.get() {
        h.run_upkeep();
    }
}

/// HELP text and unit of every family.
fn describe() {
    describe_counter!(n::REST_REQUESTS, "KIS REST calls by TR id (or auth endpoint) and outcome");
    describe_histogram!(n::REST_DURATION, Unit::Seconds, "KIS REST call latency by TR id");
    describe_counter!(n::REST_EGW00201, "KIS REST replies EGW00201 (per-second limit exceeded)");
    describe_histogram!(n::LIMITER_WAIT, Unit::Seconds, "time a REST call waited for the rate limiter");
    describe_gauge!(n::LIMITER_QUEUE, "REST calls waiting for the rate limiter, by priority");
    describe_gauge!(
        n::BREAKER_STATE,
        "circuit breaker state per endpoint group: 0 closed, 1 half-open, 2 open"
    );
    describe_counter!(n::BREAKER_OPENED, "times a circuit breaker opened, per endpoint group");
    describe_gauge!(n::TOKEN_EXPIRY, Unit::Seconds, "expiry of the access token in use (Unix time)");
    describe_gauge!(n::TOKEN_REFRESH_AHEAD, Unit::Seconds, "how long before expiry the token is refreshed");
    describe_counter!(n::TOKEN_ISSUED, "access tokens issued by this process");
    describe_gauge!(n::WS_CONNECTED, "1 while the real-time WebSocket is connected");
    describe_counter!(n::WS_RECONNECTS, "WebSocket reconnects (a connection after a lost one)");
    describe_gauge!(n::WS_REGISTRATIONS, "real-time registrations held (0 outside the session)");
    describe_gauge!(n::WS_SINCE_LAST_FRAME, Unit::Seconds, "seconds since the last data frame, per channel");
    describe_counter!(n::WS_FRAMES, "real-time data frames decoded, per channel");
    describe_counter!(n::WS_RECORDS, "real-time records decoded, per channel");
    describe_counter!(n::WS_MALFORMED, "real-time frames skipped as malformed");
    describe_gauge!(n::ORDERS, "orders of the current trade date by market and status");
    describe_gauge!(
        n::ORDERS_SENT,
        "orders sent on the current trade date by market (what the daily limit counts)"
    );
    describe_gauge!(
        n::RISK_MAX_ORDERS,
        "the daily order limit by market (RISK_MAX_ORDERS_PER_DAY, US_RISK_MAX_ORDERS_PER_DAY)"
    );
    describe_gauge!(n::RISK_LOSS_LIMIT, "the KRX daily loss limit in KRW (RISK_DAILY_LOSS_KRW)");
    describe_gauge!(
        n::RISK_LOSS,
        "the KRX day's loss in KRW as the kill switch counts it (negative: a profit)"
    );
    describe_counter!(n::FILLS, "fills recorded, by market and side");
    describe_gauge!(n::PNL_REALIZED, "realized P&L of the KRX trade date in KRW, net of fees and tax");
    describe_gauge!(n::PNL_UNREALIZED, "unrealized P&L of the KRX positions at the last prices in KRW");
    describe_gauge!(n::RISK_LOSS_LIMIT_USD, "the US daily loss limit in USD (US_RISK_DAILY_LOSS_USD)");
    describe_gauge!(
        n::RISK_LOSS_USD,
        "the US day's loss in USD as the kill switch counts it (negative: a profit)"
    );
    describe_gauge!(n::PNL_REALIZED_USD, "realized P&L of the US trade date in USD, net of fees and tax");
    describe_gauge!(n::PNL_UNREALIZED_USD, "unrealized P&L of the US positions at the last prices in USD");
    describe_gauge!(n::STAGE_STATUS, "1 for the latest status of each pipeline stage, by market");
    describe_histogram!(
        n::STAGE_DURATION,
        Unit::Seconds,
        "duration of finished stage attempts, by market and outcome"
    );
    describe_counter!(n::STAGE_TRANSITIONS, "stage transitions, by market, stage and new status");
    describe_gauge!(
        n::STAGE_LAST_TRANSITION,
        Unit::Seconds,
        "time of each stage's latest transition (Unix time)"
    );
    describe_counter!(n::ALERTS, "alerts raised, by kind");
    describe_gauge!(n::OUTBOX_PENDING, "notifications waiting in the outbox, by channel");
    describe_counter!(n::OUTBOX_DELIVERED, "notifications delivered, by channel");
    describe_counter!(n::OUTBOX_FAILURES, "failed notification deliveries, by channel (final: gave up)");
    describe_gauge!(n::LEASE_HELD, "1 while this process holds the lease");
    describe_gauge!(n::LEASE_EPOCH, "epoch of the lease this process holds or last held");
    describe_gauge!(n::LEASE_HOLDER, "1 for the holder of the lease as this process last saw it");
    describe_gauge!(n::READY, "1 while /readyz answers 200");
    describe_gauge!(n::RSS, Unit::Bytes, "resident memory of the process (VmRSS)");
    describe_gauge!(n::START_TIME, Unit::Seconds, "start time of the process (Unix time)");
    describe_gauge!(n::BUILD_INFO, "build information (always 1)");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::{names, record};

    #[test]
    fn family_names_follow_the_prometheus_conventions() {
        for name in names::ALL {
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{name}");
            assert!(name.starts_with("aegis_") || name.starts_with("process_"), "{name}");
            for unit in ["_ms", "_millis", "_minutes", "_kb", "_mb"] {
                assert!(!name.contains(unit), "{name}: base units only");
            }
        }
        let counters = [
            names::REST_REQUESTS,
            names::REST_EGW00201,
            names::BREAKER_OPENED,
            names::TOKEN_ISSUED,
            names::WS_RECONNECTS,
            names::WS_FRAMES,
            names::WS_RECORDS,
            names::WS_MALFORMED,
            names::FILLS,
            names::STAGE_TRANSITIONS,
            names::ALERTS,
            names::OUTBOX_DELIVERED,
            names::OUTBOX_FAILURES,
        ];
        for name in names::ALL {
            assert_eq!(counters.contains(name), name.ends_with("_total"), "{name}: _total is for counters");
        }
        let mut sorted = names::ALL.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names::ALL.len());
    }

    #[test]
    fn a_rate_limited_call_counts_as_egw00201_and_by_outcome() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            record::rest_call("VTTC0012U", "rate_limited", Duration::from_millis(12));
            record::rest_call("VTTC0012U", "ok", Duration::from_millis(8));
            record::breaker_state("orders", 2, true);
            let queued = record::LimiterQueued::enter("order");
            drop(queued);
        });
        let text = handle.render();
        for line in [
            "aegis_kis_rest_requests_total{tr_id=\"VTTC0012U\",outcome=\"rate_limited\"} 1",
            "aegis_kis_rest_requests_total{tr_id=\"VTTC0012U\",outcome=\"ok\"} 1",
            "aegis_kis_rest_egw00201_total 1",
            "aegis_kis_circuit_breaker_state{group=\"orders\"} 2",
            "aegis_kis_circuit_breaker_opened_total{group=\"orders\"} 1",
            "aegis_kis_rate_limiter_queue_depth{priority=\"order\"} 0",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
    }

    /// The KRX and the US engine run in one process: the US engine's money goes to the `_usd`
    /// families (the `_krw` ones keep the KRX amounts), its counts to its own `market` series,
    /// and each market counts unrealized P&L in its loss as its own limit says.
    #[test]
    fn each_market_keeps_its_own_series_and_currency() {
        use rust_decimal_macros::dec;

        use crate::domain::MarketRegion::{Kr, Us};
        use crate::domain::risk::DailyLossLimit;

        let limit = |max_loss, include_unrealized| DailyLossLimit {
            max_loss,
            include_unrealized,
            block_reducing: false,
        };
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            record::risk_limits(Kr, Some(300), Some(limit(dec!(300000), true)));
            record::risk_limits(Us, Some(30), Some(limit(dec!(2500.5), false)));
            record::orders(Kr, &[("FILLED", 7), ("CANCELED", 1)], 9);
            record::pnl(Kr, dec!(-12000), dec!(-3000));
            record::fills(Kr, "BUY", 4);
            // The US session comes later in the day: nothing of the KRX series changes.
            record::orders(Us, &[("FILLED", 2), ("CANCELED", 0)], 3);
            record::pnl(Us, dec!(-40.25), dec!(-10.5));
            record::realized_pnl(Us, dec!(-41.25));
            record::fills(Us, "SELL", 2);
        });
        let text = handle.render();
        for line in [
            "aegis_orders{market=\"KR\",status=\"FILLED\"} 7",
            "aegis_orders{market=\"US\",status=\"FILLED\"} 2",
            "aegis_orders{market=\"US\",status=\"CANCELED\"} 0",
            "aegis_orders_sent{market=\"KR\"} 9",
            "aegis_orders_sent{market=\"US\"} 3",
            "aegis_risk_max_orders_per_day{market=\"KR\"} 300",
            "aegis_risk_max_orders_per_day{market=\"US\"} 30",
            "aegis_fills_total{market=\"KR\",side=\"BUY\"} 4",
            "aegis_fills_total{market=\"US\",side=\"SELL\"} 2",
            "aegis_pnl_realized_krw -12000\n",
            "aegis_pnl_unrealized_krw -3000\n",
            "aegis_risk_daily_loss_krw 15000\n",
            "aegis_risk_daily_loss_limit_krw 300000\n",
            "aegis_pnl_realized_usd -41.25\n",
            "aegis_pnl_unrealized_usd -10.5\n",
            // The US limit counts realized P&L only.
            "aegis_risk_daily_loss_usd 40.25\n",
            "aegis_risk_daily_loss_limit_usd 2500.5\n",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
    }

    #[test]
    fn every_family_is_documented_in_the_readme() {
        let readme = include_str!("../../README.md");
        for name in names::ALL {
            assert!(readme.contains(&format!("`{name}`")), "{name} missing from README.md");
        }
    }
}
