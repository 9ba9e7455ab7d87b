//! aegis's `cli` module as the Windows modules see it: the two real files, and stand-ins for the
//! daemon entry points they call.

use std::path::PathBuf;

#[path = "../../../../src/cli/service_windows.rs"]
pub mod service_windows;
#[path = "../../../../src/cli/windows_plan.rs"]
pub mod windows_plan;

/// Stand-in for `aegis::cli::run_cmd`.
pub mod run_cmd {
    /// Stand-in for `RunArgs` (the field the service body uses).
    #[derive(Debug)]
    pub struct RunArgs {
        /// `--data-dir`.
        pub data_dir: std::path::PathBuf,
    }

    /// Stand-in for `run_until`.
    pub async fn run_until(
        _loaded: &crate::config::Loaded,
        _args: RunArgs,
        _cancel: tokio_util::sync::CancellationToken,
    ) -> i32 {
        0
    }
}

/// Stand-in for `aegis::cli::with_config_logging_to`.
pub(crate) async fn with_config_logging_to<D, F, Fut>(
    _sources: &crate::config::Sources,
    _log_dir: D,
    _command: F,
) -> i32
where
    D: FnOnce(Option<PathBuf>) -> Option<PathBuf>,
    F: FnOnce(crate::config::Loaded) -> Fut,
    Fut: std::future::Future<Output = i32>,
{
    0
}
