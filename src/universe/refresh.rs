//! The universe use case: per market download → parse → (last good copy on failure) → diff against
//! the stored instruments → upsert → change events → selection → freshness, with a report.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use chrono_tz::Asia::Seoul;
use serde_json::json;

use super::cache::MasterCache;
use super::diff::diff_instruments;
use super::download::{MasterDownloader, RefreshError, RefreshOutcome, refresh_master};
use super::freshness::Freshness;
use super::master::ParseOptions;
use super::select::{ExclusionPolicy, Universe, UniverseError, UniverseSource, select_universe};
use crate::domain::instrument::{InstrumentChange, Market, MasterRecord};
use crate::store::instruments::{UpsertStats, load_instruments, record_changes, upsert_instruments};
use crate::store::{Severity, Store, StoreError};

/// How many bad-record line numbers an event lists.
const BAD_LINES_IN_EVENT: usize = 20;

/// Settings of the universe stage.
#[derive(Debug, Clone, PartialEq)]
pub struct UniverseConfig {
    /// Markets whose master files are refreshed.
    pub markets: Vec<Market>,
    /// The configured symbol list or rule.
    pub source: UniverseSource,
    /// Which instruments are not tradable.
    pub policy: ExclusionPolicy,
    /// When a master file is refused whole.
    pub parse: ParseOptions,
    /// Days without master publication besides weekends (KRX holidays), for freshness.
    pub holidays: BTreeSet<NaiveDate>,
}

impl UniverseConfig {
    /// Returns a configuration for KOSPI and KOSDAQ with the default policy and parse limits.
    pub fn new(source: UniverseSource) -> Self {
        Self {
            markets: vec![Market::Kospi, Market::Kosdaq],
            source,
            policy: ExclusionPolicy::default(),
            parse: ParseOptions::default(),
            holidays: BTreeSet::new(),
        }
    }

    fn is_publication_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }
}

/// Where one market's master came from today.
#[derive(Debug, Clone, PartialEq)]
pub enum MasterSource {
    /// Downloaded and parsed today.
    Downloaded,
    /// Today's download was refused; the last good copy is in use.
    KeptLastGood {
        /// Why today's file was not used.
        error: String,
    },
}

/// One market's part of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketReport {
    /// The market.
    pub market: Market,
    /// Where the master in use came from.
    pub source: MasterSource,
    /// Records in the master in use.
    pub records: usize,
    /// Records skipped as bad (1-based line numbers).
    pub bad_lines: Vec<usize>,
    /// Freshness of the master in use.
    pub freshness: Freshness,
    /// What the upsert did (`None` when the last good copy was kept: the table is left as is).
    pub upsert: Option<UpsertStats>,
}

/// The outcome of the universe stage.
#[derive(Debug, Clone, PartialEq)]
pub struct UniverseReport {
    /// The trade date (Seoul date of `now`).
    pub trade_date: NaiveDate,
    /// Per market, in configured order.
    pub markets: Vec<MarketReport>,
    /// The day's instrument differences (refreshed markets with a previous copy only).
    pub changes: Vec<InstrumentChange>,
    /// The selected universe.
    pub universe: Universe,
}

impl UniverseReport {
    /// Returns true when any master in use predates the latest publication.
    pub fn stale(&self) -> bool {
        self.markets.iter().any(|m| m.freshness.stale)
    }

    /// Returns the report as a JSON summary (for the stage output).
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "trade_date": self.trade_date,
            "markets": self.markets.iter().map(|m| json!({
                "market": m.market,
                "source": match &m.source {
                    MasterSource::Downloaded => "DOWNLOADED",
                    MasterSource::KeptLastGood { .. } => "KEPT_LAST_GOOD",
                },
                "records": m.records,
                "bad_records": m.bad_lines.len(),
                "downloaded_at": m.freshness.copy_time,
                "stale": m.freshness.stale,
            })).collect::<Vec<_>>(),
            "changes": self.changes.len(),
            "selected": self.universe.symbols(),
            "excluded": self.universe.exclusion_counts(),
        })
    }
}

/// Errors of the universe stage.
#[derive(Debug, thiserror::Error)]
pub enum UniverseRefreshError {
    /// A market has neither today's master nor a usable last good copy.
    #[error(transparent)]
    NoMaster(#[from] RefreshError),
    /// Nothing is tradable while trading is enabled.
    #[error(transparent)]
    Empty(#[from] UniverseError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UniverseRefreshError {
    /// Returns true when running the stage again may succeed (downloads and the database).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::NoMaster(e) => e.error.is_retryable(),
            Self::Store(_) => true,
            Self::Empty(_) => false,
        }
    }
}

/// Returns the Seoul date of an instant.
pub fn seoul_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&Seoul).date_naive()
}

