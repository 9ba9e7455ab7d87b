//! The journal batch against a local fake chat-completions server (axum on port 0), on SQLite and
//! PostgreSQL: a model-written journal with a draft, timeout and garbage falling back to the
//! template, an invalid draft stored REJECTED, and no secret in the prompt.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aegis::config::Secret;
use aegis::journal::{JournalConfig, JournalSource, LlmClient, LlmConfig, run_journal_batch};
use aegis::storage_test;
use aegis::store::journal::{ai_job_runs, latest_journal};
use aegis::store::params::DraftStatus;
use aegis::store::testing::{TempDir, TestDb};
use aegis::telemetry::Redactor;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use entity::Dec;
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;
use url::Url;

const API_KEY: &str = "sk-fake-key-0123456789abcdef";
const APP_SECRET: &str = "AppSecretValueThatMustNeverLeak0123456789";
const ACCESS_TOKEN: &str = "eyJhbGciOiJIUzUxMiJ9.token-body-never-leak";
const ACCOUNT: &str = "5012345601";
const APPROVAL_KEY: &str = "a2585daf-8c09-4587-9fce-8ab8930ab123";

const MARKDOWN: &str = "# Journal\n## Summary\nA quiet day.\n## Stages\nall ok\n## Orders\n3\n## Fills\n1\n\
                        ## Positions & P&L\nflat\n## Guardrails & errors\none\n## Disconnects\none\n";

#[derive(Clone)]
enum Mode {
    Reply(String),
    Hang,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

async fn completions(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    fake.seen.lock().unwrap().push((auth, body));
    let mode = fake.mode.lock().unwrap().clone();
    match mode {
        Mode::Hang => std::future::pending().await,
        Mode::Reply(content) => (
            StatusCode::OK,
            axum::Json(json!({
                "id": "c1", "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 123, "completion_tokens": 45, "total_tokens": 168}
            })),
        )
            .into_response(),
    }
}

impl Fake {
    async fn start(mode: Mode) -> (Self, Url) {
        let fake = Self { mode: Arc::new(Mutex::new(mode)), seen: Arc::default() };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, Url::parse(&format!("http://{addr}/v1")).unwrap())
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn bodies(&self) -> Vec<String> {
        self.seen.lock().unwrap().iter().map(|(_, b)| b.clone()).collect()
    }
}

fn client(base: Url, timeout: Duration) -> LlmClient {
    LlmClient::new(LlmConfig {
        api_base: base,
        api_key: Some(Secret::new(API_KEY)),
        model: "test-model".into(),
        timeout,
        retries: 1,
        backoff: Duration::from_millis(10),
        max_response_bytes: 64 * 1024,
        json_mode: true,
    })
    .unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 6).unwrap()
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 6, h, m, 0).unwrap()
}

fn dec(s: &str) -> Dec {
    Dec(Decimal::from_str(s).unwrap())
}

fn answer(draft: serde_json::Value) -> String {
    json!({"journal_markdown": MARKDOWN, "summary": "A quiet day.", "param_draft": draft, "rationale": "calm"}).to_string()
}

