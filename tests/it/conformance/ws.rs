//! WebSocket (REFERENCE.md §2.3, §5.3, §6.1-§6.9, §9; ws_fields.json): approval key from
//! `/oauth2/Approval` with `secretkey`, subscribe message and ack shape, `0|H0STCNT0|NNN|…` and
//! `0|H0STASP0|NNN|…` frames with 46 / 59 fields per record and the documented field types,
//! AES-256-CBC `1|H0STCNI9|NNN|…` notices with 26 fields, unsubscribe, PINGPONG echo.

use std::time::Duration;

use aegis::sim::{Sim, SimConfig};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::wire::*;
use crate::support::ws::{Ws, decrypt, request};

/// Field types per record, in order, from ws_fields.json `channels.<TR>.fields[].type`.
const H0STCNT0_TYPES: &str = "str hhmmss int code int_signed dec_signed dec int int int int int int int int int int int_signed \
    dec int int code dec dec hhmmss code int_signed hhmmss code int_signed hhmmss code int_signed \
    yyyymmdd code yn int int int int dec int dec code code int";
const H0STASP0_TYPES: &str = "str hhmmss code int int int int int int int int int int int int int int int int int int int int \
    int int int int int int int int int int int int int int int int int int int int int int int int \
    int int int int_signed code dec_signed int int_signed int_signed int_signed int_signed code";
const H0STCNI9_TYPES: &str = "str str str str code code code code str int int hhmmss code code code str int str int code yn \
    str code yyyymmdd str int";
/// `*_SIGN` fields of H0STCNT0 (§6.7: sign codes 1-5) and its `CCLD_DVSN` (1, 3 or 5).
const H0STCNT0_SIGNS: [usize; 4] = [3, 25, 28, 31];
const H0STCNT0_CCLD_DVSN: usize = 21;

async fn approval_key(sim: &aegis::sim::SimHandle, key: &str) -> String {
    let r = approval_raw(sim.addr, key).await;
    let v = r.json();
    assert_eq!(r.status, 200, "{v}");
    let k = v["approval_key"].as_str().unwrap_or_else(|| panic!("approval_key: {v}"));
    assert_eq!(k.len(), 36, "approval_key {k:?} is 36 characters (§2.3)");
    k.to_owned()
}

/// The next text frame within `secs` (§6.1: all server messages are text frames).
async fn next_text(ws: &mut Ws, secs: f64) -> Option<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next()).await.ok()?;
        match m.expect("stream ended").expect("ws error") {
            Message::Text(t) => return Some(t.as_str().to_owned()),
            Message::Close(c) => panic!("server closed the session: {c:?}"),
            _ => {}
        }
    }
}

fn is_pingpong(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|v| v["header"]["tr_id"] == "PINGPONG")
}

/// Sends a request and returns its JSON ack, keeping data frames that arrive meanwhile.
async fn ack(ws: &mut Ws, msg: String, frames: &mut Vec<String>) -> Value {
    ws.send(Message::text(msg)).await.expect("ws send");
    loop {
        let t = next_text(ws, 3.0).await.expect("no ack within 3 s");
        if !t.starts_with('{') {
            frames.push(t);
        } else if !is_pingpong(&t) {
            return serde_json::from_str(&t).expect("ack JSON");
        }
    }
}

/// §6.3 ack of a successful subscribe; returns (key, iv) when present.
fn assert_subscribed(ack: &Value, tr_id: &str, tr_key: &str) -> Option<(String, String)> {
    assert_eq!(ack["header"]["tr_id"], tr_id, "{ack}");
    assert_eq!(ack["header"]["tr_key"], tr_key, "{ack}");
    assert_eq!(ack["body"]["rt_cd"], "0", "{ack}");
    assert_eq!(ack["body"]["msg_cd"], "OPSP0000", "{ack}");
    assert_eq!(ack["body"]["msg1"], "SUBSCRIBE SUCCESS", "{ack}");
    let out = ack["body"].get("output")?;
    let (key, iv) = (out["key"].as_str().unwrap_or_default(), out["iv"].as_str().unwrap_or_default());
    assert!(key.len() == 32 && key.is_ascii(), "ack key {key:?} is 32 ASCII characters (§6.3)");
    assert!(iv.len() == 16 && iv.is_ascii(), "ack iv {iv:?} is 16 ASCII characters (§6.3)");
    Some((key.to_owned(), iv.to_owned()))
}

/// Splits a data frame on its first three `|` (§6.5): (enc, tr_id, count, payload).
fn split_frame(frame: &str) -> (&str, &str, usize, &str) {
    let mut it = frame.splitn(4, '|');
    let mut next = || it.next().unwrap_or_else(|| panic!("frame {frame:?} has fewer than four parts"));
    let (enc, tr, cnt, payload) = (next(), next(), next(), next());
    assert!(cnt.len() == 3 && cnt.bytes().all(|b| b.is_ascii_digit()), "count {cnt:?} is 3 digits");
    let n: usize = cnt.parse().expect("count");
    assert!(n >= 1, "{frame:?}");
    (enc, tr, n, payload)
}

