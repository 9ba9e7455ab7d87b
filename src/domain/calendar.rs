//! The KRX trading calendar: weekends, the closed-day list of `schedules/holidays.toml`, special
//! sessions (late opens and closes) and overrides from the broker's holiday API.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use serde::Deserialize;

/// The KRX time zone.
pub const KST: chrono_tz::Tz = chrono_tz::Asia::Seoul;

/// The holiday list shipped with aegis (2026 and 2027).
pub const BUILTIN_HOLIDAYS: &str = include_str!("../../schedules/holidays.toml");

/// The trading hours of one day, in KST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// Opening time.
    pub open: NaiveTime,
    /// Closing time.
    pub close: NaiveTime,
}

/// A day with non-regular hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialSession {
    /// Its hours.
    pub session: Session,
    /// Why.
    pub reason: String,
}

/// Why a date does not trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedReason {
    /// Saturday or Sunday.
    Weekend,
    /// A listed (or broker-reported) holiday.
    Holiday(String),
}

impl std::fmt::Display for ClosedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Weekend => f.write_str("weekend"),
            Self::Holiday(name) => write!(f, "KRX holiday: {name}"),
        }
    }
}

/// A difference between the list and the broker's holiday API, applied in the broker's favour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerOverride {
    /// The date.
    pub date: NaiveDate,
    /// True when the broker says the market opens.
    pub open: bool,
}

