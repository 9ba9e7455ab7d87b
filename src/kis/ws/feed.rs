//! The real-time feed task: the one owner of the WebSocket of an app key. Commands arrive over an
//! mpsc channel, typed events leave on the broker channels, a cancellation token shuts it down.
//!
//! The socket opens lazily on the first subscription. Registrations (capped at 41) are restored
//! after every reconnect; the server's PINGPONG is echoed and a client heartbeat can be sent;
//! silence longer than the idle timeout forces a reconnect; reconnects back off exponentially and,
//! after the last attempt, ask the pipeline to stop trading.
//!
//! A registration leaves the registry only when it is unsubscribed or the feed is closed. One the
//! server refuses (`OPSP0008 MAX SUBSCRIBE OVER`, an internal error …) is kept with its state,
//! reported ([`FeedStatus::RegistrationRefused`]) and sent again with a backoff, at once when a
//! slot frees, and on every reconnect; once acknowledged it is reported
//! ([`FeedStatus::RegistrationRestored`]). `OPSP8996 ALREADY IN USE appkey` is a condition of the
//! connection, not of a registration: another session still holds the app key, so the socket is
//! dropped and reconnected (backing off while the refusals repeat) with the whole registry. Every
//! registration's state is reported as a whole ([`FeedStatus::Registrations`]) when it changed,
//! once the acknowledgements settle.
//!
//! The task is supervised: should it panic, it is started afresh with its registrations, which it
//! restores as after a reconnect ([`FeedStatus::Disconnected`] naming the failure, then
//! [`FeedStatus::Connected`] and [`FeedStatus::Reconnected`]), so later subscriptions keep working
//! and the consumer recovers what it missed. Malformed frames are counted and reported at a
//! bounded rate ([`FeedStatus::DecodeError`] carries the count), not one status per frame.
//!
//! The feed only reports: each notice becomes an [`ExecutionEvent`] carrying what the notice says
//! (a fill as a [`crate::domain::market::FillNotice`], KST date and time as given). It keeps no
//! fill ledger and calls no REST inquiry: after a reconnect it reports [`FeedStatus::Reconnected`],
//! and the consumer recovers the fills missed while disconnected from a broker snapshot through
//! the orders' ledgers ([`crate::domain::fill::FillLedger`]), which also drop the duplicates.
//!
//! The US channels (HDFSCNT0, HDFSASP0, H0GSCNI0 / H0GSCNI9) share the socket, the registry and
//! the malformed-frame and layout-drift reports; their frames are decoded apart from the KRX
//! ones and handed on as the same market-neutral events (`feed_us.rs`; a US notice's trading
//! date is the New York date it arrives on).

use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{FutureExt, SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::{OnceCell, mpsc, oneshot};
use tokio::time::{Instant, Interval};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::codec::{Ack, Decoded, Decoder, ExecutionRecord, Frame, Records, parse_frame};
use super::error::KisWsError;
use crate::domain::Mode;
use crate::domain::market::{
    ExecutionEvent, FeedRegistration, FeedStatus, MarketBatch, RegistrationState, Subscription, to_kst,
};
use crate::kis::config::FeedConfig;
use crate::ports::{BrokerError, Clock, Secret};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Key = (String, String);
type Reply = oneshot::Sender<Result<(), BrokerError>>;

/// How long a subscriber waits for the server's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(15);
/// How long opening the socket may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// At most one report of malformed frames per this interval (after the first one of a run).
const MALFORMED_REPORT_INTERVAL: Duration = Duration::from_secs(60);
/// How long a change of the registrations' states waits for the acknowledgements under way to
/// settle before it is reported anyway.
const REGISTRATIONS_SETTLE: Duration = Duration::from_secs(2);

/// What the feed needs from the REST side.
pub trait FeedBackend: Send + Sync + std::fmt::Debug {
    /// Returns the approval key, issuing a new one when `renew` is set.
    fn approval_key(&self, renew: bool) -> BoxFuture<'_, Result<Secret, BrokerError>>;
}

/// Static settings of a feed.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// Socket and timing settings.
    pub config: FeedConfig,
    /// Live or paper (selects H0STCNI0 / H0STCNI9).
    pub mode: Mode,
    /// HTS id (tr_key of execution notices).
    pub hts_id: Secret,
    /// 10-digit account number; notices of other accounts are ignored.
    pub account: Secret,
    /// Customer type.
    pub custtype: String,
}

/// Event senders of a feed.
#[derive(Debug, Clone)]
pub struct FeedOutputs {
    /// Market data, one batch per data frame.
    pub market: mpsc::Sender<MarketBatch>,
    /// Executions and status.
    pub executions: mpsc::UnboundedSender<ExecutionEvent>,
}

