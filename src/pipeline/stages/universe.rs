//! The `universe` stage: refreshes the stock master files (keeping the last good copy when a
//! download fails), records instrument changes and selects the day's universe from the configured
//! symbols (or the default rule when none are configured).

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;
use tracing::Instrument;

use super::StageDeps;
use crate::domain::stage::StageName;
use crate::pipeline::runner::{Stage, StageContext, StageError};
use crate::universe::{
    DownloadConfig, MasterCache, MasterDownloader, ProgressMode, UniverseConfig, UniverseRule,
    UniverseSource, refresh_universe,
};

/// The `universe` stage.
#[derive(Debug)]
pub struct UniverseStage {
    deps: Arc<StageDeps>,
}

impl UniverseStage {
    /// Creates the stage.
    pub fn new(deps: Arc<StageDeps>) -> Self {
        Self { deps }
    }
}

impl Stage for UniverseStage {
    fn name(&self) -> StageName {
        StageName::Universe
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<Value, StageError>> {
        let span = super::span(ctx, self.name());
        Box::pin(
            async move {
                let cfg = &self.deps.config;
                let download = DownloadConfig {
                    progress: ProgressMode::Hidden,
                    ..DownloadConfig::new(cfg.master_base.clone())
                };
                let downloader = MasterDownloader::new(download)
                    .map_err(|e| StageError::Fatal(format!("master downloader: {e}")))?;
                let cache = MasterCache::new(cfg.master_dir.clone());
                let source = if cfg.symbols.is_empty() {
                    UniverseSource::Rule(UniverseRule::default())
                } else {
                    UniverseSource::Symbols(cfg.symbols.clone())
                };
                let trading = ctx
                    .output(StageName::ParamLoad)
                    .and_then(|v| v.get("decision"))
                    .and_then(Value::as_str)
                    .is_none_or(|d| d != "SKIP");
                let report = refresh_universe(
                    &ctx.store,
                    &downloader,
                    &cache,
                    &UniverseConfig::new(source),
                    self.deps.clock.now(),
                    trading,
                )
                .await
                .map_err(|e| {
                    let text = format!("universe: {e}");
                    if e.is_retryable() { StageError::Retryable(text) } else { StageError::Fatal(text) }
                })?;
                Ok(report.to_json())
            }
            .instrument(span),
        )
    }
}
