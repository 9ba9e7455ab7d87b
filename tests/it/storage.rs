//! Storage tests on SQLite and PostgreSQL: every entity round-trips, decimals are exact, the
//! idempotency key is enforced by the database, and events are stored masked.

use std::str::FromStr;

use aegis::storage_test;
use aegis::store::Severity;
use aegis::store::testing::TestDb;
use chrono::{NaiveDate, TimeZone, Utc};
use entity::Dec;
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, EntityTrait, IntoActiveModel};
use serde_json::json;

fn dec(s: &str) -> Dec {
    Dec(Decimal::from_str(s).unwrap())
}

fn at(h: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

/// Inserts a model (with its primary key reset when auto-increment) and reads it back by id.
macro_rules! round_trip {
    ($db:expr, $module:ident, $model:expr) => {{
        let model = $model;
        let mut active = model.clone().into_active_model().reset_all();
        active.id = NotSet;
        let saved = active.insert($db).await.unwrap();
        let found = entity::$module::Entity::find_by_id(saved.id).one($db).await.unwrap().unwrap();
        assert_eq!(found, saved, "{} round trip", stringify!($module));
        let mut expected = model;
        expected.id = saved.id;
        assert_eq!(found, expected, "{} stored as given", stringify!($module));
        saved
    }};
}

async fn every_entity_round_trips(t: TestDb) {
    let db = t.store.conn();
    let strategy = round_trip!(
        db,
        strategy,
        entity::strategy::Model {
            id: 0,
            name: "mean-revert".into(),
            description: "test".into(),
            created_at: at(1)
        }
    );
    round_trip!(
        db,
        strategy_param,
        entity::strategy_param::Model {
            id: 0,
            strategy_id: strategy.id,
            trade_date: day(),
            status: "ACTIVE".into(),
            params: json!({"entry_drop_pct": "1.5", "max_qty": 10}),
            source_draft_id: None,
            created_at: at(2),
            activated_at: Some(at(3)),
            retired_at: None,
        }
    );
    round_trip!(
        db,
        strategy_param_draft,
        entity::strategy_param_draft::Model {
            id: 0,
            strategy_id: strategy.id,
            trade_date: day(),
            params: json!({"max_qty": 12}),
            source: "RULE".into(),
            rationale: "volatility fell".into(),
            status: "PENDING".into(),
            reason: None,
            created_at: at(2),
            decided_at: None,
            decided_by: None,
        }
    );
    let order = round_trip!(
        db,
        order,
        entity::order::Model {
            id: 0,
            idempotency_key: "s1-20261120-0001".into(),
            strategy_id: Some(strategy.id),
            trade_date: day(),
            symbol: "005930".into(),
            side: "BUY".into(),
            order_type: "LIMIT".into(),
            qty: dec("10"),
            price: Some(dec("70000.5")),
            status: "SENT".into(),
            filled_qty: dec("0"),
            avg_fill_price: None,
            broker_order_no: Some("0000012345".into()),
            broker_branch: Some("06010".into()),
            original_order_no: None,
            exchange: "KRX".into(),
            reject_code: None,
            reject_reason: None,
            created_at: at(1),
            sent_at: Some(at(2)),
            updated_at: at(2),
            filled_amount: None,
            submit_attempt: 0,
        }
    );
    round_trip!(
        db,
        fill,
        entity::fill::Model {
            id: 0,
            order_id: order.id,
            fill_key: "0000012345:1".into(),
            broker_order_no: "0000012345".into(),
            symbol: "005930".into(),
            side: "BUY".into(),
            qty: dec("3"),
            price: dec("70000"),
            filled_at: at(3),
            source: "WS".into(),
            created_at: at(3),
            amount: None,
        }
    );
    round_trip!(
        db,
        event,
        entity::event::Model {
            id: 0,
            at: at(4),
            trade_date: Some(day()),
            kind: "order.transition".into(),
            severity: "INFO".into(),
            message: "SENT -> PARTIAL".into(),
            payload: json!({"from": "SENT", "to": "PARTIAL"}),
            order_id: Some(order.id),
        }
    );
    let run = round_trip!(
        db,
        pipeline_run,
        entity::pipeline_run::Model {
            id: 0,
            market: "KR".into(),
            trade_date: day(),
            status: "RUNNING".into(),
            reason: None,
            started_at: at(0),
            finished_at: None,
        }
    );
    round_trip!(
        db,
        stage_run,
        entity::stage_run::Model {
            id: 0,
            pipeline_run_id: run.id,
            stage: "access_token".into(),
            attempt: 1,
            status: "SUCCEEDED".into(),
            started_at: Some(at(0)),
            finished_at: Some(at(1)),
            error: None,
            output: Some(json!({"expires_at": "2026-11-21T08:00:00Z"})),
            requested_by: None,
            created_at: at(0),
        }
    );
    round_trip!(
        db,
        broker_token,
        entity::broker_token::Model {
            id: 0,
            app_key_fingerprint: "0123456789abcdef".into(),
            mode: "PAPER".into(),
            token: "eyJ0eXAiOiJKV1Qi".into(),
            issued_at: at(0),
            expires_at: at(23),
            updated_at: at(0),
        }
    );
    round_trip!(
        db,
        trade_journal,
        entity::trade_journal::Model {
            id: 0,
            trade_date: day(),
            source: "TEMPLATE".into(),
            summary: "2 fills".into(),
            markdown: "# 2026-11-20\n한국어 OK".into(),
            path: None,
            created_at: at(8),
        }
    );
    round_trip!(
        db,
        ai_job_run,
        entity::ai_job_run::Model {
            id: 0,
            kind: "journal".into(),
            trade_date: day(),
            model: Some("local".into()),
            prompt_bytes: 2048,
            prompt_tokens: Some(500),
            completion_tokens: None,
            latency_ms: Some(1200),
            outcome: "OK".into(),
            error: None,
            started_at: at(8),
            finished_at: Some(at(8)),
        }
    );
    round_trip!(
        db,
        audit_log,
        entity::audit_log::Model {
            id: 0,
            at: at(9),
            actor: "operator".into(),
            action: "params.approve".into(),
            target: "draft:1".into(),
            details: json!({"draft": 1}),
        }
    );

    round_trip!(
        db,
        stage_request,
        entity::stage_request::Model {
            id: 0,
            market: "US".into(),
            trade_date: day(),
            stage: "access_token".into(),
            kind: "RERUN".into(),
            requested_by: "operator".into(),
            requested_at: at(9),
            status: "PENDING".into(),
            taken_by: None,
            taken_at: None,
            finished_at: None,
            result: None,
        }
    );
    round_trip!(
        db,
        notification_outbox,
        entity::notification_outbox::Model {
            id: 0,
            created_at: at(10),
            channel: "SLACK".into(),
            kind: "stage_transition".into(),
            payload: json!({"text": "access_token FAILED"}),
            status: "PENDING".into(),
            attempts: 0,
            next_attempt_at: at(10),
            last_error: None,
            sent_at: None,
        }
    );
    let control = entity::control_state::Model {
        key: "trading_mode".into(),
        value: json!({"mode": "STOP", "reason": "operator"}),
        updated_at: at(11),
        updated_by: "operator".into(),
    };
    control.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(
        entity::control_state::Entity::find_by_id("trading_mode").one(db).await.unwrap(),
        Some(control)
    );
    let lease = entity::lease::Model {
        name: "daemon".into(),
        holder: "host:123".into(),
        heartbeat_at: at(12),
        expires_at: at(13),
        epoch: 7,
    };
    lease.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(entity::lease::Entity::find_by_id("daemon").one(db).await.unwrap(), Some(lease));

    // Tables keyed by a natural key.
    let instrument = entity::instrument::Model {
        code: "0001A0".into(),
        isin: "KR70001A0001".into(),
        name: "테스트종목".into(),
        market: "KOSPI".into(),
        security_group: "ST".into(),
        halted: false,
        admin_issue: true,
        warning_level: "01".into(),
        base_price: dec("12340"),
        lot_size: dec("1"),
        listed_on: NaiveDate::from_ymd_opt(2024, 3, 1),
        prev_volume: dec("123456789012"),
        active: true,
        updated_at: at(6),
    };
    instrument.clone().into_active_model().insert(db).await.unwrap();
    let found = entity::instrument::Entity::find_by_id("0001A0").one(db).await.unwrap().unwrap();
    assert_eq!(found, instrument);

    let position = entity::position::Model {
        symbol: "005930".into(),
        qty: dec("3"),
        avg_price: dec("70000.0001"),
        realized_pnl: dec("-1234.5"),
        last_price: Some(dec("70100")),
        updated_at: at(7),
    };
    position.clone().into_active_model().insert(db).await.unwrap();
    let found = entity::position::Entity::find_by_id("005930").one(db).await.unwrap().unwrap();
    assert_eq!(found, position);
}
storage_test!(entities_round_trip, every_entity_round_trips);

async fn decimals_are_exact(t: TestDb) {
    let db = t.store.conn();
    for (i, text) in ["70000.5", "0.0001", "123456789012.3456", "-0.0001", "79228162514264.337593543950"]
        .iter()
        .enumerate()
    {
        let value = dec(text);
        let row = entity::position::Model {
            symbol: format!("{:06}", i + 1),
            qty: value,
            avg_price: value,
            realized_pnl: value,
            last_price: Some(value),
            updated_at: at(1),
        };
        row.clone().into_active_model().insert(db).await.unwrap();
        let back = entity::position::Entity::find_by_id(row.symbol.clone()).one(db).await.unwrap().unwrap();
        assert_eq!(back.qty.0.to_string(), *text, "qty");
        assert_eq!(back.avg_price, value);
        assert_eq!(back.last_price, Some(value));
    }
}
storage_test!(decimals_survive_exactly, decimals_are_exact);

async fn duplicate_idempotency_key_is_refused(t: TestDb) {
    let db = t.store.conn();
    let order = |qty: &str| entity::order::ActiveModel {
        id: NotSet,
        idempotency_key: sea_orm::Set("dup-key-1".into()),
        strategy_id: sea_orm::Set(None),
        trade_date: sea_orm::Set(day()),
        symbol: sea_orm::Set("005930".into()),
        side: sea_orm::Set("BUY".into()),
        order_type: sea_orm::Set("LIMIT".into()),
        qty: sea_orm::Set(dec(qty)),
        price: sea_orm::Set(Some(dec("70000"))),
        status: sea_orm::Set("NEW".into()),
        filled_qty: sea_orm::Set(dec("0")),
        avg_fill_price: sea_orm::Set(None),
        broker_order_no: sea_orm::Set(None),
        broker_branch: sea_orm::Set(None),
        original_order_no: sea_orm::Set(None),
        exchange: sea_orm::Set("KRX".into()),
        reject_code: sea_orm::Set(None),
        reject_reason: sea_orm::Set(None),
        created_at: sea_orm::Set(at(1)),
        sent_at: sea_orm::Set(None),
        updated_at: sea_orm::Set(at(1)),
        filled_amount: sea_orm::Set(None),
        submit_attempt: sea_orm::Set(0),
    };
    order("1").insert(db).await.unwrap();
    let err = order("2").insert(db).await.expect_err("a second order with the same key must be refused");
    assert!(
        matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))),
        "unexpected error: {err}"
    );
    assert_eq!(entity::order::Entity::find().all(db).await.unwrap().len(), 1);
}
storage_test!(idempotency_key_unique, duplicate_idempotency_key_is_refused);

