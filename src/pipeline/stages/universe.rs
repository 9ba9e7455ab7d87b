//! The `universe` stage: refreshes the stock master files (keeping the last good copy when a
//! download fails), records instrument changes and selects the day's universe from the configured
//! symbols (or the default rule when none are configured). A US pipeline's universe is its
//! configured tickers.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::StageDeps;
use super::outputs::{MasterOrigin, ParamLoadOutput, ParamsVerdict, UniverseMarket, UniverseOutput};
use crate::domain::MarketRegion;
use crate::domain::stage::StageName;
use crate::pipeline::stage::{Stage, StageContext, StageError};
use crate::universe::{
    DownloadConfig, MasterCache, MasterDownloader, MasterSource, ProgressMode, UniverseConfig,
    UniverseReport, UniverseRule, UniverseSource, refresh_universe,
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

impl From<&UniverseReport> for UniverseOutput {
    fn from(report: &UniverseReport) -> Self {
        Self {
            trade_date: report.trade_date,
            markets: report
                .markets
                .iter()
                .map(|m| UniverseMarket {
                    market: m.market,
                    source: match &m.source {
                        MasterSource::Downloaded => MasterOrigin::Downloaded,
                        MasterSource::KeptLastGood { .. } => MasterOrigin::KeptLastGood,
                    },
                    records: m.records,
                    bad_records: m.bad_lines.len(),
                    downloaded_at: m.freshness.copy_time,
                    stale: m.freshness.stale,
                })
                .collect(),
            changes: report.changes.len(),
            selected: report.universe.symbols(),
            excluded: report
                .universe
                .exclusion_counts()
                .into_iter()
                .map(|(k, n)| (k.to_owned(), n))
                .collect(),
        }
    }
}

impl Stage for UniverseStage {
    type Output = UniverseOutput;

    fn name(&self) -> StageName {
        StageName::Universe
    }

    fn run<'a>(&'a self, ctx: &'a mut StageContext) -> BoxFuture<'a, Result<UniverseOutput, StageError>> {
        Box::pin(async move {
            let cfg = &self.deps.config;
            if cfg.region == MarketRegion::Us {
                return us_universe(cfg, ctx);
            }
            let download = DownloadConfig {
                progress: ProgressMode::Hidden,
                ..DownloadConfig::new(cfg.master_base.clone())
            };
            let downloader =
                MasterDownloader::new(download).map_err(|e| StageError::fatal("master downloader", e))?;
            let cache = MasterCache::new(cfg.master_dir.clone());
            let source = if cfg.symbols.is_empty() {
                UniverseSource::Rule(UniverseRule::default())
            } else {
                UniverseSource::Symbols(cfg.symbols.clone())
            };
            // An empty universe fails the stage only on a day the strategy runs.
            let trading = ctx.output::<ParamLoadOutput>()?.is_none_or(|p| p.decision != ParamsVerdict::Skip);
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
                let retryable = e.is_retryable();
                StageError::Failed { what: "universe".to_owned(), retryable, source: Box::new(e) }
            })?;
            Ok(UniverseOutput::from(&report))
        })
    }
}

/// The US universe: the configured tickers (no US master file is read; `../shared/kis-api`
/// describes none). Each must be a US ticker; none on a day the strategy runs fails the stage.
fn us_universe(cfg: &super::StagesConfig, ctx: &StageContext) -> Result<UniverseOutput, StageError> {
    if let Some(s) = cfg.symbols.iter().find(|s| s.region() != MarketRegion::Us) {
        return Err(StageError::fatal(
            "universe",
            std::io::Error::other(format!("{s} is not a US ticker: the US pipeline trades US stocks only")),
        ));
    }
    let trading = ctx.output::<ParamLoadOutput>()?.is_none_or(|p| p.decision != ParamsVerdict::Skip);
    if trading && cfg.symbols.is_empty() {
        return Err(StageError::fatal(
            "universe",
            std::io::Error::other("no US tickers are configured for a day the strategy trades"),
        ));
    }
    Ok(UniverseOutput {
        trade_date: ctx.trade_date,
        markets: Vec::new(),
        changes: 0,
        selected: cfg.symbols.clone(),
        excluded: std::collections::BTreeMap::new(),
    })
}
