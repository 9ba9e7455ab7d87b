//! Decoder of KIS real-time frames: `enc|TR|CNT|payload` data frames with several `^`-separated
//! records (parsed from borrowed slices, no allocation per field) and JSON control frames
//! (subscribe acks with the notice key/iv, PINGPONG). Malformed input yields [`KisWsError`].

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::crypto::NoticeCipher;
use super::error::KisWsError;
use super::fields::{Fields, KstDay, Numbers, ReadNumbers, Separators};
use crate::domain::Side;
use crate::domain::Symbol;
use crate::domain::market::{
    BOOK_DEPTH, BookLevel, NoticeKind, OrderNotice, QuoteEvent, SessionPhase, TradeTick, kst_to_utc,
};
use crate::ports::Secret;

/// Largest frame the decoder accepts (bytes).
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// Field count of a trade record (H0STCNT0).
pub const TRADE_FIELDS: usize = 46;
/// Field count of a book record (H0STASP0).
pub const BOOK_FIELDS: usize = 59;
/// Field count of an execution notice (H0STCNI0 / H0STCNI9).
pub const NOTICE_FIELDS: usize = 26;
/// Field count of the legacy execution-notice layout.
pub const NOTICE_FIELDS_LEGACY: usize = 23;
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

/// A data frame split into its header and (still encoded) payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFrame<'a> {
    /// True when the payload is encrypted.
    pub encrypted: bool,
    /// TR id.
    pub tr_id: &'a str,
    /// Declared record count.
    pub count: usize,
    /// Payload.
    pub payload: &'a str,
}

/// A subscribe/unsubscribe acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// TR id the ack is for.
    pub tr_id: String,
    /// tr_key the ack is for.
    pub tr_key: String,
    /// `rt_cd` (`"0"` success).
    pub rt_cd: String,
    /// Control code (`OPSP…`).
    pub msg_cd: String,
    /// Control message.
    pub msg1: String,
    /// Cipher for encrypted channels, when the ack carried key and iv.
    pub cipher: Option<NoticeCipher>,
}

impl Ack {
    /// Returns true for success codes (`OPSP0000`, `OPSP0001`, and `OPSP0002` "already subscribed").
    pub fn is_success(&self) -> bool {
        self.rt_cd == "0" || matches!(self.msg_cd.as_str(), "OPSP0000" | "OPSP0001" | "OPSP0002")
    }
}

/// A decoded server frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A data frame.
    Data(DataFrame<'a>),
    /// A server keep-alive; echo the text back.
    PingPong,
    /// A subscription acknowledgement.
    Ack(Ack),
}

/// A fill reported by an execution notice, before the feed assigns its cumulative identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeFill {
    /// Trading date (KST) of the session the notice arrived in (the notice carries no date).
    pub trade_date: NaiveDate,
    /// Broker order number.
    pub broker_order_no: String,
    /// Branch number.
    pub branch: String,
    /// Instrument.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Fill quantity.
    pub qty: Decimal,
    /// Fill price.
    pub price: Decimal,
    /// Broker timestamp.
    pub at: DateTime<Utc>,
}

/// An execution notice of one of our orders (H0STCNI0 / H0STCNI9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Execution {
    /// Receipt, modification, cancellation or rejection.
    Notice(OrderNotice),
    /// A fill.
    Fill(NoticeFill),
}

/// A channel's records carry more fields than the layout the codec knows (reported once per
/// channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutDrift {
    /// TR id.
    pub tr_id: String,
    /// Known width.
    pub expected: usize,
    /// Observed width.
    pub observed: usize,
}

