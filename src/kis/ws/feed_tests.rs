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
use crate::domain::market::{BookLevel, FillNotice, MarketEvent, SessionPhase, TradeTick};
use crate::domain::{Side, Symbol};
use crate::kis::ws::crypto::NoticeCipher;
use crate::ports::FakeClock;

const KEY: &str = "abcdefghijklmnopabcdefghijklmnop";
const IV: &str = "0123456789abcdef";

#[derive(Debug, Clone)]
enum ServerCmd {
    Send(String),
    /// Sends the text this many times in a row.
    Burst(String, usize),
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
    /// Registrations allowed per session (41 when unset).
    cap: Option<usize>,
    /// While set, every registration is answered `OPSP8996` and the socket closed (another
    /// session holds the app key); counts the refusals.
    session_in_use: bool,
    session_refusals: usize,
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
                    if s.session_in_use {
                        s.session_refusals += 1;
                        "OPSP8996"
                    } else if tr_type == "2" {
                        s.active.remove(&key);
                        "OPSP0001"
                    } else if std::mem::take(&mut s.reject_approval_once) {
                        "OPSP0011"
                    } else if s.active.len() >= s.cap.unwrap_or(41) {
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
                if code == "OPSP8996" {
                    return;
                }
            }
            cmd = push.recv() => match cmd {
                Ok(ServerCmd::Send(text)) => { let _ = socket.send(AxMessage::Text(text.into())).await; }
                Ok(ServerCmd::Burst(text, n)) => {
                    for _ in 0..n {
                        let _ = socket.send(AxMessage::Text(text.clone().into())).await;
                    }
                }
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
    /// The next approval-key call panics (inside the feed task, which awaits it).
    panic_once: std::sync::atomic::AtomicBool,
}

impl FeedBackend for Backend {
    fn approval_key(&self, renew: bool) -> BoxFuture<'_, Result<Secret, BrokerError>> {
        if renew {
            self.renewals.fetch_add(1, Ordering::SeqCst);
        }
        let panic = self.panic_once.swap(false, Ordering::SeqCst);
        Box::pin(async move {
            assert!(!panic, "approval key backend failed");
            Ok(Secret::new("a2585daf-8c09-4587-9fce-8ab893000000"))
        })
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
    let clock =
        Arc::new(FakeClock::new(DateTime::parse_from_rfc3339("2026-03-03T01:00:00Z").unwrap().to_utc()));
    harness_on(clock, tune).await
}

async fn harness_on(clock: Arc<dyn Clock>, tune: impl FnOnce(&mut FeedConfig)) -> Harness {
    let (server, url) = start_server().await;
    let mut config = FeedConfig {
        url,
        heartbeat: None,
        idle_timeout: Duration::from_secs(600),
        reconnect_attempts: Some(3),
        reconnect_base: Duration::from_millis(5),
        reconnect_max: Duration::from_millis(40),
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
    let feed =
        Feed::new(settings, backend.clone(), clock, FeedOutputs { market: market_tx, executions: exec_tx });
    Harness { server, feed, backend, executions, market }
}

/// The next event, reports of the registrations' states aside (the tests about them read them
/// with [`next_report`]).
async fn next_event(rx: &mut mpsc::UnboundedReceiver<ExecutionEvent>) -> ExecutionEvent {
    loop {
        let ev = any_event(rx).await;
        if !matches!(ev, ExecutionEvent::Status(FeedStatus::Registrations { .. })) {
            return ev;
        }
    }
}

/// The events received so far, reports of the registrations' states aside.
fn other_events(rx: &mut mpsc::UnboundedReceiver<ExecutionEvent>) -> Vec<ExecutionEvent> {
    let mut events = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if !matches!(ev, ExecutionEvent::Status(FeedStatus::Registrations { .. })) {
            events.push(ev);
        }
    }
    events
}

async fn any_event(rx: &mut mpsc::UnboundedReceiver<ExecutionEvent>) -> ExecutionEvent {
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

/// One registration up, then an outage begins: the server refuses new connections and drops
/// the socket; returns once the feed reports the disconnect.
async fn start_outage(h: &mut Harness) {
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    wait_until(|| h.server.with(|s| s.active.len() == 1)).await;
    h.server.with(|s| s.refuse = true);
    h.server.push.send(ServerCmd::Drop).unwrap();
    loop {
        if let ExecutionEvent::Status(FeedStatus::Disconnected { .. }) = next_event(&mut h.executions).await {
            break;
        }
    }
}

fn sym(i: usize) -> Symbol {
    Symbol::new(format!("{:06}", 5930 + i)).unwrap()
}

/// An encrypted H0STCNI9 frame of a fill notice of order 2891: 2 shares at 3 190 at `hhmmss` KST.
fn fill_frame(hhmmss: &str) -> String {
    sized_fill_frame(hhmmss, "0000000002", "000003190")
}

/// An encrypted H0STCNI9 frame of a fill notice of order 2891 of `qty` shares at `price`.
fn sized_fill_frame(hhmmss: &str, qty: &str, price: &str) -> String {
    let cipher = NoticeCipher::from_ack(KEY, IV).unwrap();
    let fill = format!(
        "HTSID^1234567801^0000002891^^02^0^00^0^136480^{qty}^{price}^{hhmmss}^0^2^2^06010^000000010^김한투^0^1^N^^^^하림^{price}"
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

/// The default outage policy: the feed reconnects for as long as the server refuses (capped
/// backoff with jitter, far beyond the old five attempts), keeps serving commands meanwhile — a
/// subscription made while the socket is down is kept and registered with the others on the
/// reconnect — and never asks the pipeline to stop trading.
#[tokio::test]
async fn a_long_outage_is_reconnected_without_stopping_trading() {
    let mut h = harness(|c| {
        c.reconnect_attempts = None;
        c.idle_timeout = Duration::from_millis(100);
    })
    .await;
    start_outage(&mut h).await;
    // Well past three attempts (5, 10, 20, then 40 ms capped): the old policy gave up here.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let subscribed =
        tokio::time::timeout(Duration::from_secs(1), h.feed.subscribe(Subscription::Trades(sym(1))));
    subscribed.await.expect("answered while the socket is down").unwrap();
    h.server.with(|s| s.refuse = false);
    wait_until(|| h.server.with(|s| s.active.len() == 2)).await;
    let mut seen = Vec::new();
    while let Ok(ev) = h.executions.try_recv() {
        seen.push(ev);
    }
    assert!(
        !seen.iter().any(|e| matches!(e, ExecutionEvent::Status(FeedStatus::StopTrading { .. }))),
        "{seen:?}"
    );
    assert!(seen.contains(&ExecutionEvent::Status(FeedStatus::Reconnected)), "{seen:?}");
}

/// A clock 1000 times faster than the wall clock (a compressed rehearsal's).
#[derive(Debug)]
struct Compressed(FakeClock);

impl Clock for Compressed {
    fn now(&self) -> DateTime<chrono::Utc> {
        self.0.now()
    }

    fn real(&self, span: Duration) -> Duration {
        span / 1000
    }
}

/// The reconnect backoff is a span of the trading day: on a compressed clock the feed retries
/// as often per simulated minute as on the real day (5 s to 30 s backoffs, in 5 to 30 ms here;
/// on the wall clock the first retry alone took 5 s, a simulated hour and a half at 1000×).
#[tokio::test]
async fn the_reconnect_backoff_follows_the_clock() {
    let at = DateTime::parse_from_rfc3339("2026-03-03T01:00:00Z").unwrap().to_utc();
    let mut h = harness_on(Arc::new(Compressed(FakeClock::new(at))), |c| {
        c.reconnect_attempts = None;
        c.reconnect_base = Duration::from_secs(5);
        c.reconnect_max = Duration::from_secs(30);
    })
    .await;
    start_outage(&mut h).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    h.server.with(|s| s.refuse = false);
    let back = async {
        loop {
            if let ExecutionEvent::Status(FeedStatus::Reconnected) = next_event(&mut h.executions).await {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(2), back).await.expect("reconnected on the compressed backoff");
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

/// A notice whose quantity and price are the largest the codec reads (18 digits; their product is
/// beyond `Decimal`): the feed reports it as it says (the orders' ledgers refuse it) and lives on.
#[tokio::test]
async fn a_notice_beyond_the_decimal_range_is_reported_as_it_says_and_the_feed_lives_on() {
    let mut h = harness(|_| {}).await;
    h.feed.subscribe(Subscription::Executions).await.unwrap();
    assert!(matches!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::Connected { .. })
    ));
    let nines = "999999999999999999";
    for frame in [sized_fill_frame("094941", nines, nines), fill_frame("094942")] {
        h.server.push.send(ServerCmd::Send(frame)).unwrap();
    }
    let ExecutionEvent::Fill(big) = next_event(&mut h.executions).await else { panic!("fill") };
    assert_eq!((big.qty, big.price), (dec!(999_999_999_999_999_999), dec!(999_999_999_999_999_999)));
    let ExecutionEvent::Fill(next) = next_event(&mut h.executions).await else { panic!("fill") };
    assert_eq!((next.qty, next.price), (dec!(2), dec!(3190)));
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
}

/// The feed task panics (here inside the approval-key call of a registration): it is restarted,
/// its registrations are restored as after a reconnect, the consumer is told, and later
/// subscriptions work.
#[tokio::test]
async fn a_feed_task_that_panics_is_restarted_with_its_registrations_and_says_so() {
    let mut h = harness(|_| {}).await;
    h.feed.subscribe(Subscription::Executions).await.unwrap();
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    assert_eq!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::Connected { registrations: 1 })
    );
    h.backend.panic_once.store(true, Ordering::SeqCst);
    let err = h.feed.subscribe(Subscription::Trades(sym(1))).await.unwrap_err();
    assert!(matches!(err, BrokerError::Connection { .. }), "{err:?}");
    let mut events = Vec::new();
    while events.last() != Some(&ExecutionEvent::Status(FeedStatus::Reconnected)) {
        events.push(next_event(&mut h.executions).await);
    }
    let [ExecutionEvent::Status(FeedStatus::Disconnected { reason }), connected, _] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert!(
        reason.contains("feed task failed") && reason.contains("approval key backend failed"),
        "{reason}"
    );
    // The registration under way when it failed is restored with the others.
    assert_eq!(*connected, ExecutionEvent::Status(FeedStatus::Connected { registrations: 3 }));
    wait_until(|| h.server.with(|s| s.connections == 2 && s.active.len() == 3)).await;
    h.feed.subscribe(Subscription::Trades(sym(1))).await.unwrap();
    h.feed.subscribe(Subscription::Trades(sym(2))).await.unwrap();
    wait_until(|| h.server.with(|s| s.active.len() == 4)).await;
    h.server.push.send(ServerCmd::Send(fill_frame("094941"))).unwrap();
    assert!(matches!(next_event(&mut h.executions).await, ExecutionEvent::Fill(_)));
}

/// A layout change on a busy channel: 10 000 malformed frames in a burst are each counted, and
/// reported at a bounded rate (the first one at once, then at most one summary per interval), not
/// one status (hence one event row) per frame.
#[tokio::test]
async fn a_burst_of_malformed_frames_is_counted_and_reported_at_a_bounded_rate() {
    let every = Duration::from_millis(300);
    let mut h = harness(|_| {}).await;
    h.feed.malformed_every = every;
    h.feed.subscribe(Subscription::Executions).await.unwrap();
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    assert!(matches!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::Connected { .. })
    ));
    let started = Instant::now();
    h.server.push.send(ServerCmd::Burst(MALFORMED.into(), 10_000)).unwrap();
    h.server.push.send(ServerCmd::Send(fill_frame("094941"))).unwrap();
    let (mut reports, mut counted, mut fills) = (Vec::new(), 0, 0);
    while counted < 10_000 || fills == 0 {
        match next_event(&mut h.executions).await {
            ExecutionEvent::Status(FeedStatus::DecodeError { message, count }) => {
                counted += count;
                reports.push((message, count));
            }
            ExecutionEvent::Fill(_) => fills += 1,
            other => panic!("{other:?}"),
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(counted, 10_000, "{reports:?}");
    assert_eq!(
        reports[0],
        ("H0STCNT0: record has 3 fields, layout needs 46".to_owned(), 1),
        "the first, in full"
    );
    let bound = 2 + elapsed.as_millis() / every.as_millis();
    assert!(
        reports.len() as u128 <= bound && reports.len() < 100,
        "{} reports in {elapsed:?}",
        reports.len()
    );
    tokio::time::sleep(every * 2).await;
    assert_eq!(other_events(&mut h.executions), [], "nothing left to report");
}

const MALFORMED: &str = "0|H0STCNT0|001|005930^093354^71900";

/// Malformed frames counted but not yet reported are reported when the feed closes: the count is
/// never lost.
#[tokio::test]
async fn malformed_frames_not_yet_reported_are_reported_on_close() {
    let mut h = harness(|_| {}).await;
    h.feed.malformed_every = Duration::from_secs(3600);
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    assert!(matches!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::Connected { .. })
    ));
    h.server.push.send(ServerCmd::Burst(MALFORMED.into(), 100)).unwrap();
    let ExecutionEvent::Status(FeedStatus::DecodeError { count: 1, .. }) =
        next_event(&mut h.executions).await
    else {
        panic!("the first one at once")
    };
    // A ping after the burst: once it is echoed, the burst has been read.
    let ping = r#"{"header":{"tr_id":"PINGPONG","datetime":"20260303100000"}}"#;
    h.server.push.send(ServerCmd::Send(ping.into())).unwrap();
    wait_until(|| h.server.with(|s| s.echoes.len() == 1)).await;
    h.feed.shutdown().await.unwrap();
    let ExecutionEvent::Status(FeedStatus::DecodeError { count, .. }) = next_event(&mut h.executions).await
    else {
        panic!("the rest on close")
    };
    assert_eq!(count, 99);
    assert_eq!(next_event(&mut h.executions).await, ExecutionEvent::Status(FeedStatus::Closed));
}

/// An encrypted H0STCNI9 receipt notice (`CNTG_YN` 1, accepted) of order 2891 at `hhmmss` KST.
fn receipt_frame(hhmmss: &str) -> String {
    let cipher = NoticeCipher::from_ack(KEY, IV).unwrap();
    let receipt = format!(
        "HTSID^1234567801^0000002891^^02^0^00^0^136480^0000000000^000000000^{hhmmss}^0^1^1^06010^000000010^김한투^0^1^N^^^^하림^000003190"
    );
    format!("1|H0STCNI9|001|{}", cipher.encrypt(&receipt))
}

/// An H0STASP0 frame of one 005930 book at `hhmmss` KST (the record carries only a time).
fn book_frame(hhmmss: &str) -> String {
    format!(
        "0|H0STASP0|001|005930^{hhmmss}^0^71900^72000^72100^72200^72300^72400^72500^72600^72700^72800^71800^71700^71600^71500^71400^71300^71200^71100^71000^70900^91918^117942^92673^79708^106729^141988^176192^113906^134077^104229^95221^159371^220746^284657^212742^195370^182710^209747^376432^158171^1159362^2095167^0^0^0^0^525579^-72000^5^-100.00^3159115^0^8^0^0^0"
    )
}

/// An H0STCNT0 frame of one 005930 print at `hhmmss` KST of the business date `yyyymmdd`.
fn dated_trade_frame(hhmmss: &str, yyyymmdd: &str) -> String {
    format!(
        "0|H0STCNT0|001|005930^{hhmmss}^71900^5^-100^-0.14^72023.83^72100^72400^71700^71900^71800^1^3052507^219853241700^5105^6937^1832^84.90^1366314^1159996^1^0.39^20.28^090020^5^-200^090820^5^-500^092619^2^200^{yyyymmdd}^20^N^65945^216924^1118750^2199206^0.05^2424142^125.92^0^^72100"
    )
}

/// Issue #20 (day rollover): one feed task lives across KST dates. Notices and books, which carry
/// only a time, take the date of the session they arrive in — after a date change on the same
/// socket and after a reconnect on a later date — and nothing of the day before carries over: the
/// same order number and execution time on the next day is that day's notice (the orders' ledgers
/// key fills by trading date), and a print takes the business date of its own record.
#[tokio::test]
async fn notices_books_and_prints_take_the_date_of_the_day_they_arrive_in_across_kst_dates() {
    let mut h = harness(|_| {}).await;
    let kst = |d: u32, hhmmss: &str| {
        let date = NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        crate::domain::market::kst_to_utc(date, NaiveTime::parse_from_str(hhmmss, "%H%M%S").unwrap())
    };
    // The feed on a clock the test moves: 23:59:30 KST of 2026-03-03, half a minute before the
    // date changes.
    let clock = Arc::new(FakeClock::new(kst(3, "235930")));
    h.feed =
        Feed::new(h.feed.settings.clone(), h.feed.backend.clone(), clock.clone(), h.feed.outputs.clone());
    h.feed.subscribe(Subscription::Executions).await.unwrap();
    h.feed.subscribe(Subscription::Quotes(Symbol::new("005930").unwrap())).await.unwrap();
    h.feed.subscribe(Subscription::Trades(Symbol::new("005930").unwrap())).await.unwrap();
    assert!(matches!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::Connected { .. })
    ));

    // What one day's frames say: (receipt time, fill's trading date and time, book time, print time).
    async fn one_day(
        h: &mut Harness,
        yyyymmdd: &str,
    ) -> (DateTime<chrono::Utc>, NaiveDate, NaiveTime, DateTime<chrono::Utc>, DateTime<chrono::Utc>) {
        for frame in [
            receipt_frame("094941"),
            fill_frame("094941"),
            book_frame("093730"),
            dated_trade_frame("093354", yyyymmdd),
        ] {
            h.server.push.send(ServerCmd::Send(frame)).unwrap();
        }
        let ExecutionEvent::Notice(receipt) = next_event(&mut h.executions).await else { panic!("receipt") };
        assert_eq!(receipt.trade_date, to_kst(receipt.at).date_naive());
        let ExecutionEvent::Fill(fill) = next_event(&mut h.executions).await else { panic!("fill") };
        assert_eq!(fill.broker_order_no, "0000002891", "the same order number every day");
        let mut market = Vec::new();
        while market.len() < 2 {
            let batch = tokio::time::timeout(Duration::from_secs(5), h.market.recv()).await.unwrap().unwrap();
            market.extend(batch);
        }
        let [MarketEvent::Quote(book), MarketEvent::Trade(print)] = market.as_slice() else {
            panic!("{market:?}")
        };
        (receipt.at, fill.trade_date, fill.exec_time, book.at, print.at)
    }

    let day1 = one_day(&mut h, "20260303").await;
    let d3 = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
    let t = |s: &str| NaiveTime::parse_from_str(s, "%H%M%S").unwrap();
    assert_eq!(day1, (kst(3, "094941"), d3, t("094941"), kst(3, "093730"), kst(3, "093354")));

    // The KST date changes with the socket up: the next frames belong to 2026-03-04.
    clock.set(kst(4, "000005"));
    let day2 = one_day(&mut h, "20260304").await;
    let d4 = NaiveDate::from_ymd_opt(2026, 3, 4).unwrap();
    assert_eq!(day2, (kst(4, "094941"), d4, t("094941"), kst(4, "093730"), kst(4, "093354")));

    // A day later the socket drops: the restored session's frames belong to 2026-03-05.
    clock.set(kst(5, "083000"));
    h.server.push.send(ServerCmd::Drop).unwrap();
    while next_event(&mut h.executions).await != ExecutionEvent::Status(FeedStatus::Reconnected) {}
    wait_until(|| h.server.with(|s| s.connections == 2 && s.active.len() == 3)).await;
    let day3 = one_day(&mut h, "20260305").await;
    let d5 = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
    assert_eq!(day3, (kst(5, "094941"), d5, t("094941"), kst(5, "093730"), kst(5, "093354")));
    assert_eq!(other_events(&mut h.executions), [], "nothing else, nothing of an earlier day");
}

