//! The simulator's single mutable core: accounts (a KRW side and a USD side), orders, fills,
//! credentials, WebSocket session registry, per-symbol markets (KRX and US) and armed faults. One `Mutex<SimState>` guards it; no lock is held
//! across an `.await`.
//!
//! Invariants kept by every method: an order's `filled + cancelled + rejected <= qty`; an account's
//! cash equals its initial cash minus buys (amount + commission) plus sells (amount − commission −
//! tax) over its fills; reserved cash and shares cover exactly the open remainders.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio::sync::broadcast;

use super::SimConfig;
use super::faults::Faults;
use super::market::{Activity, Calendar, SymbolMarket};
use crate::domain::Side;

/// Which side of the simulator an order, fill or market belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum Market {
    /// KRX cash equities in KRW (domestic endpoints, H0STCNI0/9).
    #[default]
    Krx,
    /// US stocks in USD (overseas endpoints, H0GSCNI0/9).
    Us,
}

/// Order lifecycle states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OrderStatus {
    /// Resting or partially filled with a remainder on the book.
    Open,
    /// Completely filled.
    Filled,
    /// Remainder cancelled, modified away or expired (may carry partial fills).
    Closed,
    /// Rejected by the exchange after acceptance.
    Rejected,
    /// A modify/cancel request record (never on the book).
    Request,
}

/// Events that move an order between [`OrderStatus`] values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    /// A partial fill that leaves a remainder.
    PartFill,
    /// A fill that completes the order.
    LastFill,
    /// The remainder was cancelled, modified into a new order, or expired.
    Close,
    /// The exchange rejected the order.
    Reject,
}

/// Error raised by an illegal order transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal order transition from {from:?} on {event:?}")]
pub struct InvalidTransition {
    /// State before.
    pub from: OrderStatus,
    /// Offending event.
    pub event: OrderEvent,
}

impl OrderStatus {
    /// Applies `event`: the flat transition table of the order state machine.
    ///
    /// # Errors
    /// Returns [`InvalidTransition`] for any pair not in the table.
    pub fn transition(self, event: OrderEvent) -> Result<Self, InvalidTransition> {
        use OrderEvent as E;
        use OrderStatus as S;
        match (self, event) {
            (S::Open, E::PartFill) => Ok(S::Open),
            (S::Open, E::LastFill) => Ok(S::Filled),
            (S::Open, E::Close) => Ok(S::Closed),
            (S::Open, E::Reject) => Ok(S::Rejected),
            (from, event) => Err(InvalidTransition { from, event }),
        }
    }
}

/// How an order record came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OrderKind {
    /// A new order.
    New,
    /// A modify (정정) order; it carries the moved remainder and is itself live.
    Modify,
    /// A cancel (취소) request record.
    Cancel,
}

/// One order record (new, modify or cancel), as inquiries list them.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    /// The simulator's own identity of the record, unique across days.
    pub id: u64,
    /// KRX or US.
    pub market: Market,
    /// Order number (`ODNO`), unique only within its trading date.
    pub odno: u64,
    /// Original order number (same date) for modify/cancel records.
    pub orig: Option<u64>,
    /// Record kind.
    pub kind: OrderKind,
    /// 10-digit account.
    pub account: String,
    /// Instrument code.
    pub symbol: String,
    /// Instrument name (for notices and inquiries).
    pub name: String,
    /// Buy or sell.
    pub side: Side,
    /// `ORD_DVSN` code.
    pub ord_dvsn: String,
    /// Limit price (0 for market-type orders; US: in 0.0001 USD).
    pub price: i64,
    /// Order quantity.
    pub qty: i64,
    /// Filled quantity.
    pub filled: i64,
    /// Filled amount (KRW; US: in 0.0001 USD).
    pub filled_amt: i64,
    /// Quantity closed by cancel/modify/expiry.
    pub closed: i64,
    /// Quantity rejected.
    pub rejected: i64,
    /// Lifecycle state.
    pub status: OrderStatus,
    /// Trading date (US: the New York date).
    pub date: NaiveDate,
    /// Acceptance time (KST).
    pub time: DateTime<FixedOffset>,
    /// Cash still reserved for the remainder (buys).
    pub reserved: Decimal,
}

