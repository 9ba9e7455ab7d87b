//! The Windows API calls of the service, and nothing else: every decision — the install plan, the
//! status of each phase, the answer to each control, the exit code — is made by the
//! platform-independent [`super::windows_plan`] (compiled and tested on Linux); this module turns
//! those values into `windows-service` calls one for one. It is compiled on Windows only, which
//! no machine of this project can build: keep it this small, free of `unsafe`, and read it line
//! by line on every change (`deploy/README.md`).

use std::ffi::OsString;
use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod, ServiceInfo,
    ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult, ServiceStatusHandle};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use super::windows_plan::{
    Control, ControlAction, Phase, ReportedExit, ReportedState, SERVICE_NAME, ServiceBody, StartMode,
    WindowsPlan, on_control, report,
};

/// Registers the service of `plan`, sets its description, recovery actions and delayed start,
/// creates its data directory and grants the account modify rights on it.
pub fn install(plan: &WindowsPlan) -> Result<(), String> {
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .map_err(|e| format!("cannot open the service control manager (run as Administrator): {e}"))?;
    let info = ServiceInfo {
        name: OsString::from(&plan.name),
        display_name: OsString::from(&plan.display_name),
        service_type: ServiceType::OWN_PROCESS,
        start_type: match plan.start {
            StartMode::AutoDelayed => ServiceStartType::AutoStart,
            StartMode::Manual => ServiceStartType::OnDemand,
        },
        error_control: ServiceErrorControl::Normal,
        executable_path: plan.executable.clone().into(),
        launch_arguments: plan.arguments.iter().map(OsString::from).collect(),
        dependencies: vec![],
        account_name: Some(OsString::from(&plan.account)),
        account_password: None,
    };
    let access = ServiceAccess::CHANGE_CONFIG | ServiceAccess::START;
    let service =
        manager.create_service(&info, access).map_err(|e| format!("cannot create the service: {e}"))?;
    service.set_description(&plan.description).map_err(|e| format!("cannot set the description: {e}"))?;
    if plan.start == StartMode::AutoDelayed {
        service.set_delayed_auto_start(true).map_err(|e| format!("cannot set the delayed start: {e}"))?;
    }
    let actions = plan
        .recovery
        .restart_after
        .iter()
        .map(|delay| ServiceAction { action_type: ServiceActionType::Restart, delay: *delay })
        .collect();
    service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(plan.recovery.reset_after),
            reboot_msg: None,
            command: None,
            actions: Some(actions),
        })
        .map_err(|e| format!("cannot set the recovery actions: {e}"))?;
    service
        .set_failure_actions_on_non_crash_failures(plan.recovery.on_non_crash_failures)
        .map_err(|e| format!("cannot set the recovery on non-zero exits: {e}"))?;
    std::fs::create_dir_all(&plan.data_dir).map_err(|e| format!("cannot create {}: {e}", plan.data_dir))?;
    let (program, args) = plan.grant.split_first().ok_or("the grant command is empty")?;
    let status = std::process::Command::new(program)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !status.success() {
        return Err(format!("{program} failed ({status}) granting {} to {}", plan.data_dir, plan.account));
    }
    Ok(())
}

/// Stops (when running) and deletes the service.
pub fn uninstall() -> Result<(), String> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| format!("cannot open the service control manager (run as Administrator): {e}"))?;
    let access = ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE;
    let service = manager
        .open_service(SERVICE_NAME, access)
        .map_err(|e| format!("the service is not installed: {e}"))?;
    let state = service.query_status().map_err(|e| e.to_string())?.current_state;
    if state != ServiceState::Stopped {
        service.stop().map_err(|e| format!("cannot stop the service: {e}"))?;
    }
    service.delete().map_err(|e| format!("cannot delete the service: {e}"))
}

/// The service's state, as the service control manager reports it.
pub fn status() -> Result<String, String> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| format!("cannot open the service control manager: {e}"))?;
    let service = manager
        .open_service(SERVICE_NAME, ServiceAccess::QUERY_STATUS)
        .map_err(|e| format!("the service is not installed or not readable: {e}"))?;
    let status = service.query_status().map_err(|e| e.to_string())?;
    Ok(format!("{:?}", status.current_state))
}

static BODY: OnceLock<ServiceBody> = OnceLock::new();
static EXIT: OnceLock<i32> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Hands the process to the service control manager, which calls `body` on a service thread;
/// returns the body's exit code once the service stopped.
pub fn run_as_service(body: ServiceBody) -> windows_service::Result<i32> {
    let _ = BODY.set(body);
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)?;
    Ok(EXIT.get().copied().unwrap_or(1))
}

fn set(handle: &ServiceStatusHandle, phase: Phase) {
    let r = report(phase);
    let status = ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: match r.state {
            ReportedState::StartPending => ServiceState::StartPending,
            ReportedState::Running => ServiceState::Running,
            ReportedState::StopPending => ServiceState::StopPending,
            ReportedState::Stopped => ServiceState::Stopped,
        },
        controls_accepted: if r.accepts_stop {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: match r.exit {
            ReportedExit::Ok => ServiceExitCode::NO_ERROR,
            ReportedExit::ServiceSpecific(code) => ServiceExitCode::ServiceSpecific(code),
        },
        checkpoint: 0,
        wait_hint: r.wait_hint,
        process_id: None,
    };
    if let Err(e) = handle.set_service_status(status) {
        tracing::warn!(error = %e, ?phase, "cannot report the service status");
    }
}

fn service_main(_arguments: Vec<OsString>) {
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let status_handle: Arc<OnceLock<ServiceStatusHandle>> = Arc::default();
    let in_handler = status_handle.clone();
    let handler = move |event: ServiceControl| {
        let control = match event {
            ServiceControl::Stop => Control::Stop,
            ServiceControl::Shutdown => Control::Shutdown,
            ServiceControl::Interrogate => Control::Interrogate,
            _ => Control::Other,
        };
        match on_control(control) {
            ControlAction::Stop => {
                if let Some(h) = in_handler.get() {
                    set(h, Phase::Stopping);
                }
                stop.cancel();
                ServiceControlHandlerResult::NoError
            }
            ControlAction::Acknowledge => ServiceControlHandlerResult::NoError,
            ControlAction::Refuse => ServiceControlHandlerResult::NotImplemented,
        }
    };
    let Ok(handle) = service_control_handler::register(SERVICE_NAME, handler) else {
        let _ = EXIT.set(1);
        return;
    };
    let _ = status_handle.set(handle);
    set(&handle, Phase::Starting);
    set(&handle, Phase::Running);
    let code = BODY.get().map_or(1, |body| body(cancel));
    let _ = EXIT.set(code);
    set(&handle, Phase::Stopped(code));
}
