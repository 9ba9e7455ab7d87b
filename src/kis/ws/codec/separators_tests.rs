//! Tests of the separator pass, the field walker, the run of numbers and the fast parsers
//! (each against the strict parsers).

use proptest::prelude::*;
use rust_decimal_macros::dec;

use bytemuck::cast;
use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;

use super::super::kst::KstDay;
use super::super::layout::Field;
use super::super::run::{DECIMAL_LO, Numbers, ReadNumbers};
use super::super::strict::{parse_decimal, parse_hhmmss};
use super::{POSITIONS, Separators};
use crate::domain::market::kst_to_utc;

fn fields_of(text: &str) -> Vec<Vec<u8>> {
    let mut seps = Separators::default();
    let n = seps.mark(text.as_bytes());
    let mut fields = seps.fields(text.as_bytes());
    (0..n).map(|_| fields.field().to_vec()).collect()
}

fn decimals(text: &str) -> Vec<Option<Decimal>> {
    let mut seps = Separators::default();
    let n = seps.mark(text.as_bytes());
    let mut fields = seps.fields(text.as_bytes());
    (0..n)
        .map(|_| {
            let mut v = Decimal::ZERO;
            fields.decimal_into(&mut v).then_some(v)
        })
        .collect()
}

/// Fields of a run: mostly short plain numbers (the fast path), now and then anything.
const RUN_FIELD: &str =
    "[0-9]{1,8}|[0-9]{1,8}|[0-9]{1,8}|[0-9]{0,18}|-?[0-9]{1,5}\\.[0-9]{0,3}|[0-9a-z.+-]{0,4}";

/// Runs of `n` fields: half of them all plain numbers (the fast path to the end).
fn run_of(n: usize) -> impl Strategy<Value = Vec<String>> {
    prop_oneof![prop::collection::vec("[0-9]{1,8}", n), prop::collection::vec(RUN_FIELD, n)]
}

/// A run of ten numbers, a pair, one field passed over, then three (an odd count): every
/// kind of read in one run.
struct Mixed([Decimal; 10], [Decimal; 2], [Decimal; 3]);

/// A field of a [`Mixed`] run, reported as `name` (the run reads fields where it stands: their
/// index is not used).
const fn named(name: &'static str) -> Field {
    Field { at: 0, name }
}

/// Fields a [`Mixed`] run reads.
const MIXED: usize = 16;
/// The field of a [`Mixed`] run that is passed over.
const PASSED: usize = 12;

impl Mixed {
    fn new() -> Self {
        Mixed([Decimal::MAX; 10], [Decimal::MAX; 2], [Decimal::MAX; 3])
    }

    /// The name a failure of field `i` reports.
    fn name(i: usize) -> &'static str {
        match i {
            0..10 => "ten",
            10 => "first",
            11 => "second",
            _ => "three",
        }
    }

    /// The values read, with the passed-over field's position left out.
    fn values(&self) -> Vec<Decimal> {
        self.0.iter().chain(&self.1).chain(&self.2).copied().collect()
    }
}

impl ReadNumbers for Mixed {
    fn read<N: Numbers>(&mut self, n: &mut N) -> Result<(), &'static str> {
        n.fill(&[named("ten"); 10], &mut self.0, |d| d)?;
        let [a, b] = &mut self.1;
        n.pair([named("first"), named("second")], a, b)?;
        n.skip(1);
        n.fill(&[named("three"); 3], &mut self.2, |d| d)
    }
}

/// Reads `fields` as a run after the fields of `pad`; `tail` is the field after the run, or
/// `None` when the run's last field is the payload's last.
fn check_run(pad: &str, fields: &[String], tail: Option<&str>) -> Result<(), TestCaseError> {
    let run: String = fields.iter().map(|f| format!("^{f}")).collect();
    let text = match tail {
        Some(tail) => format!("{pad}{run}^{tail}"),
        None => format!("{pad}{run}"),
    };
    let mut seps = Separators::default();
    seps.mark(text.as_bytes());
    let mut walker = seps.fields(text.as_bytes());
    walker.skip(pad.split('^').count());
    let mut got = Mixed::new();
    let result;
    (walker, result) = walker.numbers(&mut got);
    // The passed-over field is never parsed: whatever it holds, it cannot fail the run.
    let read: Vec<(usize, Option<Decimal>)> = fields
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != PASSED)
        .map(|(i, f)| (i, parse_decimal(f.as_bytes())))
        .collect();
    let parsed = read.iter().take_while(|(_, e)| e.is_some()).count();
    let failed = read.get(parsed).map(|&(i, _)| Mixed::name(i));
    prop_assert_eq!(result.err(), failed, "{}", text);
    for (g, (_, e)) in got.values().iter().zip(&read).take(parsed) {
        prop_assert_eq!(Some(*g), *e, "{}", text);
    }
    if failed.is_none() {
        prop_assert_eq!(walker.field(), tail.unwrap_or_default().as_bytes(), "{}", text);
    }
    Ok(())
}

#[test]
fn walks_fields_and_parses_numbers() {
    let text = "12345678901^-0.14^^abc^000003190^7^12.^-^1234567890123456789";
    assert_eq!(
        decimals(text),
        [
            Some(dec!(12345678901)),
            Some(dec!(-0.14)),
            Some(dec!(0)),
            None,
            Some(dec!(3190)),
            Some(dec!(7)),
            Some(dec!(12)),
            None,
            None, // more than 18 significant digits
        ]
    );
    let mut seps = Separators::default();
    assert_eq!(seps.mark(text.as_bytes()), 9);
    let mut fields = seps.fields(text.as_bytes());
    fields.skip(5);
    assert_eq!(fields.field(), b"7");
    fields.skip(3);
    assert_eq!((fields.field(), fields.field()), (&b""[..], &b""[..]), "past the last field");
}

