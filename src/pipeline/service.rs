//! Running as a system service: systemd readiness, watchdog and stopping notices (sd-notify; no-ops
//! when not started by systemd) and the graceful-shutdown signal (SIGTERM, Ctrl-C).

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Tells systemd the daemon is ready (`READY=1`); does nothing outside systemd.
pub fn notify_ready() {
    #[cfg(unix)]
    if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]) {
        tracing::warn!(error = %e, "cannot notify systemd (READY)");
    }
}

/// Tells systemd the daemon is stopping (`STOPPING=1`); does nothing outside systemd.
pub fn notify_stopping() {
    #[cfg(unix)]
    if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]) {
        tracing::warn!(error = %e, "cannot notify systemd (STOPPING)");
    }
}

/// Returns the watchdog interval systemd asked for (`WATCHDOG_USEC`), if any.
pub fn watchdog_interval() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut usec = 0u64;
        if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
            return Some(Duration::from_micros(usec));
        }
    }
    None
}

/// systemd's notices as the daemon loop sends them: `READY=1` once (when the lease is decided:
/// held, or held by another process while this one stands by) and `WATCHDOG=1` from the loop's
/// own ticks — never from a side task, so a loop that hangs stops the pings and systemd restarts
/// the service. Does nothing outside systemd.
#[derive(Debug, Default)]
pub struct Systemd {
    watchdog: Option<Duration>,
    last_ping: Option<std::time::Instant>,
    ready: bool,
}

impl Systemd {
    /// Reads the watchdog interval systemd asked for (`WATCHDOG_USEC`), if any.
    pub fn from_env() -> Self {
        Self { watchdog: watchdog_interval(), ..Self::default() }
    }

    /// Sends `READY=1` the first time it is called.
    pub fn ready(&mut self) {
        if !std::mem::replace(&mut self.ready, true) {
            notify_ready();
        }
    }

    /// True once `READY=1` was sent.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Sends `WATCHDOG=1` when a quarter of the interval passed since the last one (the loop
    /// calls it on every tick; its ticks must come at least every half interval).
    pub fn ping(&mut self) {
        let Some(every) = self.watchdog else { return };
        let now = std::time::Instant::now();
        if self.last_ping.is_some_and(|t| now.duration_since(t) < every / 4) {
            return;
        }
        self.last_ping = Some(now);
        #[cfg(unix)]
        if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]) {
            tracing::warn!(error = %e, "cannot notify systemd (WATCHDOG)");
        }
    }
}

/// Waits for SIGTERM or Ctrl-C (or `cancel` firing elsewhere).
pub async fn wait_for_shutdown_signal(cancel: &CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                r = tokio::signal::ctrl_c() => if r.is_ok() { tracing::info!("Ctrl-C received") },
                () = cancel.cancelled() => {}
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    () = cancel.cancelled() => {}
                }
            }
        }
    }
    #[cfg(not(unix))]
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = cancel.cancelled() => {}
    }
}

/// Spawns a task that cancels `cancel` on SIGTERM or Ctrl-C.
pub fn cancel_on_signal(cancel: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        wait_for_shutdown_signal(&cancel).await;
        cancel.cancel();
    })
}
