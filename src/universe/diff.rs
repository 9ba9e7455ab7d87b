//! The day's differences between the stored instruments and today's master files (new listings,
//! delistings, halts, administrative issues, warnings, renames), for the caller to record as events.

use std::collections::BTreeMap;

use crate::domain::Symbol;
use crate::domain::instrument::{InstrumentChange, Market, MasterRecord};

/// Compares yesterday's instruments with today's master records over the markets in `scope`
/// (pass only the markets whose master was refreshed, so a market that kept its old copy does not
/// read as delisted). Returns the changes ordered by symbol, then in the enum's order.
pub fn diff_instruments(
    previous: &[MasterRecord],
    current: &[MasterRecord],
    scope: &[Market],
) -> Vec<InstrumentChange> {
    fn index<'a>(records: &'a [MasterRecord], scope: &[Market]) -> BTreeMap<&'a Symbol, &'a MasterRecord> {
        records.iter().filter(|r| scope.contains(&r.market)).map(|r| (&r.symbol, r)).collect()
    }
    let before = index(previous, scope);
    let after = index(current, scope);
    let mut changes = Vec::new();
    for (symbol, old) in &before {
        if !after.contains_key(symbol) {
            changes.push(InstrumentChange::Delisting {
                symbol: (*symbol).clone(),
                name: old.name.clone(),
                market: old.market,
            });
        }
    }
    for (symbol, new) in &after {
        let Some(old) = before.get(symbol) else {
            changes.push(InstrumentChange::NewListing {
                symbol: (*symbol).clone(),
                name: new.name.clone(),
                market: new.market,
                group: new.group.clone(),
            });
            continue;
        };
        let sym = || (*symbol).clone();
        if old.halted != new.halted {
            changes.push(InstrumentChange::TradingHalt { symbol: sym(), halted: new.halted });
        }
        if old.admin_issue != new.admin_issue {
            changes
                .push(InstrumentChange::AdministrativeIssue { symbol: sym(), designated: new.admin_issue });
        }
        if old.warning != new.warning {
            changes.push(InstrumentChange::MarketWarning {
                symbol: sym(),
                from: old.warning,
                to: new.warning,
            });
        }
        if old.name != new.name {
            changes.push(InstrumentChange::NameChange {
                symbol: sym(),
                from: old.name.clone(),
                to: new.name.clone(),
            });
        }
        if old.market != new.market {
            changes.push(InstrumentChange::MarketTransfer {
                symbol: sym(),
                from: old.market,
                to: new.market,
            });
        }
    }
    changes.sort_by(|a, b| a.symbol().cmp(b.symbol()));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::instrument::{MarketWarning, test_record as rec};

    const BOTH: &[Market] = &[Market::Kospi, Market::Kosdaq];

    #[test]
    fn identical_sets_have_no_changes() {
        let day = vec![rec("005930", Market::Kospi), rec("0001A0", Market::Kosdaq)];
        assert!(diff_instruments(&day, &day, BOTH).is_empty());
    }

    #[test]
    fn listings_delistings_and_status_changes_are_reported_in_symbol_order() {
        let before =
            vec![rec("005930", Market::Kospi), rec("000660", Market::Kospi), rec("035720", Market::Kosdaq)];
        let mut after =
            vec![rec("005930", Market::Kospi), rec("0001A0", Market::Kosdaq), rec("035720", Market::Kospi)];
        after[0].halted = true;
        after[0].admin_issue = true;
        after[0].warning = MarketWarning::Caution;
        after[0].name = "삼성전자우".into();
        let changes = diff_instruments(&before, &after, BOTH);
        let kinds: Vec<(&str, &str)> = changes.iter().map(|c| (c.symbol().as_str(), c.kind())).collect();
        assert_eq!(
            kinds,
            [
                ("0001A0", "NEW_LISTING"),
                ("000660", "DELISTING"),
                ("005930", "TRADING_HALT"),
                ("005930", "ADMINISTRATIVE_ISSUE"),
                ("005930", "MARKET_WARNING"),
                ("005930", "NAME_CHANGE"),
                ("035720", "MARKET_TRANSFER"),
            ]
        );
        assert_eq!(changes[2].to_string(), "005930: trading halted");
        assert_eq!(changes[4].to_string(), "005930: market warning NONE -> CAUTION");
        let json = serde_json::to_value(&changes[6]).unwrap();
        assert_eq!(json["kind"], "MARKET_TRANSFER");
        assert_eq!((json["from"].as_str(), json["to"].as_str()), (Some("KOSDAQ"), Some("KOSPI")));
    }

    #[test]
    fn releases_are_reported_as_the_new_state() {
        let mut before = vec![rec("005930", Market::Kospi)];
        before[0].halted = true;
        before[0].admin_issue = true;
        let after = vec![rec("005930", Market::Kospi)];
        let changes = diff_instruments(&before, &after, BOTH);
        assert_eq!(
            changes,
            [
                InstrumentChange::TradingHalt { symbol: Symbol::new("005930").unwrap(), halted: false },
                InstrumentChange::AdministrativeIssue {
                    symbol: Symbol::new("005930").unwrap(),
                    designated: false
                },
            ]
        );
    }

    #[test]
    fn markets_outside_the_scope_are_not_read_as_delisted() {
        let before = vec![rec("005930", Market::Kospi), rec("035720", Market::Kosdaq)];
        let after = vec![rec("005930", Market::Kospi)];
        assert!(diff_instruments(&before, &after, &[Market::Kospi]).is_empty());
        assert_eq!(diff_instruments(&before, &after, BOTH).len(), 1);
    }
}
