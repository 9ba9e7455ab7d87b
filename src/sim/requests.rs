//! Order requests as the REST layer parses them, and the KIS business rejections (`msg_cd` and
//! `msg1`) the matching engine answers with. Codes not confirmed by vendor material are marked.

use crate::domain::Side;

/// A business rejection: KIS `msg_cd` and `msg1` (HTTP 200, `rt_cd` as given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// Paper host outside its trading hours.
    #[error("paper market closed")]
    PaperClosed,
    /// Live host outside order hours (code UNCONFIRMED).
    #[error("market closed")]
    LiveClosed,
    /// Price above the upper limit.
    #[error("price above upper limit")]
    AboveUpper,
    /// Price below the lower limit (code UNCONFIRMED).
    #[error("price below lower limit")]
    BelowLower,
    /// Price off the tick grid (code UNCONFIRMED).
    #[error("price off tick grid")]
    OffTick,
    /// Not enough cash (code UNCONFIRMED).
    #[error("insufficient cash")]
    NoCash,
    /// Not enough sellable shares (code UNCONFIRMED).
    #[error("insufficient shares")]
    NoShares,
    /// Unknown instrument (code UNCONFIRMED).
    #[error("unknown symbol")]
    UnknownSymbol,
    /// ORD_DVSN code the simulator does not execute (code UNCONFIRMED).
    #[error("unsupported order type")]
    OrderType,
    /// Quantity missing, zero or malformed (code UNCONFIRMED).
    #[error("bad quantity")]
    BadQty,
    /// Venue not allowed (paper: KRX only) (code UNCONFIRMED).
    #[error("venue not allowed")]
    Venue,
    /// Original order not found (code UNCONFIRMED).
    #[error("original order not found")]
    NoOrder,
    /// Nothing left to modify or cancel (code UNCONFIRMED).
    #[error("nothing left to modify or cancel")]
    NothingLeft,
    /// Modify/cancel quantity above the remainder.
    #[error("modify/cancel quantity exceeds order quantity")]
    QtyExceeds,
}

impl Reject {
    /// Returns `(rt_cd, msg_cd, msg1)`.
    pub const fn wire(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::PaperClosed => ("1", "40580000", "모의투자 장종료 입니다."),
            Self::LiveClosed => ("7", "APBK0918", "장운영시간이 아닙니다."),
            Self::AboveUpper => ("7", "APBK0406", "주문가격이 상한가를 초과합니다."),
            Self::BelowLower => ("7", "APBK0407", "주문가격이 하한가 미만입니다."),
            Self::OffTick => ("7", "APBK0507", "주문단가가 호가단위에 맞지 않습니다."),
            Self::NoCash => ("7", "APBK0952", "주문가능금액을 초과 했습니다"),
            Self::NoShares => ("7", "APBK0400", "주문 가능한 수량을 초과하였습니다."),
            Self::UnknownSymbol => ("7", "APBK0656", "해당종목정보가 없습니다."),
            Self::OrderType => ("7", "APBK0536", "주문구분코드를 확인하여 주십시오."),
            Self::BadQty => ("7", "APBK0508", "주문수량을 확인하여 주십시오."),
            Self::Venue => ("7", "APBK1744", "모의투자는 KRX 주문만 가능합니다."),
            Self::NoOrder => ("7", "APBK0541", "원주문번호가 존재하지 않습니다."),
            Self::NothingLeft => ("7", "APBK0581", "정정취소 가능수량이 없습니다."),
            Self::QtyExceeds => ("7", "APBK1359", "정정취소수량이 주문수량보다 많습니다"),
        }
    }
}

/// A new cash order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// 10-digit account.
    pub account: String,
    /// Instrument code.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// ORD_DVSN.
    pub ord_dvsn: String,
    /// Quantity.
    pub qty: i64,
    /// Limit price (0 for market-type).
    pub price: i64,
    /// Venue (`KRX`, `NXT`, `SOR`).
    pub venue: String,
}

/// A modify or cancel request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amend {
    /// 10-digit account.
    pub account: String,
    /// Original order number.
    pub orig: u64,
    /// True for cancel, false for modify.
    pub cancel: bool,
    /// New ORD_DVSN (modify).
    pub ord_dvsn: String,
    /// Quantity (ignored with `all`).
    pub qty: i64,
    /// New price (modify).
    pub price: i64,
    /// Whole remainder.
    pub all: bool,
}
