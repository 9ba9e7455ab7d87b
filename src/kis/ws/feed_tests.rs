//! Tests of the feed task against a small local WebSocket server (real sockets, loopback).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message as AxMessage, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use chrono::{DateTime, NaiveDate, NaiveTime};
use rust_decimal_macros::dec;
use tokio::sync::broadcast;
use url::Url;

use super::*;
use crate::domain::market::{FillNotice, MarketEvent};
use crate::domain::{Side, Symbol};
use crate::kis::ws::crypto::NoticeCipher;
use crate::ports::FakeClock;

const KEY: &str = "abcdefghijklmnopabcdefghijklmnop";
const IV: &str = "0123456789abcdef";

#[derive(Debug, Clone)]
enum ServerCmd {
    Send(String),
    Drop,
}

#[derive(Debug, Default)]
struct ServerState {
    connections: usize,
    log: Vec<(usize, String, String)>,
    active: HashSet<(String, String)>,
    echoes: Vec<String>,
    heartbeats: usize,
    refuse: bool,
    reject_approval_once: bool,
}

#[derive(Debug, Clone)]
struct Server {
    state: Arc<Mutex<ServerState>>,
    push: broadcast::Sender<ServerCmd>,
}

impl Server {
    fn with<R>(&self, f: impl FnOnce(&mut ServerState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

async fn upgrade(State(server): State<Server>, ws: WebSocketUpgrade) -> Response {
    if server.with(|s| s.refuse) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    ws.on_upgrade(move |socket| serve(server, socket))
}

async fn serve(server: Server, mut socket: WebSocket) {
    let conn = server.with(|s| {
        s.connections += 1;
        s.active.clear();
        s.connections
    });
    let mut push = server.push.subscribe();
    loop {
        tokio::select! {
            msg = socket.recv() => {
                let Some(Ok(AxMessage::Text(text))) = msg else { return };
                let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                let tr_id = v["header"]["tr_id"].as_str().unwrap_or("").to_owned();
                if tr_id == "PINGPONG" {
                    server.with(|s| if v["header"]["datetime"].is_string() { s.echoes.push(text.to_string()) } else { s.heartbeats += 1 });
                    continue;
                }
                let tr_type = v["header"]["tr_type"].as_str().unwrap().to_owned();
                let input = &v["body"]["input"];
                let key = (input["tr_id"].as_str().unwrap().to_owned(), input["tr_key"].as_str().unwrap().to_owned());
                let code = server.with(|s| {
                    s.log.push((conn, tr_type.clone(), key.0.clone()));
                    if tr_type == "2" {
                        s.active.remove(&key);
                        "OPSP0001"
                    } else if std::mem::take(&mut s.reject_approval_once) {
                        "OPSP0011"
                    } else if s.active.len() >= 41 {
                        "OPSP0008"
                    } else {
                        s.active.insert(key.clone());
                        "OPSP0000"
                    }
                });
                let ack = json!({"header": {"tr_id": key.0, "tr_key": key.1, "encrypt": "N"},
                    "body": {"rt_cd": if code == "OPSP0000" || code == "OPSP0001" { "0" } else { "1" }, "msg_cd": code, "msg1": "ok",
                        "output": {"iv": IV, "key": KEY}}});
                // The client may already be closing after a graceful unsubscribe; keep reading.
                let _ = socket.send(AxMessage::Text(ack.to_string().into())).await;
            }
            cmd = push.recv() => match cmd {
                Ok(ServerCmd::Send(text)) => { let _ = socket.send(AxMessage::Text(text.into())).await; }
                Ok(ServerCmd::Drop) | Err(_) => return,
            }
        }
    }
}

async fn start_server() -> (Server, Url) {
    let (push, _) = broadcast::channel(64);
    let server = Server { state: Arc::default(), push };
    let app = Router::new().route("/tryitout", any(upgrade)).with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (server, Url::parse(&format!("ws://{addr}/tryitout")).unwrap())
}

#[derive(Debug, Default)]
struct Backend {
    renewals: AtomicUsize,
}

impl FeedBackend for Backend {
    fn approval_key(&self, renew: bool) -> BoxFuture<'_, Result<Secret, BrokerError>> {
        if renew {
            self.renewals.fetch_add(1, Ordering::SeqCst);
        }
        Box::pin(async { Ok(Secret::new("a2585daf-8c09-4587-9fce-8ab893000000")) })
    }
}

struct Harness {
    server: Server,
    feed: Feed,
    backend: Arc<Backend>,
    executions: mpsc::UnboundedReceiver<ExecutionEvent>,
    market: mpsc::Receiver<MarketBatch>,
}

async fn harness(tune: impl FnOnce(&mut FeedConfig)) -> Harness {
    let (server, url) = start_server().await;
    let mut config = FeedConfig {
        url,
        heartbeat: None,
        idle_timeout: Duration::from_secs(600),
        reconnect_attempts: 3,
        reconnect_base: Duration::from_millis(5),
        max_registrations: 41,
        market_buffer: 64,
    };
    tune(&mut config);
    let settings = FeedSettings {
        config,
        mode: Mode::Paper,
        hts_id: Secret::new("HTSID"),
        account: Secret::new("1234567801"),
        custtype: "P".into(),
    };
    let (market_tx, market) = mpsc::channel(settings.config.market_buffer);
    let (exec_tx, executions) = mpsc::unbounded_channel();
    let backend = Arc::new(Backend::default());
    let clock =
        Arc::new(FakeClock::new(DateTime::parse_from_rfc3339("2026-03-03T01:00:00Z").unwrap().to_utc()));
    let feed = Feed::new(
        settings,
        backend.clone(),
        clock.clone(),
        FeedOutputs { market: market_tx, executions: exec_tx },
    );
    Harness { server, feed, backend, executions, market }
}

async fn next_event(rx: &mut mpsc::UnboundedReceiver<ExecutionEvent>) -> ExecutionEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("event in time")
        .expect("channel open")
}

async fn wait_until(mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached");
}

fn sym(i: usize) -> Symbol {
    Symbol::new(format!("{:06}", 5930 + i)).unwrap()
}

/// An encrypted H0STCNI9 frame of a fill notice of order 2891: 2 shares at 3 190 at `hhmmss` KST.
fn fill_frame(hhmmss: &str) -> String {
    let cipher = NoticeCipher::from_ack(KEY, IV).unwrap();
    let fill = format!(
        "HTSID^1234567801^0000002891^^02^0^00^0^136480^0000000002^000003190^{hhmmss}^0^2^2^06010^000000010^김한투^0^1^N^^^^하림^000003190"
    );
    format!("1|H0STCNI9|001|{}", cipher.encrypt(&fill))
}

#[tokio::test]
async fn opens_lazily_caps_registrations_and_shuts_down_gracefully() {
    let mut h = harness(|_| {}).await;
    assert_eq!(h.server.with(|s| s.connections), 0, "no socket before the first subscription");
    let subs: Vec<Subscription> =
        (0..40).map(|i| Subscription::Trades(sym(i))).chain([Subscription::Executions]).collect();
    let results = futures::future::join_all(subs.into_iter().map(|s| h.feed.subscribe(s))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(h.server.with(|s| (s.connections, s.active.len())), (1, 41));
    let err = h.feed.subscribe(Subscription::Quotes(sym(0))).await.unwrap_err();
    assert!(matches!(err, BrokerError::Subscription { .. }), "{err:?}");
    assert!(h.feed.subscribe(Subscription::Trades(sym(3))).await.is_ok(), "re-subscribing is a no-op");
    h.feed.shutdown().await.unwrap();
    wait_until(|| h.server.with(|s| s.active.is_empty())).await;
    assert_eq!(h.server.with(|s| s.log.iter().filter(|l| l.1 == "2").count()), 41);
    let mut statuses = Vec::new();
    while let Ok(ev) = h.executions.try_recv() {
        statuses.push(ev);
    }
    assert!(statuses.contains(&ExecutionEvent::Status(FeedStatus::Closed)), "{statuses:?}");
}

#[tokio::test]
async fn reports_notice_fills_as_they_say_and_a_reconnect_after_each_drop() {
    let mut h = harness(|_| {}).await;
    h.feed.subscribe(Subscription::Executions).await.unwrap();
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    assert!(matches!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::Connected { .. })
    ));

