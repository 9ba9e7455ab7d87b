//! The rehearsal's calendar (which KRX days it runs), its fault plan (what the simulator is told
//! to do, when) and its kill schedule.

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::domain::calendar::KrxCalendar;
use crate::sim::{FaultCommand, TokenFault};

/// One step of a fault plan: an action on trading day `day` (1-based) at `at` (KST), undone at
/// `until` when given (refused connections let in again, a delay cleared, periodic socket drops
/// stopped, hung paths answered again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Trading day of the rehearsal, 1-based.
    pub day: usize,
    /// Simulated KST time of the action.
    pub at: NaiveTime,
    /// Simulated KST time at which the action is undone.
    #[serde(default)]
    pub until: Option<NaiveTime>,
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
    let mut plan = vec![Step { day: 1, at: t(7, 50), until: None, action: Action::FailStage }];
    for day in 1..=days {
        plan.push(Step {
            day,
            at: t(9, 0),
            until: Some(t(15, 20)),
            action: fault(FaultCommand::WsClose { at: None, every_secs: Some(WS_DROP_EVERY_SECS) }),
        });
    }
    for (i, (at, until, action)) in episodes.into_iter().enumerate() {
        plan.push(Step { day: 1 + (i + 1) % days, at, until, action });
    }
    plan.sort_by_key(|s| (s.day, s.at));
    plan
}

/// Reads a plan: `default`, `none`, or a JSON file holding an array of [`Step`]s.
///
/// # Errors
/// Returns a message when the file cannot be read or parsed, or names a day beyond `days`.
pub fn load_plan(spec: &str, days: usize) -> Result<Vec<Step>, String> {
    let plan = match spec {
        "default" => default_plan(days),
        "none" => Vec::new(),
        path => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("fault plan {path}: {e}"))?;
            serde_json::from_str::<Vec<Step>>(&text).map_err(|e| format!("fault plan {path}: {e}"))?
        }
    };
    if let Some(s) = plan.iter().find(|s| s.day == 0 || s.day > days) {
        return Err(format!("fault plan: day {} is outside 1..={days}", s.day));
    }
    Ok(plan)
}

/// Whether a date is a regular trading day of both the KRX calendar and the simulator.
fn regular(cal: &KrxCalendar, sim: &crate::sim::market::Calendar, d: NaiveDate) -> bool {
    cal.is_trading_day(d) && cal.special(d).is_none() && sim.is_trading_day(d)
}

/// Picks the rehearsal's `days` trading days from `from` on: the first start whose span crosses
/// a weekend and a closed weekday (a KRX holiday) when `days >= 3`, else the first regular
/// trading days. No special session (late open) lies inside the span. Falls back to the first
/// trading days when no such span exists in the calendar's years.
pub fn pick_days(
    cal: &KrxCalendar,
    sim: &crate::sim::market::Calendar,
    from: NaiveDate,
    days: usize,
) -> Vec<NaiveDate> {
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
        (days < 3 || (weekend && holiday)).then_some(out)
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
        assert_eq!(load_plan("none", 2).unwrap(), Vec::new());
        let back: Vec<Step> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, default_plan(2));
    }

    #[test]
    fn five_days_cross_a_weekend_and_a_holiday() {
        let cal = KrxCalendar::builtin().unwrap();
        let sim = crate::sim::market::Calendar::new(crate::sim::market::Calendar::krx_default_days());
        let days = pick_days(&cal, &sim, NaiveDate::from_ymd_opt(2026, 12, 8).unwrap(), 5);
        assert_eq!(days.first(), NaiveDate::from_ymd_opt(2026, 12, 21).as_ref(), "{days:?}");
        assert_eq!(days.len(), 5);
        assert!(days.contains(&NaiveDate::from_ymd_opt(2026, 12, 28).unwrap()), "{days:?}");
        let kills = kill_times(7, 5, 3);
        assert_eq!(kills, kill_times(7, 5, 3), "seeded");
        assert_eq!(kills.len(), 3);
    }
}
