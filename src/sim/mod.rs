//! `aegis sim`: a stateful, wire-faithful simulation of the KIS Open API server (REST and
//! WebSocket on one listener) with seeded KRX and US markets, a matching engine, KRW and USD
//! account sides, an admin API under `/__sim/` and fault injection. The domestic endpoints and
//! channels follow `../shared/kis-api/REFERENCE.md`, the overseas ones `overseas.md` ([`us`],
//! [`rest::overseas`]). It is independent of the KIS adapter in `crate::kis`.

pub mod admin;
pub mod cli;
pub mod clock;
pub mod crypto;
pub mod day;
pub mod faults;
pub mod fields;
pub mod header_case;
pub mod instruments;
pub mod krx;
pub mod market;
pub mod master;
pub mod matching;
pub mod records;
pub mod requests;
pub mod rest;
pub mod state;
pub mod us;
pub mod wire;
pub mod ws;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use clock::SimClock;
pub use faults::{FaultCommand, TokenFault};

use crate::domain::{AccountNo, Mode};
use state::{FeedMessage, SimState};

/// Errors of starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The configuration is unusable.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// An admin request was malformed.
    #[error("invalid admin request: {0}")]
    Admin(String),
}

impl SimError {
    /// Returns true when retrying the same call may succeed (a busy port).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Bind { .. })
    }
}

/// Simulator configuration.
#[derive(Clone)]
pub struct SimConfig {
    /// Listen address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Live or paper host behaviour (TR ids, limits, hours).
    pub mode: Mode,
    /// Accounts served.
    pub accounts: Vec<AccountNo>,
    /// HTS id that receives execution notices.
    pub hts_id: String,
    /// Account holder name shown in notices.
    pub account_name: String,
    /// Initial cash per account (KRW).
    pub cash: Decimal,
    /// Instrument codes.
    pub symbols: Vec<String>,
    /// Seed of the market and credential generators.
    pub seed: u64,
    /// Clock speed factor (0 = frozen).
    pub speed: f64,
    /// Simulated start time (default: next trading day 09:00 KST).
    pub start: Option<DateTime<FixedOffset>>,
    /// Only this app key is accepted (any 36-char key when `None`).
    pub app_key: Option<String>,
    /// Only this app secret is accepted (any 180-char secret when `None`).
    pub app_secret: Option<String>,
    /// REST requests per second per app key (default 20 live / 2 paper).
    pub rate_limit: Option<u32>,
    /// Commission rate on every fill.
    pub commission_rate: Decimal,
    /// Tax rate on sell fills.
    pub sell_tax_rate: Decimal,
    /// Market holidays (weekends are always closed).
    pub holidays: Vec<NaiveDate>,
    /// Order branch (`KRX_FWDG_ORD_ORGNO`).
    pub branch: String,
    /// Real-time interval between server PINGPONG messages.
    pub pingpong_interval: Duration,
    /// Real-time interval of the market driver.
    pub tick_interval: Duration,
    /// Whether any tokenP call within a minute of the last success is throttled (`EGW00133`);
    /// when false only calls that would issue a new token are.
    pub throttle_every_token_call: bool,
    /// Faults armed at start.
    pub faults: Vec<FaultCommand>,
    /// Whether order numbers restart at `0000000001` every business day, as an `ODNO` is only
    /// unique within its day (false: one ever-growing sequence from a seeded start).
    pub daily_order_numbers: bool,
    /// Market activity per symbol (KRX or US) where it differs from the default by market value
    /// ([`market::Activity::default_for`]).
    pub activity: BTreeMap<String, market::Activity>,
    /// The US side: symbols, USD deposit and holdings, and the UNCONFIRMED overseas wire details.
    pub us: us::UsConfig,
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("listen", &self.listen)
            .field("mode", &self.mode)
            .field("accounts", &self.accounts)
            .field("symbols", &self.symbols)
            .field("seed", &self.seed)
            .field("speed", &self.speed)
            .field("start", &self.start)
            .field("app_key", &self.app_key.as_ref().map(|_| "REDACTED"))
            .field("app_secret", &self.app_secret.as_ref().map(|_| "REDACTED"))
            .field("rate_limit", &self.rate_limit)
            .field("daily_order_numbers", &self.daily_order_numbers)
            .field("activity", &self.activity)
            .field("us", &self.us)
            .finish_non_exhaustive()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            mode: Mode::Paper,
            accounts: AccountNo::parse("50000000-01").into_iter().collect(),
            hts_id: "simuser".to_owned(),
            account_name: "모의고객".to_owned(),
            cash: Decimal::from(100_000_000),
            symbols: instruments::default_symbols(),
            seed: 42,
            speed: 1.0,
            start: None,
            app_key: None,
            app_secret: None,
            rate_limit: None,
            commission_rate: Decimal::new(15, 5),
            sell_tax_rate: Decimal::new(20, 4),
            holidays: market::Calendar::krx_default_days(),
            branch: "06010".to_owned(),
            pingpong_interval: Duration::from_secs(60),
            tick_interval: Duration::from_millis(20),
            throttle_every_token_call: true,
            faults: Vec::new(),
            daily_order_numbers: true,
            activity: BTreeMap::new(),
            us: us::UsConfig::default(),
        }
    }
}