/// The records of one data frame, all of its channel, in order. They are borrowed from the
/// decoder, which writes the next frame's records over them (a record is parsed straight into
/// its event: nothing is allocated, zeroed or copied per record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records<'a> {
    /// Trade prints (H0STCNT0).
    Trades(&'a [TradeTick]),
    /// 10-level books (H0STASP0).
    Quotes(&'a [QuoteEvent]),
    /// Our executions (H0STCNI0 / H0STCNI9); notices of other accounts are left out.
    Executions(&'a [Execution]),
}

impl Records<'_> {
    /// Number of records.
    pub fn len(&self) -> usize {
        match self {
            Self::Trades(r) => r.len(),
            Self::Quotes(r) => r.len(),
            Self::Executions(r) => r.len(),
        }
    }

    /// True when there are none (a notice frame for another account).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A decoded data frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Set the first time a channel's records carry extra fields.
    pub drift: Option<LayoutDrift>,
    /// The frame's records.
    pub records: Records<'a>,
}

#[derive(Deserialize)]
struct RawControl {
    header: RawHeader,
    #[serde(default)]
    body: Option<RawBody>,
}

#[derive(Deserialize)]
struct RawHeader {
    tr_id: String,
    #[serde(default)]
    tr_key: String,
}

#[derive(Deserialize)]
struct RawBody {
    #[serde(default)]
    rt_cd: String,
    #[serde(default)]
    msg_cd: String,
    #[serde(default)]
    msg1: String,
    #[serde(default)]
    output: Option<RawOutput>,
}

#[derive(Deserialize)]
struct RawOutput {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    iv: Option<String>,
}

/// Splits a server text frame into a data frame or parses a control frame.
///
/// # Errors
/// Returns [`KisWsError`] for empty, oversized or malformed frames.
pub fn parse_frame(text: &str) -> Result<Frame<'_>, KisWsError> {
    if text.is_empty() {
        return Err(KisWsError::Empty);
    }
    if text.len() > MAX_FRAME_BYTES {
        return Err(KisWsError::Oversized { len: text.len(), max: MAX_FRAME_BYTES });
    }
    if text.starts_with('{') {
        return parse_control(text);
    }
    // The first three `|` split the header (a plain byte loop: the header is a few bytes long).
    let mut bars = [0usize; 3];
    let mut found = 0;
    for (i, _) in text.bytes().enumerate().filter(|&(_, b)| b == b'|') {
        if let Some(bar) = bars.get_mut(found) {
            *bar = i;
            found += 1;
        }
        if found == bars.len() {
            break;
        }
    }
    match found {
        0 => return Err(KisWsError::Header("missing TR id")),
        1 => return Err(KisWsError::Header("missing record count")),
        2 => return Err(KisWsError::Header("missing payload")),
        _ => {}
    }
    let [a, b, c] = bars;
    // `|` is ASCII, so every cut is on a character boundary.
    let cut = |from: usize, to: usize| text.get(from..to).unwrap_or_default();
    let (enc, tr_id, count, payload) = (cut(0, a), cut(a + 1, b), cut(b + 1, c), cut(c + 1, text.len()));
    let encrypted = match enc {
        "0" => false,
        "1" => true,
        _ => return Err(KisWsError::Header("encryption flag is not 0 or 1")),
    };
    if tr_id.is_empty() || tr_id.len() > 13 || !tr_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(KisWsError::Header("invalid TR id"));
    }
    if count.is_empty() || count.len() > 3 || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KisWsError::Header("record count is not 1-3 digits"));
    }
    let count = count.bytes().fold(0usize, |acc, b| acc * 10 + usize::from(b - b'0'));
    if count == 0 {
        return Err(KisWsError::Header("record count is zero"));
    }
    Ok(Frame::Data(DataFrame { encrypted, tr_id, count, payload }))
}

fn parse_control(text: &str) -> Result<Frame<'_>, KisWsError> {
    let raw: RawControl = serde_json::from_str(text).map_err(|e| KisWsError::Control(e.to_string()))?;
    if raw.header.tr_id == "PINGPONG" {
        return Ok(Frame::PingPong);
    }
    let body = raw.body.ok_or_else(|| KisWsError::Control("ack without body".into()))?;
    let cipher = match body.output.as_ref().map(|o| (o.key.as_deref(), o.iv.as_deref())) {
        Some((Some(key), Some(iv))) => Some(NoticeCipher::from_ack(key, iv)?),
        _ => None,
    };
    Ok(Frame::Ack(Ack {
        tr_id: raw.header.tr_id,
        tr_key: raw.header.tr_key,
        rt_cd: body.rt_cd,
        msg_cd: body.msg_cd,
        msg1: body.msg1.trim().to_owned(),
        cipher,
    }))
}

