//! US stocks as the KIS overseas endpoints see them: the exchange (with its trading and its
//! quotation code), the ticker, the US order types and the typed requests and answers of the
//! overseas REST adapter. Prices are USD decimals (not whole KRW), quantities whole shares.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{DomainError, Side};

/// A US exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UsExchange {
    /// Nasdaq.
    Nasdaq,
    /// New York Stock Exchange.
    Nyse,
    /// NYSE American (Amex).
    Amex,
}

impl UsExchange {
    /// Every US exchange.
    pub const ALL: [Self; 3] = [Self::Nasdaq, Self::Nyse, Self::Amex];

    /// The trading/account code (`OVRS_EXCG_CD`): `NASD`, `NYSE`, `AMEX`.
    pub const fn order_code(self) -> &'static str {
        match self {
            Self::Nasdaq => "NASD",
            Self::Nyse => "NYSE",
            Self::Amex => "AMEX",
        }
    }

    /// The quotation code (`EXCD`, and the WebSocket tr_key's market): `NAS`, `NYS`, `AMS`.
    pub const fn quote_code(self) -> &'static str {
        match self {
            Self::Nasdaq => "NAS",
            Self::Nyse => "NYS",
            Self::Amex => "AMS",
        }
    }

    /// Parses a trading code (`NASD`…) or a quotation code (`NAS`…, and the day-session `BAQ`…).
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] for any other text.
    pub fn parse(code: &str) -> Result<Self, DomainError> {
        match code.trim() {
            "NASD" | "NAS" | "BAQ" => Ok(Self::Nasdaq),
            "NYSE" | "NYS" | "BAY" => Ok(Self::Nyse),
            "AMEX" | "AMS" | "BAA" => Ok(Self::Amex),
            other => Err(DomainError::InvalidValue { kind: "US exchange", value: other.to_owned() }),
        }
    }
}

impl fmt::Display for UsExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.order_code())
    }
}

/// A US ticker: 1 to 12 characters of `A-Z`, `0-9`, `.`, `/` and `-`, starting with a letter or
/// digit (`AAPL`, `BRK.B`, `BF/B`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticker(String);

impl Ticker {
    /// Validates a ticker.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] for anything else.
    pub fn new(code: impl AsRef<str>) -> Result<Self, DomainError> {
        let code = code.as_ref().trim();
        let ok = (1..=12).contains(&code.len())
            && code.as_bytes()[0].is_ascii_alphanumeric()
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'.' | b'/' | b'-'));
        if ok {
            Ok(Self(code.to_owned()))
        } else {
            Err(DomainError::InvalidValue { kind: "US ticker", value: code.to_owned() })
        }
    }

    /// The ticker text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The realtime tr_key of this ticker on `exchange` (`DNASAAPL`: the standard feed's `D`,
    /// the quotation code, the ticker).
    pub fn realtime_key(&self, exchange: UsExchange) -> String {
        format!("D{}{}", exchange.quote_code(), self.0)
    }
}

