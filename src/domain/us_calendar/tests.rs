//! Tests of the US calendar: the KST times of both DST regimes and of the switch weeks, the
//! 2026–2027 closures and early closes, the KST instant → trade date mapping, the KIS session
//! settings, file errors, and properties over random instants, dates and texts.

use chrono::{Datelike, NaiveDateTime, Offset};
use proptest::prelude::*;

use super::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn t(s: &str) -> NaiveTime {
    s.parse().unwrap()
}

/// A KST instant from "YYYY-MM-DD HH:MM[:SS]".
fn kst(s: &str) -> DateTime<Tz> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .unwrap();
    KST.from_local_datetime(&naive).single().unwrap()
}

fn cal() -> UsCalendar {
    UsCalendar::builtin().unwrap()
}

fn with(config: UsSessionConfig) -> UsCalendar {
    cal().with_config(config).unwrap()
}

/// (open, close) of a session as KST strings "YYYY-MM-DD HH:MM".
fn shown(s: &UsSession) -> (String, String) {
    let f = |x: &DateTime<Tz>| x.format("%Y-%m-%d %H:%M").to_string();
    (f(&s.open), f(&s.close))
}

fn regular_kst(cal: &UsCalendar, date: &str) -> (String, String) {
    shown(&cal.regular_session(d(date)).unwrap())
}

fn pair(open: &str, close: &str) -> (String, String) {
    (open.to_owned(), close.to_owned())
}

/// NYSE Group's 2026 and 2027 full-day closures (announced 2025-12-23).
const HOLIDAYS: [&str; 20] = [
    "2026-01-01",
    "2026-01-19",
    "2026-02-16",
    "2026-04-03",
    "2026-05-25",
    "2026-06-19",
    "2026-07-03",
    "2026-09-07",
    "2026-11-26",
    "2026-12-25",
    "2027-01-01",
    "2027-01-18",
    "2027-02-15",
    "2027-03-26",
    "2027-05-31",
    "2027-06-18",
    "2027-07-05",
    "2027-09-06",
    "2027-11-25",
    "2027-12-24",
];

const EARLY_CLOSES: [&str; 3] = ["2026-11-27", "2026-12-24", "2027-11-26"];

fn all_days() -> impl Iterator<Item = NaiveDate> {
    d("2026-01-01").iter_days().take_while(|x| x.year() < 2028)
}

#[test]
fn builtin_list_closes_every_2026_2027_holiday() {
    let cal = cal();
    for h in HOLIDAYS {
        assert!(matches!(cal.closed_reason(d(h)), Some(UsClosedReason::Holiday(_))), "{h} must be closed");
        assert!(!cal.is_trading_day(d(h)));
        assert_eq!(cal.regular_session(d(h)), None);
        assert!(cal.sessions(d(h)).is_empty() && cal.tradable_sessions(d(h)).is_empty());
    }
    let listed: Vec<NaiveDate> =
        all_days().filter(|x| matches!(cal.closed_reason(*x), Some(UsClosedReason::Holiday(_)))).collect();
    assert_eq!(listed, HOLIDAYS.map(d).to_vec(), "exactly the NYSE list");
    assert_eq!(
        cal.closed_reason(d("2026-07-03")).unwrap().to_string(),
        "US holiday: Independence Day (observed)"
    );
    // Not closures: Columbus and Veterans Day, New Year's Eve 2027 (2028-01-01 is a Saturday).
    for open in ["2026-10-12", "2026-11-11", "2027-12-31", "2026-07-02", "2027-07-02"] {
        assert!(cal.is_trading_day(d(open)), "{open} trades");
    }
    assert!(cal.covers(d("2027-06-01")) && !cal.covers(d("2028-01-03")));
}

#[test]
fn weekends_are_closed() {
    let cal = cal();
    for day in all_days().filter(|x| matches!(x.weekday(), Weekday::Sat | Weekday::Sun)) {
        assert_eq!(cal.closed_reason(day), Some(UsClosedReason::Weekend), "{day}");
        assert!(cal.sessions(day).is_empty());
    }
    assert_eq!(UsClosedReason::Weekend.to_string(), "weekend");
}