/// A report of the registrations' states: whether the socket is open, and each registration as
/// its name and state, execution notices first.
type Report = (bool, Vec<(String, RegistrationState)>);

/// Reads events until a report of the registrations' states satisfies `want`; returns it and
/// the other events read meanwhile, in order.
async fn report_where(
    rx: &mut mpsc::UnboundedReceiver<ExecutionEvent>,
    want: impl Fn(&Report) -> bool,
) -> (Report, Vec<ExecutionEvent>) {
    let mut others = Vec::new();
    loop {
        match any_event(rx).await {
            ExecutionEvent::Status(FeedStatus::Registrations { connected, cap, registrations }) => {
                assert_eq!(cap, 41);
                let report: Report = (
                    connected,
                    registrations.into_iter().map(|r| (r.subscription.to_string(), r.state)).collect(),
                );
                if want(&report) {
                    return (report, others);
                }
            }
            other => others.push(other),
        }
    }
}

fn all_active(report: &Report, n: usize) -> bool {
    report.0 && report.1.len() == n && report.1.iter().all(|(_, s)| *s == RegistrationState::Active)
}

fn notices_key() -> (String, String) {
    ("H0STCNI9".to_owned(), "HTSID".to_owned())
}

/// Issue #20: a registration the server refuses (`OPSP0008`, over the session's cap) used to be
/// dropped from the registry silently — for the execution notices, fills stopped arriving. It is
/// kept and the call stands; the refusal is reported once (not once per retry) and in the report
/// of every registration's state; it is sent again with a backoff, and once the server takes it
/// it is reported active again and its events arrive.
#[tokio::test]
async fn a_refused_registration_is_kept_reported_and_active_again_once_retried() {
    let mut h = harness(|c| c.reconnect_attempts = None).await;
    h.feed.registrations_settle = Duration::from_millis(50);
    h.server.with(|s| s.cap = Some(2));
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    h.feed.subscribe(Subscription::Trades(sym(1))).await.unwrap();
    h.feed.subscribe(Subscription::Executions).await.expect("refused, but kept: the registration stands");

    let since = DateTime::parse_from_rfc3339("2026-03-03T01:00:00Z").unwrap().to_utc();
    let refused = RegistrationState::Refused { code: "OPSP0008".into(), message: "ok".into(), since };
    let (report, others) =
        report_where(&mut h.executions, |r| r.1.len() == 3 && r.1[0].1 != RegistrationState::Pending).await;
    assert_eq!(
        report,
        (
            true,
            vec![
                ("execution notices".to_owned(), refused.clone()),
                ("trades 005930".to_owned(), RegistrationState::Active),
                ("trades 005931".to_owned(), RegistrationState::Active),
            ]
        )
    );
    assert_eq!(
        others,
        [
            ExecutionEvent::Status(FeedStatus::Connected { registrations: 1 }),
            ExecutionEvent::Status(FeedStatus::RegistrationRefused {
                subscription: Subscription::Executions,
                code: "OPSP0008".into(),
                message: "ok".into(),
            }),
        ]
    );

    // Retried with a backoff while the cap holds; the refusal is not reported again.
    let attempts = || h.server.with(|s| s.log.iter().filter(|l| l.1 == "1" && l.2 == "H0STCNI9").count());
    wait_until(|| attempts() >= 4).await;
    assert!(!h.server.with(|s| s.active.contains(&notices_key())));

    // The server takes it at the next retry: reported active again, and fills arrive.
    h.server.with(|s| s.cap = Some(3));
    let (report, others) = report_where(&mut h.executions, |r| all_active(r, 3)).await;
    assert_eq!(report.1[0].0, "execution notices");
    assert_eq!(
        others,
        [ExecutionEvent::Status(FeedStatus::RegistrationRestored { subscription: Subscription::Executions })],
        "one refusal report for all the retries, then the restoration"
    );
    assert!(h.server.with(|s| s.active.contains(&notices_key())));
    h.server.push.send(ServerCmd::Send(fill_frame("094941"))).unwrap();
    assert!(matches!(next_event(&mut h.executions).await, ExecutionEvent::Fill(_)));
}

