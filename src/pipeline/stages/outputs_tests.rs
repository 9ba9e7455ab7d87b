//! Tests of the stage outputs: rows in the shape earlier versions wrote (hand-written JSON, the
//! keys those versions used) read back typed and encode to the same JSON again; malformed rows are
//! an [`OutputError`], never a panic.

use std::error::Error as _;

use serde_json::json;

use super::*;
use crate::pipeline::stage::{OutputError, StageError, decode_output};

const AT: &str = "2026-03-03T00:10:00Z";

/// Decodes `row` as `T` and checks that encoding it gives `row` back.
fn round_trips<T: StageOutput + std::fmt::Debug>(row: &Value) -> T {
    let typed: T = decode_output(row).unwrap_or_else(|e| panic!("{:?}: {e}: {:?}", T::STAGE, e.source()));
    assert_eq!(&serde_json::to_value(&typed).unwrap(), row, "{:?}", T::STAGE);
    typed
}

fn recovery_report() -> Value {
    json!({
        "orders_checked": 2,
        "differences": [{"kind": "UNKNOWN_FOUND", "order_id": 5}],
        "resendable": [7],
        "stopped": null,
    })
}

#[test]
fn broker_session_rows_read_back_typed() {
    let cfg: ConfigCheckOutput =
        round_trips(&json!({"mode": "Paper", "slack": false, "smtp": false, "ai": true}));
    assert!(cfg.ai);

    let token: AccessTokenOutput = round_trips(
        &json!({"authenticated": true, "checked_at": AT, "issued_at": AT, "expires_at": "2026-03-04T00:10:00Z"}),
    );
    assert!(token.expires_at.is_some());
    let without_store: AccessTokenOutput = round_trips(&json!({"authenticated": true, "checked_at": AT}));
    assert_eq!(without_store.issued_at, None);

    let key: ApprovalKeyOutput = round_trips(&json!({"approval_key": APPROVAL_KEY_NOTE, "checked_at": AT}));
    assert_eq!(key.approval_key, APPROVAL_KEY_NOTE);

    let account: AccountCheckOutput = round_trips(&json!({
        "orderable_cash": "1000000",
        "cash_d0": "1000000",
        "cash_d2": "1000000",
        "holdings": [{
            "symbol": "005930", "name": "삼성전자", "qty": "10", "sellable_qty": "10", "avg_price": "70000",
            "purchase_amount": "700000", "current_price": "71000", "eval_amount": "710000",
            "unrealized_pnl": "10000",
        }],
        "purchase_total": "700000",
        "eval_total": "710000",
        "unrealized_pnl_total": "10000",
        "account_total": "1710000",
        "net_asset": "1710000",
    }));
    assert_eq!(account.account.holdings[0].symbol.as_str(), "005930");
}

#[test]
fn param_load_rows_read_back_with_enums() {
    let trade: ParamLoadOutput = round_trips(&json!({
        "strategy": "mean_reversion",
        "strategy_id": 1,
        "policy": "REUSE_LAST_ACTIVE",
        "decision": "TRADE",
        "params": {"window": 20},
        "source": "ACTIVE_TODAY",
        "params_row": 3,
        "reason": null,
    }));
    assert_eq!(trade.decision, ParamsVerdict::Trade);
    assert_eq!(trade.source, ParamsSource::ActiveToday);
    assert_eq!(trade.policy, ParamsPolicy::ReuseLastActive);

    let skip: ParamLoadOutput = round_trips(&json!({
        "strategy": "mean_reversion",
        "strategy_id": 1,
        "policy": "SKIP_TRADING",
        "decision": "SKIP",
        "params": null,
        "source": "NONE",
        "params_row": null,
        "reason": "no ACTIVE parameters for today",
    }));
    assert_eq!(skip.decision, ParamsVerdict::Skip);
}

#[test]
fn trading_rows_read_back_typed() {
    let recovery: RecoveryOutput = round_trips(&json!({
        "orders_checked": 2,
        "differences": [{"kind": "UNKNOWN_FOUND", "order_id": 5}],
        "resendable": [7],
        "positions": 1,
    }));
    assert_eq!(recovery.differences, vec![Difference::UnknownFound { order_id: 5 }]);

    let guardrails: GuardrailsOutput = round_trips(&json!({
        "mode": {"mode": "NORMAL"},
        "trading_allowed": true,
        "risk": serde_json::to_value(RiskConfig::default()).unwrap(),
        "kill_switch": serde_json::to_value(KillSwitchConfig::default()).unwrap(),
        "tripped": null,
        "orders_today": 0,
        "realized_pnl": "0",
        "open_orders": 0,
    }));
    assert_eq!(guardrails.mode, TradingMode::Normal);

    let ran: IntradayOutput = round_trips(&json!({
        "symbols": ["005930"],
        "strategy": "mean_reversion",
        "wound_down_before_close": true,
        "recovery": recovery_report(),
        "market_events": 100,
        "signals": 3,
        "orders_sent": 2,
        "orders_refused": 1,
        "fills_recorded": 2,
        "ended_at": AT,
    }));
    assert!(matches!(ran, IntradayOutput::Ran(IntradayRun { orders_sent: 2, .. })));
    let not_run: IntradayOutput =
        round_trips(&json!({"loop": "not run: the session had closed", "recovery": recovery_report()}));
    assert!(matches!(not_run, IntradayOutput::NotRun { .. }));
}