#[test]
fn sessions_in_kst_in_us_winter_and_summer() {
    let cal = cal();
    // Winter (EST, UTC-5): 09:30-16:00 New York = 23:30-06:00 KST.
    let winter: Vec<_> = cal.sessions(d("2026-01-14")).iter().map(shown).collect();
    assert_eq!(
        winter,
        vec![
            pair("2026-01-14 18:00", "2026-01-14 23:30"),
            pair("2026-01-14 23:30", "2026-01-15 06:00"),
            pair("2026-01-15 06:00", "2026-01-15 10:00"),
        ]
    );
    // Summer (EDT, UTC-4): 22:30-05:00 KST.
    let summer: Vec<_> = cal.sessions(d("2026-07-15")).iter().map(shown).collect();
    assert_eq!(
        summer,
        vec![
            pair("2026-07-15 17:00", "2026-07-15 22:30"),
            pair("2026-07-15 22:30", "2026-07-16 05:00"),
            pair("2026-07-16 05:00", "2026-07-16 09:00"),
        ]
    );
    let kinds: Vec<_> = cal.sessions(d("2026-07-15")).iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [UsSessionKind::PreMarket, UsSessionKind::Regular, UsSessionKind::AfterHours]);
    let regular = cal.regular_session(d("2026-07-15")).unwrap();
    assert_eq!(regular.duration(), TimeDelta::minutes(390));
    assert_eq!(regular.open.timezone(), KST);
    assert_eq!(cal.hours(d("2026-07-15")), Some(cal.regular()));
    assert_eq!(UsSessionKind::AfterHours.to_string(), "after-hours");
}

/// (the US switch Sunday, the Friday before it, summer time after it?)
const SWITCHES: [(&str, &str, bool); 4] = [
    ("2026-03-08", "2026-03-06", true),
    ("2026-11-01", "2026-10-30", false),
    ("2027-03-14", "2027-03-12", true),
    ("2027-11-07", "2027-11-05", false),
];

#[test]
fn dst_switch_weekends_move_the_kst_session_by_one_hour() {
    let cal = cal();
    let times = |summer: bool| if summer { ("22:30", "05:00") } else { ("23:30", "06:00") };
    for (sunday, friday, summer_after) in SWITCHES {
        let (open, close) = times(!summer_after);
        let next = |x: &str| (d(x) + TimeDelta::days(1)).to_string();
        assert_eq!(
            regular_kst(&cal, friday),
            pair(&format!("{friday} {open}"), &format!("{} {close}", next(friday))),
            "the Friday before the {sunday} switch keeps the old times"
        );
        assert!(!cal.is_trading_day(d(sunday)));
        // The whole week after: the US has switched, Korea has not (KST stays UTC+9).
        let (open, close) = times(summer_after);
        for day in d(sunday).iter_days().skip(1).take(5) {
            let s = cal.regular_session(day).unwrap();
            let day = day.to_string();
            assert_eq!(shown(&s), pair(&format!("{day} {open}"), &format!("{} {close}", next(&day))));
            assert_eq!(s.open.offset().fix().local_minus_utc(), 9 * 3600);
            assert_eq!(s.open.with_timezone(&NEW_YORK).time(), t("09:30"));
        }
    }
}

#[test]
fn early_closes_end_at_03_kst_in_winter() {
    let cal = cal();
    for day in EARLY_CLOSES {
        let next = (d(day) + TimeDelta::days(1)).to_string();
        assert!(cal.special(d(day)).is_some_and(|s| s.reason.starts_with("early close")));
        assert_eq!(regular_kst(&cal, day), pair(&format!("{day} 23:30"), &format!("{next} 03:00")));
        let after = cal.sessions(d(day))[2];
        assert_eq!(shown(&after), pair(&format!("{next} 03:00"), &format!("{next} 07:00")));
        // KIS's after-hours cap (20:00 here) never reaches past the exchanges' 17:00 that day.
        let wide = with(UsSessionConfig { after_hours_close: t("20:00"), ..UsSessionConfig::default() });
        assert_eq!(wide.tradable_sessions(d(day))[2], after);
    }
}

