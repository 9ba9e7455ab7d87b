//! The US equity calendar (NYSE, NYSE American, Nasdaq) seen from Korea: weekends, the closed days
//! and early closes of `schedules/us_holidays.toml`, and the sessions of a US trade date as KST
//! instants.
//!
//! Every exchange time is New York wall-clock time and is converted to KST through the tz
//! database's `America/New_York` rules (chrono-tz): daylight-saving time is computed, never listed.
//! The regular session 09:30–16:00 New York is 23:30–06:00 KST in US standard time and 22:30–05:00
//! KST in US summer time; Korea keeps one offset all year.
//!
//! A US trade date is the New York local date (the date KIS's overseas inquiries take). Its
//! pre-market, regular session and after-hours all lie inside that New York day, so they span two
//! KST dates: the 2026-01-14 session runs from 18:00 KST on the 14th to 10:00 KST on the 15th.
//! [`UsCalendar::trade_date_of`] maps a KST instant back to its trade date.
//!
//! What the exchanges run ([`UsCalendar::sessions`]) is kept apart from what aegis trades through
//! KIS ([`UsSessionConfig`], [`UsCalendar::tradable_sessions`]): KIS does not document its
//! extended-hours windows (overseas.md §2 and §6 item 3), so they are configurable.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Weekday,
};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::calendar::KST;

/// The US exchanges' time zone.
pub const NEW_YORK: Tz = chrono_tz::America::New_York;

/// The US holiday list shipped with aegis (2026 and 2027).
pub const BUILTIN_US_HOLIDAYS: &str = include_str!("../../schedules/us_holidays.toml");

/// The file name `aegis` reads (`cli::ops_cmd::load_us_calendar`) in the schedules directory.
pub const US_HOLIDAYS_FILE: &str = "us_holidays.toml";

/// One of the sessions of a US trade date, in time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UsSessionKind {
    /// KIS's US day session (주간거래, `daytime-order`), on the KST morning of the trade date.
    Day,
    /// The pre-market, up to the open.
    PreMarket,
    /// The regular (core) session.
    Regular,
    /// After-hours, from the close.
    AfterHours,
}

impl UsSessionKind {
    /// A short name for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day session",
            Self::PreMarket => "pre-market",
            Self::Regular => "regular",
            Self::AfterHours => "after-hours",
        }
    }
}

impl std::fmt::Display for UsSessionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session as a half-open range of KST instants: `open <= t < close`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsSession {
    /// Which session.
    pub kind: UsSessionKind,
    /// First instant, in KST.
    pub open: DateTime<Tz>,
    /// First instant after the session, in KST.
    pub close: DateTime<Tz>,
}

impl UsSession {
    /// Returns whether an instant (in any time zone) lies in the session.
    pub fn contains<Z: TimeZone>(&self, at: &DateTime<Z>) -> bool {
        let at = at.with_timezone(&KST);
        self.open <= at && at < self.close
    }

    /// Returns the session's length.
    pub fn duration(&self) -> TimeDelta {
        self.close.signed_duration_since(self.open)
    }
}

/// The exchanges' hours of one day, New York wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsHours {
    /// Start of the pre-market.
    pub pre_open: NaiveTime,
    /// Regular open.
    pub open: NaiveTime,
    /// Regular close.
    pub close: NaiveTime,
    /// End of after-hours.
    pub after_close: NaiveTime,
}

impl std::fmt::Display for UsHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pre-market from {}, regular {}–{}, after-hours to {}",
            self.pre_open, self.open, self.close, self.after_close
        )
    }
}

/// A day with non-regular hours (an early close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsSpecialSession {
    /// Its hours, New York time.
    pub hours: UsHours,
    /// Why.
    pub reason: String,
}

/// Why a US trade date does not trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsClosedReason {
    /// Saturday or Sunday (New York date).
    Weekend,
    /// A listed holiday.
    Holiday(String),
}

impl std::fmt::Display for UsClosedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Weekend => f.write_str("weekend"),
            Self::Holiday(name) => write!(f, "US holiday: {name}"),
        }
    }
}

/// KIS's US day session, KST wall-clock time on the KST date equal to the trade date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaySessionHours {
    /// Opening time, KST.
    pub open: NaiveTime,
    /// Closing time, KST.
    pub close: NaiveTime,
}

