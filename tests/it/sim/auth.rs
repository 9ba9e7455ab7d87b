//! OAuth, header checks, TR id rules and rate limits.

use std::time::Duration;

use aegis::domain::Mode;
use aegis::sim::SimConfig;
use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn token_is_reused_within_six_hours_and_throttled_per_minute() {
    let sim = start(Mode::Paper).await;
    let http = reqwest::Client::new();
    let key = appkey(1);
    let first: Value = issue_token(&http, &sim.rest_url, &key).await.json().await.unwrap();
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 86400);
    assert_eq!(first["access_token_token_expired"], "2026-03-04 10:00:00");

    let again = issue_token(&http, &sim.rest_url, &key).await;
    assert_eq!(again.status(), 403);
    assert_eq!(
        again.text().await.unwrap(),
        r#"{"error_description":"접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)","error_code":"EGW00133"}"#
    );

    sim.advance(Duration::from_secs(120));
    let same: Value = issue_token(&http, &sim.rest_url, &key).await.json().await.unwrap();
    assert_eq!(same["access_token"], first["access_token"]);
    assert_eq!(same["access_token_token_expired"], first["access_token_token_expired"]);

    sim.advance(Duration::from_secs(6 * 3600));
    let fresh: Value = issue_token(&http, &sim.rest_url, &key).await.json().await.unwrap();
    assert_ne!(fresh["access_token"], first["access_token"]);
    assert_eq!(sim.state()["tokens"].as_array().unwrap().len(), 2);
    let shown = sim.state().to_string();
    assert!(!shown.contains(first["access_token"].as_str().unwrap()), "admin state must mask tokens");
}