/// Errors in a holiday file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The file is not valid TOML or has unknown keys or bad values.
    #[error("holiday list: {0}")]
    Parse(String),
    /// A date is listed twice.
    #[error("holiday list: {date} is listed twice")]
    Duplicate {
        /// The date.
        date: NaiveDate,
    },
    /// A special session on a closed day or a weekend.
    #[error("holiday list: the special session on {date} falls on a closed day")]
    SpecialOnClosedDay {
        /// The date.
        date: NaiveDate,
    },
    /// A session that does not open before it closes.
    #[error("holiday list: the session on {date} opens at {open} but closes at {close}")]
    BadSession {
        /// The date (the regular session uses 1970-01-01).
        date: NaiveDate,
        /// Opening time.
        open: NaiveTime,
        /// Closing time.
        close: NaiveTime,
    },
    /// A listed date outside the covered years.
    #[error("holiday list: {date} is outside covered_years")]
    Uncovered {
        /// The date.
        date: NaiveDate,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    covered_years: Vec<i32>,
    regular: RawSession,
    #[serde(default)]
    closed: Vec<RawClosed>,
    #[serde(default)]
    special: Vec<RawSpecial>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    open: NaiveTime,
    close: NaiveTime,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClosed {
    date: NaiveDate,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpecial {
    date: NaiveDate,
    open: NaiveTime,
    close: NaiveTime,
    reason: String,
}

/// The KRX calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KrxCalendar {
    regular: Session,
    covered_years: Vec<i32>,
    closed: BTreeMap<NaiveDate, String>,
    special: BTreeMap<NaiveDate, SpecialSession>,
}

fn checked_session(date: NaiveDate, open: NaiveTime, close: NaiveTime) -> Result<Session, CalendarError> {
    if open < close {
        Ok(Session { open, close })
    } else {
        Err(CalendarError::BadSession { date, open, close })
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

impl KrxCalendar {
    /// Parses and validates a holiday file.
    ///
    /// # Errors
    /// Returns a [`CalendarError`] naming the first problem.
    pub fn from_toml_str(text: &str) -> Result<Self, CalendarError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| CalendarError::Parse(e.to_string()))?;
        let regular = checked_session(NaiveDate::default(), raw.regular.open, raw.regular.close)?;
        let covered = |d: NaiveDate| {
            if raw.covered_years.contains(&d.year()) {
                Ok(())
            } else {
                Err(CalendarError::Uncovered { date: d })
            }
        };
        let mut closed = BTreeMap::new();
        for c in raw.closed {
            covered(c.date)?;
            if closed.insert(c.date, c.name).is_some() {
                return Err(CalendarError::Duplicate { date: c.date });
            }
        }
        let mut special = BTreeMap::new();
        for s in raw.special {
            covered(s.date)?;
            if closed.contains_key(&s.date) || is_weekend(s.date) {
                return Err(CalendarError::SpecialOnClosedDay { date: s.date });
            }
            let session = checked_session(s.date, s.open, s.close)?;
            if special.insert(s.date, SpecialSession { session, reason: s.reason }).is_some() {
                return Err(CalendarError::Duplicate { date: s.date });
            }
        }
        Ok(Self { regular, covered_years: raw.covered_years, closed, special })
    }

    /// Returns the calendar shipped with aegis.
    ///
    /// # Errors
    /// Returns a [`CalendarError`] only if the shipped file is broken (a test guards it).
    pub fn builtin() -> Result<Self, CalendarError> {
        Self::from_toml_str(BUILTIN_HOLIDAYS)
    }

    /// Returns the regular session.
    pub const fn regular(&self) -> Session {
        self.regular
    }

    /// Returns whether the holiday list covers the date's year (outside it only weekends close).
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.covered_years.contains(&date.year())
    }

    /// Returns why the market is closed on a date, or `None` on a trading day.
    pub fn closed_reason(&self, date: NaiveDate) -> Option<ClosedReason> {
        if let Some(name) = self.closed.get(&date) {
            return Some(ClosedReason::Holiday(name.clone()));
        }
        is_weekend(date).then_some(ClosedReason::Weekend)
    }

    /// Returns whether the market trades on a date.
    pub fn is_trading_day(&self, date: NaiveDate) -> bool {
        self.closed_reason(date).is_none()
    }

    /// Returns the day's session in KST, or `None` on a closed day.
    pub fn session(&self, date: NaiveDate) -> Option<Session> {
        if !self.is_trading_day(date) {
            return None;
        }
        Some(self.special.get(&date).map_or(self.regular, |s| s.session))
    }

    /// Returns the special session of a date, if any.
    pub fn special(&self, date: NaiveDate) -> Option<&SpecialSession> {
        self.special.get(&date)
    }

    /// Returns the first trading day strictly after `date` (within ten years).
    pub fn next_trading_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        date.iter_days().skip(1).take(3660).find(|d| self.is_trading_day(*d))
    }

    /// Applies the broker's holiday API answers (`date`, market open?) and returns the dates whose
    /// status changed. A day the broker reports open is traded even if listed; a weekday the
    /// broker reports closed is not (its special session, if any, is dropped).
    pub fn apply_broker_holidays(
        &mut self,
        answers: impl IntoIterator<Item = (NaiveDate, bool)>,
    ) -> Vec<BrokerOverride> {
        let mut changed = Vec::new();
        for (date, open) in answers {
            if open == self.is_trading_day(date) {
                continue;
            }
            if open {
                if self.closed.remove(&date).is_none() {
                    // A weekend the broker reports open is not something aegis trades on.
                    continue;
                }
            } else {
                self.closed.insert(date, "closed according to the broker".to_owned());
                self.special.remove(&date);
            }
            changed.push(BrokerOverride { date, open });
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn t(s: &str) -> NaiveTime {
        s.parse().unwrap()
    }

    #[test]
    fn builtin_list_is_valid_and_knows_the_holidays() {
        let cal = KrxCalendar::builtin().unwrap();
        for closed in ["2026-01-01", "2026-02-17", "2026-06-03", "2026-09-25", "2026-12-31", "2027-02-09"] {
            assert!(!cal.is_trading_day(d(closed)), "{closed} must be closed");
            assert!(matches!(cal.closed_reason(d(closed)), Some(ClosedReason::Holiday(_))));
        }
        assert_eq!(cal.closed_reason(d("2026-11-21")), Some(ClosedReason::Weekend));
        assert_eq!(cal.session(d("2026-11-18")), Some(Session { open: t("09:00"), close: t("15:30") }));
        assert_eq!(cal.session(d("2026-11-19")), Some(Session { open: t("10:00"), close: t("16:30") }));
        assert_eq!(cal.session(d("2027-01-04")).map(|s| s.open), Some(t("10:00")));
        assert_eq!(cal.session(d("2026-06-03")), None);
        assert!(cal.covers(d("2027-06-01")) && !cal.covers(d("2028-01-03")));
    }

    #[test]
    fn next_trading_day_skips_weekends_and_holidays() {
        let cal = KrxCalendar::builtin().unwrap();
        assert_eq!(cal.next_trading_day(d("2026-12-30")), Some(d("2027-01-04")));
        assert_eq!(cal.next_trading_day(d("2026-02-13")), Some(d("2026-02-19")));
        assert_eq!(cal.next_trading_day(d("2026-06-02")), Some(d("2026-06-04")));
    }

    #[test]
    fn broker_answers_override_the_list() {
        let mut cal = KrxCalendar::builtin().unwrap();
        let changed = cal.apply_broker_holidays([
            (d("2026-07-17"), false),
            (d("2026-06-03"), true),
            (d("2026-11-19"), true),
            (d("2026-11-21"), true),
        ]);
        assert_eq!(
            changed,
            vec![
                BrokerOverride { date: d("2026-07-17"), open: false },
                BrokerOverride { date: d("2026-06-03"), open: true }
            ]
        );
        assert!(!cal.is_trading_day(d("2026-07-17")));
        assert_eq!(cal.session(d("2026-06-03")), Some(cal.regular()));
        assert!(!cal.is_trading_day(d("2026-11-21")));
    }

    #[test]
    fn bad_files_get_typed_errors() {
        let head = "covered_years = [2026]\n[regular]\nopen = \"09:00\"\nclose = \"15:30\"\n";
        let dup = format!(
            "{head}[[closed]]\ndate = \"2026-01-01\"\nname = \"a\"\n[[closed]]\ndate = \"2026-01-01\"\nname = \"b\"\n"
        );
        assert_eq!(KrxCalendar::from_toml_str(&dup), Err(CalendarError::Duplicate { date: d("2026-01-01") }));
        let weekend = format!(
            "{head}[[special]]\ndate = \"2026-11-21\"\nopen = \"10:00\"\nclose = \"16:30\"\nreason = \"x\"\n"
        );
        assert_eq!(
            KrxCalendar::from_toml_str(&weekend),
            Err(CalendarError::SpecialOnClosedDay { date: d("2026-11-21") })
        );
        let inverted = format!(
            "{head}[[special]]\ndate = \"2026-11-19\"\nopen = \"16:30\"\nclose = \"10:00\"\nreason = \"x\"\n"
        );
        assert!(matches!(KrxCalendar::from_toml_str(&inverted), Err(CalendarError::BadSession { .. })));
        let outside = format!("{head}[[closed]]\ndate = \"2030-01-01\"\nname = \"a\"\n");
        assert_eq!(
            KrxCalendar::from_toml_str(&outside),
            Err(CalendarError::Uncovered { date: d("2030-01-01") })
        );
        let unknown = format!("{head}holiday = 1\n");
        assert!(matches!(KrxCalendar::from_toml_str(&unknown), Err(CalendarError::Parse(_))));
        assert!(matches!(KrxCalendar::from_toml_str("covered_years = 1"), Err(CalendarError::Parse(_))));
    }
}