    // The fill as the notice says it: KST trading date of the session (the clock's 10:00 KST on
    // 2026-03-03) and the notice's KST execution time.
    h.server.push.send(ServerCmd::Send(fill_frame("094941"))).unwrap();
    let ExecutionEvent::Fill(first) = next_event(&mut h.executions).await else { panic!("fill") };
    let expected = FillNotice {
        trade_date: NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
        exec_time: NaiveTime::from_hms_opt(9, 49, 41).unwrap(),
        broker_order_no: "0000002891".into(),
        branch: "06010".into(),
        symbol: Symbol::new("136480").unwrap(),
        side: Side::Buy,
        qty: dec!(2),
        price: dec!(3190),
    };
    assert_eq!(first, expected);

    // The feed does not deduplicate (the orders' ledgers do): a repeated notice is reported again.
    h.server.push.send(ServerCmd::Send(fill_frame("094941"))).unwrap();
    assert_eq!(next_event(&mut h.executions).await, ExecutionEvent::Fill(expected));

    // Each drop: Disconnected, then Connected with the registrations restored, then Reconnected
    // (the consumer's cue to recover missed fills from a snapshot). No fill comes from the feed.
    for connection in [2, 3] {
        h.server.push.send(ServerCmd::Drop).unwrap();
        let mut events = Vec::new();
        while events.last() != Some(&ExecutionEvent::Status(FeedStatus::Reconnected)) {
            events.push(next_event(&mut h.executions).await);
        }
        assert_eq!(
            events,
            [
                ExecutionEvent::Status(FeedStatus::Disconnected { reason: "socket closed".into() }),
                ExecutionEvent::Status(FeedStatus::Connected { registrations: 2 }),
                ExecutionEvent::Status(FeedStatus::Reconnected),
            ]
        );
        wait_until(|| h.server.with(|s| s.connections == connection && s.active.len() == 2)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    while let Ok(ev) = h.executions.try_recv() {
        assert!(!matches!(ev, ExecutionEvent::Fill(_)), "no fill from the feed itself: {ev:?}");
    }
}

/// An H0STCNT0 frame of `n` trade prints of 005930 at 71 900, 1 to `n` shares.
fn trade_frame(n: usize) -> String {
    let record = |qty: usize| {
        format!(
            "005930^093354^71900^5^-100^-0.14^72023.83^72100^72400^71700^71900^71800^{qty}^3052507^219853241700^5105^6937^1832^84.90^1366314^1159996^1^0.39^20.28^090020^5^-200^090820^5^-500^092619^2^200^20230612^20^N^65945^216924^1118750^2199206^0.05^2424142^125.92^0^^72100"
        )
    };
    format!("0|H0STCNT0|{n:03}|{}", (1..=n).map(record).collect::<Vec<_>>().join("^"))
}

#[tokio::test]
async fn each_data_frame_is_one_batch_and_a_full_channel_drops_whole_frames() {
    let mut h = harness(|c| c.market_buffer = 1).await;
    h.feed.subscribe(Subscription::Executions).await.unwrap();
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    assert!(matches!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::Connected { .. })
    ));
    // The channel holds one batch: the first frame's; the second frame is dropped whole. The fill
    // after them shows both were handled.
    for frame in [trade_frame(3), trade_frame(2), fill_frame("094941")] {
        h.server.push.send(ServerCmd::Send(frame)).unwrap();
    }
    assert!(matches!(next_event(&mut h.executions).await, ExecutionEvent::Fill(_)));
    let qty = |batch: &MarketBatch| {
        batch
            .iter()
            .map(|ev| match ev {
                MarketEvent::Trade(t) => t.qty,
                MarketEvent::Quote(_) => dec!(0),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(qty(&h.market.try_recv().unwrap()), [dec!(1), dec!(2), dec!(3)]);
    assert!(h.market.try_recv().is_err(), "the second frame was dropped");
    // With room again, the next frame arrives.
    h.server.push.send(ServerCmd::Send(trade_frame(1))).unwrap();
    let batch = tokio::time::timeout(Duration::from_secs(5), h.market.recv()).await.unwrap().unwrap();
    assert_eq!(qty(&batch), [dec!(1)]);
}

#[tokio::test]
async fn the_first_connection_is_not_a_reconnect() {
    let mut h = harness(|_| {}).await;
    h.feed.subscribe(Subscription::Executions).await.unwrap();
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    assert_eq!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::Connected { registrations: 1 })
    );
    h.feed.shutdown().await.unwrap();
    let mut statuses = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(100), h.executions.recv()).await {
        statuses.push(ev);
    }
    assert!(!statuses.contains(&ExecutionEvent::Status(FeedStatus::Reconnected)), "{statuses:?}");
}