/// The ack code of a second session on one app key (`OPSP8996 ALREADY IN USE appkey`).
const SESSION_IN_USE: &str = "OPSP8996";
/// The ack code of a successful unsubscription (a slot is free again).
const UNSUBSCRIBED: &str = "OPSP0001";
/// The ack code of a registration over the session's cap.
const MAX_SUBSCRIBE_OVER: &str = "OPSP0008";

#[derive(Debug)]
enum Command {
    Subscribe(Subscription, Reply),
    Unsubscribe(Subscription, Reply),
    Connect(Reply),
    Close(Reply),
    Shutdown(Reply),
}

/// Handle of the feed task (spawned on first use).
#[derive(Debug)]
pub struct Feed {
    settings: FeedSettings,
    backend: Arc<dyn FeedBackend>,
    clock: Arc<dyn Clock>,
    outputs: FeedOutputs,
    cancel: CancellationToken,
    tx: OnceCell<mpsc::Sender<Command>>,
    /// See [`MALFORMED_REPORT_INTERVAL`] (tests shorten it).
    malformed_every: Duration,
    /// See [`REGISTRATIONS_SETTLE`] (tests shorten it).
    registrations_settle: Duration,
}

impl Feed {
    /// Returns a feed; its task starts with the first command.
    pub fn new(
        settings: FeedSettings,
        backend: Arc<dyn FeedBackend>,
        clock: Arc<dyn Clock>,
        outputs: FeedOutputs,
    ) -> Self {
        Self {
            settings,
            backend,
            clock,
            outputs,
            cancel: CancellationToken::new(),
            tx: OnceCell::new(),
            malformed_every: MALFORMED_REPORT_INTERVAL,
            registrations_settle: REGISTRATIONS_SETTLE,
        }
    }

