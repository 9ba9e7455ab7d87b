//! The rehearsal's calendar (which KRX days it runs, and with `--us` which New York days), its
//! fault plan (what the simulator is told to do, when) and its kill schedule.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::domain::MarketRegion;
use crate::domain::calendar::KrxCalendar;
use crate::domain::us_calendar::{NEW_YORK, UsCalendar};
use crate::sim::{FaultCommand, TokenFault};

/// One step of a fault plan: an action on trading day `day` (1-based) at `at` (KST), undone at
/// `until` when given (refused connections let in again, a delay cleared, periodic socket drops
/// stopped, hung paths answered again). A step with `"us": true` (`--us`) lies in a US session:
/// its `day` counts the rehearsal's US trading days and its times are New York times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Trading day of the rehearsal, 1-based (of its US trading days for a US step).
    pub day: usize,
    /// Simulated time of the action (KST; New York time for a US step).
    pub at: NaiveTime,
    /// Simulated time at which the action is undone (KST; New York time for a US step).
    #[serde(default)]
    pub until: Option<NaiveTime>,
    /// A step of a US session (`--us`): `day` is a US trading day, the times New York's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub us: bool,
    /// What happens.
    #[serde(flatten)]
    pub action: Action,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// A simulator fault (`POST /__sim/faults`).
    Fault {
        /// The command.
        command: FaultCommand,
    },
    /// The `access_token` stage is made to fail (the simulator refuses the app key) until its
    /// last attempt FAILED; then the key is accepted again and the operator runs
    /// `aegis stage rerun access_token --date D` and `aegis resume` as child processes.
    FailStage,
}

impl Step {
    /// A short name of the step's kind.
    pub fn kind(&self) -> String {
        match &self.action {
            Action::FailStage => "fail_stage(access_token)+rerun".to_owned(),
            Action::Fault { command } => serde_json::to_value(command)
                .ok()
                .and_then(|v| v.get("fault").and_then(|f| f.as_str()).map(str::to_owned))
                .map_or_else(
                    || "fault".to_owned(),
                    |f| match command {
                        FaultCommand::Token { action: TokenFault::Revoke } => "token_revoke".to_owned(),
                        FaultCommand::Token { action: TokenFault::Expire } => "token_expire".to_owned(),
                        _ => f,
                    },
                ),
        }
    }

    /// The command that undoes the step at `until` (none: [`FaultCommand::Clear`] and a re-arm
    /// of the plan's still-active periodic faults, for a hung path).
    pub fn undo(&self) -> Option<FaultCommand> {
        match &self.action {
            Action::Fault { command } => match command {
                FaultCommand::RefuseConnections { .. } => Some(FaultCommand::RefuseConnections { on: false }),
                FaultCommand::Delay { .. } => Some(FaultCommand::Delay { ms: 0 }),
                FaultCommand::NoticeDelay { .. } => Some(FaultCommand::NoticeDelay { ms: 0 }),
                FaultCommand::WsClose { .. } => Some(FaultCommand::WsClose {
                    at: chrono::DateTime::parse_from_rfc3339("2099-12-31T00:00:00+09:00").ok(),
                    every_secs: None,
                }),
                _ => None,
            },
            Action::FailStage => None,
        }
    }
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
}

/// Minutes between periodic socket drops in the default plan.
pub const WS_DROP_EVERY_SECS: u64 = 15 * 60;

