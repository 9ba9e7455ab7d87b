//! Next-day parameter drafts of the reference strategy: the deterministic rule used without a
//! model, validation against the strategy's schema (an invalid draft is stored REJECTED with the
//! reason), and approval with a final schema check.
//!
//! The rule, applied to the day's record when there were orders:
//! - realized P&L below zero on a day with sells: `entry_pct` × 1.10 (wait for deeper dips; a
//!   buy-only day's realized P&L is just its fees and does not count);
//! - otherwise, fewer than half the orders filled: `entry_pct` × 0.90 (enter closer to the average);
//! - otherwise no draft. Values are rounded to 2 decimals and kept within the schema's bounds; a
//!   draft equal to the current parameters is not proposed.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;

use crate::domain::journal::DayRecord;
use crate::domain::strategy::mean_reversion::SPECS;
use crate::domain::strategy::{MeanReversionParams, ParamSpec, validate_params};
use crate::store::params::{Approval, Draft, NewDraft, ParamsError, approve_draft, insert_draft};
use crate::store::{Store, StoreError};

/// The name of the reference strategy in `strategies`.
pub const REFERENCE_STRATEGY: &str = "mean_reversion";

/// Where a draft came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftSource {
    /// Proposed by the model.
    Ai,
    /// Proposed by the documented rule.
    Rule,
}

impl DraftSource {
    /// Returns the stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ai => "AI",
            Self::Rule => "RULE",
        }
    }
}

/// Returns the parameter schema of a strategy, `None` for an unknown one.
pub fn schema_for(strategy: &str) -> Option<&'static [ParamSpec]> {
    (strategy == REFERENCE_STRATEGY).then_some(&SPECS[..])
}

/// Validates parameters against a strategy's schema and rules; returns the full normalized set
/// (defaults filled in).
///
/// # Errors
/// Returns the reason when the strategy is unknown or the parameters are invalid.
pub fn validate_draft(strategy: &str, params: &Value) -> Result<Value, String> {
    let specs = schema_for(strategy).ok_or_else(|| format!("unknown strategy {strategy:?}"))?;
    let validated = validate_params(specs, params).map_err(|e| e.to_string())?;
    if strategy == REFERENCE_STRATEGY {
        MeanReversionParams::from_params(&validated).map_err(|e| e.to_string())?;
    }
    Ok(validated.to_json())
}

/// Returns the rule's draft and rationale for the next day, or `None` when it proposes no change.
pub fn rule_draft(record: &DayRecord, current: &Value) -> Option<(Value, String)> {
    let specs = &SPECS[..];
    let base = validate_params(specs, current)
        .or_else(|_| validate_params(specs, &Value::Object(serde_json::Map::new())))
        .ok()?;
    let fill_rate = record.fill_rate()?;
    let entry = base.get("entry_pct")?;
    let sold = record.fills.iter().any(|f| f.side == "SELL");
    let (factor, why) = if sold && record.pnl.realized < Decimal::ZERO {
        (
            dec!(1.10),
            format!("realized P&L {} {} was negative", record.pnl.realized.normalize(), record.currency),
        )
    } else if fill_rate < dec!(0.5) {
        (dec!(0.90), format!("only {}% of orders filled", (fill_rate * dec!(100)).round_dp(1).normalize()))
    } else {
        return None;
    };
    let spec = specs.iter().find(|s| s.name == "entry_pct")?;
    let proposed = (entry * factor).round_dp(2).clamp(spec.min, spec.max);
    if proposed == entry {
        return None;
    }
    let mut params = base.to_json();
    let number: serde_json::Number = proposed.normalize().to_string().parse().ok()?;
    params.as_object_mut()?.insert("entry_pct".into(), Value::Number(number));
    let rationale = format!(
        "rule: {why}; entry_pct {} -> {} (bounds {}..={})",
        entry.normalize(),
        proposed.normalize(),
        spec.min.normalize(),
        spec.max.normalize()
    );
    Some((params, rationale))
}

/// Returns the next trade date after `date`: the next weekday not in `holidays`.
pub fn next_trade_date(date: NaiveDate, holidays: &BTreeSet<NaiveDate>) -> NaiveDate {
    let mut day = date;
    for _ in 0..31 {
        day = day.succ_opt().unwrap_or(day);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&day) {
            return day;
        }
    }
    day
}

