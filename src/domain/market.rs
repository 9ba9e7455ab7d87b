//! Typed market data, execution events and broker-side order/fill/account snapshots.
//!
//! These are the types the broker port speaks. Money and quantities are [`Decimal`]; instants are
//! stored as UTC (`DateTime<Utc>`) and shown in KST through [`to_kst`]. No KIS field names appear here.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::types::{Exchange, OrderType, Side, Symbol};

/// Number of price levels in a KRX order book snapshot.
pub const BOOK_DEPTH: usize = 10;

/// Korea Standard Time offset in seconds (UTC+9, no daylight saving).
pub(crate) const KST_OFFSET_SECS: i32 = 9 * 3600;

/// Returns the KST offset (UTC+9).
pub fn kst() -> FixedOffset {
    FixedOffset::east_opt(KST_OFFSET_SECS).unwrap_or_else(|| Utc.fix())
}

/// Converts a UTC instant to KST for display.
pub fn to_kst(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&kst())
}

/// Converts a KST wall-clock date and time to a UTC instant.
pub fn kst_to_utc(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = NaiveDateTime::new(date, time);
    local.checked_sub_signed(TimeDelta::seconds(i64::from(KST_OFFSET_SECS))).unwrap_or(local).and_utc()
}

/// One price level: price and resting quantity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookLevel {
    /// Price in KRW (zero when the level is empty).
    pub price: Decimal,
    /// Resting quantity in shares.
    pub qty: Decimal,
}

/// The trading phase a market-data record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SessionPhase {
    /// Continuous regular-session trading.
    Continuous,
    /// Opening call auction (expected prices).
    PreOpenAuction,
    /// Closing call auction (expected prices).
    ClosingAuction,
    /// Single-price auction after a volatility interruption.
    ViAuction,
    /// After-hours single-price session (expected prices).
    AfterHoursAuction,
    /// A phase code the adapter does not know.
    Unknown,
}

/// A real-time 10-level order book update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteEvent {
    /// Instrument.
    pub symbol: Symbol,
    /// Exchange timestamp.
    pub at: DateTime<Utc>,
    /// Phase the book belongs to.
    pub phase: SessionPhase,
    /// Ask levels, best (lowest) first.
    pub asks: [BookLevel; BOOK_DEPTH],
    /// Bid levels, best (highest) first.
    pub bids: [BookLevel; BOOK_DEPTH],
    /// Total resting ask quantity.
    pub total_ask_qty: Decimal,
    /// Total resting bid quantity.
    pub total_bid_qty: Decimal,
    /// Expected match price during call auctions (zero outside them).
    pub expected_price: Decimal,
    /// Expected match quantity during call auctions.
    pub expected_qty: Decimal,
    /// Accumulated volume of the day.
    pub cum_volume: Decimal,
}

/// A real-time trade print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeTick {
    /// Instrument.
    pub symbol: Symbol,
    /// Exchange timestamp.
    pub at: DateTime<Utc>,
    /// Trade price.
    pub price: Decimal,
    /// Quantity of this trade.
    pub qty: Decimal,
    /// Change against the previous close (signed).
    pub change: Decimal,
    /// Change rate in percent (signed).
    pub change_rate: Decimal,
    /// Day open.
    pub open: Decimal,
    /// Day high.
    pub high: Decimal,
    /// Day low.
    pub low: Decimal,
    /// Best ask at the time of the trade.
    pub best_ask: Decimal,
    /// Best bid at the time of the trade.
    pub best_bid: Decimal,
    /// Accumulated volume of the day.
    pub cum_volume: Decimal,
    /// Accumulated traded value of the day, in the instrument's currency (KRW, or USD for a US
    /// stock).
    pub cum_value: Decimal,
    /// Aggressor side (`None` for auction matches).
    pub aggressor: Option<Side>,
    /// Phase the trade belongs to.
    pub phase: SessionPhase,
    /// True when trading in the instrument is halted.
    pub halted: bool,
}

