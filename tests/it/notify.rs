//! Notifications end to end: a fake Slack Web API (axum on 127.0.0.1:0) and an SMTP sink (a tiny
//! tokio TCP server) receive what the outbox worker delivers; outages are retried, recorded as
//! events and delivered exactly once afterwards. Slack gets one message per trade date, updated in
//! place, and a reply in its thread for what needs a human; rate limits are waited out. Outbox
//! tests run on SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aegis::notify::{
    Alert, AlertKind, Console, Deliverers, DeliveryRetry, EmailSender, Fanout, JournalSummary,
    KillSwitchTrip, Notification, OutboxWorker, SlackSender, StageTransition, WorkerConfig,
};
use aegis::store::Store;
use aegis::store::outbox::{Outbox, OutboxChannel, OutboxStatus};
use aegis::store::testing::TestDb;
use aegis::telemetry::Redactor;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

use crate::support::fakes::{FakeSlack, Post, SmtpSink, free_port, slack_settings, smtp_settings};
use crate::support::wait::wait_for;

const SECRET: &str = "notify-test-app-secret-0123456789";
const RERUN: &str = "aegis stage rerun access_token --date 2026-11-23";

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

/// 08:30 KST of the trade date plus `secs`.
fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 23, 30, 0).unwrap() + chrono::TimeDelta::seconds(secs)
}

fn failed_stage() -> StageTransition {
    StageTransition {
        stage: "access_token".into(),
        trade_date: date(),
        attempt: 1,
        from: "RUNNING".into(),
        to: "FAILED".into(),
        duration: Some(Duration::from_millis(2500)),
        error: Some(format!("EGW00103 invalid appsecret {SECRET}")),
        rerun_command: RERUN.into(),
        at: at(5),
        run_failed: true,
    }
}

/// A transition of `stage` into `to` (attempt 1) at `secs`.
fn moved(stage: &str, to: &str, secs: i64) -> StageTransition {
    StageTransition {
        stage: stage.into(),
        from: if to == "RUNNING" { "PENDING" } else { "RUNNING" }.into(),
        to: to.into(),
        duration: (to != "RUNNING").then(|| Duration::from_millis(300)),
        error: None,
        rerun_command: format!("aegis stage rerun {stage} --date 2026-11-23"),
        at: at(secs),
        run_failed: false,
        ..failed_stage()
    }
}