impl fmt::Display for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A US order type (`ORD_DVSN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsOrderType {
    /// `00` limit.
    Limit,
    /// `31` market on open (sell only).
    MarketOnOpen,
    /// `32` limit on open.
    LimitOnOpen,
    /// `33` market on close (sell only).
    MarketOnClose,
    /// `34` limit on close.
    LimitOnClose,
}

impl UsOrderType {
    /// The `ORD_DVSN` code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Limit => "00",
            Self::MarketOnOpen => "31",
            Self::LimitOnOpen => "32",
            Self::MarketOnClose => "33",
            Self::LimitOnClose => "34",
        }
    }

    /// Whether the order carries a price (market-type orders send `"0"`).
    pub const fn has_price(self) -> bool {
        !matches!(self, Self::MarketOnOpen | Self::MarketOnClose)
    }

    /// Whether KIS accepts this type for `side` (market-on-open/close are sell only).
    pub const fn allowed_for(self, side: Side) -> bool {
        self.has_price() || matches!(side, Side::Sell)
    }
}

/// A US order to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsOrderRequest {
    /// Exchange.
    pub exchange: UsExchange,
    /// Ticker.
    pub ticker: Ticker,
    /// Buy or sell.
    pub side: Side,
    /// Order type.
    pub order_type: UsOrderType,
    /// Whole shares.
    pub qty: Decimal,
    /// USD per share (ignored for market-type orders).
    pub price: Decimal,
}

/// Modify (new price and quantity) or cancel of a resting US order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsAmendRequest {
    /// Exchange.
    pub exchange: UsExchange,
    /// Ticker.
    pub ticker: Ticker,
    /// The order number (`ODNO` of the order's acknowledgement).
    pub broker_order_no: String,
    /// Whole shares (a cancel sends the remaining quantity).
    pub qty: Decimal,
    /// New USD price for a modify; `None` cancels.
    pub new_price: Option<Decimal>,
}

/// KIS accepted a US order for transmission (not a fill).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsOrderAck {
    /// Order number (`ODNO`).
    pub broker_order_no: String,
    /// Order organisation number (`KRX_FWDG_ORD_ORGNO`).
    pub branch: String,
    /// Order time as KIS reported it (`ORD_TMD`, `HHMMSS`; its time zone is unconfirmed).
    pub order_time: String,
}

/// A US quote (`price`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsQuote {
    /// Realtime key (`rsym`).
    pub realtime_key: String,
    /// Decimals of this symbol's prices (`zdiv`).
    pub decimals: u32,
    /// Previous close.
    pub base: Decimal,
    /// Last price.
    pub last: Decimal,
    /// Change from the previous close, signed.
    pub diff: Decimal,
    /// Change in percent, signed.
    pub rate: Decimal,
    /// Volume today.
    pub volume: Decimal,
}

/// A US order as the broker lists it (`inquire-nccs`, `inquire-ccnl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsBrokerOrder {
    /// Order date (exchange-local).
    pub order_date: NaiveDate,
    /// Order number.
    pub broker_order_no: String,
    /// Original order number (of a modify or cancel), else empty.
    pub original_order_no: String,
    /// Ticker.
    pub ticker: Ticker,
    /// Buy or sell.
    pub side: Side,
    /// Ordered shares.
    pub qty: Decimal,
    /// Filled shares.
    pub filled_qty: Decimal,
    /// Unfilled shares.
    pub unfilled_qty: Decimal,
    /// Order price (USD).
    pub price: Decimal,
    /// Average fill price (USD; zero before a fill).
    pub avg_fill_price: Decimal,
    /// Exchange.
    pub exchange: UsExchange,
    /// Status text (`prcs_stat_name`) or rejection reason, when given.
    pub status: String,
    /// True when KIS refused the order (a rejection reason, or the status `거부`).
    pub rejected: bool,
    /// When KIS received the order (`dmst_ord_dt` + `thco_ord_tmd`, KST), when the row gives it.
    pub received_at: Option<DateTime<Utc>>,
}

/// One US holding (`inquire-balance` `output1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsHolding {
    /// Ticker.
    pub ticker: Ticker,
    /// Exchange.
    pub exchange: UsExchange,
    /// Shares held.
    pub qty: Decimal,
    /// Shares that may be sold now.
    pub sellable_qty: Decimal,
    /// Average cost (USD).
    pub avg_price: Decimal,
    /// Price (USD).
    pub price: Decimal,
    /// Unrealised P&L (USD).
    pub unrealized_pnl: Decimal,
}

/// What may be bought (`inquire-psamount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsBuyingPower {
    /// Orderable USD cash.
    pub cash: Decimal,
    /// Orderable shares at the asked price.
    pub qty: Decimal,
    /// USD/KRW rate.
    pub fx_rate: Decimal,
}

/// The USD account summary (`inquire-present-balance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsAccount {
    /// USD deposit (`frcr_dncl_amt_2` of the USD row of `output2`), if the account holds USD.
    pub usd_deposit: Option<Decimal>,
    /// USD withdrawable (`frcr_drwg_psbl_amt_1`).
    pub usd_withdrawable: Option<Decimal>,
    /// Total assets (`tot_asst_amt` of `output3`), in the currency the inquiry asked for: the
    /// adapter asks in foreign currency (`WCRC_FRCR_DVSN_CD` 02), so USD for a US-only account
    /// (which currency `output3` uses is unconfirmed; the simulator's `--us-present-output3-krw`
    /// plays the other reading).
    pub total_assets: Decimal,
    /// When the snapshot was taken.
    pub at: DateTime<Utc>,
}

/// The session a US trade print belongs to (HDFSCNT0 `MTYP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsTradeSession {
    /// `1` regular session.
    Regular,
    /// `2` pre-market.
    PreMarket,
    /// `3` after-market.
    AfterMarket,
    /// Any other code.
    Unknown,
}