/// Seeds a day: a pipeline run with two stages (one failed with secrets in its error), three
/// orders (one filled), one fill, a position, and guardrail / error / disconnect events.
async fn seed(db: &TestDb) {
    register_secrets();
    let c = db.store.conn();
    let run = entity::pipeline_run::ActiveModel {
        market: Set("KR".into()),
        trade_date: Set(day()),
        status: Set("RUNNING".into()),
        reason: Set(None),
        started_at: Set(at(0, 0)),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(c)
    .await
    .unwrap();
    for (i, (stage, status, error)) in [
        ("universe", "SUCCEEDED", None),
        (
            "broker_login",
            "FAILED",
            Some(format!("token {ACCESS_TOKEN} refused for {APP_SECRET} account {ACCOUNT}")),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        entity::stage_run::ActiveModel {
            pipeline_run_id: Set(run.id),
            stage: Set(stage.into()),
            attempt: Set(1),
            status: Set(status.into()),
            started_at: Set(Some(at(0, i as u32))),
            finished_at: Set(Some(at(0, i as u32 + 1))),
            error: Set(error),
            output: Set(None),
            requested_by: Set(None),
            created_at: Set(at(0, 0)),
            ..Default::default()
        }
        .insert(c)
        .await
        .unwrap();
    }
    let mut ids = Vec::new();
    for (i, (filled, reject)) in
        [("10", None), ("0", Some(format!("approval {APPROVAL_KEY}"))), ("0", None)].into_iter().enumerate()
    {
        let o = entity::order::ActiveModel {
            idempotency_key: Set(format!("k{i}")),
            strategy_id: Set(None),
            trade_date: Set(day()),
            symbol: Set("005930".into()),
            side: Set("BUY".into()),
            order_type: Set("LIMIT".into()),
            qty: Set(dec("10")),
            price: Set(Some(dec("70000"))),
            status: Set(if filled == "10" { "FILLED" } else { "CANCELLED" }.into()),
            filled_qty: Set(dec(filled)),
            avg_fill_price: Set(None),
            broker_order_no: Set(Some(format!("000{i}"))),
            broker_branch: Set(None),
            original_order_no: Set(None),
            exchange: Set("KRX".into()),
            reject_code: Set(None),
            reject_reason: Set(reject),
            created_at: Set(at(1, 0)),
            sent_at: Set(Some(at(1, 0))),
            updated_at: Set(at(1, 0)),
            ..Default::default()
        }
        .insert(c)
        .await
        .unwrap();
        ids.push(o.id);
    }
    entity::fill::ActiveModel {
        order_id: Set(ids[0]),
        fill_key: Set("f1".into()),
        broker_order_no: Set("0000".into()),
        symbol: Set("005930".into()),
        side: Set("BUY".into()),
        qty: Set(dec("10")),
        price: Set(dec("70000")),
        filled_at: Set(at(1, 5)),
        source: Set("WS".into()),
        created_at: Set(at(1, 5)),
        ..Default::default()
    }
    .insert(c)
    .await
    .unwrap();
    entity::position::ActiveModel {
        symbol: Set("005930".into()),
        qty: Set(dec("10")),
        avg_price: Set(dec("70000")),
        realized_pnl: Set(dec("0")),
        last_price: Set(Some(dec("71000"))),
        updated_at: Set(at(6, 30)),
    }
    .insert(c)
    .await
    .unwrap();
    for (kind, severity, message) in [
        ("guardrail.max_daily_loss", "WARNING", "daily loss cap reached".to_owned()),
        ("order.submit_failed", "ERROR", format!("rejected for account {ACCOUNT} with {APP_SECRET}")),
        ("ws.disconnected", "WARNING", "feed closed by peer".to_owned()),
        ("order.sent", "INFO", "routine".to_owned()),
    ] {
        // Written directly, bypassing the recorder's scrubbing, to prove the prompt scrubs itself.
        entity::event::ActiveModel {
            at: Set(at(2, 0)),
            trade_date: Set(Some(day())),
            kind: Set(kind.into()),
            severity: Set(severity.into()),
            message: Set(message),
            payload: Set(json!({"appkey": APP_SECRET})),
            order_id: Set(None),
            ..Default::default()
        }
        .insert(c)
        .await
        .unwrap();
    }
}

fn register_secrets() {
    for s in [API_KEY, APP_SECRET, ACCESS_TOKEN, ACCOUNT, APPROVAL_KEY] {
        Redactor::global().register(s);
    }
}

fn assert_no_secret(text: &str) {
    for s in [API_KEY, APP_SECRET, ACCESS_TOKEN, ACCOUNT, APPROVAL_KEY] {
        assert!(!text.contains(s), "secret {s:.6}… leaked");
    }
}

async fn model_journal_with_draft(db: TestDb) {
    seed(&db).await;
    let (fake, base) = Fake::start(Mode::Reply(answer(json!({"entry_pct": 2.5, "window": 30})))).await;
    let llm = client(base, Duration::from_secs(5));
    let dir = TempDir::new("aegis-journal").unwrap();
    let config = JournalConfig { journal_dir: Some(dir.0.clone()), ..JournalConfig::default() };
    let out = run_journal_batch(&db.store, Some(&llm), &config, at(7, 0), day()).await.unwrap();

    assert_eq!(out.source, JournalSource::Ai);
    assert_eq!(out.summary, "A quiet day.");
    assert_eq!(out.ai_error, None);
    let stored = latest_journal(&db.store, day()).await.unwrap().unwrap();
    assert_eq!((stored.source.as_str(), stored.markdown.as_str()), ("AI", MARKDOWN));
    let path = out.path.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), MARKDOWN);
    assert_eq!(stored.path.as_deref(), Some(path.display().to_string().as_str()));

    let runs = ai_job_runs(&db.store, day()).await.unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.outcome, "OK");
    assert_eq!((run.prompt_tokens, run.completion_tokens), (Some(123), Some(45)));
    assert_eq!(run.model.as_deref(), Some("test-model"));
    assert!(run.latency_ms.is_some());

    let draft = out.draft.unwrap();
    assert_eq!((draft.status, draft.source.as_str()), (DraftStatus::Pending, "AI"));
    assert_eq!(
        draft.trade_date,
        NaiveDate::from_ymd_opt(2026, 3, 9).unwrap(),
        "Friday's draft is for Monday"
    );
    assert_eq!(draft.params["entry_pct"], json!(2.5));
    assert_eq!(draft.params["cooldown_secs"], json!(300), "defaults are filled in");

    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (auth, body) = &seen[0];
    assert_eq!(auth, &format!("Bearer {API_KEY}"));
    let request: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(request["model"], "test-model");
    assert_eq!(request["response_format"]["type"], "json_object");
    let prompt = request["messages"][1]["content"].as_str().unwrap();
    assert_no_secret(body);
    // The prompt carries the day: the failed stage, the three orders, the events by class.
    for needle in
        ["broker_login", "guardrail.max_daily_loss", "ws.disconnected", "order.submit_failed", "entry_pct"]
    {
        assert!(prompt.contains(needle), "{needle} missing from the prompt");
    }
    assert!(!prompt.contains("order.sent"), "routine events stay out");
    assert!(prompt.contains("REDACTED"));
}
storage_test!(model_journal, model_journal_with_draft);