async fn events_are_masked(t: TestDb) {
    let app_key = "PSK".repeat(12);
    aegis::telemetry::Redactor::global().register(&app_key);
    let rec = t.store.events();
    rec.record(
        "broker.auth",
        Severity::Warning,
        &format!("token refresh for key {app_key}"),
        json!({"appkey": app_key, "CANO": "5012345601", "approval_key": "a2585daf-8c09-4587-9fce-8ab893xxxxxx"}),
        Some(day()),
        None,
    )
    .await
    .unwrap();
    let ev = rec.recent(1).await.unwrap().remove(0);
    let stored = format!("{} {}", ev.message, ev.payload);
    assert!(!stored.contains(&app_key), "{stored}");
    assert!(!stored.contains("5012345601"), "{stored}");
    assert!(stored.contains("a2585daf..."), "{stored}");
    assert_eq!(ev.severity, "WARNING");
}
storage_test!(event_payloads_masked, events_are_masked);

async fn migration_status_lists_applied(t: TestDb) {
    let list = t.store.migration_status().await.unwrap();
    assert!(!list.is_empty());
    assert!(list.iter().all(|m| m.applied), "{list:?}");
    // Migrating again is a no-op.
    t.store.migrate().await.unwrap();
}
storage_test!(migrations_applied, migration_status_lists_applied);

