//! Strategy-parameter drafts through the `aegis params` binary on SQLite and PostgreSQL:
//! list, show, approve (ACTIVE, previous RETIRED, audit_log), reject, the error exit codes, and
//! `propose --file` (a PENDING operator draft; a refused file writes only its event).

use aegis::domain::calendar::{KST, KrxCalendar};
use aegis::journal::drafts::{DraftSource, REFERENCE_STRATEGY, propose_draft};
use aegis::storage_test;
use aegis::store::params::{
    DraftStatus, NewDraft, active_params, audit_for, ensure_strategy, get_draft, insert_draft, list_drafts,
    params_history,
};
use aegis::store::testing::{TempDir, TestDb};
use chrono::{Datelike, NaiveDate, Utc, Weekday};
use serde_json::json;

use crate::support::bin;

async fn aegis(url: &str, args: &[&str]) -> (i32, String) {
    let out = bin::run_async(args, [("DB_URL", url), ("USER", "carol")]).await;
    (out.status.code().unwrap_or(-1), bin::text(&out))
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 9).unwrap()
}

async fn draft_approve_and_reject_through_the_cli(db: TestDb) {
    let store = &db.store;
    let now = Utc::now();
    let sid = ensure_strategy(store, REFERENCE_STRATEGY, "reference", now).await.unwrap();
    let propose = |entry: f64| {
        propose_draft(
            store,
            REFERENCE_STRATEGY,
            sid,
            day(),
            DraftSource::Rule,
            json!({"entry_pct": entry}),
            "r".into(),
            now,
        )
    };
    let a = propose(2.2).await.unwrap();
    let b = propose(1.8).await.unwrap();
    let c = propose(3.0).await.unwrap();
    assert_eq!(a.status, DraftStatus::Pending);
    let (a, b, c) = (a.id.to_string(), b.id.to_string(), c.id.to_string());

    let (code, out) = aegis(&db.url, &["params", "list", "--status", "pending"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 drafts") && out.contains(REFERENCE_STRATEGY), "{out}");
    let (code, out) = aegis(&db.url, &["params", "show", &a]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PENDING") && out.contains("\"entry_pct\": 2.2"), "{out}");

    let (code, out) = aegis(&db.url, &["params", "approve", &a, "--by", "alice"]).await;
    assert_eq!(code, 0, "{out}");
    let active = active_params(store, sid, day()).await.unwrap().unwrap();
    assert_eq!(
        (active.params["entry_pct"].clone(), active.source_draft_id),
        (json!(2.2), Some(a.parse().unwrap()))
    );

    // Approving another draft for the same date replaces the ACTIVE row; the old one is RETIRED.
    let (code, out) = aegis(&db.url, &["params", "approve", &b]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("approved by carol") && out.contains("retired"), "{out}");
    let history = params_history(store, sid, day()).await.unwrap();
    let states: Vec<(&str, Option<i64>)> =
        history.iter().map(|r| (r.status.as_str(), r.source_draft_id)).collect();
    assert_eq!(states, [("RETIRED", Some(a.parse().unwrap())), ("ACTIVE", Some(b.parse().unwrap()))]);
    assert!(history[0].retired_at.is_some());
    let audit = audit_for(store, &format!("strategy_param_drafts/{b}")).await.unwrap();
    assert_eq!((audit[0].actor.as_str(), audit[0].action.as_str()), ("carol", "params.approve"));

    let (code, out) = aegis(&db.url, &["params", "approve", &a]).await;
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("already APPROVED"), "{out}");

    let (code, out) =
        aegis(&db.url, &["params", "reject", &c, "--reason", "too aggressive", "--by", "bob"]).await;
    assert_eq!(code, 0, "{out}");
    let rejected = get_draft(store, c.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(rejected.status, DraftStatus::Rejected);
    assert_eq!(
        (rejected.reason.as_deref(), rejected.decided_by.as_deref()),
        (Some("too aggressive"), Some("bob"))
    );
    let audit = audit_for(store, &format!("strategy_param_drafts/{c}")).await.unwrap();
    assert_eq!((audit[0].actor.as_str(), audit[0].action.as_str()), ("bob", "params.reject"));
    let (code, _) = aegis(&db.url, &["params", "reject", &c, "--reason", "again"]).await;
    assert_eq!(code, 4);
    let (code, out) = aegis(&db.url, &["params", "approve", &c]).await;
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("already REJECTED"), "{out}");

    for args in [
        &["params", "approve", "999999"][..],
        &["params", "show", "999999"],
        &["params", "reject", "999999", "--reason", "x"],
    ] {
        let (code, out) = aegis(&db.url, args).await;
        assert_eq!(code, 3, "{args:?}: {out}");
        assert!(out.contains("no parameter draft with id 999999"), "{out}");
    }
    let (code, _) = aegis(&db.url, &["params", "list", "--status", "bogus"]).await;
    assert_eq!(code, 2);

    // A pending draft that fails the schema is refused at approval and changes nothing.
    let bad = insert_draft(
        store,
        NewDraft {
            strategy_id: sid,
            trade_date: day(),
            params: json!({"entry_pct": 99}),
            source: "AI".into(),
            rationale: "r".into(),
            rejected: None,
            created_at: now,
        },
    )
    .await
    .unwrap();
    let (code, out) = aegis(&db.url, &["params", "approve", &bad.id.to_string()]).await;
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("invalid"), "{out}");
    assert_eq!(get_draft(store, bad.id).await.unwrap().unwrap().status, DraftStatus::Pending);
    let active = active_params(store, sid, day()).await.unwrap().unwrap();
    assert_eq!(active.source_draft_id, Some(b.parse().unwrap()));

    let (code, out) = aegis(&db.url, &["params", "list"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4 drafts") && out.contains("APPROVED") && out.contains("REJECTED"), "{out}");
}
storage_test!(cli_drafts, draft_approve_and_reject_through_the_cli);

fn today_kst() -> NaiveDate {
    Utc::now().with_timezone(&KST).date_naive()
}

/// The first KRX trading day after today, by the calendar the binary uses in an empty directory.
fn next_trading_day() -> NaiveDate {
    KrxCalendar::builtin().unwrap().next_trading_day(today_kst()).unwrap()
}

fn next_saturday() -> NaiveDate {
    today_kst().iter_days().skip(1).find(|d| d.weekday() == Weekday::Sat).unwrap()
}

/// The draft id printed by `propose` (`draft        <id>`).
fn printed_id(out: &str) -> i64 {
    let line = out.lines().find(|l| l.starts_with("draft ") && !l.contains("PENDING")).unwrap();
    line["draft".len()..].trim().parse().unwrap()
}

async fn propose_from_a_file(db: TestDb) {
    let store = &db.store;
    let dir = TempDir::new("aegis-it-params").unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let next = next_trading_day();
    let good = "rationale = \"tighter band after the vol spike\"\n[params]\nentry_pct = 1.5\nwindow = 30\n";

    // Refused files: exit 5, a message naming the problem, one WARNING event, nothing else written.
    let missing = dir.0.join("missing.toml").display().to_string();
    let past = "2020-01-02";
    let saturday = next_saturday().to_string();
    let cases: Vec<(&str, String, Vec<&str>, String)> = vec![
        ("unreadable", missing.clone(), vec![], "cannot read parameter file".into()),
        ("syntax", write("syntax.toml", "rationale = \"r\"\n[params\n"), vec![], "line 2".into()),
        (
            "syntax",
            write("unknown.toml", "rationale = \"r\"\nfoo = 1\n[params]\n"),
            vec![],
            "unknown field `foo`".into(),
        ),
        ("syntax", write("norationale.toml", "[params]\n"), vec![], "missing field `rationale`".into()),
        (
            "empty_rationale",
            write("empty.toml", "rationale = \"  \"\n[params]\n"),
            vec![],
            "rationale must not be empty".into(),
        ),
        (
            "unknown_strategy",
            write("strategy.toml", "strategy = \"momentum\"\nrationale = \"r\"\n[params]\n"),
            vec![],
            "unknown strategy \"momentum\"".into(),
        ),
        (
            "invalid_params",
            write("range.toml", "rationale = \"r\"\n[params]\nentry_pct = 50\n"),
            vec![],
            "entry_pct = 50 is outside 0.01..=20".into(),
        ),
        (
            "invalid_params",
            write("param.toml", "rationale = \"r\"\n[params]\nbogus = 1\n"),
            vec![],
            "unknown parameter \"bogus\"".into(),
        ),
        (
            "bad_date",
            write("baddate.toml", "trade_date = \"tomorrow\"\nrationale = \"r\"\n[params]\n"),
            vec![],
            "trade_date \"tomorrow\" is not a date".into(),
        ),
        (
            "not_trading_day",
            write("saturday.toml", &format!("trade_date = \"{saturday}\"\nrationale = \"r\"\n[params]\n")),
            vec![],
            format!("trade date {saturday} is not a KRX trading day (weekend)"),
        ),
        (
            "past_date",
            write("past.toml", &format!("trade_date = {past}\nrationale = \"r\"\n[params]\n")),
            vec![],
            format!("trade date {past} is in the past"),
        ),
        (
            "past_date",
            write("good.toml", good),
            vec!["--date", past],
            format!("trade date {past} is in the past"),
        ),
    ];
    for (problem, file, extra, message) in &cases {
        let events_before = store.events().recent(10_000).await.unwrap();
        let mut args = vec!["params", "propose", "--file", file.as_str()];
        args.extend(extra);
        let (code, out) = aegis(&db.url, &args).await;
        assert_eq!(code, 5, "{problem}: {out}");
        assert!(out.contains(message.as_str()), "{problem}: expected {message:?} in {out}");
        let events = store.events().recent(10_000).await.unwrap();
        assert_eq!(events.len(), events_before.len() + 1, "{problem}: one event and no other");
        let e = &events[0];
        assert_eq!((e.kind.as_str(), e.severity.as_str()), ("params.propose_failed", "WARNING"), "{problem}");
        assert!(e.message.contains(message.as_str()), "{problem}: {}", e.message);
        assert_eq!(e.payload["problem"], json!(problem));
        assert_eq!(e.payload["by"], json!("carol"));
        assert!(list_drafts(store, None).await.unwrap().is_empty(), "{problem}: no draft written");
    }

    // A good file: a PENDING draft from the operator for the next trading day, approved as usual.
    let file = write("good.toml", good);
    let (code, out) = aegis(&db.url, &["params", "propose", "--file", &file, "--by", "dave"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PENDING") && out.contains("OPERATOR:dave"), "{out}");
    let id = printed_id(&out);
    assert!(out.contains(&format!("aegis params approve {id}")), "{out}");
    let draft = get_draft(store, id).await.unwrap().unwrap();
    assert_eq!(
        (draft.status, draft.source.as_str(), draft.trade_date, draft.rationale.as_str()),
        (DraftStatus::Pending, "OPERATOR:dave", next, "tighter band after the vol spike")
    );
    assert_eq!(
        (&draft.params["entry_pct"], &draft.params["window"], &draft.params["exit_pct"]),
        (&json!(1.5), &json!(30), &json!(1)),
        "left-out parameters take their defaults"
    );
    let event = store.control().events(1, Some("params.draft")).await.unwrap();
    assert_eq!(event[0].payload["draft_id"], json!(id));
    let (code, out) = aegis(&db.url, &["params", "list"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OPERATOR:dave"), "{out}");

    let (code, out) = aegis(&db.url, &["params", "approve", &id.to_string(), "--by", "erin"]).await;
    assert_eq!(code, 0, "{out}");
    let active = active_params(store, draft.strategy_id, next).await.unwrap().unwrap();
    assert_eq!((active.source_draft_id, &active.params["entry_pct"]), (Some(id), &json!(1.5)));
    let audit = audit_for(store, &format!("strategy_param_drafts/{id}")).await.unwrap();
    assert_eq!((audit[0].actor.as_str(), audit[0].action.as_str()), ("erin", "params.approve"));

    // The file's own trade date (a TOML date or a string), an explicit strategy, and --date winning.
    let text = format!("strategy = \"{REFERENCE_STRATEGY}\"\ntrade_date = {saturday}\n{good}");
    let file = write("dated.toml", &text);
    let (code, out) = aegis(&db.url, &["params", "propose", "--file", &file]).await;
    assert_eq!(code, 5, "{out}");
    let (code, out) =
        aegis(&db.url, &["params", "propose", "--file", &file, "--date", &next.to_string()]).await;
    assert_eq!(code, 0, "{out}");
    let dated = get_draft(store, printed_id(&out)).await.unwrap().unwrap();
    assert_eq!((dated.trade_date, dated.source.as_str()), (next, "OPERATOR:carol"));
    let file = write("string-date.toml", &format!("trade_date = \"{next}\"\n{good}"));
    let (code, out) = aegis(&db.url, &["params", "propose", "--file", &file]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(get_draft(store, printed_id(&out)).await.unwrap().unwrap().trade_date, next);
}
storage_test!(cli_propose_from_file, propose_from_a_file);
