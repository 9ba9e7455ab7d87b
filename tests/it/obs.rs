//! Metrics and health endpoints: a compressed simulated day (the `aegis demo` day, in-process)
//! scraped over HTTP — every family present, non-zero where the day produced it, and accepted by
//! `promtool check metrics`; `aegis demo --metrics-listen 127.0.0.1:0` prints where it listens and
//! serves while it runs; `/readyz` answers 503 while another process holds the pipeline lease and
//! 200 once this one holds it.
//!
//! `promtool` is used when it is on `PATH`; with `AEGIS_REQUIRE_PROMTOOL=1` (set by `.ci/run`) a
//! missing `promtool` fails the test instead of skipping that check.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aegis::app::demo::{DemoOptions, run_demo};
use aegis::config::Sources;
use aegis::domain::calendar::KrxCalendar;
use aegis::obs::names;
use aegis::pipeline::{Daemon, DaemonConfig, PIPELINE_LEASE, Runner};
use aegis::store::pipeline::PipelineStore;
use aegis::store::testing::TestDb;
use chrono::Utc;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::support::wait::wait_for;

async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// Sample lines of a scrape by family: `name` → [(labels, value)] (histograms by their `_count`).
fn samples(text: &str) -> BTreeMap<String, Vec<(String, f64)>> {
    let mut out: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        if name.ends_with("_bucket") || name.ends_with("_sum") {
            continue;
        }
        let family = name.strip_suffix("_count").filter(|f| f.ends_with("_seconds")).unwrap_or(name);
        out.entry(family.to_owned()).or_default().push((labels.to_owned(), value.parse().unwrap()));
    }
    out
}

/// Runs `promtool check metrics` on a scrape when `promtool` is on `PATH` (required with
/// `AEGIS_REQUIRE_PROMTOOL=1`); returns whether it ran.
fn promtool_check(scrape: &str) -> bool {
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var("AEGIS_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
                "promtool is not on PATH but AEGIS_REQUIRE_PROMTOOL=1"
            );
            eprintln!("skipped: promtool check metrics (promtool is not on PATH)");
            return false;
        }
        Err(e) => panic!("promtool: {e}"),
    };
    child.stdin.take().unwrap().write_all(scrape.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool check metrics failed:\n{text}");
    assert!(text.trim().is_empty(), "promtool check metrics has remarks:\n{text}");
    true
}

fn demo_options(speed: f64) -> DemoOptions {
    DemoOptions {
        speed,
        symbols: crate::e2e::SYMBOLS.iter().map(|s| (*s).to_owned()).collect(),
        sources: Sources { env: Some(BTreeMap::new()), no_implicit_files: true, ..Sources::default() },
        progress: false,
        ..DemoOptions::default()
    }
}

