//! An injected authentication failure: `access_token` FAILS, trading stops, the fake Slack server
//! receives the failure with the exact re-run command; the operator's `aegis stage rerun
//! access_token` (picked up by the running daemon through the database) succeeds, and after
//! `aegis resume` and `aegis stage run journal` the later stages proceed.

use std::time::Duration;

use aegis::domain::mode::TradingMode;
use aegis::domain::stage::StageName;
use aegis::pipeline::{Daemon, DaemonConfig};
use aegis::store::control::ControlStore;
use aegis::store::pipeline::{PipelineStore, RequestKind};
use aegis::store::testing::{TempDir, TestDb};
use chrono::Utc;
use tokio::sync::mpsc;

use super::{
    aegis_cli, build, env, loaded, options, stages, start_sim, start_sim_real_time, status, trade_date,
};
use crate::support::fakes::FakeSlack;
use crate::support::wait::wait_for;

async fn auth_failure_body(db: TestDb) {
    let slack = FakeSlack::start().await;
    let sim = start_sim(3000.0).await;
    sim.shared().lock().cfg.app_key = Some(format!("PSOTHER{}", "o".repeat(29)));
    let dir = TempDir::new("aegis-e2e-auth").unwrap();
    let env = env(&sim, &db.url, Some(&slack.base));
    let app = build(&db.store, options(&sim, loaded(env.clone()), &dir));
    let config = DaemonConfig {
        fence: std::sync::Arc::new(aegis::ports::Fence::new(
            aegis::pipeline::PIPELINE_LEASE,
            format!("e2e-{}", uuid::Uuid::new_v4().simple()),
        )),
        poll_interval: Duration::from_millis(100),
        lease_ttl: Duration::from_secs(60),
        ..DaemonConfig::default()
    };
    let (_triggers, rx) = mpsc::channel(1);
    let daemon = tokio::spawn(Daemon::new(app.runner.clone(), None, config).run(rx, app.cancel.clone()));
    let pipeline = PipelineStore::new(db.store.conn().clone());
    pipeline
        .insert_request(
            aegis::domain::MarketRegion::Kr,
            trade_date(),
            "universe",
            RequestKind::Run,
            "e2e",
            Utc::now(),
        )
        .await
        .unwrap();

    let rerun = "aegis stage rerun access_token --date 2026-11-23";
    wait_for("the failure reaches Slack", 30, || async {
        slack.posts().iter().any(|p| {
            let body = p.body.to_string();
            body.contains("access_token") && body.contains("FAILED") && body.contains(rerun)
        })
    })
    .await;
    assert_eq!(status(&stages(&db.store).await, StageName::AccessToken), "FAILED");
    let control = ControlStore::new(db.store.conn().clone());
    assert!(
        matches!(control.mode().await.unwrap(), TradingMode::Stop { .. }),
        "a failed stage stops trading"
    );

    sim.shared().lock().cfg.app_key = None;
    let (ok, text) = aegis_cli(&env, &["stage", "rerun", "access_token", "--date", "2026-11-23"]).await;
    assert!(ok && text.contains("queued"), "{text}");
    wait_for("the re-run succeeds", 30, || async {
        status(&stages(&db.store).await, StageName::AccessToken) == "SUCCEEDED"
    })
    .await;
    let (ok, text) = aegis_cli(&env, &["resume"]).await;
    assert!(ok, "{text}");
    let (ok, text) = aegis_cli(&env, &["stage", "run", "journal", "--date", "2026-11-23"]).await;
    assert!(ok && text.contains("queued"), "{text}");
    wait_for("the later stages proceed", 90, || async {
        status(&stages(&db.store).await, StageName::Journal) == "SUCCEEDED"
    })
    .await;
    let map = stages(&db.store).await;
    for s in StageName::ALL {
        assert_eq!(status(&map, s), "SUCCEEDED", "{s}: {map:?}");
    }
    assert_eq!(map[&StageName::AccessToken].1, 2, "one failed attempt, one re-run");
    app.cancel.cancel();
    daemon.await.unwrap().unwrap();
    app.shutdown().await;
    sim.shutdown().await;
}
aegis::storage_test!(auth_failure, auth_failure_body);

/// Without a daemon, `aegis stage run` runs the broker stages itself against the broker of the
/// configuration, and running it again does not repeat what succeeded.
async fn stage_run_without_daemon_body(db: TestDb) {
    let sim = start_sim_real_time().await;
    let env = env(&sim, &db.url, None);
    let (ok, text) = aegis_cli(&env, &["stage", "run", "account_check", "--date", "2026-11-23"]).await;
    assert!(ok && text.contains("completed through account_check"), "{text}");
    let map = stages(&db.store).await;
    for s in [StageName::ConfigCheck, StageName::AccessToken, StageName::ApprovalKey, StageName::AccountCheck]
    {
        assert_eq!(status(&map, s), "SUCCEEDED", "{s}: {map:?}");
    }
    assert_eq!(status(&map, StageName::ParamLoad), "-", "nothing beyond the requested stage ran");
    let (ok, text) = aegis_cli(&env, &["stage", "run", "account_check", "--date", "2026-11-23"]).await;
    assert!(ok, "{text}");
    assert_eq!(stages(&db.store).await[&StageName::AccessToken].1, 1, "a succeeded stage is not repeated");
    sim.shutdown().await;
}
aegis::storage_test!(stage_run_without_daemon, stage_run_without_daemon_body);