/// The default plan over `days` trading days: every fault kind of the simulator at least once,
/// spread round-robin over the days; socket drops every 15 simulated minutes through every
/// session; the failed stage and its operator re-run on day 1 (the fresh database has no cached
/// token, so the stage really calls the broker).
pub fn default_plan(days: usize) -> Vec<Step> {
    let days = days.max(1);
    let fault = |command| Action::Fault { command };
    let episodes: Vec<(NaiveTime, Option<NaiveTime>, Action)> = vec![
        (t(8, 58), Some(t(9, 4)), fault(FaultCommand::RefuseConnections { on: true })),
        (t(10, 0), None, fault(FaultCommand::Rest5xx { count: 3, status: Some(503) })),
        (t(10, 20), None, fault(FaultCommand::RateLimitStorm { count: 6 })),
        (t(10, 40), None, fault(FaultCommand::Token { action: TokenFault::Revoke })),
        (t(11, 0), None, fault(FaultCommand::HangAfterOrder { count: 1 })),
        (t(11, 20), Some(t(11, 40)), fault(FaultCommand::Delay { ms: 300 })),
        (t(12, 0), None, fault(FaultCommand::NoticeDuplicate { count: 3 })),
        (t(12, 20), None, fault(FaultCommand::NoticeReorder { count: 2 })),
        (t(12, 40), Some(t(13, 0)), fault(FaultCommand::NoticeDelay { ms: 200 })),
        (t(13, 10), None, fault(FaultCommand::MalformedFrame)),
        (t(13, 30), None, fault(FaultCommand::RejectOrders { count: 1 })),
        (t(13, 50), None, fault(FaultCommand::Token { action: TokenFault::Expire })),
        (t(14, 10), Some(t(14, 20)), fault(FaultCommand::Hang { path: "inquire-balance".into() })),
    ];
    let mut plan = vec![Step { day: 1, at: t(7, 50), until: None, us: false, action: Action::FailStage }];
    for day in 1..=days {
        plan.push(Step {
            day,
            at: t(9, 0),
            until: Some(t(15, 20)),
            us: false,
            action: fault(FaultCommand::WsClose { at: None, every_secs: Some(WS_DROP_EVERY_SECS) }),
        });
    }
    for (i, (at, until, action)) in episodes.into_iter().enumerate() {
        plan.push(Step { day: 1 + (i + 1) % days, at, until, us: false, action });
    }
    plan.sort_by_key(|s| (s.day, s.at));
    plan
}

/// The default plan's US part over `days` US trading days (`--us`; New York times): socket drops
/// every 15 simulated minutes through every regular session (the socket is the KRX pipeline's
/// too), and order-path faults spread round-robin over the days — a 5xx burst, duplicated
/// notices, an order accepted but never answered, an order the exchange rejects, reordered
/// notices.
pub fn default_us_plan(days: usize) -> Vec<Step> {
    if days == 0 {
        return Vec::new();
    }
    let fault = |command| Action::Fault { command };
    let episodes: Vec<(NaiveTime, Action)> = vec![
        (t(10, 0), fault(FaultCommand::Rest5xx { count: 3, status: Some(503) })),
        (t(10, 40), fault(FaultCommand::NoticeDuplicate { count: 3 })),
        (t(11, 20), fault(FaultCommand::HangAfterOrder { count: 1 })),
        (t(12, 0), fault(FaultCommand::RejectOrders { count: 1 })),
        (t(12, 40), fault(FaultCommand::NoticeReorder { count: 2 })),
    ];
    let mut plan: Vec<Step> = (1..=days)
        .map(|day| Step {
            day,
            at: t(9, 30),
            until: Some(t(15, 50)),
            us: true,
            action: fault(FaultCommand::WsClose { at: None, every_secs: Some(WS_DROP_EVERY_SECS) }),
        })
        .collect();
    for (i, (at, action)) in episodes.into_iter().enumerate() {
        plan.push(Step { day: 1 + i % days, at, until: None, us: true, action });
    }
    plan.sort_by_key(|s| (s.day, s.at));
    plan
}

/// Reads a plan: `default` (with `us_days` US trading days, its US part too), `none`, or a JSON
/// file holding an array of [`Step`]s.
///
/// # Errors
/// Returns a message when the file cannot be read or parsed, or names a day beyond `days` (a US
/// step: beyond `us_days`).
pub fn load_plan(spec: &str, days: usize, us_days: usize) -> Result<Vec<Step>, String> {
    let plan = match spec {
        "default" => {
            let mut plan = default_plan(days);
            plan.extend(default_us_plan(us_days));
            plan
        }
        "none" => Vec::new(),
        path => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("fault plan {path}: {e}"))?;
            serde_json::from_str::<Vec<Step>>(&text).map_err(|e| format!("fault plan {path}: {e}"))?
        }
    };
    if let Some(s) = plan.iter().find(|s| s.day == 0 || (!s.us && s.day > days)) {
        return Err(format!("fault plan: day {} is outside 1..={days}", s.day));
    }
    if let Some(s) = plan.iter().find(|s| s.us && s.day > us_days) {
        return Err(format!("fault plan: US day {} is outside 1..={us_days} (US steps need --us)", s.day));
    }
    if let Some(s) = plan.iter().find(|s| s.us && matches!(s.action, Action::FailStage)) {
        return Err(format!("fault plan: the failed stage of US day {} is KRX's only", s.day));
    }
    Ok(plan)
}

