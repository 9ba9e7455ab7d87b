//! Unit and fuzz-style tests of the frame codec.

use proptest::prelude::*;
use rust_decimal_macros::dec;

use chrono::{NaiveDate, NaiveTime};

use super::{
    Decoder, ExecutionRecord, Frame, LayoutDrift, MAX_FRAME_BYTES, Records, parse_decimal, parse_frame,
    parse_hhmmss, parse_yyyymmdd,
};
use crate::domain::Side;
use crate::domain::market::{BookLevel, MarketEvent, NoticeKind, QuoteEvent, SessionPhase, TradeTick};
use crate::kis::ws::crypto::NoticeCipher;
use crate::kis::ws::error::KisWsError;

pub(crate) const TRADE: &str = "005930^093354^71900^5^-100^-0.14^72023.83^72100^72400^71700^71900^71800^1^3052507^219853241700^5105^6937^1832^84.90^1366314^1159996^1^0.39^20.28^090020^5^-200^090820^5^-500^092619^2^200^20230612^20^N^65945^216924^1118750^2199206^0.05^2424142^125.92^0^^72100";
pub(crate) const BOOK: &str = "005930^093730^0^71900^72000^72100^72200^72300^72400^72500^72600^72700^72800^71800^71700^71600^71500^71400^71300^71200^71100^71000^70900^91918^117942^92673^79708^106729^141988^176192^113906^134077^104229^95221^159371^220746^284657^212742^195370^182710^209747^376432^158171^1159362^2095167^0^0^0^0^525579^-72000^5^-100.00^3159115^0^8^0^0^0";
const FILL26: &str = "HTSID^1234567801^0000002891^^02^0^00^0^136480^0000000001^000003190^094941^0^2^2^06010^000000001^김한투^0^1^N^^^^하림^000003190";
const RECEIPT23: &str = "HTSID^1234567801^0000002891^^02^0^01^0^136480^0000000001^000000000^094941^0^1^1^06010^000000001^김한투^하림^10^^하림^";
const KEY: &str = "abcdefghijklmnopabcdefghijklmnop";
const IV: &str = "0123456789abcdef";

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 6, 12).unwrap()
}

fn records(one: &str, n: usize) -> String {
    vec![one; n].join("^")
}

/// What a frame decoded into: its drift first, then its records.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(clippy::large_enum_variant, reason = "a few copies per test")]
enum Item {
    Drift(LayoutDrift),
    Trade(TradeTick),
    Quote(QuoteEvent),
    Execution(ExecutionRecord),
}

fn decode_all(dec: &mut Decoder, text: &str) -> Result<Vec<Item>, KisWsError> {
    let Frame::Data(frame) = parse_frame(text)? else { panic!("not a data frame") };
    let decoded = dec.decode(&frame)?;
    let mut items: Vec<Item> = decoded.drift.into_iter().map(Item::Drift).collect();
    match decoded.records {
        Records::Market(r) => items.extend(r.into_iter().map(|ev| match ev {
            MarketEvent::Trade(t) => Item::Trade(t),
            MarketEvent::Quote(q) => Item::Quote(q),
        })),
        Records::Executions(r) => items.extend(r.into_iter().map(Item::Execution)),
    }
    Ok(items)
}

#[test]
fn decodes_multi_record_trades() {
    let text = format!("0|H0STCNT0|003|{}", records(TRADE, 3));
    let events = decode_all(&mut Decoder::new(date(), None), &text).unwrap();
    assert_eq!(events.len(), 3);
    let Item::Trade(t) = &events[2] else { panic!("{events:?}") };
    assert_eq!(t.symbol.as_str(), "005930");
    assert_eq!((t.price, t.qty, t.change, t.change_rate), (dec!(71900), dec!(1), dec!(-100), dec!(-0.14)));
    assert_eq!(t.cum_value, dec!(219853241700));
    assert_eq!(t.aggressor, Some(Side::Buy));
    assert_eq!(t.phase, SessionPhase::Continuous);
    assert_eq!(t.at.to_rfc3339(), "2023-06-12T00:33:54+00:00");
}

#[test]
fn decodes_book() {
    let text = format!("0|H0STASP0|002|{}", records(BOOK, 2));
    let events = decode_all(&mut Decoder::new(date(), None), &text).unwrap();
    let Item::Quote(q) = &events[1] else { panic!("{events:?}") };
    assert_eq!(q.asks[0], BookLevel { price: dec!(71900), qty: dec!(91918) });
    assert_eq!(q.bids[9], BookLevel { price: dec!(70900), qty: dec!(158171) });
    assert_eq!(
        (q.total_ask_qty, q.total_bid_qty, q.cum_volume),
        (dec!(1159362), dec!(2095167), dec!(3159115))
    );
    assert_eq!(q.expected_price, dec!(0));
    assert_eq!(q.at.to_rfc3339(), "2023-06-12T00:37:30+00:00");
}

