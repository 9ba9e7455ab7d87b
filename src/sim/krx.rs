//! KRX market rules: the tick grid, the daily ±30% price band, session times and the trading
//! calendar (weekends plus an explicit holiday list).

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};

/// Returns the KRX tick size for an order price (ETF/ETN: 5 KRW flat).
pub fn tick_size(price: i64, flat_five: bool) -> i64 {
    if flat_five {
        return 5;
    }
    match price {
        p if p < 2_000 => 1,
        p if p < 5_000 => 5,
        p if p < 20_000 => 10,
        p if p < 50_000 => 50,
        p if p < 200_000 => 100,
        p if p < 500_000 => 500,
        _ => 1_000,
    }
}

/// Returns true when `price` lies on the tick grid of its own price band.
pub fn on_grid(price: i64, flat_five: bool) -> bool {
    price > 0 && price % tick_size(price, flat_five) == 0
}

/// Returns the daily price band `(lower, upper)`: base ± 30%, the 30% step cut to the base price's
/// tick, then each limit kept on its own grid (the KRX rule; exact rounding UNCONFIRMED).
pub fn price_band(base: i64, flat_five: bool) -> (i64, i64) {
    let t = tick_size(base, flat_five);
    let delta = base * 3 / 10 / t * t;
    let raw_up = base + delta;
    let up = raw_up - raw_up % tick_size(raw_up, flat_five);
    let raw_lo = (base - delta).max(1);
    let tl = tick_size(raw_lo, flat_five);
    let lo = (raw_lo + tl - 1) / tl * tl;
    (lo, up.max(lo))
}

/// Returns the next grid price above `price`.
pub fn tick_up(price: i64, flat_five: bool) -> i64 {
    price + tick_size(price, flat_five)
}

/// Returns the next grid price below `price`.
pub fn tick_down(price: i64, flat_five: bool) -> i64 {
    let below = price - 1;
    let t = tick_size(below.max(1), flat_five);
    (below - below.rem_euclid(t)).max(1)
}

/// Start of continuous matching (KST).
pub fn session_open() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// End of the regular session including the closing auction (KST).
pub fn session_close() -> NaiveTime {
    NaiveTime::from_hms_opt(15, 30, 0).unwrap_or(NaiveTime::MIN)
}

/// The KRX trading calendar: weekends plus an explicit holiday list.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    holidays: Vec<NaiveDate>,
}

impl Calendar {
    /// Creates a calendar from explicit holidays (weekends are always closed).
    pub fn new(mut holidays: Vec<NaiveDate>) -> Self {
        holidays.sort_unstable();
        holidays.dedup();
        Self { holidays }
    }

    /// Returns the built-in KRX closures for 2025-2027 (weekday holidays and year-end closing days).
    pub fn krx_default() -> Self {
        Self::new(Self::krx_default_days())
    }

    /// Returns the built-in KRX closure dates for 2025-2027.
    pub fn krx_default_days() -> Vec<NaiveDate> {
        const DAYS: &[(i32, u32, u32)] = &[
            (2025, 1, 1),
            (2025, 1, 27),
            (2025, 1, 28),
            (2025, 1, 29),
            (2025, 1, 30),
            (2025, 3, 3),
            (2025, 5, 1),
            (2025, 5, 5),
            (2025, 5, 6),
            (2025, 6, 3),
            (2025, 6, 6),
            (2025, 8, 15),
            (2025, 10, 3),
            (2025, 10, 6),
            (2025, 10, 7),
            (2025, 10, 8),
            (2025, 10, 9),
            (2025, 12, 25),
            (2025, 12, 31),
            (2026, 1, 1),
            (2026, 2, 16),
            (2026, 2, 17),
            (2026, 2, 18),
            (2026, 3, 2),
            (2026, 5, 1),
            (2026, 5, 5),
            (2026, 5, 25),
            (2026, 6, 3),
            (2026, 8, 17),
            (2026, 9, 24),
            (2026, 9, 25),
            (2026, 10, 5),
            (2026, 10, 9),
            (2026, 12, 25),
            (2026, 12, 31),
            (2027, 1, 1),
            (2027, 2, 8),
            (2027, 2, 9),
            (2027, 3, 1),
            (2027, 5, 5),
            (2027, 5, 13),
            (2027, 8, 16),
            (2027, 9, 14),
            (2027, 9, 15),
            (2027, 9, 16),
            (2027, 10, 4),
            (2027, 10, 11),
            (2027, 12, 27),
            (2027, 12, 31),
        ];
        DAYS.iter().filter_map(|&(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)).collect()
    }

    /// Returns true when the market opens on `date`.
    pub fn is_trading_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && self.holidays.binary_search(&date).is_err()
    }

    /// Returns true on weekdays that are not holidays (business and settlement days coincide here).
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        self.is_trading_day(date)
    }

    /// Returns the last trading day strictly before `date`.
    pub fn previous_trading_day(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        for _ in 0..30 {
            d = d.pred_opt().unwrap_or(d);
            if self.is_trading_day(d) {
                return d;
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_table_matches_krx() {
        for (p, t) in [
            (1_999, 1),
            (2_000, 5),
            (4_995, 5),
            (5_000, 10),
            (19_990, 10),
            (20_000, 50),
            (49_950, 50),
            (50_000, 100),
            (199_900, 100),
            (200_000, 500),
            (499_500, 500),
            (500_000, 1_000),
        ] {
            assert_eq!(tick_size(p, false), t, "{p}");
        }
        assert_eq!(tick_size(70_000, true), 5);
        assert!(on_grid(71_900, false));
        assert!(!on_grid(71_950, false));
        assert_eq!(tick_down(50_000, false), 49_950);
        assert_eq!(tick_up(49_950, false), 50_000);
    }

    #[test]
    fn band_is_thirty_percent_on_grid() {
        let (lo, hi) = price_band(71_000, false);
        assert_eq!((lo, hi), (49_700, 92_300));
        assert!(on_grid(lo, false) && on_grid(hi, false));
        let (lo, hi) = price_band(128_500, false);
        assert_eq!((lo, hi), (90_000, 167_000));
    }

    #[test]
    fn calendar_knows_weekends_and_holidays() {
        let cal = Calendar::krx_default();
        assert!(!cal.is_trading_day(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()));
        assert!(!cal.is_trading_day(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()));
        assert!(cal.is_trading_day(NaiveDate::from_ymd_opt(2026, 3, 3).unwrap()));
        assert_eq!(
            cal.previous_trading_day(NaiveDate::from_ymd_opt(2026, 3, 3).unwrap()),
            NaiveDate::from_ymd_opt(2026, 2, 27).unwrap()
        );
    }
}
