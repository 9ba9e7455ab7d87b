//! Unit tests of the master-file parser against the vendor samples, field by field.

use std::io::Write;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::*;

const KOSPI: &[u8] = include_bytes!("../../tests/fixtures/master/kospi_code.sample.mst");
const KOSDAQ: &[u8] = include_bytes!("../../tests/fixtures/master/kosdaq_code.sample.mst");
const KONEX: &[u8] = include_bytes!("../../tests/fixtures/master/konex_code.sample.mst");
const LAYOUTS_JSON: &str = include_str!("master_file_layouts.json");

fn lenient() -> ParseOptions {
    ParseOptions { max_bad_records: 100, max_bad_fraction: 1.0, ..ParseOptions::default() }
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn find<'a>(report: &'a ParseReport, code: &str) -> &'a MasterRecord {
    report.records.iter().find(|r| r.symbol.as_str() == code).unwrap()
}

fn sample_lines(data: &[u8]) -> Vec<Vec<u8>> {
    data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

fn zip_of(member: &str, data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file(member, zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap().into_inner()
}

#[test]
fn kospi_sample_records_match_documented_values() {
    let report = parse_master(Market::Kospi, KOSPI, &ParseOptions::default()).unwrap();
    assert!(report.bad.is_empty(), "{:?}", report.bad);
    let codes: Vec<&str> = report.records.iter().map(|r| r.symbol.as_str()).collect();
    assert_eq!(codes, ["005930", "000660", "069500", "0000D0", "Q500061"]);

    let s = find(&report, "005930");
    assert_eq!(s.isin, "KR7005930003");
    assert_eq!(s.name, "삼성전자");
    assert_eq!((s.market, s.group.clone()), (Market::Kospi, SecurityGroup::Stock));
    assert_eq!((s.halted, s.admin_issue, s.warning), (false, false, MarketWarning::None));
    assert_eq!((s.base_price, s.lot_size), (Decimal::from(299_500), 1));
    assert_eq!((s.listed_on, s.prev_volume), (date(1975, 6, 11), 30_195_334));
    assert_eq!((s.face_value, s.listed_shares), (Some(Decimal::from(100)), Some(5_846_278)));
    assert_eq!((s.margin_rate_pct, s.prev_market_cap_eok), (Some(60), Some(17_509_604)));
    assert_eq!(s.flags, InstrumentFlags { credit_available: true, ..InstrumentFlags::default() });
    assert_eq!(s.prev_turnover(), Decimal::from(30_195_334_u64 * 299_500));

    let h = find(&report, "000660");
    assert_eq!((h.isin.as_str(), h.name.as_str()), ("KR7000660001", "SK하이닉스"));
    assert_eq!(
        (h.base_price, h.prev_volume, h.listed_on),
        (Decimal::from(2_289_000), 6_229_499, date(1996, 12, 26))
    );
    assert_eq!((h.face_value, h.listed_shares), (Some(Decimal::from(5000)), Some(712_702)));

    let k = find(&report, "069500");
    assert_eq!((k.name.as_str(), k.group.clone()), ("KODEX 200", SecurityGroup::Etf));
    assert_eq!(
        (k.base_price, k.prev_volume, k.listed_on),
        (Decimal::from(129_990), 23_583_704, date(2002, 10, 14))
    );
    assert_eq!((k.margin_rate_pct, k.face_value), (Some(100), Some(Decimal::ZERO)));
    assert!(!k.flags.credit_available);

    let t = find(&report, "0000D0");
    assert_eq!(t.isin, "KR70000D0009");
    assert_eq!(t.name, "TIGER 엔비디아미국채커버드콜밸런스(합성)");
    assert_eq!(t.group, SecurityGroup::Etf);
    assert_eq!(
        (t.base_price, t.prev_volume, t.listed_on),
        (Decimal::from(10_065), 83_110, date(2024, 12, 17))
    );
    assert_eq!(t.prev_market_cap_eok, Some(709));

    let e = find(&report, "Q500061");
    assert_eq!((e.isin.as_str(), e.group.clone()), ("KRG500000614", SecurityGroup::Etn));
    assert_eq!(e.name, "신한 인버스 코스피 200 선물 ETN");
    assert_eq!((e.base_price, e.prev_volume, e.listed_on), (Decimal::from(2555), 11_633, date(2021, 10, 21)));
    assert_eq!((e.lot_size, e.margin_rate_pct), (1, Some(100)));
}

#[test]
fn kosdaq_and_konex_sample_records_match_documented_values() {
    let report = parse_master(Market::Kosdaq, KOSDAQ, &ParseOptions::default()).unwrap();
    assert!(report.bad.is_empty(), "{:?}", report.bad);
    assert_eq!(report.records.len(), 2);
    let d = find(&report, "900110");
    assert_eq!((d.isin.as_str(), d.name.as_str()), ("HK0000057197", "딥커머스"));
    assert_eq!((d.market, d.group.clone()), (Market::Kosdaq, SecurityGroup::ForeignStock));
    assert_eq!((d.base_price, d.prev_volume, d.listed_on), (Decimal::from(1221), 283_786, date(2010, 4, 23)));
    assert_eq!((d.listed_shares, d.prev_market_cap_eok), (Some(12_291), Some(150)));
    let h = find(&report, "003380");
    assert_eq!((h.name.as_str(), h.group.clone()), ("하림지주", SecurityGroup::Stock));
    assert_eq!((h.base_price, h.prev_volume, h.listed_on), (Decimal::from(9490), 408_994, date(2017, 6, 30)));
    assert_eq!((h.margin_rate_pct, h.prev_market_cap_eok), (Some(60), Some(10_629)));
    assert!(h.flags.credit_available && !h.flags.investment_alert && !h.halted);

    let konex = parse_master(Market::Konex, KONEX, &ParseOptions::default()).unwrap();
    let [s] = konex.records.as_slice() else { panic!("expected one KONEX record") };
    assert_eq!((s.symbol.as_str(), s.isin.as_str(), s.name.as_str()), ("012210", "KR7012210001", "삼미금속"));
    assert_eq!((s.market, s.group.clone()), (Market::Konex, SecurityGroup::Stock));
    assert_eq!((s.base_price, s.lot_size, s.prev_volume), (Decimal::from(3330), 1, 61));
    assert_eq!((s.listed_on, s.face_value), (date(2023, 5, 16), Some(Decimal::from(1000))));
    assert_eq!((s.margin_rate_pct, s.prev_market_cap_eok), (Some(100), Some(658)));
}

#[test]
fn first_kospi_sample_matches_the_documented_example_record() {
    let doc: serde_json::Value = serde_json::from_str(LAYOUTS_JSON).unwrap();
    let example = doc["example_record_kospi"].as_str().unwrap();
    let (head, tail) = example.split_once("<pad to 40 bytes>").unwrap();
    let tail = tail.trim_end_matches("...");
    let (head_bytes, _, _) = EUC_KR.encode(head);
    let line = &sample_lines(KOSPI)[0];
    assert!(line.starts_with(&head_bytes));
    assert_eq!(&line[61..61 + tail.len()], tail.as_bytes());
}

#[test]
fn status_fields_are_read_from_their_offsets() {
    let mut lines = sample_lines(KOSPI);
    let l = &mut lines[0];
    l[121] = b'Y'; // trht_yn
    l[123] = b'Y'; // mang_issu_yn
    l[124..126].copy_from_slice(b"03");
    l[122] = b'Y'; // sltr_yn
    l[93] = b'2'; // short_over_cls_code
    l[90] = b'Y'; // SPAC
    l[219] = b'1'; // preferred
    let report = parse_master(Market::Kospi, &join(&lines), &ParseOptions::default()).unwrap();
    let r = &report.records[0];
    assert_eq!((r.halted, r.admin_issue, r.warning), (true, true, MarketWarning::Risk));
    let f = r.flags;
    assert!(f.liquidation_trading && f.short_term_overheat && f.spac && f.preferred);
    assert!(!f.abnormal_surge && !f.low_liquidity);
}

#[test]
fn bad_records_are_skipped_with_their_line_numbers() {
    let mut lines = sample_lines(KOSPI);
    lines[1].truncate(200);
    lines[2][102..111].copy_from_slice(b"0001x9500"); // base price
    lines[3][21] = 0xFF; // not CP949
    lines[4][121] = b'X'; // halted flag
    let mut dup = sample_lines(KOSPI)[0].clone();
    dup[21..25].copy_from_slice(b"DUPE");
    lines.push(dup);
    let report = parse_master(Market::Kospi, &join(&lines), &lenient()).unwrap();
    assert_eq!(report.records.len(), 1);
    let got: Vec<(usize, BadRecordReason)> = report.bad.iter().map(|b| (b.line, b.reason.clone())).collect();
    let v = |field: &'static str, value: &str| BadRecordReason::InvalidValue { field, value: value.into() };
    assert_eq!(
        got,
        vec![
            (2, BadRecordReason::WrongLength { expected: 288, actual: 200 }),
            (3, v("stck_sdpr", "0001x9500")),
            (4, BadRecordReason::Undecodable { field: "hts_kor_isnm" }),
            (5, v("trht_yn", "X")),
            (6, BadRecordReason::Duplicate("005930".into())),
        ]
    );
    assert_eq!(report.bad[0].to_string(), "line 2: record is 200 bytes, expected 288");
}

#[test]
fn crlf_and_missing_final_lf_are_tolerated() {
    let crlf: Vec<u8> =
        KOSPI.iter().flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] }).collect();
    let no_final_lf = &KOSPI[..KOSPI.len() - 1];
    for data in [crlf.as_slice(), no_final_lf] {
        let report = parse_master(Market::Kospi, data, &ParseOptions::default()).unwrap();
        assert_eq!((report.records.len(), report.bad.len()), (5, 0));
    }
}

