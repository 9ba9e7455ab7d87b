//! Integration suites of `aegis sim`, speaking raw HTTP (reqwest) and WebSocket
//! (tokio-tungstenite) to a simulator on port 0 with a frozen, hand-driven clock. This module
//! holds the raw KIS client of the suites (no aegis adapter code).

mod auth;
mod day;
mod faults;
mod inquiries;
mod orders;
mod overseas;
mod realtime;
mod ws;

use std::time::Duration;

use aegis::domain::Mode;
use aegis::sim::{SimConfig, SimHandle};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub use crate::support::sim::{CANO, HTS, PRDT, appkey, day_at, secret, start as start_with};
pub use crate::support::ws::{Ws, connect as ws_connect, decrypt, request as sub_msg};

/// A simulator of `mode` frozen at 10:00 on a trading day with three symbols.
pub fn config(mode: Mode) -> SimConfig {
    SimConfig { mode, ..crate::support::sim::frozen(&["005930", "000660", "069500"], 7, Some(10_000)) }
}

pub async fn start(mode: Mode) -> SimHandle {
    start_with(config(mode)).await
}

/// A raw KIS client bound to one app key.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub appkey: String,
    pub token: String,
    pub mode: Mode,
}

pub struct Reply {
    pub status: u16,
    pub tr_cont: String,
    pub body: Value,
}

impl Reply {
    pub fn msg_cd(&self) -> &str {
        self.body["msg_cd"].as_str().unwrap_or_default()
    }
    pub fn rt_cd(&self) -> &str {
        self.body["rt_cd"].as_str().unwrap_or_default()
    }
}

pub async fn issue_token(http: &reqwest::Client, base: &str, appkey: &str) -> reqwest::Response {
    http.post(format!("{base}/oauth2/tokenP"))
        .json(&json!({"grant_type":"client_credentials","appkey":appkey,"appsecret":secret()}))
        .send()
        .await
        .unwrap()
}

impl Client {
    pub async fn new(sim: &SimHandle, n: u8, mode: Mode) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let appkey = appkey(n);
        let r = issue_token(&http, &sim.rest_url, &appkey).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        Self {
            http,
            base: sim.rest_url.clone(),
            appkey,
            token: v["access_token"].as_str().unwrap().to_owned(),
            mode,
        }
    }

    pub fn tr(&self, live: &str) -> String {
        match self.mode {
            Mode::Live => live.to_owned(),
            Mode::Paper => format!("V{}", &live[1..]),
        }
    }

    fn req(&self, m: reqwest::Method, path: &str, tr_id: &str) -> reqwest::RequestBuilder {
        self.http
            .request(m, format!("{}{path}", self.base))
            .header("content-type", "application/json; charset=utf-8")
            .header("authorization", format!("Bearer {}", self.token))
            .header("appkey", &self.appkey)
            .header("appsecret", secret())
            .header("tr_id", tr_id)
            .header("custtype", "P")
    }

    pub async fn send(rb: reqwest::RequestBuilder) -> Reply {
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let tr_cont = r.headers().get("tr_cont").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, tr_cont, body }
    }

    pub async fn get(&self, path: &str, tr_id: &str, q: &[(&str, &str)]) -> Reply {
        Self::send(self.req(reqwest::Method::GET, path, tr_id).query(q)).await
    }

    pub async fn get_cont(&self, path: &str, tr_id: &str, q: &[(&str, &str)], tr_cont: &str) -> Reply {
        Self::send(self.req(reqwest::Method::GET, path, tr_id).header("tr_cont", tr_cont).query(q)).await
    }

    pub async fn post(&self, path: &str, tr_id: &str, body: &Value) -> Reply {
        Self::send(self.req(reqwest::Method::POST, path, tr_id).json(body)).await
    }

    pub async fn order(&self, buy: bool, code: &str, dvsn: &str, qty: i64, price: i64) -> Reply {
        let tr = self.tr(if buy { "TTTC0012U" } else { "TTTC0011U" });
        let body = json!({"CANO":CANO,"ACNT_PRDT_CD":PRDT,"PDNO":code,"ORD_DVSN":dvsn,"ORD_QTY":qty.to_string(),"ORD_UNPR":price.to_string(),"EXCG_ID_DVSN_CD":"KRX"});
        self.post("/uapi/domestic-stock/v1/trading/order-cash", &tr, &body).await
    }

    pub async fn amend(
        &self,
        odno: &str,
        cancel: bool,
        dvsn: &str,
        qty: i64,
        price: i64,
        all: bool,
    ) -> Reply {
        let body = json!({"CANO":CANO,"ACNT_PRDT_CD":PRDT,"KRX_FWDG_ORD_ORGNO":"06010","ORGN_ODNO":odno,"ORD_DVSN":dvsn,
            "RVSE_CNCL_DVSN_CD": if cancel {"02"} else {"01"},"ORD_QTY":qty.to_string(),"ORD_UNPR":price.to_string(),
            "QTY_ALL_ORD_YN": if all {"Y"} else {"N"}});
        self.post("/uapi/domestic-stock/v1/trading/order-rvsecncl", &self.tr("TTTC0013U"), &body).await
    }

    pub async fn balance(&self) -> Reply {
        let path = "/uapi/domestic-stock/v1/trading/inquire-balance";
        self.get(path, &self.tr("TTTC8434R"), &crate::support::sim::BALANCE_QUERY).await
    }

    /// Walks every page of inquire-daily-ccld and returns all rows.
    pub async fn daily_ccld_all(&self) -> Vec<Value> {
        let mut rows = Vec::new();
        let (mut fk, mut nk, mut cont) = (String::new(), String::new(), String::new());
        for _ in 0..200 {
            let q = crate::support::sim::daily_ccld_query("20260303", "00", &fk, &nk);
            let path = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld";
            let r = self.get_cont(path, &self.tr("TTTC0081R"), &q, &cont).await;
            assert_eq!(r.rt_cd(), "0", "{:?}", r.body);
            rows.extend(r.body["output1"].as_array().unwrap().iter().cloned());
            if !matches!(r.tr_cont.as_str(), "F" | "M") {
                break;
            }
            fk = r.body["ctx_area_fk100"].as_str().unwrap().to_owned();
            nk = r.body["ctx_area_nk100"].as_str().unwrap().to_owned();
            cont = "N".into();
        }
        rows
    }

    pub async fn approval(&self) -> String {
        let r = self
            .http
            .post(format!("{}/oauth2/Approval", self.base))
            .json(&json!({"grant_type":"client_credentials","appkey":self.appkey,"secretkey":secret()}))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        v["approval_key"].as_str().unwrap().to_owned()
    }
}

pub async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

/// Reads the next text frame that is not a PINGPONG (within 3 s).
pub async fn next_text(ws: &mut Ws) -> String {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .expect("frame timeout")
            .expect("stream end")
            .unwrap();
        if let Message::Text(t) = m {
            if t.as_str().contains("\"PINGPONG\"") {
                continue;
            }
            return t.as_str().to_owned();
        }
    }
}

/// Subscribes and returns the parsed ack.
pub async fn subscribe(ws: &mut Ws, approval: &str, tr_id: &str, tr_key: &str) -> Value {
    send_text(ws, &sub_msg(approval, "1", tr_id, tr_key)).await;
    serde_json::from_str(&next_text(ws).await).unwrap()
}

pub fn odno(r: &Reply) -> String {
    r.body["output"]["ODNO"].as_str().unwrap_or_default().to_owned()
}

pub fn num(v: &Value) -> i64 {
    v.as_str().and_then(|s| s.trim().parse::<f64>().ok()).unwrap_or(0.0) as i64
}