impl TradeTick {
    /// A continuous-session print of `qty` at `price` with nothing else known: the day's open,
    /// high and low and the best quotes are the price; changes and cumulative totals are zero.
    pub fn print(symbol: Symbol, at: DateTime<Utc>, price: Decimal, qty: Decimal) -> Self {
        Self {
            symbol,
            at,
            price,
            qty,
            change: Decimal::ZERO,
            change_rate: Decimal::ZERO,
            open: price,
            high: price,
            low: price,
            best_ask: price,
            best_bid: price,
            cum_volume: Decimal::ZERO,
            cum_value: Decimal::ZERO,
            aggressor: None,
            phase: SessionPhase::Continuous,
            halted: false,
        }
    }
}

/// What an order notice acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NoticeKind {
    /// A new order was accepted.
    Accepted,
    /// A modify request was accepted.
    ModifyAccepted,
    /// A cancel request was accepted.
    CancelAccepted,
    /// The order (or its modify/cancel) was rejected.
    Rejected,
    /// The unfilled remainder of an IOC/FOK order was cancelled by the exchange.
    RemainderCanceled,
}

/// A broker receipt for one of our orders (not a fill).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderNotice {
    /// What happened.
    pub kind: NoticeKind,
    /// Trading date of the session the notice arrived in (KST for KRX, the New York date for a
    /// US order): the notice itself carries no date, and an order number identifies an order only
    /// within its trading date.
    pub trade_date: NaiveDate,
    /// Broker order number of the order (or of the modify/cancel order).
    pub broker_order_no: String,
    /// Broker branch number (needed for modify/cancel).
    pub branch: String,
    /// Original order number for modify/cancel receipts.
    pub original_order_no: Option<String>,
    /// Instrument.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Order quantity.
    pub qty: Decimal,
    /// Order price (zero for market orders).
    pub price: Decimal,
    /// Broker timestamp.
    pub at: DateTime<Utc>,
}

/// One fill of one of our orders, as its real-time notice reports it (`CNTG_YN=2`): a single
/// execution, not a running total. It carries no identity of its own: the order's
/// [`crate::domain::fill::FillLedger`] identifies it by execution time, quantity and price
/// ([`crate::domain::fill::FillKey::Notice`]) and converges it with REST snapshots.
///
/// Dates and times are KST as the notice gives them; a notice carries only a time, so its trading
/// date is the KST date of the session it arrived in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillNotice {
    /// Trading date of the session the notice arrived in (KST for KRX, the New York date for a
    /// US order): an order number identifies an order only within its trading date.
    pub trade_date: NaiveDate,
    /// Execution time (KST, `STCK_CNTG_HOUR`).
    pub exec_time: NaiveTime,
    /// Broker order number.
    pub broker_order_no: String,
    /// Broker branch number.
    pub branch: String,
    /// Instrument.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Quantity of this fill.
    pub qty: Decimal,
    /// Price of this fill.
    pub price: Decimal,
}

/// Today's order as the broker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerOrder {
    /// Broker order number.
    pub broker_order_no: String,
    /// Broker branch number.
    pub branch: String,
    /// Original order number for modify/cancel orders.
    pub original_order_no: Option<String>,
    /// Instrument.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Order type when it maps to one the service sends.
    pub order_type: Option<OrderType>,
    /// Order quantity.
    pub qty: Decimal,
    /// Order price (zero for market orders).
    pub price: Decimal,
    /// Filled quantity.
    pub filled_qty: Decimal,
    /// Average fill price (zero when nothing filled).
    pub avg_fill_price: Decimal,
    /// Total filled amount in KRW.
    pub filled_amount: Decimal,
    /// Remaining (open) quantity.
    pub remaining_qty: Decimal,
    /// True when the order was cancelled.
    pub canceled: bool,
    /// True when (part of) the order was rejected.
    pub rejected: bool,
    /// Order time.
    pub ordered_at: DateTime<Utc>,
}

/// Cumulative fills of one order as the broker reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerFill {
    /// Broker order number.
    pub broker_order_no: String,
    /// Broker branch number.
    pub branch: String,
    /// Instrument.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Cumulative filled quantity.
    pub filled_qty: Decimal,
    /// Average fill price.
    pub avg_price: Decimal,
    /// Total filled amount in KRW.
    pub amount: Decimal,
}

impl BrokerOrder {
    /// Returns the trading date the order belongs to — the KST date for a KRX order, the New York
    /// date for a US one: its order number identifies it only within that date.
    pub fn trade_date(&self) -> NaiveDate {
        super::sessions::trade_date_in(self.symbol.region(), self.ordered_at)
    }
}