async fn token_store_single_flight(t: TestDb) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aegis::ports::{Secret, StoredToken, TokenKey, TokenStore};
    use aegis::store::tokens::DbTokenStore;

    let key = TokenKey { app_key_fingerprint: "0123456789abcdef".into(), mode: aegis::domain::Mode::Paper };
    // Two stores on two connections behave like two processes sharing the database.
    let second = aegis::store::Store::connect(&t.url).await.unwrap();
    let stores = [DbTokenStore::new(t.store.conn().clone()), DbTokenStore::new(second.conn().clone())];
    let issued = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = stores[i % 2].clone();
        let key = key.clone();
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            store
                .with_issue_lock(
                    &key,
                    Box::new(move |current| {
                        Box::pin(async move {
                            if let Some(tok) = current {
                                return Ok(tok);
                            }
                            issued.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            Ok(StoredToken {
                                token: Secret::new("tok-1"),
                                issued_at: at(1),
                                expires_at: at(23),
                            })
                        })
                    }),
                )
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().token.expose(), "tok-1");
    }
    assert_eq!(issued.load(Ordering::SeqCst), 1, "concurrent callers must wait for one issuance");
    let loaded = stores[1].load(&key).await.unwrap().unwrap();
    assert_eq!(loaded.expires_at, at(23));
    assert_eq!(entity::broker_token::Entity::find().all(t.store.conn()).await.unwrap().len(), 1);
}
storage_test!(token_store_issues_once, token_store_single_flight);
