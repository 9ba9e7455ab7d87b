//! Type-checks and lints aegis's Windows-only service module on Linux, where no Windows target can
//! be built: `src/cli/service_windows.rs` and `src/cli/windows_plan.rs` of aegis are compiled
//! against `windows-service/`, a stub with the signatures of windows-service 0.8.1 (copied from
//! its source; no bodies). `.ci/run` runs `cargo clippy -- -D warnings` on this crate. When
//! aegis moves to another windows-service version, update the stub's signatures from it.
#![allow(dead_code)]

/// The parts of aegis's `config` module the Windows modules name.
pub mod config {
    /// Stand-in for `aegis::config::Sources`.
    #[derive(Debug, Clone, Default)]
    pub struct Sources;
    /// Stand-in for `aegis::config::Loaded`.
    #[derive(Debug)]
    pub struct Loaded;
}

pub mod cli;