/// Decodes data frames into typed events; remembers notice keys and which drifts were reported,
/// and keeps the last frame's events, whose memory the next frame's records are written into.
#[derive(Default)]
pub struct Decoder {
    session: Option<KstDay>,
    account: Option<Secret>,
    ciphers: HashMap<String, NoticeCipher>,
    drift_reported: [bool; 3],
    separators: Separators,
    /// The last trade date seen (`BSOP_DATE` bytes) and its day, parsed once per change.
    trade_day: Option<([u8; 8], KstDay)>,
    /// Record slots of each channel (as many as the longest frame had records).
    trades: Vec<TradeTick>,
    quotes: Vec<QuoteEvent>,
    executions: Vec<Execution>,
}

impl std::fmt::Debug for Decoder {
    // Not the events: the slots past the last frame's records are stale.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("session", &self.session.map(|s| s.date()))
            .field("account", &self.account)
            .field("channels_with_keys", &self.ciphers.keys().collect::<Vec<_>>())
            .field("drift_reported", &self.drift_reported)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// Returns a decoder for the session `date` (used for records that carry only a time).
    /// Notices for accounts other than `account` (10 digits) are ignored.
    pub fn new(date: NaiveDate, account: Option<String>) -> Self {
        Self { session: Some(KstDay::new(date)), account: account.map(Secret::new), ..Self::default() }
    }

    /// Sets the session date.
    pub fn set_session_date(&mut self, date: NaiveDate) {
        self.session = Some(KstDay::new(date));
    }

    /// Returns the session date, the trading date given to records that carry only a time.
    pub fn session_date(&self) -> Option<NaiveDate> {
        self.session.map(|s| s.date())
    }

    /// Stores the cipher of an encrypted channel.
    pub fn set_cipher(&mut self, tr_id: &str, cipher: NoticeCipher) {
        self.ciphers.insert(tr_id.to_owned(), cipher);
    }

