//! The trigger schedule of `schedules/pipeline.toml`: loading with typed validation errors, and
//! the pure [`fire_times`] that says when each trigger fires on a market's calendar — the KRX
//! pipeline's triggers on the KRX calendar in Seoul time, the US pipeline's (`[us]`) on the US
//! calendar in New York time.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, TimeDelta};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

use crate::domain::sessions::SessionCalendar;
use crate::domain::stage::StageName;

/// The schedule shipped with aegis.
pub const BUILTIN_SCHEDULE: &str = include_str!("../../schedules/pipeline.toml");

/// What a schedule entry asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    /// Run the pipeline of the day up to and including `until`.
    Pipeline {
        /// The entry's name (e.g. `pre_market`).
        name: String,
        /// The last stage to run.
        until: StageName,
    },
    /// Refresh the stock master files.
    MasterRefresh,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pipeline { name, until } => write!(f, "{name} (until {until})"),
            Self::MasterRefresh => f.write_str("master_refresh"),
        }
    }
}

/// Which session boundary an entry's time is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Moves with the day's opening time.
    Open,
    /// Moves with the day's closing time.
    Close,
    /// Never moves.
    Fixed,
}

/// One validated schedule entry.
#[derive(Debug, Clone)]
pub struct ScheduleEntry {
    /// What fires.
    pub trigger: Trigger,
    /// The cron expression as written.
    pub cron_text: String,
    /// The parsed expression.
    pub cron: Cron,
    /// Session anchor.
    pub anchor: Anchor,
}

/// A validated schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The time zone the expressions are evaluated in.
    pub tz: Tz,
    /// Entries in file order (pipeline triggers, then master refreshes).
    pub entries: Vec<ScheduleEntry>,
    /// The US pipeline's triggers (the `[us]` table), in their own time zone; they fire on US
    /// trading days, and only in a daemon that trades US stocks (`US_SYMBOLS`).
    pub us: Option<Box<Schedule>>,
}

/// A problem in the schedule file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The file cannot be read.
    #[error("cannot read the schedule {path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The file is not valid TOML or a value has the wrong type.
    #[error("schedule: {0}")]
    Toml(String),
    /// A key the schedule does not know.
    #[error("schedule: unknown key `{key}` in {table}")]
    UnknownKey {
        /// The table (`top level`, `pipeline[1]`, `master_refresh`).
        table: String,
        /// The key.
        key: String,
    },
    /// The time zone is not an IANA name.
    #[error("schedule: unknown time zone `{0}` (expected an IANA name such as Asia/Seoul)")]
    BadTimezone(String),
    /// A cron expression that does not parse or does not have 6 fields.
    #[error("schedule: entry `{entry}` has an invalid cron expression `{cron}`: {reason}")]
    BadCron {
        /// The entry.
        entry: String,
        /// The expression.
        cron: String,
        /// Why.
        reason: String,
    },
    /// `until` names no stage.
    #[error("schedule: entry `{entry}`: {source}")]
    UnknownStage {
        /// The entry.
        entry: String,
        /// The parse error listing valid stages.
        source: crate::domain::stage::UnknownStage,
    },
    /// `anchor` is not open, close or fixed.
    #[error("schedule: entry `{entry}` has anchor `{anchor}` (expected open, close or fixed)")]
    BadAnchor {
        /// The entry.
        entry: String,
        /// The value.
        anchor: String,
    },
    /// Two pipeline entries share a name.
    #[error("schedule: the entry name `{0}` is used twice")]
    DuplicateName(String),
    /// A required key is missing.
    #[error("schedule: {table} lacks the key `{key}`")]
    Missing {
        /// The table.
        table: String,
        /// The key.
        key: &'static str,
    },
}

fn parse_cron(entry: &str, text: &str) -> Result<Cron, ScheduleError> {
    let bad =
        |reason: String| ScheduleError::BadCron { entry: entry.to_owned(), cron: text.to_owned(), reason };
    let fields = text.split_whitespace().count();
    if fields != 6 {
        return Err(bad(format!("expected 6 fields (sec min hour dom month dow), found {fields}")));
    }
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(text)
        .map_err(|e| bad(e.to_string()))
}

