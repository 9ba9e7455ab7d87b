//! Shared helpers of the conformance suite: a frozen-clock simulator, a hand-written HTTP/1.1
//! client that keeps response header names byte for byte (REFERENCE.md §3.1/§3.2) and the
//! envelope checks of REFERENCE.md §3.2 and §9.

use std::net::SocketAddr;
use std::time::Duration;

use aegis::sim::{SimConfig, SimHandle};
use chrono::{DateTime, FixedOffset};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Account `50000000-01` split as REFERENCE.md §3.4 says, the HTS id, app key and secret (§1).
pub use crate::support::sim::{CANO, HTS as HTS_ID, PRDT, appkey, secret, tick};
pub const SYMBOL: &str = "005930";
pub const DAY1: &str = "20260303";
pub const DAY2: &str = "20260304";

pub const ORDER_CASH: &str = "/uapi/domestic-stock/v1/trading/order-cash";
pub const RVSECNCL: &str = "/uapi/domestic-stock/v1/trading/order-rvsecncl";
pub const DAILY_CCLD: &str = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld";
pub const BALANCE: &str = "/uapi/domestic-stock/v1/trading/inquire-balance";
pub const PSBL_ORDER: &str = "/uapi/domestic-stock/v1/trading/inquire-psbl-order";
pub const PRICE: &str = "/uapi/domestic-stock/v1/quotations/inquire-price";

/// `YYYY-MM-DDTHH:MM:SS` read as KST (UTC+9, REFERENCE.md conventions).
pub fn kst(local: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(&format!("{local}+09:00")).expect("KST timestamp")
}

/// 2026-03-03 (Tuesday) and 2026-03-04 are consecutive KRX trading days.
pub fn day1(hms: &str) -> DateTime<FixedOffset> {
    kst(&format!("2026-03-03T{hms}"))
}

pub fn day2(hms: &str) -> DateTime<FixedOffset> {
    kst(&format!("2026-03-04T{hms}"))
}

/// A paper host on a frozen clock at 2026-03-03 10:00:00 KST. The rate limit is raised so that
/// the 2 requests/s paper limit (§5.1) does not interfere with checks of other rules.
pub fn config() -> SimConfig {
    crate::support::sim::frozen(&[SYMBOL, "000660"], 11, Some(10_000))
}