    async fn send(&self, make: impl FnOnce(Reply) -> Command) -> Result<(), BrokerError> {
        let tx = self
            .tx
            .get_or_init(|| async {
                let (tx, rx) = mpsc::channel(256);
                tokio::spawn(supervise(Task::new(self), rx));
                tx
            })
            .await;
        let (reply, wait) = oneshot::channel();
        tx.send(make(reply)).await.map_err(|_| closed())?;
        match tokio::time::timeout(ACK_TIMEOUT, wait).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(closed()),
            Err(_) => Err(BrokerError::Subscription { message: "no acknowledgement from the server".into() }),
        }
    }

    /// Registers a subscription (opening the socket on first use) and waits for the ack.
    ///
    /// A registration the server refuses is kept and retried (see the module documentation): the
    /// call returns `Ok` and the refusal is reported as [`FeedStatus::RegistrationRefused`].
    ///
    /// # Errors
    /// [`BrokerError::Subscription`] at the feed's cap of registrations;
    /// [`BrokerError::SessionInUse`] when another session holds the app key (the registration is
    /// kept and restored once the feed reconnects); [`BrokerError::Connection`] when the socket
    /// cannot be opened.
    pub async fn subscribe(&self, sub: Subscription) -> Result<(), BrokerError> {
        self.send(|r| Command::Subscribe(sub, r)).await
    }

    /// Removes a subscription.
    ///
    /// # Errors
    /// As [`Feed::subscribe`].
    pub async fn unsubscribe(&self, sub: Subscription) -> Result<(), BrokerError> {
        self.send(|r| Command::Unsubscribe(sub, r)).await
    }

    /// Opens the socket now.
    ///
    /// # Errors
    /// [`BrokerError::Connection`] when it cannot be opened.
    pub async fn connect(&self) -> Result<(), BrokerError> {
        self.send(Command::Connect).await
    }

    /// Unsubscribes everything and closes the socket, giving the broker's one session per app key
    /// back; the task stays, and the next subscription opens a new socket.
    ///
    /// # Errors
    /// Never in practice; a task that is already gone counts as closed.
    pub async fn close(&self) -> Result<(), BrokerError> {
        if self.tx.get().is_none() {
            return Ok(());
        }
        if let Err(e) = self.send(Command::Close).await {
            tracing::debug!(target: "aegis::kis::ws", error = %e, "feed already stopped");
        }
        Ok(())
    }

    /// Unsubscribes everything, closes the socket and ends the task.
    ///
    /// # Errors
    /// Never in practice; a task that is already gone counts as shut down.
    pub async fn shutdown(&self) -> Result<(), BrokerError> {
        if self.tx.get().is_none() {
            return Ok(());
        }
        let result = self.send(Command::Shutdown).await;
        self.cancel.cancel();
        if let Err(e) = result {
            tracing::debug!(target: "aegis::kis::ws", error = %e, "feed already stopped");
        }
        Ok(())
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn closed() -> BrokerError {
    BrokerError::Connection { message: "real-time feed task is gone".into() }
}

/// Runs the feed task; when it panics, starts it afresh with its registrations (restored as after
/// a reconnect, which tells the consumer) on the same command channel, so the senders stay valid.
/// A requested end (shutdown, cancellation, the handle dropped) ends it for good.
///
/// The command being handled when it failed is answered with an error (its reply is dropped). A
/// task that had neither a socket nor a registration has nothing to restore and reports nothing:
/// the failure reached the caller of that command.
async fn supervise(mut task: Task, mut rx: mpsc::Receiver<Command>) {
    loop {
        let Err(panic) = AssertUnwindSafe(task.run(&mut rx)).catch_unwind().await else { return };
        if task.cancel.is_cancelled() {
            return;
        }
        let reason = format!("feed task failed ({}); restarted", panic_message(panic.as_ref()));
        tracing::error!(target: "aegis::kis::ws", %reason, "feed task panicked");
        task = task.successor(reason);
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}

/// Malformed frames: every one is counted; the first of a run is reported at once, those that
/// follow within the interval are reported together at its end with their count, so a layout change
/// on a busy channel costs one status (one event row downstream) per interval, not one per frame.
#[derive(Debug)]
struct Malformed {
    every: Duration,
    /// Frames not reported yet, and the error of the last of them.
    unreported: u64,
    last: Option<KisWsError>,
    /// When the last report went out.
    reported_at: Option<Instant>,
    /// Every malformed frame since the task started (for the log).
    total: u64,
}

impl Malformed {
    fn new(every: Duration) -> Self {
        Self { every, unreported: 0, last: None, reported_at: None, total: 0 }
    }

    /// When the frames not reported yet are due to be.
    fn due_at(&self) -> Option<Instant> {
        (self.unreported > 0).then(|| self.reported_at.map_or_else(Instant::now, |t| t + self.every))
    }

    /// Counts one frame; returns the report to send now, if one is due.
    fn record(&mut self, err: KisWsError, now: Instant) -> Option<FeedStatus> {
        self.total = self.total.saturating_add(1);
        crate::obs::health::feed().malformed();
        self.unreported = self.unreported.saturating_add(1);
        self.last = Some(err);
        if self.reported_at.is_none_or(|t| now >= t + self.every) { self.report(now) } else { None }
    }

    /// Reports the frames not reported yet, if any.
    fn report(&mut self, now: Instant) -> Option<FeedStatus> {
        if self.unreported == 0 {
            return None;
        }
        let err = self.last.take()?;
        let count = std::mem::take(&mut self.unreported);
        self.reported_at = Some(now);
        let total = self.total;
        tracing::warn!(target: "aegis::kis::ws", count, total, error = %err, "malformed frames skipped");
        Some(FeedStatus::DecodeError { message: err.to_string(), count })
    }
}

/// A registration the feed keeps until it is unsubscribed or the feed is closed.
#[derive(Debug, Clone)]
struct Entry {
    sub: Subscription,
    state: RegistrationState,
    /// Refusals since the last acknowledgement (the retry backs off with them), and when the
    /// first of them came.
    refusals: u32,
    refused_since: Option<DateTime<Utc>>,
    /// When a refused registration is sent again on the open socket.
    retry_at: Option<Instant>,
    /// The refusal code already reported on this socket (reported once per code and socket).
    reported: Option<String>,
}

impl Entry {
    fn new(sub: Subscription) -> Self {
        Self {
            sub,
            state: RegistrationState::Pending,
            refusals: 0,
            refused_since: None,
            retry_at: None,
            reported: None,
        }
    }
}

struct Task {
    settings: FeedSettings,
    backend: Arc<dyn FeedBackend>,
    clock: Arc<dyn Clock>,
    out: FeedOutputs,
    cancel: CancellationToken,
    ws: Option<Socket>,
    registry: BTreeMap<Key, Entry>,
    pending: HashMap<Key, Vec<Reply>>,
    resubscribed: HashSet<Key>,
    decoder: Decoder,
    /// The US channels' ciphers and drift reports.
    us: us::UsChannels,
    last_rx: Instant,
    renew_key: bool,
    /// A socket was lost since the last connection: the next one is a reconnect.
    lost: bool,
    /// The next reconnect attempt while the socket is lost: its number and when it is due.
    retry: Option<(u32, Instant)>,
    /// Market records dropped because the channel was full (a whole frame at a time).
    dropped_market: u64,
    malformed: Malformed,
    /// Set on a task started after its predecessor failed: why, and that its registrations are to
    /// be restored before anything else.
    restore: Option<String>,
    /// `OPSP8996` refusals of the session since the last acknowledged registration.
    session_refusals: u32,
    /// When the registrations' states are due to be reported (they changed since the last report).
    report_at: Option<Instant>,
    /// The last report of the registrations' states (an unchanged picture is not sent again).
    reported: Option<FeedStatus>,
    registrations_settle: Duration,
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending::<()>().await,
    }
}

async fn next_tick(interval: &mut Option<Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => futures::future::pending::<()>().await,
    }
}

