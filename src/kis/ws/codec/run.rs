//! The run of numbers: a record's numeric fields in a row (the book's 46) read in one tight
//! pass, with the walker's state in registers, two numbers converted per SIMD register and
//! written as one 16-byte store per decimal, and the checks of every field folded into one test
//! at the end; the strict field-by-field reading of the same run when that test fails.

use std::num::NonZeroU64;

use bytemuck::cast;
use rust_decimal::Decimal;
use wide::{i16x8, i32x4, u8x16, u16x8, u64x2};

use super::digits::digit_word;
use super::layout::Field;
use super::separators::{Fields, POSITIONS, ROOM};

impl<'a> Fields<'a> {
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
}

/// A reader of runs of numeric fields: the fast [`Run`] and the strict field-by-field
/// [`Fields`].
pub(crate) trait Numbers {
    /// Parses the next `N` fields, `fields`, into `slot(item)` each, in order. A [`Run`] always
    /// returns `Ok` and leaves its verdict to the end of the run; [`Fields`] returns `Err(name)`
    /// with the name of the first malformed field.
    fn fill<T, const N: usize>(
        &mut self,
        fields: &[Field; N],
        items: &mut [T; N],
        slot: impl FnMut(&mut T) -> &mut Decimal,
    ) -> Result<(), &'static str>;

    /// Parses the next two fields, `fields`, into `a` and `b`.
    fn pair(&mut self, fields: [Field; 2], a: &mut Decimal, b: &mut Decimal) -> Result<(), &'static str>;

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
        fields: &[Field; N],
        items: &mut [T; N],
        mut slot: impl FnMut(&mut T) -> &mut Decimal,
    ) -> Result<(), &'static str> {
        for (item, field) in items.iter_mut().zip(fields) {
            if !self.decimal_into(slot(item)) {
                return Err(field.name);
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn pair(&mut self, [x, y]: [Field; 2], a: &mut Decimal, b: &mut Decimal) -> Result<(), &'static str> {
        if !self.decimal_into(a) {
            return Err(x.name);
        }
        if !self.decimal_into(b) {
            return Err(y.name);
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
        _fields: &[Field; N],
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
    fn pair(&mut self, _fields: [Field; 2], a: &mut Decimal, b: &mut Decimal) -> Result<(), &'static str> {
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
pub(super) const DECIMAL_LO: [i32; 4] = [0, 0, -1, 0];