impl BrokerFill {
    /// Returns the fill summary of an order, or `None` when nothing is filled.
    pub fn from_order(order: &BrokerOrder) -> Option<Self> {
        (order.filled_qty > Decimal::ZERO).then(|| Self {
            broker_order_no: order.broker_order_no.clone(),
            branch: order.branch.clone(),
            symbol: order.symbol.clone(),
            side: order.side,
            filled_qty: order.filled_qty,
            avg_price: order.avg_fill_price,
            amount: order.filled_amount,
        })
    }
}

/// One position as the broker reports it in the account balance (its line of an
/// [`AccountSnapshot`]); our own opening position is [`crate::domain::position::Holding`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountHolding {
    /// Instrument.
    pub symbol: Symbol,
    /// Instrument name.
    pub name: String,
    /// Held quantity (zero for positions sold out today, kept until settlement).
    pub qty: Decimal,
    /// Quantity that can be sold now.
    pub sellable_qty: Decimal,
    /// Average purchase price.
    pub avg_price: Decimal,
    /// Purchase amount.
    pub purchase_amount: Decimal,
    /// Current price.
    pub current_price: Decimal,
    /// Evaluation amount.
    pub eval_amount: Decimal,
    /// Unrealized profit or loss.
    pub unrealized_pnl: Decimal,
}

/// Orderable cash, holdings and totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSnapshot {
    /// Cash available for new buy orders.
    pub orderable_cash: Decimal,
    /// Deposit (D+0).
    pub cash_d0: Decimal,
    /// Settled deposit at D+2.
    pub cash_d2: Decimal,
    /// Positions.
    pub holdings: Vec<AccountHolding>,
    /// Total purchase amount of the positions.
    pub purchase_total: Decimal,
    /// Total evaluation of the positions.
    pub eval_total: Decimal,
    /// Total unrealized profit or loss.
    pub unrealized_pnl_total: Decimal,
    /// Total evaluation of the account (cash and positions).
    pub account_total: Decimal,
    /// Net asset value.
    pub net_asset: Decimal,
}

/// A current-price snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Instrument.
    pub symbol: Symbol,
    /// The venue quoted (and with it the currency of every price here).
    pub exchange: Exchange,
    /// Last price.
    pub price: Decimal,
    /// Change against the previous close.
    pub change: Decimal,
    /// Change rate in percent.
    pub change_rate: Decimal,
    /// Day open.
    pub open: Decimal,
    /// Day high.
    pub high: Decimal,
    /// Day low.
    pub low: Decimal,
    /// Accumulated volume.
    pub volume: Decimal,
    /// Upper price limit of the day.
    pub upper_limit: Decimal,
    /// Lower price limit of the day.
    pub lower_limit: Decimal,
    /// Base price (normally the previous close).
    pub base_price: Decimal,
    /// Tick size at the current price.
    pub tick_size: Decimal,
    /// True when trading is halted.
    pub halted: bool,
}

/// An order book snapshot fetched on request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBook {
    /// Instrument.
    pub symbol: Symbol,
    /// Snapshot time.
    pub at: DateTime<Utc>,
    /// Ask levels, best first.
    pub asks: [BookLevel; BOOK_DEPTH],
    /// Bid levels, best first.
    pub bids: [BookLevel; BOOK_DEPTH],
    /// Total ask quantity.
    pub total_ask_qty: Decimal,
    /// Total bid quantity.
    pub total_bid_qty: Decimal,
    /// Expected match price (meaningful in call auctions).
    pub expected_price: Decimal,
}

/// One daily price bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyBar {
    /// Instrument.
    pub symbol: Symbol,
    /// Business date.
    pub date: NaiveDate,
    /// Open.
    pub open: Decimal,
    /// High.
    pub high: Decimal,
    /// Low.
    pub low: Decimal,
    /// Close.
    pub close: Decimal,
    /// Volume.
    pub volume: Decimal,
    /// Traded value in KRW.
    pub value: Decimal,
}

/// The market status of one calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    /// Calendar date.
    pub date: NaiveDate,
    /// Business day.
    pub business_day: bool,
    /// Trading day.
    pub trading_day: bool,
    /// Orders can be placed (the market opens).
    pub market_open: bool,
    /// Settlement day.
    pub settlement_day: bool,
}

