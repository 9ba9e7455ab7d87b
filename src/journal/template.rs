//! The deterministic template journal: the same [`DayRecord`] always renders the same Markdown,
//! with every section the model is asked for, so the stage succeeds without a model.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Seoul;
use rust_decimal::Decimal;

use crate::domain::journal::{DayRecord, EventView};
use crate::domain::money::Money;

fn kst(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.with_timezone(&Seoul).format("%H:%M:%S").to_string())
}

fn opt(d: Option<Decimal>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| d.normalize().to_string())
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Says how the stages before the journal ended (the journal runs while this is written):
/// `10 of 10 stages succeeded`, with the failed ones named.
fn stages_line(record: &DayRecord) -> String {
    let mut latest: std::collections::BTreeMap<&str, (i32, &str)> = std::collections::BTreeMap::new();
    for s in record.stages.iter().filter(|s| s.stage != "journal") {
        let entry = latest.entry(s.stage.as_str()).or_insert((s.attempt, s.status.as_str()));
        if s.attempt >= entry.0 {
            *entry = (s.attempt, s.status.as_str());
        }
    }
    if latest.is_empty() {
        return "no pipeline run".to_owned();
    }
    let ok = latest.values().filter(|(_, st)| *st == "SUCCEEDED" || *st == "SKIPPED").count();
    let failed: Vec<&str> = latest.iter().filter(|(_, (_, st))| *st == "FAILED").map(|(n, _)| *n).collect();
    let mut line = format!("{ok} of {} stages succeeded", latest.len());
    if !failed.is_empty() {
        line.push_str(&format!(" (failed: {})", failed.join(", ")));
    }
    line
}

/// Formats an amount of the record's currency: whole won with separators, or dollars and cents.
fn money(record: &DayRecord, amount: Decimal) -> String {
    Money(amount, record.currency).to_string()
}

/// Returns the one-paragraph summary of a day (for the notifiers).
pub fn summary(record: &DayRecord) -> String {
    let filled = record.orders.iter().filter(|o| o.filled_qty > Decimal::ZERO).count();
    let status = stages_line(record);
    let c = record.currency;
    let mut text = format!(
        "{}: {status}; {} orders ({filled} filled), {} fills; realized P&L {} {c}, unrealized {} {c}",
        record.trade_date,
        record.orders.len(),
        record.fills.len(),
        money(record, record.pnl.realized),
        money(record, record.pnl.unrealized),
    );
    let notes = [
        (record.guardrail_breaches.len(), "guardrail events"),
        (record.errors.len(), "errors"),
        (record.disconnects.len(), "disconnects"),
    ];
    for (n, what) in notes {
        if n > 0 {
            let _ = write!(text, "; {n} {what}");
        }
    }
    text.push('.');
    text
}

fn events(out: &mut String, list: &[EventView], none: &str) {
    if list.is_empty() {
        let _ = writeln!(out, "{none}");
        return;
    }
    for e in list {
        let _ = writeln!(out, "- {} `{}` {}: {}", kst(Some(e.at)), e.kind, e.severity, cell(&e.message));
    }
}

