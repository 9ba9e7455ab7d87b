//! Integration suites of the trading core: store mapping on SQLite and PostgreSQL, the order
//! service with its guardrails and modes (fake broker), convergence of notices and snapshots, and
//! the crash test (SIGKILL at checkpoints of the order life cycle, restart, recovery, checks).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "trading/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "trading/convergence.rs"]
mod convergence;
#[path = "trading/crash.rs"]
mod crash;
#[path = "trading/service.rs"]
mod service;
#[path = "trading/sim_stop.rs"]
mod sim_stop;
#[path = "trading/store.rs"]
mod store;
