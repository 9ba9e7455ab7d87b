//! The [`Decoder`]: decodes a data frame into typed events, one loop per channel, each record
//! parsed in place into the frame's own vector, which is handed out by value.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::frame::DataFrame;
use super::kst::KstDay;
use super::market::Market;
use super::notice::{ExecutionRecord, Rec};
use super::separators::Separators;
use super::trade::TradeDay;
use super::{Channel, MAX_RECORD_FIELDS, NOTICE_FIELDS_LEGACY};
use crate::domain::market::MarketBatch;
use crate::kis::ws::crypto::NoticeCipher;
use crate::kis::ws::error::KisWsError;
use crate::ports::Secret;

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

/// The records of one data frame, all of its channel, in order, owned: the frame's one vector,
/// into which each record was parsed in place (nothing is allocated or copied per record), is
/// passed on as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Records {
    /// Trade prints (H0STCNT0) or 10-level books (H0STASP0).
    Market(MarketBatch),
    /// Our executions (H0STCNI0 / H0STCNI9); notices of other accounts are left out.
    Executions(Vec<ExecutionRecord>),
}

impl Records {
    /// Number of records.
    pub fn len(&self) -> usize {
        match self {
            Self::Market(r) => r.len(),
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
pub struct Decoded {
    /// Set the first time a channel's records carry extra fields.
    pub drift: Option<LayoutDrift>,
    /// The frame's records.
    pub records: Records,
}

/// Decodes data frames into typed events; remembers notice keys, which drifts were reported and
/// the last trade date.
#[derive(Default)]
pub struct Decoder {
    session: Option<KstDay>,
    account: Option<Secret>,
    ciphers: HashMap<String, NoticeCipher>,
    drift_reported: [bool; 3],
    separators: Separators,
    /// The last trade date seen (`BSOP_DATE` bytes) and its day, parsed once per change.
    trade_day: TradeDay,
}

impl std::fmt::Debug for Decoder {
    // The channels with keys, not the keys; not the separator scratch.
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

    /// Decodes every record of a data frame into one vector, returned by value (one allocation
    /// per frame).
    ///
    /// # Errors
    /// Returns [`KisWsError`] when the frame is malformed; nothing of it is returned then (nor a
    /// layout drift it showed: the next well-formed frame reports that).
    pub fn decode(&mut self, frame: &DataFrame<'_>) -> Result<Decoded, KisWsError> {
        let channel =
            Channel::of(frame.tr_id).ok_or_else(|| KisWsError::UnsupportedChannel(frame.tr_id.to_owned()))?;
        let (width, known, records) = if frame.encrypted {
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
        Ok(Decoded { drift, records })
    }

    /// Decodes the `count` records of a payload; returns the record width, the known width and
    /// the records.
    fn decode_records(
        &mut self,
        channel: Channel,
        tr: &str,
        count: usize,
        payload: &str,
    ) -> Result<(usize, usize, Records), KisWsError> {
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
        let records = match channel {
            Channel::Trades => {
                let mut events = MarketBatch::with_capacity(count);
                Market::new(walk, tr).trades(count, width, &mut self.trade_day, &mut events)?;
                Records::Market(events)
            }
            Channel::Book => {
                let mut events = MarketBatch::with_capacity(count);
                Market::new(walk, tr).books(count, width, &session, &mut events)?;
                Records::Market(events)
            }
            Channel::Notices => {
                let mut executions = Vec::with_capacity(count);
                let mut walk = walk;
                for _ in 0..count {
                    let mut rec: [&[u8]; MAX_RECORD_FIELDS] = [&[]; MAX_RECORD_FIELDS];
                    for slot in rec.iter_mut().take(width) {
                        *slot = walk.field();
                    }
                    let r = Rec { f: rec.get(..width).unwrap_or_default(), tr };
                    if let Some(ev) = r.notice(session.date(), known, account)? {
                        executions.push(ev);
                    }
                }
                Records::Executions(executions)
            }
        };
        Ok((width, known, records))
    }
}