#[test]
fn after_market_rows_read_back_typed() {
    let universe: UniverseOutput = round_trips(&json!({
        "trade_date": "2026-03-03",
        "markets": [{
            "market": "KOSPI", "source": "KEPT_LAST_GOOD", "records": 2500, "bad_records": 1,
            "downloaded_at": AT, "stale": true,
        }],
        "changes": 4,
        "selected": ["005930", "000660"],
        "excluded": {"ETF": 3},
    }));
    assert_eq!(universe.markets[0].source, MasterOrigin::KeptLastGood);
    assert_eq!(universe.selected.len(), 2);

    let close: CloseOutput = round_trips(&json!({
        "trade_date": "2026-03-03",
        "orders": 3,
        "orders_by_status": {"CANCELED": 1, "FILLED": 2},
        "open_orders_canceled": 1,
        "open_orders_left_to_expire": 0,
        "cancels_pending": 0,
        "fills": 2,
        "filled_qty": "20",
        "realized_pnl": "-1200",
        "unrealized_pnl": "500",
        "positions": [{"symbol": "005930", "qty": "10", "avg_price": "70000", "last_price": null}],
        "reconciliation": {"orders_checked": 3, "differences": 0, "stopped": null},
    }));
    assert_eq!(close.orders_by_status.get("FILLED"), Some(&2));

    let journal: JournalOutput = round_trips(&json!({
        "journal_id": 9,
        "source": "TEMPLATE",
        "path": "/tmp/journal/2026-03-03.md",
        "summary": "A quiet day.",
        "ai_error": null,
        "draft_id": null,
    }));
    assert_eq!(journal.source, JournalSource::Template);
    assert_eq!(journal.realized_pnl, None, "a row stored before the journal booked its P&L");
    let booked: JournalOutput = round_trips(&json!({
        "journal_id": 10,
        "source": "TEMPLATE",
        "path": "/tmp/journal/2026-03-04.md",
        "summary": "A loss.",
        "ai_error": null,
        "draft_id": null,
        "realized_pnl": "-1200",
    }));
    assert_eq!(booked.realized_pnl, Some(rust_decimal_macros::dec!(-1200)));
}

#[test]
fn a_typed_output_is_stored_with_the_legacy_keys() {
    let out = ParamLoadOutput {
        strategy: "mean_reversion".into(),
        strategy_id: 4,
        policy: ParamsPolicy::ObserveOnly,
        decision: ParamsVerdict::Observe,
        params: json!({"window": 5}),
        source: ParamsSource::LastActive,
        params_row: Some(8),
        reason: None,
    };
    let stored = serde_json::to_value(&out).unwrap();
    assert_eq!(stored["decision"], "OBSERVE");
    assert_eq!(stored["source"], "LAST_ACTIVE");
    assert_eq!(stored["policy"], "OBSERVE_ONLY");
    assert_eq!(decode_output::<ParamLoadOutput>(&stored).unwrap(), out);
}

#[test]
fn malformed_rows_are_typed_errors() {
    let unknown_decision = json!({
        "strategy": "mean_reversion", "strategy_id": 1, "policy": "SKIP_TRADING", "decision": "MAYBE",
        "params": null, "source": "NONE", "params_row": null, "reason": null,
    });
    let missing_key = json!({"strategy": "mean_reversion"});
    for row in [unknown_decision, missing_key, json!(null), json!("TRADE"), json!([1, 2])] {
        let err = decode_output::<ParamLoadOutput>(&row).unwrap_err();
        assert!(matches!(err, OutputError::Malformed { stage: StageName::ParamLoad, .. }), "{row}: {err}");
        let stage = StageError::from(err);
        assert!(!stage.is_retryable());
        let text = stage.report();
        assert!(
            text.starts_with("the stored output of stage param_load does not have the expected shape: "),
            "{text}"
        );
    }
    let err = decode_output::<IntradayOutput>(&json!({"symbols": "005930"})).unwrap_err();
    assert!(matches!(err, OutputError::Malformed { stage: StageName::Intraday, .. }));
}