impl Task {
    fn new(feed: &Feed) -> Self {
        let mut task = Self::fresh(
            feed.settings.clone(),
            feed.backend.clone(),
            feed.clock.clone(),
            feed.outputs.clone(),
            feed.cancel.clone(),
            Malformed::new(feed.malformed_every),
        );
        task.registrations_settle = feed.registrations_settle;
        task
    }

    fn fresh(
        settings: FeedSettings,
        backend: Arc<dyn FeedBackend>,
        clock: Arc<dyn Clock>,
        out: FeedOutputs,
        cancel: CancellationToken,
        malformed: Malformed,
    ) -> Self {
        let today = to_kst(clock.now()).date_naive();
        Self {
            decoder: Decoder::new(today, Some(settings.account.expose().to_owned())),
            us: us::UsChannels::default(),
            settings,
            backend,
            clock,
            out,
            cancel,
            ws: None,
            registry: BTreeMap::new(),
            pending: HashMap::new(),
            resubscribed: HashSet::new(),
            last_rx: Instant::now(),
            renew_key: false,
            lost: false,
            retry: None,
            dropped_market: 0,
            malformed,
            restore: None,
            session_refusals: 0,
            report_at: None,
            reported: None,
            registrations_settle: REGISTRATIONS_SETTLE,
        }
    }

    /// The task that takes over after this one failed: the registrations and the malformed-frame
    /// count carry over; nothing else is trusted. Its socket (if any) is dropped, and so are the
    /// replies it still held, whose callers get an error.
    fn successor(mut self, reason: String) -> Self {
        let had_socket = self.ws.take().is_some();
        let mut next = Self::fresh(
            self.settings.clone(),
            self.backend.clone(),
            self.clock.clone(),
            self.out.clone(),
            self.cancel.clone(),
            std::mem::replace(&mut self.malformed, Malformed::new(Duration::ZERO)),
        );
        next.registry = std::mem::take(&mut self.registry);
        next.registrations_settle = self.registrations_settle;
        next.restore = (had_socket || !next.registry.is_empty()).then_some(reason);
        next
    }

    fn key(&self, sub: &Subscription) -> Key {
        match sub {
            Subscription::Quotes(s) => ("H0STASP0".into(), s.as_str().into()),
            Subscription::Trades(s) => ("H0STCNT0".into(), s.as_str().into()),
            Subscription::Executions => {
                let tr = if self.settings.mode == Mode::Live { "H0STCNI0" } else { "H0STCNI9" };
                (tr.into(), self.settings.hts_id.expose().into())
            }
            Subscription::UsQuotes(e, s) => ("HDFSASP0".into(), us_realtime_key(*e, s)),
            Subscription::UsTrades(e, s) => ("HDFSCNT0".into(), us_realtime_key(*e, s)),
            Subscription::UsExecutions => {
                let tr = if self.settings.mode == Mode::Live { "H0GSCNI0" } else { "H0GSCNI9" };
                (tr.into(), self.settings.hts_id.expose().into())
            }
        }
    }

    fn status(&self, status: FeedStatus) {
        let _ = self.out.executions.send(ExecutionEvent::Status(status));
    }

    async fn run(&mut self, rx: &mut mpsc::Receiver<Command>) {
        if let Some(reason) = self.restore.take() {
            self.reconnect(&reason).await;
        }
        let mut heartbeat = self.settings.config.heartbeat.map(tokio::time::interval);
        loop {
            let idle_at = self.last_rx + self.settings.config.idle_timeout;
            let connected = self.ws.is_some();
            crate::obs::health::feed().set_state(connected, self.registry.len());
            let malformed_at = self.malformed.due_at();
            let retry_at = self.retry.map(|(_, at)| at);
            let registrations_at = self.registrations_due_at();
            tokio::select! {
                () = self.cancel.cancelled() => {
                    self.close().await;
                    break;
                }
                cmd = rx.recv() => match cmd {
                    Some(Command::Shutdown(reply)) => {
                        self.close().await;
                        let _ = reply.send(Ok(()));
                        break;
                    }
                    Some(cmd) => self.command(cmd).await,
                    None => {
                        self.close().await;
                        break;
                    }
                },
                msg = async { match self.ws.as_mut() { Some(ws) => ws.next().await, None => None } }, if connected => {
                    self.last_rx = Instant::now();
                    match msg {
                        Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await,
                        Some(Ok(Message::Close(_)) | Err(_)) | None => self.reconnect("socket closed").await,
                        Some(Ok(_)) => {}
                    }
                }
                () = next_tick(&mut heartbeat), if connected => {
                    self.send_text(json!({"header": {"tr_id": "PINGPONG"}}).to_string()).await;
                }
                () = tokio::time::sleep_until(idle_at), if connected => {
                    self.reconnect("idle timeout").await;
                }
                () = sleep_until_some(malformed_at), if malformed_at.is_some() => {
                    self.report_malformed();
                }
                () = sleep_until_some(retry_at), if retry_at.is_some() && !connected => {
                    self.retry_connect().await;
                }
                () = sleep_until_some(registrations_at), if registrations_at.is_some() => {
                    self.registrations_due().await;
                }
            }
        }
    }