/// A US trade print (HDFSCNT0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsTrade {
    /// Exchange (from the realtime key's market).
    pub exchange: UsExchange,
    /// Ticker.
    pub ticker: Ticker,
    /// The exchange-local date (`XYMD`): the US trade date.
    pub local_date: NaiveDate,
    /// When, from the KST stamp (`KYMD`, `KHMS`).
    pub at: DateTime<Utc>,
    /// Last price (USD).
    pub price: Decimal,
    /// This print's shares (`EVOL`).
    pub qty: Decimal,
    /// Open, high, low.
    pub open: Decimal,
    /// High.
    pub high: Decimal,
    /// Low.
    pub low: Decimal,
    /// Change from the previous close, signed by `SIGN` (4, 5 down).
    pub change: Decimal,
    /// Change in percent, signed like `change`.
    pub change_rate: Decimal,
    /// Best bid.
    pub best_bid: Decimal,
    /// Best ask.
    pub best_ask: Decimal,
    /// Cumulative volume.
    pub cum_volume: Decimal,
    /// Cumulative turnover (USD).
    pub cum_value: Decimal,
    /// Regular, pre- or after-market.
    pub session: UsTradeSession,
}

/// The best bid and ask of a US stock (HDFSASP0, level 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsBookTop {
    /// Exchange.
    pub exchange: UsExchange,
    /// Ticker.
    pub ticker: Ticker,
    /// When, from the KST stamp.
    pub at: DateTime<Utc>,
    /// Best bid (USD).
    pub bid: Decimal,
    /// Best ask (USD).
    pub ask: Decimal,
    /// Shares at the best bid.
    pub bid_qty: Decimal,
    /// Shares at the best ask.
    pub ask_qty: Decimal,
}

/// A US order book snapshot (`inquire-asking-price`): the best bid and ask with the book's
/// totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsBook {
    /// Level 1.
    pub top: UsBookTop,
    /// Shares bid in the whole book (`bvol`).
    pub total_bid_qty: Decimal,
    /// Shares offered in the whole book (`avol`).
    pub total_ask_qty: Decimal,
}

/// What an overseas execution notice (H0GSCNI0 / H0GSCNI9) reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsNoticeKind {
    /// A fill (`CNTG_YN` 2): `qty` and `price` are this fill's.
    Fill,
    /// Order received or confirmed.
    Accepted,
    /// A modify received.
    ModifyAccepted,
    /// A cancel received.
    CancelAccepted,
    /// Refused (`RFUS_YN` 1).
    Rejected,
}

/// An overseas execution notice of one of our orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsExecution {
    /// What happened.
    pub kind: UsNoticeKind,
    /// Order number.
    pub broker_order_no: String,
    /// Original order number (of a modify or cancel), if any.
    pub original_order_no: Option<String>,
    /// Ticker.
    pub ticker: Ticker,
    /// Buy or sell.
    pub side: Side,
    /// Fill shares (a fill) or order shares (a receipt).
    pub qty: Decimal,
    /// Fill price (a fill) or order price (a receipt), USD.
    pub price: Decimal,
    /// The order's shares (fills only; zero on a receipt, which leaves `ODER_QTY` blank).
    pub order_qty: Decimal,
    /// `STCK_CNTG_HOUR` as sent (its format and time zone are unconfirmed).
    pub time: String,
    /// Branch (`BRNC_NO`), empty when the notice leaves it blank.
    pub branch: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchanges_parse_from_both_code_families() {
        for e in UsExchange::ALL {
            assert_eq!(UsExchange::parse(e.order_code()).unwrap(), e);
            assert_eq!(UsExchange::parse(e.quote_code()).unwrap(), e);
        }
        assert_eq!(UsExchange::parse("BAQ").unwrap(), UsExchange::Nasdaq);
        assert!(UsExchange::parse("SEHK").is_err());
    }

    #[test]
    fn tickers_and_realtime_keys() {
        assert_eq!(Ticker::new("AAPL").unwrap().realtime_key(UsExchange::Nasdaq), "DNASAAPL");
        assert_eq!(Ticker::new("BRK.B").unwrap().realtime_key(UsExchange::Nyse), "DNYSBRK.B");
        for bad in ["", "aapl", ".A", "TOOLONGTICKER1", "A B", "005930\u{0}"] {
            assert!(Ticker::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn market_on_open_and_close_are_sell_only() {
        assert!(UsOrderType::Limit.allowed_for(Side::Buy));
        assert!(!UsOrderType::MarketOnOpen.allowed_for(Side::Buy));
        assert!(UsOrderType::MarketOnClose.allowed_for(Side::Sell));
        assert!(UsOrderType::LimitOnClose.allowed_for(Side::Buy));
        assert_eq!(UsOrderType::LimitOnOpen.code(), "32");
    }
}
