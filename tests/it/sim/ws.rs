//! WebSocket: acks, limits, streaming frames, encrypted notices and PINGPONG.

use std::time::Duration;

use aegis::domain::Mode;
use aegis::sim::SimConfig;
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::*;

#[tokio::test]
async fn subscribe_acks_limits_and_errors() {
    let sim = start(Mode::Paper).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;
    let key = c.approval().await;
    let mut ws = ws_connect(&sim, "/tryitout").await;

    let bad = subscribe(&mut ws, "not-a-key", "H0STCNT0", "005930").await;
    assert_eq!(bad["body"]["msg_cd"], "OPSP0011");

    let ok = subscribe(&mut ws, &key, "H0STCNT0", "005930").await;
    assert_eq!(ok["header"], serde_json::json!({"tr_id":"H0STCNT0","tr_key":"005930","encrypt":"N"}));
    assert_eq!((ok["body"]["rt_cd"].as_str(), ok["body"]["msg_cd"].as_str()), (Some("0"), Some("OPSP0000")));
    assert_eq!(ok["body"]["msg1"], "SUBSCRIBE SUCCESS");
    assert_eq!(ok["body"]["output"]["key"].as_str().unwrap().len(), 32);
    assert_eq!(ok["body"]["output"]["iv"].as_str().unwrap().len(), 16);

    assert_eq!(subscribe(&mut ws, &key, "H0STCNT0", "005930").await["body"]["msg_cd"], "OPSP0002");
    assert_eq!(
        subscribe(&mut ws, &key, "H0STCNI0", HTS).await["body"]["msg_cd"],
        "OPSP8991",
        "live notice TR on paper"
    );
    assert_eq!(subscribe(&mut ws, &key, "H0STCNI9", "someone").await["body"]["msg_cd"], "OPSP8992");
    send_text(&mut ws, "{not json").await;
    assert_eq!(
        serde_json::from_str::<Value>(&next_text(&mut ws).await).unwrap()["body"]["msg_cd"],
        "OPSP9999"
    );

    send_text(&mut ws, &sub_msg(&key, "2", "H0STASP0", "005930")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&next_text(&mut ws).await).unwrap()["body"]["msg_cd"],
        "OPSP0003"
    );
    send_text(&mut ws, &sub_msg(&key, "2", "H0STCNT0", "005930")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&next_text(&mut ws).await).unwrap()["body"]["msg_cd"],
        "OPSP0001"
    );

    // a second session with the same app key is refused
    let mut ws2 = ws_connect(&sim, "/").await;
    let dup = subscribe(&mut ws2, &key, "H0STCNT0", "000660").await;
    assert_eq!(dup["body"]["msg_cd"], "OPSP8996");
    assert_eq!(dup["body"]["msg1"], "ALREADY IN USE appkey");
}

#[tokio::test]
async fn forty_one_registrations_then_opsp0008() {
    let symbols: Vec<String> = (0..42).map(|i| format!("{:06}", 100_000 + i)).collect();
    let cfg = SimConfig { symbols: symbols.clone(), ..config(Mode::Live) };
    let sim = start_with(cfg).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    let key = c.approval().await;
    let mut ws = ws_connect(&sim, "/tryitout/H0STCNT0").await;
    for s in &symbols[..41] {
        assert_eq!(subscribe(&mut ws, &key, "H0STCNT0", s).await["body"]["msg_cd"], "OPSP0000");
    }
    let over = subscribe(&mut ws, &key, "H0STCNT0", &symbols[41]).await;
    assert_eq!(
        (over["body"]["msg_cd"].as_str(), over["body"]["msg1"].as_str()),
        (Some("OPSP0008"), Some("MAX SUBSCRIBE OVER"))
    );
    assert_eq!(sim.state()["ws_sessions"][0]["registrations"].as_array().unwrap().len(), 41);
}

