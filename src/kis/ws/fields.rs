//! Field splitting and number parsing for the real-time codec's hot path. One pass marks every
//! `^` of a payload in bit masks (16 bytes per SIMD compare) and keeps a copy of it as digit
//! values; a [`Fields`] walker then takes field after field from the masks, so finding the next
//! field never waits for the previous one to be parsed, and numbers are converted eight digits
//! at a time (SWAR) from eight-byte loads out of that fixed-size, padded copy (no bounds check
//! per field). Nothing is allocated per field or record; the masks and the copy are reused from
//! payload to payload.

use std::num::NonZeroU64;

use bytemuck::cast;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use wide::{i16x8, i32x4, u8x16, u16x8, u64x2};

use super::codec::{parse_decimal, parse_hhmmss};
use crate::domain::Symbol;
use crate::domain::market::KST_OFFSET_SECS;

const HIGHS: u64 = 0x8080_8080_8080_8080;
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

/// Bytes in front of a payload's copy (not digits).
const PAD: usize = 8;
/// Payload positions the copy holds (a power of two: a position `& (POSITIONS - 1)` is in it).
const POSITIONS: usize = super::codec::MAX_FRAME_BYTES;
/// Size of the padded copy: the eight bytes before any position are inside it.
const ROOM: usize = PAD + POSITIONS;
const _: () = assert!(POSITIONS.is_power_of_two());

/// A byte of the copy that is no digit value (the copy holds each payload byte XOR `'0'`, so the
/// digits are 0-9 and every other byte is above 9).
const NOT_A_DIGIT: u8 = 0xff;

/// The separator bit masks of a payload (bit `i` of word `w` is set when byte `64 w + i` is
/// `^`) and a padded copy of it as digit values. Number fields are read with eight-byte loads
/// ending at their last byte; in the copy, which has a fixed size, such a load needs no bounds
/// check.
pub(crate) struct Separators {
    words: Vec<u64>,
    /// `PAD` bytes that are no digits, then the payload last marked, each byte XOR `'0'`
    /// (`ROOM` bytes in all, allocated zeroed: pages are touched only as far as payloads reach).
    /// After a payload too long to copy, all of it is [`NOT_A_DIGIT`]: every fast path fails
    /// and the strict parsers read the fields.
    copy: Box<[u8; ROOM]>,
}

impl Default for Separators {
    fn default() -> Self {
        let mut copy = bytemuck::zeroed_box::<[u8; ROOM]>();
        if let Some(pad) = copy.get_mut(..PAD) {
            pad.fill(NOT_A_DIGIT);
        }
        Self { words: Vec::new(), copy }
    }
}

impl std::fmt::Debug for Separators {
    // Not the copy: a notice payload holds the account number.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Separators").field("words", &self.words.len()).finish_non_exhaustive()
    }
}

impl Separators {
    /// Marks the separators of `bytes` and copies it as digit values; returns the number of
    /// fields.
    pub(crate) fn mark(&mut self, bytes: &[u8]) -> usize {
        let (chunks, rest) = bytes.as_chunks::<64>();
        let words = &mut self.words;
        words.clear();
        words.resize(chunks.len() + 1, 0);
        let mut marks = words.iter_mut();
        // The copy's 64-byte chunks, one per chunk of the payload (`POSITIONS` is a multiple of
        // 64, so they fit whenever the payload does).
        let room = self.copy.get_mut(PAD..).and_then(|c| c.get_mut(..bytes.len().next_multiple_of(64)));
        let fits = room.is_some();
        let mut copy = room.unwrap_or_default().as_chunks_mut::<64>().0.iter_mut();
        let mut mark = |chunk: &[u8; 64], lanes: &mut u8x16| {
            let (mask, digits) = mark64(chunk, lanes);
            if let Some(word) = marks.next() {
                *word = mask;
            }
            if let Some(dst) = copy.next() {
                *dst = cast(digits);
            }
        };
        // Separators are counted per byte lane (a match is 0xFF, so subtracting it adds one) and
        // the lanes summed every 63 chunks, before one can wrap (a chunk adds at most 4).
        let mut separators = 0usize;
        let mut lanes = u8x16::ZERO;
        for group in chunks.chunks(63) {
            for chunk in group {
                mark(chunk, &mut lanes);
            }
            separators += lane_sum(lanes);
            lanes = u8x16::ZERO;
        }
        let mut last = [0u8; 64];
        if let Some(head) = last.get_mut(..rest.len()) {
            head.copy_from_slice(rest);
        }
        mark(&last, &mut lanes);
        if !fits {
            self.copy.fill(NOT_A_DIGIT);
        }
        separators + lane_sum(lanes) + 1
    }