/// The US side of a rehearsal (`--us`): the daemon's US calendar and the simulator's US closed
/// days.
#[derive(Debug, Clone, Copy)]
pub struct UsMarket<'a> {
    /// The calendar the daemon's US pipeline runs on.
    pub calendar: &'a UsCalendar,
    /// The simulator's US full-day closures.
    pub sim_holidays: &'a [NaiveDate],
}

impl UsMarket<'_> {
    /// Whether the daemon runs a US pipeline for the New York date.
    pub fn trades(&self, d: NaiveDate) -> bool {
        self.calendar.is_trading_day(d)
    }

    /// Whether the date is a regular US trading day of both the calendar and the simulator (the
    /// simulator models no early close).
    fn regular(&self, d: NaiveDate) -> bool {
        self.trades(d) && self.calendar.special(d).is_none() && !self.sim_holidays.contains(&d)
    }

    /// The New York dates of `from..=to` the US pipeline trades.
    pub fn days(&self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        from.iter_days().take_while(|d| *d <= to).filter(|d| self.trades(*d)).collect()
    }
}

/// A New York wall-clock time of a date as a KST instant (the simulator's clock).
pub fn ny_at(date: NaiveDate, time: NaiveTime) -> DateTime<FixedOffset> {
    let kst = crate::sim::clock::kst();
    NEW_YORK
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .map_or_else(|| crate::sim::clock::at(date, time), |t| t.with_timezone(&kst))
}

/// Whether a date is a regular trading day of both the KRX calendar and the simulator.
fn regular(cal: &KrxCalendar, sim: &crate::sim::market::Calendar, d: NaiveDate) -> bool {
    cal.is_trading_day(d) && cal.special(d).is_none() && sim.is_trading_day(d)
}

/// Picks the rehearsal's `days` trading days from `from` on: the first start whose span crosses
/// a weekend and a closed weekday (a KRX holiday) when `days >= 3`, else the first regular
/// trading days. No special session (late open) lies inside the span. Falls back to the first
/// trading days when no such span exists in the calendar's years.
///
/// With the US market (`--us`) the span's US trading days must be regular too (no early close),
/// and the date before its first day must not be a US trading day: the rehearsal starts at 07:30
/// KST, when the previous New York date's pipeline would be all due and overdue (a daemon first
/// started then catches that day up and alerts on it) — so the span starts on a Monday or after a
/// US holiday.
pub fn pick_days(
    cal: &KrxCalendar,
    sim: &crate::sim::market::Calendar,
    from: NaiveDate,
    days: usize,
    us: Option<UsMarket<'_>>,
) -> Vec<NaiveDate> {
    let us_ok = |start: NaiveDate, span: &[NaiveDate]| {
        let Some(us) = us else { return true };
        let last = span.last().copied().unwrap_or(start);
        start.pred_opt().is_some_and(|p| !us.trades(p))
            && start.iter_days().take_while(|d| *d <= last).all(|d| !us.trades(d) || us.regular(d))
    };
    let take = |start: NaiveDate| -> Option<Vec<NaiveDate>> {
        let mut out = Vec::new();
        let mut d = start;
        let mut weekend = false;
        let mut holiday = false;
        while out.len() < days {
            if regular(cal, sim, d) {
                out.push(d);
            } else if cal.special(d).is_some() {
                return None;
            } else if matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                weekend = !out.is_empty() || weekend;
            } else if !out.is_empty() {
                holiday = true;
            }
            d = d.succ_opt()?;
            if (d - start).num_days() > 40 + 2 * i64::try_from(days).unwrap_or(0) {
                return None;
            }
        }
        (days < 3 || (weekend && holiday)).then_some(out).filter(|out| us_ok(start, out))
    };
    let mut start = from;
    for _ in 0..730 {
        if regular(cal, sim, start)
            && let Some(span) = take(start)
        {
            return span;
        }
        start = start.succ_opt().unwrap_or(start);
    }
    let mut out = Vec::new();
    let mut d = from;
    while out.len() < days {
        if regular(cal, sim, d) {
            out.push(d);
        }
        d = d.succ_opt().unwrap_or(d);
    }
    out
}