#[tokio::test]
async fn trade_and_book_frames_batch_records_when_they_pile_up() {
    let sim = start(Mode::Paper).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;
    let key = c.approval().await;
    let mut ws = ws_connect(&sim, "/tryitout").await;
    subscribe(&mut ws, &key, "H0STCNT0", "005930").await;
    subscribe(&mut ws, &key, "H0STASP0", "005930").await;
    sim.advance(Duration::from_secs(120));
    let mut saw_trade = false;
    let mut saw_book = false;
    let mut max_cnt = 0;
    while !(saw_trade && saw_book) {
        let t = next_text(&mut ws).await;
        let parts: Vec<&str> = t.splitn(4, '|').collect();
        assert_eq!(parts.len(), 4, "{t}");
        assert_eq!(parts[0], "0");
        let cnt: usize = parts[2].parse().unwrap();
        let fields = parts[3].split('^').count();
        match parts[1] {
            "H0STCNT0" => {
                assert_eq!(fields, cnt * 46);
                assert_eq!(parts[3].split('^').next(), Some("005930"));
                max_cnt = max_cnt.max(cnt);
                saw_trade = true;
            }
            "H0STASP0" => {
                assert_eq!(fields, cnt * 59);
                saw_book = true;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(max_cnt > 1, "two simulated minutes at once pile up into multi-record frames");
}

#[tokio::test]
async fn notices_decrypt_with_the_ack_key_and_iv() {
    let sim = start(Mode::Live).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    let key = c.approval().await;
    let mut ws = ws_connect(&sim, "/tryitout").await;
    let ack = subscribe(&mut ws, &key, "H0STCNI0", HTS).await;
    assert_eq!(ack["header"]["encrypt"], "Y");
    let (k, iv) = (
        ack["body"]["output"]["key"].as_str().unwrap().to_owned(),
        ack["body"]["output"]["iv"].as_str().unwrap().to_owned(),
    );
    let r = c.order(true, "005930", "01", 2, 0).await;
    let mut got = Vec::new();
    while got.len() < 2 {
        let t = next_text(&mut ws).await;
        let parts: Vec<&str> = t.splitn(4, '|').collect();
        assert_eq!((parts[0], parts[1], parts[2]), ("1", "H0STCNI0", "001"));
        let plain = decrypt(&k, &iv, parts[3]);
        let f: Vec<String> = plain.split('^').map(str::to_owned).collect();
        assert_eq!(f.len(), 26);
        assert_eq!(f[0], HTS);
        assert_eq!(f[1], "5000000001");
        assert_eq!(f[2], odno(&r));
        got.push(f);
    }
    assert_eq!((got[0][13].as_str(), got[0][14].as_str()), ("1", "1"), "receipt first");
    assert_eq!(got[1][13], "2", "then the fill");
    assert_eq!(got[1][9].len(), 10);
    assert_eq!(got[1][10].len(), 9);
    assert_eq!(got[1][24], "삼성전자");
}

#[tokio::test]
async fn server_pingpong_and_client_echoes() {
    let cfg = SimConfig { pingpong_interval: Duration::from_millis(100), ..config(Mode::Paper) };
    let sim = start_with(cfg).await;
    let mut ws = ws_connect(&sim, "/").await;
    let ping = loop {
        let m = tokio::time::timeout(Duration::from_secs(3), ws.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(t) = m {
            break t.as_str().to_owned();
        }
    };
    let v: Value = serde_json::from_str(&ping).unwrap();
    assert_eq!(v["header"]["tr_id"], "PINGPONG");
    assert_eq!(v["header"]["datetime"].as_str().unwrap().len(), 14);
    send_text(&mut ws, &ping).await;
    let mine = r#"{"header":{"tr_id":"PINGPONG","datetime":"20260303100000x"}}"#;
    send_text(&mut ws, mine).await;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(3), ws.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(t) = m
            && t.as_str() == mine
        {
            break;
        }
    }
}

#[tokio::test]
async fn approval_keys_expire_after_a_day() {
    let sim = start(Mode::Live).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    let key = c.approval().await;
    sim.set_time(chrono::DateTime::parse_from_rfc3339("2026-03-04T10:00:01+09:00").unwrap());
    let mut ws = ws_connect(&sim, "/tryitout").await;
    assert_eq!(subscribe(&mut ws, &key, "H0STCNT0", "005930").await["body"]["msg_cd"], "OPSP0011");
    let fresh = c.approval().await;
    assert_eq!(subscribe(&mut ws, &fresh, "H0STCNT0", "005930").await["body"]["msg_cd"], "OPSP0000");
}
