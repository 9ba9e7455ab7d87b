//! Universe selection: the configured symbol list (or a market/liquidity rule) intersected with the
//! tradable instruments, with a reason for every symbol left out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::Symbol;
use crate::domain::instrument::{InstrumentFlags, Market, MarketWarning, MasterRecord, SecurityGroup};

/// Where the candidate symbols come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UniverseSource {
    /// A fixed list, kept in the configured order.
    Symbols(Vec<Symbol>),
    /// Every instrument that passes the rule, most traded first.
    Rule(UniverseRule),
}

/// A rule that picks candidates from the master by market, group and liquidity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UniverseRule {
    /// Markets to draw from.
    pub markets: Vec<Market>,
    /// Security groups to draw from.
    pub groups: Vec<SecurityGroup>,
    /// Minimum previous-day volume in shares.
    pub min_prev_volume: u64,
    /// Minimum previous-day turnover in KRW (volume × base price).
    pub min_prev_turnover: Decimal,
    /// At most this many symbols (the most traded by turnover are kept).
    pub max_symbols: Option<usize>,
}

impl Default for UniverseRule {
    fn default() -> Self {
        Self {
            markets: vec![Market::Kospi, Market::Kosdaq],
            groups: vec![SecurityGroup::Stock],
            min_prev_volume: 0,
            min_prev_turnover: Decimal::ZERO,
            max_symbols: None,
        }
    }
}

/// Which instruments are not tradable for the service. Halted instruments are always excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExclusionPolicy {
    /// Exclude administrative issues (관리종목).
    pub admin_issue: bool,
    /// Exclude instruments whose market warning is at or above this level (`None`: keep all).
    pub warning_at_or_above: Option<MarketWarning>,
    /// Exclude instruments carrying any of these flags (only the `true` fields count).
    pub flags: InstrumentFlags,
}

impl Default for ExclusionPolicy {
    fn default() -> Self {
        Self {
            admin_issue: true,
            warning_at_or_above: Some(MarketWarning::Warning),
            flags: InstrumentFlags {
                liquidation_trading: true,
                short_term_overheat: true,
                ..InstrumentFlags::default()
            },
        }
    }
}

/// Why a symbol is not in the universe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExclusionReason {
    /// The configured symbol is not in today's master.
    NotListed,
    /// The configured symbol appears twice in the list.
    Duplicate,
    /// Trading is halted.
    Halted,
    /// Administrative issue.
    AdministrativeIssue,
    /// Market warning at or above the configured level.
    MarketWarning {
        /// The instrument's level.
        level: MarketWarning,
    },
    /// An excluded status flag is set (the flags in common with the policy, as bits).
    Flagged {
        /// The flags that matched, packed with [`InstrumentFlags::bits`].
        flags: u32,
    },
    /// The rule does not draw from this market.
    MarketNotSelected,
    /// The rule does not draw from this security group.
    GroupNotSelected,
    /// Previous-day volume below the rule's minimum.
    LowVolume,
    /// Previous-day turnover below the rule's minimum.
    LowTurnover,
    /// Passed every check but fell beyond the rule's maximum count.
    BeyondMaxSymbols,
}

impl ExclusionReason {
    /// Returns the stable reason kind (`HALTED`, `NOT_LISTED`, ...).
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::NotListed => "NOT_LISTED",
            Self::Duplicate => "DUPLICATE",
            Self::Halted => "HALTED",
            Self::AdministrativeIssue => "ADMINISTRATIVE_ISSUE",
            Self::MarketWarning { .. } => "MARKET_WARNING",
            Self::Flagged { .. } => "FLAGGED",
            Self::MarketNotSelected => "MARKET_NOT_SELECTED",
            Self::GroupNotSelected => "GROUP_NOT_SELECTED",
            Self::LowVolume => "LOW_VOLUME",
            Self::LowTurnover => "LOW_TURNOVER",
            Self::BeyondMaxSymbols => "BEYOND_MAX_SYMBOLS",
        }
    }
}

impl fmt::Display for ExclusionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MarketWarning { level } => write!(f, "MARKET_WARNING({level})"),
            Self::Flagged { flags } => write!(f, "FLAGGED({flags:#x})"),
            other => f.write_str(other.kind()),
        }
    }
}

/// A symbol left out of the universe and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Excluded {
    /// The symbol.
    pub symbol: Symbol,
    /// The first reason found.
    pub reason: ExclusionReason,
}