impl Order {
    /// Returns the quantity still working on the book.
    pub fn remaining(&self) -> i64 {
        if self.status == OrderStatus::Open {
            self.qty - self.filled - self.closed - self.rejected
        } else {
            0
        }
    }

    /// Returns false for US on-open / on-close orders (`ORD_DVSN` 31-34), which trade only in
    /// the opening or closing auction.
    pub fn continuous(&self) -> bool {
        !(self.market == Market::Us && matches!(self.ord_dvsn.as_str(), "31" | "32" | "33" | "34"))
    }

    /// Returns the `ODER_COND`/IOC-FOK condition: 0 none, 1 IOC, 2 FOK.
    pub fn condition(&self) -> u8 {
        match self.ord_dvsn.as_str() {
            "11" | "13" | "15" => 1,
            "12" | "14" | "16" => 2,
            _ => 0,
        }
    }
}

/// One execution of our order.
#[derive(Debug, Clone, Serialize)]
pub struct Fill {
    /// Sequence number (1-based).
    pub seq: u64,
    /// The order record's [`Order::id`].
    pub order_id: u64,
    /// KRX or US.
    pub market: Market,
    /// Order number (`ODNO`) on the fill's trading date.
    pub odno: u64,
    /// 10-digit account.
    pub account: String,
    /// Instrument code.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// Fill price (US: in 0.0001 USD).
    pub price: i64,
    /// Fill quantity.
    pub qty: i64,
    /// Commission charged.
    pub commission: Decimal,
    /// Sell tax charged.
    pub tax: Decimal,
    /// Realized P&L of a sell (amount − cost − commission − tax); 0 for buys.
    pub realized: Decimal,
    /// Average cost per share before the fill.
    pub avg_cost: Decimal,
    /// Simulated time.
    pub time: DateTime<FixedOffset>,
}

/// One position of a simulated account.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimHolding {
    /// Shares held.
    pub qty: i64,
    /// Shares reserved by open sell orders.
    pub reserved: i64,
    /// Total purchase cost of the shares held.
    pub cost: Decimal,
    /// Shares held at the start of the day.
    pub start_qty: i64,
    /// Shares bought today.
    pub bought_today: i64,
    /// Shares sold today.
    pub sold_today: i64,
}

/// The foreign-currency (USD) side of an account: deposit and US positions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Wallet {
    /// Initial cash (USD).
    pub initial_cash: Decimal,
    /// Cash balance (USD).
    pub cash: Decimal,
    /// Cash reserved by open buy orders (USD).
    pub reserved: Decimal,
    /// Positions by ticker (costs in USD).
    pub holdings: BTreeMap<String, SimHolding>,
    /// Total assets at the start of the US trading day (USD).
    pub start_assets: Decimal,
}

/// One brokerage account.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// 8-digit CANO.
    pub cano: String,
    /// 2-digit product code.
    pub product: String,
    /// Initial cash.
    pub initial_cash: Decimal,
    /// Cash balance.
    pub cash: Decimal,
    /// Cash reserved by open buy orders.
    pub reserved: Decimal,
    /// Positions by symbol.
    pub holdings: BTreeMap<String, SimHolding>,
    /// Total assets at the start of the day.
    pub start_assets: Decimal,
    /// The USD side (overseas stocks).
    pub usd: Wallet,
}

impl Account {
    /// Returns the cash, reserved cash and holdings of one side of the account.
    pub fn parts_mut(
        &mut self,
        market: Market,
    ) -> (&mut Decimal, &mut Decimal, &mut BTreeMap<String, SimHolding>) {
        match market {
            Market::Krx => (&mut self.cash, &mut self.reserved, &mut self.holdings),
            Market::Us => (&mut self.usd.cash, &mut self.usd.reserved, &mut self.usd.holdings),
        }
    }
}