/// A registration refused for the session's cap is sent again as soon as an unsubscription frees
/// a slot, not only when its backoff (here a minute) ends.
#[tokio::test]
async fn a_registration_refused_for_the_cap_is_retried_when_a_slot_frees() {
    let mut h = harness(|c| {
        c.reconnect_base = Duration::from_secs(60);
        c.reconnect_max = Duration::from_secs(60);
    })
    .await;
    h.feed.registrations_settle = Duration::from_millis(50);
    h.server.with(|s| s.cap = Some(1));
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    h.feed.subscribe(Subscription::Executions).await.unwrap();
    let refused =
        |e: &ExecutionEvent| matches!(e, ExecutionEvent::Status(FeedStatus::RegistrationRefused { .. }));
    while !refused(&next_event(&mut h.executions).await) {}
    h.feed.unsubscribe(Subscription::Trades(sym(0))).await.unwrap();
    assert_eq!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::RegistrationRestored { subscription: Subscription::Executions })
    );
    let (report, _) = report_where(&mut h.executions, |r| all_active(r, 1)).await;
    assert_eq!(report.1[0].0, "execution notices");
    assert_eq!(h.server.with(|s| s.active.clone()), HashSet::from([notices_key()]));
}

/// Issue #20: `OPSP8996` (another session still holds the app key) is a condition of the
/// connection, not the end of a registration: the caller waiting on it is told, the socket is
/// reconnected (backing off) with the whole registry — the registration refused included — for as
/// long as the old session lingers, and every registration is active once it is gone.
#[tokio::test]
async fn session_in_use_keeps_every_registration_and_reconnects_until_the_old_session_is_gone() {
    let mut h = harness(|c| c.reconnect_attempts = None).await;
    h.feed.registrations_settle = Duration::from_millis(50);
    h.server.with(|s| s.session_in_use = true);
    let err = h.feed.subscribe(Subscription::Executions).await.unwrap_err();
    assert!(matches!(err, BrokerError::SessionInUse { .. }), "{err:?}");
    assert_eq!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::Connected { registrations: 1 })
    );
    let ExecutionEvent::Status(FeedStatus::Disconnected { reason }) = next_event(&mut h.executions).await
    else {
        panic!("the connection is what was refused")
    };
    assert!(reason.contains("OPSP8996"), "{reason}");
    // A registration made meanwhile is kept too.
    h.feed.subscribe(Subscription::Trades(sym(0))).await.unwrap();
    wait_until(|| h.server.with(|s| s.session_refusals >= 4)).await;
    h.server.with(|s| s.session_in_use = false);
    wait_until(|| h.server.with(|s| s.active.len() == 2)).await;
    assert!(h.server.with(|s| s.active.contains(&notices_key())), "the notices were not given up");
    let (_, others) = report_where(&mut h.executions, |r| all_active(r, 2)).await;
    assert!(
        others.ends_with(&[
            ExecutionEvent::Status(FeedStatus::Connected { registrations: 2 }),
            ExecutionEvent::Status(FeedStatus::Reconnected),
        ]),
        "{others:?}"
    );
    h.server.push.send(ServerCmd::Send(fill_frame("094941"))).unwrap();
    assert!(matches!(next_event(&mut h.executions).await, ExecutionEvent::Fill(_)));
}