impl SimConfig {
    /// Returns the effective REST rate limit per app key per second.
    pub fn rate_limit(&self) -> u32 {
        self.rate_limit.unwrap_or(match self.mode {
            Mode::Live => 20,
            Mode::Paper => 2,
        })
    }

    /// Returns the execution-notice TR of the mode.
    pub fn notice_tr(&self) -> &'static str {
        match self.mode {
            Mode::Live => "H0STCNI0",
            Mode::Paper => "H0STCNI9",
        }
    }

    /// Returns the overseas execution-notice TR of the mode (H0GSCNI0 live, H0GSCNI9 paper).
    pub fn us_notice_tr(&self) -> &'static str {
        us::UsConfig::notice_tr(self.mode)
    }

    fn validate(&self) -> Result<(), SimError> {
        if self.accounts.is_empty() {
            return Err(SimError::Config("at least one account is required".into()));
        }
        if self.symbols.is_empty() {
            return Err(SimError::Config("at least one symbol is required".into()));
        }
        if self.hts_id.is_empty() || self.hts_id.contains('^') {
            return Err(SimError::Config("the HTS id must be non-empty and contain no '^'".into()));
        }
        if self.branch.len() != 5 || !self.branch.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SimError::Config("the branch must be 5 digits".into()));
        }
        for s in &self.symbols {
            crate::domain::Symbol::new(s.as_str()).map_err(|e| SimError::Config(e.to_string()))?;
        }
        self.us.validate().map_err(SimError::Config)?;
        if let Some(s) = self.symbols.iter().find(|s| self.us.symbols.contains(s)) {
            return Err(SimError::Config(format!("{s} is both a KRX and a US symbol")));
        }
        if let Some(s) =
            self.activity.keys().find(|s| !self.symbols.contains(s) && !self.us.symbols.contains(s))
        {
            return Err(SimError::Config(format!(
                "activity is set for {s}, which is not a simulated symbol"
            )));
        }
        Ok(())
    }

    /// Returns the default start: the next trading day at 09:00 KST (today if before 15:30).
    pub fn default_start(&self) -> DateTime<FixedOffset> {
        let cal = market::Calendar::new(self.holidays.clone());
        let now = chrono::Utc::now().with_timezone(&clock::kst());
        let mut d = now.date_naive();
        if now.time() >= market::session_close() || !cal.is_trading_day(d) {
            d = d.succ_opt().unwrap_or(d);
            while !cal.is_trading_day(d) {
                d = d.succ_opt().unwrap_or(d);
            }
            return clock::at(d, market::session_open());
        }
        now.max(clock::at(d, market::session_open()))
    }
}

/// State shared by every handler and task of one simulator.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<SimState>,
    /// The simulated clock.
    pub clock: SimClock,
    /// Fan-out to WebSocket sessions.
    pub feed: broadcast::Sender<FeedMessage>,
    /// Cancelled on shutdown.
    pub cancel: CancellationToken,
    refuse: AtomicBool,
}

impl Shared {
    /// Locks the state (poisoning is ignored: the state stays consistent per method).
    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the state after advancing the markets to the current simulated time.
    pub fn lock_now(&self) -> (MutexGuard<'_, SimState>, DateTime<FixedOffset>) {
        let now = self.clock.now();
        let mut st = self.lock();
        st.advance_to(now);
        (st, now)
    }

    /// Advances the markets to the current simulated time and returns it.
    pub fn advance_now(&self) -> DateTime<FixedOffset> {
        let now = self.clock.now();
        self.lock().advance_to(now);
        now
    }

    /// Applies a fault command.
    pub fn inject(&self, cmd: &FaultCommand) {
        let now = self.clock.now();
        let mut st = self.lock();
        match cmd {
            FaultCommand::Token { action } => {
                for t in &mut st.tokens {
                    match action {
                        TokenFault::Revoke => t.revoked = true,
                        TokenFault::Expire => t.expires = t.expires.min(now),
                    }
                }
            }
            FaultCommand::RefuseConnections { on } => self.refuse.store(*on, Ordering::SeqCst),
            FaultCommand::Clear => self.refuse.store(false, Ordering::SeqCst),
            _ => {}
        }
        st.faults.apply(cmd);
        st.advance_to(now);
    }
}

/// The simulator entry point.
#[derive(Debug, Clone, Copy)]
pub struct Sim;