    /// A walker over the fields of `bytes` (the payload last marked).
    pub(crate) fn fields<'a>(&'a self, bytes: &'a [u8]) -> Fields<'a> {
        Fields {
            bytes,
            padded: &self.copy,
            words: &self.words,
            word: 0,
            mask: self.words.first().copied().unwrap_or(0),
            start: 0,
        }
    }
}

/// Reads the fields of a marked payload in order. Past the last field it yields empty fields.
/// (No `Debug`: a notice payload holds the account number.)
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    bytes: &'a [u8],
    /// The padded copy of `bytes` as digit values.
    padded: &'a [u8; ROOM],
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
        if !self.find_separator() {
            let start = self.start.min(self.bytes.len());
            self.start = self.bytes.len();
            return (start, self.bytes.len());
        }
        let end = (self.word << 6) | self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        let start = self.start;
        self.start = end + 1;
        (start, end)
    }

    /// Moves to the mask word that holds the next separator; false when none is left (the
    /// payload's last field runs to its end).
    #[inline(always)]
    fn find_separator(&mut self) -> bool {
        while self.mask == 0 {
            let Some(&mask) = self.words.get(self.word + 1) else { return false };
            self.word += 1;
            self.mask = mask;
        }
        true
    }

    /// Skips `n` fields: every separator but the last is only cleared from its mask.
    #[inline(always)]
    pub(crate) fn skip(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        for _ in 1..n {
            if self.find_separator() {
                self.mask &= self.mask - 1;
            } else {
                self.start = self.bytes.len();
            }
        }
        self.span();
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
        if let Some(v) = digits(self.padded, start, end) {
            *dst = Decimal::from_parts(v as u32, (v >> 32) as u32, 0, false, 0);
            return true;
        }
        signed_decimal_into(self.bytes, self.padded, start, end, dst)
    }

    /// Reads the numbers of `read` — runs of fields in a row — in one tight pass: with the
    /// walker's state in registers, two numbers converted at a time in one SIMD register, and the
    /// checks of every field folded into a single test at the end. That pass covers the common
    /// case, every field one to eight plain digits; anything else (and a run that reaches the
    /// payload's last field) is read again field by field from the unchanged position, so the
    /// error names the first malformed field.
    ///
    /// Takes and returns the walker by value: a walker whose address never escapes stays in
    /// registers in its caller.
    #[inline(always)]
    pub(crate) fn numbers<R: ReadNumbers>(mut self, read: &mut R) -> (Self, Result<(), &'static str>) {
        let mut run = Run::new(&self);
        // A `Run` never fails on the way; `plain` tells whether what it read holds.
        let _ = read.read(&mut run);
        if run.plain() {
            (self.word, self.mask, self.start) = (run.base >> 6, run.mask, run.start);
            return (self, Ok(()));
        }
        let result = self.numbers_one_by_one(read);
        (self, result)
    }

    /// The slow path of [`Self::numbers`].
    #[cold]
    #[inline(never)]
    fn numbers_one_by_one<R: ReadNumbers>(&mut self, read: &mut R) -> Result<(), &'static str> {
        read.read(self)
    }

    /// The next field as an instrument code. A six-character code (a stock's, the common case)
    /// is taken from one load of the copy; anything else, and a payload too long for the copy,
    /// is read from the payload.
    #[inline(always)]
    pub(crate) fn symbol(&mut self) -> Option<Symbol> {
        let (start, end) = self.span();
        if end.wrapping_sub(start) == 6 {
            let [_, _, code @ ..] = (load_before(self.padded, end) ^ 0x3030_3030_3030_3030).to_le_bytes();
            if let Some(symbol) = Symbol::from_ascii(&code) {
                return Some(symbol);
            }
        }
        Symbol::from_ascii(self.bytes.get(start..end)?)
    }

    /// Seconds after midnight of the next field (`HHMMSS`).
    #[inline(always)]
    pub(crate) fn seconds(&mut self) -> Option<u32> {
        let (start, end) = self.span();
        hhmmss(self.bytes, self.padded, start, end)
    }
}

