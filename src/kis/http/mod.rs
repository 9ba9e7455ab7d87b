//! The KIS REST client: raw calls named after the endpoints, wire models, errors and TR ids.

pub mod client;
pub mod error;
pub mod models;
pub mod raw;
pub mod tr;

pub use error::KisHttpError;
