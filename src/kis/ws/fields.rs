//! Field splitting and number parsing for the real-time codec's hot path. One pass marks every
//! `^` of a payload in bit masks (16 bytes per SIMD compare); a [`Fields`] walker then takes
//! field after field from the masks, so finding the next field never waits for the previous one
//! to be parsed, and numbers are converted eight digits at a time (SWAR). Nothing is allocated
//! per field or record; the masks are reused from payload to payload.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use wide::bytemuck::cast;
use wide::{i16x8, i32x8, u8x16};

use super::codec::{parse_decimal, parse_hhmmss};
use crate::domain::market::KST_OFFSET_SECS;

const HIGHS: u64 = 0x8080_8080_8080_8080;
const ZEROS: u64 = 0x3030_3030_3030_3030;
const POW10: [u64; 17] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
];

/// The separator bit masks of a payload: bit `i` of word `w` is set when byte `64 w + i` is `^`.
#[derive(Debug, Default)]
pub(crate) struct Separators {
    words: Vec<u64>,
}

impl Separators {
    /// Marks the separators of `bytes`; returns the number of fields.
    pub(crate) fn mark(&mut self, bytes: &[u8]) -> usize {
        let words = &mut self.words;
        words.clear();
        let mut separators = 0usize;
        let mut chunks = bytes.chunks_exact(64);
        for chunk in &mut chunks {
            let mut mask = 0u64;
            for (k, block) in chunk.chunks_exact(16).enumerate() {
                mask |= u64::from(mask16(block.try_into().unwrap_or_default())) << (16 * k);
            }
            separators += mask.count_ones() as usize;
            words.push(mask);
        }
        let mut tail = 0u64;
        for (i, &b) in chunks.remainder().iter().enumerate() {
            tail |= u64::from(b == b'^') << i;
        }
        separators += tail.count_ones() as usize;
        words.push(tail);
        separators + 1
    }

    /// A walker over the fields of `bytes` (the payload last marked).
    pub(crate) fn fields<'a>(&'a self, bytes: &'a [u8]) -> Fields<'a> {
        Fields {
            bytes,
            words: &self.words,
            word: 0,
            mask: self.words.first().copied().unwrap_or(0),
            start: 0,
        }
    }
}

/// Reads the fields of a marked payload in order. Past the last field it yields empty fields.
/// (No `Debug`: a notice payload holds the account number.)
pub(crate) struct Fields<'a> {
    bytes: &'a [u8],
    words: &'a [u64],
    word: usize,
    /// Separators of the current word not yet passed.
    mask: u64,
    start: usize,
}

impl<'a> Fields<'a> {
    /// Start and end of the next field.
    #[inline(always)]
    fn span(&mut self) -> (usize, usize) {
        loop {
            if self.mask != 0 {
                let end = (self.word << 6) | self.mask.trailing_zeros() as usize;
                self.mask &= self.mask - 1;
                let start = self.start;
                self.start = end + 1;
                return (start, end);
            }
            match self.words.get(self.word + 1) {
                Some(&mask) => {
                    self.word += 1;
                    self.mask = mask;
                }
                None => {
                    let start = self.start.min(self.bytes.len());
                    self.start = self.bytes.len();
                    return (start, self.bytes.len());
                }
            }
        }
    }

    /// Skips `n` fields.
    #[inline(always)]
    pub(crate) fn skip(&mut self, n: usize) {
        for _ in 0..n {
            self.span();
        }
    }

    /// The next field's bytes.
    #[inline(always)]
    pub(crate) fn field(&mut self) -> &'a [u8] {
        let (start, end) = self.span();
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// Parses the next field as a decimal into `dst`; false when malformed (`dst` then unchanged).
    #[inline(always)]
    pub(crate) fn decimal_into(&mut self, dst: &mut Decimal) -> bool {
        let (start, end) = self.span();
        // Written in place: a returned `Option<Decimal>` costs a store-forwarding stall here.
        if let Some(v) = digits(self.bytes, start, end) {
            *dst = Decimal::from_parts(v as u32, (v >> 32) as u32, 0, false, 0);
            return true;
        }
        signed_decimal_into(self.bytes, start, end, dst)
    }

