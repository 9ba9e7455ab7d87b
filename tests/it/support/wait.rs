//! Polling and waiting helpers shared by the suites.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

/// How often [`wait_for`] asks its condition again.
const POLL: Duration = Duration::from_millis(25);

/// Polls a condition every 25 ms for up to `secs` seconds; panics naming `what` when it never
/// holds.
pub async fn wait_for<F, Fut>(what: &str, secs: u64, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if cond().await {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Waits (up to `secs`) for the next message of `rx` accepted by `want`, returning the messages
/// seen on the way (including the match, last).
pub async fn until<T: std::fmt::Debug>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    secs: u64,
    mut want: impl FnMut(&T) -> bool,
) -> Vec<T> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; saw {seen:?}"))
            .expect("channel closed");
        let hit = want(&ev);
        seen.push(ev);
        if hit {
            return seen;
        }
    }
}