    async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Connect(reply) => {
                let result = if self.ws.is_some() { Ok(()) } else { self.open_and_restore().await };
                let _ = reply.send(result);
            }
            Command::Subscribe(sub, reply) => {
                let key = self.key(&sub);
                if self.registry.contains_key(&key) {
                    let _ = reply.send(Ok(()));
                    return;
                }
                let cap = self.settings.config.max_registrations;
                if self.registry.len() >= cap {
                    let _ = reply.send(Err(BrokerError::Subscription {
                        message: format!("registration cap of {cap} reached"),
                    }));
                    return;
                }
                if self.retry.is_some() {
                    // The socket is down and being reconnected: the registration is kept and
                    // sent with the others once it is back.
                    self.registry.insert(key, Entry::new(sub));
                    self.registrations_changed();
                    let _ = reply.send(Ok(()));
                    return;
                }
                self.registry.insert(key.clone(), Entry::new(sub));
                self.registrations_changed();
                self.pending.entry(key.clone()).or_default().push(reply);
                if self.ws.is_none() {
                    if let Err(e) = self.open_and_restore().await {
                        self.registry.remove(&key);
                        self.registrations_changed();
                        self.fail_pending(&key, e);
                    }
                } else {
                    self.send_registration(&key, "1").await;
                }
            }
            Command::Unsubscribe(sub, reply) => {
                let key = self.key(&sub);
                let removed = self.registry.remove(&key);
                if removed.is_some() {
                    self.registrations_changed();
                }
                // A refused registration is not on the server: nothing to take back.
                let refused =
                    removed.as_ref().is_some_and(|e| matches!(e.state, RegistrationState::Refused { .. }));
                if removed.is_none() || refused || self.ws.is_none() {
                    let _ = reply.send(Ok(()));
                    return;
                }
                self.pending.entry(key.clone()).or_default().push(reply);
                self.send_registration(&key, "2").await;
            }
            Command::Close(reply) | Command::Shutdown(reply) => {
                self.close().await;
                let _ = reply.send(Ok(()));
            }
        }
    }

    fn fail_pending(&mut self, key: &Key, err: BrokerError) {
        for reply in self.pending.remove(key).unwrap_or_default() {
            let _ = reply.send(Err(err.clone()));
        }
    }

    fn succeed_pending(&mut self, key: &Key) {
        for reply in self.pending.remove(key).unwrap_or_default() {
            let _ = reply.send(Ok(()));
        }
    }

    async fn send_text(&mut self, text: String) -> bool {
        match self.ws.as_mut() {
            Some(ws) => ws.send(Message::text(text)).await.is_ok(),
            None => false,
        }
    }

    async fn send_registration(&mut self, key: &Key, tr_type: &str) {
        let approval = match self.backend.approval_key(false).await {
            Ok(k) => k,
            Err(e) => {
                self.fail_pending(key, e);
                return;
            }
        };
        let msg = json!({
            "header": {"approval_key": approval.expose(), "custtype": self.settings.custtype, "tr_type": tr_type, "content-type": "utf-8"},
            "body": {"input": {"tr_id": key.0, "tr_key": key.1}},
        });
        if !self.send_text(msg.to_string()).await {
            tracing::warn!(target: "aegis::kis::ws", tr_id = %key.0, "registration not sent: socket unavailable");
        }
    }

    async fn open_and_restore(&mut self) -> Result<(), BrokerError> {
        let renew = std::mem::take(&mut self.renew_key);
        self.backend.approval_key(renew).await?;
        let url = self.settings.config.url.as_str().to_owned();
        let (ws, _) = tokio::time::timeout(OPEN_TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| BrokerError::Connection { message: "websocket open timed out".into() })?
            .map_err(|e| BrokerError::Connection { message: format!("websocket open failed: {e}") })?;
        self.ws = Some(ws);
        self.retry = None;
        self.last_rx = Instant::now();
        self.resubscribed.clear();
        self.registrations_resent();
        let keys: Vec<Key> = self.registry.keys().cloned().collect();
        for key in &keys {
            self.send_registration(key, "1").await;
        }
        tracing::info!(target: "aegis::kis::ws", registrations = keys.len(), "websocket connected");
        self.status(FeedStatus::Connected { registrations: keys.len() });
        if std::mem::take(&mut self.lost) {
            crate::obs::health::feed().reconnected();
            self.status(FeedStatus::Reconnected);
        }
        Ok(())
    }

    /// Drops the socket and schedules the first reconnect attempt; the task keeps serving
    /// commands while the socket is down (a subscription made meanwhile is kept and registered on
    /// the reconnect).
    async fn reconnect(&mut self, reason: &str) {
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(None).await;
        }
        self.registrations_down();
        tracing::warn!(target: "aegis::kis::ws", reason, "websocket lost");
        self.lost = true;
        self.status(FeedStatus::Disconnected { reason: reason.into() });
        self.retry = Some((0, Instant::now() + self.backoff(0)));
    }

    /// The delay before reconnect attempt `attempt`: the base doubled per attempt, capped, with
    /// ±20 % jitter so that many clients do not retry in step.
    fn backoff(&self, attempt: u32) -> Duration {
        let cfg = &self.settings.config;
        let doubled = cfg.reconnect_base.saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX));
        let capped = doubled.min(cfg.reconnect_max.max(cfg.reconnect_base));
        // A span of the trading day: a compressed rehearsal retries as often per simulated
        // minute as the real day would.
        self.clock.real(capped.mul_f64(rand::random_range(0.8..1.2)))
    }

    /// One reconnect attempt; on failure the next is scheduled, or — when a finite number of
    /// attempts is configured and used up — the pipeline is asked to stop trading.
    async fn retry_connect(&mut self) {
        let Some((attempt, _)) = self.retry.take() else { return };
        match self.open_and_restore().await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(target: "aegis::kis::ws", attempt, error = %e, "reconnect failed");
                let next = attempt.saturating_add(1);
                match self.settings.config.reconnect_attempts {
                    Some(max) if next >= max => {
                        let reason = format!("websocket reconnect failed after {max} attempts");
                        tracing::error!(target: "aegis::kis::ws", %reason, "asking the pipeline to stop trading");
                        self.status(FeedStatus::StopTrading { reason });
                    }
                    _ => self.retry = Some((next, Instant::now() + self.backoff(next))),
                }
            }
        }
    }

    async fn on_text(&mut self, text: &str) {
        match parse_frame(text) {
            Ok(Frame::PingPong) => {
                self.send_text(text.to_owned()).await;
            }
            Ok(Frame::Ack(ack)) => self.on_ack(ack).await,
            Ok(Frame::Data(frame)) => {
                self.follow_session_date();
                let decoded = if us::is_us(frame.tr_id) {
                    self.us.decode(&frame, Some(self.settings.account.expose()), self.clock.now())
                } else {
                    self.decoder.decode(&frame)
                };
                match decoded {
                    Ok(decoded) => {
                        crate::obs::health::feed().frame(frame.tr_id, decoded.records.len());
                        Delivery { out: &self.out, dropped_market: &mut self.dropped_market }
                            .deliver(decoded);
                    }
                    Err(e) => self.malformed(e),
                }
            }
            Err(e) => self.malformed(e),
        }
    }

    /// Counts a malformed frame (skipped); reports it when a report is due.
    fn malformed(&mut self, err: KisWsError) {
        if let Some(status) = self.malformed.record(err, Instant::now()) {
            self.status(status);
        }
    }

    /// Reports the malformed frames not reported yet, if any.
    fn report_malformed(&mut self) {
        if let Some(status) = self.malformed.report(Instant::now()) {
            self.status(status);
        }
    }

    /// Keeps the decoder's session date on the clock's KST date: one task lives across trading
    /// days, and a notice (which carries only a time) belongs to the date it arrives on.
    fn follow_session_date(&mut self) {
        let today = to_kst(self.clock.now()).date_naive();
        if self.decoder.session_date() != Some(today) {
            self.decoder.set_session_date(today);
        }
    }

    async fn on_ack(&mut self, ack: Ack) {
        let key = (ack.tr_id.clone(), ack.tr_key.clone());
        if let Some(cipher) = ack.cipher.clone() {
            if us::is_us(&ack.tr_id) {
                self.us.set_cipher(&ack.tr_id, cipher);
            } else {
                self.decoder.set_cipher(&ack.tr_id, cipher);
            }
        }
        match ack.msg_cd.as_str() {
            "OPSP0002" if self.resubscribed.insert(key.clone()) => {
                // Already subscribed: register afresh so the server's state matches ours.
                self.send_registration(&key, "2").await;
                self.send_registration(&key, "1").await;
            }
            "OPSP0011" => {
                tracing::warn!(target: "aegis::kis::ws", "approval key rejected; renewing");
                self.renew_key = true;
                self.reconnect("approval key rejected").await;
            }
            SESSION_IN_USE => self.session_in_use(&ack.msg1).await,
            UNSUBSCRIBED if ack.is_success() => {
                self.succeed_pending(&key);
                if !self.registry.contains_key(&key) {
                    self.slot_freed();
                }
            }
            _ if ack.is_success() => {
                self.registration_active(&key);
                self.succeed_pending(&key);
            }
            code => self.registration_refused(&key, code, &ack.msg1),
        }
    }

    /// `OPSP8996`: another session still holds the app key (a previous connection the server has
    /// not dropped yet). A condition of the connection: the socket is dropped and reconnected
    /// with the whole registry, backing off further with each refusal in a row; the callers
    /// waiting on this session are told.
    async fn session_in_use(&mut self, msg1: &str) {
        let message = format!("{SESSION_IN_USE}: {msg1}");
        for (_, replies) in self.pending.drain() {
            for reply in replies {
                let _ = reply.send(Err(BrokerError::SessionInUse { message: message.clone() }));
            }
        }
        self.session_refusals = self.session_refusals.saturating_add(1);
        let refusals = self.session_refusals;
        tracing::warn!(target: "aegis::kis::ws", refusals, "session refused: the app key's session is held elsewhere");
        self.reconnect(&format!("{message} (another session holds the app key)")).await;
        // The old session lingers for a while: back off as consecutive failed attempts do.
        self.retry = Some((refusals, Instant::now() + self.backoff(refusals)));
    }

    /// A registration was acknowledged: active; if it had been refused, that is reported.
    fn registration_active(&mut self, key: &Key) {
        let Some(entry) = self.registry.get_mut(key) else { return };
        let restored = entry.refusals > 0;
        entry.state = RegistrationState::Active;
        entry.refusals = 0;
        entry.refused_since = None;
        entry.retry_at = None;
        entry.reported = None;
        let sub = entry.sub.clone();
        self.session_refusals = 0;
        if restored {
            tracing::info!(target: "aegis::kis::ws", registration = %sub, "refused registration active again");
            self.status(FeedStatus::RegistrationRestored { subscription: sub });
        }
        self.registrations_changed();
    }

    /// The server refused a registration: it is kept (refused, retried with a backoff and on the
    /// next connection) and its subscribers are answered, since it stands. An error for a key
    /// not registered (an unsubscription the server did not know) goes to its callers.
    fn registration_refused(&mut self, key: &Key, code: &str, msg1: &str) {
        let now = self.clock.now();
        let refusals = self.registry.get(key).map_or(0, |e| e.refusals);
        let retry_at = Instant::now() + self.backoff(refusals);
        let Some(entry) = self.registry.get_mut(key) else {
            let message = format!("{code}: {msg1}");
            tracing::warn!(target: "aegis::kis::ws", tr_id = %key.0, %message, "request refused");
            self.fail_pending(key, BrokerError::Subscription { message });
            return;
        };
        let since = *entry.refused_since.get_or_insert(now);
        entry.refusals = entry.refusals.saturating_add(1);
        entry.state = RegistrationState::Refused { code: code.to_owned(), message: msg1.to_owned(), since };
        entry.retry_at = Some(retry_at);
        let first = entry.reported.as_deref() != Some(code);
        entry.reported = Some(code.to_owned());
        let (sub, refusals) = (entry.sub.clone(), entry.refusals);
        tracing::warn!(
            target: "aegis::kis::ws",
            registration = %sub, code, message = msg1, refusals,
            "registration refused; kept and retried"
        );
        if first {
            self.status(FeedStatus::RegistrationRefused {
                subscription: sub,
                code: code.to_owned(),
                message: msg1.to_owned(),
            });
        }
        self.succeed_pending(key);
        self.registrations_changed();
    }

    /// A slot of the session is free again: registrations refused for the cap are retried now.
    fn slot_freed(&mut self) {
        let now = Instant::now();
        for entry in self.registry.values_mut() {
            if matches!(&entry.state, RegistrationState::Refused { code, .. } if code == MAX_SUBSCRIBE_OVER) {
                entry.retry_at = Some(now);
            }
        }
    }

    /// Every registration is about to be sent on a new socket: pending, nothing reported on it.
    fn registrations_resent(&mut self) {
        for entry in self.registry.values_mut() {
            entry.state = RegistrationState::Pending;
            entry.retry_at = None;
            entry.reported = None;
        }
        self.registrations_changed();
    }

    /// The socket is gone: registrations wait for the next one (a refused one keeps saying why
    /// until it is sent again).
    fn registrations_down(&mut self) {
        for entry in self.registry.values_mut() {
            entry.retry_at = None;
            if entry.state == RegistrationState::Active {
                entry.state = RegistrationState::Pending;
            }
        }
        self.registrations_changed();
    }

    /// Schedules a report of the registrations' states: at once when no acknowledgement is
    /// awaited on an open socket, otherwise once they settle (at the latest after the settle time).
    fn registrations_changed(&mut self) {
        let now = Instant::now();
        let settled =
            self.ws.is_some() && self.registry.values().all(|e| e.state != RegistrationState::Pending);
        let due = if settled { now } else { now + self.registrations_settle };
        self.report_at = Some(self.report_at.map_or(due, |at| at.min(due)));
    }

    /// When the registrations need the task next: a report due, or a refused one to send again.
    fn registrations_due_at(&self) -> Option<Instant> {
        let retry =
            if self.ws.is_some() { self.registry.values().filter_map(|e| e.retry_at).min() } else { None };
        match (self.report_at, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sends the refused registrations whose retry is due again, and reports the states if due.
    async fn registrations_due(&mut self) {
        let now = Instant::now();
        if self.ws.is_some() {
            let due: Vec<Key> = self
                .registry
                .iter()
                .filter(|(_, e)| e.retry_at.is_some_and(|at| at <= now))
                .map(|(k, _)| k.clone())
                .collect();
            for key in &due {
                if let Some(entry) = self.registry.get_mut(key) {
                    entry.retry_at = None;
                    entry.state = RegistrationState::Pending;
                }
                self.send_registration(key, "1").await;
            }
            if !due.is_empty() {
                self.registrations_changed();
            }
        }
        if self.report_at.is_some_and(|at| at <= now) {
            self.report_registrations();
        }
    }

    /// Reports every registration's state, unless the picture is the one reported last.
    fn report_registrations(&mut self) {
        self.report_at = None;
        let mut registrations: Vec<FeedRegistration> = self
            .registry
            .iter()
            .map(|((tr_id, _), e)| FeedRegistration {
                subscription: e.sub.clone(),
                channel: tr_id.clone(),
                state: e.state.clone(),
            })
            .collect();
        registrations.sort_by_key(|r| r.subscription != Subscription::Executions);
        let report = FeedStatus::Registrations {
            connected: self.ws.is_some(),
            cap: self.settings.config.max_registrations,
            registrations,
        };
        if self.reported.as_ref() == Some(&report) {
            return;
        }
        self.reported = Some(report.clone());
        self.status(report);
    }

    async fn close(&mut self) {
        self.retry = None;
        let keys: Vec<Key> = self.registry.keys().cloned().collect();
        if self.ws.is_some() {
            for key in &keys {
                self.send_registration(key, "2").await;
            }
        }
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(None).await;
        }
        self.registry.clear();
        crate::obs::health::feed().set_state(false, 0);
        for (_, replies) in self.pending.drain() {
            for reply in replies {
                let _ = reply.send(Err(closed()));
            }
        }
        tracing::info!(target: "aegis::kis::ws", unsubscribed = keys.len(), "websocket closed");
        self.report_malformed();
        if self.reported.is_some() || self.report_at.is_some() {
            self.report_registrations();
        }
        self.status(FeedStatus::Closed);
    }
}