/// The kill moments: `kills` (day index, KST time) pairs drawn with `seed`, uniformly over the
/// days' 08:05–15:45 stretch (the pre-market chain, the session and the close), sorted.
/// [`us_kill_times`] draws them with `--us`.
pub fn kill_times(seed: u64, days: usize, kills: usize) -> Vec<(usize, NaiveTime)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6b69_6c6c);
    let lo = 8 * 3600 + 5 * 60;
    let hi = 15 * 3600 + 45 * 60;
    let mut out: Vec<(usize, NaiveTime)> = (0..kills)
        .map(|_| {
            let day = rng.random_range(0..days.max(1));
            let secs: u32 = rng.random_range(lo..hi);
            (day, NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or_default())
        })
        .collect();
    out.sort();
    out
}

/// The kill moments with `--us`: `kills` (market, day index, time) triples drawn with `seed`,
/// alternately in a US and a KRX trading day (the first in a US one; all in KRX ones without US
/// days): uniformly over a US day's 08:05–16:15 New York time (its pre-market chain, regular
/// session and close) or a KRX day's 08:05–15:45 KST, as KST instants, sorted.
pub fn us_kill_times(
    seed: u64,
    krx_days: &[NaiveDate],
    us_days: &[NaiveDate],
    kills: usize,
) -> Vec<(MarketRegion, usize, DateTime<FixedOffset>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6b69_6c6c);
    let mut out: Vec<(MarketRegion, usize, DateTime<FixedOffset>)> = (0..kills)
        .filter_map(|i| {
            let us = i % 2 == 0 && !us_days.is_empty();
            let (days, lo, hi) = if us {
                (us_days, 8 * 3600 + 5 * 60, 16 * 3600 + 15 * 60)
            } else {
                (krx_days, 8 * 3600 + 5 * 60, 15 * 3600 + 45 * 60)
            };
            if days.is_empty() {
                return None;
            }
            let day = rng.random_range(0..days.len());
            let secs: u32 = rng.random_range(lo..hi);
            let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or_default();
            Some(if us {
                (MarketRegion::Us, day, ny_at(days[day], time))
            } else {
                (MarketRegion::Kr, day, crate::sim::clock::at(days[day], time))
            })
        })
        .collect();
    out.sort_by_key(|(_, _, at)| *at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_plan_has_every_fault_kind_on_any_number_of_days() {
        for days in [1, 2, 5] {
            let plan = default_plan(days);
            let kinds: std::collections::BTreeSet<String> = plan.iter().map(Step::kind).collect();
            for k in [
                "ws_close",
                "refuse_connections",
                "rest5xx",
                "rate_limit_storm",
                "token_revoke",
                "token_expire",
                "hang_after_order",
                "delay",
                "hang",
                "notice_duplicate",
                "notice_reorder",
                "notice_delay",
                "malformed_frame",
                "reject_orders",
                "fail_stage(access_token)+rerun",
            ] {
                assert!(kinds.contains(k), "{days} days: {k} missing from {kinds:?}");
            }
            assert!(plan.iter().all(|s| s.day >= 1 && s.day <= days));
        }
        let json = serde_json::to_string(&default_plan(2)).unwrap();
        assert!(!json.contains("\"us\""), "a KRX step's JSON is as before: {json}");
        assert_eq!(load_plan("none", 2, 0).unwrap(), Vec::new());
        let back: Vec<Step> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, default_plan(2));
        assert_eq!(load_plan("default", 2, 0).unwrap(), default_plan(2), "no US steps without --us");
    }

    #[test]
    fn the_us_plan_drops_the_socket_through_every_us_session() {
        for days in [1, 3] {
            let plan = load_plan("default", 2, days).unwrap();
            let us: Vec<&Step> = plan.iter().filter(|s| s.us).collect();
            let drops = us.iter().filter(|s| s.kind() == "ws_close").count();
            assert_eq!(drops, days, "{us:?}");
            for k in ["rest5xx", "notice_duplicate", "hang_after_order", "reject_orders", "notice_reorder"] {
                assert!(us.iter().any(|s| s.kind() == k), "{days} US days: {k} missing");
            }
            assert!(us.iter().all(|s| s.day >= 1 && s.day <= days && s.at >= t(9, 30)));
            let json = serde_json::to_string(&plan).unwrap();
            assert_eq!(serde_json::from_str::<Vec<Step>>(&json).unwrap(), plan);
        }
        assert!(load_plan("default", 2, 0).unwrap().iter().all(|s| !s.us));
        // 09:30 New York is 23:30 KST in winter, 22:30 KST in summer.
        let d = NaiveDate::from_ymd_opt(2026, 12, 14).unwrap();
        assert_eq!(ny_at(d, t(9, 30)).to_rfc3339(), "2026-12-14T23:30:00+09:00");
        let d = NaiveDate::from_ymd_opt(2026, 6, 15).unwrap();
        assert_eq!(ny_at(d, t(17, 30)).to_rfc3339(), "2026-06-16T06:30:00+09:00");
    }

    #[test]
    fn with_the_us_market_the_span_starts_after_a_closed_new_york_day() {
        let cal = KrxCalendar::builtin().unwrap();
        let sim = crate::sim::market::Calendar::new(crate::sim::market::Calendar::krx_default_days());
        let us_cal = UsCalendar::builtin().unwrap();
        let holidays = crate::sim::us::rules::default_holidays();
        let us = UsMarket { calendar: &us_cal, sim_holidays: &holidays };
        // From Tuesday 2026-12-08: the first start after a closed New York day is Monday the 14th.
        let from = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
        assert_eq!(pick_days(&cal, &sim, from, 1, None), vec![from], "KRX only: unchanged");
        let one = pick_days(&cal, &sim, from, 1, Some(us));
        assert_eq!(one, vec![NaiveDate::from_ymd_opt(2026, 12, 14).unwrap()]);
        assert_eq!(us.days(one[0], one[0]), one);
        // Five days: the span crosses a weekend and a KRX holiday but no US early close (the
        // 24th of December and the 26th of November close at 13:00 in New York).
        let five = pick_days(&cal, &sim, from, 5, Some(us));
        assert_eq!(five.len(), 5);
        let (first, last) = (five[0], five[4]);
        assert!(!us.trades(first.pred_opt().unwrap()), "{five:?}");
        assert!(us.days(first, last).iter().all(|d| us_cal.special(*d).is_none()), "{five:?}");
        let kills = us_kill_times(7, &five, &us.days(first, last), 3);
        assert_eq!(kills.len(), 3);
        assert_eq!(kills.iter().filter(|k| k.0 == MarketRegion::Us).count(), 2, "{kills:?}");
        assert!(kills.windows(2).all(|w| w[0].2 <= w[1].2), "sorted: {kills:?}");
        assert_eq!(us_kill_times(7, &five, &[], 2).iter().filter(|k| k.0 == MarketRegion::Us).count(), 0);
    }

    #[test]
    fn five_days_cross_a_weekend_and_a_holiday() {
        let cal = KrxCalendar::builtin().unwrap();
        let sim = crate::sim::market::Calendar::new(crate::sim::market::Calendar::krx_default_days());
        let days = pick_days(&cal, &sim, NaiveDate::from_ymd_opt(2026, 12, 8).unwrap(), 5, None);
        assert_eq!(days.first(), NaiveDate::from_ymd_opt(2026, 12, 21).as_ref(), "{days:?}");
        assert_eq!(days.len(), 5);
        assert!(days.contains(&NaiveDate::from_ymd_opt(2026, 12, 28).unwrap()), "{days:?}");
        let kills = kill_times(7, 5, 3);
        assert_eq!(kills, kill_times(7, 5, 3), "seeded");
        assert_eq!(kills.len(), 3);
    }
}
