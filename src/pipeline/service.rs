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

/// Spawns a task that sends `WATCHDOG=1` at half the interval systemd asked for, until `cancel`
/// fires; returns `None` when no watchdog is configured.
pub fn spawn_watchdog(cancel: CancellationToken) -> Option<JoinHandle<()>> {
    let interval = watchdog_interval()? / 2;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {
                    #[cfg(unix)]
                    if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]) {
                        tracing::warn!(error = %e, "cannot notify systemd (WATCHDOG)");
                    }
                }
            }
        }
    }))
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