#[test]
fn a_summer_early_close_ends_at_02_kst() {
    // 2026 and 2027 have no summer early close; one on Thursday 2026-07-02 shows the conversion.
    let text = format!(
        "{BUILTIN_US_HOLIDAYS}\n[[special]]\ndate = \"2026-07-02\"\nopen = \"09:30\"\nclose = \"13:00\"\nafter_close = \"17:00\"\nreason = \"early close\"\n"
    );
    let cal = UsCalendar::from_toml_str(&text).unwrap();
    assert_eq!(regular_kst(&cal, "2026-07-02"), pair("2026-07-02 22:30", "2026-07-03 02:00"));
    assert_eq!(shown(&cal.sessions(d("2026-07-02"))[2]), pair("2026-07-03 02:00", "2026-07-03 06:00"));
}

#[test]
fn every_2026_2027_session_follows_the_us_dst_rule() {
    // An independent oracle: US summer time runs from the second Sunday of March to the first
    // Sunday of November (the rule since 2007), and no trading day is a switch day.
    let cal = cal();
    let sunday = |y, m, n| NaiveDate::from_weekday_of_month_opt(y, m, Weekday::Sun, n).unwrap();
    let mut days = 0;
    for day in all_days().filter(|x| cal.is_trading_day(*x)) {
        let summer = day >= sunday(day.year(), 3, 2) && day < sunday(day.year(), 11, 1);
        let utc_offset = if summer { 4 } else { 5 };
        let early = EARLY_CLOSES.contains(&day.to_string().as_str());
        let kst_of = |hh: i64, mm: i64| {
            let ny = day.and_time(NaiveTime::MIN) + TimeDelta::hours(hh) + TimeDelta::minutes(mm);
            ny + TimeDelta::hours(utc_offset + 9)
        };
        let s = cal.regular_session(day).unwrap();
        assert_eq!(s.open.naive_local(), kst_of(9, 30), "{day}");
        assert_eq!(s.close.naive_local(), if early { kst_of(13, 0) } else { kst_of(16, 0) }, "{day}");
        days += 1;
    }
    assert_eq!(days, 2 * 365 - 2 * 104 - HOLIDAYS.len(), "every weekday that is not a holiday");
}

#[test]
fn kst_instants_map_to_their_us_trade_date() {
    let cal = cal();
    let at = |s: &str| cal.session_at(&kst(s)).map(|(date, s)| (date.to_string(), s.kind));
    let date = |s: &str| cal.trade_date_of(&kst(s)).to_string();
    let is = |date: &str, kind| Some((date.to_owned(), kind));
    use UsSessionKind::{AfterHours, PreMarket, Regular};
    // The brief's examples (summer: 23:30 KST is 10:30 New York, 05:59 KST is 16:59 after-hours).
    assert_eq!(at("2026-07-15 23:30"), is("2026-07-15", Regular));
    assert_eq!(at("2026-07-16 05:59"), is("2026-07-15", AfterHours));
    assert_eq!(at("2026-01-15 00:30"), is("2026-01-14", Regular));
    // Summer boundaries (sessions are half-open).
    assert_eq!(at("2026-07-15 16:59:59"), None);
    assert_eq!(date("2026-07-15 16:59:59"), "2026-07-15");
    assert_eq!(at("2026-07-15 17:00"), is("2026-07-15", PreMarket));
    assert_eq!(at("2026-07-15 22:29:59"), is("2026-07-15", PreMarket));
    assert_eq!(at("2026-07-15 22:30"), is("2026-07-15", Regular));
    assert_eq!(at("2026-07-16 04:59:59"), is("2026-07-15", Regular));
    assert_eq!(at("2026-07-16 05:00"), is("2026-07-15", AfterHours));
    assert_eq!(at("2026-07-16 06:00"), None, "KIS's default after-hours end: 17:00 New York");
    assert_eq!(date("2026-07-16 06:00"), "2026-07-15");
    assert_eq!(date("2026-07-16 12:59:59"), "2026-07-15");
    assert_eq!(date("2026-07-16 13:00"), "2026-07-16", "midnight in New York");
    // Winter boundaries.
    assert_eq!(at("2026-01-14 23:29:59"), is("2026-01-14", PreMarket));
    assert_eq!(at("2026-01-14 23:30"), is("2026-01-14", Regular));
    assert_eq!(at("2026-01-15 05:59:59"), is("2026-01-14", Regular));
    assert_eq!(at("2026-01-15 06:00"), is("2026-01-14", AfterHours));
    assert_eq!(at("2026-01-15 07:00"), None);
    assert_eq!(date("2026-01-15 13:59:59"), "2026-01-14");
    assert_eq!(date("2026-01-15 14:00"), "2026-01-15");
    // Friday's session ends on the Korean Saturday; Saturday New York has none.
    assert_eq!(at("2026-07-18 04:59:59"), is("2026-07-17", Regular));
    assert_eq!(at("2026-07-18 23:30"), None);
    assert_eq!(cal.closed_reason(cal.trade_date_of(&kst("2026-07-18 23:30"))), Some(UsClosedReason::Weekend));
    // A holiday: the trade date is still the New York date, and it is closed.
    assert_eq!(at("2026-07-03 23:30"), None);
    assert!(!cal.is_trading_day(cal.trade_date_of(&kst("2026-07-03 23:30"))));
    // The first Monday after the spring switch: 22:30 KST is the open, no longer pre-market.
    assert_eq!(at("2026-03-09 22:30"), is("2026-03-09", Regular));
    assert_eq!(at("2026-03-06 22:30"), is("2026-03-06", PreMarket));
    // Any time zone goes in.
    let utc = kst("2026-07-15 23:30").with_timezone(&chrono::Utc);
    assert_eq!(cal.trade_date_of(&utc), d("2026-07-15"));
}