/// A new order to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Instrument.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Order type.
    pub order_type: OrderType,
    /// Quantity (positive).
    pub qty: Decimal,
    /// Limit price; ignored for market orders.
    pub price: Decimal,
    /// Venue.
    pub exchange: Exchange,
}

/// A modify request for a resting order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifyRequest {
    /// Instrument of the order (the overseas endpoints name it again).
    pub symbol: Symbol,
    /// Broker order number of the order to modify.
    pub broker_order_no: String,
    /// Broker branch number of that order.
    pub branch: String,
    /// New order type.
    pub order_type: OrderType,
    /// Quantity to modify; `None` modifies the whole remainder.
    pub qty: Option<Decimal>,
    /// New price.
    pub price: Decimal,
    /// Venue of the original order.
    pub exchange: Exchange,
}

/// A cancel request for a resting order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// Instrument of the order (the overseas endpoints name it again).
    pub symbol: Symbol,
    /// Broker order number of the order to cancel.
    pub broker_order_no: String,
    /// Broker branch number of that order.
    pub branch: String,
    /// Quantity to cancel; `None` cancels the whole remainder.
    pub qty: Option<Decimal>,
    /// Venue of the original order.
    pub exchange: Exchange,
}

/// The broker's acknowledgement of a new, modify or cancel order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAck {
    /// Broker order number (for modify/cancel: the number of the new modify/cancel order).
    pub broker_order_no: String,
    /// Broker branch number.
    pub branch: String,
    /// Broker receipt time.
    pub at: DateTime<Utc>,
}

/// A real-time subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Subscription {
    /// 10-level book updates of an instrument.
    Quotes(Symbol),
    /// Trade prints of an instrument.
    Trades(Symbol),
    /// Notices and fills of our own orders.
    Executions,
    /// Best bid and ask of a US stock on its exchange (`HDFSASP0`).
    UsQuotes(Exchange, Symbol),
    /// Trade prints of a US stock on its exchange (`HDFSCNT0`).
    UsTrades(Exchange, Symbol),
    /// Notices and fills of our own US orders (`H0GSCNI0`, `H0GSCNI9` on paper).
    UsExecutions,
}

impl std::fmt::Display for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Quotes(s) => write!(f, "quotes {s}"),
            Self::Trades(s) => write!(f, "trades {s}"),
            Self::Executions => f.write_str("execution notices"),
            Self::UsQuotes(e, s) => write!(f, "quotes {e}:{s}"),
            Self::UsTrades(e, s) => write!(f, "trades {e}:{s}"),
            Self::UsExecutions => f.write_str("US execution notices"),
        }
    }
}

/// Market-data events (may be dropped under backpressure; the next update supersedes them).
///
/// Held inline, not boxed: the codec parses each record straight into its event in the frame's
/// [`MarketBatch`], so the feed's hot path allocates nothing per record (one vector per frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(clippy::large_enum_variant, reason = "inline on purpose: no allocation per market-data record")]
pub enum MarketEvent {
    /// Order book update.
    Quote(QuoteEvent),
    /// Trade print.
    Trade(TradeTick),
}

/// The market events of one real-time data frame, in record order: the unit the market channel
/// carries (one allocation per frame, and under backpressure a whole frame is dropped).
pub type MarketBatch = Vec<MarketEvent>;

