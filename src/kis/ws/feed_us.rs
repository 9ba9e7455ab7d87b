//! The US channels of the feed (issue #23): HDFSCNT0 trades, HDFSASP0 level-1 books and the
//! encrypted H0GSCNI0 / H0GSCNI9 notices, read by [`crate::kis::ws::codec::overseas`] and handed
//! on as the market-neutral events the KRX channels produce ([`MarketEvent`], [`ExecutionEvent`]),
//! so the engine stays market-agnostic. They share the socket, the registry, the malformed-frame
//! count and the layout-drift report with the KRX channels; the KRX frames never come here (the
//! domestic [`crate::kis::ws::codec::Decoder`] is left as it is).
//!
//! The mapping:
//! - a print ([`UsTrade`]) is a [`TradeTick`] of the ticker (see [`trade`] for its phase);
//! - a level-1 book ([`UsBookTop`]) is a [`QuoteEvent`] with level 1 filled, the other levels
//!   empty (zero) and the totals the level-1 quantities;
//! - a notice ([`UsExecution`]) is an [`OrderNotice`] or a [`FillNotice`] of the ticker whose
//!   trading date is the New York date it arrives on (see [`notice`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Timelike, Utc};

use crate::domain::Symbol;
use crate::domain::market::{
    BOOK_DEPTH, BookLevel, FillNotice, MarketBatch, MarketEvent, NoticeKind, OrderNotice, QuoteEvent,
    SessionPhase, TradeTick, kst_to_utc, to_kst,
};
use crate::domain::overseas::{Ticker, UsBookTop, UsExecution, UsNoticeKind, UsTrade, UsTradeSession};
use crate::kis::ws::codec::layout::{us_book, us_notice, us_trade};
use crate::kis::ws::codec::overseas::{
    decode_us_book, decode_us_notices, decode_us_trades, is_overseas, record_width,
};
use crate::kis::ws::codec::{DataFrame, Decoded, ExecutionRecord, LayoutDrift, Records, parse_hhmmss};
use crate::kis::ws::crypto::NoticeCipher;
use crate::kis::ws::error::KisWsError;

/// The paper account's overseas notice channel (the live one is [`us_notice::TR_ID`]).
const PAPER_NOTICES: &str = "H0GSCNI9";

/// Whether a TR id is one of the US channels.
pub(super) fn is_us(tr_id: &str) -> bool {
    is_overseas(tr_id)
}

/// What the feed keeps for the US channels: the notice ciphers of the acknowledgements and the
/// channels whose layout drift was reported (once per channel, as the KRX ones).
#[derive(Default)]
pub(super) struct UsChannels {
    ciphers: HashMap<String, NoticeCipher>,
    drift_reported: HashSet<String>,
}

impl std::fmt::Debug for UsChannels {
    // The channels with keys, not the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsChannels")
            .field("channels_with_keys", &self.ciphers.keys().collect::<Vec<_>>())
            .field("drift_reported", &self.drift_reported)
            .finish()
    }
}

impl UsChannels {
    /// Stores the cipher of an encrypted US channel (from its acknowledgement).
    pub(super) fn set_cipher(&mut self, tr_id: &str, cipher: NoticeCipher) {
        self.ciphers.insert(tr_id.to_owned(), cipher);
    }

