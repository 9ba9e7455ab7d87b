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
}
