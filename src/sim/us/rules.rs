//! US market rules as the simulator applies them: prices in ten-thousandths of a dollar, the
//! tick grid ($0.01 from $1, $0.0001 below), the regular session 09:30-16:00 New York time
//! mapped to KST with daylight saving from the tz database (`America/New_York`, overseas.md §2),
//! the NYSE holidays of 2025-2027 and the decimal formats of the wire.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::America::New_York;
use rust_decimal::Decimal;

use super::super::clock::kst;

/// Decimals of the internal price unit (and of the US quote fields, `zdiv` 4).
pub const SCALE: u32 = 4;
/// One dollar in price units.
pub const UNIT: i64 = 10_000;

/// Returns the tick size of a US price in units: one cent from $1, $0.0001 below.
pub fn tick_size(price: i64) -> i64 {
    if price >= UNIT { 100 } else { 1 }
}

/// Returns true when `price` is positive and on the tick grid.
pub fn on_grid(price: i64) -> bool {
    price > 0 && price % tick_size(price) == 0
}

/// Returns the next grid price above `price`.
pub fn tick_up(price: i64) -> i64 {
    price + tick_size(price)
}

/// Returns the next grid price below `price` (at least one unit).
pub fn tick_down(price: i64) -> i64 {
    let below = price - 1;
    let t = tick_size(below.max(1));
    (below - below.rem_euclid(t)).max(1)
}

/// US stocks have no daily price limits; the simulator keeps its process inside (one unit, ten
/// times the base), which no order or print reaches in practice.
pub fn price_band(base: i64) -> (i64, i64) {
    let hi = base.max(UNIT).saturating_mul(10);
    (1, hi - hi % tick_size(hi))
}

/// Returns `t` in New York local time.
pub fn local(t: DateTime<FixedOffset>) -> DateTime<chrono_tz::Tz> {
    t.with_timezone(&New_York)
}

/// Returns the New York local date of an instant (the US trading date while a session runs).
pub fn local_date(t: DateTime<FixedOffset>) -> NaiveDate {
    local(t).date_naive()
}

/// Returns the KST instant of a New York wall-clock time.
pub fn ny(date: NaiveDate, time: NaiveTime) -> DateTime<FixedOffset> {
    let naive = date.and_time(time);
    New_York
        .from_local_datetime(&naive)
        .earliest()
        .map_or_else(|| naive.and_utc().fixed_offset(), |t| t.with_timezone(&kst()))
}

/// Start of the regular session of `date` (09:30 New York) in KST.
pub fn open_at(date: NaiveDate) -> DateTime<FixedOffset> {
    ny(date, NaiveTime::from_hms_opt(9, 30, 0).unwrap_or(NaiveTime::MIN))
}

/// End of the regular session of `date` (16:00 New York) in KST.
pub fn close_at(date: NaiveDate) -> DateTime<FixedOffset> {
    ny(date, session_close_local())
}

