//! The realtime WebSocket: one task per session owns its socket, answers subscribe /
//! unsubscribe with KIS acks, streams H0STCNT0/H0STASP0 and the US HDFSCNT0/HDFSASP0 frames
//! (batched when they pile up), encrypts execution notices (H0STCNI0/9, H0GSCNI0/9) with the
//! session's key/iv and sends PINGPONG keep-alives. Every registration, domestic or overseas,
//! counts toward the one budget of 41 per session.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{Response, StatusCode};
use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::Shared;
use super::crypto;
use super::state::{FeedMessage, SessionInfo, mask};
use super::wire::{J, obj, s};
use crate::domain::Mode;

/// Registrations allowed per session.
pub const MAX_REGISTRATIONS: usize = 41;

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

/// `GET /`, `/tryitout`, `/tryitout/{tr}`: accepts the WebSocket upgrade.
pub async fn upgrade(
    State(shared): State<Arc<Shared>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response<Body> {
    match ws {
        Ok(ws) => ws.on_upgrade(move |socket| session(shared, socket)),
        Err(_) => {
            let mut r = Response::new(Body::from("websocket upgrade required"));
            *r.status_mut() = StatusCode::BAD_REQUEST;
            r
        }
    }
}

fn ack(
    tr_id: &str,
    tr_key: &str,
    encrypt: bool,
    rt_cd: &str,
    code: &str,
    text: &str,
    keys: Option<(&str, &str)>,
) -> String {
    let mut body =
        vec![("rt_cd".to_owned(), s(rt_cd)), ("msg_cd".to_owned(), s(code)), ("msg1".to_owned(), s(text))];
    if let Some((key, iv)) = keys {
        body.push(("output".to_owned(), obj([("iv", s(iv)), ("key", s(key))])));
    }
    let j = obj([
        (
            "header",
            obj([
                ("tr_id", s(tr_id)),
                ("tr_key", s(tr_key)),
                ("encrypt", s(if encrypt { "Y" } else { "N" })),
            ]),
        ),
        ("body", J::O(body)),
    ]);
    serde_json::to_string(&j).unwrap_or_default()
}

struct Session {
    id: u64,
    shared: Arc<Shared>,
    key: String,
    iv: String,
    appkey: Option<String>,
    regs: Vec<(String, String)>,
    pings: VecDeque<String>,
}

enum Reply {
    Send(String),
    SendAndClose(String),
    Nothing,
}

impl Session {
    fn valid_tr(&self, tr: &str) -> bool {
        let st = self.shared.lock();
        match st.cfg.mode {
            Mode::Live => matches!(
                tr,
                "H0STCNT0"
                    | "H0STASP0"
                    | "H0STCNI0"
                    | "H0UNCNT0"
                    | "H0NXCNT0"
                    | "H0UNASP0"
                    | "H0NXASP0"
                    | "H0STANC0"
                    | "H0STMKO0"
                    | "H0GSCNI0"
                    | "HDFSCNT0"
                    | "HDFSASP0"
            ),
            Mode::Paper => {
                matches!(tr, "H0STCNT0" | "H0STASP0" | "H0STCNI9" | "H0GSCNI9")
                    || (st.cfg.us.paper_realtime && matches!(tr, "HDFSCNT0" | "HDFSASP0"))
            }
        }
    }

    fn sync(&self) {
        let mut st = self.shared.lock();
        if let Some(info) = st.sessions.get_mut(&self.id) {
            info.registrations.clone_from(&self.regs);
            info.appkey.clone_from(&self.appkey);
            info.appkey_masked = self.appkey.as_deref().map(mask).unwrap_or_default();
        }
    }

    fn handle(&mut self, text: &str) -> Reply {
        let err = |code: &str, m: &str| Reply::Send(ack("", "", false, "9", code, m, None));
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return err("OPSP9999", "JSON PARSING ERROR : invalid json format");
        };
        let Some(h) = v.get("header") else {
            return err("OPSP9998", "JSON PARSING ERROR : header not found");
        };
        let hs = |k: &str| h.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        if hs("tr_id") == "PINGPONG" {
            let dt = hs("datetime");
            if let Some(pos) = self.pings.iter().position(|p| *p == dt) {
                self.pings.remove(pos);
                return Reply::Nothing;
            }
            return Reply::Send(text.to_owned());
        }
        let Some(body) = v.get("body") else {
            return err("OPSP9992", "JSON PARSING ERROR : body not found");
        };
        let Some(input) = body.get("input") else {
            return err("OPSP9991", "JSON PARSING ERROR : input not found");
        };
        let is = |k: &str| input.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
        let tr_id = is("tr_id").unwrap_or_default();
        let Some(tr_key) = is("tr_key") else {
            return Reply::Send(ack(
                &tr_id,
                "",
                false,
                "9",
                "OPSP9990",
                "JSON PARSING ERROR : tr_key not found",
                None,
            ));
        };
        let nack = |code: &str, m: &str| Reply::Send(ack(&tr_id, &tr_key, false, "1", code, m, None));
        let custtype = hs("custtype");
        if !custtype.is_empty() && custtype != "P" && custtype != "B" {
            return nack("OPSP8998", "JSON PARSING ERROR : invalid custtype");
        }
        let approval = hs("approval_key");
        let (owner, hts, notice_trs, known) = {
            let st = self.shared.lock();
            let now = self.shared.clock.now();
            let owner = st
                .approvals
                .iter()
                .find(|a| a.key == approval && now - a.issued < chrono::TimeDelta::hours(24))
                .map(|a| a.appkey.clone());
            // US quotes are keyed `D` + quotation market + ticker (`DNASAAPL`); domestic ones by code.
            let known = if tr_id.starts_with("HDFS") {
                st.us_markets.values().any(|m| super::us::rsym(m) == tr_key)
            } else {
                st.markets.contains_key(&tr_key)
            };
            (owner, st.cfg.hts_id.clone(), [st.cfg.notice_tr(), st.cfg.us_notice_tr()], known)
        };
        let Some(owner) = owner else {
            return nack("OPSP0011", "invalid approval : NOT FOUND");
        };
        match &self.appkey {
            Some(bound) if *bound != owner => return nack("OPSP0011", "invalid approval : NOT FOUND"),
            Some(_) => {}
            None => {
                let taken = self
                    .shared
                    .lock()
                    .sessions
                    .values()
                    .any(|s| s.id != self.id && s.appkey.as_deref() == Some(owner.as_str()));
                if taken {
                    return Reply::SendAndClose(ack(
                        &tr_id,
                        &tr_key,
                        false,
                        "9",
                        "OPSP8996",
                        "ALREADY IN USE appkey",
                        None,
                    ));
                }
                self.appkey = Some(owner);
                self.sync();
            }
        }
        let tr_type = hs("tr_type");
        if tr_type != "1" && tr_type != "2" {
            return nack("OPSP8997", "JSON PARSING ERROR : invalid tr_type");
        }
        if !self.valid_tr(&tr_id) {
            return nack("OPSP8991", "SUBSCRIBE ERROR : invalid tr_id");
        }
        let is_notice = notice_trs.contains(&tr_id.as_str());
        if (is_notice && tr_key != hts) || (!is_notice && !known) {
            return nack("OPSP8992", "SUBSCRIBE ERROR : invalid tr_key");
        }
        let pair = (tr_id.clone(), tr_key.clone());
        let reply = if tr_type == "1" {
            if self.regs.contains(&pair) {
                ack(&tr_id, &tr_key, is_notice, "1", "OPSP0002", "ALREADY IN SUBSCRIBE", None)
            } else if self.regs.len() >= MAX_REGISTRATIONS {
                ack(&tr_id, &tr_key, is_notice, "1", "OPSP0008", "MAX SUBSCRIBE OVER", None)
            } else {
                self.regs.push(pair);
                self.sync();
                ack(
                    &tr_id,
                    &tr_key,
                    is_notice,
                    "0",
                    "OPSP0000",
                    "SUBSCRIBE SUCCESS",
                    Some((&self.key, &self.iv)),
                )
            }
        } else if let Some(pos) = self.regs.iter().position(|p| *p == pair) {
            self.regs.remove(pos);
            self.sync();
            ack(&tr_id, &tr_key, is_notice, "0", "OPSP0001", "UNSUBSCRIBE SUCCESS", None)
        } else {
            ack(&tr_id, &tr_key, is_notice, "1", "OPSP0003", "UNSUBSCRIBE ERROR(not found!)", None)
        };
        Reply::Send(reply)
    }

    /// Turns a run of feed events into frames for this session; returns `None` to close.
    /// Market-data records that piled up are batched per TR (`CNT` > 1, at most 99 per frame).
    fn frames(&self, events: Vec<FeedMessage>) -> Option<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        let mut groups: Vec<(&'static str, Vec<String>)> = Vec::new();
        for ev in events {
            match ev {
                FeedMessage::CloseAll => return None,
                FeedMessage::Malformed => out.push("0|H0STCNT0|003|005930^0930".to_owned()),
                FeedMessage::Data { tr_id, key, record } => {
                    if !self.regs.iter().any(|(t, k)| t == tr_id && *k == key) {
                        continue;
                    }
                    match groups.iter_mut().find(|(t, _)| *t == tr_id) {
                        Some((_, recs)) => recs.push(record),
                        None => groups.push((tr_id, vec![record])),
                    }
                }
                FeedMessage::Notice { tr_id, hts_id, record } => {
                    if !self.regs.iter().any(|(t, k)| t == tr_id && *k == hts_id) {
                        continue;
                    }
                    if let Ok(b64) = crypto::encrypt(&self.key, &self.iv, &record) {
                        out.push(format!("1|{tr_id}|001|{b64}"));
                    }
                }
            }
        }
        for (tr, recs) in groups {
            for chunk in recs.chunks(99) {
                out.push(format!("0|{tr}|{:03}|{}", chunk.len(), chunk.join("^")));
            }
        }
        Some(out)
    }
}