#[test]
fn tradable_sessions_follow_the_kis_settings() {
    let default = cal();
    assert_eq!(default.config(), &UsSessionConfig::default());
    let spans =
        |cal: &UsCalendar, day: &str| -> Vec<_> { cal.tradable_sessions(d(day)).iter().map(shown).collect() };
    assert_eq!(
        spans(&default, "2026-01-14"),
        vec![
            pair("2026-01-14 18:00", "2026-01-14 23:30"),
            pair("2026-01-14 23:30", "2026-01-15 06:00"),
            pair("2026-01-15 06:00", "2026-01-15 07:00"),
        ]
    );
    let extension = with(UsSessionConfig { after_hours_close: t("20:00"), ..UsSessionConfig::default() });
    assert_eq!(spans(&extension, "2026-07-15")[2], pair("2026-07-16 05:00", "2026-07-16 09:00"));
    let late_pre = with(UsSessionConfig { pre_market_open: t("07:00"), ..UsSessionConfig::default() });
    assert_eq!(spans(&late_pre, "2026-07-15")[0], pair("2026-07-15 20:00", "2026-07-15 22:30"));
    let regular_only =
        with(UsSessionConfig { pre_market: false, after_hours: false, ..UsSessionConfig::default() });
    assert_eq!(spans(&regular_only, "2026-07-15"), vec![pair("2026-07-15 22:30", "2026-07-16 05:00")]);
    assert_eq!(regular_only.session_at(&kst("2026-07-15 22:00")), None);
    assert_eq!(regular_only.trade_date_of(&kst("2026-07-16 05:30")), d("2026-07-15"));
    assert!(regular_only.tradable_sessions(d("2026-07-03")).is_empty());
    // The settings read from TOML, defaults for what is left out.
    let parsed: UsSessionConfig =
        toml::from_str("after_hours_close = \"20:00\"\n[day_session]\nopen = \"10:00\"\nclose = \"16:00\"\n")
            .unwrap();
    assert_eq!(parsed.after_hours_close, t("20:00"));
    assert!(parsed.pre_market && parsed.after_hours);
    assert_eq!(parsed.day_session, Some(DaySessionHours { open: t("10:00"), close: t("16:00") }));
    assert!(toml::from_str::<UsSessionConfig>("premarket = true").is_err());
}

fn day_session(open: &str, close: &str) -> UsSessionConfig {
    UsSessionConfig {
        day_session: Some(DaySessionHours { open: t(open), close: t(close) }),
        ..UsSessionConfig::default()
    }
}

