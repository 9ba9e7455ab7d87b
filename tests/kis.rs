//! Integration suites of the KIS adapter (`KisBroker`) against `aegis sim` over real sockets,
//! with the simulator's faults switched on (issue #4, "Done when").
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "kis/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "kis/flow.rs"]
mod flow;
#[path = "kis/rate.rs"]
mod rate;
#[path = "kis/reconnect.rs"]
mod reconnect;
#[path = "kis/tokens.rs"]
mod tokens;