    /// Decodes every record of a data frame. The records stay valid until the next call.
    ///
    /// # Errors
    /// Returns [`KisWsError`] when the frame is malformed; nothing of it is returned then (nor a
    /// layout drift it showed: the next well-formed frame reports that).
    pub fn decode(&mut self, frame: &DataFrame<'_>) -> Result<Decoded<'_>, KisWsError> {
        let channel =
            Channel::of(frame.tr_id).ok_or_else(|| KisWsError::UnsupportedChannel(frame.tr_id.to_owned()))?;
        let (width, known, count) = if frame.encrypted {
            let cipher =
                self.ciphers.get(frame.tr_id).ok_or_else(|| KisWsError::MissingKey(frame.tr_id.into()))?;
            let plain = cipher.decrypt(frame.payload)?;
            self.decode_records(channel, frame.tr_id, frame.count, &plain)?
        } else {
            self.decode_records(channel, frame.tr_id, frame.count, frame.payload)?
        };
        let drift = (width > known && !self.drift_reported[channel.index()]).then(|| {
            self.drift_reported[channel.index()] = true;
            LayoutDrift { tr_id: frame.tr_id.to_owned(), expected: known, observed: width }
        });
        let records = match channel {
            Channel::Trades => Records::Trades(self.trades.get(..count).unwrap_or_default()),
            Channel::Book => Records::Quotes(self.quotes.get(..count).unwrap_or_default()),
            Channel::Notices => Records::Executions(&self.executions),
        };
        Ok(Decoded { drift, records })
    }

    /// Decodes the records of a payload into the channel's slots; returns the record width, the
    /// known width and the record count.
    fn decode_records(
        &mut self,
        channel: Channel,
        tr: &str,
        count: usize,
        payload: &str,
    ) -> Result<(usize, usize, usize), KisWsError> {
        let bytes = payload.as_bytes();
        let fields = self.separators.mark(bytes);
        if !fields.is_multiple_of(count) {
            return Err(KisWsError::RecordSplit { tr: tr.into(), fields, count });
        }
        let width = fields / count;
        let known = match channel {
            Channel::Notices if width == NOTICE_FIELDS_LEGACY => NOTICE_FIELDS_LEGACY,
            other => other.width(),
        };
        if width < known {
            return Err(KisWsError::Truncated { tr: tr.into(), expected: known, observed: width });
        }
        if width > MAX_RECORD_FIELDS {
            return Err(KisWsError::Truncated { tr: tr.into(), expected: known, observed: width });
        }
        let session = self.session.unwrap_or_else(|| KstDay::new(NaiveDate::default()));
        let account = self.account.as_ref().map(Secret::expose);
        let walk = self.separators.fields(bytes);
        match channel {
            Channel::Trades => {
                Market { f: walk, tr }.trades(count, width, &mut self.trade_day, &mut self.trades)?
            }
            Channel::Book => Market { f: walk, tr }.books(count, width, &session, &mut self.quotes)?,
            Channel::Notices => {
                self.executions.clear();
                let mut walk = walk;
                for _ in 0..count {
                    let mut rec: [&[u8]; MAX_RECORD_FIELDS] = [&[]; MAX_RECORD_FIELDS];
                    for slot in rec.iter_mut().take(width) {
                        *slot = walk.field();
                    }
                    let r = Rec { f: rec.get(..width).unwrap_or_default(), tr };
                    if let Some(ev) = r.notice(session.date(), known, account)? {
                        self.executions.push(ev);
                    }
                }
            }
        }
        Ok((width, known, count))
    }
}

/// Slot `i` of `slots`, which holds at least `i` of them; a new one made by `blank` when it
/// holds exactly `i` (the first frame with that many records).
#[inline(always)]
fn slot<T>(slots: &mut Vec<T>, i: usize, blank: impl FnOnce() -> T) -> Option<&mut T> {
    if i >= slots.len() {
        grow(slots, blank);
    }
    slots.get_mut(i)
}

#[cold]
#[inline(never)]
fn grow<T>(slots: &mut Vec<T>, blank: impl FnOnce() -> T) {
    slots.push(blank());
}

#[cold]
#[inline(never)]
fn field_error(tr: &str, field: &'static str) -> KisWsError {
    KisWsError::Field { tr: tr.to_owned(), field }
}

/// Sequential typed reads over the market-data records of a payload.
struct Market<'a> {
    f: Fields<'a>,
    tr: &'a str,
}