#[test]
fn bad_files_are_refused_whole() {
    let opts = ParseOptions::default();
    assert_eq!(
        parse_master(Market::Kospi, b"", &opts),
        Err(MasterFileError::Empty { market: Market::Kospi })
    );
    assert!(matches!(
        parse_master(Market::Kospi, KOSDAQ, &opts),
        Err(MasterFileError::WrongRecordSize { expected: 288, wrong: 2, lines: 2, .. })
    ));
    let mut lines = sample_lines(KOSPI);
    lines[4][121] = b'X';
    let err = parse_master(Market::Kospi, &join(&lines), &opts).unwrap_err();
    assert!(
        matches!(err, MasterFileError::TooManyBadRecords { bad: 1, lines: 5, ref first, .. } if first.line == 5)
    );
    let counted = ParseOptions { max_bad_records: 0, max_bad_fraction: 1.0, ..opts };
    assert!(parse_master(Market::Kospi, &join(&lines), &counted).is_err());
    let tiny = ParseOptions { max_file_bytes: 100, ..opts };
    assert!(matches!(parse_master(Market::Kospi, KOSPI, &tiny), Err(MasterFileError::TooLarge { .. })));
}

#[test]
fn archives_yield_their_member_or_a_typed_error() {
    let zip = zip_of("kospi_code.mst", KOSPI);
    assert_eq!(unzip_master(Market::Kospi, &zip, 1 << 20).unwrap(), KOSPI);
    assert!(matches!(
        unzip_master(Market::Kosdaq, &zip, 1 << 20),
        Err(MasterFileError::MissingMember { .. })
    ));
    assert!(matches!(
        unzip_master(Market::Kospi, &zip, 100),
        Err(MasterFileError::TooLarge { limit: 100, .. })
    ));
    assert!(matches!(
        unzip_master(Market::Kospi, b"PK not a zip", 1 << 20),
        Err(MasterFileError::NotZip { .. })
    ));
    assert!(matches!(unzip_master(Market::Kospi, KOSPI, 1 << 20), Err(MasterFileError::NotZip { .. })));
}
