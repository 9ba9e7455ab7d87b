//! Wire helpers shared by the REST handlers: an insertion-ordered JSON value (KIS key order),
//! the response envelope, `msg1`/`ctx_area` padding and the gateway / token error bodies.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose objects keep insertion order (KIS field order).
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    /// A string (KIS sends every number as a string).
    S(String),
    /// A JSON number (token endpoints only).
    N(i64),
    /// An object in key order.
    O(Vec<(String, J)>),
    /// An array.
    A(Vec<J>),
    /// A raw value passed through (hashkey echo).
    Raw(serde_json::Value),
}

impl Serialize for J {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::S(v) => s.serialize_str(v),
            Self::N(n) => s.serialize_i64(*n),
            Self::O(pairs) => {
                let mut m = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Self::A(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    q.serialize_element(v)?;
                }
                q.end()
            }
            Self::Raw(v) => v.serialize(s),
        }
    }
}

/// Returns a string value.
pub fn s(v: impl ToString) -> J {
    J::S(v.to_string())
}

/// Builds an object from `(key, value)` pairs.
pub fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, J)>) -> J {
    J::O(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// Builds an object with the keys of `names` in order, taking values from `get` (default `""`).
pub fn fields(names: &[&str], mut get: impl FnMut(&str) -> Option<String>) -> J {
    J::O(names.iter().map(|n| ((*n).to_owned(), J::S(get(n).unwrap_or_default()))).collect())
}

/// Right-pads `msg` with spaces to `width` bytes measured in EUC-KR (Hangul = 2 bytes).
pub fn pad_euckr(msg: &str, width: usize) -> String {
    let (bytes, _, _) = encoding_rs::EUC_KR.encode(msg);
    let len = bytes.len();
    let mut out = msg.to_owned();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(len)));
    out
}

/// Right-pads a paging key with spaces to 100 characters.
pub fn pad100(key: &str) -> String {
    format!("{key:<100}")
}

/// Builds a JSON response with the KIS content type and `tr_id` / `tr_cont` headers.
pub fn respond(status: StatusCode, tr_id: Option<&str>, tr_cont: Option<&str>, body: &J) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    if let Some(t) = tr_id.and_then(|t| HeaderValue::from_str(t).ok()) {
        h.insert("tr_id", t);
    }
    if let Some(c) = tr_cont.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert("tr_cont", c);
    }
    r
}

/// Returns the envelope head `rt_cd`, `msg_cd`, `msg1`.
pub fn head(rt_cd: &str, msg_cd: &str, msg1: &str) -> Vec<(String, J)> {
    vec![("rt_cd".to_owned(), s(rt_cd)), ("msg_cd".to_owned(), s(msg_cd)), ("msg1".to_owned(), s(msg1))]
}

/// A gateway/server error: HTTP 500 with `{"rt_cd":"1","msg_cd":…,"msg1":…}`.
pub fn gateway(code: &str, msg: &str, tr_id: Option<&str>) -> Response<Body> {
    respond(StatusCode::INTERNAL_SERVER_ERROR, tr_id, None, &J::O(head("1", code, msg)))
}

/// A token-endpoint error: HTTP 403 with `{"error_description":…,"error_code":…}`.
pub fn token_error(code: &str, desc: &str) -> Response<Body> {
    respond(
        StatusCode::FORBIDDEN,
        None,
        None,
        &obj([("error_description", s(desc)), ("error_code", s(code))]),
    )
}

/// A business result with HTTP 200.
pub fn business(rt_cd: &str, code: &str, msg: &str, tr_id: &str) -> Response<Body> {
    respond(StatusCode::OK, Some(tr_id), None, &J::O(head(rt_cd, code, msg)))
}

/// Gateway message texts by code.
pub mod msg {
    /// Rate limit exceeded.
    pub const EGW00201: &str = "초당 거래건수를 초과하였습니다.";
    /// Expired token.
    pub const EGW00123: &str = "기간이 만료된 token 입니다.";
    /// Invalid token.
    pub const EGW00121: &str = "유효하지 않은 token 입니다.";
    /// Token throttled.
    pub const EGW00133: &str = "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)";
    /// Invalid app key.
    pub const EGW00103: &str = "유효하지 않은 AppKey입니다.";
    /// Missing app key.
    pub const EGW00102: &str = "AppKey는 필수입니다.";
    /// Invalid app secret.
    pub const EGW00105: &str = "유효하지 않은 AppSecret입니다.";
    /// Unsupported grant type.
    pub const EGW00116: &str = "지원하지 않는 grant_type입니다.";
    /// Not a paper TR.
    pub const EGW00213: &str = "모의투자 TR이 아닙니다.";
    /// Overload / routing.
    pub const EGW00203: &str = "OPS라우팅 중 오류가 발생했습니다.";
    /// Invalid hashkey.
    pub const EGW00131: &str = "유효하지 않은 hashkey입니다.";
    /// Bearer missing.
    pub const EGW00205: &str = "credentials_type이 유효하지 않습니다.(Bearer)";
    /// Unknown service.
    pub const OPSQ0002: &str = "없는 서비스 코드 입니다";
    /// Bad account.
    pub const OPSQ2000: &str = "ERROR : INPUT INVALID_CHECK_ACNO";
    /// Bad market division code.
    pub const OPSQ2001: &str = "ERROR : INPUT INVALID_CHECK_MRKT_DIV_CODE";
    /// Bad JSON.
    pub const OPSQ9997: &str = "JSON PARSING ERROR : invalid json format";
    /// Inquiry complete.
    pub const KIOK0510: &str = "조회가 완료되었습니다";
    /// More pages.
    pub const KIOK0500: &str = "조회가 계속됩니다..다음버튼을 Click 하십시오.";
    /// Plain success.
    pub const KIOK0420: &str = "정상적으로 조회되었습니다";
    /// Product lookups.
    pub const KIOK0530: &str = "조회되었습니다";
    /// Quotations.
    pub const MCA00000: &str = "정상처리 되었습니다.";
    /// Order sent.
    pub const APBK0013: &str = "주문 전송 완료 되었습니다.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg1_pads_to_80_euckr_bytes() {
        let m = pad_euckr("조회가 완료되었습니다", 80);
        let (b, _, _) = encoding_rs::EUC_KR.encode(&m);
        assert_eq!(b.len(), 80);
        assert!(m.starts_with("조회가 완료되었습니다 "));
        assert_eq!(pad100("ab").len(), 100);
    }

    #[test]
    fn objects_keep_insertion_order() {
        let j = obj([("rt_cd", s("0")), ("msg_cd", s("X")), ("a", J::A(vec![s(1)]))]);
        assert_eq!(serde_json::to_string(&j).unwrap(), r#"{"rt_cd":"0","msg_cd":"X","a":["1"]}"#);
    }
}