impl Market<'_> {
    /// Decodes `count` trade records into `slots` (one loop per channel keeps each hot loop's
    /// state in registers). Each record is written over the event in its slot; on an error the
    /// slots hold partly written events, which are never returned.
    #[inline(never)]
    fn trades(
        self,
        count: usize,
        width: usize,
        day: &mut Option<([u8; 8], KstDay)>,
        slots: &mut Vec<TradeTick>,
    ) -> Result<(), KisWsError> {
        // A fresh local copy (not the argument's memory) keeps the walker in registers.
        let mut m = Market { f: self.f, tr: self.tr };
        for i in 0..count {
            m.trade(width, day, slots, i)?;
        }
        Ok(())
    }

    /// Decodes `count` book records of the session `day` (written as [`Self::trades`] writes).
    #[inline(never)]
    fn books(
        self,
        count: usize,
        width: usize,
        day: &KstDay,
        slots: &mut Vec<QuoteEvent>,
    ) -> Result<(), KisWsError> {
        let mut m = Market { f: self.f, tr: self.tr };
        for i in 0..count {
            m.book(width, day, slots, i)?;
        }
        Ok(())
    }

    /// Parses the next field into `dst` (in place: the hot path of the market-data channels).
    #[inline(always)]
    fn put(&mut self, name: &'static str, dst: &mut Decimal) -> Result<(), KisWsError> {
        if self.f.decimal_into(dst) { Ok(()) } else { Err(field_error(self.tr, name)) }
    }

    #[inline(always)]
    fn seconds(&mut self, name: &'static str) -> Result<u32, KisWsError> {
        self.f.seconds().ok_or_else(|| field_error(self.tr, name))
    }

    #[inline(always)]
    fn symbol(&mut self) -> Result<Symbol, KisWsError> {
        self.f.symbol().ok_or_else(|| field_error(self.tr, "symbol"))
    }

    /// A trade print (H0STCNT0), written over slot `i`; `day` caches the day of the last trade
    /// date seen. Every field of the event is written.
    #[inline(always)]
    fn trade(
        &mut self,
        width: usize,
        day: &mut Option<([u8; 8], KstDay)>,
        slots: &mut Vec<TradeTick>,
        i: usize,
    ) -> Result<(), KisWsError> {
        let symbol = self.symbol()?;
        let secs = self.seconds("STCK_CNTG_HOUR")?;
        let Some(t) = slot(slots, i, || blank_trade(symbol.clone())) else {
            return Err(field_error(self.tr, "symbol")); // never: slots holds at least `i`
        };
        t.symbol = symbol;
        self.put("STCK_PRPR", &mut t.price)?;
        self.f.skip(1);
        self.put("PRDY_VRSS", &mut t.change)?;
        self.put("PRDY_CTRT", &mut t.change_rate)?;
        self.f.skip(1);
        self.put("STCK_OPRC", &mut t.open)?;
        self.put("STCK_HGPR", &mut t.high)?;
        self.put("STCK_LWPR", &mut t.low)?;
        self.put("ASKP1", &mut t.best_ask)?;
        self.put("BIDP1", &mut t.best_bid)?;
        self.put("CNTG_VOL", &mut t.qty)?;
        self.put("ACML_VOL", &mut t.cum_volume)?;
        self.put("ACML_TR_PBMN", &mut t.cum_value)?;
        self.f.skip(6);
        t.aggressor = match self.f.field() {
            b"1" => Some(Side::Buy),
            b"5" => Some(Side::Sell),
            _ => None,
        };
        self.f.skip(11);
        let raw_date = self.f.field();
        let kst = match *day {
            Some((key, d)) if key.as_slice() == raw_date => d,
            _ => {
                let (Some(date), Ok(key)) = (parse_yyyymmdd(raw_date), <[u8; 8]>::try_from(raw_date)) else {
                    return Err(field_error(self.tr, "BSOP_DATE"));
                };
                let d = KstDay::new(date);
                *day = Some((key, d));
                d
            }
        };
        t.at = kst.at(secs);
        self.f.skip(1);
        t.halted = self.f.field() == b"Y";
        self.f.skip(7);
        t.phase = phase(self.f.field());
        self.f.skip(width - 44);
        Ok(())
    }

    /// A 10-level book (H0STASP0) of the session day, written over slot `i`. Every field of
    /// the event is written.
    #[inline(always)]
    fn book(
        &mut self,
        width: usize,
        day: &KstDay,
        slots: &mut Vec<QuoteEvent>,
        i: usize,
    ) -> Result<(), KisWsError> {
        let symbol = self.symbol()?;
        let at = day.at(self.seconds("BSOP_HOUR")?);
        let Some(q) = slot(slots, i, || blank_quote(symbol.clone())) else {
            return Err(field_error(self.tr, "symbol")); // never: slots holds at least `i`
        };
        q.symbol = symbol;
        q.at = at;
        q.phase = phase(self.f.field());
        let (f, numbers) = self.f.numbers(&mut BookNumbers(q));
        self.f = f;
        numbers.map_err(|name| field_error(self.tr, name))?;
        self.f.skip(4);
        self.put("ACML_VOL", &mut q.cum_volume)?;
        self.f.skip(width - 54);
        Ok(())
    }
}

