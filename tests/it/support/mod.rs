//! What the suites share (see the crate documentation). Each suite uses some of it, so an item
//! unused by every suite is a candidate for removal, not a warning to silence per item.

pub mod bin;
pub mod db;
pub mod fakes;
pub mod sim;
pub mod wait;
pub mod ws;