#[test]
fn book_fields_off_the_fast_path_decode_like_the_strict_parsers() {
    // A seven-character code, a total of more than eight digits, an after-hours total that is
    // not a number (never parsed: only passed over) and an empty expected quantity each send
    // the record past its fast path.
    let mut f: Vec<&str> = BOOK.split('^').collect();
    (f[0], f[43], f[46], f[47], f[48]) = ("Q500061", "123456789012", "x", "71950", "");
    let text = format!("0|H0STASP0|002|{BOOK}^{}", f.join("^"));
    let events = decode_all(&mut Decoder::new(date(), None), &text).unwrap();
    let Item::Quote(q) = &events[1] else { panic!("{events:?}") };
    assert_eq!(q.symbol.as_str(), "Q500061");
    assert_eq!((q.total_ask_qty, q.total_bid_qty), (dec!(123456789012), dec!(2095167)));
    assert_eq!((q.expected_price, q.expected_qty), (dec!(71950), dec!(0)));
    assert_eq!(
        (q.bids[9], q.cum_volume),
        (BookLevel { price: dec!(70900), qty: dec!(158171) }, dec!(3159115))
    );
    f[44] = "12x";
    let bad = format!("0|H0STASP0|001|{}", f.join("^"));
    assert_eq!(
        decode_all(&mut Decoder::new(date(), None), &bad),
        Err(KisWsError::Field { tr: "H0STASP0".into(), field: "TOTAL_BIDP_RSQN" })
    );
}

/// `record` with every field changed: the last digit of a number advanced (9 to 0), `N` to `Y`.
fn bumped(record: &str) -> String {
    let bump = |f: &str| match f.as_bytes().last() {
        Some(d @ b'0'..=b'9') => format!("{}{}", &f[..f.len() - 1], (d - b'0' + 1) % 10),
        _ if f == "N" => "Y".to_owned(),
        _ => f.to_owned(),
    };
    record.split('^').map(bump).collect::<Vec<_>>().join("^")
}

