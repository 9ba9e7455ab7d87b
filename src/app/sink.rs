//! The notifying transition sink: every stage transition becomes a
//! [`Notification::Stage`](crate::notify::Notification) through the fan-out (console at once, Slack
//! and email through the outbox), with the exact command that re-runs the stage.

use futures::future::BoxFuture;

use crate::notify::{Fanout, Notification, StageTransition};
use crate::pipeline::sink::market_prefix;
use crate::pipeline::{Transition, TransitionSink};

/// A [`TransitionSink`] that notifies through a [`Fanout`] (which never fails and waits at most
/// its enqueue timeout).
#[derive(Debug, Clone)]
pub struct NotifySink {
    fanout: Fanout,
}

impl NotifySink {
    /// Creates the sink.
    pub fn new(fanout: Fanout) -> Self {
        Self { fanout }
    }
}

/// Converts a runner transition into the notifier's message.
pub fn to_notification(t: &Transition) -> Notification {
    Notification::Stage(StageTransition {
        // The US pipeline's stages are named apart (`US intraday`): its rows share the day's
        // table with the KRX pipeline's (see `notify::day::Board`).
        stage: format!("{}{}", market_prefix(t.market), t.stage.as_str()),
        trade_date: t.trade_date,
        attempt: u32::try_from(t.attempt).unwrap_or(0),
        from: t.from.as_str().to_owned(),
        to: t.to.as_str().to_owned(),
        duration: t.duration,
        error: t.error.clone(),
        rerun_command: t.rerun_command.clone(),
        at: t.at,
        run_failed: t.run_failed,
    })
}

impl TransitionSink for NotifySink {
    fn on_transition<'a>(&'a self, transition: &'a Transition) -> BoxFuture<'a, ()> {
        let msg = to_notification(transition);
        Box::pin(async move { self.fanout.notify(msg).await })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, Utc};

    use super::*;
    use crate::domain::stage::{StageName, StageStatus};
    use crate::pipeline::sink::rerun_command;

    #[test]
    fn a_failure_carries_the_rerun_command_and_the_error() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let t = Transition {
            market: crate::domain::MarketRegion::Kr,
            trade_date: date,
            stage: StageName::AccessToken,
            attempt: 2,
            from: StageStatus::Running,
            to: StageStatus::Failed,
            at: Utc::now(),
            duration: Some(std::time::Duration::from_millis(1500)),
            error: Some("access token: refused".into()),
            rerun_command: rerun_command(StageName::AccessToken, date, crate::domain::MarketRegion::Kr),
            run_failed: true,
        };
        let Notification::Stage(s) = to_notification(&t) else { panic!("not a stage message") };
        assert_eq!(s.stage, "access_token");
        assert_eq!((s.from.as_str(), s.to.as_str(), s.attempt), ("RUNNING", "FAILED", 2));
        assert!(s.is_failure() && s.needs_operator());
        assert_eq!(s.rerun_command, "aegis stage rerun access_token --date 2026-11-23");
        assert_eq!(s.error.as_deref(), Some("access token: refused"));

        let us = Transition {
            market: crate::domain::MarketRegion::Us,
            stage: StageName::Intraday,
            rerun_command: rerun_command(StageName::Intraday, date, crate::domain::MarketRegion::Us),
            ..t
        };
        let Notification::Stage(s) = to_notification(&us) else { panic!("not a stage message") };
        assert_eq!(s.stage, "US intraday");
        assert_eq!(s.rerun_command, "aegis stage rerun intraday --date 2026-11-23 --market us");
        assert!(us.summary().starts_with("US 2026-11-23 intraday attempt 2"), "{}", us.summary());
    }
}