/// Validates and stores a draft: PENDING when valid, REJECTED with the reason otherwise.
///
/// # Errors
/// Returns [`StoreError`] when the insert fails.
#[allow(clippy::too_many_arguments)]
pub async fn propose_draft(
    store: &Store,
    strategy: &str,
    strategy_id: i64,
    trade_date: NaiveDate,
    source: DraftSource,
    params: Value,
    rationale: String,
    now: DateTime<Utc>,
) -> Result<Draft, StoreError> {
    let (params, rejected) = match validate_draft(strategy, &params) {
        Ok(normalized) => (normalized, None),
        Err(reason) => (params, Some(reason)),
    };
    insert_draft(
        store,
        NewDraft {
            strategy_id,
            trade_date,
            params,
            source: source.as_str().to_owned(),
            rationale,
            rejected,
            created_at: now,
        },
    )
    .await
}

/// Approves a draft after checking it once more against its strategy's schema.
///
/// # Errors
/// Returns [`ParamsError`] (unknown id, already decided, invalid, database).
pub async fn approve(
    store: &Store,
    id: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Approval, ParamsError> {
    approve_draft(store, id, actor, now, |d| validate_draft(&d.strategy, &d.params).map(|_| ())).await
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;
    use crate::domain::journal::{FillView, OrderView, PnlView};

    fn record(realized: Decimal, filled: &[bool]) -> DayRecord {
        let orders = filled
            .iter()
            .enumerate()
            .map(|(i, f)| OrderView {
                id: i as i64,
                symbol: "005930".into(),
                side: "BUY".into(),
                order_type: "LIMIT".into(),
                qty: dec!(1),
                price: Some(dec!(70000)),
                status: if *f { "FILLED" } else { "CANCELLED" }.into(),
                filled_qty: if *f { dec!(1) } else { dec!(0) },
                avg_fill_price: None,
                reject_reason: None,
            })
            .collect();
        DayRecord {
            trade_date: NaiveDate::from_ymd_opt(2026, 3, 6).unwrap(),
            currency: crate::domain::Currency::Krw,
            pipeline: None,
            stages: vec![],
            orders,
            fills: vec![FillView {
                order_id: 0,
                symbol: "005930".into(),
                side: "SELL".into(),
                qty: dec!(1),
                price: dec!(70000),
                filled_at: chrono::Utc::now(),
            }],
            positions: vec![],
            pnl: PnlView { realized, unrealized: dec!(0), fees: dec!(0), note: None },
            guardrail_breaches: vec![],
            errors: vec![],
            disconnects: vec![],
        }
    }

    #[test]
    fn the_rule_widens_after_a_loss_and_narrows_after_few_fills() {
        let current = json!({"entry_pct": 2});
        let (p, why) = rule_draft(&record(dec!(-100), &[true]), &current).unwrap();
        assert_eq!(p["entry_pct"], json!(2.2));
        assert_eq!(p["window"], json!(20), "other parameters are kept");
        assert!(why.contains("negative"), "{why}");
        let (p, _) = rule_draft(&record(dec!(0), &[true, false, false]), &current).unwrap();
        assert_eq!(p["entry_pct"], json!(1.8));
        assert_eq!(rule_draft(&record(dec!(10), &[true, true]), &current), None);
        let mut buys_only = record(dec!(-105), &[true, true]);
        buys_only.fills[0].side = "BUY".into();
        assert_eq!(rule_draft(&buys_only, &current), None, "fees of buys are not a loss");
        assert_eq!(rule_draft(&record(dec!(-10), &[]), &current), None, "no orders, nothing learned");
        // At the upper bound the rule proposes nothing.
        assert_eq!(rule_draft(&record(dec!(-1), &[true]), &json!({"entry_pct": 20})), None);
        assert!(validate_draft(REFERENCE_STRATEGY, &p).is_ok());
    }

    #[test]
    fn validation_reports_schema_and_constraint_problems() {
        assert!(
            validate_draft(REFERENCE_STRATEGY, &json!({"entry_pct": 50})).unwrap_err().contains("entry_pct")
        );
        assert!(
            validate_draft(REFERENCE_STRATEGY, &json!({"order_qty": 20, "max_position_qty": 10})).is_err()
        );
        assert!(validate_draft("other", &json!({})).unwrap_err().contains("unknown strategy"));
        assert_eq!(validate_draft(REFERENCE_STRATEGY, &json!({})).unwrap()["window"], json!(20));
    }

    #[test]
    fn next_trade_date_skips_weekends_and_holidays() {
        let fri = NaiveDate::from_ymd_opt(2026, 3, 6).unwrap();
        let mon = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        assert_eq!(next_trade_date(fri, &BTreeSet::new()), mon);
        let holidays = BTreeSet::from([mon]);
        assert_eq!(next_trade_date(fri, &holidays), NaiveDate::from_ymd_opt(2026, 3, 10).unwrap());
    }
}