/// A trade slot's first event (every field is written over before it is returned).
fn blank_trade(symbol: Symbol) -> TradeTick {
    TradeTick {
        symbol,
        at: DateTime::<Utc>::UNIX_EPOCH,
        price: Decimal::ZERO,
        qty: Decimal::ZERO,
        change: Decimal::ZERO,
        change_rate: Decimal::ZERO,
        open: Decimal::ZERO,
        high: Decimal::ZERO,
        low: Decimal::ZERO,
        best_ask: Decimal::ZERO,
        best_bid: Decimal::ZERO,
        cum_volume: Decimal::ZERO,
        cum_value: Decimal::ZERO,
        aggressor: None,
        phase: SessionPhase::Unknown,
        halted: false,
    }
}

/// A book slot's first event (every field is written over before it is returned).
fn blank_quote(symbol: Symbol) -> QuoteEvent {
    QuoteEvent {
        symbol,
        at: DateTime::<Utc>::UNIX_EPOCH,
        phase: SessionPhase::Unknown,
        asks: [BookLevel::default(); BOOK_DEPTH],
        bids: [BookLevel::default(); BOOK_DEPTH],
        total_ask_qty: Decimal::ZERO,
        total_bid_qty: Decimal::ZERO,
        expected_price: Decimal::ZERO,
        expected_qty: Decimal::ZERO,
        cum_volume: Decimal::ZERO,
    }
}

/// The 46 numbers in a row of a book record (fields 4 to 49): ask prices, bid prices, ask
/// quantities and bid quantities, best level first; the total resting quantities, the
/// after-hours totals (not kept) and the expected match price and quantity.
struct BookNumbers<'q>(&'q mut QuoteEvent);

impl ReadNumbers for BookNumbers<'_> {
    #[inline(always)]
    fn read<N: Numbers>(&mut self, n: &mut N) -> Result<(), &'static str> {
        let q = &mut *self.0;
        n.fill("ASKP", &mut q.asks, |l| &mut l.price)?;
        n.fill("BIDP", &mut q.bids, |l| &mut l.price)?;
        n.fill("ASKP_RSQN", &mut q.asks, |l| &mut l.qty)?;
        n.fill("BIDP_RSQN", &mut q.bids, |l| &mut l.qty)?;
        n.pair(["TOTAL_ASKP_RSQN", "TOTAL_BIDP_RSQN"], &mut q.total_ask_qty, &mut q.total_bid_qty)?;
        n.skip(2);
        n.pair(["ANTC_CNPR", "ANTC_CNQN"], &mut q.expected_price, &mut q.expected_qty)
    }
}

/// One record split into its fields (execution notices, read out of order).
struct Rec<'a, 'b> {
    f: &'b [&'a [u8]],
    tr: &'b str,
}