/// Hands a decoded frame's events to the feed's outputs, moved, not copied: the frame's market
/// events go on as the one batch the decoder parsed them into.
struct Delivery<'a> {
    out: &'a FeedOutputs,
    dropped_market: &'a mut u64,
}

impl Delivery<'_> {
    fn deliver(&mut self, decoded: Decoded) {
        if let Some(drift) = decoded.drift {
            let (tr_id, expected, observed) = (drift.tr_id, drift.expected, drift.observed);
            tracing::warn!(target: "aegis::kis::ws", %tr_id, expected, observed, "layout drift");
            let status = FeedStatus::LayoutDrift { channel: tr_id, expected, observed };
            let _ = self.out.executions.send(ExecutionEvent::Status(status));
        }
        match decoded.records {
            Records::Market(batch) => self.market(batch),
            Records::Executions(executions) => {
                for e in executions {
                    let event = match e {
                        ExecutionRecord::Notice(n) => ExecutionEvent::Notice(n),
                        ExecutionRecord::Fill(f) => ExecutionEvent::Fill(f),
                    };
                    let _ = self.out.executions.send(event);
                }
            }
        }
    }

    /// Sends a frame's market events; when the channel is full the whole frame is dropped and its
    /// records counted (a warning each time the count passes a power of two).
    fn market(&mut self, batch: MarketBatch) {
        let records = batch.len() as u64;
        if records == 0 {
            return;
        }
        if self.out.market.try_send(batch).is_err() {
            let before = *self.dropped_market;
            *self.dropped_market += records;
            if before.checked_ilog2() != self.dropped_market.checked_ilog2() {
                tracing::warn!(target: "aegis::kis::ws", dropped = *self.dropped_market, "market channel full");
            }
        }
    }
}

#[path = "feed_us.rs"]
mod us;

#[cfg(test)]
#[path = "feed_tests.rs"]
mod tests;

/// The `tr_key` of a US stock's channels: `D`, the exchange's quotation code, the ticker
/// (`DNASAAPL`).
fn us_realtime_key(exchange: crate::domain::Exchange, symbol: &crate::domain::Symbol) -> String {
    let code = exchange.us().map_or(exchange.as_str(), crate::domain::overseas::UsExchange::quote_code);
    format!("D{code}{symbol}")
}