/// A reader of runs of numeric fields: the fast [`Run`] and the strict field-by-field
/// [`Fields`].
pub(crate) trait Numbers {
    /// Parses the next `N` fields into `slot(item)` each, in order. A [`Run`] always returns
    /// `Ok` and leaves its verdict to the end of the run; [`Fields`] returns `Err(name)` at the
    /// first malformed field.
    fn fill<T, const N: usize>(
        &mut self,
        name: &'static str,
        items: &mut [T; N],
        slot: impl FnMut(&mut T) -> &mut Decimal,
    ) -> Result<(), &'static str>;

    /// Parses the next two fields, named `names`, into `a` and `b`.
    fn pair(
        &mut self,
        names: [&'static str; 2],
        a: &mut Decimal,
        b: &mut Decimal,
    ) -> Result<(), &'static str>;

    /// Passes over the next `n` fields (whatever they hold; a [`Run`] stays on its fast path
    /// only while each is one to eight bytes).
    fn skip(&mut self, n: usize);
}

/// The fields a record reads as one run of numbers (see [`Fields::numbers`]); `read` is called
/// once or, when the fast pass finds something other than plain digits, twice.
pub(crate) trait ReadNumbers {
    /// Fills the run's destinations through `numbers`, in field order.
    fn read<N: Numbers>(&mut self, numbers: &mut N) -> Result<(), &'static str>;
}

impl Numbers for Fields<'_> {
    #[inline(always)]
    fn fill<T, const N: usize>(
        &mut self,
        name: &'static str,
        items: &mut [T; N],
        mut slot: impl FnMut(&mut T) -> &mut Decimal,
    ) -> Result<(), &'static str> {
        for item in items {
            if !self.decimal_into(slot(item)) {
                return Err(name);
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn pair(
        &mut self,
        [x, y]: [&'static str; 2],
        a: &mut Decimal,
        b: &mut Decimal,
    ) -> Result<(), &'static str> {
        if !self.decimal_into(a) {
            return Err(x);
        }
        if !self.decimal_into(b) {
            return Err(y);
        }
        Ok(())
    }

    #[inline(always)]
    fn skip(&mut self, n: usize) {
        Fields::skip(self, n);
    }
}

/// A copy of a walker's position, kept in registers while [`Fields::numbers`] reads a run of
/// fields as digit words, with the checks of every field folded into two values (`lengths` and
/// `max_digit`) tested once at the end.
struct Run<'a> {
    padded: &'a [u8; ROOM],
    words: &'a [u64],
    /// 64 times the index of the current mask word.
    base: usize,
    mask: u64,
    start: usize,
    /// The bytewise maximum of the digit words: above 9 once a byte is not a digit.
    max_digit: u8x16,
    /// The OR of every field length minus one: 8 or more once a length is outside 1..=8, or
    /// once the run reached the payload's last field.
    lengths: usize,
}

impl<'a> Run<'a> {
    #[inline(always)]
    fn new(f: &Fields<'a>) -> Self {
        Run {
            padded: f.padded,
            words: f.words,
            base: f.word << 6,
            mask: f.mask,
            start: f.start,
            max_digit: u8x16::ZERO,
            lengths: 0,
        }
    }

    /// The digit word of the next field (the input of [`swar8`]); its bytes are checked by
    /// [`Self::convert`], its length by [`Self::plain`].
    #[inline(always)]
    fn next(&mut self) -> u64 {
        let mask = match NonZeroU64::new(self.mask) {
            Some(mask) => mask,
            None => {
                // A plain field and its separator fit in nine bytes, so the next separator of a
                // plain run is in the next word. An empty next word, or none (the payload's last
                // field has no separator after it), is not for the fast pass; the run then reads
                // on harmlessly (every load stays inside the copy) to its verdict.
                self.base += 64;
                let word = self.words.get(self.base >> 6).copied().unwrap_or(0);
                self.lengths |= usize::from(word == 0) << 8;
                NonZeroU64::new(word).unwrap_or(NonZeroU64::MIN)
            }
        };
        // Never zero here, so no case for an empty mask in the bit scan. The base is masked into
        // the copy's positions (a no-op for every position of a payload that fits it), once per
        // mask word: the field's end is then inside the copy, and its load needs neither a mask
        // nor a bounds check of its own.
        let end = (self.base & (POSITIONS - 1)) | mask.trailing_zeros() as usize;
        self.mask = mask.get() & (mask.get() - 1);
        let n = end.wrapping_sub(self.start);
        self.start = end + 1;
        self.lengths |= n.wrapping_sub(1);
        digit_word(self.padded, end, n)
    }

