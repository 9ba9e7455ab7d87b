//! Creates the core tables: instruments, strategies and parameters, orders, fills, positions,
//! events, pipeline and stage runs, broker tokens, journals, AI job runs and the audit log.

use sea_orm_migration::{prelude::*, schema::*};

use crate::schema_util::money;

/// The first migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// Tables in creation order (drops run in reverse).
const TABLES: &[&str] = &[
    "instruments",
    "strategies",
    "strategy_params",
    "strategy_param_drafts",
    "orders",
    "fills",
    "positions",
    "events",
    "pipeline_runs",
    "stage_runs",
    "broker_tokens",
    "trade_journals",
    "ai_job_runs",
    "audit_log",
];

fn fk(from: (&'static str, &'static str), to: (&'static str, &'static str)) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Restrict).take()
}

fn index(
    table: &'static str,
    name: &'static str,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table).if_not_exists();
    for c in cols {
        idx.col(*c);
    }
    if unique {
        idx.unique();
    }
    idx.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let t = |name: &'static str| Table::create().table(name).if_not_exists().take();

        m.create_table(
            t("instruments")
                .col(string("code").primary_key())
                .col(string("isin"))
                .col(string("name"))
                .col(string("market"))
                .col(string("security_group"))
                .col(boolean("halted"))
                .col(boolean("admin_issue"))
                .col(string("warning_level"))
                .col(money(m, "base_price", false))
                .col(money(m, "lot_size", false))
                .col(date_null("listed_on"))
                .col(money(m, "prev_volume", false))
                .col(boolean("active"))
                .col(timestamp_with_time_zone("updated_at"))
                .take(),
        )
        .await?;

        m.create_table(
            t("strategies")
                .col(big_pk_auto("id"))
                .col(string_uniq("name"))
                .col(text("description"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
        )
        .await?;

        m.create_table(
            t("strategy_params")
                .col(big_pk_auto("id"))
                .col(big_integer("strategy_id"))
                .col(date("trade_date"))
                .col(string("status"))
                .col(json("params"))
                .col(big_integer_null("source_draft_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("activated_at"))
                .col(timestamp_with_time_zone_null("retired_at"))
                .foreign_key(&mut fk(("strategy_params", "strategy_id"), ("strategies", "id")))
                .take(),
        )
        .await?;
        m.create_index(index(
            "strategy_params",
            "idx_strategy_params_lookup",
            &["strategy_id", "trade_date", "status"],
            false,
        ))
        .await?;

        m.create_table(
            t("strategy_param_drafts")
                .col(big_pk_auto("id"))
                .col(big_integer("strategy_id"))
                .col(date("trade_date"))
                .col(json("params"))
                .col(string("source"))
                .col(text("rationale"))
                .col(string("status"))
                .col(text_null("reason"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .col(string_null("decided_by"))
                .foreign_key(&mut fk(("strategy_param_drafts", "strategy_id"), ("strategies", "id")))
                .take(),
        )
        .await?;

        m.create_table(
            t("orders")
                .col(big_pk_auto("id"))
                .col(string_uniq("idempotency_key"))
                .col(big_integer_null("strategy_id"))
                .col(date("trade_date"))
                .col(string("symbol"))
                .col(string("side"))
                .col(string("order_type"))
                .col(money(m, "qty", false))
                .col(money(m, "price", true))
                .col(string("status"))
                .col(money(m, "filled_qty", false))
                .col(money(m, "avg_fill_price", true))
                .col(string_null("broker_order_no"))
                .col(string_null("broker_branch"))
                .col(string_null("original_order_no"))
                .col(string("exchange"))
                .col(string_null("reject_code"))
                .col(text_null("reject_reason"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk(("orders", "strategy_id"), ("strategies", "id")))
                .take(),
        )
        .await?;
        m.create_index(index("orders", "idx_orders_date_status", &["trade_date", "status"], false)).await?;
        m.create_index(index("orders", "idx_orders_broker_no", &["broker_order_no"], false)).await?;

        m.create_table(
            t("fills")
                .col(big_pk_auto("id"))
                .col(big_integer("order_id"))
                .col(string_uniq("fill_key"))
                .col(string("broker_order_no"))
                .col(string("symbol"))
                .col(string("side"))
                .col(money(m, "qty", false))
                .col(money(m, "price", false))
                .col(timestamp_with_time_zone("filled_at"))
                .col(string("source"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(("fills", "order_id"), ("orders", "id")))
                .take(),
        )
        .await?;
        m.create_index(index("fills", "idx_fills_order", &["order_id"], false)).await?;

        m.create_table(
            t("positions")
                .col(string("symbol").primary_key())
                .col(money(m, "qty", false))
                .col(money(m, "avg_price", false))
                .col(money(m, "realized_pnl", false))
                .col(money(m, "last_price", true))
                .col(timestamp_with_time_zone("updated_at"))
                .take(),
        )
        .await?;

        m.create_table(
            t("events")
                .col(big_pk_auto("id"))
                .col(timestamp_with_time_zone("at"))
                .col(date_null("trade_date"))
                .col(string("kind"))
                .col(string("severity"))
                .col(text("message"))
                .col(json("payload"))
                .col(big_integer_null("order_id"))
                .take(),
        )
        .await?;
        m.create_index(index("events", "idx_events_at", &["at"], false)).await?;
        m.create_index(index("events", "idx_events_kind", &["kind"], false)).await?;

        m.create_table(
            t("pipeline_runs")
                .col(big_pk_auto("id"))
                .col(date_uniq("trade_date"))
                .col(string("status"))
                .col(text_null("reason"))
                .col(timestamp_with_time_zone("started_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .take(),
        )
        .await?;

        m.create_table(
            t("stage_runs")
                .col(big_pk_auto("id"))
                .col(big_integer("pipeline_run_id"))
                .col(string("stage"))
                .col(integer("attempt"))
                .col(string("status"))
                .col(timestamp_with_time_zone_null("started_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .col(text_null("error"))
                .col(json_null("output"))
                .col(string_null("requested_by"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(("stage_runs", "pipeline_run_id"), ("pipeline_runs", "id")))
                .take(),
        )
        .await?;
        m.create_index(index(
            "stage_runs",
            "idx_stage_runs_attempt",
            &["pipeline_run_id", "stage", "attempt"],
            true,
        ))
        .await?;

        m.create_table(
            t("broker_tokens")
                .col(big_pk_auto("id"))
                .col(string("app_key_fingerprint"))
                .col(string("mode"))
                .col(text("token"))
                .col(timestamp_with_time_zone("issued_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "broker_tokens",
            "idx_broker_tokens_key",
            &["app_key_fingerprint", "mode"],
            true,
        ))
        .await?;

        m.create_table(
            t("trade_journals")
                .col(big_pk_auto("id"))
                .col(date("trade_date"))
                .col(string("source"))
                .col(text("summary"))
                .col(text("markdown"))
                .col(text_null("path"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
        )
        .await?;
        m.create_index(index("trade_journals", "idx_trade_journals_date", &["trade_date"], false)).await?;

        m.create_table(
            t("ai_job_runs")
                .col(big_pk_auto("id"))
                .col(string("kind"))
                .col(date("trade_date"))
                .col(string_null("model"))
                .col(big_integer("prompt_bytes"))
                .col(big_integer_null("prompt_tokens"))
                .col(big_integer_null("completion_tokens"))
                .col(big_integer_null("latency_ms"))
                .col(string("outcome"))
                .col(text_null("error"))
                .col(timestamp_with_time_zone("started_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .take(),
        )
        .await?;

        m.create_table(
            t("audit_log")
                .col(big_pk_auto("id"))
                .col(timestamp_with_time_zone("at"))
                .col(string("actor"))
                .col(string("action"))
                .col(string("target"))
                .col(json("details"))
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            m.drop_table(Table::drop().table(*table).if_exists().take()).await?;
        }
        Ok(())
    }
}