/// Splits a payload into records of `types.len()` fields and checks each non-empty value
/// against its ws_fields.json type (§6.5: empty fields are possible).
fn unsigned(s: &str) -> &str {
    s.strip_prefix('-').unwrap_or(s)
}

fn records(tr: &str, count: usize, payload: &str, types: &str) -> Vec<Vec<String>> {
    let types: Vec<&str> = types.split_whitespace().collect();
    let fields: Vec<&str> = payload.split('^').collect();
    assert_eq!(
        fields.len(),
        types.len() * count,
        "{tr}: {count} records of {} fields: {payload}",
        types.len()
    );
    let ok = |t: &str, v: &str| {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let dec = |s: &str| s.split_once('.').map_or(digits(s), |(a, b)| digits(a) && digits(b));
        match t {
            "int" => digits(v),
            "int_signed" => digits(unsigned(v)),
            "dec" => dec(v),
            "dec_signed" => dec(unsigned(v)),
            "hhmmss" => v.len() == 6 && digits(v) && v[..2] < *"24" && v[2..4] < *"60" && v[4..] < *"60",
            "yyyymmdd" => v.len() == 8 && digits(v),
            "yn" => v == "Y" || v == "N",
            _ => true,
        }
    };
    fields
        .chunks(types.len())
        .map(|rec| {
            for (i, (t, v)) in types.iter().zip(rec).enumerate() {
                assert!(v.is_empty() || ok(t, v), "{tr} field {i} {v:?} is not of type {t}: {payload}");
            }
            rec.iter().map(|s| (*s).to_owned()).collect()
        })
        .collect()
}

#[tokio::test]
async fn field_type_tables_have_the_documented_widths() {
    // §6.5 / ws_fields.json field_count: H0STCNT0 46, H0STASP0 59, H0STCNI0/9 26
    assert_eq!(H0STCNT0_TYPES.split_whitespace().count(), 46);
    assert_eq!(H0STASP0_TYPES.split_whitespace().count(), 59);
    assert_eq!(H0STCNI9_TYPES.split_whitespace().count(), 26);
}

#[tokio::test]
async fn subscribe_then_trade_and_book_frames_with_documented_fields() {
    let sim = start().await;
    let key = approval_key(&sim, &appkey(1)).await;
    let mut ws = crate::support::ws::connect(&sim, "/tryitout").await;
    let mut frames = Vec::new();

    let a = ack(&mut ws, request(&key, "1", "H0STCNT0", SYMBOL), &mut frames).await;
    assert_subscribed(&a, "H0STCNT0", SYMBOL);
    assert_eq!(a["header"]["encrypt"], "N", "plain channel (§6.3): {a}");
    let a = ack(&mut ws, request(&key, "1", "H0STASP0", SYMBOL), &mut frames).await;
    assert_subscribed(&a, "H0STASP0", SYMBOL);

    // Move the market on: trades and book updates follow (§6.6).
    let (mut trades, mut books) = (0, 0);
    for _ in 0..60 {
        if trades > 0 && books > 0 {
            break;
        }
        sim.advance(Duration::from_secs(5));
        while let Some(t) = next_text(&mut ws, 0.2).await {
            frames.push(t);
        }
        for f in frames.drain(..) {
            if f.starts_with('{') {
                assert!(is_pingpong(&f), "unexpected control frame {f}");
                continue;
            }
            let (enc, tr, n, payload) = split_frame(&f);
            assert_eq!(enc, "0", "market data is plain: {f}");
            match tr {
                "H0STCNT0" => {
                    for rec in records(tr, n, payload, H0STCNT0_TYPES) {
                        assert_eq!(rec[0], SYMBOL, "{f}");
                        assert_eq!(rec[33], DAY1, "BSOP_DATE: {f}");
                        for i in H0STCNT0_SIGNS {
                            assert!(
                                rec[i].is_empty() || ["1", "2", "3", "4", "5"].contains(&rec[i].as_str()),
                                "{f}"
                            );
                        }
                        assert!(
                            ["1", "3", "5"].contains(&rec[H0STCNT0_CCLD_DVSN].as_str()),
                            "CCLD_DVSN: {f}"
                        );
                        trades += 1;
                    }
                }
                "H0STASP0" => {
                    for rec in records(tr, n, payload, H0STASP0_TYPES) {
                        assert_eq!(rec[0], SYMBOL, "{f}");
                        books += 1;
                    }
                }
                other => panic!("frame of an unsubscribed TR {other}: {f}"),
            }
        }
    }
    assert!(trades > 0 && books > 0, "trade records {trades}, book records {books} after 5 min");

    // §6.3: unsubscribe ack OPSP0001 "UNSUBSCRIBE SUCCESS"
    let u = ack(&mut ws, request(&key, "2", "H0STCNT0", SYMBOL), &mut frames).await;
    assert_eq!(u["body"]["rt_cd"], "0", "{u}");
    assert_eq!(u["body"]["msg_cd"], "OPSP0001", "{u}");
    assert_eq!(u["body"]["msg1"], "UNSUBSCRIBE SUCCESS", "{u}");
}