fn check_keys(table: &toml::Table, name: &str, allowed: &[&str]) -> Result<(), ScheduleError> {
    match table.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(ScheduleError::UnknownKey { table: name.to_owned(), key: key.clone() }),
        None => Ok(()),
    }
}

fn get_str<'a>(table: &'a toml::Table, name: &str, key: &'static str) -> Result<&'a str, ScheduleError> {
    match table.get(key) {
        Some(toml::Value::String(s)) => Ok(s),
        Some(_) => Err(ScheduleError::Toml(format!("{name}.{key} must be a string"))),
        None => Err(ScheduleError::Missing { table: name.to_owned(), key }),
    }
}

fn tables<'a>(root: &'a toml::Table, key: &str) -> Result<Vec<&'a toml::Table>, ScheduleError> {
    match root.get(key) {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_table().ok_or_else(|| ScheduleError::Toml(format!("[[{key}]] entries must be tables")))
            })
            .collect(),
        Some(_) => Err(ScheduleError::Toml(format!("`{key}` must be an array of tables"))),
    }
}

impl Schedule {
    /// Parses and validates a schedule.
    ///
    /// # Errors
    /// Returns the first [`ScheduleError`] found.
    pub fn from_toml_str(text: &str) -> Result<Self, ScheduleError> {
        let root: toml::Table = toml::from_str(text).map_err(|e| ScheduleError::Toml(e.to_string()))?;
        check_keys(&root, "top level", &["timezone", "pipeline", "master_refresh", "us"])?;
        let mut names = BTreeSet::new();
        let mut schedule = Self::pipelines(&root, "", &mut names)?;
        if let Some(v) = root.get("us") {
            let t = v.as_table().ok_or_else(|| ScheduleError::Toml("`us` must be a table".into()))?;
            check_keys(t, "us", &["timezone", "pipeline"])?;
            schedule.us = Some(Box::new(Self::pipelines(t, "us.", &mut names)?));
        }
        if let Some(v) = root.get("master_refresh") {
            let t =
                v.as_table().ok_or_else(|| ScheduleError::Toml("`master_refresh` must be a table".into()))?;
            check_keys(t, "master_refresh", &["crons"])?;
            let crons = t
                .get("crons")
                .and_then(toml::Value::as_array)
                .ok_or(ScheduleError::Missing { table: "master_refresh".into(), key: "crons" })?;
            for c in crons {
                let text = c
                    .as_str()
                    .ok_or_else(|| ScheduleError::Toml("master_refresh.crons must be strings".into()))?;
                let cron = parse_cron("master_refresh", text)?;
                schedule.entries.push(ScheduleEntry {
                    trigger: Trigger::MasterRefresh,
                    cron_text: text.to_owned(),
                    cron,
                    anchor: Anchor::Fixed,
                });
            }
        }
        Ok(schedule)
    }

    /// Parses the time zone and the `[[pipeline]]` entries of a table (`prefix` names it in
    /// errors: `us.` for the US table); entry names are unique across the whole file.
    fn pipelines(
        root: &toml::Table,
        prefix: &str,
        names: &mut BTreeSet<String>,
    ) -> Result<Self, ScheduleError> {
        let top =
            if prefix.is_empty() { "top level".to_owned() } else { prefix.trim_end_matches('.').to_owned() };
        let tz_name = get_str(root, &top, "timezone")?;
        let tz: Tz = tz_name.parse().map_err(|_| ScheduleError::BadTimezone(tz_name.to_owned()))?;
        let mut entries = Vec::new();
        for (i, t) in tables(root, "pipeline")?.into_iter().enumerate() {
            let table = format!("{prefix}pipeline[{i}]");
            check_keys(t, &table, &["name", "cron", "until", "anchor"])?;
            let name = get_str(t, &table, "name")?.to_owned();
            if !names.insert(name.clone()) {
                return Err(ScheduleError::DuplicateName(name));
            }
            let cron_text = get_str(t, &table, "cron")?.to_owned();
            let cron = parse_cron(&name, &cron_text)?;
            let until = get_str(t, &table, "until")?
                .parse::<StageName>()
                .map_err(|source| ScheduleError::UnknownStage { entry: name.clone(), source })?;
            let anchor = match get_str(t, &table, "anchor")? {
                "open" => Anchor::Open,
                "close" => Anchor::Close,
                "fixed" => Anchor::Fixed,
                other => return Err(ScheduleError::BadAnchor { entry: name, anchor: other.to_owned() }),
            };
            entries.push(ScheduleEntry {
                trigger: Trigger::Pipeline { name, until },
                cron_text,
                cron,
                anchor,
            });
        }
        Ok(Self { tz, entries, us: None })
    }

