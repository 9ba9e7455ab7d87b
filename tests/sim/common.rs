//! Helpers for the simulator suites: start a frozen-clock sim, raw KIS calls over reqwest and
//! WebSocket helpers over tokio-tungstenite (no aegis adapter code).

use std::time::Duration;

use aegis::domain::{AccountNo, Mode};
use aegis::sim::{Sim, SimConfig, SimHandle};
use chrono::{DateTime, FixedOffset};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub const CANO: &str = "50000000";
pub const PRDT: &str = "01";
pub const HTS: &str = "simuser";

/// A Tuesday trading day at `hh:mm` KST.
pub fn day_at(hh: u32, mm: u32) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(&format!("2026-03-03T{hh:02}:{mm:02}:00+09:00")).unwrap()
}

pub fn appkey(n: u8) -> String {
    format!("PS{:0>34}", n)
}

pub fn secret() -> String {
    "s".repeat(180)
}

pub fn config(mode: Mode) -> SimConfig {
    SimConfig {
        mode,
        accounts: vec![AccountNo::parse("50000000-01").unwrap()],
        symbols: vec!["005930".into(), "000660".into(), "069500".into()],
        start: Some(day_at(10, 0)),
        speed: 0.0,
        seed: 7,
        rate_limit: Some(10_000),
        ..SimConfig::default()
    }
}

pub async fn start(mode: Mode) -> SimHandle {
    Sim::start(config(mode)).await.unwrap()
}

pub async fn start_with(cfg: SimConfig) -> SimHandle {
    Sim::start(cfg).await.unwrap()
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
        self.get(
            "/uapi/domestic-stock/v1/trading/inquire-balance",
            &self.tr("TTTC8434R"),
            &[
                ("CANO", CANO),
                ("ACNT_PRDT_CD", PRDT),
                ("AFHR_FLPR_YN", "N"),
                ("OFL_YN", ""),
                ("INQR_DVSN", "02"),
                ("UNPR_DVSN", "01"),
                ("FUND_STTL_ICLD_YN", "N"),
                ("FNCG_AMT_AUTO_RDPT_YN", "N"),
                ("PRCS_DVSN", "00"),
                ("CTX_AREA_FK100", ""),
                ("CTX_AREA_NK100", ""),
            ],
        )
        .await
    }

    /// Walks every page of inquire-daily-ccld and returns all rows.
    pub async fn daily_ccld_all(&self) -> Vec<Value> {
        let mut rows = Vec::new();
        let (mut fk, mut nk, mut cont) = (String::new(), String::new(), String::new());
        for _ in 0..200 {
            let r = self
                .get_cont(
                    "/uapi/domestic-stock/v1/trading/inquire-daily-ccld",
                    &self.tr("TTTC0081R"),
                    &[
                        ("CANO", CANO),
                        ("ACNT_PRDT_CD", PRDT),
                        ("INQR_STRT_DT", "20260303"),
                        ("INQR_END_DT", "20260303"),
                        ("SLL_BUY_DVSN_CD", "00"),
                        ("PDNO", ""),
                        ("ORD_GNO_BRNO", ""),
                        ("ODNO", ""),
                        ("CCLD_DVSN", "00"),
                        ("INQR_DVSN", "00"),
                        ("INQR_DVSN_1", ""),
                        ("INQR_DVSN_3", "00"),
                        ("EXCG_ID_DVSN_CD", "KRX"),
                        ("CTX_AREA_FK100", &fk),
                        ("CTX_AREA_NK100", &nk),
                    ],
                    &cont,
                )
                .await;
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

pub async fn ws_connect(sim: &SimHandle, path: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("{}{path}", sim.ws_url)).await.unwrap();
    ws
}

pub fn sub_msg(approval: &str, tr_type: &str, tr_id: &str, tr_key: &str) -> String {
    json!({"header":{"approval_key":approval,"custtype":"P","tr_type":tr_type,"content-type":"utf-8"},
           "body":{"input":{"tr_id":tr_id,"tr_key":tr_key}}})
    .to_string()
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

pub fn decrypt(key: &str, iv: &str, b64: &str) -> String {
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
    use base64::Engine;
    let ct = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let dec = cbc::Decryptor::<aes::Aes256>::new_from_slices(key.as_bytes(), iv.as_bytes()).unwrap();
    String::from_utf8(dec.decrypt_padded_vec_mut::<Pkcs7>(&ct).unwrap()).unwrap()
}

pub fn odno(r: &Reply) -> String {
    r.body["output"]["ODNO"].as_str().unwrap_or_default().to_owned()
}

pub fn num(v: &Value) -> i64 {
    v.as_str().and_then(|s| s.trim().parse::<f64>().ok()).unwrap_or(0.0) as i64
}
