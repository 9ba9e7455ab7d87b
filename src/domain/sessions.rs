//! The calendar a pipeline runs on, whichever market it trades: whether a trade date is open, the
//! instants its regular session opens and closes, and the trade date of an instant. The KRX
//! calendar (KST dates, sessions within one KST day) and the US calendar (New York dates,
//! sessions across KST midnight) both answer it, so the runner and the stages need not know
//! which market they serve.

use std::fmt;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::MarketRegion;
use super::calendar::{KST, KrxCalendar};
use super::us_calendar::{NEW_YORK, UsCalendar};

/// Returns the trade date an instant belongs to in a market: the KST date for KRX, the New York
/// date for the US (whose session runs across KST midnight).
pub fn trade_date_in(region: MarketRegion, at: DateTime<Utc>) -> NaiveDate {
    match region {
        MarketRegion::Kr => at.with_timezone(&KST).date_naive(),
        MarketRegion::Us => at.with_timezone(&NEW_YORK).date_naive(),
    }
}

/// The regular session of one trade date, as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindow {
    /// First instant of the session.
    pub open: DateTime<Utc>,
    /// First instant after it.
    pub close: DateTime<Utc>,
}

/// A market's trading calendar as the pipeline sees it.
pub trait SessionCalendar: Send + Sync + fmt::Debug {
    /// Returns the market.
    fn region(&self) -> MarketRegion;

    /// Returns why `date` has no session, or `None` on a trading day.
    fn closed_reason(&self, date: NaiveDate) -> Option<String>;

    /// Returns the regular session of `date`, or `None` on a closed day.
    fn session_window(&self, date: NaiveDate) -> Option<SessionWindow>;

    /// Returns the trade date an instant belongs to (the market's local date).
    fn trade_date_at(&self, at: DateTime<Utc>) -> NaiveDate;

    /// Returns how far the session of `date` moves from the regular one in the market's local
    /// time — (open, close): a later open, an early close — or `None` on a closed day. Schedule
    /// triggers anchored to the open or the close move by it.
    fn session_shift(&self, date: NaiveDate) -> Option<(TimeDelta, TimeDelta)>;

    /// Returns true when `date` has a session.
    fn is_open(&self, date: NaiveDate) -> bool {
        self.closed_reason(date).is_none()
    }
}

impl SessionCalendar for KrxCalendar {
    fn region(&self) -> MarketRegion {
        MarketRegion::Kr
    }

    fn closed_reason(&self, date: NaiveDate) -> Option<String> {
        KrxCalendar::closed_reason(self, date).map(|r| r.to_string())
    }

    fn session_window(&self, date: NaiveDate) -> Option<SessionWindow> {
        self.session(date).map(|s| SessionWindow {
            open: super::market::kst_to_utc(date, s.open),
            close: super::market::kst_to_utc(date, s.close),
        })
    }

    fn trade_date_at(&self, at: DateTime<Utc>) -> NaiveDate {
        trade_date_in(MarketRegion::Kr, at)
    }

    fn session_shift(&self, date: NaiveDate) -> Option<(TimeDelta, TimeDelta)> {
        let session = self.session(date)?;
        let regular = self.regular();
        Some((session.open - regular.open, session.close - regular.close))
    }
}

impl SessionCalendar for UsCalendar {
    fn region(&self) -> MarketRegion {
        MarketRegion::Us
    }

    fn closed_reason(&self, date: NaiveDate) -> Option<String> {
        UsCalendar::closed_reason(self, date).map(|r| r.to_string())
    }

    fn session_window(&self, date: NaiveDate) -> Option<SessionWindow> {
        self.regular_session(date)
            .map(|s| SessionWindow { open: s.open.with_timezone(&Utc), close: s.close.with_timezone(&Utc) })
    }

    fn trade_date_at(&self, at: DateTime<Utc>) -> NaiveDate {
        trade_date_in(MarketRegion::Us, at)
    }

    fn session_shift(&self, date: NaiveDate) -> Option<(TimeDelta, TimeDelta)> {
        let hours = self.hours(date)?;
        let regular = self.regular();
        Some((hours.open - regular.open, hours.close - regular.close))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn both_calendars_answer_in_instants() {
        let krx: &dyn SessionCalendar = &KrxCalendar::builtin().unwrap();
        let us: &dyn SessionCalendar = &UsCalendar::builtin().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let k = krx.session_window(day).unwrap();
        assert_eq!(
            (k.open.to_rfc3339(), k.close.to_rfc3339()),
            ("2026-12-07T00:00:00+00:00".to_owned(), "2026-12-07T06:30:00+00:00".to_owned())
        );
        // 09:30–16:00 in New York (winter) = 23:30 KST on the 7th to 06:00 KST on the 8th.
        let u = us.session_window(day).unwrap();
        assert_eq!(
            (u.open.to_rfc3339(), u.close.to_rfc3339()),
            ("2026-12-07T14:30:00+00:00".to_owned(), "2026-12-07T21:00:00+00:00".to_owned())
        );
        let late = Utc.with_ymd_and_hms(2026, 12, 7, 20, 0, 0).unwrap(); // 05:00 KST on the 8th
        assert_eq!(krx.trade_date_at(late), day.succ_opt().unwrap());
        assert_eq!(us.trade_date_at(late), day);
        let christmas = NaiveDate::from_ymd_opt(2026, 12, 25).unwrap();
        assert!(!us.is_open(christmas) && us.closed_reason(christmas).is_some());
        assert!(krx.is_open(day) && us.is_open(day));
        assert_eq!((krx.region(), us.region()), (MarketRegion::Kr, MarketRegion::Us));
    }
}
