//! Fault injection through the admin API and `SimHandle`.

use std::time::Duration;

use aegis::domain::Mode;
use aegis::sim::{FaultCommand, TokenFault};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::*;

async fn admin(sim: &aegis::sim::SimHandle, path: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/__sim/{path}", sim.rest_url))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn price(c: &Client) -> Reply {
    c.get(
        "/uapi/domestic-stock/v1/quotations/inquire-price",
        "FHKST01010100",
        &[("FID_COND_MRKT_DIV_CODE", "J"), ("FID_INPUT_ISCD", "005930")],
    )
    .await
}

#[tokio::test]
async fn rest_bursts_storms_and_token_faults() {
    let sim = start(Mode::Live).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    admin(&sim, "faults", json!([{"fault":"rest5xx","count":2},{"fault":"rate_limit_storm","count":1}]))
        .await;
    let a = price(&c).await;
    assert_eq!((a.status, a.msg_cd()), (500, "EGW00203"));
    assert_eq!(price(&c).await.status, 500);
    assert_eq!(price(&c).await.msg_cd(), "EGW00201");
    assert_eq!(price(&c).await.rt_cd(), "0");

    sim.inject(FaultCommand::Rest5xx { count: 1, status: Some(503) });
    let r = price(&c).await;
    assert_eq!(r.status, 503);

    sim.inject(FaultCommand::Token { action: TokenFault::Expire });
    assert_eq!(price(&c).await.msg_cd(), "EGW00123");
    sim.advance(Duration::from_secs(61));
    let fresh: Value = issue_token(&c.http, &c.base, &c.appkey).await.json().await.unwrap();
    let c2 = Client {
        token: fresh["access_token"].as_str().unwrap().to_owned(),
        http: c.http.clone(),
        base: c.base.clone(),
        appkey: c.appkey.clone(),
        mode: Mode::Live,
    };
    assert_eq!(price(&c2).await.rt_cd(), "0");
    sim.inject(FaultCommand::Token { action: TokenFault::Revoke });
    assert_eq!(price(&c2).await.msg_cd(), "EGW00121");
}

#[tokio::test]
async fn an_accepted_order_that_never_answers_still_reaches_the_book() {
    let sim = start(Mode::Live).await;
    let mut c = Client::new(&sim, 1, Mode::Live).await;
    c.http = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    sim.inject(FaultCommand::HangAfterOrder { count: 1 });
    let body = json!({"CANO":CANO,"ACNT_PRDT_CD":PRDT,"PDNO":"005930","ORD_DVSN":"00","ORD_QTY":"1","ORD_UNPR":"70000"});
    let err = c
        .http
        .post(format!("{}/uapi/domestic-stock/v1/trading/order-cash", c.base))
        .header("authorization", format!("Bearer {}", c.token))
        .header("appkey", &c.appkey)
        .header("appsecret", secret())
        .header("tr_id", "TTTC0012U")
        .json(&body)
        .send()
        .await;
    assert!(err.unwrap_err().is_timeout());
    assert_eq!(sim.state()["orders"].as_array().unwrap().len(), 1, "the order is on the book");
    sim.inject(FaultCommand::Delay { ms: 400 });
    let slow = c.http.get(format!("{}/uapi/domestic-stock/v1/quotations/inquire-price", c.base)).send().await;
    assert!(slow.unwrap_err().is_timeout());
    sim.inject(FaultCommand::Clear);
    sim.inject(FaultCommand::Hang { path: "inquire-balance".into() });
    let hung = c.http.get(format!("{}/uapi/domestic-stock/v1/trading/inquire-balance", c.base)).send().await;
    assert!(hung.unwrap_err().is_timeout());
}