#[tokio::test]
async fn token_endpoint_rejects_bad_credentials() {
    let sim = start(Mode::Paper).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/oauth2/tokenP", sim.rest_url))
        .json(&json!({"grant_type":"client_credentials","appkey":"short","appsecret":secret()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_code"], "EGW00103");
}

#[tokio::test]
async fn revoked_expired_and_invalid_tokens_get_gateway_errors() {
    let sim = start(Mode::Paper).await;
    let mut c = Client::new(&sim, 1, Mode::Paper).await;
    assert_eq!(c.balance().await.rt_cd(), "0");

    let good = c.token.clone();
    c.token = "garbage".into();
    let r = c.balance().await;
    assert_eq!((r.status, r.msg_cd()), (500, "EGW00121"));
    assert_eq!(r.body, json!({"rt_cd":"1","msg_cd":"EGW00121","msg1":"유효하지 않은 token 입니다."}));
    c.token = good.clone();

    sim.advance(Duration::from_secs(24 * 3600 + 1));
    let r = c.balance().await;
    assert_eq!((r.status, r.msg_cd()), (500, "EGW00123"));
    assert_eq!(r.body["msg1"], "기간이 만료된 token 입니다.");

    let fresh: Value = issue_token(&c.http, &c.base, &c.appkey).await.json().await.unwrap();
    c.token = fresh["access_token"].as_str().unwrap().to_owned();
    let r = c
        .http
        .post(format!("{}/oauth2/revokeP", c.base))
        .json(&json!({"appkey":c.appkey,"appsecret":secret(),"token":c.token}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code":200,"message":"접근토큰 폐기에 성공하였습니다"})
    );
    assert_eq!(c.balance().await.msg_cd(), "EGW00121");
}

#[tokio::test]
async fn approval_and_hashkey() {
    let sim = start(Mode::Paper).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;
    let key = c.approval().await;
    assert_eq!(key.len(), 36);
    assert_eq!(sim.state()["approval_keys"].as_array().unwrap().len(), 1);

    let body = json!({"CANO":CANO,"ACNT_PRDT_CD":PRDT,"PDNO":"005930","ORD_DVSN":"00","ORD_QTY":"1","ORD_UNPR":"70000"});
    let text = body.to_string();
    let r = c
        .http
        .post(format!("{}/uapi/hashkey", c.base))
        .header("content-type", "application/json")
        .header("appkey", &c.appkey)
        .header("appsecret", secret())
        .body(text.clone())
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["BODY"], body);
    let hash = v["HASH"].as_str().unwrap().to_owned();
    let send = |h: &str| {
        c.http
            .post(format!("{}/uapi/domestic-stock/v1/trading/order-cash", c.base))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", c.token))
            .header("appkey", &c.appkey)
            .header("appsecret", secret())
            .header("tr_id", "VTTC0012U")
            .header("hashkey", h)
            .body(text.clone())
    };
    assert_eq!(Client::send(send("deadbeef")).await.msg_cd(), "EGW00131");
    sim.advance(Duration::from_secs(1));
    assert_eq!(Client::send(send(&hash)).await.msg_cd(), "APBK0013");
}

#[tokio::test]
async fn header_and_tr_id_checks_follow_the_mode() {
    let sim = start(Mode::Paper).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;
    let path = "/uapi/domestic-stock/v1/trading/inquire-balance";
    let r = c.get(path, "TTTC8434R", &[("CANO", CANO), ("ACNT_PRDT_CD", PRDT)]).await;
    assert_eq!((r.status, r.msg_cd()), (500, "EGW00213"));
    sim.advance(Duration::from_secs(1));
    let r = c.get(path, "XXXX0000R", &[("CANO", CANO), ("ACNT_PRDT_CD", PRDT)]).await;
    assert_eq!(r.msg_cd(), "OPSQ0002");
    sim.advance(Duration::from_secs(1));
    let r = c
        .get(
            "/uapi/domestic-stock/v1/trading/inquire-psbl-sell",
            "VTTC8408R",
            &[("CANO", CANO), ("ACNT_PRDT_CD", PRDT)],
        )
        .await;
    assert_eq!(r.msg_cd(), "EGW00213", "live-only TR on the paper host");
    let r = c.get(path, "VTTC8434R", &[("CANO", "99999999"), ("ACNT_PRDT_CD", PRDT)]).await;
    assert_eq!(r.msg_cd(), "OPSQ2000");
    let legacy = c
        .get(
            "/uapi/domestic-stock/v1/trading/inquire-daily-ccld",
            "VTTC8001R",
            &[
                ("CANO", CANO),
                ("ACNT_PRDT_CD", PRDT),
                ("INQR_STRT_DT", "20260303"),
                ("INQR_END_DT", "20260303"),
            ],
        )
        .await;
    assert_eq!(legacy.rt_cd(), "0", "legacy TR ids are accepted");
    let missing = Client::send(c.http.get(format!("{}{path}", c.base)).header("tr_id", "VTTC8434R")).await;
    assert_eq!(missing.msg_cd(), "EGW00102");
}

async fn burst(c: &Client, n: usize) -> Vec<Reply> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            c.get(
                "/uapi/domestic-stock/v1/quotations/inquire-price",
                "FHKST01010100",
                &[("FID_COND_MRKT_DIV_CODE", "J"), ("FID_INPUT_ISCD", "005930")],
            )
            .await,
        );
    }
    out
}

#[tokio::test]
async fn paper_allows_two_requests_per_second() {
    let sim = start_with(SimConfig { rate_limit: None, ..config(Mode::Paper) }).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;
    let r = burst(&c, 3).await;
    assert_eq!(r[0].rt_cd(), "0");
    assert_eq!(r[1].rt_cd(), "0");
    assert_eq!(r[2].status, 500);
    assert_eq!(r[2].body, json!({"rt_cd":"1","msg_cd":"EGW00201","msg1":"초당 거래건수를 초과하였습니다."}));
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(burst(&c, 1).await[0].rt_cd(), "0");
}

#[tokio::test]
async fn live_allows_twenty_requests_per_second_per_app_key() {
    let sim = start_with(SimConfig { rate_limit: None, ..config(Mode::Live) }).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    let other = Client::new(&sim, 2, Mode::Live).await;
    let r = burst(&c, 21).await;
    assert!(r[..20].iter().all(|x| x.rt_cd() == "0"));
    assert_eq!(r[20].msg_cd(), "EGW00201");
    assert_eq!(burst(&other, 1).await[0].rt_cd(), "0", "limits are per app key");
}
