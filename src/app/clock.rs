//! A [`Clock`] backed by the simulator's accelerated clock, so that the stages, the token cache
//! and the session end of the demo follow the compressed day.

use chrono::{DateTime, Utc};

use crate::ports::Clock;
use crate::sim::SimClock;

/// The simulator's clock behind the [`Clock`] port.
#[derive(Debug, Clone)]
pub struct SimTimeClock(pub SimClock);

impl Clock for SimTimeClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now().with_timezone(&Utc)
    }

    fn real(&self, span: std::time::Duration) -> std::time::Duration {
        let speed = self.0.speed();
        if speed.is_finite() && speed > 1.0 { span.div_f64(speed) } else { span }
    }

    fn span_of(&self, real: std::time::Duration) -> std::time::Duration {
        let speed = self.0.speed();
        if speed.is_finite() && speed > 1.0 {
            std::time::Duration::try_from_secs_f64(real.as_secs_f64() * speed)
                .unwrap_or(std::time::Duration::MAX)
        } else {
            real
        }
    }
}

/// Reads the clock of a running `aegis sim` through its admin API (`GET /__sim/state`) and
/// returns a local clock that follows it (same time, same speed). Rehearsals and the end-to-end
/// tests run `aegis run --sim-clock` so the daemon lives on the simulator's compressed day.
///
/// # Errors
/// Returns a message when the simulator cannot be reached or its answer has no valid clock.
pub async fn follow_sim(rest_base: &url::Url) -> Result<SimTimeClock, String> {
    let url = rest_base.join("/__sim/state").map_err(|e| format!("simulator URL: {e}"))?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let state: serde_json::Value = client
        .get(url.clone())
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("cannot read the simulator clock at {url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("the simulator state at {url} is not JSON: {e}"))?;
    let now = state
        .get("now")
        .and_then(serde_json::Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .ok_or_else(|| format!("the simulator state at {url} has no valid `now`"))?;
    let speed = state
        .get("speed")
        .and_then(serde_json::Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| format!("the simulator state at {url} has no valid `speed`"))?;
    Ok(SimTimeClock(SimClock::new(now, speed)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{NaiveDate, NaiveTime};

    use super::*;

    #[test]
    fn follows_the_simulated_time() {
        let start = crate::sim::clock::at(
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        );
        let sim = SimClock::new(start, 0.0);
        let clock = SimTimeClock(sim.clone());
        assert_eq!(clock.now(), start.with_timezone(&Utc));
        sim.advance(Duration::from_secs(3600));
        assert_eq!(clock.now().to_rfc3339(), "2026-11-23T01:00:00+00:00");
    }

    #[test]
    fn spans_of_a_compressed_day_take_less_real_time() {
        let start = crate::sim::clock::at(
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        );
        assert_eq!(
            SimTimeClock(SimClock::new(start, 600.0)).real(Duration::from_secs(60)),
            Duration::from_millis(100)
        );
        assert_eq!(
            SimTimeClock(SimClock::new(start, 0.0)).real(Duration::from_secs(60)),
            Duration::from_secs(60)
        );
        assert_eq!(crate::ports::SystemClock.real(Duration::from_secs(60)), Duration::from_secs(60));
        let fast = SimTimeClock(SimClock::new(start, 1000.0));
        assert_eq!(fast.span_of(Duration::from_secs(5)), Duration::from_secs(5000));
        assert_eq!(fast.span_of(fast.real(Duration::from_secs(600))), Duration::from_secs(600));
        assert_eq!(
            SimTimeClock(SimClock::new(start, 0.0)).span_of(Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        assert_eq!(crate::ports::SystemClock.span_of(Duration::from_secs(5)), Duration::from_secs(5));
    }
}