async fn session(shared: Arc<Shared>, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let mut feed = shared.feed.subscribe();
    let (id, key, iv, interval) = {
        let mut st = shared.lock();
        let id = st.next_session;
        st.next_session += 1;
        st.sessions.insert(
            id,
            SessionInfo { id, appkey_masked: String::new(), appkey: None, registrations: Vec::new() },
        );
        let key = st.random_string(32, LOWER);
        let iv = st.random_string(16, LOWER);
        (id, key, iv, st.cfg.pingpong_interval)
    };
    let mut sess = Session {
        id,
        shared: shared.clone(),
        key,
        iv,
        appkey: None,
        regs: Vec::new(),
        pings: VecDeque::new(),
    };
    let mut ping = tokio::time::interval(interval.max(std::time::Duration::from_millis(10)));
    ping.tick().await;
    loop {
        tokio::select! {
            () = shared.cancel.cancelled() => break,
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(t))) => match sess.handle(t.as_str()) {
                    Reply::Send(r) => if tx.send(Message::Text(r.into())).await.is_err() { break },
                    Reply::SendAndClose(r) => {
                        let _ = tx.send(Message::Text(r.into())).await;
                        let _ = tx.send(Message::Close(None)).await;
                        break;
                    }
                    Reply::Nothing => {}
                },
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            ev = feed.recv() => {
                let first = match ev {
                    Ok(e) => e,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                };
                let mut batch = vec![first];
                loop {
                    match feed.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(TryRecvError::Lagged(_)) => {}
                        Err(_) => break,
                    }
                    if batch.len() >= 512 { break; }
                }
                let Some(frames) = sess.frames(batch) else {
                    let _ = tx.send(Message::Close(None)).await;
                    break;
                };
                let mut failed = false;
                for f in frames {
                    if tx.send(Message::Text(f.into())).await.is_err() { failed = true; break; }
                }
                if failed { break; }
            },
            _ = ping.tick() => {
                let dt = shared.clock.now().format("%Y%m%d%H%M%S").to_string();
                let j = obj([("header", obj([("tr_id", s("PINGPONG")), ("datetime", s(&dt))]))]);
                sess.pings.push_back(dt);
                if sess.pings.len() > 16 { sess.pings.pop_front(); }
                if tx.send(Message::Text(serde_json::to_string(&j).unwrap_or_default().into())).await.is_err() { break; }
            }
        }
    }
    shared.lock().sessions.remove(&id);
}
