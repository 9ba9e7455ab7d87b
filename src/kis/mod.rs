//! The KIS adapter: REST client, real-time feed, token manager, rate limiter, retries and breakers.
//! Only this module knows KIS field names.

pub mod auth;
pub mod breaker;
pub mod broker;
mod broker_us;
pub mod config;
pub mod http;
pub mod limiter;
pub mod retry;
pub mod ws;
pub use broker::KisBroker;