/// The report of the registrations' states follows the socket: pending while it is down, active
/// again after the reconnect; closing the feed reports it empty and closed.
#[tokio::test]
async fn the_registrations_report_follows_the_socket_and_the_close() {
    let mut h = harness(|c| c.reconnect_attempts = None).await;
    h.feed.registrations_settle = Duration::from_millis(50);
    h.feed.subscribe(Subscription::Executions).await.unwrap();
    h.feed.subscribe(Subscription::Quotes(sym(0))).await.unwrap();
    let (report, _) = report_where(&mut h.executions, |r| all_active(r, 2)).await;
    assert_eq!(
        report.1.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["execution notices", "quotes 005930"]
    );
    h.server.with(|s| s.refuse = true);
    h.server.push.send(ServerCmd::Drop).unwrap();
    let (report, _) = report_where(&mut h.executions, |r| !r.0).await;
    assert!(report.1.iter().all(|(_, s)| *s == RegistrationState::Pending), "{report:?}");
    h.server.with(|s| s.refuse = false);
    report_where(&mut h.executions, |r| all_active(r, 2)).await;
    h.feed.shutdown().await.unwrap();
    let (report, others) = report_where(&mut h.executions, |r| r.1.is_empty()).await;
    assert!(!report.0);
    assert_eq!(next_event(&mut h.executions).await, ExecutionEvent::Status(FeedStatus::Closed));
    assert!(others.is_empty(), "{others:?}");
}