impl<'a> Rec<'a, '_> {
    fn err(&self, field: &'static str) -> KisWsError {
        field_error(self.tr, field)
    }

    fn raw(&self, i: usize) -> &'a [u8] {
        self.f.get(i).copied().unwrap_or_default()
    }

    fn dec(&self, i: usize, name: &'static str) -> Result<Decimal, KisWsError> {
        parse_decimal(self.raw(i)).ok_or_else(|| self.err(name))
    }

    fn time(&self, i: usize, name: &'static str) -> Result<NaiveTime, KisWsError> {
        parse_hhmmss(self.raw(i)).ok_or_else(|| self.err(name))
    }

    fn symbol(&self, i: usize) -> Result<Symbol, KisWsError> {
        std::str::from_utf8(self.raw(i))
            .ok()
            .and_then(|s| Symbol::new(s).ok())
            .ok_or_else(|| self.err("symbol"))
    }

    fn text(&self, i: usize, name: &'static str) -> Result<String, KisWsError> {
        std::str::from_utf8(self.raw(i)).map(str::to_owned).map_err(|_| self.err(name))
    }

    fn notice(
        &self,
        date: NaiveDate,
        width: usize,
        account: Option<&str>,
    ) -> Result<Option<Execution>, KisWsError> {
        if let Some(acct) = account
            && self.raw(1) != acct.as_bytes()
        {
            return Ok(None);
        }
        let side = match self.raw(4) {
            b"01" => Side::Sell,
            b"02" => Side::Buy,
            _ => return Err(self.err("SELN_BYOV_CLS")),
        };
        let broker_order_no = self.text(2, "ODER_NO")?;
        if broker_order_no.is_empty() {
            return Err(self.err("ODER_NO"));
        }
        let branch = self.text(15, "BRNC_NO")?;
        let symbol = self.symbol(8)?;
        let at = kst_to_utc(date, self.time(11, "STCK_CNTG_HOUR")?);
        let qty = self.dec(9, "CNTG_QTY")?;
        let price = self.dec(10, "CNTG_UNPR")?;
        match self.raw(13) {
            b"2" => {
                let fill =
                    NoticeFill { trade_date: date, broker_order_no, branch, symbol, side, qty, price, at };
                Ok(Some(Execution::Fill(fill)))
            }
            b"1" => {
                let kind = match (self.raw(12), self.raw(14), self.raw(5)) {
                    (b"1", _, _) => NoticeKind::Rejected,
                    (_, b"3", _) => NoticeKind::RemainderCanceled,
                    (_, _, b"1") => NoticeKind::ModifyAccepted,
                    (_, _, b"2") => NoticeKind::CancelAccepted,
                    (_, _, b"0") => NoticeKind::Accepted,
                    _ => return Err(self.err("RCTF_CLS")),
                };
                let order_qty = self.dec(16, "ODER_QTY")?;
                let order_price = self.dec(width - 1, "ODER_PRC")?;
                let original = self.text(3, "OODER_NO")?;
                Ok(Some(Execution::Notice(OrderNotice {
                    kind,
                    trade_date: date,
                    broker_order_no,
                    branch,
                    original_order_no: (!original.is_empty()).then_some(original),
                    symbol,
                    side,
                    qty: if order_qty.is_zero() { qty } else { order_qty },
                    price: if order_price.is_zero() { price } else { order_price },
                    at,
                })))
            }
            _ => Err(self.err("CNTG_YN")),
        }
    }
}

fn phase(code: &[u8]) -> SessionPhase {
    match code {
        b"0" => SessionPhase::Continuous,
        b"A" => SessionPhase::ClosingAuction,
        b"B" => SessionPhase::PreOpenAuction,
        b"C" => SessionPhase::ViAuction,
        b"D" => SessionPhase::AfterHoursAuction,
        _ => SessionPhase::Unknown,
    }
}

/// Parses unpadded or zero-padded decimal text (`"-0.14"`, `"000003190"`); empty means zero.
/// Returns `None` for anything else, including more than 18 significant digits.
pub fn parse_decimal(field: &[u8]) -> Option<Decimal> {
    let (neg, digits) = match field {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, field),
    };
    let mut mantissa: i64 = 0;
    let mut scale: u32 = 0;
    let mut seen_dot = false;
    let mut seen_digit = false;
    let mut significant = 0u32;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                if mantissa != 0 || b != b'0' {
                    significant += 1;
                    if significant > 18 {
                        return None;
                    }
                }
                mantissa = mantissa * 10 + i64::from(b - b'0');
                if seen_dot {
                    scale += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if !seen_digit && !field.is_empty() {
        return None;
    }
    if scale > 28 {
        return None;
    }
    Some(Decimal::new(if neg { -mantissa } else { mantissa }, scale))
}

fn two(b: &[u8], i: usize) -> Option<u32> {
    let hi = b.get(i)?.checked_sub(b'0').filter(|d| *d < 10)?;
    let lo = b.get(i + 1)?.checked_sub(b'0').filter(|d| *d < 10)?;
    Some(u32::from(hi) * 10 + u32::from(lo))
}

/// Parses `HHMMSS`.
pub fn parse_hhmmss(b: &[u8]) -> Option<NaiveTime> {
    if b.len() != 6 {
        return None;
    }
    NaiveTime::from_hms_opt(two(b, 0)?, two(b, 2)?, two(b, 4)?)
}

/// Parses `YYYYMMDD`.
pub fn parse_yyyymmdd(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 8 {
        return None;
    }
    let year = i32::try_from(two(b, 0)? * 100 + two(b, 2)?).ok()?;
    NaiveDate::from_ymd_opt(year, two(b, 4)?, two(b, 6)?)
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