#[tokio::test]
async fn execution_notice_is_encrypted_with_the_ack_key() {
    let sim = start().await;
    let kis = Kis::new(&sim, 1).await;
    let key = approval_key(&sim, &kis.appkey).await;
    let mut ws = crate::support::ws::connect(&sim, "/tryitout").await;
    let mut frames = Vec::new();
    let a = ack(&mut ws, request(&key, "1", "H0STCNI9", HTS_ID), &mut frames).await;
    let (aes_key, iv) =
        assert_subscribed(&a, "H0STCNI9", HTS_ID).expect("notice ack carries key and iv (§6.3)");

    let price = kis.resting_buy_price(SYMBOL).await;
    let order = kis.buy(SYMBOL, 1, price).await.json();
    let odno = field(&order["output"], "ODNO").expect("ODNO").to_owned();
    let orgno = field(&order["output"], "KRX_FWDG_ORD_ORGNO").expect("orgno").to_owned();

    let notice = loop {
        let f = match frames.pop() {
            Some(f) => f,
            None => next_text(&mut ws, 3.0).await.expect("no notice within 3 s of the order"),
        };
        if f.starts_with('{') {
            continue;
        }
        let (enc, tr, n, payload) = split_frame(&f);
        assert_eq!((enc, tr), ("1", "H0STCNI9"), "notices are encrypted (§6.5): {f}");
        let plain = decrypt(&aes_key, &iv, payload);
        if let Some(rec) = records(tr, n, &plain, H0STCNI9_TYPES).into_iter().find(|r| r[2] == odno) {
            break rec;
        }
    };
    // §6.9 field meanings; zero-padded widths of numeric fields
    assert_eq!(notice[0], HTS_ID, "CUST_ID");
    assert_eq!(notice[1], format!("{CANO}{PRDT}"), "ACNT_NO is one 10-digit string (§3.4)");
    assert_eq!(notice[3], "", "OODER_NO is empty for a new order");
    assert_eq!(notice[4], "02", "SELN_BYOV_CLS buy");
    assert_eq!(notice[5], "0", "RCTF_CLS new");
    assert_eq!(notice[8], SYMBOL);
    assert_eq!(notice[12], "0", "RFUS_YN accepted");
    assert_eq!(notice[13], "1", "CNTG_YN receipt");
    assert_eq!(notice[15], orgno, "BRNC_NO: notices match orders by (ODER_NO, BRNC_NO)");
    for (i, width, want) in [(9, 10, 1), (10, 9, price), (16, 9, 1), (25, 9, price)] {
        let v = &notice[i];
        assert_eq!(v.len(), width, "field {i} {v:?} is zero-padded to {width}");
        assert_eq!(v.parse::<i64>().ok(), Some(want), "field {i} {v:?}");
    }
}

#[tokio::test]
async fn pingpong_is_json_and_an_echo_keeps_the_session() {
    let cfg = SimConfig { pingpong_interval: Duration::from_millis(300), ..config() };
    let sim = Sim::start(cfg).await.expect("sim start");
    let key = approval_key(&sim, &appkey(1)).await;
    let mut ws = crate::support::ws::connect(&sim, "/tryitout").await;
    let mut frames = Vec::new();
    assert_subscribed(
        &ack(&mut ws, request(&key, "1", "H0STCNT0", SYMBOL), &mut frames).await,
        "H0STCNT0",
        SYMBOL,
    );

    let ping = loop {
        let t = next_text(&mut ws, 3.0).await.expect("no PINGPONG within 3 s");
        if is_pingpong(&t) {
            break t;
        }
    };
    let v: Value = serde_json::from_str(&ping).expect("PINGPONG JSON");
    let dt = v["header"]["datetime"].as_str().unwrap_or_default();
    assert!(dt.len() == 14 && dt.bytes().all(|b| b.is_ascii_digit()), "datetime {dt:?} is YYYYMMDDHHMMSS");
    assert!(v.get("body").is_none(), "PINGPONG has no body (§6.4): {ping}");

    // §6.4: answer with the identical text; the session goes on.
    ws.send(Message::text(ping.clone())).await.expect("echo");
    let a = ack(&mut ws, request(&key, "1", "H0STASP0", SYMBOL), &mut frames).await;
    assert_subscribed(&a, "H0STASP0", SYMBOL);
    let again = loop {
        let t = next_text(&mut ws, 3.0).await.expect("no second PINGPONG after the echo");
        if is_pingpong(&t) {
            break t;
        }
    };
    ws.send(Message::text(again)).await.expect("second echo");
}