/// 2026-03-04 00:30:01 KST = 2026-03-03 10:30:01 in New York (EST): inside the US regular
/// session, on another KST date than New York's.
fn us_session_clock() -> Arc<FakeClock> {
    Arc::new(FakeClock::new(DateTime::parse_from_rfc3339("2026-03-03T15:30:01Z").unwrap().to_utc()))
}

/// An HDFSCNT0 frame of one AAPL print at 190.5 (10 shares, regular session unless `mtyp`
/// says otherwise), stamped 00:30:01 KST on 2026-03-04, plus `extra` appended fields.
fn us_trade_frame(mtyp: &str, extra: &str) -> String {
    format!(
        "0|HDFSCNT0|001|DNASAAPL^AAPL^4^20260303^20260303^103001^20260304^003001^190.0000^191.2500^189.5000^190.5000^5^1.2500^0.66^190.4900^190.5100^300^200^10^12345^2351234^100^120^101.50^{mtyp}{extra}"
    )
}

/// An HDFSASP0 frame of AAPL's level 1: 300 bid at 190.49, 200 offered at 190.51.
const US_BOOK_FRAME: &str = "0|HDFSASP0|001|DNASAAPL^AAPL^4^20260303^103001^20260304^003001^1000^900^5^-3^190.4900^190.5100^300^200^1^2";

