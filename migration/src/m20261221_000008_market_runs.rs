//! Keys pipeline runs and stage requests by market: the KRX pipeline and the US pipeline each have
//! a run per trade date (the US one on its New York date), so `pipeline_runs` gains `market`
//! (existing runs are `KR`) and its unique key becomes (market, trade_date); `stage_requests`
//! gains `market` too, so an operator's request names the pipeline it is for.
//!
//! PostgreSQL alters the tables in place. SQLite cannot drop the inline UNIQUE of `trade_date`,
//! so it rebuilds `pipeline_runs` — and `stage_runs`, whose foreign key follows the renamed table —
//! inside the migration's transaction, keeping every id and each table's AUTOINCREMENT mark (no
//! id of a deleted row is handed out again).

use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::{prelude::*, schema::*};

/// The market-keyed pipeline runs migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// The unique key of a run.
const RUN_KEY: &str = "idx_pipeline_runs_market_date";
/// The unique key of an attempt (as migration 1 names it).
const ATTEMPT_KEY: &str = "idx_stage_runs_attempt";

fn pipeline_runs(with_market: bool) -> TableCreateStatement {
    let mut t = Table::create();
    t.table("pipeline_runs").col(big_pk_auto("id"));
    if with_market {
        t.col(string("market")).col(date("trade_date"));
    } else {
        t.col(date_uniq("trade_date"));
    }
    t.col(string("status"))
        .col(text_null("reason"))
        .col(timestamp_with_time_zone("started_at"))
        .col(timestamp_with_time_zone_null("finished_at"))
        .take()
}

fn stage_runs() -> TableCreateStatement {
    Table::create()
        .table("stage_runs")
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
        .foreign_key(
            ForeignKey::create()
                .from("stage_runs", "pipeline_run_id")
                .to("pipeline_runs", "id")
                .on_delete(ForeignKeyAction::Restrict),
        )
        .take()
}

fn run_key() -> IndexCreateStatement {
    Index::create().name(RUN_KEY).table("pipeline_runs").col("market").col("trade_date").unique().take()
}

fn attempt_key() -> IndexCreateStatement {
    Index::create()
        .name(ATTEMPT_KEY)
        .table("stage_runs")
        .col("pipeline_run_id")
        .col("stage")
        .col("attempt")
        .unique()
        .take()
}

const STAGE_RUN_COLUMNS: &str = "id, pipeline_run_id, stage, attempt, status, started_at, finished_at, \
                                 error, output, requested_by, created_at";

/// Rebuilds the two SQLite tables with (or without) the market, copying every row under its id.
/// The renamed old `pipeline_runs` takes `stage_runs`' foreign key with it, so the old tables are
/// dropped child first once the new ones hold the rows.
async fn rebuild_sqlite(m: &SchemaManager<'_>, with_market: bool) -> Result<(), DbErr> {
    let db = m.get_connection();
    db.execute_unprepared("ALTER TABLE pipeline_runs RENAME TO pipeline_runs_old").await?;
    m.create_table(pipeline_runs(with_market)).await?;
    if with_market {
        m.create_index(run_key()).await?;
        db.execute_unprepared(
            "INSERT INTO pipeline_runs (id, market, trade_date, status, reason, started_at, finished_at) \
             SELECT id, 'KR', trade_date, status, reason, started_at, finished_at FROM pipeline_runs_old",
        )
        .await?;
    } else {
        // Going back keeps the KRX runs; a database with runs of another market cannot go back.
        db.execute_unprepared(
            "INSERT INTO pipeline_runs (id, trade_date, status, reason, started_at, finished_at) \
             SELECT id, trade_date, status, reason, started_at, finished_at FROM pipeline_runs_old \
             WHERE market = 'KR'",
        )
        .await?;
    }
    db.execute_unprepared("ALTER TABLE stage_runs RENAME TO stage_runs_old").await?;
    db.execute_unprepared(&format!("DROP INDEX IF EXISTS {ATTEMPT_KEY}")).await?;
    m.create_table(stage_runs()).await?;
    m.create_index(attempt_key()).await?;
    // Fails on the foreign key when going back would orphan a US run's attempts.
    db.execute_unprepared(&format!(
        "INSERT INTO stage_runs ({STAGE_RUN_COLUMNS}) SELECT {STAGE_RUN_COLUMNS} FROM stage_runs_old"
    ))
    .await?;
    carry_sequence(db, "pipeline_runs").await?;
    carry_sequence(db, "stage_runs").await?;
    db.execute_unprepared("DROP TABLE stage_runs_old").await?;
    db.execute_unprepared("DROP TABLE pipeline_runs_old").await?;
    Ok(())
}

/// Carries a rebuilt AUTOINCREMENT table's high-water mark over from its old copy (the rename
/// took the `sqlite_sequence` row along, and dropping the old table deletes it): the copy only
/// sets the new table's mark to its largest id, so the id of a deleted last row (or of a US run
/// left behind going back) would otherwise be handed out again.
async fn carry_sequence(db: &SchemaManagerConnection<'_>, table: &str) -> Result<(), DbErr> {
    db.execute_unprepared(&format!(
        "INSERT INTO sqlite_sequence (name, seq) SELECT '{table}', 0 \
         WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = '{table}')"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence \
         WHERE name = '{table}_old'), 0)) WHERE name = '{table}'"
    ))
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        // The SQLite rebuild is all or nothing too.
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table("stage_requests").add_column(string("market").default("KR").take()).take(),
        )
        .await?;
        if m.get_database_backend() == DatabaseBackend::Sqlite {
            return rebuild_sqlite(m, true).await;
        }
        let db = m.get_connection();
        db.execute_unprepared("ALTER TABLE pipeline_runs ADD COLUMN market varchar NOT NULL DEFAULT 'KR'")
            .await?;
        db.execute_unprepared("ALTER TABLE pipeline_runs ALTER COLUMN market DROP DEFAULT").await?;
        db.execute_unprepared(
            "ALTER TABLE pipeline_runs DROP CONSTRAINT IF EXISTS pipeline_runs_trade_date_key",
        )
        .await?;
        m.create_index(run_key()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DatabaseBackend::Sqlite {
            rebuild_sqlite(m, false).await?;
        } else {
            let db = m.get_connection();
            // Fails on a foreign key when a US run has attempts: such a database cannot go back.
            db.execute_unprepared("DELETE FROM pipeline_runs WHERE market <> 'KR'").await?;
            m.drop_index(Index::drop().name(RUN_KEY).table("pipeline_runs").to_owned()).await?;
            db.execute_unprepared("ALTER TABLE pipeline_runs DROP COLUMN market").await?;
            db.execute_unprepared(
                "ALTER TABLE pipeline_runs ADD CONSTRAINT pipeline_runs_trade_date_key UNIQUE (trade_date)",
            )
            .await?;
        }
        m.alter_table(Table::alter().table("stage_requests").drop_column("market").take()).await
    }
}
