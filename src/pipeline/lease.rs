//! The pipeline lease of this process: taken before any pipeline work, renewed by a heartbeat task
//! of its own (so a stage that blocks, or a busy loop, never lets it lapse), and on loss the
//! [`Fence`] is cleared and the guarded work cancelled.
//!
//! The lease is lost when another process took it over (the renewal finds another holder, or the
//! epoch changed while we were away), or when it could not be renewed before it lapses (the
//! database is unreachable): the process then stops writing orders before the lease can pass to a
//! standby, whatever the database says later.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::obs::health::LeaseState;
use crate::ports::Fence;
use crate::ports::pipeline_runs::PipelineRuns;
use crate::store::StoreError;

/// Takes, renews and gives back the named lease for one holder.
#[derive(Clone)]
pub struct LeaseKeeper {
    store: Arc<dyn PipelineRuns>,
    fence: Arc<Fence>,
    ttl: Duration,
    renew_every: Duration,
}

impl std::fmt::Debug for LeaseKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseKeeper")
            .field("fence", &self.fence)
            .field("ttl", &self.ttl)
            .field("renew_every", &self.renew_every)
            .finish_non_exhaustive()
    }
}

/// A running heartbeat: `lost` fires when the lease is lost; dropping or [`Heartbeat::stop`]ping it
/// ends the renewals.
#[derive(Debug)]
pub struct Heartbeat {
    lost: CancellationToken,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Heartbeat {
    /// Fires when the lease is lost.
    pub fn lost(&self) -> &CancellationToken {
        &self.lost
    }

    /// Ends the renewals and waits for the task.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = (&mut { self }.task).await;
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl LeaseKeeper {
    /// A keeper of `fence`'s lease with this time to live; renewals run at a third of it, at
    /// most every 3 s.
    pub fn new(store: Arc<dyn PipelineRuns>, fence: Arc<Fence>, ttl: Duration) -> Self {
        let renew_every = (ttl / 3).clamp(Duration::from_millis(50), Duration::from_secs(3));
        Self { store, fence, ttl, renew_every }
    }

    /// The fence the keeper sets and clears.
    pub fn fence(&self) -> &Arc<Fence> {
        &self.fence
    }

    /// This process's holder name.
    pub fn holder(&self) -> &str {
        self.fence.holder()
    }

    /// How often the heartbeat renews.
    pub fn renew_every(&self) -> Duration {
        self.renew_every
    }

    fn ttl(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.ttl).unwrap_or(chrono::TimeDelta::seconds(30))
    }

    /// Tries once to take (or renew) the lease; true when it is held now, under the epoch the
    /// fence then carries.
    ///
    /// # Errors
    /// Returns [`StoreError`] when the database fails.
    pub async fn try_acquire(&self) -> Result<bool, StoreError> {
        let asked = Instant::now();
        match self.store.acquire_lease(self.fence.name(), self.holder(), self.ttl(), Utc::now()).await? {
            Some(epoch) => {
                self.fence.hold_until(epoch, self.deadline(asked));
                let holder = self.holder().to_owned();
                crate::obs::record::lease(self.fence.name(), LeaseState::Held { holder, epoch });
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Until when a lease renewed by a request started at `asked` may be acted on: the time to
    /// live less one renewal interval (room for clock skew between hosts and a late renewal).
    fn deadline(&self, asked: Instant) -> std::time::Instant {
        (asked + self.ttl.saturating_sub(self.renew_every)).into_std()
    }

    /// Stands by until the lease is taken (true) or `cancel` fires (false), polling `every`. Says
    /// once who holds it; database errors while waiting are logged and retried.
    pub async fn acquire(&self, every: Duration, cancel: &CancellationToken) -> bool {
        self.acquire_with(every, cancel, &mut |_| {}).await
    }

    /// As [`LeaseKeeper::acquire`], calling `on_wait(decided)` after every attempt that did not
    /// take the lease: `decided` is true when another process holds it (this one stands by), false
    /// when the database could not say.
    pub async fn acquire_with(
        &self,
        every: Duration,
        cancel: &CancellationToken,
        on_wait: &mut (dyn FnMut(bool) + Send),
    ) -> bool {
        let mut told = false;
        loop {
            match self.try_acquire().await {
                Ok(true) => return true,
                Ok(false) if !told => {
                    told = true;
                    let other = self.store.live_lease(self.fence.name(), Utc::now()).await.ok().flatten();
                    let other = other.map(|l| l.holder);
                    crate::obs::record::lease(
                        self.fence.name(),
                        LeaseState::Standby { other: other.clone() },
                    );
                    let other = other.unwrap_or_else(|| "another process".to_owned());
                    tracing::warn!(holder = %self.holder(), %other, "the pipeline lease is held; standing by");
                    on_wait(true);
                }
                Ok(false) => on_wait(true),
                // The database is failing over or a stalled holder's transaction still locks the
                // row: a standby keeps waiting rather than exiting.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the pipeline lease; retrying");
                    on_wait(false);
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return false,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Starts renewing the held lease on a task of its own.
    pub fn keep(&self) -> Heartbeat {
        let lost = CancellationToken::new();
        let stop = CancellationToken::new();
        let task = tokio::spawn(self.clone().beat(lost.clone(), stop.clone()));
        Heartbeat { lost, stop, task }
    }

    async fn beat(self, lost: CancellationToken, stop: CancellationToken) {
        let Some(held) = self.fence.token() else {
            lost.cancel();
            return;
        };
        // The lapse as this process sees it: renewals that fail until then mean the lease may
        // pass to a standby, so the fence closes before it does.
        let mut lapses = Instant::now() + self.ttl;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.renew_every) => {}
            }
            let asked = Instant::now();
            let why = match self
                .store
                .acquire_lease(self.fence.name(), self.holder(), self.ttl(), Utc::now())
                .await
            {
                Ok(Some(epoch)) if epoch == held.epoch => {
                    lapses = asked + self.ttl;
                    self.fence.hold_until(epoch, self.deadline(asked));
                    continue;
                }
                Ok(Some(epoch)) => format!(
                    "the lease was held by another process meanwhile (epoch {} → {epoch})",
                    held.epoch
                ),
                Ok(None) => "another process took the lease over".to_owned(),
                Err(e) if Instant::now() + self.renew_every < lapses => {
                    tracing::warn!(error = %e, "cannot renew the pipeline lease; retrying");
                    continue;
                }
                Err(e) => format!("the lease could not be renewed before it lapses: {e}"),
            };
            self.fence.lose();
            crate::obs::record::lease(self.fence.name(), LeaseState::Lost { reason: why.clone() });
            tracing::error!(holder = %self.holder(), reason = %why, "the pipeline lease is lost; order writes are fenced off");
            lost.cancel();
            return;
        }
    }

    /// Gives the lease back (the fence closes first).
    ///
    /// # Errors
    /// Returns [`StoreError`] when the database fails.
    pub async fn release(&self) -> Result<(), StoreError> {
        self.fence.lose();
        let reason = "given back (the process stops)".to_owned();
        crate::obs::record::lease(self.fence.name(), LeaseState::Lost { reason });
        self.store.release_lease(self.fence.name(), self.holder()).await
    }
}
