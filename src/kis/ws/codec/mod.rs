//! Decoder of KIS real-time frames: `enc|TR|CNT|payload` data frames with several `^`-separated
//! records (parsed from borrowed slices, no allocation per field) and JSON control frames
//! (subscribe acks with the notice key/iv, PINGPONG). Malformed input yields [`KisWsError`].
//!
//! Where things are:
//! - [`frame`]: the header split and the control frames ([`parse_frame`]).
//! - [`decoder`]: the [`Decoder`], which keeps notice keys and drift reports and hands each
//!   frame's records out in one owned vector.
//! - [`layout`]: the named field positions of each TR (`trade::STCK_PRPR`, `book::ASKP`, …).
//! - `trade`, `book`, `notice`: one record of each channel into its event, by named field.
//! - `market`: the sequential reader the trade and book records are parsed with.
//! - `separators`, `run`, `digits`: the hot path: SIMD separator masks, the field walker, the
//!   run of numbers read two per SIMD register, and eight-digit (SWAR) conversion.
//! - [`strict`]: the strict parsers every fast path falls back to ([`parse_decimal`], …).

mod book;
mod decoder;
mod digits;
pub mod frame;
mod kst;
pub mod layout;
mod market;
mod notice;
pub mod overseas;
mod run;
mod separators;
pub mod strict;
mod trade;

pub use decoder::{Decoded, Decoder, LayoutDrift, Records};
pub use frame::{Ack, DataFrame, Frame, parse_frame};
pub use notice::ExecutionRecord;
pub use strict::{parse_decimal, parse_hhmmss, parse_yyyymmdd};

/// Largest frame the decoder accepts (bytes).
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// Field count of a trade record (H0STCNT0).
pub const TRADE_FIELDS: usize = layout::trade::WIDTH;
/// Field count of a book record (H0STASP0).
pub const BOOK_FIELDS: usize = layout::book::WIDTH;
/// Field count of an execution notice (H0STCNI0 / H0STCNI9).
pub const NOTICE_FIELDS: usize = layout::notice::WIDTH;
/// Field count of the legacy execution-notice layout.
pub const NOTICE_FIELDS_LEGACY: usize = layout::notice_legacy::WIDTH;
/// Most fields a record may have; wider records are rejected as oversized.
const MAX_RECORD_FIELDS: usize = 128;

/// The channels the codec decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Trade prints.
    Trades,
    /// 10-level book.
    Book,
    /// Own-order notices (encrypted).
    Notices,
}

impl Channel {
    /// Returns the channel of a TR id.
    pub fn of(tr_id: &str) -> Option<Self> {
        match tr_id {
            "H0STCNT0" | "H0UNCNT0" | "H0NXCNT0" => Some(Self::Trades),
            "H0STASP0" => Some(Self::Book),
            "H0STCNI0" | "H0STCNI9" => Some(Self::Notices),
            _ => None,
        }
    }

    const fn width(self) -> usize {
        match self {
            Self::Trades => TRADE_FIELDS,
            Self::Book => BOOK_FIELDS,
            Self::Notices => NOTICE_FIELDS,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests;
