//! Freshness of a master-file copy against the published refresh times (Asia/Seoul).
//!
//! KIS regenerates the master files several times a day; a copy is stale when it was taken before
//! the latest publication at or before "now". Time is always passed in, never read here.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Asia::Seoul;
use chrono_tz::Tz;

/// Published refresh times of the master files, KST, in ascending order.
pub const PUBLICATION_TIMES_KST: [(u32, u32); 13] = [
    (6, 0),
    (6, 55),
    (7, 35),
    (7, 55),
    (8, 45),
    (9, 46),
    (10, 55),
    (17, 10),
    (17, 30),
    (17, 55),
    (18, 10),
    (18, 30),
    (18, 55),
];

/// How many days back [`latest_publication_on_days`] looks for a publication day.
const MAX_LOOKBACK_DAYS: u64 = 31;

/// Where a copy stands against the publication schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// When the copy was downloaded.
    pub copy_time: DateTime<Utc>,
    /// The latest publication at or before "now", if any within the lookback.
    pub latest_publication: Option<DateTime<Utc>>,
    /// True when the copy predates that publication.
    pub stale: bool,
}

fn kst_instant(date: NaiveDate, (hour, minute): (u32, u32)) -> Option<DateTime<Utc>> {
    let time = NaiveTime::from_hms_opt(hour, minute, 0)?;
    // Korea has no daylight saving time, so local times are never ambiguous or skipped.
    Seoul.from_local_datetime(&date.and_time(time)).single().map(|t: DateTime<Tz>| t.with_timezone(&Utc))
}

/// Returns the latest publication instant at or before `now`, counting every calendar day as a
/// publication day.
pub fn latest_publication_before(now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    latest_publication_on_days(now, |_| true)
}

/// Returns the latest publication instant at or before `now` on a day `is_publication_day`
/// accepts (for example KRX business days), looking back at most 31 days.
pub fn latest_publication_on_days(
    now: DateTime<Utc>,
    is_publication_day: impl Fn(NaiveDate) -> bool,
) -> Option<DateTime<Utc>> {
    let today = now.with_timezone(&Seoul).date_naive();
    (0..=MAX_LOOKBACK_DAYS)
        .filter_map(|back| today.checked_sub_days(Days::new(back)))
        .filter(|day| is_publication_day(*day))
        .find_map(|day| {
            PUBLICATION_TIMES_KST.iter().rev().filter_map(|&hm| kst_instant(day, hm)).find(|t| *t <= now)
        })
}

/// Returns true when a copy taken at `copy_time` predates the latest publication at or before `now`.
pub fn is_stale(copy_time: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    freshness(copy_time, now, |_| true).stale
}

/// Returns the full freshness report of a copy, with publication days chosen by the caller.
pub fn freshness(
    copy_time: DateTime<Utc>,
    now: DateTime<Utc>,
    is_publication_day: impl Fn(NaiveDate) -> bool,
) -> Freshness {
    let latest_publication = latest_publication_on_days(now, is_publication_day);
    let stale = latest_publication.is_some_and(|p| copy_time < p);
    Freshness { copy_time, latest_publication, stale }
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Weekday};

    use super::*;

    fn kst(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Seoul.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn latest_publication_is_the_last_slot_at_or_before_now() {
        assert_eq!(latest_publication_before(kst(2026, 3, 3, 8, 0)), Some(kst(2026, 3, 3, 7, 55)));
        assert_eq!(latest_publication_before(kst(2026, 3, 3, 7, 55)), Some(kst(2026, 3, 3, 7, 55)));
        assert_eq!(latest_publication_before(kst(2026, 3, 3, 12, 0)), Some(kst(2026, 3, 3, 10, 55)));
        assert_eq!(latest_publication_before(kst(2026, 3, 3, 23, 59)), Some(kst(2026, 3, 3, 18, 55)));
    }

    #[test]
    fn before_the_first_slot_the_previous_evening_counts() {
        assert_eq!(latest_publication_before(kst(2026, 3, 3, 5, 59)), Some(kst(2026, 3, 2, 18, 55)));
        // 20:30 UTC on the 2nd is 05:30 KST on the 3rd: the day boundary is Seoul's, not UTC's.
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 20, 30, 0).unwrap();
        assert_eq!(latest_publication_before(now), Some(kst(2026, 3, 2, 18, 55)));
    }

    #[test]
    fn publication_days_skip_weekends() {
        let weekdays = |d: NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        // Monday 2026-03-02 at 05:00 -> Friday 2026-02-27 18:55.
        assert_eq!(
            latest_publication_on_days(kst(2026, 3, 2, 5, 0), weekdays),
            Some(kst(2026, 2, 27, 18, 55))
        );
        assert_eq!(latest_publication_on_days(kst(2026, 3, 2, 5, 0), |_| false), None);
    }

    #[test]
    fn copies_are_stale_only_before_the_latest_publication() {
        let now = kst(2026, 3, 3, 9, 0);
        assert!(!is_stale(kst(2026, 3, 3, 8, 45), now));
        assert!(!is_stale(kst(2026, 3, 3, 8, 50), now));
        assert!(is_stale(kst(2026, 3, 3, 8, 44), now));
        assert!(is_stale(kst(2026, 3, 2, 18, 56), now));
        let report = freshness(kst(2026, 3, 3, 7, 0), now, |_| true);
        assert_eq!(report.latest_publication, Some(kst(2026, 3, 3, 8, 45)));
        assert!(report.stale);
        assert!(!freshness(kst(2026, 1, 1, 0, 0), now, |_| false).stale);
    }
}