/// The selected universe and the excluded candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Universe {
    /// Tradable instruments, in configured order (list) or by turnover (rule).
    pub selected: Vec<MasterRecord>,
    /// Every candidate left out, with its reason.
    pub excluded: Vec<Excluded>,
}

impl Universe {
    /// Returns the selected symbols in order.
    pub fn symbols(&self) -> Vec<Symbol> {
        self.selected.iter().map(|r| r.symbol.clone()).collect()
    }

    /// Returns how many candidates each reason excluded, keyed by [`ExclusionReason::kind`].
    pub fn exclusion_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for e in &self.excluded {
            *counts.entry(e.reason.kind()).or_insert(0) += 1;
        }
        counts
    }
}

/// Errors of universe selection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UniverseError {
    /// Nothing is tradable while trading is enabled.
    #[error("universe is empty while trading is enabled ({excluded} candidates excluded)")]
    Empty {
        /// How many candidates were excluded.
        excluded: usize,
    },
}

/// Returns the reason an instrument is not tradable under `policy`, if any.
pub fn untradable_reason(record: &MasterRecord, policy: &ExclusionPolicy) -> Option<ExclusionReason> {
    if record.halted {
        return Some(ExclusionReason::Halted);
    }
    if policy.admin_issue && record.admin_issue {
        return Some(ExclusionReason::AdministrativeIssue);
    }
    if policy.warning_at_or_above.is_some_and(|min| min != MarketWarning::None && record.warning >= min) {
        return Some(ExclusionReason::MarketWarning { level: record.warning });
    }
    let matched = record.flags.bits() & policy.flags.bits();
    (matched != 0).then_some(ExclusionReason::Flagged { flags: matched })
}

fn rule_reason(record: &MasterRecord, rule: &UniverseRule) -> Option<ExclusionReason> {
    if !rule.markets.contains(&record.market) {
        Some(ExclusionReason::MarketNotSelected)
    } else if !rule.groups.contains(&record.group) {
        Some(ExclusionReason::GroupNotSelected)
    } else if record.prev_volume < rule.min_prev_volume {
        Some(ExclusionReason::LowVolume)
    } else if record.prev_turnover() < rule.min_prev_turnover {
        Some(ExclusionReason::LowTurnover)
    } else {
        None
    }
}

/// Selects the day's universe from today's instruments.
///
/// # Errors
/// Returns [`UniverseError::Empty`] when nothing is selected and `trading_enabled` is true.
pub fn select_universe(
    source: &UniverseSource,
    policy: &ExclusionPolicy,
    instruments: &[MasterRecord],
    trading_enabled: bool,
) -> Result<Universe, UniverseError> {
    let mut selected = Vec::new();
    let mut excluded = Vec::new();
    let mut exclude = |symbol: &Symbol, reason| excluded.push(Excluded { symbol: symbol.clone(), reason });
    match source {
        UniverseSource::Symbols(list) => {
            let by_symbol: HashMap<&Symbol, &MasterRecord> =
                instruments.iter().map(|r| (&r.symbol, r)).collect();
            let mut seen = HashSet::new();
            for symbol in list {
                let reason = if !seen.insert(symbol) {
                    Some(ExclusionReason::Duplicate)
                } else {
                    match by_symbol.get(symbol) {
                        None => Some(ExclusionReason::NotListed),
                        Some(record) => {
                            let reason = untradable_reason(record, policy);
                            if reason.is_none() {
                                selected.push((*record).clone());
                            }
                            reason
                        }
                    }
                };
                if let Some(reason) = reason {
                    exclude(symbol, reason);
                }
            }
        }
        UniverseSource::Rule(rule) => {
            let mut passed: Vec<&MasterRecord> = Vec::new();
            for record in instruments {
                match rule_reason(record, rule).or_else(|| untradable_reason(record, policy)) {
                    Some(reason) => exclude(&record.symbol, reason),
                    None => passed.push(record),
                }
            }
            passed.sort_by(|a, b| {
                b.prev_turnover().cmp(&a.prev_turnover()).then_with(|| a.symbol.cmp(&b.symbol))
            });
            let cap = rule.max_symbols.unwrap_or(usize::MAX);
            for (rank, record) in passed.into_iter().enumerate() {
                if rank < cap {
                    selected.push(record.clone());
                } else {
                    exclude(&record.symbol, ExclusionReason::BeyondMaxSymbols);
                }
            }
        }
    }
    if selected.is_empty() && trading_enabled {
        return Err(UniverseError::Empty { excluded: excluded.len() });
    }
    Ok(Universe { selected, excluded })
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
