//! The daily pipeline's stages, their state machine (one flat transition table) and the default
//! stage specifications (dependencies, timeout, retry policy, stop-trading-on-failure).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A stage of the daily pipeline, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageName {
    /// Validates the configuration.
    ConfigCheck,
    /// Issues or reuses the REST access token.
    AccessToken,
    /// Issues the WebSocket approval key.
    ApprovalKey,
    /// Checks the account (balance, orderable cash).
    AccountCheck,
    /// Loads the active strategy parameters.
    ParamLoad,
    /// Reconciles orders, fills and positions with the broker.
    Recovery,
    /// Arms the pre-trade guardrails.
    Guardrails,
    /// Refreshes the master files and selects the universe.
    Universe,
    /// Realtime registration and the event loop until the close.
    Intraday,
    /// Cancel-open-orders policy, final reconciliation, daily summary.
    Close,
    /// The AI trade journal.
    Journal,
}

impl StageName {
    /// Every stage in pipeline order.
    pub const ALL: [Self; 11] = [
        Self::ConfigCheck,
        Self::AccessToken,
        Self::ApprovalKey,
        Self::AccountCheck,
        Self::ParamLoad,
        Self::Recovery,
        Self::Guardrails,
        Self::Universe,
        Self::Intraday,
        Self::Close,
        Self::Journal,
    ];

    /// Returns the stable snake_case name stored in the database and typed on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ConfigCheck => "config_check",
            Self::AccessToken => "access_token",
            Self::ApprovalKey => "approval_key",
            Self::AccountCheck => "account_check",
            Self::ParamLoad => "param_load",
            Self::Recovery => "recovery",
            Self::Guardrails => "guardrails",
            Self::Universe => "universe",
            Self::Intraday => "intraday",
            Self::Close => "close",
            Self::Journal => "journal",
        }
    }

    /// Returns the position of the stage in the pipeline (0-based).
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(Self::ALL.len())
    }
}