    /// Decodes a data frame of a US channel into the events the KRX channels produce; notices
    /// of accounts other than `account` are left out; `now` is the arrival (the notices' dates).
    ///
    /// # Errors
    /// [`KisWsError`] when the frame is malformed (nothing of it is returned then), as the
    /// domestic decoder.
    pub(super) fn decode(
        &mut self,
        frame: &DataFrame<'_>,
        account: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Decoded, KisWsError> {
        let plain;
        let payload = if frame.encrypted {
            let cipher =
                self.ciphers.get(frame.tr_id).ok_or_else(|| KisWsError::MissingKey(frame.tr_id.into()))?;
            plain = cipher.decrypt(frame.payload)?;
            plain.as_str()
        } else {
            frame.payload
        };
        let tr = frame.tr_id;
        let frame = DataFrame { encrypted: false, tr_id: tr, count: frame.count, payload };
        let (known, records) = match tr {
            us_trade::TR_ID => {
                let batch = decode_us_trades(&frame)?.into_iter().map(|t| trade(t, tr)).collect::<Result<
                    MarketBatch,
                    _,
                >>(
                )?;
                (us_trade::WIDTH, Records::Market(batch))
            }
            us_book::TR_ID => {
                let batch =
                    decode_us_book(&frame)?.into_iter().map(|b| quote(b, tr)).collect::<Result<_, _>>()?;
                (us_book::WIDTH, Records::Market(batch))
            }
            us_notice::TR_ID | PAPER_NOTICES => {
                let executions = decode_us_notices(&frame, account)?
                    .into_iter()
                    .map(|n| notice(n, tr, now))
                    .collect::<Result<_, _>>()?;
                (us_notice::WIDTH, Records::Executions(executions))
            }
            other => return Err(KisWsError::UnsupportedChannel(other.to_owned())),
        };
        let width = record_width(payload, frame.count);
        let drift = (width > known && !self.drift_reported.contains(tr)).then(|| {
            self.drift_reported.insert(tr.to_owned());
            LayoutDrift { tr_id: tr.to_owned(), expected: known, observed: width }
        });
        Ok(Decoded { drift, records })
    }
}

/// The ticker as a [`Symbol`]; a ticker the domain does not take as a US symbol is a malformed
/// `field`.
fn symbol(ticker: &Ticker, tr: &str, field: &'static str) -> Result<Symbol, KisWsError> {
    Symbol::us_ticker(ticker.as_str().as_bytes())
        .ok_or_else(|| KisWsError::Field { tr: tr.to_owned(), field })
}

/// A US print as a [`TradeTick`] of the ticker. Pre- and after-market prints (`MTYP` 2, 3) are
/// continuous trading like the regular session's, so all three map to
/// [`SessionPhase::Continuous`] (the print's time tells them apart); an unknown `MTYP` maps to
/// [`SessionPhase::Unknown`]. HDFSCNT0 flags neither the print's aggressor (`None`) nor a halt
/// (`false`). Prices, `cum_value` included, are USD.
fn trade(t: UsTrade, tr: &str) -> Result<MarketEvent, KisWsError> {
    let phase = match t.session {
        UsTradeSession::Regular | UsTradeSession::PreMarket | UsTradeSession::AfterMarket => {
            SessionPhase::Continuous
        }
        UsTradeSession::Unknown => SessionPhase::Unknown,
    };
    Ok(MarketEvent::Trade(TradeTick {
        symbol: symbol(&t.ticker, tr, us_trade::RSYM.name)?,
        at: t.at,
        price: t.price,
        qty: t.qty,
        change: t.change,
        change_rate: t.change_rate,
        open: t.open,
        high: t.high,
        low: t.low,
        best_ask: t.best_ask,
        best_bid: t.best_bid,
        cum_volume: t.cum_volume,
        cum_value: t.cum_value,
        aggressor: None,
        phase,
        halted: false,
    }))
}

/// A US level-1 book as a [`QuoteEvent`]: level 1 filled, the others empty, the totals the
/// level-1 quantities; no auction (expected price and quantity zero), no volume (HDFSASP0 carries
/// none: zero).
fn quote(b: UsBookTop, tr: &str) -> Result<MarketEvent, KisWsError> {
    let mut asks = [BookLevel::default(); BOOK_DEPTH];
    let mut bids = [BookLevel::default(); BOOK_DEPTH];
    asks[0] = BookLevel { price: b.ask, qty: b.ask_qty };
    bids[0] = BookLevel { price: b.bid, qty: b.bid_qty };
    Ok(MarketEvent::Quote(QuoteEvent {
        symbol: symbol(&b.ticker, tr, us_book::RSYM.name)?,
        at: b.at,
        phase: SessionPhase::Continuous,
        asks,
        bids,
        total_ask_qty: b.ask_qty,
        total_bid_qty: b.bid_qty,
        expected_price: rust_decimal::Decimal::ZERO,
        expected_qty: rust_decimal::Decimal::ZERO,
        cum_volume: rust_decimal::Decimal::ZERO,
    }))
}

/// The US trading date of a notice arriving at `now`: the New York date (an order number names
/// an order within the US session's local date, which a KST date would split at midnight KST).
pub(super) fn us_trade_date(now: DateTime<Utc>) -> NaiveDate {
    crate::domain::sessions::trade_date_in(crate::domain::MarketRegion::Us, now)
}

/// The execution time of a US notice (KST, as [`FillNotice::exec_time`] is) and its instant.
///
/// `STCK_CNTG_HOUR`'s format and time zone are UNCONFIRMED (overseas.md §4.3, §6 item 9): it is
/// read as `HHMMSS` KST — the documented default, as the domestic notices give it and the
/// simulator sends it unless `--us-local-times` — on the KST date that puts it nearest to the
/// arrival `now` (the US session crosses midnight KST). A time that does not parse is replaced by
/// the arrival time (KST, whole seconds): the notice is reported, not dropped.
pub(super) fn exec_time(raw: &str, now: DateTime<Utc>) -> (NaiveTime, DateTime<Utc>) {
    let arrival = to_kst(now);
    let Some(time) = parse_hhmmss(raw.as_bytes()) else {
        let at = now.with_nanosecond(0).unwrap_or(now);
        return (to_kst(at).time(), at);
    };
    let today = arrival.date_naive();
    let at = [today.checked_sub_days(Days::new(1)), Some(today), today.checked_add_days(Days::new(1))]
        .into_iter()
        .flatten()
        .map(|d| kst_to_utc(d, time))
        .min_by_key(|at| (*at - now).abs())
        .unwrap_or_else(|| kst_to_utc(today, time));
    (time, at)
}

/// A US notice as an [`ExecutionRecord`] of the ticker: a fill as a [`FillNotice`], a receipt
/// (accepted, modify or cancel accepted, rejected) as an [`OrderNotice`] carrying the order's
/// quantity and price. Its trading date is [`us_trade_date`] of the arrival, its time
/// [`exec_time`]; the branch is the notice's `BRNC_NO` (empty when blank).
fn notice(n: UsExecution, tr: &str, now: DateTime<Utc>) -> Result<ExecutionRecord, KisWsError> {
    let symbol = symbol(&n.ticker, tr, us_notice::STCK_SHRN_ISCD.name)?;
    let trade_date = us_trade_date(now);
    let (time, at) = exec_time(&n.time, now);
    let kind = match n.kind {
        UsNoticeKind::Fill => {
            return Ok(ExecutionRecord::Fill(FillNotice {
                trade_date,
                exec_time: time,
                broker_order_no: n.broker_order_no,
                branch: n.branch,
                symbol,
                side: n.side,
                qty: n.qty,
                price: n.price,
            }));
        }
        UsNoticeKind::Accepted => NoticeKind::Accepted,
        UsNoticeKind::ModifyAccepted => NoticeKind::ModifyAccepted,
        UsNoticeKind::CancelAccepted => NoticeKind::CancelAccepted,
        UsNoticeKind::Rejected => NoticeKind::Rejected,
    };
    Ok(ExecutionRecord::Notice(OrderNotice {
        kind,
        trade_date,
        broker_order_no: n.broker_order_no,
        branch: n.branch,
        original_order_no: n.original_order_no,
        symbol,
        side: n.side,
        qty: n.qty,
        price: n.price,
        at,
    }))
}