/// An encrypted H0GSCNI9 notice of order 0030012345 of account 1234567801 (the harness's): a
/// receipt of 10 AAPL at 190.50 (`CNTG_YN` 1) or a fill of 3 at 148.01, at `hhmmss`.
fn us_notice_frame(fill: bool, hhmmss: &str) -> String {
    let cipher = NoticeCipher::from_ack(KEY, IV).unwrap();
    let record = if fill {
        format!(
            "HTSID^1234567801^0030012345^^02^0^2^AAPL^3^001480100^{hhmmss}^0^2^2^01790^10^KIM^APPLE^1^10^^^^^"
        )
    } else {
        format!(
            "HTSID^1234567801^0030012345^^02^0^2^AAPL^10^001905000^{hhmmss}^0^1^1^01790^^KIM^APPLE^1^10^^^^^"
        )
    };
    format!("1|H0GSCNI9|001|{}", cipher.encrypt(&record))
}

async fn next_batch(market: &mut mpsc::Receiver<MarketBatch>) -> MarketBatch {
    tokio::time::timeout(Duration::from_secs(5), market.recv()).await.expect("batch in time").expect("open")
}

/// Issue #23: the US channels on the one socket with the KRX ones. A US print, book and notices
/// arrive as the market-neutral events of the ticker — a print as a continuous-session tick, the
/// book as level 1 of a quote, the notices with the New York trading date (2026-03-03 while it is
/// already 2026-03-04 in Seoul) and the notice's time read as KST — between the KRX frames, which
/// keep their own path.
#[tokio::test]
async fn us_prints_books_and_notices_arrive_as_the_market_neutral_events_beside_the_krx_ones() {
    let mut h = harness_on(us_session_clock(), |_| {}).await;
    let aapl = Symbol::new("AAPL").unwrap();
    for sub in [
        Subscription::UsExecutions,
        Subscription::Executions,
        Subscription::UsTrades(crate::domain::Exchange::Nasd, aapl.clone()),
        Subscription::UsQuotes(crate::domain::Exchange::Nasd, aapl.clone()),
        Subscription::Trades(sym(0)),
    ] {
        h.feed.subscribe(sub).await.unwrap();
    }
    assert_eq!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::Connected { registrations: 1 })
    );
    let active = h.server.with(|s| s.active.clone());
    for key in [("H0GSCNI9", "HTSID"), ("HDFSCNT0", "DNASAAPL"), ("HDFSASP0", "DNASAAPL")] {
        assert!(active.contains(&(key.0.to_owned(), key.1.to_owned())), "{key:?} in {active:?}");
    }
    assert_eq!((h.server.with(|s| s.connections), active.len()), (1, 5));

    for frame in [
        us_trade_frame("1", ""),
        trade_frame(1),
        US_BOOK_FRAME.to_owned(),
        us_notice_frame(false, "003000"),
        us_notice_frame(true, "003001"),
        fill_frame("094941"),
    ] {
        h.server.push.send(ServerCmd::Send(frame)).unwrap();
    }
    let at = DateTime::parse_from_rfc3339("2026-03-03T15:30:01Z").unwrap().to_utc();
    let print = TradeTick {
        symbol: aapl.clone(),
        at,
        price: dec!(190.5),
        qty: dec!(10),
        change: dec!(-1.25),
        change_rate: dec!(-0.66),
        open: dec!(190),
        high: dec!(191.25),
        low: dec!(189.5),
        best_ask: dec!(190.51),
        best_bid: dec!(190.49),
        cum_volume: dec!(12345),
        cum_value: dec!(2351234),
        aggressor: None,
        phase: SessionPhase::Continuous,
        halted: false,
    };
    assert_eq!(next_batch(&mut h.market).await, [MarketEvent::Trade(print)]);
    let krx = next_batch(&mut h.market).await;
    assert!(matches!(&krx[..], [MarketEvent::Trade(t)] if t.symbol == sym(0)), "{krx:?}");
    let [MarketEvent::Quote(book)] = &next_batch(&mut h.market).await[..] else { panic!("one quote") };
    let level = |price, qty| BookLevel { price, qty };
    assert_eq!((book.symbol.as_str(), book.at, book.phase), ("AAPL", at, SessionPhase::Continuous));
    assert_eq!(
        (book.asks[0], book.bids[0]),
        (level(dec!(190.51), dec!(200)), level(dec!(190.49), dec!(300)))
    );
    assert!(book.asks[1..].iter().chain(&book.bids[1..]).all(|l| *l == BookLevel::default()));
    assert_eq!((book.total_ask_qty, book.total_bid_qty), (dec!(200), dec!(300)));

    let new_york = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
    let ExecutionEvent::Notice(receipt) = next_event(&mut h.executions).await else { panic!("receipt") };
    assert_eq!(
        receipt,
        crate::domain::market::OrderNotice {
            kind: crate::domain::market::NoticeKind::Accepted,
            trade_date: new_york,
            broker_order_no: "0030012345".into(),
            branch: "01790".into(),
            original_order_no: None,
            symbol: aapl.clone(),
            side: Side::Buy,
            qty: dec!(10),
            price: dec!(190.5),
            at: at - chrono::TimeDelta::seconds(1),
        }
    );
    assert_eq!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Fill(FillNotice {
            trade_date: new_york,
            exec_time: NaiveTime::from_hms_opt(0, 30, 1).unwrap(),
            broker_order_no: "0030012345".into(),
            branch: "01790".into(),
            symbol: aapl,
            side: Side::Buy,
            qty: dec!(3),
            price: dec!(148.01),
        })
    );
    let ExecutionEvent::Fill(krx_fill) = next_event(&mut h.executions).await else { panic!("KRX fill") };
    assert_eq!(
        (krx_fill.symbol.as_str(), krx_fill.trade_date),
        ("136480", NaiveDate::from_ymd_opt(2026, 3, 4).unwrap()),
        "a KRX notice keeps the KST date"
    );
    assert_eq!(other_events(&mut h.executions), []);
}

