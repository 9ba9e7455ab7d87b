//! End to end against `aegis sim` (port 0, compressed clock) on SQLite and PostgreSQL: a full
//! simulated day through every stage, an injected authentication failure with its Slack message
//! and operator re-run, a daemon killed in the middle of the intraday stage and restarted, two
//! trading days whose order numbers repeat, and the `aegis demo` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "e2e/auth.rs"]
mod auth;
#[path = "e2e/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "e2e/day.rs"]
mod day;
#[path = "e2e/demo.rs"]
mod demo;
#[path = "notify/fakes.rs"]
#[allow(dead_code)]
mod fakes;
#[path = "e2e/repeat.rs"]
mod repeat;
#[path = "e2e/resume.rs"]
mod resume;
