//! Signature stub of windows-service 0.8.1 (types and signatures copied from its source), to
//! type-check aegis's cfg(windows) module on Linux.
#![allow(dead_code, unused_variables)]

#[derive(Debug)]
pub enum Error {
    /// Every call of this stub fails: it exists to type-check aegis's Windows module, never to run.
    Stub,
    LaunchArgumentsNotSupported,
    ArgumentHasNulByte(&'static str),
    Winapi(std::io::Error),
}
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}
impl std::error::Error for Error {}
pub type Result<T> = std::result::Result<T, Error>;
#[macro_export]
macro_rules! define_windows_service {
    ($function_name:ident, $service_main_handler:ident) => {
        extern "system" fn $function_name(num_service_arguments: u32, service_arguments: *mut *mut u16) {
            let arguments =
                $crate::service_dispatcher::parse_service_arguments(num_service_arguments, service_arguments);
            $service_main_handler(arguments);
        }
    };
}
pub mod service_dispatcher {
    use std::ffi::{OsStr, OsString};
    pub fn start(
        service_name: impl AsRef<OsStr>,
        service_main: extern "system" fn(u32, *mut *mut u16),
    ) -> crate::Result<()> {
        Err(crate::Error::Stub)
    }
    pub fn parse_service_arguments(argc: u32, argv: *mut *mut u16) -> Vec<OsString> {
        Vec::new()
    }
}
pub mod service {
    use std::ffi::{OsStr, OsString};
    use std::path::PathBuf;
    use std::time::Duration;
    bitflags::bitflags! {
        #[derive(PartialEq, Eq, Debug, Copy, Clone, Hash)]
        pub struct ServiceType: u32 { const OWN_PROCESS = 0x10; }
        #[derive(PartialEq, Eq, Debug, Copy, Clone, Hash)]
        pub struct ServiceAccess: u32 { const QUERY_STATUS = 4; const START = 0x10; const STOP = 0x20; const DELETE = 0x10000; const CHANGE_CONFIG = 2; }
        #[derive(PartialEq, Eq, Debug, Copy, Clone, Hash)]
        pub struct ServiceControlAccept: u32 { const STOP = 1; const SHUTDOWN = 4; }
    }
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum ServiceStartType {
        AutoStart,
        OnDemand,
        Disabled,
    }
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum ServiceErrorControl {
        Critical,
        Ignore,
        Normal,
        Severe,
    }
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub enum ServiceDependency {
        Service(OsString),
        Group(OsString),
    }
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum ServiceActionType {
        None,
        Reboot,
        Restart,
        RunCommand,
    }
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct ServiceAction {
        pub action_type: ServiceActionType,
        pub delay: Duration,
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ServiceFailureResetPeriod {
        Never,
        After(Duration),
    }
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct ServiceFailureActions {
        pub reset_period: ServiceFailureResetPeriod,
        pub reboot_msg: Option<OsString>,
        pub command: Option<OsString>,
        pub actions: Option<Vec<ServiceAction>>,
    }
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct ServiceInfo {
        pub name: OsString,
        pub display_name: OsString,
        pub service_type: ServiceType,
        pub start_type: ServiceStartType,
        pub error_control: ServiceErrorControl,
        pub executable_path: PathBuf,
        pub launch_arguments: Vec<OsString>,
        pub dependencies: Vec<ServiceDependency>,
        pub account_name: Option<OsString>,
        pub account_password: Option<OsString>,
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ServiceControl {
        Continue,
        Interrogate,
        NetBindAdd,
        Pause,
        Preshutdown,
        Shutdown,
        Stop,
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ServiceState {
        Stopped,
        StartPending,
        StopPending,
        Running,
        ContinuePending,
        PausePending,
        Paused,
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ServiceExitCode {
        Win32(u32),
        ServiceSpecific(u32),
    }
    impl ServiceExitCode {
        pub const NO_ERROR: Self = ServiceExitCode::Win32(0);
    }
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct ServiceStatus {
        pub service_type: ServiceType,
        pub current_state: ServiceState,
        pub controls_accepted: ServiceControlAccept,
        pub exit_code: ServiceExitCode,
        pub checkpoint: u32,
        pub wait_hint: Duration,
        pub process_id: Option<u32>,
    }
    pub struct Service;
    impl Service {
        pub fn stop(&self) -> crate::Result<ServiceStatus> {
            Err(crate::Error::Stub)
        }
        pub fn query_status(&self) -> crate::Result<ServiceStatus> {
            Err(crate::Error::Stub)
        }
        pub fn delete(&self) -> crate::Result<()> {
            Err(crate::Error::Stub)
        }
        pub fn set_failure_actions_on_non_crash_failures(&self, enabled: bool) -> crate::Result<()> {
            Err(crate::Error::Stub)
        }
        pub fn update_failure_actions(&self, update: ServiceFailureActions) -> crate::Result<()> {
            Err(crate::Error::Stub)
        }
        pub fn set_description(&self, description: impl AsRef<OsStr>) -> crate::Result<()> {
            Err(crate::Error::Stub)
        }
        pub fn set_delayed_auto_start(&self, delayed: bool) -> crate::Result<()> {
            Err(crate::Error::Stub)
        }
    }
}
pub mod service_manager {
    use crate::service::{Service, ServiceAccess, ServiceInfo};
    use std::ffi::OsStr;
    bitflags::bitflags! {
        #[derive(PartialEq, Eq, Debug, Copy, Clone, Hash)]
        pub struct ServiceManagerAccess: u32 { const CONNECT = 1; const CREATE_SERVICE = 2; }
    }
    pub struct ServiceManager;
    impl ServiceManager {
        pub fn local_computer(
            database: Option<impl AsRef<OsStr>>,
            request_access: ServiceManagerAccess,
        ) -> crate::Result<Self> {
            Err(crate::Error::Stub)
        }
        pub fn create_service(
            &self,
            service_info: &ServiceInfo,
            service_access: ServiceAccess,
        ) -> crate::Result<Service> {
            Err(crate::Error::Stub)
        }
        pub fn open_service(
            &self,
            name: impl AsRef<OsStr>,
            request_access: ServiceAccess,
        ) -> crate::Result<Service> {
            Err(crate::Error::Stub)
        }
    }
}
pub mod service_control_handler {
    use crate::service::{ServiceControl, ServiceStatus};
    use std::ffi::OsStr;
    #[derive(Debug, Clone, Copy)]
    pub struct ServiceStatusHandle(*mut core::ffi::c_void);
    unsafe impl Send for ServiceStatusHandle {}
    unsafe impl Sync for ServiceStatusHandle {}
    impl ServiceStatusHandle {
        pub fn set_service_status(&self, service_status: ServiceStatus) -> crate::Result<()> {
            Err(crate::Error::Stub)
        }
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ServiceControlHandlerResult {
        NoError,
        NotImplemented,
        Other(u32),
    }
    pub fn register<F>(
        service_name: impl AsRef<OsStr>,
        event_handler: F,
    ) -> crate::Result<ServiceStatusHandle>
    where
        F: FnMut(ServiceControl) -> ServiceControlHandlerResult + 'static + Send,
    {
        Err(crate::Error::Stub)
    }
}