/// Which US sessions aegis trades through KIS, and KIS's limits on them.
///
/// KIS documents only the regular session (overseas.md §2); its pre-market, after-hours and day
/// session hours are UNCONFIRMED, hence configurable. The windows are New York time except the
/// day session's (KST) and are clipped to the exchanges' hours of the day, so an early close also
/// shortens after-hours. The defaults:
///
/// | field | default | note |
/// |---|---|---|
/// | `pre_market` | `true` | KIS exposes the pre-market (WS `MTYP` 2) |
/// | `pre_market_open` | 04:00 | the exchanges' pre-open; KIS's own start UNCONFIRMED |
/// | `after_hours` | `true` | KIS exposes after-hours (WS `MTYP` 3) |
/// | `after_hours_close` | 17:00 | assumed for an account without KIS's US after-market extension (`usa_amk_exts_rqst_yn`, overseas.md §2 settlement notes); 20:00 with it — UNCONFIRMED |
/// | `day_session` | none | `daytime-order`, 10:00–16:00 or 10:00–18:00 KST — conflicting, UNCONFIRMED |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsSessionConfig {
    /// Trade the pre-market.
    pub pre_market: bool,
    /// The earliest New York time KIS takes pre-market orders.
    pub pre_market_open: NaiveTime,
    /// Trade after-hours.
    pub after_hours: bool,
    /// The latest New York time KIS takes after-hours orders.
    pub after_hours_close: NaiveTime,
    /// KIS's US day session, if traded.
    pub day_session: Option<DaySessionHours>,
}

impl Default for UsSessionConfig {
    fn default() -> Self {
        Self {
            pre_market: true,
            pre_market_open: NaiveTime::from_hms_opt(4, 0, 0).unwrap_or(NaiveTime::MIN),
            after_hours: true,
            after_hours_close: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or(NaiveTime::MIN),
            day_session: None,
        }
    }
}

impl UsSessionConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`UsCalendarError::BadConfig`] when the day session does not open before it closes.
    pub fn validate(&self) -> Result<(), UsCalendarError> {
        match self.day_session {
            Some(day) if day.open >= day.close => Err(UsCalendarError::BadConfig {
                field: "day_session",
                message: format!("opens at {} but closes at {}", day.open, day.close),
            }),
            _ => Ok(()),
        }
    }
}

/// Errors in a US holiday file or in the session settings. Every file error names its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsCalendarError {
    /// Not valid TOML, an unknown or missing key, or a bad value.
    #[error("US holiday list{}: {message}", at_line(*.line, .field.as_deref()))]
    Parse {
        /// 1-based line of the problem, when the parser knows it.
        line: Option<usize>,
        /// The key on that line (`date = "2026-13-01"` gives `date`), if the line has one.
        field: Option<String>,
        /// The parser's message (it names unknown and missing keys).
        message: String,
    },
    /// A date is listed twice.
    #[error("US holiday list, line {line}: {date} is listed twice")]
    Duplicate {
        /// 1-based line of the second entry.
        line: usize,
        /// The date.
        date: NaiveDate,
    },
    /// A closed day on a Saturday or Sunday (weekends are never listed: probably the holiday's
    /// own date instead of its observed one).
    #[error("US holiday list, line {line}: {date} is a weekend; list the observed weekday")]
    ClosedOnWeekend {
        /// 1-based line.
        line: usize,
        /// The date.
        date: NaiveDate,
    },
    /// A special session on a closed day or a weekend.
    #[error("US holiday list, line {line}: the special session on {date} falls on a closed day")]
    SpecialOnClosedDay {
        /// 1-based line.
        line: usize,
        /// The date.
        date: NaiveDate,
    },
    /// Hours out of order (they must satisfy pre_open <= open < close <= after_close).
    #[error("US holiday list, line {line}: `{field}` is out of order {}: {hours}", on_day(*.date))]
    BadHours {
        /// 1-based line of the offending key.
        line: usize,
        /// The key: `pre_open`, `close` or `after_close`.
        field: &'static str,
        /// The special session's date; `None` for the regular hours.
        date: Option<NaiveDate>,
        /// The hours as read.
        hours: UsHours,
    },
    /// A listed date outside the covered years.
    #[error("US holiday list, line {line}: {date} is outside covered_years")]
    Uncovered {
        /// 1-based line.
        line: usize,
        /// The date.
        date: NaiveDate,
    },
    /// A bad [`UsSessionConfig`].
    #[error("US session settings: `{field}` {message}")]
    BadConfig {
        /// The setting.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The file exists but cannot be read.
    #[error("{}: {message}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
    /// An error in a file read from disk.
    #[error("{}: {source}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The error.
        source: Box<UsCalendarError>,
    },
}