    /// Reads and validates a schedule file.
    ///
    /// # Errors
    /// Returns [`ScheduleError::Io`] or a validation error.
    pub fn load(path: &Path) -> Result<Self, ScheduleError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScheduleError::Io { path: path.display().to_string(), reason: e.to_string() })?;
        Self::from_toml_str(&text)
    }

    /// Returns the schedule shipped with aegis.
    ///
    /// # Errors
    /// Returns a [`ScheduleError`] only if the shipped file is broken (a test guards it).
    pub fn builtin() -> Result<Self, ScheduleError> {
        Self::from_toml_str(BUILTIN_SCHEDULE)
    }
}

/// Returns how far an entry's time moves on a trading date of the calendar's market, or `None` on
/// a closed date.
pub fn shift_on(
    calendar: &dyn SessionCalendar,
    anchor: Anchor,
    date: chrono::NaiveDate,
) -> Option<TimeDelta> {
    let (open, close) = calendar.session_shift(date)?;
    Some(match anchor {
        Anchor::Open => open,
        Anchor::Close => close,
        Anchor::Fixed => TimeDelta::zero(),
    })
}

/// Returns every firing in `[from, to)`, sorted by time: cron times on the calendar's trading days
/// only (the cron's local date is the trade date), moved by the day's session shift for open- and
/// close-anchored entries.
pub fn fire_times(
    schedule: &Schedule,
    calendar: &dyn SessionCalendar,
    from: DateTime<Tz>,
    to: DateTime<Tz>,
) -> Vec<(DateTime<Tz>, Trigger)> {
    // A shifted firing may come from a base time up to a day earlier.
    let start = from - TimeDelta::days(1);
    let mut out = Vec::new();
    for entry in &schedule.entries {
        for base in entry.cron.iter_after(start.with_timezone(&schedule.tz)) {
            if base >= to {
                break;
            }
            let Some(shift) = shift_on(calendar, entry.anchor, base.date_naive()) else { continue };
            let at = base + shift;
            if at >= from && at < to {
                out.push((at.with_timezone(&from.timezone()), entry.trigger.clone()));
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_schedule_is_valid() {
        let s = Schedule::builtin().unwrap();
        assert_eq!(s.tz, chrono_tz::Asia::Seoul);
        assert_eq!(s.entries.iter().filter(|e| e.trigger == Trigger::MasterRefresh).count(), 13);
        assert_eq!(s.entries.iter().filter(|e| matches!(e.trigger, Trigger::Pipeline { .. })).count(), 4);
        let us = s.us.as_deref().expect("a US pipeline");
        assert_eq!(us.tz, chrono_tz::America::New_York);
        assert!(us.us.is_none());
        let untils: Vec<_> = us
            .entries
            .iter()
            .map(|e| match &e.trigger {
                Trigger::Pipeline { until, .. } => Some(*until),
                Trigger::MasterRefresh => None,
            })
            .collect();
        let want = [StageName::Universe, StageName::Intraday, StageName::Close, StageName::Journal];
        assert_eq!(untils, want.map(Some).to_vec());
    }

    #[test]
    fn the_us_table_is_validated_like_the_krx_one() {
        let tz = "timezone = \"Asia/Seoul\"\n";
        let entry = |name: &str| {
            format!(
                "[[us.pipeline]]\nname = \"{name}\"\ncron = \"0 0 8 * * Mon-Fri\"\nuntil = \"universe\"\nanchor = \"open\"\n"
            )
        };
        let us = |body: &str| format!("{tz}[us]\ntimezone = \"America/New_York\"\n{body}");
        let ok = Schedule::from_toml_str(&us(&entry("us_a"))).unwrap();
        assert_eq!(ok.us.unwrap().entries.len(), 1);
        assert!(Schedule::from_toml_str(tz).unwrap().us.is_none(), "no [us]: no US triggers");
        let e = |s: &str| Schedule::from_toml_str(s).unwrap_err();
        assert!(matches!(
            e(&us(&entry("us_a").replace("universe", "nowhere"))),
            ScheduleError::UnknownStage { .. }
        ));
        assert!(
            matches!(e(&us("extra = 1\n")), ScheduleError::UnknownKey { table, key } if table == "us" && key == "extra")
        );
        assert_eq!(
            e(&format!("{tz}[us]\ntimezone = \"America/NewYork\"\n")),
            ScheduleError::BadTimezone("America/NewYork".into())
        );
        assert!(
            matches!(e(&format!("{tz}[us]\n")), ScheduleError::Missing { key: "timezone", table } if table == "us")
        );
        let krx_a = "[[pipeline]]\nname = \"a\"\ncron = \"0 0 8 * * Mon-Fri\"\nuntil = \"universe\"\nanchor = \"open\"\n";
        assert_eq!(
            e(&format!("{tz}{krx_a}[us]\ntimezone = \"America/New_York\"\n{}", entry("a"))),
            ScheduleError::DuplicateName("a".into()),
            "names are unique across both pipelines"
        );
        assert!(matches!(e(&us(&entry("us_a").replace("0 0 8", "0 8"))), ScheduleError::BadCron { .. }));
    }

    #[test]
    fn typed_errors_for_bad_files() {
        let ok_entry = "[[pipeline]]\nname = \"a\"\ncron = \"0 0 8 * * Mon-Fri\"\nuntil = \"universe\"\nanchor = \"open\"\n";
        let tz = "timezone = \"Asia/Seoul\"\n";
        let e = |s: &str| Schedule::from_toml_str(s).unwrap_err();
        assert!(
            matches!(e(&format!("{tz}foo = 1\n")), ScheduleError::UnknownKey { key, .. } if key == "foo")
        );
        assert_eq!(e("timezone = \"Asia/Seol\"\n"), ScheduleError::BadTimezone("Asia/Seol".into()));
        assert!(matches!(e(ok_entry), ScheduleError::Missing { key: "timezone", .. }));
        let unknown_stage = format!("{tz}{}", ok_entry.replace("\"universe\"", "\"universes\""));
        assert!(matches!(e(&unknown_stage), ScheduleError::UnknownStage { .. }));
        let five_fields = format!("{tz}{}", ok_entry.replace("0 0 8 * * Mon-Fri", "0 8 * * Mon-Fri"));
        assert!(matches!(e(&five_fields), ScheduleError::BadCron { .. }));
        let bad_cron = format!("{tz}{}", ok_entry.replace("0 0 8 * * Mon-Fri", "0 0 25 * * Mon-Fri"));
        assert!(matches!(e(&bad_cron), ScheduleError::BadCron { .. }));
        let bad_anchor = format!("{tz}{}", ok_entry.replace("\"open\"", "\"noon\""));
        assert!(matches!(e(&bad_anchor), ScheduleError::BadAnchor { .. }));
        let extra = format!("{tz}{}", ok_entry.replace("anchor", "stage = 1\nanchor"));
        assert!(matches!(e(&extra), ScheduleError::UnknownKey { key, .. } if key == "stage"));
        assert!(matches!(e(&format!("{tz}{ok_entry}{ok_entry}")), ScheduleError::DuplicateName(_)));
        assert!(Schedule::from_toml_str(&format!("{tz}{ok_entry}")).is_ok());
    }
}
