//! Digits converted eight at a time (SWAR) from the payload's padded copy, and the fast
//! parsers of signed decimals and `HHMMSS` times built on them; anything they do not accept
//! goes to the strict parsers.

use rust_decimal::Decimal;

use super::separators::{POSITIONS, ROOM};
use super::strict::{parse_decimal, parse_hhmmss};

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

/// The digit values of the eight payload bytes before position `end` (no digits before the
/// payload's start), little-endian, from the padded copy (no bounds check: the index is masked
/// into it).
#[inline(always)]
pub(super) fn load_before(padded: &[u8; ROOM], end: usize) -> u64 {
    let i = end & (POSITIONS - 1);
    padded.get(i..i + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()).map_or(0, u64::from_le_bytes)
}

/// The digit values of the eight payload bytes before `end`, most significant in the lowest
/// byte, keeping only the last `n % 8` of them (all eight when `n % 8 == 0`); not yet checked
/// for non-digits.
#[inline(always)]
pub(super) fn digit_word(padded: &[u8; ROOM], end: usize, n: usize) -> u64 {
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

/// The value of payload bytes `start..end` when they are 0 to 16 ASCII digits (empty is zero).
#[inline(always)]
pub(super) fn digits(padded: &[u8; ROOM], start: usize, end: usize) -> Option<u64> {
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
pub(super) fn signed_decimal_into(
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
pub(super) fn hhmmss(bytes: &[u8], padded: &[u8; ROOM], start: usize, end: usize) -> Option<u32> {
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