async fn timeout_falls_back_to_the_template(db: TestDb) {
    seed(&db).await;
    let (fake, base) = Fake::start(Mode::Hang).await;
    let llm = client(base, Duration::from_millis(150));
    let out =
        run_journal_batch(&db.store, Some(&llm), &JournalConfig::default(), at(7, 0), day()).await.unwrap();
    assert_eq!(out.source, JournalSource::Template);
    assert!(out.ai_error.as_deref().unwrap().contains("timed out"), "{:?}", out.ai_error);
    assert_eq!(fake.bodies().len(), 2, "one retry after the timeout");
    let run = &ai_job_runs(&db.store, day()).await.unwrap()[0];
    assert_eq!((run.outcome.as_str(), run.prompt_tokens), ("TIMEOUT", None));
    assert!(run.error.as_deref().unwrap().contains("after 2 attempts"));
    let stored = latest_journal(&db.store, day()).await.unwrap().unwrap();
    assert_eq!(stored.source, "TEMPLATE");
    assert!(stored.markdown.contains("## Disconnects") && stored.markdown.contains("ws.disconnected"));
    assert_no_secret(&stored.markdown);
    // One of three orders filled: the rule narrows entry_pct from the default 2 to 1.8.
    let draft = out.draft.unwrap();
    assert_eq!((draft.source.as_str(), draft.status), ("RULE", DraftStatus::Pending));
    assert_eq!(draft.params["entry_pct"], json!(1.8));
}
storage_test!(timeout, timeout_falls_back_to_the_template);

