//! Notifications end to end: a fake Slack Web API (axum on 127.0.0.1:0) and an SMTP sink (a tiny
//! tokio TCP server) receive what the outbox worker delivers; outages are retried, recorded as
//! events and delivered exactly once afterwards. Outbox tests run on SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aegis::notify::{
    Console, Deliverers, DeliveryRetry, EmailSender, Fanout, KillSwitchTrip, Notification, OutboxWorker,
    SlackSender, StageTransition, WorkerConfig,
};
use aegis::store::Store;
use aegis::store::outbox::{Outbox, OutboxChannel, OutboxStatus};
use aegis::store::testing::TestDb;
use aegis::telemetry::Redactor;
use chrono::NaiveDate;
use tokio_util::sync::CancellationToken;

use crate::support::fakes::{FakeSlack, SmtpSink, free_port, slack_settings, smtp_settings};
use crate::support::wait::wait_for;

const SECRET: &str = "notify-test-app-secret-0123456789";
const RERUN: &str = "aegis stage rerun access_token --date 2026-11-23";

fn failed_stage() -> StageTransition {
    StageTransition {
        stage: "access_token".into(),
        trade_date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        attempt: 1,
        from: "RUNNING".into(),
        to: "FAILED".into(),
        duration: Some(Duration::from_millis(2500)),
        error: Some(format!("EGW00103 invalid appsecret {SECRET}")),
        rerun_command: RERUN.into(),
    }
}

fn fast(max_attempts: u32) -> WorkerConfig {
    WorkerConfig {
        retry: DeliveryRetry {
            max_attempts,
            initial: Duration::from_millis(20),
            max: Duration::from_millis(80),
        },
        poll_interval: Duration::from_millis(50),
        send_timeout: Duration::from_secs(5),
        lease: Duration::from_secs(30),
        batch: 50,
    }
}

fn start(
    store: &Store,
    deliverers: Deliverers,
    config: WorkerConfig,
    slack: bool,
    email: bool,
) -> (Fanout, CancellationToken) {
    let fanout =
        Fanout::with_channels(Outbox::new(store.conn().clone()), deliverers.console.clone(), slack, email);
    let cancel = CancellationToken::new();
    OutboxWorker::new(store, deliverers, config, fanout.waker()).spawn(cancel.clone());
    (fanout, cancel)
}

async fn statuses(store: &Store) -> Vec<(OutboxChannel, OutboxStatus)> {
    Outbox::new(store.conn().clone())
        .list(None)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.channel, e.status))
        .collect()
}

async fn failure_events(store: &Store) -> Vec<aegis::store::events::EventRecord> {
    store
        .events()
        .recent(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "notify.delivery_failed")
        .collect()
}

