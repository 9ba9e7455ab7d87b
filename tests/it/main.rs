//! The integration tests of aegis, one binary: `cargo nextest run --test it` (nextest runs every
//! test in a process of its own; `cargo test --test it` runs them as threads of one process).
//! One module per suite; what the suites share is in `support`:
//!
//! - `support::sim`: the simulator (`aegis sim` in-process on port 0), its account, credentials
//!   and trading day, and the KIS adapter pointed at it; `support::ws`: raw WebSocket sessions;
//! - `support::db`: the SQLite and PostgreSQL test stores (`AEGIS_TEST_PG_URL`) and reads of them;
//! - `support::wait`: polling helpers; `support::bin`: the `aegis` binary run as a user runs it;
//! - `support::fakes`: a fake Slack Web API and an SMTP sink.
//!
//! Tests that run on both database backends end in `::sqlite` / `::postgres` (`.ci/run` counts
//! the PostgreSQL ones by that word).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod cli;
mod conformance;
mod e2e;
mod journal;
mod kis;
mod migration;
mod notify;
mod obs;
mod params;
mod pipeline;
mod sim;
mod sqlite_load;
mod storage;
mod trading;
mod universe;