pub async fn start() -> SimHandle {
    crate::support::sim::start(config()).await
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1
// ---------------------------------------------------------------------------------------------

/// One HTTP response as it was on the wire.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    /// Status line and header block, exactly as received (without the final blank line).
    pub head: String,
    /// Header (name, value) pairs with names byte for byte.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    /// The value of the header whose name is exactly `name` (byte comparison).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON, asserting it is UTF-8 (§3.2: "Body (JSON, UTF-8)").
    pub fn json(&self) -> Value {
        let text = std::str::from_utf8(&self.body)
            .unwrap_or_else(|e| panic!("body is not UTF-8 ({e}): {:?}", self.body));
        serde_json::from_str(text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
pub fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn query(q: &[(&str, &str)]) -> String {
    q.iter().map(|(k, v)| format!("{k}={}", pct(v))).collect::<Vec<_>>().join("&")
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the response: the
/// header block up to `\r\n\r\n`, then `Content-Length` body bytes (chunked bodies are decoded,
/// a response with neither is read to EOF).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Raw {
    tokio::time::timeout(Duration::from_secs(10), http_inner(addr, method, target, headers, body))
        .await
        .unwrap_or_else(|_| panic!("{method} {target}: no complete response within 10 s"))
}

async fn http_inner(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Raw {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    if method != "GET" || !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);

    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(req.as_bytes()).await.expect("write request");

    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.expect("read head");
        assert!(n > 0, "connection closed inside the header block: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("header block is not UTF-8");
    let mut rest = buf[head_end + 4..].to_vec();

    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap_or_else(|| panic!("bad header line {l:?}"));
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    let value = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v);

    let body = if let Some(len) = value("content-length") {
        let len: usize = len.parse().expect("Content-Length");
        while rest.len() < len {
            let n = stream.read(&mut chunk).await.expect("read body");
            assert!(n > 0, "connection closed after {} of {len} body bytes", rest.len());
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        rest
    } else {
        stream.read_to_end(&mut rest).await.expect("read body to EOF");
        if value("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            dechunk(&rest)
        } else {
            rest
        }
    };
    Raw { status, head, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = find(data, b"\r\n").expect("chunk size line");
        let size_text = std::str::from_utf8(&data[..eol]).expect("chunk size");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or_default().trim(), 16)
            .expect("hex chunk size");
        data = &data[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

// ---------------------------------------------------------------------------------------------
// KIS calls written from REFERENCE.md §2/§3/§4 and rest_endpoints.json
// ---------------------------------------------------------------------------------------------

pub async fn token_raw(addr: SocketAddr, appkey: &str) -> Raw {
    let body = json!({"grant_type":"client_credentials","appkey":appkey,"appsecret":secret()}).to_string();
    http(addr, "POST", "/oauth2/tokenP", &[("content-type", "application/json")], Some(&body)).await
}

pub async fn approval_raw(addr: SocketAddr, appkey: &str) -> Raw {
    let body = json!({"grant_type":"client_credentials","appkey":appkey,"secretkey":secret()}).to_string();
    http(addr, "POST", "/oauth2/Approval", &[("content-type", "application/json; utf-8")], Some(&body)).await
}

/// A raw KIS client bound to one app key and token (paper TR ids, §3.1).
#[derive(Debug, Clone)]
pub struct Kis {
    pub addr: SocketAddr,
    pub appkey: String,
    pub secret: String,
    pub token: String,
}

impl Kis {
    pub async fn new(sim: &SimHandle, n: u8) -> Self {
        let appkey = appkey(n);
        let r = token_raw(sim.addr, &appkey).await;
        assert_eq!(r.status, 200, "tokenP: {}", String::from_utf8_lossy(&r.body));
        let token = r.json()["access_token"].as_str().expect("access_token").to_owned();
        Self { addr: sim.addr, appkey, secret: secret(), token }
    }

    pub fn headers<'a>(&'a self, auth: &'a str, tr_id: &'a str, tr_cont: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("content-type", "application/json; charset=utf-8"),
            ("authorization", auth),
            ("appkey", &self.appkey),
            ("appsecret", &self.secret),
            ("tr_id", tr_id),
            ("tr_cont", tr_cont),
            ("custtype", "P"),
        ]
    }

    pub async fn get(&self, path: &str, tr_id: &str, q: &[(&str, &str)], tr_cont: &str) -> Raw {
        let auth = format!("Bearer {}", self.token);
        let target = format!("{path}?{}", query(q));
        http(self.addr, "GET", &target, &self.headers(&auth, tr_id, tr_cont), None).await
    }

    pub async fn post(&self, path: &str, tr_id: &str, body: &Value) -> Raw {
        let auth = format!("Bearer {}", self.token);
        let body = body.to_string();
        http(self.addr, "POST", path, &self.headers(&auth, tr_id, ""), Some(&body)).await
    }

    /// Limit buy (`ORD_DVSN 00`), paper TR `VTTC0012U` (§4.1).
    pub async fn buy(&self, code: &str, qty: u32, price: i64) -> Raw {
        let body = json!({"CANO":CANO,"ACNT_PRDT_CD":PRDT,"PDNO":code,"ORD_DVSN":"00",
            "ORD_QTY":qty.to_string(),"ORD_UNPR":price.to_string(),"EXCG_ID_DVSN_CD":"KRX"});
        self.post(ORDER_CASH, "VTTC0012U", &body).await
    }

    /// Cancel of the whole remainder (§4.2 "Cancel everything left"), paper TR `VTTC0013U`.
    pub async fn cancel_all(&self, orgno: &str, odno: &str) -> Raw {
        let body = json!({"CANO":CANO,"ACNT_PRDT_CD":PRDT,"KRX_FWDG_ORD_ORGNO":orgno,"ORGN_ODNO":odno,
            "ORD_DVSN":"00","RVSE_CNCL_DVSN_CD":"02","ORD_QTY":"0","ORD_UNPR":"0","QTY_ALL_ORD_YN":"Y"});
        self.post(RVSECNCL, "VTTC0013U", &body).await
    }

    /// inquire-daily-ccld for one day, oldest first, paper TR `VTTC0081R` (§4.4).
    pub async fn daily_ccld(&self, date: &str, fk: &str, nk: &str, tr_cont: &str) -> Raw {
        let q = crate::support::sim::daily_ccld_query(date, "01", fk, nk);
        self.get(DAILY_CCLD, "VTTC0081R", &q, tr_cont).await
    }

    /// Every row of one day's inquire-daily-ccld, following `tr_cont` (§3.3).
    pub async fn daily_ccld_all(&self, date: &str) -> Vec<Value> {
        let (mut rows, mut fk, mut nk, mut cont) = (Vec::new(), String::new(), String::new(), "");
        for _ in 0..100 {
            let r = self.daily_ccld(date, &fk, &nk, cont).await;
            let v = r.json();
            assert_eq!(v["rt_cd"], "0", "daily-ccld {date}: {v}");
            rows.extend(v["output1"].as_array().cloned().unwrap_or_default());
            if !matches!(r.header("tr_cont"), Some("F" | "M")) {
                return rows;
            }
            fk = v["ctx_area_fk100"].as_str().unwrap_or_default().to_owned();
            nk = v["ctx_area_nk100"].as_str().unwrap_or_default().to_owned();
            cont = "N";
        }
        panic!("daily-ccld {date}: more than 100 pages");
    }

    /// inquire-balance, paper TR `VTTC8434R` (§4.5).
    pub async fn balance(&self) -> Raw {
        self.get(BALANCE, "VTTC8434R", &crate::support::sim::BALANCE_QUERY, "").await
    }

    /// inquire-psbl-order, paper TR `VTTC8908R` (§4.6).
    pub async fn psbl_order(&self, code: &str) -> Raw {
        let q = [
            ("CANO", CANO),
            ("ACNT_PRDT_CD", PRDT),
            ("PDNO", code),
            ("ORD_UNPR", ""),
            ("ORD_DVSN", "01"),
            ("CMA_EVLU_AMT_ICLD_YN", "N"),
            ("OVRS_ICLD_YN", "N"),
        ];
        self.get(PSBL_ORDER, "VTTC8908R", &q, "").await
    }

    /// The current price and its tick (§4.7 `stck_prpr`, `aspr_unit`).
    pub async fn price(&self, code: &str) -> (i64, i64) {
        let q = [("FID_COND_MRKT_DIV_CODE", "J"), ("FID_INPUT_ISCD", code)];
        let v = self.get(PRICE, "FHKST01010100", &q, "").await.json();
        let n = |k: &str| v["output"][k].as_str().and_then(|s| s.parse::<i64>().ok());
        (n("stck_prpr").unwrap_or_else(|| panic!("stck_prpr: {v}")), n("aspr_unit").unwrap_or(0))
    }

    /// A limit price `ticks` ticks below the current price (each KRX tick divides the next
    /// larger one, §8, so the result stays on the grid).
    pub async fn price_below(&self, code: &str, ticks: i64) -> i64 {
        let (prpr, unit) = self.price(code).await;
        prpr - ticks * if unit > 0 { unit } else { tick(prpr) }
    }

    /// A buy limit about 20 % under the market, inside the ±30 % band (§8), on the tick grid:
    /// it rests for the day on any plausible path of the market.
    pub async fn resting_buy_price(&self, code: &str) -> i64 {
        let (prpr, _) = self.price(code).await;
        let p = prpr * 8 / 10;
        p - p % tick(p)
    }
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// A key of a JSON object looked up case-insensitively (§3.2: "parse keys case-insensitively").
pub fn field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).and_then(|(_, v)| v.as_str())
}

/// Problems with the response header names against §3.2: exactly one `Content-Type` spelled so
/// (with a JSON media type; the exact value is UNCONFIRMED), `tr_id`/`tr_cont`/`gt_uid` only in
/// lowercase, `tr_id` echoing the request's, and `tr_cont` F/M/D/E on pageable inquiries and
/// absent or empty on the others (§3.3).
pub fn header_problems(r: &Raw, tr_id: Option<&str>, pageable: Option<bool>) -> Vec<String> {
    let mut p = Vec::new();
    let named = |lower: &str| -> Vec<&(String, String)> {
        r.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(lower)).collect()
    };
    let ct = named("content-type");
    match ct.as_slice() {
        [(n, v)] => {
            if n != "Content-Type" {
                p.push(format!("content type header is named {n:?}, expected \"Content-Type\""));
            }
            if !v.to_ascii_lowercase().starts_with("application/json") {
                p.push(format!("Content-Type value {v:?} is not application/json"));
            }
        }
        [] => p.push("no Content-Type header".to_owned()),
        many => p.push(format!("{} content type headers: {many:?}", many.len())),
    }
    for lower in ["tr_id", "tr_cont", "gt_uid"] {
        let hs = named(lower);
        for (n, _) in &hs {
            if n != lower {
                p.push(format!("header named {n:?}, expected lowercase {lower:?}"));
            }
        }
        if hs.len() > 1 {
            p.push(format!("{} {lower} headers", hs.len()));
        }
    }
    if let Some(want) = tr_id {
        match r.header("tr_id") {
            Some(got) if got == want => {}
            got => p.push(format!("tr_id header {got:?}, expected echo {want:?}")),
        }
    }
    match (pageable, r.header("tr_cont")) {
        (Some(true), Some("F" | "M" | "D" | "E")) | (Some(false), None | Some("")) | (None, _) => {}
        (Some(true), got) => p.push(format!("pageable inquiry: tr_cont {got:?}, expected F/M/D/E")),
        (Some(false), got) => p.push(format!("non-pageable API: tr_cont {got:?}, expected absent/empty")),
    }
    p
}

/// Envelope of §3.2: `rt_cd`, `msg_cd` (8 chars), `msg1` are strings, and every value under an
/// `output*` key — at any depth — is a JSON string ("All numbers are strings"); so are the
/// `ctx_area_*` keys.
pub fn assert_envelope(what: &str, v: &Value) {
    for k in ["rt_cd", "msg_cd", "msg1"] {
        assert!(v[k].is_string(), "{what}: {k} missing or not a string in {v}");
    }
    let msg_cd = v["msg_cd"].as_str().unwrap_or_default();
    assert_eq!(msg_cd.len(), 8, "{what}: msg_cd {msg_cd:?} is not 8 characters");
    let obj = v.as_object().expect("envelope object");
    for (k, val) in obj {
        if k.starts_with("output") {
            all_strings(what, k, val);
        }
        if k.starts_with("ctx_area") {
            assert!(val.is_string(), "{what}: {k} is not a string: {val}");
        }
    }
}

fn all_strings(what: &str, path: &str, v: &Value) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| all_strings(what, &format!("{path}.{k}"), x)),
        Value::Array(a) => {
            a.iter().enumerate().for_each(|(i, x)| all_strings(what, &format!("{path}[{i}]"), x))
        }
        Value::String(_) => {}
        other => panic!("{what}: {path} is {other}, not a JSON string (§3.2: all values are strings)"),
    }
}