/// US frames go through the feed's shared reports: a malformed one is counted and reported, a
/// wider print (fields appended) is decoded and its drift reported once, a notice of another
/// account is left out, and pre- and after-market prints are continuous-session ticks.
#[tokio::test]
async fn us_frames_share_the_malformed_count_and_the_drift_report() {
    let mut h = harness_on(us_session_clock(), |_| {}).await;
    let aapl = Symbol::new("AAPL").unwrap();
    h.feed.subscribe(Subscription::UsExecutions).await.unwrap();
    h.feed.subscribe(Subscription::UsTrades(crate::domain::Exchange::Nasd, aapl)).await.unwrap();
    assert!(matches!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::Connected { .. })
    ));
    let other_account = us_notice_frame(true, "003001");
    let cipher = NoticeCipher::from_ack(KEY, IV).unwrap();
    let plain = cipher.decrypt(other_account.rsplit('|').next().unwrap()).unwrap();
    let other_account =
        format!("1|H0GSCNI9|001|{}", cipher.encrypt(&plain.replace("1234567801", "9999999901")));
    for frame in [
        "0|HDFSCNT0|001|DNASAAPL^AAPL^4".to_owned(),
        us_trade_frame("2", "^X^Y"),
        us_trade_frame("3", "^X^Y"),
        other_account,
        us_notice_frame(true, "003001"),
    ] {
        h.server.push.send(ServerCmd::Send(frame)).unwrap();
    }
    assert_eq!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::DecodeError {
            message: "HDFSCNT0: record has 3 fields, layout needs 26".into(),
            count: 1
        })
    );
    assert_eq!(
        next_event(&mut h.executions).await,
        ExecutionEvent::Status(FeedStatus::LayoutDrift {
            channel: "HDFSCNT0".into(),
            expected: 26,
            observed: 28
        })
    );
    for _ in 0..2 {
        let batch = next_batch(&mut h.market).await;
        assert!(
            matches!(&batch[..], [MarketEvent::Trade(t)] if t.phase == SessionPhase::Continuous),
            "{batch:?}"
        );
    }
    let ExecutionEvent::Fill(fill) = next_event(&mut h.executions).await else { panic!("our fill") };
    assert_eq!(fill.qty, dec!(3));
    assert_eq!(other_events(&mut h.executions), [], "one drift report, the other account's notice left out");
}

