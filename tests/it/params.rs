//! Strategy-parameter drafts through the `aegis params` binary on SQLite and PostgreSQL:
//! list, show, approve (ACTIVE, previous RETIRED, audit_log), reject, and the error exit codes.

use aegis::journal::drafts::{DraftSource, REFERENCE_STRATEGY, propose_draft};
use aegis::storage_test;
use aegis::store::params::{
    DraftStatus, NewDraft, active_params, audit_for, ensure_strategy, get_draft, insert_draft, params_history,
};
use aegis::store::testing::TestDb;
use chrono::{NaiveDate, Utc};
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
