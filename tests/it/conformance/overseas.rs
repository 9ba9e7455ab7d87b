//! Conformance of the simulator's overseas (US) side to ../shared/kis-api/overseas.md,
//! overseas_endpoints.json and overseas_ws_fields.json, read at run time: every REST endpoint's
//! response field names in their documented order (output, output1-3), live and paper TR ids,
//! the error of each missing required parameter, `tr_cont` paging with the 200-character keys,
//! and the HDFSCNT0 / HDFSASP0 / H0GSCNI0 records' widths and field types.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use aegis::domain::Mode;
use aegis::sim::SimConfig;
use aegis::sim::us::{UsConfig, UsHoldingSeed};
use futures::{SinkExt, StreamExt};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::wire::*;
use crate::support::ws::{Ws, decrypt, request};

// ---------------------------------------------------------------------------------------------
// The shared facts
// ---------------------------------------------------------------------------------------------

fn shared(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/kis-api").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn endpoints() -> Vec<Value> {
    shared("overseas_endpoints.json")["endpoints"].as_array().cloned().expect("endpoints")
}

fn endpoint(id: &str) -> Value {
    endpoints().into_iter().find(|e| e["id"] == id).unwrap_or_else(|| panic!("no endpoint {id}"))
}

/// Request parameters (query or body) of an endpoint: (name, required, desc).
fn params_of(e: &Value) -> Vec<(String, bool, String)> {
    let list = e
        .get("query")
        .or_else(|| e.get("request_body"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    list.iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["required"].as_bool().unwrap_or(false),
                p["desc"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// `(output key, shape "object"/"array", field names)` of an endpoint's response.
fn outputs_of(e: &Value) -> Vec<(String, String, Vec<String>)> {
    let r = &e["response"];
    let names = |v: &Value| -> Vec<String> {
        v["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect()
    };
    let shape = |v: &Value| {
        let s = v["shape"].as_str().unwrap_or_default();
        if s.starts_with("array") { "array" } else { "object" }.to_owned()
    };
    if let Some(k) = r["output_key"].as_str() {
        return vec![(k.to_owned(), shape(r), names(r))];
    }
    ["output1", "output2", "output3"]
        .iter()
        .filter(|k| r.get(**k).is_some())
        .map(|k| ((*k).to_owned(), shape(&r[*k]), names(&r[*k])))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// JSON with the key order of the wire (serde_json's Value sorts keys)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Oj {
    Scalar,
    Arr(Vec<Oj>),
    Obj(Vec<(String, Oj)>),
}

impl Oj {
    fn get(&self, key: &str) -> Option<&Oj> {
        match self {
            Oj::Obj(p) => p.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<String> {
        match self {
            Oj::Obj(p) => p.iter().map(|(k, _)| k.clone()).collect(),
            _ => Vec::new(),
        }
    }
}

struct OjVisitor;

impl<'de> Visitor<'de> for OjVisitor {
    type Value = Oj;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Oj, E> {
        Ok(Oj::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Oj, E> {
        Ok(Oj::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Oj, E> {
        Ok(Oj::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Oj, E> {
        Ok(Oj::Scalar)
    }
    fn visit_str<E>(self, _: &str) -> Result<Oj, E> {
        Ok(Oj::Scalar)
    }
    fn visit_unit<E>(self) -> Result<Oj, E> {
        Ok(Oj::Scalar)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Oj, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = a.next_element::<Oj>()? {
            v.push(x);
        }
        Ok(Oj::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Oj, A::Error> {
        let mut v = Vec::new();
        while let Some((k, x)) = a.next_entry::<String, Oj>()? {
            v.push((k, x));
        }
        Ok(Oj::Obj(v))
    }
}

impl<'de> Deserialize<'de> for Oj {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OjVisitor)
    }
}

fn ordered(r: &Raw) -> Oj {
    serde_json::from_slice(&r.body).expect("ordered JSON")
}

// ---------------------------------------------------------------------------------------------
// A simulator in the US session and valid requests
// ---------------------------------------------------------------------------------------------

/// The US trading date of [`us_config`] (New York) and a KST instant inside its regular session
/// (2026-03-03 10:00 EST = 2026-03-04 00:00 KST, overseas.md §2).
const US_DATE: &str = "20260303";
const US_OPEN_KST: &str = "2026-03-04T00:00:00";

fn us_config(mode: Mode) -> SimConfig {
    SimConfig {
        mode,
        start: Some(kst(US_OPEN_KST)),
        us: UsConfig {
            holdings: vec![
                UsHoldingSeed::parse("AAPL=10@200").unwrap(),
                UsHoldingSeed::parse("KO=5").unwrap(),
            ],
            ..UsConfig::default()
        },
        ..config()
    }
}

fn tr_of(e: &Value, mode: Mode, sell: bool) -> Option<String> {
    let key = match mode {
        Mode::Live => "live",
        Mode::Paper => "paper",
    };
    let t = &e["tr_id"][key];
    let t = if t.is_object() { &t[if sell { "sell" } else { "buy" }] } else { t };
    t.as_str().map(str::to_owned)
}

/// A valid value for a request parameter.
fn value_for(name: &str) -> String {
    match name {
        "CANO" => CANO,
        "ACNT_PRDT_CD" => PRDT,
        "EXCD" => "NAS",
        "SYMB" | "ITEM_CD" => "AAPL",
        "OVRS_EXCG_CD" => "NASD",
        "SORT_SQN" => "DS",
        "ORD_STRT_DT" | "ORD_END_DT" => US_DATE,
        "SLL_BUY_DVSN" | "CCLD_NCCS_DVSN" | "TR_MKET_CD" | "INQR_DVSN_CD" => "00",
        "TR_CRCY_CD" => "USD",
        "WCRC_FRCR_DVSN_CD" => "02",
        "NATN_CD" => "840",
        "OVRS_ORD_UNPR" => "150.00",
        "ORD_QTY" => "1",
        "ORD_SVR_DVSN_CD" => "0",
        "ORD_DVSN" => "00",
        "PDNO" => "AAPL",
        "RVSE_CNCL_DVSN_CD" => "02",
        _ => "",
    }
    .to_owned()
}

fn query_of(e: &Value, skip: Option<&str>) -> Vec<(String, String)> {
    let mut q: Vec<(String, String)> = params_of(e)
        .into_iter()
        .filter(|(n, _, _)| Some(n.as_str()) != skip)
        .map(|(n, _, _)| {
            // inquire-ccnl: PDNO is '' (all) on both hosts.
            let v =
                if e["id"] == "overseas_inquire_ccnl" && n == "PDNO" { String::new() } else { value_for(&n) };
            (n, v)
        })
        .collect();
    q.sort_by_key(|(n, _)| n.clone());
    q
}

fn path_of(e: &Value) -> String {
    e["path"].as_str().unwrap().to_owned()
}

async fn call(kis: &Kis, e: &Value, tr_id: &str, skip: Option<&str>, extra: &[(&str, &str)]) -> Raw {
    let mut q = query_of(e, skip);
    for (k, v) in extra {
        q.retain(|(n, _)| n != k);
        q.push(((*k).to_owned(), (*v).to_owned()));
    }
    if e["method"] == "POST" {
        let body: serde_json::Map<String, Value> =
            q.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        kis.post(&path_of(e), tr_id, &Value::Object(body)).await
    } else {
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        kis.get(&path_of(e), tr_id, &pairs, "").await
    }
}

/// Places a US limit order through the documented body; returns the response.
async fn us_order(kis: &Kis, mode: Mode, sell: bool, symbol: &str, qty: i64, price: &str) -> Raw {
    let e = endpoint("overseas_order");
    let tr = tr_of(&e, mode, sell).unwrap();
    let exch = if symbol == "KO" { "NYSE" } else { "NASD" };
    let body = json!({"CANO":CANO,"ACNT_PRDT_CD":PRDT,"OVRS_EXCG_CD":exch,"PDNO":symbol,"ORD_QTY":qty.to_string(),
        "OVRS_ORD_UNPR":price,"CTAC_TLNO":"","MGCO_APTM_ODNO":"","SLL_TYPE":if sell {"00"} else {""},
        "ORD_SVR_DVSN_CD":"0","ORD_DVSN":"00"});
    kis.post(&path_of(&e), &tr, &body).await
}

/// Best ask of a US symbol from the documented asking-price answer (live TR).
async fn best_ask(kis: &Kis, symbol: &str) -> String {
    let q = [("AUTH", ""), ("EXCD", "NAS"), ("SYMB", symbol)];
    let v = kis
        .get("/uapi/overseas-price/v1/quotations/inquire-asking-price", "HHDFS76200100", &q, "")
        .await
        .json();
    v["output2"]["pask1"].as_str().unwrap_or_else(|| panic!("pask1: {v}")).to_owned()
}

/// Places one resting order (a buy far below the market) and one filled order (a buy at the
/// best ask), so that the order and position inquiries have rows. Needs a live-TR asking price,
/// hence the live host.
async fn trade_a_little(kis: &Kis, mode: Mode) -> String {
    let r = us_order(kis, mode, false, "AAPL", 1, "1.00").await;
    assert_eq!(r.json()["rt_cd"], "0", "{}", String::from_utf8_lossy(&r.body));
    let odno = field(&r.json()["output"], "ODNO").unwrap().to_owned();
    if mode == Mode::Live {
        let ask = best_ask(kis, "AAPL").await;
        let r = us_order(kis, mode, false, "AAPL", 2, &ask).await;
        assert_eq!(r.json()["rt_cd"], "0", "{}", String::from_utf8_lossy(&r.body));
    }
    odno
}

fn check_fields(what: &str, got: &Oj, shape: &str, names: &[String], rows_expected: bool) {
    match (shape, got) {
        ("object", Oj::Obj(_)) => assert_eq!(&got.keys(), names, "{what}: field names and order"),
        ("array", Oj::Arr(rows)) => {
            assert!(!rows_expected || !rows.is_empty(), "{what}: expected rows");
            for (i, row) in rows.iter().enumerate() {
                assert_eq!(&row.keys(), names, "{what}[{i}]: field names and order");
            }
        }
        _ => panic!("{what}: not an {shape}: {got:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// REST
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_overseas_endpoint_answers_with_the_documented_fields_in_order() {
    for mode in [Mode::Live, Mode::Paper] {
        let cfg =
            SimConfig { us: UsConfig { paper_asking_price: true, ..us_config(mode).us }, ..us_config(mode) };
        let sim = crate::support::sim::start(cfg).await;
        let kis = Kis::new(&sim, 1).await;
        let resting = trade_a_little(&kis, mode).await;
        for e in endpoints() {
            let id = e["id"].as_str().unwrap().to_owned();
            let tr = tr_of(&e, mode, false).unwrap_or_else(|| tr_of(&e, Mode::Live, false).unwrap());
            let extra: Vec<(&str, &str)> = match id.as_str() {
                "overseas_order_rvsecncl" => vec![("ORGN_ODNO", resting.as_str())],
                "overseas_order" => vec![("OVRS_ORD_UNPR", "1.00")],
                _ => Vec::new(),
            };
            let r = call(&kis, &e, &tr, None, &extra).await;
            let v = r.json();
            let what = format!("{id} ({mode:?}, {tr})");
            assert_eq!(r.status, 200, "{what}: {v}");
            assert_envelope(&what, &v);
            assert_eq!(v["rt_cd"], "0", "{what}: {v}");
            let pageable = e["response"].get("top_level_extra").is_some();
            let problems = header_problems(&r, Some(&tr), Some(pageable));
            assert!(problems.is_empty(), "{what}: {problems:?}\n{}", r.head);
            let body = ordered(&r);
            if pageable {
                for k in ["ctx_area_fk200", "ctx_area_nk200"] {
                    assert!(v[k].is_string(), "{what}: {k} missing: {v}");
                }
            }
            for (key, shape, names) in outputs_of(&e) {
                let got = body.get(&key).unwrap_or_else(|| panic!("{what}: no {key}: {v}"));
                // Every array output has rows here: an open order, two seeded positions, and
                // present-balance's USD row in output2.
                check_fields(&format!("{what} {key}"), got, &shape, &names, true);
            }
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn live_and_paper_tr_ids_are_the_documented_ones() {
    let live = crate::support::sim::start(us_config(Mode::Live)).await;
    let paper = crate::support::sim::start(us_config(Mode::Paper)).await;
    let (kl, kp) = (Kis::new(&live, 1).await, Kis::new(&paper, 2).await);
    let resting_live = trade_a_little(&kl, Mode::Live).await;
    let resting_paper = trade_a_little(&kp, Mode::Paper).await;
    for e in endpoints() {
        let id = e["id"].as_str().unwrap().to_owned();
        for sell in [false, true] {
            if sell && !e["tr_id"]["live"].is_object() {
                continue;
            }
            let (lt, pt) = (tr_of(&e, Mode::Live, sell).unwrap(), tr_of(&e, Mode::Paper, sell));
            let (price, qty) = if sell { ("300.00", "1") } else { ("1.00", "1") };
            let extra_l = [("ORGN_ODNO", resting_live.as_str()), ("OVRS_ORD_UNPR", price), ("ORD_QTY", qty)];
            let extra_p = [("ORGN_ODNO", resting_paper.as_str()), ("OVRS_ORD_UNPR", price), ("ORD_QTY", qty)];
            // Only the modify/cancel body names the original order.
            let n = if id == "overseas_order_rvsecncl" { 0 } else { 1 };
            let ok = |r: &Raw| r.status == 200 && r.json()["rt_cd"] == "0";
            let r = call(&kl, &e, &lt, None, &extra_l[n..]).await;
            assert!(ok(&r), "{id}: live host, live TR {lt}: {}", String::from_utf8_lossy(&r.body));
            match pt {
                Some(pt) => {
                    let r = call(&kp, &e, &pt, None, &extra_p[n..]).await;
                    assert!(ok(&r), "{id}: paper host, paper TR {pt}: {}", String::from_utf8_lossy(&r.body));
                    if pt != lt {
                        // REFERENCE.md §3.1: a live TR on the paper host fails (EGW00213).
                        let r = call(&kp, &e, &lt, None, &extra_p[n..]).await;
                        assert_gateway_error(&format!("{id}: live TR {lt} on paper"), &r, &["EGW00213"]);
                        // A paper TR is an unknown service on the live host.
                        let r = call(&kl, &e, &pt, None, &extra_l[n..]).await;
                        assert_eq!(r.json()["msg_cd"], "OPSQ0002", "{id}: paper TR {pt} on live");
                    }
                }
                None => {
                    // No paper id documented (inquire-asking-price): live only unless configured.
                    let r = call(&kp, &e, &lt, None, &[]).await;
                    assert_gateway_error(&format!("{id}: live-only TR {lt} on paper"), &r, &["EGW00213"]);
                }
            }
        }
    }
    // overseas.md §1.3: the paper sell id is VTTT1001U by default; VTTT1006U only when configured.
    let e = endpoint("overseas_order");
    let r = call(&kp, &e, "VTTT1006U", None, &[("OVRS_ORD_UNPR", "300.00")]).await;
    assert_eq!(r.json()["msg_cd"], "OPSQ0002", "VTTT1006U is not the default paper sell id");
    let cfg = SimConfig {
        us: UsConfig { paper_sell_tr: "VTTT1006U".into(), ..us_config(Mode::Paper).us },
        ..us_config(Mode::Paper)
    };
    let alt = crate::support::sim::start(cfg).await;
    let ka = Kis::new(&alt, 3).await;
    let r = call(&ka, &e, "VTTT1006U", None, &[("OVRS_ORD_UNPR", "300.00")]).await;
    assert_eq!(r.json()["rt_cd"], "0", "configured paper sell id: {}", String::from_utf8_lossy(&r.body));
}

#[tokio::test]
async fn a_missing_required_parameter_is_an_input_error() {
    let sim = crate::support::sim::start(us_config(Mode::Live)).await;
    let kis = Kis::new(&sim, 1).await;
    let resting = trade_a_little(&kis, Mode::Live).await;
    // The vendor's own Postman order body leaves out CTAC_TLNO, MGCO_APTM_ODNO and SLL_TYPE
    // (overseas.md §3.3), so the simulator does not insist on them; parameters documented as
    // "always ''" carry nothing and may be left out too.
    let tolerated = ["CTAC_TLNO", "MGCO_APTM_ODNO", "SLL_TYPE"];
    let mut checked = 0;
    for e in endpoints() {
        let id = e["id"].as_str().unwrap().to_owned();
        let tr = tr_of(&e, Mode::Live, false).unwrap();
        for (name, required, desc) in params_of(&e) {
            if !required || desc.contains("always ''") || tolerated.contains(&name.as_str()) {
                continue;
            }
            let extra: Vec<(&str, &str)> = if id == "overseas_order_rvsecncl" && name != "ORGN_ODNO" {
                vec![("ORGN_ODNO", &resting)]
            } else {
                vec![]
            };
            let r = call(&kis, &e, &tr, Some(&name), &extra).await;
            let v = r.json();
            let what = format!("{id} without {name}");
            assert_eq!(r.status, 500, "{what}: an input error is a gateway-shaped HTTP 500: {v}");
            assert_envelope(&what, &v);
            assert_ne!(v["rt_cd"], "0", "{what}: {v}");
            if name == "CANO" || name == "ACNT_PRDT_CD" {
                // REFERENCE.md §5.2: OPSQ2000 invalid account number, as on the domestic endpoints.
                assert_eq!(v["msg_cd"], "OPSQ2000", "{what}: {v}");
            } else {
                // error_codes.json OPSQ2001 "ERROR : INPUT INVALID_CHECK_…" naming the parameter.
                assert_eq!(v["msg_cd"], "OPSQ2001", "{what}: {v}");
                let msg1 = v["msg1"].as_str().unwrap_or_default();
                assert!(
                    msg1.starts_with("ERROR : INPUT INVALID_CHECK_") && msg1.ends_with(&name),
                    "{what}: {msg1}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} required parameters checked");
}

#[tokio::test]
async fn inquire_ccnl_pages_with_200_character_keys() {
    let sim = crate::support::sim::start(us_config(Mode::Paper)).await;
    let kis = Kis::new(&sim, 1).await;
    // overseas_endpoints.json inquire_ccnl page_size paper 15.
    let page = endpoint("overseas_inquire_ccnl")["page_size"]["paper"].as_u64().unwrap() as usize;
    let total = 2 * page + 4;
    let mut placed = Vec::new();
    for i in 0..total {
        let r = us_order(&kis, Mode::Paper, false, "AAPL", 1, &format!("{}.00", 10 + i)).await;
        placed.push(
            field(&r.json()["output"], "ODNO")
                .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&r.body)))
                .to_owned(),
        );
    }
    let e = endpoint("overseas_inquire_ccnl");
    let tr = tr_of(&e, Mode::Paper, false).unwrap();
    let (mut fk, mut nk, mut cont) = (String::new(), String::new(), "");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut pages = Vec::new();
    loop {
        assert!(pages.len() <= total, "paging does not end");
        let mut q = query_of(&e, None);
        for (k, v) in &mut q {
            if k == "CTX_AREA_FK200" {
                v.clone_from(&fk);
            }
            if k == "CTX_AREA_NK200" {
                v.clone_from(&nk);
            }
        }
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = kis.get(&path_of(&e), &tr, &pairs, cont).await;
        let v = r.json();
        assert_eq!(v["rt_cd"], "0", "{v}");
        let rows = v["output"].as_array().cloned().unwrap_or_default();
        for row in &rows {
            *seen.entry(row["odno"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        let tr_cont = r.header("tr_cont").unwrap_or_default().to_owned();
        pages.push((tr_cont.clone(), rows.len()));
        for k in ["ctx_area_fk200", "ctx_area_nk200"] {
            let ctx = v[k].as_str().unwrap();
            assert_eq!(ctx.chars().count(), 200, "{k} is right-padded to 200 by default: {ctx:?}");
        }
        match tr_cont.as_str() {
            "F" | "M" => {
                assert_eq!(rows.len(), page);
                fk = v["ctx_area_fk200"].as_str().unwrap().to_owned();
                nk = v["ctx_area_nk200"].as_str().unwrap().to_owned();
                cont = "N";
            }
            "D" | "E" => break,
            other => panic!("tr_cont {other:?}"),
        }
    }
    assert_eq!(pages.len(), total.div_ceil(page), "{pages:?}");
    assert_eq!(pages.first().map(|p| p.0.as_str()), Some("F"));
    assert_eq!(pages.last().map(|p| p.0.as_str()), Some("E"));
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert!(placed.iter().all(|o| seen.contains_key(o)), "every order on some page");
    assert_eq!(seen.len(), total);
}

// ---------------------------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------------------------

fn channel(tr: &str) -> Value {
    shared("overseas_ws_fields.json")["channels"][tr].clone()
}

fn types_of(tr: &str) -> Vec<String> {
    channel(tr)["fields"].as_array().unwrap().iter().map(|f| f["type"].as_str().unwrap().to_owned()).collect()
}

fn type_ok(t: &str, v: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let dec = |s: &str| s.split_once('.').map_or(digits(s), |(a, b)| digits(a) && digits(b));
    let unsigned = |s: &str| s.strip_prefix('-').unwrap_or(s).to_owned();
    match t {
        "int" => digits(v),
        "int_signed" => digits(&unsigned(v)),
        "dec" => dec(v),
        "dec_signed" => dec(&unsigned(v)),
        "hhmmss" => v.len() == 6 && digits(v) && v[..2] < *"24" && v[2..4] < *"60" && v[4..] < *"60",
        "yyyymmdd" => v.len() == 8 && digits(v),
        "yn" => v == "Y" || v == "N",
        _ => true,
    }
}

fn records(tr: &str, count: usize, payload: &str) -> Vec<Vec<String>> {
    let types = types_of(tr);
    assert_eq!(types.len(), channel(tr)["field_count"].as_u64().unwrap() as usize);
    let fields: Vec<&str> = payload.split('^').collect();
    assert_eq!(
        fields.len(),
        types.len() * count,
        "{tr}: {count} records of {} fields: {payload}",
        types.len()
    );
    fields
        .chunks(types.len())
        .map(|rec| {
            for (i, (t, v)) in types.iter().zip(rec).enumerate() {
                assert!(v.is_empty() || type_ok(t, v), "{tr} field {i} {v:?} is not {t}: {payload}");
            }
            rec.iter().map(|s| (*s).to_owned()).collect()
        })
        .collect()
}

async fn next_text(ws: &mut Ws, secs: f64) -> Option<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next()).await.ok()?;
        if let Message::Text(t) = m.expect("stream ended").expect("ws error") {
            return Some(t.as_str().to_owned());
        }
    }
}

async fn ack(ws: &mut Ws, msg: String, frames: &mut Vec<String>) -> Value {
    ws.send(Message::text(msg)).await.expect("send");
    loop {
        let t = next_text(ws, 3.0).await.expect("no ack within 3 s");
        if !t.starts_with('{') {
            frames.push(t);
            continue;
        }
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["header"]["tr_id"] != "PINGPONG" {
            return v;
        }
    }
}

fn split_frame(f: &str) -> (String, String, usize, String) {
    let p: Vec<&str> = f.splitn(4, '|').collect();
    assert_eq!(p.len(), 4, "{f}");
    assert!(p[2].len() == 3, "count is 3 digits: {f}");
    (p[0].to_owned(), p[1].to_owned(), p[2].parse().unwrap(), p[3].to_owned())
}

async fn approval(sim: &aegis::sim::SimHandle, key: &str) -> String {
    approval_raw(sim.addr, key).await.json()["approval_key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn overseas_channels_carry_the_documented_records() {
    let sim = crate::support::sim::start(us_config(Mode::Live)).await;
    let kis = Kis::new(&sim, 1).await;
    let key = approval(&sim, &kis.appkey).await;
    let mut ws = crate::support::ws::connect(&sim, "/tryitout").await;
    let mut frames = Vec::new();
    for (tr, k) in [("HDFSCNT0", "DNASAAPL"), ("HDFSASP0", "DNASAAPL")] {
        let a = ack(&mut ws, request(&key, "1", tr, k), &mut frames).await;
        assert_eq!(
            (a["body"]["rt_cd"].as_str(), a["body"]["msg_cd"].as_str()),
            (Some("0"), Some("OPSP0000")),
            "{a}"
        );
        assert_eq!(a["header"]["encrypt"], "N", "{a}");
    }
    let a = ack(&mut ws, request(&key, "1", "H0GSCNI0", HTS_ID), &mut frames).await;
    assert_eq!(a["body"]["msg_cd"], "OPSP0000", "{a}");
    assert_eq!(a["header"]["encrypt"], "Y", "notices are encrypted (overseas_ws_fields frame_format): {a}");
    let (aes_key, iv) = (
        a["body"]["output"]["key"].as_str().unwrap().to_owned(),
        a["body"]["output"]["iv"].as_str().unwrap().to_owned(),
    );
    // tr_key = prefix + market + symbol; an unknown symbol is an invalid tr_key.
    let bad = ack(&mut ws, request(&key, "1", "HDFSCNT0", "DNASZZZZ"), &mut frames).await;
    assert_eq!(bad["body"]["msg_cd"], "OPSP8992", "{bad}");
    // H0GSCNI9 is the paper notice TR: not on the live host.
    let bad = ack(&mut ws, request(&key, "1", "H0GSCNI9", HTS_ID), &mut frames).await;
    assert_eq!(bad["body"]["msg_cd"], "OPSP8991", "{bad}");

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
                continue;
            }
            let (enc, tr, n, payload) = split_frame(&f);
            assert_eq!(enc, "0", "{f}");
            for rec in records(&tr, n, &payload) {
                assert_eq!(
                    (rec[0].as_str(), rec[1].as_str(), rec[2].as_str()),
                    ("DNASAAPL", "AAPL", "4"),
                    "{f}"
                );
                match tr.as_str() {
                    "HDFSCNT0" => {
                        assert_eq!(rec[3], US_DATE, "TYMD is the New York business date: {f}");
                        assert_eq!(rec[4], US_DATE, "XYMD: {f}");
                        assert_eq!(rec[6], "20260304", "KYMD: {f}");
                        assert_eq!(
                            rec[11].split('.').nth(1).map(str::len),
                            Some(4),
                            "LAST has ZDIV decimals: {f}"
                        );
                        assert_eq!(rec[25], "1", "MTYP regular session: {f}");
                        trades += 1;
                    }
                    "HDFSASP0" => books += 1,
                    other => panic!("unsubscribed {other}: {f}"),
                }
            }
        }
    }
    assert!(trades > 0 && books > 0, "trades {trades}, books {books}");

    let r = us_order(&kis, Mode::Live, false, "AAPL", 3, "1.00").await;
    let odno = field(&r.json()["output"], "ODNO").unwrap().to_owned();
    let notice = loop {
        let f = match frames.pop() {
            Some(f) => f,
            None => next_text(&mut ws, 3.0).await.expect("no notice within 3 s"),
        };
        if !f.starts_with('1') {
            continue;
        }
        let (_, tr, n, payload) = split_frame(&f);
        assert_eq!(tr, "H0GSCNI0", "{f}");
        let plain = decrypt(&aes_key, &iv, &payload);
        if let Some(rec) = records("H0GSCNI0", n, &plain).into_iter().find(|r| r[2] == odno) {
            break rec;
        }
    };
    assert_eq!(notice[0], HTS_ID, "CUST_ID");
    assert_eq!(notice[1], format!("{CANO}{PRDT}"), "ACNT_NO");
    assert_eq!(notice[4], "02", "SELN_BYOV_CLS buy");
    assert_eq!(notice[6], "2", "ODER_KIND2 limit");
    assert_eq!(notice[7], "AAPL");
    assert_eq!(notice[8].parse::<i64>().ok(), Some(3), "CNTG_QTY of a receipt is the order quantity");
    assert_eq!(notice[9].parse::<i64>().ok(), Some(10_000), "CNTG_UNPR 1.0000 with 4 implied decimals");
    assert_eq!(notice[12], "1", "CNTG_YN receipt");
}

#[tokio::test]
async fn the_paper_host_has_its_own_notice_tr_and_no_us_quotes_by_default() {
    let sim = crate::support::sim::start(us_config(Mode::Paper)).await;
    let key = approval(&sim, &appkey(1)).await;
    let mut ws = crate::support::ws::connect(&sim, "/tryitout").await;
    let mut frames = Vec::new();
    let a = ack(&mut ws, request(&key, "1", "H0GSCNI9", HTS_ID), &mut frames).await;
    assert_eq!(a["body"]["msg_cd"], "OPSP0000", "{a}");
    for tr in ["H0GSCNI0", "HDFSCNT0"] {
        let k = if tr == "H0GSCNI0" { HTS_ID } else { "DNASAAPL" };
        let a = ack(&mut ws, request(&key, "1", tr, k), &mut frames).await;
        assert_eq!(a["body"]["msg_cd"], "OPSP8991", "{tr} on paper: {a}");
    }
    let cfg = SimConfig {
        us: UsConfig { paper_realtime: true, ..us_config(Mode::Paper).us },
        ..us_config(Mode::Paper)
    };
    let sim2 = crate::support::sim::start(cfg).await;
    let key2 = approval(&sim2, &appkey(2)).await;
    let mut ws2 = crate::support::ws::connect(&sim2, "/tryitout").await;
    let a = ack(&mut ws2, request(&key2, "1", "HDFSCNT0", "DNASAAPL"), &mut frames).await;
    assert_eq!(a["body"]["msg_cd"], "OPSP0000", "configured: {a}");
}