impl Sim {
    /// Binds the listener, starts the market driver and serves REST, WebSocket and admin routes.
    ///
    /// # Errors
    /// Returns [`SimError::Bind`] when the address is taken and [`SimError::Config`] for an
    /// unusable configuration.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        config.validate()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind { addr: config.listen, source })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind { addr: config.listen, source })?;
        let start = config.start.unwrap_or_else(|| config.default_start());
        let clock = SimClock::new(start, config.speed);
        let (feed, _) = broadcast::channel(4096);
        let initial_faults = config.faults.clone();
        let tick = config.tick_interval.max(Duration::from_millis(1));
        let state = SimState::new(config, start, feed.clone());
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            clock,
            feed,
            cancel: CancellationToken::new(),
            refuse: AtomicBool::new(false),
        });
        for f in &initial_faults {
            shared.inject(f);
        }
        let router = rest::router(shared.clone());
        let gated = GatedListener { inner: listener, shared: shared.clone() };
        let cancel = shared.cancel.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(gated, router).with_graceful_shutdown(cancel.cancelled_owned()).await;
        });
        let driver_shared = shared.clone();
        let driver = tokio::spawn(async move {
            let mut every = tokio::time::interval(tick);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    () = driver_shared.cancel.cancelled() => break,
                    _ = every.tick() => { driver_shared.advance_now(); }
                }
            }
        });
        Ok(SimHandle {
            rest_url: format!("http://{addr}"),
            ws_url: format!("ws://{addr}"),
            addr,
            shared,
            tasks: vec![server, driver],
        })
    }
}

/// A running simulator: its URLs plus test controls (clock, faults, state).
#[derive(Debug)]
pub struct SimHandle {
    /// REST base URL (`http://127.0.0.1:PORT`).
    pub rest_url: String,
    /// WebSocket base URL (`ws://127.0.0.1:PORT`).
    pub ws_url: String,
    /// Bound address.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// Returns the simulated clock.
    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    /// Sets the simulated time and advances the markets to it.
    pub fn set_time(&self, to: DateTime<FixedOffset>) {
        self.shared.clock.set(to);
        self.shared.advance_now();
    }

    /// Moves the simulated time forward and advances the markets.
    pub fn advance(&self, by: Duration) {
        self.shared.clock.advance(by);
        self.shared.advance_now();
    }

    /// Changes the clock speed (0 freezes it).
    pub fn set_speed(&self, speed: f64) {
        self.shared.clock.set_speed(speed);
    }

    /// Arms a fault.
    pub fn inject(&self, cmd: FaultCommand) {
        self.shared.inject(&cmd);
    }

    /// Moves a symbol's market to `price` (clamped to the band, on the grid; a US symbol's price
    /// is in 0.0001 USD, see [`Self::set_us_price`]), matching resting orders against a print at
    /// that price.
    ///
    /// # Errors
    /// Returns [`SimError::Admin`] for an unknown symbol.
    pub fn set_price(&self, symbol: &str, price: i64) -> Result<(), SimError> {
        admin::set_price(&self.shared, symbol, price, None)
    }

    /// Moves a US symbol's market to `price` USD (on the cent grid), matching resting orders
    /// against a print at that price.
    ///
    /// # Errors
    /// Returns [`SimError::Admin`] for an unknown US symbol or a bad price.
    pub fn set_us_price(&self, symbol: &str, price: Decimal) -> Result<(), SimError> {
        admin::set_us_price(&self.shared, symbol, price, None)
    }

    /// Returns the admin state snapshot (same JSON as `GET /__sim/state`).
    pub fn state(&self) -> serde_json::Value {
        admin::snapshot(&self.shared)
    }

    /// Returns the shared core (for in-crate tools).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops serving and waits for the tasks to end.
    pub async fn shutdown(mut self) {
        self.shared.cancel.cancel();
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

struct GatedListener {
    inner: TcpListener,
    shared: Arc<Shared>,
}

impl axum::serve::Listener for GatedListener {
    type Io = header_case::KisHeaderCase<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if self.shared.refuse.load(Ordering::SeqCst) {
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    return (header_case::KisHeaderCase::new(stream), addr);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_know_whether_a_retry_can_help() {
        let bind = SimError::Bind {
            addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            source: std::io::ErrorKind::AddrInUse.into(),
        };
        assert!(bind.is_retryable());
        assert!(!SimError::Config("x".into()).is_retryable());
        assert!(!SimError::Admin("x".into()).is_retryable());
    }

    #[test]
    fn config_debug_redacts_credentials_and_validation_rejects_bad_input() {
        let cfg = SimConfig {
            app_key: Some("K".repeat(36)),
            app_secret: Some("S".repeat(180)),
            ..SimConfig::default()
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("KKKKKKKK") && !shown.contains("SSSSSSSS"), "{shown}");
        assert!(SimConfig { symbols: vec!["bad".into()], ..SimConfig::default() }.validate().is_err());
        assert!(SimConfig { accounts: vec![], ..SimConfig::default() }.validate().is_err());
        assert!(SimConfig { hts_id: "a^b".into(), ..SimConfig::default() }.validate().is_err());
        assert!(SimConfig::default().validate().is_ok());
        assert_eq!(SimConfig { mode: Mode::Live, ..SimConfig::default() }.rate_limit(), 20);
        assert_eq!(SimConfig::default().rate_limit(), 2);
    }
}