    /// Parses the next `N` fields as decimals, one into `slot(item)` each; false when one is
    /// malformed (the slots then hold unspecified values). The common case — every field one
    /// to eight plain digits — is read in one tight pass with the walker's state in registers
    /// and a single check at the end, converting two numbers at a time in one SIMD register;
    /// anything else is parsed again field by field.
    #[inline(always)]
    pub(crate) fn decimals_into<T, const N: usize>(
        &mut self,
        items: &mut [T; N],
        mut slot: impl FnMut(&mut T) -> &mut Decimal,
    ) -> bool {
        let mut run = Run::new(self);
        let (pairs, rest) = items.as_chunks_mut::<2>();
        for [x, y] in pairs {
            let (Some(a), Some(b)) = (run.next(), run.next()) else { return self.one_by_one(items, slot) };
            let (a, b) = run.convert(a, b);
            *slot(x) = Decimal::from_parts(a, 0, 0, false, 0);
            *slot(y) = Decimal::from_parts(b, 0, 0, false, 0);
        }
        for item in rest {
            let Some(a) = run.next() else { return self.one_by_one(items, slot) };
            run.non_digits |= non_digits(a);
            *slot(item) = Decimal::from_parts(swar8(a) as u32, 0, 0, false, 0);
        }
        if !run.plain() {
            return self.one_by_one(items, slot);
        }
        (self.word, self.mask, self.start) = (run.word, run.mask, run.start);
        true
    }

    /// The slow path of [`Self::decimals_into`], from the walker's unchanged position.
    #[cold]
    fn one_by_one<T>(&mut self, items: &mut [T], mut slot: impl FnMut(&mut T) -> &mut Decimal) -> bool {
        items.iter_mut().all(|item| self.decimal_into(slot(item)))
    }

    /// Seconds after midnight of the next field (`HHMMSS`).
    #[inline(always)]
    pub(crate) fn seconds(&mut self) -> Option<u32> {
        let (start, end) = self.span();
        hhmmss(self.bytes, start, end)
    }
}

/// A copy of a walker's position, kept in registers while [`Fields::decimals_into`] reads a
/// run of fields as digit words, with the checks of the whole run folded into three values
/// (`lengths`, `max_digit`, `non_digits`) tested once at the end.
struct Run<'a> {
    bytes: &'a [u8],
    words: &'a [u64],
    word: usize,
    mask: u64,
    start: usize,
    /// `word * 64`.
    base: usize,
    /// High bit of a byte set: a byte that is not a digit (fields converted one at a time).
    non_digits: u64,
    /// The bytewise maximum of the digit words converted in pairs: above 9 once a byte is not
    /// a digit.
    max_digit: u8x16,
    /// The OR of every field length minus one: 8 or more once a length is outside 1..=8.
    lengths: usize,
}

impl<'a> Run<'a> {
    #[inline(always)]
    fn new(f: &Fields<'a>) -> Self {
        Run {
            bytes: f.bytes,
            words: f.words,
            word: f.word,
            mask: f.mask,
            start: f.start,
            base: f.word << 6,
            non_digits: 0,
            max_digit: u8x16::ZERO,
            lengths: 0,
        }
    }

    /// The digit word of the next field (the input of [`swar8`]; its bytes are checked by
    /// [`Self::convert`] or the caller, its length by [`Self::plain`]); `None` at the last
    /// field or too close to the payload's start.
    #[inline(always)]
    fn next(&mut self) -> Option<u64> {
        while self.mask == 0 {
            self.word += 1;
            self.mask = *self.words.get(self.word)?;
            self.base = self.word << 6;
        }
        let end = self.base | self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        let n = end.wrapping_sub(self.start);
        self.start = end + 1;
        self.lengths |= n.wrapping_sub(1);
        digit_word(self.bytes, end, n)
    }

    /// [`swar8`] of two digit words at once, in one 128-bit register, noting their bytes for
    /// [`Self::plain`].
    #[inline(always)]
    fn convert(&mut self, a: u64, b: u64) -> (u32, u32) {
        let v: u8x16 = cast([a, b]);
        self.max_digit = self.max_digit.max(v);
        swar8x2(v)
    }

    /// Every field read was one to eight ASCII digits.
    #[inline(always)]
    fn plain(&self) -> bool {
        let nines = u8x16::splat(9);
        self.lengths < 8 && self.non_digits == 0 && self.max_digit.max(nines) == nines
    }
}

