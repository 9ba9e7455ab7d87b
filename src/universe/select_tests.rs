//! Unit tests of universe selection.

use super::*;
use crate::domain::instrument::test_record as rec;

fn sym(code: &str) -> Symbol {
    Symbol::new(code).unwrap()
}

fn master() -> Vec<MasterRecord> {
    let mut v = vec![
        rec("005930", Market::Kospi),
        rec("000660", Market::Kospi),
        rec("0001A0", Market::Kosdaq),
        rec("035720", Market::Kosdaq),
        rec("012210", Market::Konex),
        rec("069500", Market::Kospi),
        rec("111110", Market::Kospi),
        rec("222220", Market::Kosdaq),
    ];
    v[0].prev_volume = 5_000;
    v[1].halted = true;
    v[2].admin_issue = true;
    v[3].warning = MarketWarning::Warning;
    v[5].group = SecurityGroup::Etf;
    v[6].flags.liquidation_trading = true;
    v[7].prev_volume = 10;
    v
}

fn reasons(u: &Universe) -> Vec<(&str, ExclusionReason)> {
    u.excluded.iter().map(|e| (e.symbol.as_str(), e.reason.clone())).collect()
}

#[test]
fn symbol_list_keeps_configured_order_and_explains_every_exclusion() {
    let list = ["069500", "000660", "999990", "005930", "0001A0", "035720", "111110", "069500"];
    let source = UniverseSource::Symbols(list.iter().map(|c| sym(c)).collect());
    let u = select_universe(&source, &ExclusionPolicy::default(), &master(), true).unwrap();
    assert_eq!(u.symbols(), [sym("069500"), sym("005930")]);
    assert_eq!(
        reasons(&u),
        [
            ("000660", ExclusionReason::Halted),
            ("999990", ExclusionReason::NotListed),
            ("0001A0", ExclusionReason::AdministrativeIssue),
            ("035720", ExclusionReason::MarketWarning { level: MarketWarning::Warning }),
            ("111110", ExclusionReason::Flagged { flags: 1 }),
            ("069500", ExclusionReason::Duplicate),
        ]
    );
    assert_eq!(u.exclusion_counts().get("HALTED"), Some(&1));
}

#[test]
fn the_policy_is_configurable_but_halts_always_exclude() {
    let permissive =
        ExclusionPolicy { admin_issue: false, warning_at_or_above: None, flags: InstrumentFlags::default() };
    let all: Vec<Symbol> = master().iter().map(|r| r.symbol.clone()).collect();
    let u = select_universe(&UniverseSource::Symbols(all), &permissive, &master(), true).unwrap();
    assert_eq!(reasons(&u), [("000660", ExclusionReason::Halted)]);
    let strict =
        ExclusionPolicy { warning_at_or_above: Some(MarketWarning::Caution), ..ExclusionPolicy::default() };
    let mut m = master();
    m[0].warning = MarketWarning::Caution;
    let u = select_universe(&UniverseSource::Symbols(vec![sym("005930")]), &strict, &m, false).unwrap();
    assert_eq!(reasons(&u), [("005930", ExclusionReason::MarketWarning { level: MarketWarning::Caution })]);
}

#[test]
fn rule_filters_by_market_group_and_liquidity_and_ranks_by_turnover() {
    let rule = UniverseRule { min_prev_volume: 100, max_symbols: Some(1), ..UniverseRule::default() };
    let mut m = master();
    m.push(rec("333330", Market::Kosdaq));
    m.push(rec("444440", Market::Kospi));
    m[9].base_price = Decimal::from(50);
    let u = select_universe(&UniverseSource::Rule(rule), &ExclusionPolicy::default(), &m, true).unwrap();
    assert_eq!(u.symbols(), [sym("005930")]);
    let r = reasons(&u);
    assert!(r.contains(&("012210", ExclusionReason::MarketNotSelected)));
    assert!(r.contains(&("069500", ExclusionReason::GroupNotSelected)));
    assert!(r.contains(&("222220", ExclusionReason::LowVolume)));
    assert!(r.contains(&("000660", ExclusionReason::Halted)));
    assert!(r.contains(&("333330", ExclusionReason::BeyondMaxSymbols)));
    assert!(r.contains(&("444440", ExclusionReason::BeyondMaxSymbols)));
    assert_eq!(r.len() + 1, m.len());

    let by_turnover = UniverseRule { min_prev_turnover: Decimal::from(1_000_000), ..UniverseRule::default() };
    let u =
        select_universe(&UniverseSource::Rule(by_turnover), &ExclusionPolicy::default(), &m, true).unwrap();
    assert_eq!(u.symbols(), [sym("005930"), sym("333330")]);
    assert!(reasons(&u).contains(&("444440", ExclusionReason::LowTurnover)));
}

#[test]
fn an_empty_universe_is_refused_only_when_trading() {
    let source = UniverseSource::Symbols(vec![sym("000660"), sym("999990")]);
    let policy = ExclusionPolicy::default();
    assert_eq!(select_universe(&source, &policy, &master(), true), Err(UniverseError::Empty { excluded: 2 }));
    let u = select_universe(&source, &policy, &master(), false).unwrap();
    assert!(u.selected.is_empty());
    let nothing = UniverseSource::Symbols(Vec::new());
    assert_eq!(
        select_universe(&nothing, &policy, &master(), true),
        Err(UniverseError::Empty { excluded: 0 })
    );
}

#[test]
fn configuration_deserializes_with_defaults_and_rejects_unknown_keys() {
    let source: UniverseSource = serde_json::from_str(
        r#"{"rule": {"markets": ["KOSPI"], "groups": ["ST", "EF"], "max_symbols": 30}}"#,
    )
    .unwrap();
    let UniverseSource::Rule(rule) = source else { panic!("expected a rule") };
    assert_eq!((rule.markets, rule.groups.len(), rule.max_symbols), (vec![Market::Kospi], 2, Some(30)));
    let policy: ExclusionPolicy =
        serde_json::from_str(r#"{"warning_at_or_above": "RISK", "flags": {"spac": true}}"#).unwrap();
    assert!(policy.admin_issue && policy.flags.spac && !policy.flags.liquidation_trading);
    assert!(serde_json::from_str::<ExclusionPolicy>(r#"{"halted": false}"#).is_err());
    assert!(serde_json::from_str::<UniverseSource>(r#"{"symbols": ["00593"]}"#).is_err());
}