/// The regular session's end in New York local time.
pub fn session_close_local() -> NaiveTime {
    NaiveTime::from_hms_opt(16, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// The NYSE full-day closures of 2025-2027 (weekends are always closed; the early closes at
/// 13:00 are not modelled).
pub fn default_holidays() -> Vec<NaiveDate> {
    const DAYS: &[(i32, u32, u32)] = &[
        (2025, 1, 1),
        (2025, 1, 9),
        (2025, 1, 20),
        (2025, 2, 17),
        (2025, 4, 18),
        (2025, 5, 26),
        (2025, 6, 19),
        (2025, 7, 4),
        (2025, 9, 1),
        (2025, 11, 27),
        (2025, 12, 25),
        (2026, 1, 1),
        (2026, 1, 19),
        (2026, 2, 16),
        (2026, 4, 3),
        (2026, 5, 25),
        (2026, 6, 19),
        (2026, 7, 3),
        (2026, 9, 7),
        (2026, 11, 26),
        (2026, 12, 25),
        (2027, 1, 1),
        (2027, 1, 18),
        (2027, 2, 15),
        (2027, 3, 26),
        (2027, 5, 31),
        (2027, 6, 18),
        (2027, 7, 5),
        (2027, 9, 6),
        (2027, 11, 25),
        (2027, 12, 24),
    ];
    DAYS.iter().filter_map(|&(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)).collect()
}

/// Formats price units with four decimals (`2301250` → `"230.1250"`, `-100` → `"-0.0100"`).
pub fn fmt4(units: i64) -> String {
    format!("{:.4}", Decimal::new(units, SCALE))
}

/// Formats a decimal with `dp` decimals (rounded half away from zero).
pub fn fmt_dp(d: Decimal, dp: u32) -> String {
    let r = d.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let r = if r.is_zero() { Decimal::ZERO } else { r };
    format!("{r:.prec$}", prec = dp as usize)
}

/// Returns the money value of `units` (price units times a quantity) in dollars.
pub fn dollars(units: i64) -> Decimal {
    Decimal::new(units, SCALE)
}

/// Parses a decimal price text (`"145.00"`, `"900.0"`, `"1.4"`, up to 23 integer and 8 fraction
/// digits) into price units. Returns `None` for text that is not such a number and `Some(Err(()))`
/// for a price finer than $0.0001.
pub fn parse_price(text: &str) -> Option<Result<i64, ()>> {
    let t = text.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 23 || frac.len() > 8 || !digits(int) || !digits(frac) {
        return None;
    }
    let d: Decimal = t.parse().ok()?;
    let scaled = d * Decimal::from(UNIT);
    if scaled.fract() != Decimal::ZERO {
        return Some(Err(()));
    }
    Some(rust_decimal::prelude::ToPrimitive::to_i64(&scaled).ok_or(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn session_follows_new_york_daylight_saving() {
        // Standard time: 09:30 EST = 23:30 KST; summer time: 09:30 EDT = 22:30 KST (overseas.md §2).
        assert_eq!(open_at(d(2026, 3, 3)).to_rfc3339(), "2026-03-03T23:30:00+09:00");
        assert_eq!(close_at(d(2026, 3, 3)).to_rfc3339(), "2026-03-04T06:00:00+09:00");
        assert_eq!(open_at(d(2026, 3, 9)).to_rfc3339(), "2026-03-09T22:30:00+09:00");
        assert_eq!(close_at(d(2026, 11, 2)).to_rfc3339(), "2026-11-03T06:00:00+09:00");
        assert_eq!(local_date(open_at(d(2026, 7, 1)) + chrono::TimeDelta::hours(6)), d(2026, 7, 1));
    }

    #[test]
    fn grid_and_formats() {
        assert_eq!(tick_size(10_000), 100);
        assert_eq!(tick_size(9_999), 1);
        assert_eq!(tick_down(10_000), 9_999);
        assert_eq!(tick_up(9_999), 10_000);
        assert!(on_grid(2_301_200) && !on_grid(2_301_250));
        assert_eq!(fmt4(2_301_250), "230.1250");
        assert_eq!(fmt4(-100), "-0.0100");
        assert_eq!(fmt_dp(Decimal::new(-5, 3), 2), "-0.01");
        assert_eq!(fmt_dp(Decimal::new(-4, 3), 2), "0.00");
        assert_eq!(parse_price("145.00"), Some(Ok(1_450_000)));
        assert_eq!(parse_price("1.4"), Some(Ok(14_000)));
        assert_eq!(parse_price("0"), Some(Ok(0)));
        assert_eq!(parse_price("1.00001"), Some(Err(())));
        assert_eq!(parse_price("1.000010000"), None);
        assert_eq!(parse_price(""), None);
        assert_eq!(parse_price("-1"), None);
        assert_eq!(default_holidays().len(), 31);
    }
}