/// Bit `i` is set when `block[i]` is `^`: one byte compare and a move-mask (`wide` picks SSE2,
/// NEON or plain code for the target).
#[inline(always)]
fn mask16(block: [u8; 16]) -> u16 {
    (u8x16::new(block).simd_eq(u8x16::splat(b'^')).to_bitmask() & 0xffff) as u16
}

/// The eight bytes ending at `end`, little-endian; `None` when `end < 8`.
#[inline(always)]
fn load_before(bytes: &[u8], end: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(end.checked_sub(8)?..end)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// The eight bytes ending at `end` as digit values (`'0'` is 0), most significant in the lowest
/// byte, keeping only the last `n % 8` of them (all eight when `n % 8 == 0`); not yet checked
/// for non-digits.
#[inline(always)]
fn digit_word(bytes: &[u8], end: usize, n: usize) -> Option<u64> {
    Some((load_before(bytes, end)? ^ ZEROS) & KEEP_HIGH[n & 7])
}

/// High bit set in every byte of `x` (digit values) that is not 0-9.
#[inline(always)]
fn non_digits(x: u64) -> u64 {
    (x.wrapping_add(0x7676_7676_7676_7676) | x) & HIGHS
}

/// Converts eight digit values (0-9, most significant in the lowest byte) into a number.
#[inline(always)]
fn swar8(v: u64) -> u64 {
    let v = (v.wrapping_mul(10).wrapping_add(v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let v = (v.wrapping_mul(100).wrapping_add(v >> 16)) & 0x0000_ffff_0000_ffff;
    (v.wrapping_mul(10_000).wrapping_add(v >> 32)) & 0xffff_ffff
}

/// [`swar8`] of two words (`v` holds both) at once: digit pairs, then fours, then eights are
/// combined with multiply-adds of 16-bit lanes (`pmaddwd` on SSE2).
#[inline(always)]
fn swar8x2(v: u8x16) -> (u32, u32) {
    let tens = i16x8::from([10, 1, 10, 1, 10, 1, 10, 1]);
    let pairs: i32x8 = cast([i16x8::from_u8x16_low(v).dot(tens), i16x8::from_u8x16_high(v).dot(tens)]);
    let fours = i16x8::from_i32x8_saturate(pairs).dot(i16x8::from([100, 1, 100, 1, 100, 1, 100, 1]));
    let eights = i16x8::from_i32x8_saturate(cast([fours, fours]))
        .dot(i16x8::from([10_000, 1, 10_000, 1, 10_000, 1, 10_000, 1]));
    let [x, y, _, _] = eights.to_array();
    (x as u32, y as u32)
}

/// The value of `bytes[start..end]` when it is 0 to 16 ASCII digits (empty is zero).
#[inline(always)]
fn digits(bytes: &[u8], start: usize, end: usize) -> Option<u64> {
    let n = end.wrapping_sub(start);
    if n.wrapping_sub(1) < 8 {
        // One to eight digits: the eight bytes ending at the field, earlier bytes masked off.
        let x = digit_word(bytes, end, n)?;
        return (non_digits(x) == 0).then(|| swar8(x));
    }
    if n == 0 {
        return Some(0);
    }
    if n > 16 {
        return None;
    }
    let lo = load_before(bytes, end)? ^ ZEROS;
    let hi = digit_word(bytes, end - 8, n)?;
    ((non_digits(lo) | non_digits(hi)) == 0).then(|| swar8(hi) * 100_000_000 + swar8(lo))
}

/// `KEEP_HIGH[n % 8]` keeps the `n` highest bytes of a word (`n` in 1..=8).
const KEEP_HIGH: [u64; 8] = [
    0xffff_ffff_ffff_ffff,
    0xff00_0000_0000_0000,
    0xffff_0000_0000_0000,
    0xffff_ff00_0000_0000,
    0xffff_ffff_0000_0000,
    0xffff_ffff_ff00_0000,
    0xffff_ffff_ffff_0000,
    0xffff_ffff_ffff_ff00,
];

/// `-?digits(.digits)?` with up to 16 digits per part, written into `dst`; anything else goes
/// to the strict parser. False when the field is malformed (`dst` then unchanged).
#[inline(never)]
fn signed_decimal_into(bytes: &[u8], start: usize, end: usize, dst: &mut Decimal) -> bool {
    let Some(field) = bytes.get(start..end) else { return false };
    let fast = || {
        let neg = field.first() == Some(&b'-');
        let body = start + usize::from(neg);
        let (mantissa, scale) = match field.iter().position(|&b| b == b'.') {
            None if body < end => (digits(bytes, body, end)?, 0),
            Some(i) if start + i > body && start + i + 1 < end => {
                let dot = start + i;
                let scale = end - dot - 1;
                let int = digits(bytes, body, dot)?;
                let frac = digits(bytes, dot + 1, end)?;
                (int.checked_mul(*POW10.get(scale)?)?.checked_add(frac)?, scale)
            }
            _ => return None,
        };
        // At most 18 significant digits, as the strict parser allows.
        (mantissa < 1_000_000_000_000_000_000).then(|| {
            Decimal::from_parts(
                mantissa as u32,
                (mantissa >> 32) as u32,
                0,
                neg && mantissa != 0,
                scale as u32,
            )
        })
    };
    match fast().or_else(|| parse_decimal(field)) {
        Some(v) => {
            *dst = v;
            true
        }
        None => false,
    }
}

/// Seconds since midnight of an `HHMMSS` field.
#[inline(always)]
fn hhmmss(bytes: &[u8], start: usize, end: usize) -> Option<u32> {
    if end.checked_sub(start)? != 6 {
        return None;
    }
    let Some(word) = load_before(bytes, end) else {
        // Too close to the start of the payload for an eight-byte load.
        let time = parse_hhmmss(bytes.get(start..end)?)?;
        return Some(chrono::Timelike::num_seconds_from_midnight(&time));
    };
    let x = (word ^ ZEROS) & !0xffff;
    if non_digits(x) != 0 {
        return None;
    }
    // Pairs of digits in 16-bit lanes: lane 1 hours, lane 2 minutes, lane 3 seconds.
    let v = (x.wrapping_mul(10).wrapping_add(x >> 8)) & 0x00ff_00ff_00ff_00ff;
    let (h, m, s) = ((v >> 16) & 0xff, (v >> 32) & 0xff, v >> 48);
    (h < 24 && m < 60 && s < 60).then(|| (h * 3600 + m * 60 + s) as u32)
}

/// Turns seconds after midnight KST on one date into UTC timestamps without calendar arithmetic
/// per record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KstDay {
    date: NaiveDate,
    prev: NaiveDate,
}

impl KstDay {
    pub(crate) fn new(date: NaiveDate) -> Self {
        Self { date, prev: date.pred_opt().unwrap_or(date) }
    }

    pub(crate) fn date(&self) -> NaiveDate {
        self.date
    }

    /// The UTC instant of `secs` (< 86 400) after midnight KST.
    #[inline(always)]
    pub(crate) fn at(&self, secs: u32) -> DateTime<Utc> {
        const KST_SECS: u32 = KST_OFFSET_SECS.unsigned_abs();
        let (date, utc_secs) = if secs >= KST_SECS {
            (self.date, secs - KST_SECS)
        } else {
            (self.prev, secs + 86_400 - KST_SECS)
        };
        let time = NaiveTime::from_num_seconds_from_midnight_opt(utc_secs, 0).unwrap_or_default();
        date.and_time(time).and_utc()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;
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

    fn check_run<const N: usize>(pad: &str, fields: &[String], tail: &str) -> Result<(), TestCaseError> {
        let run: String = fields.iter().map(|f| format!("^{f}")).collect();
        let text = format!("{pad}{run}^{tail}");
        let mut seps = Separators::default();
        seps.mark(text.as_bytes());
        let mut walker = seps.fields(text.as_bytes());
        walker.skip(pad.split('^').count());
        let mut got = [Decimal::MAX; N];
        let ok = walker.decimals_into(&mut got, |d| d);
        let expected: Vec<_> = fields.iter().map(|f| parse_decimal(f.as_bytes())).collect();
        let parsed = expected.iter().take_while(|e| e.is_some()).count();
        prop_assert_eq!(ok, parsed == N, "{}", text);
        for (g, e) in got.iter().zip(&expected).take(parsed) {
            prop_assert_eq!(Some(*g), *e, "{}", text);
        }
        if ok {
            prop_assert_eq!(walker.field(), tail.as_bytes(), "{}", text);
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
            ten in run_of(10),
            three in run_of(3),
            tail in "[0-9a-z]{0,5}",
        ) {
            // `pad` shifts the run across 64-byte mask words; `tail` checks where the walker stops.
            check_run::<10>(&pad, &ten, &tail)?;
            check_run::<3>(&pad, &three, &tail)?;
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
}
