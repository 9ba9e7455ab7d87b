//! The Windows service entry point: the service control handler turns Stop and Shutdown into
//! the daemon's cancellation token and reports Running/Stopped to the service control manager.

use std::ffi::OsString;
use std::sync::OnceLock;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use windows_service::service::{
    ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::{define_windows_service, service_dispatcher};

/// The Windows service name.
pub const SERVICE_NAME: &str = "aegis";

/// The daemon body: runs until the token is cancelled and returns the exit code.
pub type ServiceBody = Box<dyn Fn(CancellationToken) -> i32 + Send + Sync>;

static BODY: OnceLock<ServiceBody> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Hands the process to the service control manager, which calls `body` on a service thread.
/// Blocks until the service stops.
///
/// # Errors
/// Returns the dispatcher's error (e.g. when not started by the service control manager).
pub fn run_as_service(body: ServiceBody) -> windows_service::Result<()> {
    let _ = BODY.set(body);
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)
}

fn status(state: ServiceState, accept: ServiceControlAccept, code: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: accept,
        exit_code: ServiceExitCode::Win32(code),
        checkpoint: 0,
        wait_hint: Duration::from_secs(60),
        process_id: None,
    }
}

fn service_main(_arguments: Vec<OsString>) {
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let handler = move |event| match event {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            stop.cancel();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(handle) = service_control_handler::register(SERVICE_NAME, handler) else { return };
    let accept = ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN;
    if let Err(e) = handle.set_service_status(status(ServiceState::Running, accept, 0)) {
        tracing::warn!(error = %e, "cannot report Running to the service control manager");
    }
    let code = BODY.get().map_or(1, |body| body(cancel));
    let code = u32::try_from(code).unwrap_or(1);
    if let Err(e) =
        handle.set_service_status(status(ServiceState::Stopped, ServiceControlAccept::empty(), code))
    {
        tracing::warn!(error = %e, "cannot report Stopped to the service control manager");
    }
}
