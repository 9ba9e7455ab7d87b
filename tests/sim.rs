//! Integration suites of `aegis sim`, speaking raw HTTP (reqwest) and WebSocket
//! (tokio-tungstenite) to a simulator on port 0 with a frozen, hand-driven clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "sim/auth.rs"]
mod auth;
#[path = "sim/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "sim/day.rs"]
mod day;
#[path = "sim/faults.rs"]
mod faults;
#[path = "sim/inquiries.rs"]
mod inquiries;
#[path = "sim/orders.rs"]
mod orders;
#[path = "sim/realtime.rs"]
mod realtime;
#[path = "sim/ws.rs"]
mod ws;
