//! Seconds after midnight KST turned into UTC instants of one trading day.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::domain::market::KST_OFFSET_SECS;

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
