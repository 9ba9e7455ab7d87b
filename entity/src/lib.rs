//! sea-orm entities of aegis: one file per table, no logic.
//!
//! Money and quantities use [`Dec`] (exact NUMERIC on PostgreSQL, exact text on SQLite); times are
//! `DateTimeUtc` (stored in UTC, shown in KST by the callers).

pub mod decimal;

pub mod ai_job_run;
pub mod audit_log;
pub mod broker_token;
pub mod control_state;
pub mod event;
pub mod fill;
pub mod instrument;
pub mod lease;
pub mod notification_outbox;
pub mod order;
pub mod pipeline_run;
pub mod position;
pub mod slack_day_message;
pub mod stage_request;
pub mod stage_run;
pub mod strategy;
pub mod strategy_param;
pub mod strategy_param_draft;
pub mod trade_journal;

pub use decimal::Dec;