#[test]
fn the_day_session_belongs_to_the_kst_date_and_never_overlaps() {
    let cal = with(day_session("10:00", "18:00"));
    let first = |day: &str| shown(&cal.tradable_sessions(d(day))[0]);
    // Winter: 10:00-18:00 KST ends where the pre-market starts.
    assert_eq!(first("2026-01-15"), pair("2026-01-15 10:00", "2026-01-15 18:00"));
    // Summer: cut at the 17:00 KST pre-market.
    assert_eq!(first("2026-07-15"), pair("2026-07-15 10:00", "2026-07-15 17:00"));
    let (date, s) = cal.session_at(&kst("2026-01-15 10:00")).unwrap();
    assert_eq!((date, s.kind), (d("2026-01-15"), UsSessionKind::Day));
    assert_eq!(cal.trade_date_of(&kst("2026-01-15 09:59:59")), d("2026-01-14"));
    // No day session on a US holiday (Monday 2026-01-19) or weekend.
    assert!(cal.tradable_sessions(d("2026-01-19")).is_empty());
    assert_eq!(cal.session_at(&kst("2026-01-19 11:00")), None);
    // With after-hours to 20:00 New York (10:00 KST in winter), an earlier day session is cut.
    let early = with(UsSessionConfig { after_hours_close: t("20:00"), ..day_session("08:00", "16:00") });
    assert_eq!(
        shown(&early.tradable_sessions(d("2026-01-15"))[0]),
        pair("2026-01-15 10:00", "2026-01-15 16:00")
    );
    assert_eq!(
        early.session_at(&kst("2026-01-15 09:00")).map(|(x, s)| (x, s.kind)),
        Some((d("2026-01-14"), UsSessionKind::AfterHours))
    );
    // A day session ending before midnight in New York keeps its date afterwards.
    let short = with(day_session("10:00", "12:00"));
    assert_eq!(short.trade_date_of(&kst("2026-01-15 12:30")), d("2026-01-15"));
    assert_eq!(short.session_at(&kst("2026-01-15 12:30")), None);
    // Bad settings.
    assert_eq!(
        cal.clone().with_config(day_session("16:00", "10:00")),
        Err(UsCalendarError::BadConfig {
            field: "day_session",
            message: "opens at 16:00:00 but closes at 10:00:00".into()
        })
    );
}

#[test]
fn next_and_previous_trading_days() {
    let cal = cal();
    assert_eq!(cal.next_trading_day(d("2026-07-02")), Some(d("2026-07-06")));
    assert_eq!(cal.next_trading_day(d("2026-12-24")), Some(d("2026-12-28")));
    assert_eq!(cal.next_trading_day(d("2027-12-23")), Some(d("2027-12-27")));
    assert_eq!(cal.next_trading_day(d("2027-12-31")), Some(d("2028-01-03")));
    assert_eq!(cal.previous_trading_day(d("2026-07-06")), Some(d("2026-07-02")));
    assert_eq!(cal.previous_trading_day(d("2027-03-29")), Some(d("2027-03-25")));
    assert_eq!(cal.previous_trading_day(d("2026-01-02")), Some(d("2025-12-31")));
    assert_eq!(cal.previous_trading_day(NaiveDate::MIN), None);
    assert_eq!(cal.next_trading_day(NaiveDate::MAX), None);
}

/// A valid head of 7 lines; entries appended start on line 8.
const HEAD: &str = "covered_years = [2026]\n[regular]\nopen = \"09:30\"\nclose = \"16:00\"\n[extended]\npre_open = \"04:00\"\nafter_close = \"20:00\"\n";

fn closed(date: &str) -> String {
    format!("[[closed]]\ndate = \"{date}\"\nname = \"x\"\n")
}

fn special(date: &str, close: &str, after_close: &str) -> String {
    format!(
        "[[special]]\ndate = \"{date}\"\nopen = \"09:30\"\nclose = \"{close}\"\nafter_close = \"{after_close}\"\nreason = \"x\"\n"
    )
}

fn parse(text: &str) -> Result<UsCalendar, UsCalendarError> {
    UsCalendar::from_toml_str(text)
}