/// What the day's message says now: the latest update, or the post when there is none.
fn day_now(slack: &FakeSlack) -> String {
    let day = slack.posts().into_iter().find(|p| p.thread().is_none()).expect("a day message");
    slack.updates().into_iter().rfind(|u| u.ts == day.ts).unwrap_or(day).content()
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
        slack.posts().len() == 2 && smtp.mails().len() == 1
    })
    .await;

    // The day's message (the table) first, then the failure as a reply in its thread, broadcast.
    let day = &slack.posts()[0];
    assert_eq!(day.channel, "C0123456789");
    assert_eq!(day.authorization, "Bearer xoxb-notify-test-token");
    assert!(day.thread().is_none() && day.content().contains("access_token failed (attempt 1)"));
    assert!(!day.content().contains("rerun"), "the table carries no re-run hint");
    let post = &slack.posts()[1];
    assert_eq!(post.thread(), Some(day.ts.as_str()));
    assert_eq!(post.body["reply_broadcast"], true);
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

    // A success updates the day's message only; a kill-switch trip is a reply and a mail.
    let ok = StageTransition { attempt: 2, ..moved("access_token", "SUCCEEDED", 60) };
    fanout.notify(Notification::Stage(ok)).await;
    fanout.notify(Notification::KillSwitch(KillSwitchTrip { reason: "daily loss limit".into() })).await;
    wait_for("three posts, an update, two mails", 30, || async {
        slack.posts().len() == 3 && slack.updates().len() == 1 && smtp.mails().len() == 2
    })
    .await;
    assert!(smtp.mails()[1].data.contains("KILL SWITCH"));
    let update = &slack.updates()[0];
    assert_eq!(update.ts, day.ts, "the day's message is updated in place");
    assert!(update.content().contains("SUCCEEDED") && !update.content().contains("rerun"));
    let kill = &slack.posts()[2];
    assert_eq!(kill.thread(), Some(day.ts.as_str()), "threaded under the latest day");
    assert!(kill.content().contains("daily loss limit"));
    wait_for("all sent", 30, || async {
        statuses(&db.store).await.iter().all(|(_, s)| *s == OutboxStatus::Sent)
    })
    .await;
    assert_eq!(statuses(&db.store).await.len(), 6, "day ×2, failure reply and mail, kill reply and mail");
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
    assert_eq!(ev.payload["kind"], "day_status", "the reply waits for its day's message");
    assert_eq!(ev.payload["final"], false);
    assert!(ev.message.contains("slack http status 500"), "{}", ev.message);
    let pending = [(OutboxChannel::Slack, OutboxStatus::Pending); 2];
    assert_eq!(statuses(&db.store).await, pending);

    slack.set_failing(false);
    wait_for("delivered after the outage", 30, || async {
        statuses(&db.store).await == [(OutboxChannel::Slack, OutboxStatus::Sent); 2]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let posts = slack.posts();
    assert_eq!(posts.len(), 2, "delivered exactly once: the day, then the reply");
    assert_eq!(posts[1].thread(), Some(posts[0].ts.as_str()));
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
    // The day's message gives up; its reply then goes in the channel alone, and gives up too.
    wait_for("given up", 30, || async {
        statuses(&db.store).await == [(OutboxChannel::Slack, OutboxStatus::Failed); 2]
    })
    .await;
    let rows = Outbox::new(db.store.conn().clone()).list(None).await.unwrap();
    for row in &rows {
        assert_eq!(row.attempts, 3, "{row:?}");
        assert_eq!(row.last_error.as_deref(), Some("slack http status 500"));
    }
    let events = failure_events(&db.store).await;
    assert_eq!(events.len(), 6);
    assert_eq!(events[0].payload["final"], true, "newest first: the last attempt gives up");

    // A permanent Slack error (`ok: false`) is not retried.
    slack.set_failing(false);
    slack.set_api_error(Some("channel_not_found"));
    fanout.notify(Notification::KillSwitch(KillSwitchTrip { reason: "x".into() })).await;
    wait_for("permanent error fails at once", 30, || async {
        statuses(&db.store).await.iter().filter(|(_, s)| *s == OutboxStatus::Failed).count() == 3
    })
    .await;
    let rows = Outbox::new(db.store.conn().clone()).list(None).await.unwrap();
    assert_eq!(rows[2].attempts, 1);
    assert_eq!(rows[2].last_error.as_deref(), Some("slack api error: channel_not_found"));
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
    wait_for("delivered once up", 30, || async { slack.posts().len() == 2 }).await;
    wait_for("sent", 30, || async {
        statuses(&db.store).await == [(OutboxChannel::Slack, OutboxStatus::Sent); 2]
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
    wait_for("posted", 30, || async { slack.posts().len() == 2 }).await;
    assert_eq!(console.lines().len(), 1);
    // No SMTP configured: no email row; the day's message and the reply.
    assert_eq!(statuses(&db.store).await.len(), 2);
    cancel.cancel();
    worker.await.unwrap();
}

fn slack_only(slack: &FakeSlack) -> Deliverers {
    Deliverers {
        slack: Some(SlackSender::new(&slack_settings(&slack.base)).unwrap()),
        email: None,
        console: Console::capturing(),
    }
}

/// Waits until no row is PENDING.
async fn settled(store: &Store) {
    wait_for("every row settled", 30, || async {
        statuses(store).await.iter().all(|(_, s)| *s != OutboxStatus::Pending)
    })
    .await;
}

/// A day of transitions is one Slack message, posted once and updated in place; an alert and the
/// journal are replies in its thread, broadcast to the channel; nothing carries a re-run hint.
async fn a_day_is_one_message_updated_in_place(db: TestDb) {
    let slack = FakeSlack::start().await;
    let (fanout, cancel) = start(&db.store, slack_only(&slack), fast(5), true, false);
    let mut secs = 0;
    for stage in aegis::domain::stage::StageName::ALL {
        for to in ["RUNNING", "SUCCEEDED"] {
            secs += 7;
            fanout.notify(Notification::Stage(moved(stage.as_str(), to, secs))).await;
        }
        // Let some versions be sent while others are still queued (coalesced).
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let alert = Alert { kind: AlertKind::FeedDown, text: "Realtime feed down for 31s".into() };
    aegis::notify::raise_alert(&db.store, Some(&fanout), date(), alert).await;
    let summary = "P&L +1,000 KRW".to_owned();
    fanout
        .notify(Notification::Journal(JournalSummary { trade_date: date(), summary, path: "/j.md".into() }))
        .await;
    settled(&db.store).await;

    let posts = slack.posts();
    assert_eq!(posts.len(), 3, "the day's message, the alert, the journal: {posts:#?}");
    let day = &posts[0];
    assert!(day.thread().is_none());
    let updates = slack.updates();
    assert!(!updates.is_empty() && updates.len() < 22, "updated, coalesced: {}", updates.len());
    assert!(updates.iter().all(|u| u.ts == day.ts), "every update is of the day's message");
    let now = day_now(&slack);
    assert!(now.contains("all 11 stages done"), "the latest table wins: {now}");
    for reply in &posts[1..] {
        assert_eq!(reply.thread(), Some(day.ts.as_str()));
        assert_eq!(reply.body["reply_broadcast"], true);
    }
    assert!(posts[1].content().contains("Realtime feed down") && posts[2].content().contains("journal"));
    let everything: String = posts.iter().chain(&updates).map(Post::content).collect();
    assert!(!everything.contains("rerun") && !everything.contains("Re-run"), "no re-run hint on a success");
    let superseded = statuses(&db.store).await.iter().filter(|(_, s)| *s == OutboxStatus::Superseded).count();
    assert_eq!(superseded + updates.len() + 1, 22, "every version was sent or superseded");
    cancel.cancel();
}
aegis::storage_test!(a_day_is_one_message_updated_in_place_on, a_day_is_one_message_updated_in_place);

/// The day message's `ts` is kept in the database: a restarted process updates the same message.
async fn a_restarted_process_updates_the_same_message(db: TestDb) {
    let slack = FakeSlack::start().await;
    let (fanout, cancel) = start(&db.store, slack_only(&slack), fast(5), true, false);
    fanout.notify(Notification::Stage(moved("config_check", "RUNNING", 0))).await;
    wait_for("posted", 30, || async { slack.posts().len() == 1 }).await;
    settled(&db.store).await;
    cancel.cancel();
    drop(fanout);

    let store = Store::open(&db.url).await.unwrap();
    let (fanout, cancel) = start(&store, slack_only(&slack), fast(5), true, false);
    fanout.notify(Notification::Stage(moved("config_check", "SUCCEEDED", 3))).await;
    wait_for("updated", 30, || async { slack.updates().len() == 1 }).await;
    assert_eq!(slack.posts().len(), 1, "no second day message");
    assert_eq!(slack.updates()[0].ts, slack.posts()[0].ts);
    assert!(day_now(&slack).contains("1/11 stages done"));
    cancel.cancel();
}
aegis::storage_test!(
    a_restarted_process_updates_the_same_message_on,
    a_restarted_process_updates_the_same_message
);

/// Versions queued during an outage collapse into the newest; two workers sharing the database
/// post the day's message once (an update waits for the post in flight, never posts itself).
async fn updates_are_coalesced_and_never_overtake_the_post(db: TestDb) {
    let slack = FakeSlack::start().await;
    slack.set_failing(true);
    let (fanout, cancel) = start(&db.store, slack_only(&slack), fast(1000), true, false);
    for (i, stage) in ["config_check", "access_token", "approval_key"].into_iter().enumerate() {
        fanout.notify(Notification::Stage(moved(stage, "SUCCEEDED", i as i64))).await;
    }
    wait_for("retried", 30, || async { slack.rejected() >= 1 }).await;
    slack.set_failing(false);
    settled(&db.store).await;
    assert_eq!(slack.posts().len(), 1);
    assert!(slack.updates().len() <= 1, "{:?}", slack.updates());
    assert!(day_now(&slack).contains("3/11 stages done"), "{}", day_now(&slack));
    cancel.cancel();

    // A second day, delivered by two workers while each post takes a while.
    let next = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    slack.set_post_delay(Duration::from_millis(400));
    let (fanout, cancel) = start(&db.store, slack_only(&slack), fast(5), true, false);
    let second = Store::connect(&db.url).await.unwrap();
    OutboxWorker::new(&second, slack_only(&slack), fast(5), fanout.waker()).spawn(cancel.clone());
    for (i, stage) in
        ["config_check", "access_token", "approval_key", "account_check"].into_iter().enumerate()
    {
        let t = StageTransition { trade_date: next, ..moved(stage, "SUCCEEDED", i as i64) };
        fanout.notify(Notification::Stage(t)).await;
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    settled(&db.store).await;
    let days: Vec<_> = slack.posts().into_iter().filter(|p| p.content().contains("2026-11-24")).collect();
    assert_eq!(days.len(), 1, "one day message however the workers raced: {days:#?}");
    let last = slack.updates().into_iter().rfind(|u| u.ts == days[0].ts);
    let now = last.map_or_else(|| days[0].content(), |u| u.content());
    assert!(now.contains("4/11 stages done"), "the latest table wins: {now}");
    cancel.cancel();
}
aegis::storage_test!(
    updates_are_coalesced_and_never_overtake_the_post_on,
    updates_are_coalesced_and_never_overtake_the_post
);

/// A 429 with `Retry-After` is waited out: the message is sent after the wait, once, and the wait
/// is neither a failed attempt nor a recorded delivery failure.
async fn a_rate_limit_is_waited_out(db: TestDb) {
    let slack = FakeSlack::start().await;
    slack.rate_limit(2, 1);
    // One attempt only: a rate limit counted as an attempt would lose the message.
    let (fanout, cancel) = start(&db.store, slack_only(&slack), fast(1), true, false);
    fanout.notify(Notification::Stage(failed_stage())).await;
    wait_for("sent after the waits", 30, || async { slack.posts().len() == 2 }).await;
    settled(&db.store).await;
    let limited = slack.limited();
    assert_eq!(limited.len(), 2);
    let posts = slack.posts();
    let waited = [limited[1] - limited[0], posts[0].at - limited[1]];
    for w in waited {
        assert!(w >= Duration::from_millis(950), "retried before Retry-After: {waited:?}");
    }
    assert_eq!(posts[1].thread(), Some(posts[0].ts.as_str()), "the reply waited too, in order");
    assert_eq!(statuses(&db.store).await, [(OutboxChannel::Slack, OutboxStatus::Sent); 2]);
    let rows = Outbox::new(db.store.conn().clone()).list(None).await.unwrap();
    assert!(rows.iter().all(|r| r.attempts == 1), "{rows:?}");
    assert!(failure_events(&db.store).await.is_empty());
    cancel.cancel();
}
aegis::storage_test!(a_rate_limit_is_waited_out_on, a_rate_limit_is_waited_out);
