//! The daily pipeline engine: the trigger schedule and the live cron scheduler, the runner that
//! drives the stage state machine with persistence, resume and re-runs, the daemon loop that
//! serves triggers and operator requests, and the system-service helpers.

pub mod daemon;
pub mod lease;
pub mod runner;
pub mod schedule;
pub mod scheduler;
pub mod service;
pub mod sink;
pub mod stage;
pub mod stages;

pub use crate::ports::{Clock, FakeClock, SystemClock};
pub use daemon::{Daemon, DaemonConfig, DaemonError, PIPELINE_LEASE, holder_name, serve};
pub use lease::{Heartbeat, LeaseKeeper};
pub use runner::{RunOutcome, Runner, RunnerError};
pub use schedule::{Schedule, ScheduleError, Trigger, fire_times};
pub use scheduler::{Fired, PipelineScheduler};
pub use sink::{ConsoleSink, MemorySink, NoopSink, Transition, TransitionSink};
pub use stage::{DynStage, OutputError, Stage, StageContext, StageError, StageOutput, decode_output};
