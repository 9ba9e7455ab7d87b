//! aegis: a crash-safe, idempotent trading service for Korea Investment & Securities (KIS) accounts.
//!
//! Module map (dependencies point inward: `domain` knows no I/O; only `store` touches `entity`;
//! only `kis` and `sim` know KIS field names; stages see ports, not adapters):
//!
//! - [`domain`]: pure rules and types (order state machine, positions, prices, risk, calendar).
//! - [`config`]: typed, layered settings; secrets redacted; validation report.
//! - [`notify`]: Slack, email and console notifications through a persisted outbox; alert rules.
//! - [`store`]: sea-orm store (SQLite default, PostgreSQL in production), event log.
//! - [`telemetry`]: tracing setup, masking helpers and the log redactor.
//! - [`obs`]: Prometheus metrics, `/healthz` and `/readyz` on a listener of their own.
//! - [`universe`]: stock master files, instrument differences, universe selection, freshness.
//! - [`journal`]: after-close AI trade journal, template fallback and parameter drafts.
//! - [`pipeline`]: the daily pipeline: schedule, scheduler, stage runner, daemon loop, service.
//! - [`sim`]: the simulated KIS Open API server (`aegis sim`).
//! - [`trading`]: order service, executions, guard (modes, kill switch) and crash recovery.
//! - [`app`]: the composition root (settings → store → broker → stages → runner), `aegis demo`.
//! - [`cli`]: the `aegis` command line.
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod journal;
pub mod kis;
pub mod notify;
pub mod obs;
pub mod pipeline;
pub mod ports;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod trading;
pub mod universe;
