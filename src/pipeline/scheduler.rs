//! The live scheduler: tokio-cron-scheduler jobs (in the schedule's time zone: Asia/Seoul for the
//! KRX pipeline, America/New_York for the US one) that turn schedule entries into [`Fired`]
//! triggers of a market on a channel, moved by the day's session shift.
//!
//! Pipeline triggers are forwarded on every weekday the cron matches; on a closed day the runner
//! records the run as SKIPPED with the reason and executes nothing. Master refreshes fire on
//! trading days only. A shift earlier than the cron time (an earlier-than-regular open) fires at
//! the cron time.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;

use super::schedule::{Schedule, Trigger, shift_on};
use crate::domain::MarketRegion;
use crate::domain::sessions::SessionCalendar;

/// A trigger that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The market whose pipeline it fires.
    pub market: MarketRegion,
    /// What fired.
    pub trigger: Trigger,
    /// The local date it fired on (the trade date of a pipeline trigger: KST for the KRX
    /// pipeline, New York for the US one).
    pub trade_date: NaiveDate,
    /// When (after the session shift).
    pub at: DateTime<Tz>,
}

/// Errors of the live scheduler.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// tokio-cron-scheduler refused a job or failed to start.
    #[error("scheduler: {0:?} ({1})")]
    Scheduler(JobSchedulerError, &'static str),
}

/// The running cron scheduler.
pub struct PipelineScheduler {
    inner: JobScheduler,
}

impl std::fmt::Debug for PipelineScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineScheduler").finish_non_exhaustive()
    }
}

async fn deliver(
    trigger: Trigger,
    anchor: super::schedule::Anchor,
    tz: Tz,
    calendar: Arc<dyn SessionCalendar>,
    tx: mpsc::Sender<Fired>,
    cancel: CancellationToken,
) {
    let now = Utc::now().with_timezone(&tz);
    let date = now.date_naive();
    let market = calendar.region();
    let shift = shift_on(calendar.as_ref(), anchor, date);
    let at = match (shift, &trigger) {
        (None, Trigger::MasterRefresh) => return,
        (None, Trigger::Pipeline { .. }) => now,
        (Some(shift), _) => {
            if let Ok(wait) = shift.to_std() {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = cancel.cancelled() => return,
                }
            }
            now + shift.max(chrono::TimeDelta::zero())
        }
    };
    tracing::info!(%trigger, %date, market = market.as_str(), "trigger fired");
    if tx.send(Fired { market, trigger, trade_date: date, at }).await.is_err() {
        tracing::warn!(%date, "trigger dropped: the pipeline loop has stopped");
    }
}

impl PipelineScheduler {
    /// Adds one job per entry of each market's schedule (its triggers fire on its calendar) and
    /// starts the scheduler.
    ///
    /// # Errors
    /// Returns [`SchedulerError`] when a job cannot be added or the scheduler cannot start.
    pub async fn start(
        markets: &[(&Schedule, Arc<dyn SessionCalendar>)],
        tx: mpsc::Sender<Fired>,
        cancel: CancellationToken,
    ) -> Result<Self, SchedulerError> {
        let inner = JobScheduler::new().await.map_err(|e| SchedulerError::Scheduler(e, "create"))?;
        for (schedule, calendar) in markets {
            let tz = schedule.tz;
            for entry in &schedule.entries {
                let (trigger, anchor) = (entry.trigger.clone(), entry.anchor);
                let (calendar, tx, cancel) = (calendar.clone(), tx.clone(), cancel.clone());
                let job = Job::new_async_tz(entry.cron_text.as_str(), tz, move |_id, _lock| {
                    Box::pin(deliver(
                        trigger.clone(),
                        anchor,
                        tz,
                        calendar.clone(),
                        tx.clone(),
                        cancel.clone(),
                    ))
                })
                .map_err(|e| SchedulerError::Scheduler(e, "parse"))?;
                inner.add(job).await.map_err(|e| SchedulerError::Scheduler(e, "add"))?;
            }
        }
        inner.start().await.map_err(|e| SchedulerError::Scheduler(e, "start"))?;
        Ok(Self { inner })
    }

    /// Stops firing.
    ///
    /// # Errors
    /// Returns [`SchedulerError`] when the scheduler does not shut down cleanly.
    pub async fn shutdown(mut self) -> Result<(), SchedulerError> {
        self.inner.shutdown().await.map_err(|e| SchedulerError::Scheduler(e, "shutdown"))
    }
}