/// Runs the universe stage at `now`: refreshes each configured market (keeping the last good copy
/// when today's download fails, recorded as an event), diffs and upserts the refreshed markets,
/// records the changes, selects the universe and reports each master's freshness.
///
/// # Errors
/// Returns [`UniverseRefreshError::NoMaster`] when a market has no usable master,
/// [`UniverseRefreshError::Empty`] when nothing is tradable and `trading_enabled`, and
/// [`UniverseRefreshError::Store`] when the database fails.
#[tracing::instrument(skip_all, fields(trade_date = %seoul_date(now)), err)]
pub async fn refresh_universe(
    store: &Store,
    downloader: &MasterDownloader,
    cache: &MasterCache,
    config: &UniverseConfig,
    now: DateTime<Utc>,
    trading_enabled: bool,
) -> Result<UniverseReport, UniverseRefreshError> {
    let trade_date = seoul_date(now);
    let events = store.events();
    let mut outcomes = Vec::with_capacity(config.markets.len());
    for &market in &config.markets {
        match refresh_master(downloader, cache, market, now, &config.parse).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => {
                events
                    .record(
                        "universe.master_unavailable",
                        Severity::Critical,
                        &e.to_string(),
                        json!({ "market": market }),
                        Some(trade_date),
                        None,
                    )
                    .await?;
                return Err(e.into());
            }
        }
    }

    let refreshed: Vec<Market> = outcomes
        .iter()
        .filter(|o| matches!(o, RefreshOutcome::Updated { .. }))
        .map(|o| o.master().market)
        .collect();
    let current: Vec<MasterRecord> = outcomes
        .iter()
        .filter(|o| refreshed.contains(&o.master().market))
        .flat_map(|o| o.master().report.records.iter().cloned())
        .collect();
    let previous = load_instruments(store, &refreshed).await?;
    // A market seen for the first time is an initial load, not thousands of new listings.
    let scope: Vec<Market> =
        refreshed.iter().copied().filter(|m| previous.iter().any(|r| r.market == *m)).collect();
    let changes = diff_instruments(&previous, &current, &scope);

    let mut markets = Vec::with_capacity(outcomes.len());
    for outcome in &outcomes {
        markets.push(record_outcome(store, config, outcome, &current, now, trade_date, &scope).await?);
    }
    record_changes(store, &changes, trade_date).await?;

    let all: Vec<MasterRecord> =
        outcomes.iter().flat_map(|o| o.master().report.records.iter().cloned()).collect();
    let universe = match select_universe(&config.source, &config.policy, &all, trading_enabled) {
        Ok(u) => u,
        Err(e) => {
            events
                .record(
                    "universe.empty",
                    Severity::Critical,
                    &e.to_string(),
                    json!({}),
                    Some(trade_date),
                    None,
                )
                .await?;
            return Err(e.into());
        }
    };
    let report = UniverseReport { trade_date, markets, changes, universe };
    let summary = format!(
        "universe of {} instruments ({} excluded, {} changes)",
        report.universe.selected.len(),
        report.universe.excluded.len(),
        report.changes.len()
    );
    events
        .record("universe.selected", Severity::Info, &summary, report.to_json(), Some(trade_date), None)
        .await?;
    Ok(report)
}

/// Upserts a refreshed market and records the events of one market's outcome.
async fn record_outcome(
    store: &Store,
    config: &UniverseConfig,
    outcome: &RefreshOutcome,
    current: &[MasterRecord],
    now: DateTime<Utc>,
    trade_date: NaiveDate,
    diffed: &[Market],
) -> Result<MarketReport, StoreError> {
    let events = store.events();
    let master = outcome.master();
    let market = master.market;
    let freshness = master.freshness(now, |d| config.is_publication_day(d));
    let bad_lines: Vec<usize> = master.report.bad.iter().map(|b| b.line).collect();
    let (source, upsert) = match outcome {
        RefreshOutcome::Updated { persist_error, .. } => {
            let stats = upsert_instruments(store, &[market], current, now).await?;
            let message = format!(
                "{market} master updated: {} records, {} bad, {} delisted{}",
                master.report.records.len(),
                bad_lines.len(),
                stats.deactivated,
                if diffed.contains(&market) { "" } else { " (initial load)" }
            );
            events
                .record(
                    "universe.master_updated",
                    Severity::Info,
                    &message,
                    json!({ "market": market, "sha256": master.sha256, "records": master.report.records.len(),
                            "deactivated": stats.deactivated,
                            "cache_error": persist_error.as_ref().map(ToString::to_string) }),
                    Some(trade_date),
                    None,
                )
                .await?;
            (MasterSource::Downloaded, Some(stats))
        }
        RefreshOutcome::KeptLastGood { error, .. } => {
            events
                .record(
                    "universe.master_kept_last_good",
                    Severity::Warning,
                    &format!("{market} master download refused, last good copy kept: {error}"),
                    json!({ "market": market, "downloaded_at": master.downloaded_at,
                            "retryable": error.is_retryable() }),
                    Some(trade_date),
                    None,
                )
                .await?;
            (MasterSource::KeptLastGood { error: error.to_string() }, None)
        }
    };
    if !master.report.bad.is_empty() {
        let first: Vec<String> =
            master.report.bad.iter().take(BAD_LINES_IN_EVENT).map(ToString::to_string).collect();
        events
            .record(
                "universe.master_bad_records",
                Severity::Warning,
                &format!("{market} master: {} bad records skipped", bad_lines.len()),
                json!({ "market": market, "count": bad_lines.len(), "first": first }),
                Some(trade_date),
                None,
            )
            .await?;
    }
    if freshness.stale {
        events
            .record(
                "universe.master_stale",
                Severity::Warning,
                &format!(
                    "{market} master from {} predates the publication at {}",
                    freshness.copy_time,
                    freshness.latest_publication.map(|t| t.to_string()).unwrap_or_default()
                ),
                json!({ "market": market, "copy_time": freshness.copy_time,
                        "latest_publication": freshness.latest_publication }),
                Some(trade_date),
                None,
            )
            .await?;
    }
    Ok(MarketReport { market, source, records: master.report.records.len(), bad_lines, freshness, upsert })
}

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod tests;