async fn garbage_is_refused_and_invalid_drafts_are_rejected(db: TestDb) {
    seed(&db).await;
    let (fake, base) = Fake::start(Mode::Reply("Sure! Here is your journal: it went well.".into())).await;
    let llm = client(base, Duration::from_secs(5));
    let config = JournalConfig::default();
    let out = run_journal_batch(&db.store, Some(&llm), &config, at(7, 0), day()).await.unwrap();
    assert_eq!(out.source, JournalSource::Template);
    assert!(out.ai_error.unwrap().contains("not the requested JSON"));
    assert_eq!(fake.bodies().len(), 1, "a refused answer is not retried");

    // A journal missing sections is refused too.
    fake.set(Mode::Reply(
        json!({"journal_markdown": "## Summary\nfine", "summary": "s", "param_draft": null}).to_string(),
    ));
    let out = run_journal_batch(&db.store, Some(&llm), &config, at(7, 5), day()).await.unwrap();
    assert_eq!(out.source, JournalSource::Template);

    // A good journal with an out-of-bounds draft: the journal is used, the draft stored REJECTED.
    fake.set(Mode::Reply(answer(json!({"entry_pct": 99}))));
    let out = run_journal_batch(&db.store, Some(&llm), &config, at(7, 10), day()).await.unwrap();
    assert_eq!(out.source, JournalSource::Ai);
    let draft = out.draft.unwrap();
    assert_eq!(draft.status, DraftStatus::Rejected);
    assert!(draft.reason.as_deref().unwrap().contains("entry_pct = 99 is outside"), "{:?}", draft.reason);

    let outcomes: Vec<String> =
        ai_job_runs(&db.store, day()).await.unwrap().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["INVALID_OUTPUT", "INVALID_OUTPUT", "OK"]);
}
storage_test!(garbage, garbage_is_refused_and_invalid_drafts_are_rejected);

async fn without_a_model_the_template_is_written(db: TestDb) {
    let out = run_journal_batch(&db.store, None, &JournalConfig::default(), at(7, 0), day()).await.unwrap();
    assert_eq!(out.source, JournalSource::Template);
    assert_eq!(out.ai_error, None);
    assert!(out.draft.is_none(), "no orders, no draft");
    assert!(ai_job_runs(&db.store, day()).await.unwrap().is_empty());
    assert!(out.summary.starts_with("2026-03-06: no pipeline run; 0 orders"), "{}", out.summary);
}
storage_test!(no_model, without_a_model_the_template_is_written);

/// The US session of a date journals beside the KRX day of that date: its own file, its own row,
/// and no parameter draft when the pipeline proposes none.
async fn the_us_journal_of_a_date_keeps_the_krx_one(db: TestDb) {
    seed(&db).await;
    let dir = TempDir::new("aegis-journal").unwrap();
    let krx = JournalConfig { journal_dir: Some(dir.0.clone()), ..JournalConfig::default() };
    let us = JournalConfig {
        region: aegis::domain::MarketRegion::Us,
        propose_drafts: false,
        fees: aegis::domain::position::FeeSchedule::us_default(),
        ..krx.clone()
    };
    let kr_out = run_journal_batch(&db.store, None, &krx, at(7, 0), day()).await.unwrap();
    let us_out = run_journal_batch(&db.store, None, &us, at(7, 5), day()).await.unwrap();
    let (kr_path, us_path) = (kr_out.path.unwrap(), us_out.path.unwrap());
    assert_eq!(kr_path.file_name().unwrap(), "2026-03-06.md");
    assert_eq!(us_path.file_name().unwrap(), "2026-03-06-us.md");
    let (kr_text, us_text) =
        (std::fs::read_to_string(&kr_path).unwrap(), std::fs::read_to_string(&us_path).unwrap());
    assert_ne!(kr_text, us_text, "the US journal did not overwrite the KRX one");
    assert!(kr_out.draft.is_some(), "the KRX journal drafts tomorrow's parameters");
    assert!(us_out.draft.is_none(), "the US one proposes none");
    assert_ne!(kr_out.journal_id, us_out.journal_id);
}
storage_test!(us_journal, the_us_journal_of_a_date_keeps_the_krx_one);