/// Width of `s` in EUC-KR bytes (ASCII 1, Hangul 2 — §3.2).
pub fn euc_kr_width(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// Account inquiries right-pad `msg1` with spaces to 80 EUC-KR bytes (§3.2, §9).
pub fn assert_msg1_padded(what: &str, v: &Value) {
    let msg1 = v["msg1"].as_str().unwrap_or_default();
    assert_eq!(euc_kr_width(msg1), 80, "{what}: msg1 {msg1:?} is not padded to 80 EUC-KR bytes");
    assert!(msg1.ends_with(' '), "{what}: msg1 {msg1:?} is not space-padded");
}

/// §3.2/§9: gateway errors come as HTTP 500 with an envelope whose `rt_cd` is not `"0"` and whose
/// `msg_cd` is an `EGW…` code (one of `codes` when given).
pub fn assert_gateway_error(what: &str, r: &Raw, codes: &[&str]) {
    let v: Value = r.json();
    assert_eq!(r.status, 500, "{what}: gateway errors are HTTP 500 (§9): {v}");
    assert_envelope(what, &v);
    assert_ne!(v["rt_cd"], "0", "{what}: {v}");
    let cd = v["msg_cd"].as_str().unwrap_or_default();
    assert!(cd.starts_with("EGW"), "{what}: msg_cd {cd:?} is not a gateway code");
    assert!(codes.is_empty() || codes.contains(&cd), "{what}: msg_cd {cd:?}, expected one of {codes:?}");
}