/// A whole compressed day of the demo with the metrics listener up: one scrape taken after the
/// journal stage has every family, non-zero where the day produced it, and passes promtool.
#[tokio::test]
async fn a_simulated_day_fills_every_metric_family() {
    let server = aegis::obs::serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", server.local_addr());
    assert_eq!(get(&format!("{base}/healthz")).await, (200, "ok\n".to_owned()));
    let report = tokio::time::timeout(Duration::from_secs(150), run_demo(demo_options(4000.0)))
        .await
        .expect("the demo day timed out")
        .unwrap();
    assert!(report.succeeded(), "{report}");

    let resp = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let scrape = resp.text().await.unwrap();
    let got = samples(&scrape);
    let value = |family: &str, labels: &str| {
        got.get(family)
            .and_then(|v| v.iter().find(|(l, _)| l.contains(labels)))
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("{family}{{{labels}}} missing:\n{scrape}"))
    };
    let sum = |family: &str| got.get(family).map_or(0.0, |v| v.iter().map(|(_, x)| x).sum::<f64>());

    // Every family is there; the demo takes no lease (the lease families are the daemon's), and
    // runs the KRX pipeline only: the US engine's money families (`_usd`) are written by the US
    // engine alone, never by a KRX day.
    let lease = [names::LEASE_HELD, names::LEASE_EPOCH, names::LEASE_HOLDER];
    let usd = [
        names::PNL_REALIZED_USD,
        names::PNL_UNREALIZED_USD,
        names::RISK_LOSS_USD,
        names::RISK_LOSS_LIMIT_USD,
    ];
    for family in names::ALL.iter().filter(|f| !lease.contains(f)) {
        if usd.contains(family) {
            assert!(!got.contains_key(*family), "{family}: a KRX day wrote a USD family:\n{scrape}");
        } else {
            assert!(got.contains_key(*family), "{family} missing from the scrape:\n{scrape}");
        }
    }
    // Non-zero where the day produced them.
    for family in [
        names::REST_REQUESTS,
        names::REST_DURATION,
        names::LIMITER_WAIT,
        names::TOKEN_EXPIRY,
        names::TOKEN_REFRESH_AHEAD,
        names::TOKEN_ISSUED,
        names::WS_FRAMES,
        names::WS_RECORDS,
        names::WS_SINCE_LAST_FRAME,
        names::ORDERS,
        names::ORDERS_SENT,
        names::RISK_MAX_ORDERS,
        names::RISK_LOSS_LIMIT,
        names::FILLS,
        names::STAGE_STATUS,
        names::STAGE_DURATION,
        names::STAGE_TRANSITIONS,
        names::STAGE_LAST_TRANSITION,
        names::RSS,
        names::START_TIME,
        names::BUILD_INFO,
    ] {
        assert!(sum(family) > 0.0, "{family} has no non-zero sample:\n{scrape}");
    }
    assert!(value(names::REST_REQUESTS, r#"outcome="ok""#) > 0.0);
    assert!(value(names::WS_RECORDS, r#"channel="H0STCNT0""#) > 0.0, "trade prints decoded");
    assert!(value(names::WS_FRAMES, r#"channel="H0STCNI9""#) > 0.0, "execution notices decoded");
    assert_eq!(value(names::STAGE_STATUS, r#"market="KR",stage="journal",status="SUCCEEDED""#), 1.0);
    assert_eq!(value(names::STAGE_STATUS, r#"market="KR",stage="intraday",status="RUNNING""#), 0.0);
    // The trading series are the KRX market's; the US ones hold nothing of a KRX day.
    assert_eq!(value(names::ORDERS_SENT, r#"market="KR""#), report.comparison.db_orders as f64);
    let filled = report.orders_by_status.get("FILLED").copied().unwrap_or(0);
    assert_eq!(value(names::ORDERS, r#"market="KR",status="FILLED""#), filled as f64);
    let of_us = |family: &str| got[family].iter().filter(|(l, _)| l.contains(r#"market="US""#)).count();
    assert_eq!(
        of_us(names::ORDERS) + of_us(names::ORDERS_SENT) + of_us(names::RISK_MAX_ORDERS),
        0,
        "{scrape}"
    );
    assert_eq!(sum(names::FILLS), report.comparison.db_fills as f64);
    assert_eq!(value(names::FILLS, r#"market="US",side="BUY""#), 0.0, "registered, never incremented");
    let realized = report.summary.as_ref().map(|s| s.realized_pnl).unwrap();
    let exported = value(names::PNL_REALIZED, "");
    assert!((exported - f64::try_from(realized).unwrap()).abs() < 1.0, "{exported} vs {realized}");
    assert_eq!(value(names::RISK_MAX_ORDERS, r#"market="KR""#), 300.0);
    assert_eq!(value(names::BREAKER_STATE, r#"group="orders""#), 0.0, "closed");
    assert!(value(names::RSS, "") > 1e6);
    // After the close the feed holds no registrations: outside the session it is not required.
    assert_eq!(value(names::WS_REGISTRATIONS, ""), 0.0);
    assert_eq!(value(names::READY, ""), 1.0, "a scrape evaluates readiness");
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""ready":true"#), "{body}");

    promtool_check(&scrape);
    server.shutdown().await;
}

/// `aegis demo --metrics-listen 127.0.0.1:0` prints the bound address first and serves the
/// endpoints while the day runs.
#[tokio::test]
async fn the_demo_binary_prints_where_it_serves_metrics() {
    let dir = aegis::store::testing::TempDir::new("aegis-it-obs-demo").unwrap();
    let args = ["demo", "--speed", "4000", "--no-progress", "--symbols", "005930,247540", "--metrics-listen"];
    let mut cmd = crate::support::bin::command(&dir.0, &args, [("LOG_LEVEL", "warn")]);
    cmd.arg("127.0.0.1:0").stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = tokio::process::Command::from(cmd).kill_on_drop(true).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await.unwrap().unwrap();
    let first = first.expect("a first line");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.ends_with("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address in {first:?}"))
        .to_owned();
    assert!(!url.contains(":0/"), "the bound port is printed, not 0: {url}");
    let (status, text) = get(&url).await;
    assert_eq!(status, 200);
    assert!(text.contains("# TYPE aegis_kis_token_issued_total counter"), "{text}");
    assert_eq!(get(&url.replace("/metrics", "/healthz")).await.0, 200);
    let mut rest = String::new();
    while let Ok(Some(line)) =
        tokio::time::timeout(Duration::from_secs(150), lines.next_line()).await.unwrap()
    {
        rest.push_str(&line);
        rest.push('\n');
    }
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{rest}");
    assert!(rest.contains("database and simulator agree"), "{rest}");
}

/// `/readyz` is 503 while another process holds the pipeline lease (the body says who), and 200
/// once this daemon holds it; the lease families follow.
async fn readyz_follows_the_lease(t: TestDb) {
    aegis::obs::health::health().set_database(t.store.conn().clone());
    let server = aegis::obs::serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", server.local_addr());
    let p = PipelineStore::new(t.store.conn().clone());
    let ttl = chrono::TimeDelta::seconds(60);
    assert_eq!(p.acquire_lease(PIPELINE_LEASE, "other-host", ttl, Utc::now()).await.unwrap(), Some(1));

    let cancel = CancellationToken::new();
    let runner = Runner::new(t.store.clone(), Arc::new(KrxCalendar::builtin().unwrap()))
        .with_cancel(cancel.clone(), Duration::from_secs(5));
    let config = DaemonConfig {
        poll_interval: Duration::from_millis(20),
        lease_ttl: Duration::from_secs(1),
        ..DaemonConfig::default()
    };
    let holder = config.fence.holder().to_owned();
    let (_tx, rx) = tokio::sync::mpsc::channel(1);
    let daemon = tokio::spawn(Daemon::new(Arc::new(runner), None, config).run(rx, cancel.clone()));

    let readyz = format!("{base}/readyz");
    wait_for("the daemon stands by", 20, || {
        let url = readyz.clone();
        async move { get(&url).await.1.contains("standby") }
    })
    .await;
    let (status, body) = get(&readyz).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("standby: the pipeline lease is held by other-host"), "{body}");
    assert!(body.contains(r#""database":{"ok":true"#), "{body}");
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200, "alive while standing by");
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(metrics.contains("aegis_lease_held{lease=\"pipeline\"} 0"), "{metrics}");
    assert!(
        metrics.contains("aegis_lease_holder_info{lease=\"pipeline\",holder=\"other-host\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("\naegis_ready 0\n"), "{metrics}");
    promtool_check(&metrics);

    // The other holder gives the lease back: this daemon takes it (epoch 2) and is ready.
    p.release_lease(PIPELINE_LEASE, "other-host").await.unwrap();
    wait_for("the daemon leads and is ready", 20, || {
        let url = readyz.clone();
        async move { get(&url).await.0 == 200 }
    })
    .await;
    let (_, body) = get(&readyz).await;
    assert!(body.contains(&format!("held by this process ({holder}, epoch 2)")), "{body}");
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(metrics.contains("aegis_lease_held{lease=\"pipeline\"} 1"), "{metrics}");
    assert!(metrics.contains("aegis_lease_epoch{lease=\"pipeline\"} 2"), "{metrics}");
    assert!(
        metrics.contains(&format!("aegis_lease_holder_info{{lease=\"pipeline\",holder=\"{holder}\"}} 1"))
    );
    assert!(metrics.contains("aegis_lease_holder_info{lease=\"pipeline\",holder=\"other-host\"} 0"));
    assert!(metrics.contains("\naegis_ready 1\n"), "{metrics}");

    cancel.cancel();
    daemon.await.unwrap().unwrap();
    let (status, body) = get(&readyz).await;
    assert_eq!(status, 503, "a stopped daemon gave the lease back: {body}");
    server.shutdown().await;
}
aegis::storage_test!(readyz_lease, readyz_follows_the_lease);