/// Renders the Markdown journal of a day.
pub fn render(record: &DayRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Trade journal {}\n", record.trade_date);
    let _ = writeln!(out, "## Summary\n\n{}\n", summary(record));

    let _ = writeln!(out, "## Stages\n");
    if let Some(p) = &record.pipeline {
        let reason = p.reason.as_deref().map(|r| format!(" ({})", cell(r))).unwrap_or_default();
        let _ = writeln!(out, "Pipeline: {}{reason}\n", p.status);
    }
    if record.stages.is_empty() {
        let _ = writeln!(out, "No stage ran.");
    } else {
        let _ = writeln!(
            out,
            "| Stage | Attempt | Status | Started | Finished | Error |\n|---|---|---|---|---|---|"
        );
        for s in &record.stages {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&s.stage),
                s.attempt,
                s.status,
                kst(s.started_at),
                kst(s.finished_at),
                s.error.as_deref().map_or_else(String::new, cell)
            );
        }
    }

    let _ = writeln!(out, "\n## Orders\n");
    if record.orders.is_empty() {
        let _ = writeln!(out, "No orders.");
    } else {
        let _ = writeln!(
            out,
            "| Id | Symbol | Side | Type | Qty | Price | Status | Filled | Avg fill |\n|---|---|---|---|---|---|---|---|---|"
        );
        for o in &record.orders {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {}{} | {} | {} |",
                o.id,
                o.symbol,
                o.side,
                o.order_type,
                o.qty.normalize(),
                opt(o.price),
                o.status,
                o.reject_reason.as_deref().map(|r| format!(" ({})", cell(r))).unwrap_or_default(),
                o.filled_qty.normalize(),
                opt(o.avg_fill_price)
            );
        }
    }

    let _ = writeln!(out, "\n## Fills\n");
    if record.fills.is_empty() {
        let _ = writeln!(out, "No fills.");
    } else {
        let _ =
            writeln!(out, "| Time (KST) | Order | Symbol | Side | Qty | Price |\n|---|---|---|---|---|---|");
        for f in &record.fills {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                kst(Some(f.filled_at)),
                f.order_id,
                f.symbol,
                f.side,
                f.qty.normalize(),
                f.price.normalize()
            );
        }
    }

    let _ = writeln!(out, "\n## Positions & P&L\n");
    if record.positions.is_empty() {
        let _ = writeln!(out, "No positions.\n");
    } else {
        let _ = writeln!(out, "| Symbol | Qty | Avg price | Last price |\n|---|---|---|---|");
        for p in &record.positions {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                p.symbol,
                p.qty.normalize(),
                money(record, p.avg_price),
                opt(p.last_price)
            );
        }
        out.push('\n');
    }
    let pnl = &record.pnl;
    let _ = writeln!(
        out,
        "Realized P&L: {} {c} (fees and tax {} {c}). Unrealized P&L: {} {c}.",
        money(record, pnl.realized),
        money(record, pnl.fees),
        money(record, pnl.unrealized),
        c = record.currency,
    );
    if let Some(note) = &pnl.note {
        let _ = writeln!(out, "\nP&L could not be recomputed: {}", cell(note));
    }

    let _ = writeln!(out, "\n## Guardrails & errors\n");
    events(&mut out, &record.guardrail_breaches, "No guardrail breaches.");
    out.push('\n');
    events(&mut out, &record.errors, "No errors.");

    let _ = writeln!(out, "\n## Disconnects\n");
    events(&mut out, &record.disconnects, "No disconnects.");
    out
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::journal::{OrderView, PnlView};
    use crate::journal::prompt::missing_sections;

    fn record() -> DayRecord {
        DayRecord {
            trade_date: NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
            currency: crate::domain::Currency::Krw,
            pipeline: None,
            stages: vec![],
            orders: vec![OrderView {
                id: 7,
                symbol: "005930".into(),
                side: "BUY".into(),
                order_type: "LIMIT".into(),
                qty: dec!(10),
                price: Some(dec!(70000)),
                status: "REJECTED".into(),
                filled_qty: dec!(0),
                avg_fill_price: None,
                reject_reason: Some("a|b".into()),
            }],
            fills: vec![],
            positions: vec![],
            pnl: PnlView { realized: dec!(-1500.00), unrealized: dec!(0), fees: dec!(10), note: None },
            guardrail_breaches: vec![EventView {
                at: Utc.with_ymd_and_hms(2026, 3, 3, 1, 0, 0).unwrap(),
                kind: "guardrail.max_orders".into(),
                severity: "WARNING".into(),
                message: "cap reached".into(),
            }],
            errors: vec![],
            disconnects: vec![],
        }
    }

    #[test]
    fn the_summary_counts_the_latest_attempt_of_each_stage_before_the_journal() {
        let view = |stage: &str, attempt: i32, status: &str| crate::domain::journal::StageView {
            stage: stage.into(),
            attempt,
            status: status.into(),
            started_at: None,
            finished_at: None,
            error: None,
        };
        let mut r = record();
        r.stages = vec![
            view("config_check", 1, "SUCCEEDED"),
            view("access_token", 1, "FAILED"),
            view("access_token", 2, "SUCCEEDED"),
            view("close", 1, "FAILED"),
            view("journal", 1, "RUNNING"),
        ];
        assert!(
            summary(&r).starts_with("2026-03-03: 2 of 3 stages succeeded (failed: close); 1 orders"),
            "{}",
            summary(&r)
        );
    }

    #[test]
    fn the_template_has_every_section_and_is_deterministic() {
        let r = record();
        let md = render(&r);
        assert_eq!(missing_sections(&md), Vec::<&str>::new());
        assert_eq!(md, render(&r));
        assert!(md.contains("| 7 | 005930 | BUY | LIMIT | 10 | 70000 | REJECTED (a\\|b) | 0 | - |"), "{md}");
        assert!(md.contains("- 10:00:00 `guardrail.max_orders` WARNING: cap reached"), "{md}");
        assert!(md.contains("No disconnects."));
        assert_eq!(
            summary(&r),
            "2026-03-03: no pipeline run; 1 orders (0 filled), 0 fills; realized P&L -1,500 KRW, \
             unrealized 0 KRW; 1 guardrail events."
        );
    }

    #[test]
    fn a_us_record_speaks_dollars_and_cents() {
        let mut r = record();
        r.currency = crate::domain::Currency::Usd;
        r.pnl.realized = dec!(-0.6025);
        assert!(summary(&r).contains("realized P&L -0.60 USD, unrealized 0.00 USD"), "{}", summary(&r));
        assert!(render(&r).contains("Realized P&L: -0.60 USD"), "{}", render(&r));
    }
}
