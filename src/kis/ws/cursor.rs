//! A forward-only cursor over `^`-separated fields that parses numbers in place, eight bytes
//! at a time (SWAR), without allocating. Used by the codec's hot path.

use rust_decimal::Decimal;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
const POW10: [u64; 9] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];
/// Most digits an unsigned fast-path field may have (fits `u64` with room to spare).
const MAX_DIGITS: usize = 18;

/// A cursor over the fields of a payload.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

#[inline]
fn load(bytes: &[u8], pos: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(pos..pos + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Converts eight digit values (0-9, most significant in the lowest byte) into a number.
#[inline]
fn swar8(v: u64) -> u64 {
    let v = (v.wrapping_mul(10).wrapping_add(v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let v = (v.wrapping_mul(100).wrapping_add(v >> 16)) & 0x0000_ffff_0000_ffff;
    (v.wrapping_mul(10_000).wrapping_add(v >> 32)) & 0xffff_ffff
}

impl<'a> Cursor<'a> {
    /// Returns a cursor at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Returns the next field and moves past its separator.
    #[inline]
    pub(crate) fn field(&mut self) -> &'a [u8] {
        let start = self.pos;
        let mut pos = start;
        while let Some(chunk) = load(self.bytes, pos) {
            let x = chunk ^ (u64::from(b'^') * ONES);
            let found = x.wrapping_sub(ONES) & !x & HIGHS;
            if found != 0 {
                pos += (found.trailing_zeros() / 8) as usize;
                self.pos = pos + 1;
                return self.bytes.get(start..pos).unwrap_or_default();
            }
            pos += 8;
        }
        while let Some(&b) = self.bytes.get(pos) {
            if b == b'^' {
                self.pos = pos + 1;
                return self.bytes.get(start..pos).unwrap_or_default();
            }
            pos += 1;
        }
        self.pos = pos;
        self.bytes.get(start..pos).unwrap_or_default()
    }

    /// Skips `n` fields, counting separators eight bytes at a time.
    #[inline]
    pub(crate) fn skip(&mut self, n: usize) {
        let mut left = n;
        let mut pos = self.pos;
        while left > 0 {
            let Some(chunk) = load(self.bytes, pos) else { break };
            let x = chunk ^ (u64::from(b'^') * ONES);
            // Exact zero-byte mask: the high bit is set exactly for bytes equal to '^'.
            let mut carets = !((((x & !HIGHS).wrapping_add(!HIGHS)) | x) | !HIGHS);
            let count = carets.count_ones() as usize;
            if count < left {
                left -= count;
                pos += 8;
                continue;
            }
            for _ in 1..left {
                carets &= carets - 1;
            }
            self.pos = pos + (carets.trailing_zeros() / 8) as usize + 1;
            return;
        }
        self.pos = pos;
        for _ in 0..left {
            self.field();
        }
    }

    /// Parses the next field as a decimal (empty means zero); `None` when malformed.
    #[inline]
    pub(crate) fn decimal(&mut self) -> Option<Decimal> {
        let start = self.pos;
        if let Some(v) = self.fast_decimal() {
            return Some(v);
        }
        self.pos = start;
        super::codec::parse_decimal(self.field())
    }

    /// Parses `-?digits(.digits)?` followed by `^` or the end; returns `None` (cursor position
    /// then unspecified) for anything else so the caller can fall back to the strict parser.
    #[inline]
    fn fast_decimal(&mut self) -> Option<Decimal> {
        let neg = self.bytes.get(self.pos) == Some(&b'-');
        if neg {
            self.pos += 1;
        }
        let (int, int_digits) = self.digits(0, 0)?;
        let dot = self.bytes.get(self.pos) == Some(&b'.');
        let (mantissa, digits, scale) = if dot {
            self.pos += 1;
            let (m, d) = self.digits(int, int_digits)?;
            (m, d, d - int_digits)
        } else {
            (int, int_digits, 0)
        };
        if (neg || dot) && digits == 0 {
            return None;
        }
        match self.bytes.get(self.pos) {
            None => {}
            Some(b'^') => self.pos += 1,
            Some(_) => return None,
        }
        let m = i64::try_from(mantissa).ok()?;
        Some(Decimal::new(if neg { -m } else { m }, u32::try_from(scale).ok()?))
    }

    /// Continues the number `acc` (of `digits` digits) with the run of digits at the cursor.
    #[inline]
    fn digits(&mut self, mut acc: u64, mut digits: usize) -> Option<(u64, usize)> {
        let mut pos = self.pos;
        while let Some(chunk) = load(self.bytes, pos) {
            let x = chunk ^ (u64::from(b'0') * ONES);
            let non_digit = (((x & 0x7f7f_7f7f_7f7f_7f7f).wrapping_add(0x7676_7676_7676_7676)) | x) & HIGHS;
            let n = (non_digit.trailing_zeros() / 8) as usize;
            if n > 0 {
                let value = swar8(if n == 8 { x } else { x << (8 * (8 - n)) });
                acc = acc.checked_mul(*POW10.get(n)?)?.checked_add(value)?;
                digits += n;
                pos += n;
            }
            if digits > MAX_DIGITS {
                return None;
            }
            if n < 8 {
                self.pos = pos;
                return Some((acc, digits));
            }
        }
        while let Some(&b) = self.bytes.get(pos) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            acc = acc.checked_mul(10)?.checked_add(u64::from(d))?;
            digits += 1;
            pos += 1;
            if digits > MAX_DIGITS {
                return None;
            }
        }
        self.pos = pos;
        Some((acc, digits))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn skip_agrees_with_field_by_field() {
        let text = b"a^bb^^ccc^dddddddddd^e^^^^ffffffffffffffffff^g^h";
        for n in 0..14 {
            let (mut fast, mut slow) = (Cursor::new(text), Cursor::new(text));
            fast.skip(n);
            for _ in 0..n {
                slow.field();
            }
            assert_eq!(fast.field(), slow.field(), "after skipping {n}");
        }
    }

    #[test]
    fn walks_fields_and_parses_numbers() {
        let mut c = Cursor::new(b"12345678901^-0.14^^abc^000003190^7");
        assert_eq!(c.decimal(), Some(dec!(12345678901)));
        assert_eq!(c.decimal(), Some(dec!(-0.14)));
        assert_eq!(c.decimal(), Some(dec!(0)));
        assert_eq!(c.decimal(), None);
        assert_eq!(c.decimal(), Some(dec!(3190)));
        assert_eq!(c.field(), b"7");
        assert_eq!(c.field(), b"");
    }

    proptest! {
        #[test]
        fn agrees_with_the_slow_parser(fields in prop::collection::vec("[0-9]{0,20}|-?[0-9]{1,6}\\.[0-9]{0,4}|[0-9a-z^.]{0,12}", 1..12)) {
            let text = fields.join("^");
            let mut fast = Cursor::new(text.as_bytes());
            for f in text.split('^') {
                prop_assert_eq!(fast.decimal(), super::super::codec::parse_decimal(f.as_bytes()));
            }
        }
    }
}