#[test]
fn every_field_is_parsed_and_a_used_decoder_decodes_like_a_fresh_one() {
    // Every field of the bumped record differs from the original's (checked below), so no field
    // keeps the blank event's value; and a decoder that kept state from an earlier frame (the
    // last trade date) decodes like a fresh one.
    for (tr, one) in [("H0STCNT0", TRADE), ("H0STASP0", BOOK)] {
        let (first, second) = (records(one, 3), format!("{}^{one}", bumped(one)));
        let mut dec = Decoder::new(date(), None);
        decode_all(&mut dec, &format!("0|{tr}|003|{first}")).unwrap();
        let reused = decode_all(&mut dec, &format!("0|{tr}|002|{second}")).unwrap();
        let fresh = decode_all(&mut Decoder::new(date(), None), &format!("0|{tr}|002|{second}")).unwrap();
        assert_eq!(reused, fresh, "{tr}");
        let old = decode_all(&mut Decoder::new(date(), None), &format!("0|{tr}|001|{one}")).unwrap();
        match (&fresh[0], &old[0]) {
            (Item::Trade(a), Item::Trade(b)) => {
                assert_ne!(a.symbol, b.symbol);
                assert_ne!(a.at, b.at);
                let numbers = |t: &TradeTick| {
                    [t.price, t.qty, t.change, t.change_rate, t.open, t.high, t.low, t.best_ask, t.best_bid]
                        .into_iter()
                        .chain([t.cum_volume, t.cum_value])
                        .collect::<Vec<_>>()
                };
                for (x, y) in numbers(a).iter().zip(numbers(b)) {
                    assert_ne!(*x, y);
                }
                assert_ne!(a.aggressor, b.aggressor);
                assert_ne!(a.phase, b.phase);
                assert_ne!(a.halted, b.halted);
            }
            (Item::Quote(a), Item::Quote(b)) => {
                assert_ne!(a.symbol, b.symbol);
                assert_ne!(a.at, b.at);
                assert_ne!(a.phase, b.phase);
                for (x, y) in a.asks.iter().chain(&a.bids).zip(b.asks.iter().chain(&b.bids)) {
                    assert!(x.price != y.price && x.qty != y.qty, "{x:?} {y:?}");
                }
                let numbers = |q: &QuoteEvent| {
                    [q.total_ask_qty, q.total_bid_qty, q.expected_price, q.expected_qty, q.cum_volume]
                };
                for (x, y) in numbers(a).iter().zip(numbers(b)) {
                    assert_ne!(*x, y);
                }
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn decrypts_notices_in_both_layouts_and_filters_accounts() {
    let cipher = NoticeCipher::from_ack(KEY, IV).unwrap();
    let mut dec = Decoder::new(date(), Some("1234567801".into()));
    let text = format!("1|H0STCNI9|002|{}", cipher.encrypt(&format!("{FILL26}^{FILL26}")));
    assert_eq!(decode_all(&mut dec, &text), Err(KisWsError::MissingKey("H0STCNI9".into())));
    dec.set_cipher("H0STCNI9", cipher.clone());
    let events = decode_all(&mut dec, &text).unwrap();
    assert_eq!(events.len(), 2);
    let Item::Execution(ExecutionRecord::Fill(f)) = &events[0] else { panic!("{events:?}") };
    assert_eq!((f.broker_order_no.as_str(), f.branch.as_str()), ("0000002891", "06010"));
    assert_eq!((f.side, f.qty, f.price), (Side::Buy, dec!(1), dec!(3190)));
    let kst = (date(), NaiveTime::from_hms_opt(9, 49, 41).unwrap());
    assert_eq!((f.trade_date, f.exec_time), kst, "the notice's KST date and time, as it says");

    let legacy = format!("1|H0STCNI9|001|{}", cipher.encrypt(RECEIPT23));
    let events = decode_all(&mut dec, &legacy).unwrap();
    let Item::Execution(ExecutionRecord::Notice(n)) = &events[0] else { panic!("{events:?}") };
    assert_eq!((n.kind, n.qty, n.original_order_no.clone()), (NoticeKind::Accepted, dec!(1), None));

    assert!(!format!("{dec:?}").contains("1234567801"), "the account never prints");
    let mut other = Decoder::new(date(), Some("9999999901".into()));
    other.set_cipher("H0STCNI9", cipher);
    assert!(decode_all(&mut other, &text).unwrap().is_empty(), "other accounts' notices are ignored");
}

#[test]
fn notice_kinds_follow_flags() {
    let base: Vec<&str> = RECEIPT23.split('^').collect();
    let with = |i: usize, v: &'static str, j: usize, w: &'static str| {
        let mut f = base.clone();
        f[i] = v;
        f[j] = w;
        format!("0|H0STCNI0|001|{}", f.join("^"))
    };
    let kind = |text: String| match decode_all(&mut Decoder::new(date(), None), &text).unwrap().remove(0) {
        Item::Execution(ExecutionRecord::Notice(n)) => n.kind,
        other => panic!("{other:?}"),
    };
    assert_eq!(kind(with(12, "1", 5, "0")), NoticeKind::Rejected);
    assert_eq!(kind(with(14, "3", 5, "0")), NoticeKind::RemainderCanceled);
    assert_eq!(kind(with(5, "1", 3, "0000002890")), NoticeKind::ModifyAccepted);
    assert_eq!(kind(with(5, "2", 3, "0000002890")), NoticeKind::CancelAccepted);
    assert!(decode_all(&mut Decoder::new(date(), None), &with(13, "9", 5, "0")).is_err());
}

#[test]
fn extra_trailing_fields_are_tolerated_and_reported_once() {
    let wide = format!("{TRADE}^X^Y");
    let text = format!("0|H0STCNT0|002|{wide}^{wide}");
    let mut dec = Decoder::new(date(), None);
    let first = decode_all(&mut dec, &text).unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(first[0], Item::Drift(LayoutDrift { tr_id: "H0STCNT0".into(), expected: 46, observed: 48 }));
    let Item::Trade(t) = &first[2] else { panic!() };
    assert_eq!(t.price, dec!(71900), "records stay aligned after extra fields");
    assert_eq!(decode_all(&mut dec, &text).unwrap().len(), 2, "drift is reported only once");
}

#[test]
fn malformed_frames_are_typed_errors() {
    let mut dec = Decoder::new(date(), None);
    type Check = fn(&KisWsError) -> bool;
    let cases: Vec<(String, Check)> = vec![
        (String::new(), |e| *e == KisWsError::Empty),
        ("0|H0STCNT0".into(), |e| matches!(e, KisWsError::Header(_))),
        ("2|H0STCNT0|001|x".into(), |e| matches!(e, KisWsError::Header(_))),
        ("0|H0STCNT0|000|x".into(), |e| matches!(e, KisWsError::Header(_))),
        ("0|H0STCNT0|1x1|x".into(), |e| matches!(e, KisWsError::Header(_))),
        ("0|H0XXXXX0|001|x".into(), |e| matches!(e, KisWsError::UnsupportedChannel(_))),
        (format!("0|H0STCNT0|002|{TRADE}^1"), |e| matches!(e, KisWsError::RecordSplit { .. })),
        ("0|H0STCNT0|001|005930^1^2".into(), |e| matches!(e, KisWsError::Truncated { .. })),
        (format!("0|H0STCNT0|001|{}", TRADE.replace("71900", "7x900")), |e| {
            matches!(e, KisWsError::Field { .. })
        }),
        ("{not json".into(), |e| matches!(e, KisWsError::Control(_))),
        ("x".repeat(MAX_FRAME_BYTES + 1), |e| matches!(e, KisWsError::Oversized { .. })),
    ];
    for (text, check) in cases {
        let err = decode_all(&mut dec, &text).unwrap_err();
        assert!(check(&err), "{err:?} for {:.40}", text);
    }
}

#[test]
fn control_frames_parse() {
    let ack = r#"{"header":{"tr_id":"H0STCNI0","tr_key":"HTSID","encrypt":"N"},"body":{"rt_cd":"0","msg_cd":"OPSP0000","msg1":"SUBSCRIBE SUCCESS","output":{"iv":"0123456789abcdef","key":"abcdefghijklmnopabcdefghijklmnop"}}}"#;
    let Frame::Ack(a) = parse_frame(ack).unwrap() else { panic!() };
    assert!(a.is_success() && a.cipher.is_some());
    assert_eq!((a.tr_id.as_str(), a.tr_key.as_str()), ("H0STCNI0", "HTSID"));
    let ping = r#"{"header":{"tr_id":"PINGPONG","datetime":"20230612093000"}}"#;
    assert_eq!(parse_frame(ping).unwrap(), Frame::PingPong);
    let over = r#"{"header":{"tr_id":"H0STCNT0","tr_key":"005930"},"body":{"rt_cd":"1","msg_cd":"OPSP0008","msg1":"MAX SUBSCRIBE OVER"}}"#;
    let Frame::Ack(a) = parse_frame(over).unwrap() else { panic!() };
    assert!(!a.is_success());
}

#[test]
fn numbers_parse_strictly() {
    assert_eq!(parse_decimal(b"000003190"), Some(dec!(3190)));
    assert_eq!(parse_decimal(b"-100.00"), Some(dec!(-100.00)));
    assert_eq!(parse_decimal(b""), Some(dec!(0)));
    for bad in [&b"-"[..], b".", b"1.2.3", b"12a", b"1234567890123456789", b" 1"] {
        assert_eq!(parse_decimal(bad), None, "{bad:?}");
    }
    assert_eq!(parse_hhmmss(b"093354"), NaiveTime::from_hms_opt(9, 33, 54));
    assert_eq!(parse_hhmmss(b"256000"), None);
    assert_eq!(parse_yyyymmdd(b"20230230"), None);
}

fn sample_frames() -> Vec<String> {
    let cipher = NoticeCipher::from_ack(KEY, IV).unwrap();
    vec![
        format!("0|H0STCNT0|002|{}", records(TRADE, 2)),
        format!("0|H0STASP0|001|{BOOK}"),
        format!("1|H0STCNI0|001|{}", cipher.encrypt(FILL26)),
    ]
}

fn decode_any(text: &str) {
    let mut dec = Decoder::new(date(), None);
    dec.set_cipher("H0STCNI0", NoticeCipher::from_ack(KEY, IV).unwrap());
    if let Ok(Frame::Data(frame)) = parse_frame(text) {
        let _ = dec.decode(&frame);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn garbage_strings_never_panic(s in "\\PC{0,300}") {
        decode_any(&s);
    }

    #[test]
    fn garbage_frames_with_valid_headers_never_panic(
        tr in prop::sample::select(vec!["H0STCNT0", "H0STASP0", "H0STCNI0"]),
        enc in 0u8..2,
        count in 1usize..5,
        body in "[0-9^.\\-A-Z]{0,400}",
    ) {
        decode_any(&format!("{enc}|{tr}|{count:03}|{body}"));
    }

    #[test]
    fn mutated_real_frames_never_panic(
        which in 0usize..3,
        cut in 0usize..3000,
        pos in 0usize..3000,
        insert in "\\PC{0,8}",
    ) {
        let frame = sample_frames().swap_remove(which);
        let cut = cut.min(frame.len());
        let truncated = frame.get(..cut).unwrap_or(&frame);
        decode_any(truncated);
        let mut mutated = frame.clone();
        let mut at = pos.min(mutated.len());
        while !mutated.is_char_boundary(at) { at -= 1; }
        mutated.insert_str(at, &insert);
        decode_any(&mutated);
        decode_any(&format!("{frame}^{insert}"));
    }
}
