//! The strict parsers of numeric and time fields: the reference every fast path of the codec
//! agrees with and falls back to, also used by the REST models.

use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;

/// Parses unpadded or zero-padded decimal text (`"-0.14"`, `"000003190"`); empty means zero.
/// Returns `None` for anything else, including more than 18 significant digits.
pub fn parse_decimal(field: &[u8]) -> Option<Decimal> {
    let (neg, digits) = match field {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, field),
    };
    let mut mantissa: i64 = 0;
    let mut scale: u32 = 0;
    let mut seen_dot = false;
    let mut seen_digit = false;
    let mut significant = 0u32;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                if mantissa != 0 || b != b'0' {
                    significant += 1;
                    if significant > 18 {
                        return None;
                    }
                }
                mantissa = mantissa * 10 + i64::from(b - b'0');
                if seen_dot {
                    scale += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if !seen_digit && !field.is_empty() {
        return None;
    }
    if scale > 28 {
        return None;
    }
    Some(Decimal::new(if neg { -mantissa } else { mantissa }, scale))
}

fn two(b: &[u8], i: usize) -> Option<u32> {
    let hi = b.get(i)?.checked_sub(b'0').filter(|d| *d < 10)?;
    let lo = b.get(i + 1)?.checked_sub(b'0').filter(|d| *d < 10)?;
    Some(u32::from(hi) * 10 + u32::from(lo))
}

/// Parses `HHMMSS`.
pub fn parse_hhmmss(b: &[u8]) -> Option<NaiveTime> {
    if b.len() != 6 {
        return None;
    }
    NaiveTime::from_hms_opt(two(b, 0)?, two(b, 2)?, two(b, 4)?)
}

/// Parses `YYYYMMDD`.
pub fn parse_yyyymmdd(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 8 {
        return None;
    }
    let year = i32::try_from(two(b, 0)? * 100 + two(b, 2)?).ok()?;
    NaiveDate::from_ymd_opt(year, two(b, 4)?, two(b, 6)?)
}