async fn failure_reaches_slack_and_email(db: TestDb) {
    Redactor::global().register(SECRET);
    let slack = FakeSlack::start().await;
    let smtp = SmtpSink::start().await;
    let console = Console::capturing();
    let deliverers = Deliverers {
        slack: Some(SlackSender::new(&slack_settings(&slack.base)).unwrap()),
        email: Some(EmailSender::new(&smtp_settings(smtp.port)).unwrap()),
        console: console.clone(),
    };
    let (fanout, cancel) = start(&db.store, deliverers, fast(5), true, true);

    fanout.notify(Notification::Stage(failed_stage())).await;
    wait_for("slack and email delivered", 30, || async {
        slack.posts().len() == 1 && smtp.mails().len() == 1
    })
    .await;

    let post = &slack.posts()[0];
    assert_eq!(post.channel, "C0123456789");
    assert_eq!(post.authorization, "Bearer xoxb-notify-test-token");
    let blocks = post.body["blocks"].to_string();
    for needle in ["access_token", "2026-11-23", "*Attempt*\\n1", "2.5s", "EGW00103 invalid appsecret", RERUN]
    {
        assert!(blocks.contains(needle), "`{needle}` missing in {blocks}");
    }
    let everything = format!("{}{:?}{:?}", post.body, smtp.mails(), console.lines());
    assert!(!everything.contains(SECRET), "secret leaked: {everything}");
    assert!(!everything.contains("xoxb-notify-test-token"));
    assert!(blocks.contains("REDACTED"));

    let mail = &smtp.mails()[0];
    assert_eq!(mail.from, "<aegis@example.com>");
    assert_eq!(mail.to, ["<ops@example.com>"]);
    assert!(
        mail.data.contains("Subject: [aegis] access_token FAILED on 2026-11-23 (attempt 1)"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains(RERUN));
    assert!(console.lines()[0].contains("RUNNING -> FAILED"));

    // A success goes to Slack only; a kill-switch trip to both.
    let ok =
        StageTransition { from: "RUNNING".into(), to: "SUCCEEDED".into(), error: None, ..failed_stage() };
    fanout.notify(Notification::Stage(ok)).await;
    fanout.notify(Notification::KillSwitch(KillSwitchTrip { reason: "daily loss limit".into() })).await;
    wait_for("three posts, two mails", 30, || async { slack.posts().len() == 3 && smtp.mails().len() == 2 })
        .await;
    assert!(smtp.mails()[1].data.contains("KILL SWITCH"));
    wait_for("all sent", 30, || async {
        statuses(&db.store).await.iter().all(|(_, s)| *s == OutboxStatus::Sent)
    })
    .await;
    assert_eq!(statuses(&db.store).await.len(), 5);
    assert!(failure_events(&db.store).await.is_empty());
    cancel.cancel();
}
aegis::storage_test!(failure_reaches_slack_and_email_on, failure_reaches_slack_and_email);

async fn slack_outage_is_retried_then_delivered_once(db: TestDb) {
    let slack = FakeSlack::start().await;
    slack.set_failing(true);
    let deliverers = Deliverers {
        slack: Some(SlackSender::new(&slack_settings(&slack.base)).unwrap()),
        email: None,
        console: Console::capturing(),
    };
    let (fanout, cancel) = start(&db.store, deliverers, fast(1000), true, false);

    let t0 = Instant::now();
    fanout.notify(Notification::Stage(failed_stage())).await;
    assert!(t0.elapsed() < Duration::from_secs(2), "enqueue waited for Slack: {:?}", t0.elapsed());

    wait_for("retried at least twice", 30, || async { slack.rejected() >= 2 }).await;
    wait_for("failures recorded", 30, || async { failure_events(&db.store).await.len() >= 2 }).await;
    let ev = &failure_events(&db.store).await[0];
    assert_eq!(ev.severity, "WARNING");
    assert_eq!(ev.payload["channel"], "SLACK");
    assert_eq!(ev.payload["final"], false);
    assert!(ev.message.contains("slack http status 500"), "{}", ev.message);
    assert_eq!(statuses(&db.store).await, [(OutboxChannel::Slack, OutboxStatus::Pending)]);

    slack.set_failing(false);
    wait_for("delivered after the outage", 30, || async {
        statuses(&db.store).await == [(OutboxChannel::Slack, OutboxStatus::Sent)]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(slack.posts().len(), 1, "delivered exactly once");
    cancel.cancel();
}
aegis::storage_test!(
    slack_outage_is_retried_then_delivered_once_on,
    slack_outage_is_retried_then_delivered_once
);

async fn last_attempt_marks_failed(db: TestDb) {
    let slack = FakeSlack::start().await;
    slack.set_failing(true);
    let deliverers = Deliverers {
        slack: Some(SlackSender::new(&slack_settings(&slack.base)).unwrap()),
        email: None,
        console: Console::capturing(),
    };
    let (fanout, cancel) = start(&db.store, deliverers, fast(3), true, false);
    fanout.notify(Notification::Stage(failed_stage())).await;
    wait_for("given up", 30, || async {
        statuses(&db.store).await == [(OutboxChannel::Slack, OutboxStatus::Failed)]
    })
    .await;
    let row = Outbox::new(db.store.conn().clone()).list(None).await.unwrap().remove(0);
    assert_eq!(row.attempts, 3);
    assert_eq!(row.last_error.as_deref(), Some("slack http status 500"));
    let events = failure_events(&db.store).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].payload["final"], true, "newest first: the last attempt gives up");

    // A permanent Slack error (`ok: false`) is not retried.
    slack.set_failing(false);
    slack.set_api_error(Some("channel_not_found"));
    fanout.notify(Notification::KillSwitch(KillSwitchTrip { reason: "x".into() })).await;
    wait_for("permanent error fails at once", 30, || async {
        statuses(&db.store).await.iter().filter(|(_, s)| *s == OutboxStatus::Failed).count() == 2
    })
    .await;
    let rows = Outbox::new(db.store.conn().clone()).list(None).await.unwrap();
    assert_eq!(rows[1].attempts, 1);
    assert_eq!(rows[1].last_error.as_deref(), Some("slack api error: channel_not_found"));
    cancel.cancel();
}
aegis::storage_test!(last_attempt_marks_failed_on, last_attempt_marks_failed);

async fn pending_rows_are_delivered_after_restart(db: TestDb) {
    let smtp = SmtpSink::start().await;
    // A process enqueues and dies before its worker delivered anything.
    let fanout =
        Fanout::with_channels(Outbox::new(db.store.conn().clone()), Console::capturing(), false, true);
    fanout.notify(Notification::Stage(failed_stage())).await;
    fanout.notify(Notification::KillSwitch(KillSwitchTrip { reason: "restart test".into() })).await;
    drop(fanout);
    assert_eq!(statuses(&db.store).await.len(), 2);

    // The next process opens the same database and delivers them.
    let store = Store::open(&db.url).await.unwrap();
    let deliverers = Deliverers {
        slack: None,
        email: Some(EmailSender::new(&smtp_settings(smtp.port)).unwrap()),
        console: Console::capturing(),
    };
    let cancel = CancellationToken::new();
    OutboxWorker::new(&store, deliverers, fast(5), Arc::default()).spawn(cancel.clone());
    wait_for("both delivered", 30, || async { smtp.mails().len() == 2 }).await;
    wait_for("both sent", 30, || async {
        statuses(&store).await.iter().all(|(_, s)| *s == OutboxStatus::Sent)
    })
    .await;
    cancel.cancel();
}
aegis::storage_test!(pending_rows_are_delivered_after_restart_on, pending_rows_are_delivered_after_restart);

#[tokio::test]
async fn slack_down_then_up_on_the_same_port() {
    let db = crate::support::db::sqlite().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/api/");
    let deliverers = Deliverers {
        slack: Some(SlackSender::new(&slack_settings(&base)).unwrap()),
        email: None,
        console: Console::capturing(),
    };
    let (fanout, cancel) = start(&db.store, deliverers, fast(1000), true, false);
    fanout.notify(Notification::Stage(failed_stage())).await;
    wait_for("connection failures recorded", 30, || async { failure_events(&db.store).await.len() >= 2 })
        .await;
    assert!(failure_events(&db.store).await[0].message.contains("slack transport error"));

    let slack = FakeSlack::start_on(port).await;
    wait_for("delivered once up", 30, || async { slack.posts().len() == 1 }).await;
    wait_for("sent", 30, || async {
        statuses(&db.store).await == [(OutboxChannel::Slack, OutboxStatus::Sent)]
    })
    .await;
    cancel.cancel();
}

async fn a_claim_is_taken_once(db: TestDb) {
    let outbox = Outbox::new(db.store.conn().clone());
    // Millisecond precision: PostgreSQL keeps microseconds, SQLite whatever it is given.
    let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 3);
    outbox.enqueue(OutboxChannel::Console, "alert", serde_json::json!({"line": "x"}), now).await.unwrap();
    let due = outbox.due(now, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let lease = now + chrono::TimeDelta::seconds(60);
    assert!(outbox.claim(&due[0], lease).await.unwrap());
    assert!(!outbox.claim(&due[0], lease).await.unwrap(), "a second worker loses the claim");
    assert!(outbox.due(now, 10).await.unwrap().is_empty(), "leased rows are not due");
    assert_eq!(outbox.due(lease, 10).await.unwrap().len(), 1, "due again when the lease ends");
    assert_eq!(outbox.next_due_at().await.unwrap(), Some(lease));
}
aegis::storage_test!(a_claim_is_taken_once_on, a_claim_is_taken_once);

#[tokio::test]
async fn start_follows_the_settings() {
    let db = crate::support::db::sqlite().await;
    let slack = FakeSlack::start().await;
    let env = std::collections::BTreeMap::from([
        ("SLACK_BOT_TOKEN".to_owned(), "xoxb-notify-test-token".to_owned()),
        ("SLACK_CHANNEL_ID".to_owned(), "C0123456789".to_owned()),
        ("SLACK_API_BASE".to_owned(), slack.base.clone()),
    ]);
    let sources = aegis::config::Sources {
        env: Some(env),
        no_implicit_files: true,
        ..aegis::config::Sources::default()
    };
    let loaded = aegis::config::load(&sources);
    let console = Console::capturing();
    let cancel = CancellationToken::new();
    let (fanout, worker) =
        aegis::notify::start(&db.store, &loaded.settings, console.clone(), fast(5), cancel.clone()).unwrap();
    fanout.notify(Notification::Stage(failed_stage())).await;
    wait_for("posted", 30, || async { slack.posts().len() == 1 }).await;
    assert_eq!(console.lines().len(), 1);
    // No SMTP configured: no email row.
    assert_eq!(statuses(&db.store).await.len(), 1);
    cancel.cancel();
    worker.await.unwrap();
}