#[test]
fn a_long_last_field_of_a_run_is_not_taken_for_a_short_one() {
    // Some pad puts the long field's start a few bytes before a word boundary, with no
    // separator in the word after it; the fast pass must not read the digits up to that
    // boundary as the field.
    let mut fields = vec!["7".to_owned(); MIXED - 1];
    fields.push("9".repeat(100));
    for pad in 0..140 {
        check_run(&"x".repeat(pad), &fields, Some("t")).unwrap_or_else(|e| panic!("{pad}: {e}"));
    }
}

#[test]
fn a_decimal_keeps_the_low_bits_of_its_mantissa_in_the_third_lane() {
    for v in [0u32, 1, 7, 99_999_999, u32::MAX] {
        let lanes = DECIMAL_LO.map(|keep| keep as u32 & v);
        assert_eq!(cast::<[u32; 4], Decimal>(lanes), Decimal::from(v));
    }
}

#[test]
fn skipping_fields_lands_where_reading_them_does() {
    let text = (0..150).map(|i| if i % 7 == 0 { String::new() } else { i.to_string() }).collect::<Vec<_>>();
    let text = text.join("^");
    let mut seps = Separators::default();
    let n = seps.mark(text.as_bytes());
    for skip in 0..n + 3 {
        let mut skipped = seps.fields(text.as_bytes());
        let mut read = seps.fields(text.as_bytes());
        skipped.skip(skip);
        for _ in 0..skip {
            read.field();
        }
        assert_eq!((skipped.field(), skipped.field()), (read.field(), read.field()), "{skip}");
    }
}

#[test]
fn counts_the_separators_of_long_payloads() {
    // Past 63 chunks the per-lane counts are summed and restarted; all separators is the
    // densest case.
    for len in [63 * 64 - 1, 63 * 64, 63 * 64 + 1, 126 * 64 + 7, 10_000] {
        let dense = "^".repeat(len);
        let mixed: String = (0..len).map(|i| if i % 3 == 0 { '^' } else { '7' }).collect();
        for text in [dense, mixed] {
            let mut seps = Separators::default();
            assert_eq!(seps.mark(text.as_bytes()), text.split('^').count(), "{len}");
        }
    }
}

#[test]
fn payloads_too_long_for_the_copy_are_read_by_the_strict_parsers() {
    let mut seps = Separators::default();
    // A short payload of digits first: its copy must not be read for the long one (whose
    // positions past the copy's size would land on it).
    let short = "1".repeat(4096);
    seps.mark(short.as_bytes());
    let fields: String = (0..MIXED).map(|i| format!("^{i}")).collect();
    let text = format!("{}{fields}^-0.14^093000^x", "x".repeat(POSITIONS));
    assert_eq!(seps.mark(text.as_bytes()), MIXED + 4);
    let mut walker = seps.fields(text.as_bytes());
    walker.skip(1);
    let mut run = Mixed::new();
    let result;
    (walker, result) = walker.numbers(&mut run);
    assert_eq!(result, Ok(()));
    let expected: Vec<Decimal> = (0..MIXED).filter(|&i| i != PASSED).map(Decimal::from).collect();
    assert_eq!(run.values(), expected);
    let mut v = Decimal::ZERO;
    assert!(walker.decimal_into(&mut v));
    assert_eq!(v, dec!(-0.14));
    assert_eq!(walker.seconds(), Some(9 * 3600 + 30 * 60));
}

proptest! {
    #[test]
    fn splits_like_split(text in "[0-9a-z^]{0,300}|[\\^]{0,200}") {
        let expected: Vec<Vec<u8>> = text.split('^').map(|f| f.as_bytes().to_vec()).collect();
        prop_assert_eq!(fields_of(&text), expected);
    }

    #[test]
    fn numbers_agree_with_the_strict_parser(
        fields in prop::collection::vec(
            "[0-9]{0,20}|-?[0-9]{1,9}\\.[0-9]{0,9}|[-+]?[0-9]{0,17}\\.?[0-9]{0,3}|[0-9a-z.+-]{0,12}", 1..12)
    ) {
        let text = fields.join("^");
        let expected: Vec<_> = text.split('^').map(|f| parse_decimal(f.as_bytes())).collect();
        prop_assert_eq!(decimals(&text), expected);
    }

    #[test]
    fn runs_of_numbers_agree_with_the_strict_parser(
        pad in "[0-9a-z^]{0,70}",
        fields in run_of(MIXED),
        tail in prop::option::weighted(0.8, "[0-9a-z]{0,5}"),
    ) {
        // `pad` shifts the run across 64-byte mask words; `tail` checks where the walker stops.
        // `None` ends the payload with the run (the fast pass must hand it to the strict one).
        check_run(&pad, &fields, tail.as_deref())?;
    }

    #[test]
    fn times_agree_with_the_strict_parser(pad in "[0-9^]{0,9}", t in "[0-9]{6}|[0-9a-z]{0,8}") {
        let text = format!("{pad}^{t}");
        let mut seps = Separators::default();
        let n = seps.mark(text.as_bytes());
        let mut fields = seps.fields(text.as_bytes());
        fields.skip(n - 1);
        let expected = parse_hhmmss(t.as_bytes()).map(|t| chrono::Timelike::num_seconds_from_midnight(&t));
        prop_assert_eq!(fields.seconds(), expected);
    }

    #[test]
    fn kst_days_agree_with_kst_to_utc(days in 0i64..40_000, secs in 0u32..86_400) {
        let date = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + chrono::Days::new(days as u64);
        let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap();
        prop_assert_eq!(KstDay::new(date).at(secs), kst_to_utc(date, time));
    }
}
