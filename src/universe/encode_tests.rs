//! Unit and property tests: encoded records parse back to themselves.

use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;
use crate::domain::Symbol;
use crate::domain::instrument::{InstrumentFlags, SecurityGroup, test_record};
use crate::universe::master::{ParseOptions, parse_master, parse_record};

const KOSPI: &[u8] = include_bytes!("../../tests/fixtures/master/kospi_code.sample.mst");
const KOSDAQ: &[u8] = include_bytes!("../../tests/fixtures/master/kosdaq_code.sample.mst");
const KONEX: &[u8] = include_bytes!("../../tests/fixtures/master/konex_code.sample.mst");

#[test]
fn sample_records_survive_a_round_trip() {
    for (market, data) in [(Market::Kospi, KOSPI), (Market::Kosdaq, KOSDAQ), (Market::Konex, KONEX)] {
        let parsed = parse_master(market, data, &ParseOptions::default()).unwrap();
        let file = encode_master(&parsed.records).unwrap();
        assert_eq!(file.len(), data.len(), "{market}: same record sizes");
        let again = parse_master(market, &file, &ParseOptions::default()).unwrap();
        assert_eq!(again, parsed, "{market}");
    }
}

#[test]
fn values_that_do_not_fit_are_refused() {
    let base = test_record("005930", Market::Kospi);
    let misfit = |r: &MasterRecord| matches!(encode_record(r), Err(EncodeError::DoesNotFit { .. }));
    assert!(misfit(&MasterRecord { name: "가".repeat(21), ..base.clone() }));
    assert!(misfit(&MasterRecord { name: "smile 😀".into(), ..base.clone() }));
    assert!(misfit(&MasterRecord { base_price: Decimal::new(1005, 1), ..base.clone() }));
    assert!(misfit(&MasterRecord { base_price: Decimal::from(-1), ..base.clone() }));
    assert!(misfit(&MasterRecord { base_price: Decimal::from(1_000_000_000_u64), ..base.clone() }));
    let konex = MasterRecord {
        market: Market::Konex,
        flags: InstrumentFlags { spac: true, ..InstrumentFlags::default() },
        ..base.clone()
    };
    assert_eq!(
        encode_record(&konex),
        Err(EncodeError::NoSuchField { symbol: "005930".into(), market: Market::Konex, flag: "spac" })
    );
    assert_eq!(encode_record(&base).unwrap().len(), 288);
}

fn arb_record() -> impl Strategy<Value = MasterRecord> {
    let code = prop_oneof!["[0-9]{6}", "[0-9]{4}[A-Z][0-9]", "Q[0-9]{6}", "[A-Z][0-9A-Z]{8}"];
    let name =
        prop_oneof!["[A-Z0-9 ]{0,30}[A-Z0-9]", "[가-힣]{1,20}", "(KODEX|TIGER) [가-힣 ]{0,10}[0-9]{1,3}"];
    let group = prop::sample::select(vec!["ST", "EF", "EN", "RT", "DR", "FS", "BC", "SW", "PF"]);
    let warning = prop::sample::select(vec![
        MarketWarning::None,
        MarketWarning::Caution,
        MarketWarning::Warning,
        MarketWarning::Risk,
    ]);
    let market = prop::sample::select(Market::ALL.to_vec());
    let numbers = (0..999_999_999_u64, 1..99_999_u32, any::<u32>(), prop::option::of(0..999_u16));
    let extras = (prop::option::of(0..1_000_000_u64), prop::option::of(0..999_999_999_u64), 0..5000_u32);
    (code, name, group, warning, market, numbers, extras, any::<u32>(), any::<(bool, bool)>()).prop_map(
        |(
            code,
            name,
            group,
            warning,
            market,
            (price, lot, volume, margin),
            (face, cap, days),
            bits,
            (h, a),
        )| {
            let mut flags = InstrumentFlags::from_bits(bits);
            let layout = market.layout();
            flags.low_liquidity &= layout.low_liquidity.is_some();
            flags.spac &= layout.spac.is_some();
            flags.investment_alert &= layout.investment_alert.is_some();
            flags.short_term_overheat &= layout.short_term_overheat.is_some();
            let listed_on = NaiveDate::from_ymd_opt(1956, 3, 3)
                .and_then(|d| d.checked_add_days(chrono::Days::new(u64::from(days) * 7)))
                .filter(|_| days % 10 != 0);
            MasterRecord {
                isin: format!("KR7{:0>9}", &code[code.len() - 6..]),
                symbol: Symbol::new(code).unwrap(),
                name: name.trim_end().to_owned(),
                market,
                group: SecurityGroup::from_code(group),
                halted: h,
                admin_issue: a,
                warning,
                base_price: Decimal::from(price),
                lot_size: lot,
                listed_on,
                prev_volume: u64::from(volume),
                flags,
                face_value: face.map(Decimal::from),
                listed_shares: cap.map(|c| c * 3),
                margin_rate_pct: margin,
                prev_market_cap_eok: cap,
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn encoded_records_parse_back_to_themselves(record in arb_record()) {
        let line = encode_record(&record).unwrap();
        prop_assert_eq!(line.len(), record.market.layout().record_bytes);
        prop_assert_eq!(parse_record(record.market.layout(), &line), Ok(record));
    }
}
