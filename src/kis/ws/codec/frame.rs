//! The frame level: a server text frame split into its data-frame header and payload, or parsed
//! as a JSON control frame (subscribe acks with the notice key and iv, PINGPONG).

use serde::Deserialize;

use super::MAX_FRAME_BYTES;
use crate::kis::ws::crypto::NoticeCipher;
use crate::kis::ws::error::KisWsError;

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