/// One issued access token.
#[derive(Debug, Clone, Serialize)]
pub struct Token {
    /// Masked token (first 8 chars + `...`), for the admin view.
    pub masked: String,
    /// The token itself (never serialized).
    #[serde(skip)]
    pub token: String,
    /// App key it belongs to (never serialized).
    #[serde(skip)]
    pub appkey: String,
    /// Masked app key.
    pub appkey_masked: String,
    /// Issuance time.
    pub issued: DateTime<FixedOffset>,
    /// Expiry time.
    pub expires: DateTime<FixedOffset>,
    /// Revoked (revokeP or fault).
    pub revoked: bool,
}

/// One WebSocket approval key.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedApprovalKey {
    /// Masked key.
    pub masked: String,
    /// The key (never serialized).
    #[serde(skip)]
    pub key: String,
    /// App key it belongs to (never serialized).
    #[serde(skip)]
    pub appkey: String,
    /// Issuance time.
    pub issued: DateTime<FixedOffset>,
}

/// One open WebSocket session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// Session id.
    pub id: u64,
    /// Masked app key bound by its first valid approval key.
    pub appkey_masked: String,
    /// App key (never serialized).
    #[serde(skip)]
    pub appkey: Option<String>,
    /// Registrations `(tr_id, tr_key)`.
    pub registrations: Vec<(String, String)>,
}

/// A message fanned out to WebSocket sessions.
#[derive(Debug, Clone)]
pub enum FeedMessage {
    /// A plain market-data record of `tr_id` for `key` (stock code).
    Data {
        /// TR id (`H0STCNT0`, `H0STASP0`).
        tr_id: &'static str,
        /// Stock code.
        key: String,
        /// `^`-joined record.
        record: String,
    },
    /// An execution notice for an HTS id (encrypted per session).
    Notice {
        /// TR id (`H0STCNI0` or `H0STCNI9`).
        tr_id: &'static str,
        /// HTS id.
        hts_id: String,
        /// `^`-joined plaintext record.
        record: String,
    },
    /// A malformed frame injected by a fault.
    Malformed,
    /// Close every session (fault).
    CloseAll,
}

/// Masks a secret: first 8 chars + `...`.
pub fn mask(secret: &str) -> String {
    let head: String = secret.chars().take(8).collect();
    format!("{head}...")
}

/// The simulator state.
#[derive(Debug)]
pub struct SimState {
    /// Configuration.
    pub cfg: SimConfig,
    /// Trading calendar.
    pub calendar: Calendar,
    /// Markets by symbol.
    pub markets: BTreeMap<String, SymbolMarket>,
    /// US markets by ticker.
    pub us_markets: BTreeMap<String, SymbolMarket>,
    /// US trading calendar.
    pub us_calendar: Calendar,
    /// Current US trading date (New York date).
    pub us_date: NaiveDate,
    /// The last US order number given out, and the US trading date it belongs to.
    pub last_us_odno: (NaiveDate, u64),
    /// Accounts by 10-digit number.
    pub accounts: BTreeMap<String, Account>,
    /// Orders by [`Order::id`].
    pub orders: BTreeMap<u64, Order>,
    /// Fills in execution order.
    pub fills: Vec<Fill>,
    /// Issued tokens.
    pub tokens: Vec<Token>,
    /// Last tokenP call per app key.
    pub token_calls: HashMap<String, DateTime<FixedOffset>>,
    /// Issued approval keys.
    pub approvals: Vec<IssuedApprovalKey>,
    /// Open WebSocket sessions.
    pub sessions: BTreeMap<u64, SessionInfo>,
    /// Recent request instants per app key (rate limit window).
    pub rate: HashMap<String, VecDeque<Instant>>,
    /// Armed faults.
    pub faults: Faults,
    /// The last order id given out.
    pub last_order_id: u64,
    /// The last order number given out, and the trading date it belongs to.
    pub last_odno: (NaiveDate, u64),
    /// Next session id.
    pub next_session: u64,
    /// Current trading date.
    pub date: NaiveDate,
    /// Notices emitted (after faults) and the held-back notice of a reorder fault.
    pub notices_sent: u64,
    /// A notice held back by a reorder fault.
    pub held_notice: Option<FeedMessage>,
    /// Credential generator.
    pub rng: ChaCha8Rng,
    /// Fan-out to WebSocket sessions.
    pub feed: broadcast::Sender<FeedMessage>,
}

