//! The metrics and health listener: `GET /metrics`, `GET /healthz`, `GET /readyz` on an axum
//! server of its own (never on the simulator's or any other listener).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::health::health;

/// The Prometheus text format's content type.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// A running listener; [`MetricsServer::shutdown`] stops it (dropping it stops it too).
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// The bound address (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the listener and waits for it.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn metrics() -> Response {
    // The readiness gauge is evaluated at every scrape (a database ping), not only when a
    // probe asks /readyz.
    let _ = health().readiness().await;
    match super::render() {
        Some(text) => ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics recorder not installed\n").into_response(),
    }
}

async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok\n").into_response()
}

async fn readyz() -> Response {
    let r = health().readiness().await;
    let status = if r.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(r)).into_response()
}

/// Returns the router of the three endpoints.
pub fn router() -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Installs the recorder (see [`super::install`]), binds `addr` and serves the endpoints until
/// the returned server is shut down or dropped.
///
/// # Errors
/// Returns the bind error (address in use, not permitted, …).
pub async fn serve(addr: SocketAddr) -> std::io::Result<MetricsServer> {
    super::install();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let task = tokio::spawn(async move {
        let upkeep = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(UPKEEP_EVERY);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        _ = tick.tick() => super::upkeep(),
                    }
                }
            })
        };
        let shutdown = stop.clone();
        if let Err(e) = axum::serve(listener, router())
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
        {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
        stop.cancel();
        let _ = upkeep.await;
    });
    tracing::info!(%addr, "metrics and health endpoints listening");
    Ok(MetricsServer { addr, cancel, task: Some(task) })
}

/// Parses a `METRICS_LISTEN` / `--metrics-listen` value: `off` (None) or an IP socket address.
///
/// # Errors
/// Returns what is wrong with the value.
pub fn parse_listen(v: &str) -> Result<Option<SocketAddr>, String> {
    let t = v.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    t.parse::<SocketAddr>()
        .map(Some)
        .map_err(|_| format!("`{t}` is not an address to listen on (IP:PORT such as 127.0.0.1:9464, or off)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_values() {
        assert_eq!(parse_listen("off"), Ok(None));
        assert_eq!(parse_listen(" OFF "), Ok(None));
        assert_eq!(parse_listen("127.0.0.1:9464").unwrap().unwrap().port(), 9464);
        assert!(parse_listen("[::1]:0").unwrap().is_some());
        assert!(parse_listen("localhost:9464").unwrap_err().contains("not an address"));
        assert!(parse_listen("9464").is_err());
    }
}