impl fmt::Display for StageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage name that is not one of [`StageName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown stage `{0}` (expected one of: config_check, access_token, approval_key, account_check, param_load, recovery, guardrails, universe, intraday, close, journal)"
)]
pub struct UnknownStage(pub String);

impl FromStr for StageName {
    type Err = UnknownStage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|n| n.as_str() == s).ok_or_else(|| UnknownStage(s.to_owned()))
    }
}

/// The status of one stage attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StageStatus {
    /// Created, not started.
    Pending,
    /// Executing.
    Running,
    /// Finished with an output.
    Succeeded,
    /// Finished with an error (or interrupted by a crash or shutdown).
    Failed,
    /// Deliberately not executed.
    Skipped,
}

impl StageStatus {
    /// Returns the stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Skipped => "SKIPPED",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Running, Self::Succeeded, Self::Failed, Self::Skipped]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// Returns whether no further transition is possible.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Skipped)
    }
}

impl fmt::Display for StageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to a stage attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StageEvent {
    /// The runner starts executing the attempt.
    Start,
    /// The stage returned an output.
    Succeed,
    /// The stage returned an error or timed out.
    Fail,
    /// The stage is not to be executed (or chose not to act).
    Skip,
    /// A crash or a shutdown left the attempt unfinished.
    Interrupt,
}

/// A refused stage transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid stage transition from {from} on {event:?}")]
pub struct InvalidStageTransition {
    /// Status before (and after).
    pub from: StageStatus,
    /// The refused event.
    pub event: StageEvent,
}

/// Returns the status an event leads to: the one flat stage transition table.
///
/// # Errors
/// Returns [`InvalidStageTransition`] for every pair not listed (terminal states accept nothing).
pub const fn transition(from: StageStatus, event: StageEvent) -> Result<StageStatus, InvalidStageTransition> {
    use StageEvent as E;
    use StageStatus as S;
    match (from, event) {
        (S::Pending, E::Start) => Ok(S::Running),
        (S::Pending, E::Skip) => Ok(S::Skipped),
        (S::Pending, E::Interrupt) => Ok(S::Failed),
        (S::Running, E::Succeed) => Ok(S::Succeeded),
        (S::Running, E::Fail) => Ok(S::Failed),
        (S::Running, E::Skip) => Ok(S::Skipped),
        (S::Running, E::Interrupt) => Ok(S::Failed),
        _ => Err(InvalidStageTransition { from, event }),
    }
}

/// The status of a whole pipeline run (one per trade date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Stages are being executed or remain to be executed.
    Running,
    /// Every stage succeeded (or was skipped).
    Succeeded,
    /// A stage failed; the run waits for an operator re-run.
    Failed,
    /// The market is closed on the trade date.
    Skipped,
}

impl RunStatus {
    /// Returns the stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Skipped => "SKIPPED",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Running, Self::Succeeded, Self::Failed, Self::Skipped].into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often and how patiently a stage is retried within one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageRetry {
    /// Attempts per invocation, at least 1.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further attempt.
    pub backoff: Duration,
}

impl StageRetry {
    /// A policy that never retries.
    pub const NONE: Self = Self { max_attempts: 1, backoff: Duration::ZERO };

    /// Returns the wait before attempt `next` (2-based: the wait before the second attempt is
    /// `backoff`), capped at ten minutes.
    pub fn delay_before(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(2).min(16);
        self.backoff.saturating_mul(1u32 << doublings).min(Duration::from_secs(600))
    }
}

/// What the runner needs to know about a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageSpec {
    /// The stage.
    pub name: StageName,
    /// Earlier stages that must have succeeded (or been skipped) first.
    pub needs: &'static [StageName],
    /// Longest time one attempt may take.
    pub timeout: Duration,
    /// Retry policy for retryable errors.
    pub retry: StageRetry,
    /// Whether a failure switches trading to stop mode.
    pub stop_trading_on_failure: bool,
}

const fn spec(
    name: StageName,
    needs: &'static [StageName],
    timeout_secs: u64,
    max_attempts: u32,
    backoff_secs: u64,
    stop_trading_on_failure: bool,
) -> StageSpec {
    StageSpec {
        name,
        needs,
        timeout: Duration::from_secs(timeout_secs),
        retry: StageRetry { max_attempts, backoff: Duration::from_secs(backoff_secs) },
        stop_trading_on_failure,
    }
}

/// The default specification of every stage, in pipeline order.
pub const DEFAULT_SPECS: [StageSpec; 11] = {
    use StageName as N;
    [
        spec(N::ConfigCheck, &[], 30, 1, 0, true),
        spec(N::AccessToken, &[N::ConfigCheck], 60, 3, 10, true),
        spec(N::ApprovalKey, &[N::AccessToken], 60, 3, 10, true),
        spec(N::AccountCheck, &[N::AccessToken], 120, 3, 10, true),
        spec(N::ParamLoad, &[N::ConfigCheck], 60, 2, 5, true),
        spec(N::Recovery, &[N::AccessToken, N::AccountCheck], 600, 3, 30, true),
        spec(N::Guardrails, &[N::ParamLoad, N::Recovery], 60, 1, 0, true),
        spec(N::Universe, &[N::ParamLoad], 900, 3, 60, true),
        spec(N::Intraday, &[N::ApprovalKey, N::Guardrails, N::Universe], 9 * 3600, 1, 0, true),
        spec(N::Close, &[N::Intraday], 1800, 3, 30, true),
        spec(N::Journal, &[N::Close], 1800, 2, 60, false),
    ]
};

/// Returns the default specification of a stage.
pub fn default_spec(name: StageName) -> StageSpec {
    DEFAULT_SPECS.into_iter().find(|s| s.name == name).unwrap_or(StageSpec {
        name,
        needs: &[],
        timeout: Duration::from_secs(60),
        retry: StageRetry::NONE,
        stop_trading_on_failure: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUSES: [StageStatus; 5] = [
        StageStatus::Pending,
        StageStatus::Running,
        StageStatus::Succeeded,
        StageStatus::Failed,
        StageStatus::Skipped,
    ];
    const EVENTS: [StageEvent; 5] =
        [StageEvent::Start, StageEvent::Succeed, StageEvent::Fail, StageEvent::Skip, StageEvent::Interrupt];

    #[test]
    fn every_transition_is_legal_or_refused_as_listed() {
        use StageEvent as E;
        use StageStatus as S;
        let legal = [
            (S::Pending, E::Start, S::Running),
            (S::Pending, E::Skip, S::Skipped),
            (S::Pending, E::Interrupt, S::Failed),
            (S::Running, E::Succeed, S::Succeeded),
            (S::Running, E::Fail, S::Failed),
            (S::Running, E::Skip, S::Skipped),
            (S::Running, E::Interrupt, S::Failed),
        ];
        let mut checked = 0;
        for from in STATUSES {
            for event in EVENTS {
                let expected = legal.iter().find(|(f, e, _)| *f == from && *e == event).map(|(_, _, to)| *to);
                match expected {
                    Some(to) => assert_eq!(transition(from, event), Ok(to), "{from} on {event:?}"),
                    None => assert_eq!(
                        transition(from, event),
                        Err(InvalidStageTransition { from, event }),
                        "{from} on {event:?} must be refused"
                    ),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 25);
    }

    #[test]
    fn terminal_states_accept_nothing() {
        for from in STATUSES.into_iter().filter(|s| s.is_terminal()) {
            for event in EVENTS {
                assert!(transition(from, event).is_err());
            }
        }
        assert!(!StageStatus::Pending.is_terminal() && !StageStatus::Running.is_terminal());
    }

    #[test]
    fn names_round_trip_and_keep_pipeline_order() {
        for (i, n) in StageName::ALL.into_iter().enumerate() {
            assert_eq!(n.as_str().parse::<StageName>(), Ok(n));
            assert_eq!(n.index(), i);
            assert_eq!(serde_json::to_value(n).unwrap(), serde_json::json!(n.as_str()));
        }
        assert!(StageName::ConfigCheck < StageName::Journal);
        assert_eq!("nope".parse::<StageName>(), Err(UnknownStage("nope".into())));
        for s in STATUSES {
            assert_eq!(StageStatus::parse(s.as_str()), Some(s));
        }
        for r in [RunStatus::Running, RunStatus::Succeeded, RunStatus::Failed, RunStatus::Skipped] {
            assert_eq!(RunStatus::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn default_specs_only_need_earlier_stages() {
        for (i, s) in DEFAULT_SPECS.iter().enumerate() {
            assert_eq!(s.name, StageName::ALL[i]);
            assert!(s.retry.max_attempts >= 1);
            for n in s.needs {
                assert!(*n < s.name, "{} needs the later stage {n}", s.name);
            }
        }
        assert!(!default_spec(StageName::Journal).stop_trading_on_failure);
        assert!(default_spec(StageName::Recovery).stop_trading_on_failure);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = StageRetry { max_attempts: 5, backoff: Duration::from_secs(10) };
        assert_eq!(p.delay_before(2), Duration::from_secs(10));
        assert_eq!(p.delay_before(3), Duration::from_secs(20));
        assert_eq!(p.delay_before(4), Duration::from_secs(40));
        assert_eq!(p.delay_before(40), Duration::from_secs(600));
    }
}