impl SimState {
    /// Builds the initial state from `cfg` as of `now`.
    pub fn new(cfg: SimConfig, now: DateTime<FixedOffset>, feed: broadcast::Sender<FeedMessage>) -> Self {
        let calendar = Calendar::new(cfg.holidays.clone());
        let markets = cfg
            .symbols
            .iter()
            .map(|s| {
                let inst = super::instruments::catalog(s);
                let activity = cfg.activity.get(s).copied().unwrap_or_else(|| Activity::default_for(&inst));
                (s.clone(), SymbolMarket::new(inst, activity, cfg.seed, now, &calendar))
            })
            .collect();
        let us_calendar = Calendar::new(cfg.us.holidays.clone());
        let us_markets: BTreeMap<String, SymbolMarket> = cfg
            .us
            .symbols
            .iter()
            .map(|s| {
                let inst = super::instruments::us_catalog(s);
                let activity = cfg.activity.get(s).copied().unwrap_or_else(|| Activity::default_for(&inst));
                (s.clone(), SymbolMarket::new(inst, activity, cfg.seed, now, &us_calendar))
            })
            .collect();
        let us_date = super::us::rules::local_date(now);
        let usd = cfg.us.wallet(&us_markets);
        let accounts = cfg
            .accounts
            .iter()
            .map(|a| {
                let acct = Account {
                    cano: a.cano().to_owned(),
                    product: a.product_code().to_owned(),
                    initial_cash: cfg.cash,
                    cash: cfg.cash,
                    reserved: Decimal::ZERO,
                    holdings: BTreeMap::new(),
                    start_assets: cfg.cash,
                    usd: usd.clone(),
                };
                (a.ten_digits(), acct)
            })
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed_c0de);
        // Numbering restarts every business day; without that, numbers keep growing from a
        // seeded start across days.
        let first_odno = if cfg.daily_order_numbers { 0 } else { 1_000_000 + rng.random_range(0..1_000_000) };
        Self {
            calendar,
            markets,
            us_markets,
            us_calendar,
            us_date,
            last_us_odno: (us_date, first_odno),
            accounts,
            orders: BTreeMap::new(),
            fills: Vec::new(),
            tokens: Vec::new(),
            token_calls: HashMap::new(),
            approvals: Vec::new(),
            sessions: BTreeMap::new(),
            rate: HashMap::new(),
            faults: Faults::default(),
            last_order_id: 0,
            last_odno: (now.date_naive(), first_odno),
            next_session: 1,
            date: now.date_naive(),
            notices_sent: 0,
            held_notice: None,
            rng,
            feed,
            cfg,
        }
    }

    /// Returns `n` random characters from `alphabet`.
    pub fn random_string(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n)
            .map(|_| {
                let i = self.rng.random_range(0..alphabet.len().max(1));
                char::from(alphabet.get(i).copied().unwrap_or(b'0'))
            })
            .collect()
    }

    /// Returns a UUID-shaped random string (36 chars).
    pub fn random_uuid(&mut self) -> String {
        let hex = b"0123456789abcdef";
        let parts = [8, 4, 4, 4, 12].map(|n| self.random_string(n, hex));
        parts.join("-")
    }

    /// Counts a request for `appkey` against the per-second limit; returns false when over it.
    pub fn admit(&mut self, appkey: &str, now: Instant) -> bool {
        let limit = self.cfg.rate_limit();
        let window = self.rate.entry(appkey.to_owned()).or_default();
        while window.front().is_some_and(|t| now.duration_since(*t).as_secs_f64() >= 1.0) {
            window.pop_front();
        }
        if window.len() >= limit as usize {
            return false;
        }
        window.push_back(now);
        true
    }

    /// Emits a domestic execution notice, applying the duplicate / reorder / delay faults.
    pub fn emit_notice(&mut self, record: String) {
        let tr_id = self.cfg.notice_tr();
        self.emit_notice_as(tr_id, record);
    }

    /// Emits an execution notice of `tr_id`, applying the duplicate / reorder / delay faults.
    pub fn emit_notice_as(&mut self, tr_id: &'static str, record: String) {
        let feed = FeedMessage::Notice { tr_id, hts_id: self.cfg.hts_id.clone(), record };
        let mut out = Vec::new();
        if super::faults::take(&mut self.faults.notice_reorder) && self.held_notice.is_none() {
            self.held_notice = Some(feed);
            return;
        }
        out.push(feed.clone());
        if let Some(held) = self.held_notice.take() {
            out.push(held);
        }
        if super::faults::take(&mut self.faults.notice_duplicate) {
            out.push(feed);
        }
        let delay = self.faults.notice_delay_ms;
        for f in out {
            self.notices_sent += 1;
            if delay > 0 {
                let tx = self.feed.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                    let _ = tx.send(f);
                });
            } else {
                let _ = self.feed.send(f);
            }
        }
    }

    /// Returns the id and number of the next order record accepted on `date`: numbers restart
    /// at 1 on every trading date unless [`SimConfig::daily_order_numbers`] is off.
    pub fn take_order_number(&mut self, date: NaiveDate) -> (u64, u64) {
        self.last_order_id += 1;
        let (day, last) = self.last_odno;
        let odno = if self.cfg.daily_order_numbers && day != date { 1 } else { last + 1 };
        self.last_odno = (date, odno);
        (self.last_order_id, odno)
    }

    /// Returns the id and number of the next US order record accepted on the US trading date
    /// `date`: US orders are numbered in a sequence of their own.
    pub fn take_us_order_number(&mut self, date: NaiveDate) -> (u64, u64) {
        self.last_order_id += 1;
        let (day, last) = self.last_us_odno;
        let odno = if self.cfg.daily_order_numbers && day != date { 1 } else { last + 1 };
        self.last_us_odno = (date, odno);
        (self.last_order_id, odno)
    }

    /// Returns the `market` order record numbered `odno` on `date` in `account`, if any.
    pub fn order_of(&self, account: &str, market: Market, date: NaiveDate, odno: u64) -> Option<&Order> {
        self.orders
            .values()
            .rev()
            .find(|o| o.odno == odno && o.date == date && o.account == account && o.market == market)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_transition_table() {
        use OrderEvent as E;
        use OrderStatus as S;
        let table = [
            (S::Open, E::PartFill, Some(S::Open)),
            (S::Open, E::LastFill, Some(S::Filled)),
            (S::Open, E::Close, Some(S::Closed)),
            (S::Open, E::Reject, Some(S::Rejected)),
            (S::Filled, E::PartFill, None),
            (S::Filled, E::Close, None),
            (S::Closed, E::LastFill, None),
            (S::Rejected, E::Close, None),
            (S::Request, E::Close, None),
        ];
        for (from, event, want) in table {
            assert_eq!(from.transition(event).ok(), want, "{from:?} on {event:?}");
        }
    }

    #[test]
    fn order_numbers_restart_every_day_unless_continuous() {
        let start = crate::sim::clock::at(
            NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
            crate::sim::market::session_open(),
        );
        let (d1, d2) = (start.date_naive(), start.date_naive().succ_opt().unwrap());
        let (tx, _) = broadcast::channel(4);
        let mut daily = SimState::new(SimConfig::default(), start, tx.clone());
        let got: Vec<_> = [d1, d1, d1, d2, d2].iter().map(|d| daily.take_order_number(*d)).collect();
        assert_eq!(got, [(1, 1), (2, 2), (3, 3), (4, 1), (5, 2)]);
        assert_eq!(daily.last_odno, (d2, 2));

        let cfg = SimConfig { daily_order_numbers: false, ..SimConfig::default() };
        let mut continuous = SimState::new(cfg, start, tx);
        let (_, first) = continuous.take_order_number(d1);
        let (_, next_day) = continuous.take_order_number(d2);
        assert!(first > 1_000_000, "{first}");
        assert_eq!(next_day, first + 1);
    }

    #[test]
    fn masks_secrets() {
        assert_eq!(mask("abcdefghijklmnop"), "abcdefgh...");
        assert_eq!(mask("abc"), "abc...");
    }
}