    /// [`swar8`] of two digit words at once, in one 128-bit register, noting their bytes for
    /// [`Self::plain`].
    #[inline(always)]
    fn convert(&mut self, a: u64, b: u64) -> [Decimal; 2] {
        let v: u8x16 = cast([a, b]);
        self.max_digit = self.max_digit.max(v);
        swar8x2(v)
    }

    /// The next two fields into `slot(x)` and `slot(y)`.
    #[inline(always)]
    fn pair<T>(&mut self, x: &mut T, y: &mut T, slot: &mut impl FnMut(&mut T) -> &mut Decimal) {
        let (a, b) = (self.next(), self.next());
        [*slot(x), *slot(y)] = self.convert(a, b);
    }

    /// Every field read was one to eight ASCII digits.
    #[inline(always)]
    fn plain(&self) -> bool {
        let nines = u8x16::splat(9);
        self.lengths < 8 && self.max_digit.max(nines) == nines
    }
}

impl Numbers for Run<'_> {
    #[inline(always)]
    fn fill<T, const N: usize>(
        &mut self,
        _name: &'static str,
        items: &mut [T; N],
        mut slot: impl FnMut(&mut T) -> &mut Decimal,
    ) -> Result<(), &'static str> {
        // Ten at a time written out (a book's side is ten levels): no loop counter, no address
        // arithmetic, the converter's constants kept in registers.
        let (tens, rest) = items.as_chunks_mut::<10>();
        for [a, b, c, d, e, f, g, h, i, j] in tens {
            self.pair(a, b, &mut slot);
            self.pair(c, d, &mut slot);
            self.pair(e, f, &mut slot);
            self.pair(g, h, &mut slot);
            self.pair(i, j, &mut slot);
        }
        let (pairs, rest) = rest.as_chunks_mut::<2>();
        for [x, y] in pairs {
            self.pair(x, y, &mut slot);
        }
        for item in rest {
            let a = self.next();
            [*slot(item), _] = self.convert(a, 0);
        }
        Ok(())
    }

    #[inline(always)]
    fn pair(
        &mut self,
        _names: [&'static str; 2],
        a: &mut Decimal,
        b: &mut Decimal,
    ) -> Result<(), &'static str> {
        Run::pair(self, a, b, &mut |d| d);
        Ok(())
    }

    #[inline(always)]
    fn skip(&mut self, n: usize) {
        for _ in 0..n {
            self.next();
        }
    }
}

/// Bit `i` of the mask is set when `chunk[i]` is `^`; adds the chunk's separators to `lanes`
/// and returns the chunk as digit values too. One byte compare and a move-mask per 16 bytes
/// (`wide` picks SSE2, NEON or plain code for the target).
#[inline(always)]
fn mark64(chunk: &[u8; 64], lanes: &mut u8x16) -> (u64, [u8x16; 4]) {
    let (blocks, _) = chunk.as_chunks::<16>();
    let mut mask = 0u64;
    let mut digits = [u8x16::ZERO; 4];
    for ((k, block), digit) in blocks.iter().enumerate().zip(&mut digits) {
        let bytes = u8x16::new(*block);
        let eq = bytes.simd_eq(u8x16::splat(b'^'));
        mask |= u64::from((eq.to_bitmask() & 0xffff) as u16) << (16 * k);
        *lanes -= eq;
        *digit = bytes ^ u8x16::splat(b'0');
    }
    (mask, digits)
}

/// The sum of the byte lanes of `lanes`.
#[inline(always)]
fn lane_sum(lanes: u8x16) -> usize {
    usize::from((u16x8::from_u8x16_low(lanes) + u16x8::from_u8x16_high(lanes)).reduce_add())
}

/// The digit values of the eight payload bytes before position `end` (no digits before the
/// payload's start), little-endian, from the padded copy (no bounds check: the index is masked
/// into it).
#[inline(always)]
fn load_before(padded: &[u8; ROOM], end: usize) -> u64 {
    let i = end & (POSITIONS - 1);
    padded.get(i..i + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()).map_or(0, u64::from_le_bytes)
}