/// A US notice's time is read as `HHMMSS` KST on the date nearest its arrival (the US session
/// crosses midnight KST); one that does not parse is the arrival time. Its trading date is New
/// York's, in standard and in summer time.
#[test]
fn a_us_notice_time_is_kst_nearest_the_arrival_and_its_date_new_york_s() {
    let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let t = |s: &str| NaiveTime::parse_from_str(s, "%H%M%S").unwrap();
    // Arrives 00:00:02 KST on 2026-03-04; executed 23:59:59 KST the day before.
    let now = utc("2026-03-03T15:00:02Z");
    assert_eq!(us::exec_time("235959", now), (t("235959"), utc("2026-03-03T14:59:59Z")));
    assert_eq!(us::exec_time("000001", now), (t("000001"), utc("2026-03-03T15:00:01Z")));
    let late = utc("2026-03-03T15:00:02.750Z");
    assert_eq!(us::exec_time("24:00", late), (t("000002"), now));
    assert_eq!(us::exec_time("", late), (t("000002"), now));
    // 2026-03-04 05:59 KST is still 2026-03-03 in New York (EST); in July (EDT) 04:59 KST is too.
    assert_eq!(us::us_trade_date(utc("2026-03-03T20:59:00Z")), NaiveDate::from_ymd_opt(2026, 3, 3).unwrap());
    assert_eq!(us::us_trade_date(utc("2026-07-14T19:59:00Z")), NaiveDate::from_ymd_opt(2026, 7, 14).unwrap());
    assert_eq!(us::us_trade_date(utc("2026-07-15T04:00:00Z")), NaiveDate::from_ymd_opt(2026, 7, 15).unwrap());
}
