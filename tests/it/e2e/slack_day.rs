//! Slack over one simulated day (compressed clock), with a Slack stand-in and an SMTP sink: the
//! daemon runs the day, `access_token` fails (a wrong app key) and the operator re-runs it. Slack
//! gets one message for the day, posted once (after a 429 with `Retry-After`, waited out) and
//! updated in place as the stages progress, plus one reply in its thread (broadcast to the
//! channel) per failure, alert, kill-switch trip and journal; only the failure carries the re-run
//! command. Email gets the failure, the alerts and the trips only.

use std::time::Duration;

use aegis::domain::stage::StageName;
use aegis::pipeline::{Daemon, DaemonConfig};
use aegis::store::pipeline::{PipelineStore, RequestKind};
use aegis::store::testing::{TempDir, TestDb};
use chrono::Utc;
use tokio::sync::mpsc;

use super::{aegis_cli, build, env, loaded, options, stages, start_sim, status, trade_date};
use crate::support::fakes::{FakeSlack, SmtpSink};
use crate::support::wait::wait_for;

const RERUN: &str = "aegis stage rerun access_token --date 2026-11-23";

async fn slack_day_body(db: TestDb) {
    let slack = FakeSlack::start().await;
    // Slack's first answer is a rate limit: the day's message is posted after the wait, once.
    slack.rate_limit(1, 1);
    let smtp = SmtpSink::start().await;
    let sim = start_sim(3000.0).await;
    sim.shared().lock().cfg.app_key = Some(format!("PSOTHER{}", "o".repeat(29)));
    let dir = TempDir::new("aegis-e2e-slack").unwrap();
    let mut env = env(&sim, &db.url, Some(&slack.base));
    for (k, v) in [
        ("SMTP_HOST", "127.0.0.1".to_owned()),
        ("SMTP_PORT", smtp.port.to_string()),
        ("SMTP_TLS", "none".to_owned()),
        ("SMTP_FROM", "aegis@example.com".to_owned()),
        ("SMTP_TO", "ops@example.com".to_owned()),
    ] {
        env.insert(k.to_owned(), v);
    }
    let app = build(&db.store, options(&sim, loaded(env.clone()), &dir));
    let config = DaemonConfig {
        fence: std::sync::Arc::new(aegis::ports::Fence::new(
            aegis::pipeline::PIPELINE_LEASE,
            format!("e2e-{}", uuid::Uuid::new_v4().simple()),
        )),
        poll_interval: Duration::from_millis(100),
        lease_ttl: Duration::from_secs(60),
        notifier: Some(std::sync::Arc::new(app.fanout.clone())),
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

    wait_for("the failure reaches Slack", 30, || async {
        slack.posts().iter().any(|p| p.thread().is_some() && p.content().contains(RERUN))
    })
    .await;
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
    wait_for("the journal's reply", 90, || async {
        slack.posts().iter().any(|p| p.thread().is_some() && p.content().contains("Trade journal"))
    })
    .await;
    let map = stages(&db.store).await;
    for s in StageName::ALL {
        assert_eq!(status(&map, s), "SUCCEEDED", "{s}: {map:?}");
    }
    // The journal's last transition reaches the day's message after the stage is stored.
    wait_for("the day's message shows the whole day", 30, || async {
        slack.updates().last().is_some_and(|u| u.content().contains("all 11 stages done"))
    })
    .await;
    wait_for("every row delivered", 30, || async {
        let rows = db.store.outbox().list(Some(aegis::store::outbox::OutboxStatus::Pending)).await.unwrap();
        rows.is_empty()
    })
    .await;
    app.cancel.cancel();
    daemon.await.unwrap().unwrap();

    // One day message, posted once, then updated in place.
    let posts = slack.posts();
    let days: Vec<_> = posts.iter().filter(|p| p.thread().is_none()).collect();
    assert_eq!(days.len(), 1, "one message for the day: {posts:#?}");
    let day = days[0];
    assert!(day.content().contains("aegis 2026-11-23"), "{}", day.content());
    let updates = slack.updates();
    assert!(!updates.is_empty(), "the day's message is updated as the stages progress");
    assert!(updates.iter().all(|u| u.ts == day.ts));
    let last = updates.last().unwrap().content();
    assert!(last.contains("all 11 stages done"), "the latest table: {last}");

    // The 429 was waited out before the post.
    let limited = slack.limited();
    assert_eq!(limited.len(), 1);
    assert!(day.at - limited[0] >= Duration::from_millis(950), "retried before Retry-After");

    // One reply per failure, alert and journal, in the day's thread and broadcast.
    let alerts = db.store.control().events(1000, Some("alert")).await.unwrap();
    let alerts = alerts.iter().filter(|e| e.trade_date == Some(trade_date())).count();
    let replies: Vec<_> = posts.iter().filter(|p| p.thread().is_some()).collect();
    assert!(replies.iter().all(|r| r.thread() == Some(day.ts.as_str()) && r.body["reply_broadcast"] == true));
    let failures: Vec<_> = replies.iter().filter(|r| r.content().contains("→ FAILED")).collect();
    let journals = replies.iter().filter(|r| r.content().contains("Trade journal")).count();
    let alert_replies = replies.iter().filter(|r| r.content().contains("aegis alert (")).count();
    // The kill switch (10 rejects) is not expected to trip on a quiet day; if it does, it is told.
    let trips = replies.iter().filter(|r| r.content().contains("aegis: kill switch")).count();
    assert_eq!(failures.len(), 1, "{replies:#?}");
    assert_eq!((journals, alert_replies), (1, alerts), "{replies:#?}");
    assert_eq!(replies.len(), 1 + alerts + trips + 1, "nothing else: {replies:#?}");
    assert_eq!(posts.len(), 1 + replies.len());

    // Only the failure carries the re-run command; the table never does.
    assert!(failures[0].content().contains(RERUN) && failures[0].content().contains("access_token"));
    let hints = posts.iter().chain(&updates).filter(|p| p.content().contains("stage rerun")).count();
    assert_eq!(hints, 1, "a re-run hint on the failure only");

    // Email: the failure, the alerts and the trips.
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1 + alerts + trips, "{mails:#?}");
    assert!(mails.iter().any(|m| m.data.contains("access_token FAILED") && m.data.contains(RERUN)));
    app.shutdown().await;
    sim.shutdown().await;
}
aegis::storage_test!(slack_day, slack_day_body);