#[tokio::test]
async fn echoes_pingpong_and_sends_heartbeats() {
    let h = harness(|c| c.heartbeat = Some(Duration::from_millis(20))).await;
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    let ping = r#"{"header":{"tr_id":"PINGPONG","datetime":"20260303100000"}}"#;
    h.server.push.send(ServerCmd::Send(ping.into())).unwrap();
    wait_until(|| h.server.with(|s| s.echoes.len() == 1 && s.heartbeats >= 2)).await;
    assert_eq!(h.server.with(|s| s.echoes[0].clone()), ping);
}

#[tokio::test]
async fn idle_socket_reconnects_and_failed_reconnects_ask_to_stop_trading() {
    let mut h = harness(|c| c.idle_timeout = Duration::from_millis(100)).await;
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    wait_until(|| h.server.with(|s| s.connections >= 2 && s.active.len() == 1)).await;
    h.server.with(|s| s.refuse = true);
    h.server.push.send(ServerCmd::Drop).unwrap();
    loop {
        if let ExecutionEvent::Status(FeedStatus::StopTrading { reason }) =
            next_event(&mut h.executions).await
        {
            assert!(reason.contains("3 attempts"), "{reason}");
            break;
        }
    }
    h.server.with(|s| s.refuse = false);
    h.feed.connect().await.unwrap();
    wait_until(|| h.server.with(|s| s.active.len() == 1)).await;
    assert_eq!(h.backend.renewals.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn rejected_approval_key_is_reissued_and_registrations_restored() {
    let h = harness(|_| {}).await;
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    h.server.with(|s| s.reject_approval_once = true);
    let pending = h.feed.subscribe(Subscription::Trades(sym(1)));
    pending.await.unwrap();
    wait_until(|| h.server.with(|s| s.connections == 2 && s.active.len() == 2)).await;
    assert_eq!(h.backend.renewals.load(Ordering::SeqCst), 1);
}