/// The digit values of the eight payload bytes before `end`, most significant in the lowest
/// byte, keeping only the last `n % 8` of them (all eight when `n % 8 == 0`); not yet checked
/// for non-digits.
#[inline(always)]
fn digit_word(padded: &[u8; ROOM], end: usize, n: usize) -> u64 {
    load_before(padded, end) & KEEP_HIGH[n & 7]
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

/// [`swar8`] of two words (`v` holds both) at once, as decimals: digit pairs are combined in
/// the 16-bit lanes of `v` itself (so the caller's check of `v` and the conversion share one
/// register), then fours and eights with multiply-adds of 16-bit lanes (`pmaddwd` on SSE2), and
/// each number is masked into the lane where a [`Decimal`] keeps the low 32 bits of its mantissa
/// (flags, hi and mid zero), so that writing a decimal is one 16-byte store.
#[inline(always)]
fn swar8x2(v: u8x16) -> [Decimal; 2] {
    // Each 16-bit lane holds a digit pair, the more significant digit in its low byte.
    let lanes: u16x8 = cast(v);
    let pairs: i16x8 = cast((lanes & u16x8::splat(0xff)) * u16x8::splat(10) + (lanes >> 8));
    let fours = pairs.dot(i16x8::from([100, 1, 100, 1, 100, 1, 100, 1]));
    // Lanes x, y, x, y.
    let eights = i16x8::from_i32x8_saturate(cast([fours, fours]))
        .dot(i16x8::from([10_000, 1, 10_000, 1, 10_000, 1, 10_000, 1]));
    let lo = i32x4::from(DECIMAL_LO);
    let x = eights & lo;
    let y = cast::<u64x2, i32x4>(cast::<i32x4, u64x2>(eights) >> 32) & lo;
    [cast(x), cast(y)]
}

/// The 32-bit lane of a [`Decimal`]'s memory (`flags, hi, lo, mid`) that holds the low 32 bits
/// of its mantissa.
const DECIMAL_LO: [i32; 4] = [0, 0, -1, 0];

/// The value of payload bytes `start..end` when they are 0 to 16 ASCII digits (empty is zero).
#[inline(always)]
fn digits(padded: &[u8; ROOM], start: usize, end: usize) -> Option<u64> {
    let n = end.wrapping_sub(start);
    if n.wrapping_sub(1) < 8 {
        // One to eight digits: the eight bytes ending at the field, earlier bytes masked off.
        let x = digit_word(padded, end, n);
        return (non_digits(x) == 0).then(|| swar8(x));
    }
    if n == 0 {
        return Some(0);
    }
    if n > 16 {
        return None;
    }
    let lo = load_before(padded, end);
    let hi = digit_word(padded, end - 8, n);
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
fn signed_decimal_into(
    bytes: &[u8],
    padded: &[u8; ROOM],
    start: usize,
    end: usize,
    dst: &mut Decimal,
) -> bool {
    let Some(field) = bytes.get(start..end) else { return false };
    let fast = || {
        let neg = field.first() == Some(&b'-');
        let body = start + usize::from(neg);
        let (mantissa, scale) = match field.iter().position(|&b| b == b'.') {
            None if body < end => (digits(padded, body, end)?, 0),
            Some(i) if start + i > body && start + i + 1 < end => {
                let dot = start + i;
                let scale = end - dot - 1;
                let int = digits(padded, body, dot)?;
                let frac = digits(padded, dot + 1, end)?;
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
fn hhmmss(bytes: &[u8], padded: &[u8; ROOM], start: usize, end: usize) -> Option<u32> {
    if end.checked_sub(start)? != 6 {
        return None;
    }
    let x = load_before(padded, end) & !0xffff;
    if non_digits(x) != 0 {
        // Not six digits (or a payload too long for the copy): the strict parser decides.
        return strict_hhmmss(bytes.get(start..end)?);
    }
    // Pairs of digits in 16-bit lanes: lane 1 hours, lane 2 minutes, lane 3 seconds.
    let v = (x.wrapping_mul(10).wrapping_add(x >> 8)) & 0x00ff_00ff_00ff_00ff;
    let (h, m, s) = ((v >> 16) & 0xff, (v >> 32) & 0xff, v >> 48);
    (h < 24 && m < 60 && s < 60).then(|| (h * 3600 + m * 60 + s) as u32)
}

#[cold]
fn strict_hhmmss(field: &[u8]) -> Option<u32> {
    parse_hhmmss(field).map(|time| chrono::Timelike::num_seconds_from_midnight(&time))
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

    /// A run of ten numbers, a pair, one field passed over, then three (an odd count): every
    /// kind of read in one run.
    struct Mixed([Decimal; 10], [Decimal; 2], [Decimal; 3]);

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
            n.fill("ten", &mut self.0, |d| d)?;
            let [a, b] = &mut self.1;
            n.pair(["first", "second"], a, b)?;
            n.skip(1);
            n.fill("three", &mut self.2, |d| d)
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
        let text =
            (0..150).map(|i| if i % 7 == 0 { String::new() } else { i.to_string() }).collect::<Vec<_>>();
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
}
