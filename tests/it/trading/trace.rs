//! Trace and audit: an order's correlation id (its idempotency key) from the signal through the
//! write-ahead row, the broker call, the notices and the fills; `audit_log` rows for order actions
//! and operator commands, read by `aegis audit`, pruned after the retention.

use aegis::domain::Side;
use aegis::domain::market::ExecutionEvent;
use aegis::ports::trading_log::AuditNote;
use aegis::store::testing::TestDb;
use aegis::trading::orders::{CancelOutcome, SubmitOutcome};
use chrono::{TimeDelta, Utc};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use super::{Env, env, intent};

fn sent(o: SubmitOutcome) -> aegis::ports::StoredOrder {
    match o {
        SubmitOutcome::Sent(s) => s,
        other => panic!("expected Sent, got {other:?}"),
    }
}

async fn events_of_order(e: &Env, id: i64) -> Vec<entity::event::Model> {
    entity::event::Entity::find()
        .filter(entity::event::Column::OrderId.eq(id))
        .order_by_asc(entity::event::Column::Id)
        .all(e.db.store.conn())
        .await
        .unwrap()
}

/// Submits an order, fills it through its notice and returns it with its key.
async fn submitted_and_filled(e: &Env, signal: &str) -> (i64, String) {
    let s = sent(e.core.submit(&intent("005930", Side::Buy, 2, 70_000, signal)).await.unwrap());
    let key = s.order.request().key.as_str().to_owned();
    let no = s.order.broker_order_no().unwrap().number.clone();
    let fill = e.broker.fill(&no, Decimal::from(2), Decimal::from(70_000)).unwrap();
    e.core.handle_execution(&ExecutionEvent::Fill(fill)).await.unwrap();
    (s.id, key)
}

async fn an_order_carries_its_correlation_id_everywhere(db: TestDb) {
    let e = env(db, |_| {}, Default::default()).await;
    let (id, key) = submitted_and_filled(&e, "sig-trace").await;
    // The key is the one derived from the signal, and the write-ahead row holds it.
    assert_eq!(key, e.core.key_of(&intent("005930", Side::Buy, 2, 70_000, "sig-trace")).as_str());
    // The broker call ran under it (the real client copies it into its call record and log line).
    assert_eq!(e.broker.order_correlations(), vec![Some(key.clone())]);
    // Every event of the order carries it: creation, transitions, the fill.
    let events = events_of_order(&e, id).await;
    let kinds: Vec<&str> = events.iter().map(|ev| ev.kind.as_str()).collect();
    for kind in ["ORDER_CREATED", "ORDER_TRANSITION", "FILL_RECORDED"] {
        assert!(kinds.contains(&kind), "{kind} missing: {kinds:?}");
    }
    for ev in &events {
        assert_eq!(ev.payload["correlation_id"], json!(key), "{} {}", ev.kind, ev.payload);
    }
    // The submit is an audited order action, written with the broker's answer.
    let audit = aegis::store::params::audit_for(&e.db.store, &format!("orders/{id}")).await.unwrap();
    let [submit] = audit.as_slice() else { panic!("one audit row expected: {audit:?}") };
    assert_eq!(submit.action, "order.submit");
    assert_eq!(submit.actor, "strategy:test-strategy");
    assert_eq!(submit.details["result"], "accepted");
    assert_eq!(submit.details["correlation_id"], json!(key));

    // A cancel is audited too, and its broker call runs under the order's id.
    let s = sent(e.core.submit(&intent("005930", Side::Buy, 1, 69_000, "sig-cancel")).await.unwrap());
    let cancel_key = s.order.request().key.as_str().to_owned();
    let outcome = e.core.cancel(s.id).await.unwrap();
    assert!(matches!(outcome, CancelOutcome::Done(_) | CancelOutcome::Pending(_)), "{outcome:?}");
    assert_eq!(e.broker.order_correlations().last().cloned().flatten(), Some(cancel_key.clone()));
    let audit = aegis::store::params::audit_for(&e.db.store, &format!("orders/{}", s.id)).await.unwrap();
    let actions: Vec<(&str, &str)> =
        audit.iter().map(|a| (a.action.as_str(), a.details["result"].as_str().unwrap_or(""))).collect();
    assert_eq!(actions, [("order.submit", "accepted"), ("order.cancel", "requested")]);
    for ev in events_of_order(&e, s.id).await {
        assert_eq!(ev.payload["correlation_id"], json!(cancel_key), "{} {}", ev.kind, ev.payload);
    }
}
aegis::storage_test!(correlation_id, an_order_carries_its_correlation_id_everywhere);

async fn aegis_audit_lists_operator_commands_and_order_actions(db: TestDb) {
    let e = env(db, |_| {}, Default::default()).await;
    let (id, key) = submitted_and_filled(&e, "sig-cli").await;
    let url = e.db.url.clone();
    let (halt, listed, limited, since) = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let out = crate::support::bin::run(args, [("DB_URL", url.as_str()), ("USER", "alice")]);
            (out.status.code(), crate::support::bin::text(&out))
        };
        (
            run(&["halt", "--reason", "broker maintenance"]),
            run(&["audit"]),
            run(&["audit", "--limit", "1"]),
            run(&["audit", "--since", "2099-01-01"]),
        )
    })
    .await
    .unwrap();
    assert_eq!(halt.0, Some(0), "{}", halt.1);
    assert_eq!(listed.0, Some(0), "{}", listed.1);
    let lines: Vec<&str> = listed.1.lines().filter(|l| !l.trim().is_empty()).collect();
    let header = lines.iter().position(|l| l.starts_with("AT (KST)")).expect("header");
    let rows = &lines[header + 1..];
    // Newest first: the command's own row, the mode change it made, then the order's submit.
    let command = rows.first().expect("rows");
    for part in ["cli:alice", "cli.halt", "trading_mode", "ok", "broker maintenance"] {
        assert!(command.contains(part), "{part} not in {command}");
    }
    assert!(rows.get(1).is_some_and(|r| r.contains("trading_mode.stop")), "{}", listed.1);
    let order = rows.iter().find(|r| r.contains("order.submit")).expect("order action listed");
    for part in [format!("orders/{id}"), "accepted".to_owned(), format!("correlation_id={key}")] {
        assert!(order.contains(&part), "{part} not in {order}");
    }
    assert_eq!(limited.0, Some(0), "{}", limited.1);
    assert_eq!(limited.1.lines().filter(|l| l.contains("cli.")).count(), 1, "{}", limited.1);
    assert!(since.1.contains("no audit rows"), "{}", since.1);
}
aegis::storage_test!(audit_command, aegis_audit_lists_operator_commands_and_order_actions);

async fn retention_prunes_older_rows(db: TestDb) {
    let now = Utc::now();
    let note = |what: &str| AuditNote {
        actor: "cli:alice".into(),
        action: what.into(),
        target: "trading_mode".into(),
        details: json!({ "result": "ok" }),
    };
    aegis::store::audit::record(&db.store, &note("old"), now - TimeDelta::days(400)).await.unwrap();
    aegis::store::audit::record(&db.store, &note("recent"), now - TimeDelta::days(10)).await.unwrap();
    let pruned = aegis::store::audit::prune(&db.store, now - TimeDelta::days(365)).await.unwrap();
    assert_eq!(pruned, 1);
    let left = aegis::store::audit::list(&db.store, None, 10).await.unwrap();
    let actions: Vec<&str> = left.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["recent"]);
}
aegis::storage_test!(audit_retention, retention_prunes_older_rows);