fn at_line(line: Option<usize>, field: Option<&str>) -> String {
    match (line, field) {
        (Some(l), Some(f)) => format!(", line {l}, `{f}`"),
        (Some(l), None) => format!(", line {l}"),
        (None, _) => String::new(),
    }
}

fn on_day(date: Option<NaiveDate>) -> String {
    date.map_or_else(|| "in the regular hours".to_owned(), |d| format!("on {d}"))
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|b| **b == b'\n').count() + 1
}

/// The key of a `key = value` line (1-based), if that line is one.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let (key, _) = text.lines().nth(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    bare.then(|| key.to_owned())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    covered_years: Vec<i32>,
    regular: RawRegular,
    extended: RawExtended,
    #[serde(default)]
    closed: Vec<RawClosed>,
    #[serde(default)]
    special: Vec<RawSpecial>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegular {
    open: NaiveTime,
    close: Spanned<NaiveTime>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtended {
    pre_open: Spanned<NaiveTime>,
    after_close: Spanned<NaiveTime>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClosed {
    date: Spanned<NaiveDate>,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpecial {
    date: Spanned<NaiveDate>,
    open: NaiveTime,
    close: Spanned<NaiveTime>,
    after_close: Spanned<NaiveTime>,
    reason: String,
}

/// Which key of a day's hours is out of order, if any.
fn misordered(h: &UsHours) -> Option<&'static str> {
    if h.pre_open > h.open {
        Some("pre_open")
    } else if h.open >= h.close {
        Some("close")
    } else if h.close > h.after_close {
        Some("after_close")
    } else {
        None
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The instant a wall-clock reading names in `tz`: the earlier one when the reading repeats (the
/// fall-back hour); for a reading the spring-forward switch skips, the instant the clock would
/// show it on its offset before the switch (`before_switch`, east of UTC). `None` only at the ends
/// of chrono's range.
fn wall_clock(tz: Tz, at: NaiveDateTime, before_switch: TimeDelta) -> Option<DateTime<Tz>> {
    match tz.from_local_datetime(&at) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
        LocalResult::None => at.checked_sub_signed(before_switch).map(|utc| tz.from_utc_datetime(&utc)),
    }
}

/// A New York wall-clock time of a date as a KST instant. US switches go from UTC-5 to UTC-4.
fn ny_to_kst(date: NaiveDate, time: NaiveTime) -> Option<DateTime<Tz>> {
    wall_clock(NEW_YORK, date.and_time(time), TimeDelta::hours(-5)).map(|t| t.with_timezone(&KST))
}

/// A KST wall-clock time of a date as a KST instant.
fn kst_at(date: NaiveDate, time: NaiveTime) -> Option<DateTime<Tz>> {
    wall_clock(KST, date.and_time(time), TimeDelta::hours(9))
}

/// A New York window of a date as a KST session; `None` when empty.
fn ny_session(kind: UsSessionKind, date: NaiveDate, open: NaiveTime, close: NaiveTime) -> Option<UsSession> {
    if open >= close {
        return None;
    }
    Some(UsSession { kind, open: ny_to_kst(date, open)?, close: ny_to_kst(date, close)? })
}

/// The US calendar: the exchanges' holidays and hours, and the KIS session settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsCalendar {
    regular: UsHours,
    covered_years: Vec<i32>,
    closed: BTreeMap<NaiveDate, String>,
    special: BTreeMap<NaiveDate, UsSpecialSession>,
    config: UsSessionConfig,
}

impl UsCalendar {
    /// Parses and validates a US holiday file; the session settings are the defaults.
    ///
    /// # Errors
    /// Returns a [`UsCalendarError`] naming the first problem and its line.
    pub fn from_toml_str(text: &str) -> Result<Self, UsCalendarError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let field = line.and_then(|l| key_on_line(text, l));
            UsCalendarError::Parse { line, field, message: e.message().trim().to_owned() }
        })?;
        let line = |span: std::ops::Range<usize>| line_of(text, span.start);
        let pre_open = *raw.extended.pre_open.get_ref();
        let regular = UsHours {
            pre_open,
            open: raw.regular.open,
            close: *raw.regular.close.get_ref(),
            after_close: *raw.extended.after_close.get_ref(),
        };
        if let Some(field) = misordered(&regular) {
            let at = match field {
                "pre_open" => raw.extended.pre_open.span(),
                "after_close" => raw.extended.after_close.span(),
                _ => raw.regular.close.span(),
            };
            return Err(UsCalendarError::BadHours { line: line(at), field, date: None, hours: regular });
        }
        let covered = |date: NaiveDate, line: usize| {
            if raw.covered_years.contains(&date.year()) {
                Ok(())
            } else {
                Err(UsCalendarError::Uncovered { line, date })
            }
        };
        let mut closed = BTreeMap::new();
        for c in raw.closed {
            let (date, line) = (*c.date.get_ref(), line(c.date.span()));
            covered(date, line)?;
            if is_weekend(date) {
                return Err(UsCalendarError::ClosedOnWeekend { line, date });
            }
            if closed.insert(date, c.name).is_some() {
                return Err(UsCalendarError::Duplicate { line, date });
            }
        }
        let mut special = BTreeMap::new();
        for s in raw.special {
            let (date, at) = (*s.date.get_ref(), line(s.date.span()));
            covered(date, at)?;
            if closed.contains_key(&date) || is_weekend(date) {
                return Err(UsCalendarError::SpecialOnClosedDay { line: at, date });
            }
            let hours = UsHours {
                pre_open,
                open: s.open,
                close: *s.close.get_ref(),
                after_close: *s.after_close.get_ref(),
            };
            if let Some(field) = misordered(&hours) {
                let at = match field {
                    "pre_open" => at,
                    "after_close" => line(s.after_close.span()),
                    _ => line(s.close.span()),
                };
                return Err(UsCalendarError::BadHours { line: at, field, date: Some(date), hours });
            }
            if special.insert(date, UsSpecialSession { hours, reason: s.reason }).is_some() {
                return Err(UsCalendarError::Duplicate { line: at, date });
            }
        }
        Ok(Self {
            regular,
            covered_years: raw.covered_years,
            closed,
            special,
            config: UsSessionConfig::default(),
        })
    }

    /// Returns the calendar shipped with aegis.
    ///
    /// # Errors
    /// Returns a [`UsCalendarError`] only if the shipped file is broken (a test guards it).
    pub fn builtin() -> Result<Self, UsCalendarError> {
        Self::from_toml_str(BUILTIN_US_HOLIDAYS)
    }

    /// Replaces the KIS session settings.
    ///
    /// # Errors
    /// [`UsCalendarError::BadConfig`] when the settings are inconsistent.
    pub fn with_config(mut self, config: UsSessionConfig) -> Result<Self, UsCalendarError> {
        config.validate()?;
        self.config = config;
        Ok(self)
    }

    /// Returns the KIS session settings.
    pub const fn config(&self) -> &UsSessionConfig {
        &self.config
    }

    /// Returns the regular hours (New York time).
    pub const fn regular(&self) -> UsHours {
        self.regular
    }

    /// Returns whether the holiday list covers the date's year (outside it only weekends close).
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.covered_years.contains(&date.year())
    }

    /// Returns why the US market is closed on a trade date (New York date), or `None` on a
    /// trading day.
    pub fn closed_reason(&self, date: NaiveDate) -> Option<UsClosedReason> {
        if let Some(name) = self.closed.get(&date) {
            return Some(UsClosedReason::Holiday(name.clone()));
        }
        is_weekend(date).then_some(UsClosedReason::Weekend)
    }

    /// Returns whether the US market trades on a trade date.
    pub fn is_trading_day(&self, date: NaiveDate) -> bool {
        self.closed_reason(date).is_none()
    }

    /// Returns the special session (early close) of a date, if any.
    pub fn special(&self, date: NaiveDate) -> Option<&UsSpecialSession> {
        self.special.get(&date)
    }

    /// Returns the exchanges' hours of a trade date in New York time, or `None` on a closed day.
    pub fn hours(&self, date: NaiveDate) -> Option<UsHours> {
        if !self.is_trading_day(date) {
            return None;
        }
        Some(self.special.get(&date).map_or(self.regular, |s| s.hours))
    }

    /// Returns the regular session of a trade date in KST, or `None` on a closed day.
    pub fn regular_session(&self, date: NaiveDate) -> Option<UsSession> {
        let h = self.hours(date)?;
        ny_session(UsSessionKind::Regular, date, h.open, h.close)
    }

    /// Returns the exchanges' sessions of a trade date (pre-market, regular, after-hours) in KST,
    /// in time order; empty on a closed day.
    pub fn sessions(&self, date: NaiveDate) -> Vec<UsSession> {
        let Some(h) = self.hours(date) else { return Vec::new() };
        [
            (UsSessionKind::PreMarket, h.pre_open, h.open),
            (UsSessionKind::Regular, h.open, h.close),
            (UsSessionKind::AfterHours, h.close, h.after_close),
        ]
        .into_iter()
        .filter_map(|(kind, open, close)| ny_session(kind, date, open, close))
        .collect()
    }

    /// The New York sessions the settings allow on a date (no day session).
    fn exchange_tradable(&self, date: NaiveDate) -> Vec<UsSession> {
        let Some(h) = self.hours(date) else { return Vec::new() };
        let c = &self.config;
        let mut out = Vec::with_capacity(3);
        if c.pre_market {
            out.extend(ny_session(UsSessionKind::PreMarket, date, h.pre_open.max(c.pre_market_open), h.open));
        }
        out.extend(ny_session(UsSessionKind::Regular, date, h.open, h.close));
        if c.after_hours {
            out.extend(ny_session(
                UsSessionKind::AfterHours,
                date,
                h.close,
                h.after_close.min(c.after_hours_close),
            ));
        }
        out
    }

    /// Returns the sessions of a trade date aegis may trade through KIS, in KST and in time order;
    /// empty on a closed day. The day session, when set, is cut so that it overlaps neither the
    /// previous New York date's sessions nor this date's.
    pub fn tradable_sessions(&self, date: NaiveDate) -> Vec<UsSession> {
        let mut out = self.exchange_tradable(date);
        let Some(day) = self.config.day_session else { return out };
        if out.is_empty() {
            return out;
        }
        let (Some(mut open), Some(mut close)) = (kst_at(date, day.open), kst_at(date, day.close)) else {
            return out;
        };
        if let Some(prev) = date.pred_opt().and_then(|d| self.exchange_tradable(d).last().copied()) {
            open = open.max(prev.close);
        }
        if let Some(first) = out.first() {
            close = close.min(first.open);
        }
        if open < close {
            out.insert(0, UsSession { kind: UsSessionKind::Day, open, close });
        }
        out
    }

    /// Returns the trade date and the tradable session (see [`Self::tradable_sessions`]) an
    /// instant lies in, or `None` between sessions and on closed days.
    pub fn session_at<Z: TimeZone>(&self, at: &DateTime<Z>) -> Option<(NaiveDate, UsSession)> {
        let at = at.with_timezone(&KST);
        let ny_date = at.with_timezone(&NEW_YORK).date_naive();
        let day_session_date = self.config.day_session.map(|_| at.date_naive());
        [Some(ny_date), day_session_date].into_iter().flatten().find_map(|date| {
            self.tradable_sessions(date).into_iter().find(|s| s.contains(&at)).map(|s| (date, s))
        })
    }

    /// Returns the US trade date an instant belongs to: the date of the session it lies in, and
    /// between sessions the New York local date (after the day session of the next date has
    /// opened, that date). Never goes backwards as time advances. The date may be a closed day:
    /// check [`Self::is_trading_day`].
    pub fn trade_date_of<Z: TimeZone>(&self, at: &DateTime<Z>) -> NaiveDate {
        let at = at.with_timezone(&KST);
        if let Some((date, _)) = self.session_at(&at) {
            return date;
        }
        let ny_date = at.with_timezone(&NEW_YORK).date_naive();
        let kst_date = at.date_naive();
        if kst_date > ny_date
            && self.config.day_session.is_some()
            && self
                .tradable_sessions(kst_date)
                .first()
                .is_some_and(|s| s.kind == UsSessionKind::Day && s.open <= at)
        {
            return kst_date;
        }
        ny_date
    }

    /// Returns the first trading day strictly after `date` (within ten years).
    pub fn next_trading_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        date.iter_days().skip(1).take(3660).find(|d| self.is_trading_day(*d))
    }

    /// Returns the last trading day strictly before `date` (within ten years).
    pub fn previous_trading_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        let mut day = date;
        for _ in 0..3660 {
            day = day.pred_opt()?;
            if self.is_trading_day(day) {
                return Some(day);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
