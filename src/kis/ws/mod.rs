//! The KIS real-time WebSocket: frame codec, notice decryption, errors and the feed task.

pub mod codec;
pub mod crypto;
pub mod error;
pub mod feed;

pub use error::KisWsError;
