//! The `journal` stage: runs the after-close journal batch (the AI journal, or the template when no
//! model is configured or its answer is refused), then posts the journal's summary to the
//! notifiers.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::StageDeps;
use super::outputs::JournalOutput;
use crate::domain::stage::StageName;
use crate::journal::{JournalConfig, run_journal_batch};
use crate::notify::{JournalSummary, Notification};
use crate::pipeline::stage::{Stage, StageContext, StageError};

/// The `journal` stage.
#[derive(Debug)]
pub struct Journal {
    deps: Arc<StageDeps>,
}

impl Journal {
    /// Creates the stage.
    pub fn new(deps: Arc<StageDeps>) -> Self {
        Self { deps }
    }
}

impl Journal {
    async fn journal(&self, ctx: &StageContext) -> Result<JournalOutput, StageError> {
        let cfg = &self.deps.config;
        // The book the trading core started from; a run without an account check reconstructs
        // it from the stored positions.
        let opening = match ctx.output::<super::outputs::AccountCheckOutput>()? {
            Some(_) => Some(super::opening_holdings(ctx)?),
            None => None,
        };
        let config = JournalConfig {
            strategy: cfg.strategy.clone(),
            journal_dir: cfg.journal_dir.clone(),
            fees: cfg.fees,
            opening,
            region: cfg.region,
            propose_drafts: cfg.propose_drafts,
            ..JournalConfig::default()
        };
        let outcome = run_journal_batch(
            &ctx.store,
            self.deps.llm.as_ref(),
            &config,
            self.deps.clock.now(),
            ctx.trade_date,
        )
        .await
        .map_err(|e| {
            let retryable = e.is_retryable();
            StageError::Failed { what: "journal".to_owned(), retryable, source: Box::new(e) }
        })?;
        let path = outcome.path.as_ref().map(|p| p.display().to_string());
        let summary = JournalSummary {
            trade_date: outcome.trade_date,
            summary: outcome.summary.clone(),
            path: path.clone().unwrap_or_else(|| format!("trade_journals row {}", outcome.journal_id)),
        };
        self.deps.notifier.notify(Notification::Journal(summary)).await;
        Ok(JournalOutput {
            journal_id: outcome.journal_id,
            source: outcome.source,
            path,
            summary: outcome.summary,
            ai_error: outcome.ai_error,
            draft_id: outcome.draft.as_ref().map(|d| d.id),
            realized_pnl: Some(outcome.realized_pnl),
        })
    }
}

impl Stage for Journal {
    type Output = JournalOutput;

    fn name(&self) -> StageName {
        StageName::Journal
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<JournalOutput, StageError>> {
        Box::pin(async move { self.journal(ctx).await })
    }
}