/// Health of the real-time feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeedStatus {
    /// The socket is open and registrations are restored.
    Connected {
        /// Number of active registrations.
        registrations: usize,
    },
    /// The socket is open again after it was lost (sent right after that connection's
    /// [`FeedStatus::Connected`]): notices sent while it was down are gone, so the consumer asks
    /// the broker for a snapshot of today's orders to recover the fills it missed.
    Reconnected,
    /// The socket was lost; a reconnect is under way.
    Disconnected {
        /// Why the socket was lost.
        reason: String,
    },
    /// Reconnecting failed repeatedly: the pipeline should enter stop mode.
    StopTrading {
        /// Why.
        reason: String,
    },
    /// A channel's records carry more fields than the known layout (reported once per channel).
    LayoutDrift {
        /// Channel name.
        channel: String,
        /// Known field count.
        expected: usize,
        /// Observed field count.
        observed: usize,
    },
    /// Frames could not be decoded; they were skipped. The first of a run is reported at once,
    /// those that follow are counted and reported together at most once per interval.
    DecodeError {
        /// What was wrong with the last of them (no payload content).
        message: String,
        /// How many frames this report stands for (none is left out of the counts).
        count: u64,
    },
    /// The feed was shut down on request.
    Closed,
    /// The broker refused a registration (e.g. its cap of registrations per session). The feed
    /// keeps it, sends it again with a backoff and on every reconnect, and reports
    /// [`FeedStatus::RegistrationRestored`] once it is active. Refused execution notices mean no
    /// fill arrives in real time meanwhile. Reported once per refusal code and connection.
    RegistrationRefused {
        /// The registration.
        subscription: Subscription,
        /// The broker's code.
        code: String,
        /// The broker's message.
        message: String,
    },
    /// A registration refused earlier is active again. For the execution notices, notices sent
    /// meanwhile are gone: the consumer recovers their fills from a broker snapshot, as after
    /// [`FeedStatus::Reconnected`].
    RegistrationRestored {
        /// The registration.
        subscription: Subscription,
    },
    /// Where every registration stands: sent when a state changed, once the acknowledgements
    /// have settled (an unchanged picture is not sent again). The last one is what
    /// `aegis status` shows.
    Registrations {
        /// Whether the socket is open.
        connected: bool,
        /// Registrations allowed per session.
        cap: usize,
        /// Every registration the feed keeps, execution notices first.
        registrations: Vec<FeedRegistration>,
    },
}

/// One registration of the real-time feed and where it stands with the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRegistration {
    /// What is registered (the key of the execution notices, a login id, is not part of it).
    pub subscription: Subscription,
    /// The broker's name of the channel (informational).
    pub channel: String,
    /// Where it stands.
    pub state: RegistrationState,
}

/// Where a registration stands with the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegistrationState {
    /// Sent and not acknowledged yet, or waiting for the socket.
    Pending,
    /// Acknowledged: its events arrive.
    Active,
    /// Refused by the broker; kept and sent again (with a backoff, and on every reconnect).
    Refused {
        /// The broker's code of the last refusal.
        code: String,
        /// The broker's message of the last refusal.
        message: String,
        /// When it was first refused (refusals since then without an acknowledgement).
        since: DateTime<Utc>,
    },
}

/// Execution-related events (never dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecutionEvent {
    /// Receipt of an order, modify, cancel or reject.
    Notice(OrderNotice),
    /// A fill notice.
    Fill(FillNotice),
    /// Feed health.
    Status(FeedStatus),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kst_round_trips_through_utc() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
        let time = NaiveTime::from_hms_opt(9, 0, 5).unwrap();
        let at = kst_to_utc(date, time);
        assert_eq!(at.to_rfc3339(), "2026-03-03T00:00:05+00:00");
        assert_eq!(to_kst(at).naive_local(), NaiveDateTime::new(date, time));
    }

    #[test]
    fn broker_fill_only_for_filled_orders() {
        let mut order = BrokerOrder {
            broker_order_no: "0000000001".into(),
            branch: "06010".into(),
            original_order_no: None,
            symbol: Symbol::new("005930").unwrap(),
            side: Side::Buy,
            order_type: Some(OrderType::Limit),
            qty: Decimal::from(10),
            price: Decimal::from(70_000),
            filled_qty: Decimal::ZERO,
            avg_fill_price: Decimal::ZERO,
            filled_amount: Decimal::ZERO,
            remaining_qty: Decimal::from(10),
            canceled: false,
            rejected: false,
            ordered_at: kst_to_utc(NaiveDate::MIN, NaiveTime::MIN),
        };
        assert_eq!(order.ordered_at.date_naive(), NaiveDate::MIN, "no overflow at the minimum");
        assert!(BrokerFill::from_order(&order).is_none());
        order.filled_qty = Decimal::from(4);
        order.filled_amount = Decimal::from(280_000);
        let fill = BrokerFill::from_order(&order).unwrap();
        assert_eq!(fill.filled_qty, Decimal::from(4));
        assert_eq!(fill.amount, Decimal::from(280_000));
    }
}