#[tokio::test]
async fn refused_connections() {
    let sim = start(Mode::Live).await;
    sim.inject(FaultCommand::RefuseConnections { on: true });
    let http = reqwest::Client::builder().timeout(Duration::from_millis(500)).build().unwrap();
    assert!(http.get(format!("{}/__sim/state", sim.rest_url)).send().await.is_err());
    sim.inject(FaultCommand::RefuseConnections { on: false });
    let fresh = reqwest::Client::new();
    assert_eq!(fresh.get(format!("{}/__sim/state", sim.rest_url)).send().await.unwrap().status(), 200);
}

async fn notices(ws: &mut Ws, key: &str, iv: &str, n: usize) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    while out.len() < n {
        let t = next_text(ws).await;
        if let Some(b64) = t.strip_prefix("1|H0STCNI0|001|") {
            out.push(decrypt(key, iv, b64).split('^').map(str::to_owned).collect());
        }
    }
    out
}

#[tokio::test]
async fn websocket_close_malformed_duplicate_and_reordered_notices() {
    let sim = start(Mode::Live).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    let key = c.approval().await;
    let mut ws = ws_connect(&sim, "/tryitout").await;
    let ack = subscribe(&mut ws, &key, "H0STCNI0", HTS).await;
    let (k, iv) = (
        ack["body"]["output"]["key"].as_str().unwrap().to_owned(),
        ack["body"]["output"]["iv"].as_str().unwrap().to_owned(),
    );

    sim.inject(FaultCommand::NoticeDuplicate { count: 1 });
    c.order(true, "005930", "00", 1, 70_000).await;
    let n = notices(&mut ws, &k, &iv, 2).await;
    assert_eq!(n[0], n[1], "the receipt arrives twice");

    sim.inject(FaultCommand::NoticeReorder { count: 1 });
    let r = c.order(true, "005930", "01", 1, 0).await;
    let n = notices(&mut ws, &k, &iv, 2).await;
    assert_eq!(n[0][2], odno(&r));
    assert_eq!((n[0][13].as_str(), n[1][13].as_str()), ("2", "1"), "fill before its receipt");

    sim.inject(FaultCommand::MalformedFrame);
    let t = next_text(&mut ws).await;
    let parts: Vec<&str> = t.splitn(4, '|').collect();
    assert_ne!(parts[3].split('^').count(), parts[2].parse::<usize>().unwrap() * 46, "malformed on purpose");

    sim.inject(FaultCommand::WsClose { at: None, every_secs: None });
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(3), ws.next()).await.unwrap() {
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break true,
            Some(Ok(_)) => {}
        }
    };
    assert!(closed);
    // reconnecting with the same approval key works once the old session is gone
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut again = ws_connect(&sim, "/tryitout").await;
    assert_eq!(subscribe(&mut again, &key, "H0STCNI0", HTS).await["body"]["msg_cd"], "OPSP0000");

    sim.inject(FaultCommand::WsClose { at: None, every_secs: Some(30) });
    sim.advance(Duration::from_secs(1));
    sim.advance(Duration::from_secs(31));
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(3), again.next()).await.unwrap() {
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break true,
            Some(Ok(_)) => {}
        }
    };
    assert!(closed, "periodic close");
}

#[tokio::test]
async fn late_notices_arrive_after_the_delay() {
    let sim = start(Mode::Live).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    let key = c.approval().await;
    let mut ws = ws_connect(&sim, "/").await;
    let ack = subscribe(&mut ws, &key, "H0STCNI0", HTS).await;
    let (k, iv) = (
        ack["body"]["output"]["key"].as_str().unwrap().to_owned(),
        ack["body"]["output"]["iv"].as_str().unwrap().to_owned(),
    );
    sim.inject(FaultCommand::NoticeDelay { ms: 200 });
    let t0 = std::time::Instant::now();
    c.order(true, "005930", "00", 1, 70_000).await;
    let n = notices(&mut ws, &k, &iv, 1).await;
    assert_eq!(n[0][13], "1");
    assert!(t0.elapsed() >= Duration::from_millis(200));
}