#[test]
fn malformed_files_get_typed_errors_naming_line_and_field() {
    assert!(parse(HEAD).is_ok());
    // A bad value: the line and the key.
    let bad_date = format!("{HEAD}{}", closed("2026-13-01"));
    let err = parse(&bad_date).unwrap_err();
    assert!(
        matches!(&err, UsCalendarError::Parse { line: Some(9), field: Some(f), .. } if f == "date"),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("US holiday list, line 9, `date`: "), "{err}");
    let bad_time = HEAD.replace("close = \"16:00\"", "close = \"4pm\"");
    assert!(
        matches!(parse(&bad_time), Err(UsCalendarError::Parse { line: Some(4), field: Some(f), .. }) if f == "close")
    );
    // An unknown key and a missing one: the parser's message names them.
    let unknown = format!("{HEAD}holiday = 1\n");
    assert!(
        matches!(parse(&unknown), Err(UsCalendarError::Parse { line: Some(8), message, .. }) if message.contains("holiday"))
    );
    let missing =
        format!("{HEAD}{}", special("2026-11-27", "13:00", "17:00").replace("after_close = \"17:00\"\n", ""));
    assert!(
        matches!(parse(&missing), Err(UsCalendarError::Parse { message, .. }) if message.contains("after_close"))
    );
    let no_extended = HEAD.replace("[extended]\npre_open = \"04:00\"\nafter_close = \"20:00\"\n", "");
    assert!(
        matches!(parse(&no_extended), Err(UsCalendarError::Parse { message, .. }) if message.contains("extended"))
    );
    assert!(matches!(parse("covered_years = ["), Err(UsCalendarError::Parse { line: Some(1), .. })));
    assert!(matches!(parse(""), Err(UsCalendarError::Parse { .. })));
    // Semantic errors carry the line of the entry.
    let dup = format!("{HEAD}{}{}", closed("2026-01-01"), closed("2026-01-01"));
    assert_eq!(parse(&dup), Err(UsCalendarError::Duplicate { line: 12, date: d("2026-01-01") }));
    let weekend = format!("{HEAD}{}", closed("2026-07-04"));
    assert_eq!(parse(&weekend), Err(UsCalendarError::ClosedOnWeekend { line: 9, date: d("2026-07-04") }));
    let on_holiday = format!("{HEAD}{}{}", closed("2026-07-03"), special("2026-07-03", "13:00", "17:00"));
    assert_eq!(
        parse(&on_holiday),
        Err(UsCalendarError::SpecialOnClosedDay { line: 12, date: d("2026-07-03") })
    );
    let twice = format!(
        "{HEAD}{}{}",
        special("2026-11-27", "13:00", "17:00"),
        special("2026-11-27", "13:00", "17:00")
    );
    assert_eq!(parse(&twice), Err(UsCalendarError::Duplicate { line: 15, date: d("2026-11-27") }));
    let outside = format!("{HEAD}{}", closed("2030-01-01"));
    assert_eq!(parse(&outside), Err(UsCalendarError::Uncovered { line: 9, date: d("2030-01-01") }));
    // Hours out of order name the key and its line.
    let inverted = format!("{HEAD}{}", special("2026-11-27", "09:00", "17:00"));
    let err = parse(&inverted).unwrap_err();
    assert!(
        matches!(err, UsCalendarError::BadHours { line: 11, field: "close", date: Some(_), .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("US holiday list, line 11: `close` is out of order on 2026-11-27"),
        "{err}"
    );
    let after = format!("{HEAD}{}", special("2026-11-27", "13:00", "12:00"));
    assert!(matches!(parse(&after), Err(UsCalendarError::BadHours { line: 12, field: "after_close", .. })));
    let pre = HEAD.replace("pre_open = \"04:00\"", "pre_open = \"10:00\"");
    assert!(matches!(
        parse(&pre),
        Err(UsCalendarError::BadHours { line: 6, field: "pre_open", date: None, .. })
    ));
    let regular = HEAD.replace("close = \"16:00\"", "close = \"09:00\"");
    assert!(matches!(
        parse(&regular),
        Err(UsCalendarError::BadHours { line: 4, field: "close", date: None, .. })
    ));
}

/// 2026-01-01 00:00 KST to 2028-01-01 00:00 KST, in seconds since the epoch.
const START: i64 = 1_767_193_200;
const END: i64 = 1_830_265_200;

fn instant(secs: i64) -> DateTime<Tz> {
    DateTime::from_timestamp(secs, 0).unwrap().with_timezone(&KST)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn an_instant_in_a_regular_session_maps_to_that_trading_day(secs in START..END) {
        let cal = cal();
        let at = instant(secs);
        // The regular session of New York date D lies on KST dates D and D + 1.
        let kst_date = at.date_naive();
        let owner = [kst_date.pred_opt().unwrap(), kst_date]
            .into_iter()
            .find(|x| cal.regular_session(*x).is_some_and(|s| s.contains(&at)));
        if let Some(owner) = owner {
            let date = cal.trade_date_of(&at);
            prop_assert_eq!(date, owner);
            prop_assert!(cal.is_trading_day(date));
            prop_assert!(cal.regular_session(date).is_some_and(|s| s.contains(&at)));
            prop_assert_eq!(cal.session_at(&at).map(|(x, s)| (x, s.kind)), Some((date, UsSessionKind::Regular)));
        } else {
            prop_assert!(cal.session_at(&at).is_none_or(|(_, s)| s.kind != UsSessionKind::Regular));
        }
    }

    #[test]
    fn instants_built_inside_a_regular_session_map_back(day in 0i64..730, offset in 0i64..23_400) {
        let cal = cal();
        let date = cal.next_trading_day(d("2025-12-31") + TimeDelta::days(day)).unwrap();
        let s = cal.regular_session(date).unwrap();
        let at = s.open + TimeDelta::seconds(offset % s.duration().num_seconds());
        let mapped = cal.trade_date_of(&at);
        prop_assert_eq!(mapped, date);
        prop_assert!(cal.is_trading_day(mapped));
        prop_assert!(cal.regular_session(mapped).is_some_and(|r| r.contains(&at)));
        let at_ny = at.with_timezone(&NEW_YORK);
        prop_assert_eq!(at_ny.date_naive(), date);
        prop_assert!(at_ny.time() >= t("09:30") && at_ny.time() < t("16:00"));
    }

    #[test]
    fn the_trade_date_never_goes_backwards(secs in START..END, step in 0i64..172_800, day in any::<bool>()) {
        let cal = if day { with(day_session("10:00", "12:00")) } else { cal() };
        let (a, b) = (instant(secs), instant(secs + step));
        prop_assert!(cal.trade_date_of(&a) <= cal.trade_date_of(&b));
        if let Some((date, s)) = cal.session_at(&a) {
            prop_assert!(s.contains(&a) && cal.is_trading_day(date));
        }
    }

    #[test]
    fn sessions_of_any_date_are_ordered_and_disjoint(days in -95_000_000i32..95_000_000) {
        let Some(date) = NaiveDate::from_num_days_from_ce_opt(days) else { return Ok(()) };
        for cal in [cal(), with(day_session("10:00", "18:00"))] {
            for list in [cal.sessions(date), cal.tradable_sessions(date)] {
                for s in &list {
                    prop_assert!(s.open < s.close);
                }
                for w in list.windows(2) {
                    prop_assert!(w[0].close <= w[1].open && w[0].kind < w[1].kind);
                }
            }
            let _ = cal.trade_date_of(&date.and_time(NaiveTime::MIN).and_utc());
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = UsCalendar::from_toml_str(&text);
    }

    #[test]
    fn a_corrupted_builtin_list_never_panics(at in 0usize..4_000, c in any::<char>()) {
        let mut text: Vec<char> = BUILTIN_US_HOLIDAYS.chars().collect();
        let at = at % text.len();
        text[at] = c;
        let text: String = text.into_iter().collect();
        if let Err(e) = UsCalendar::from_toml_str(&text) {
            let lines = text.lines().count() + 1;
            match e {
                UsCalendarError::Parse { line, .. } => prop_assert!(line.is_none_or(|l| l <= lines)),
                UsCalendarError::Duplicate { line, .. }
                | UsCalendarError::ClosedOnWeekend { line, .. }
                | UsCalendarError::SpecialOnClosedDay { line, .. }
                | UsCalendarError::BadHours { line, .. }
                | UsCalendarError::Uncovered { line, .. } => prop_assert!(line <= lines),
                other => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
