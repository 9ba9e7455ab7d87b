//! The composition root: wires settings → store → KIS broker → notifiers → concrete stages →
//! runner, for `aegis run` and `aegis demo` (and the end-to-end tests).

pub mod clock;
pub mod demo;
pub mod rehearse;
mod sink;
pub mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use clock::SimTimeClock;
pub use sink::NotifySink;

use crate::config::{Loaded, Settings};
use crate::domain::calendar::KrxCalendar;
use crate::domain::overseas::UsExchange;
use crate::domain::sessions::SessionCalendar;
use crate::domain::stage::{DEFAULT_SPECS, StageRetry};
use crate::domain::us_calendar::UsCalendar;
use crate::domain::{MarketRegion, Symbol};
use crate::journal::{LlmClient, LlmConfig};
use crate::kis::KisBroker;
use crate::kis::config::KisConfig;
use crate::notify::{Console, Fanout, Notifier, WorkerConfig};
use crate::pipeline::Runner;
use crate::pipeline::stages::{AccessToken, ConfigCheck, ProgressFn, StageDeps, StagesConfig, broker_stages};
use crate::ports::{Broker, Clock, Secret, TokenKey, TokenStore};
use crate::store::Store;

/// Errors of wiring the application.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A setting the broker needs is missing or invalid.
    #[error("{0}")]
    Config(String),
    /// The broker adapter could not be built.
    #[error("broker: {0}")]
    Broker(String),
    /// The notifiers could not be started.
    #[error("notifications: {0}")]
    Notify(String),
}

/// What a US pipeline trades on: the venue of each ticker and the US calendar.
#[derive(Debug, Clone)]
pub struct UsTrading {
    /// The US exchange of every ticker traded.
    pub venues: BTreeMap<Symbol, UsExchange>,
    /// NYSE/Nasdaq trading days, sessions and early closes.
    pub calendar: Arc<UsCalendar>,
    /// Set when the US pipeline runs beside the KRX one (the daemon): its stage settings (US
    /// tickers, limits in USD). Unset, the application trades US stocks only, with
    /// [`AppOptions::stages`] (`aegis demo --market us`).
    pub beside: Option<StagesConfig>,
}

/// Everything the application is built from.
#[derive(Clone)]
pub struct AppOptions {
    /// The loaded configuration (its problems fail `config_check`).
    pub loaded: Loaded,
    /// Stage settings.
    pub stages: StagesConfig,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The KRX calendar.
    pub calendar: Arc<KrxCalendar>,
    /// Set when the application trades US stocks: instead of KRX, or beside it
    /// ([`UsTrading::beside`]).
    pub us: Option<UsTrading>,
    /// Where console notifications go.
    pub console: Console,
    /// Outbox worker settings.
    pub worker: WorkerConfig,
    /// Overrides every stage's retry backoff (tests and the demo's compressed day).
    pub retry_backoff: Option<Duration>,
    /// How long a stage may take to stop after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Told about intraday progress.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for AppOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppOptions").field("stages", &self.stages).finish_non_exhaustive()
    }
}

/// Returns the KIS adapter settings and the account (`CANO-ACNT_PRDT_CD`) of the settings.
///
/// # Errors
/// Returns [`AppError::Config`] naming the missing keys.
pub fn kis_config(settings: &Settings) -> Result<(KisConfig, String), AppError> {
    let k = &settings.kis;
    let (Some(key), Some(secret), Some(account)) = (&k.app_key, &k.app_secret, &k.account) else {
        return Err(AppError::Config(
            "KIS_APP_KEY, KIS_APP_SECRET and KIS_ACCOUNT must be set (run `aegis config check`)".into(),
        ));
    };
    let hts = Secret::new(k.hts_id.clone().unwrap_or_default());
    let mut cfg = KisConfig::defaults(settings.mode, key.clone(), secret.clone(), hts)
        .map_err(|e| AppError::Config(e.to_string()))?
        .with_endpoints(k.rest_base_url.clone(), k.ws_url.clone());
    cfg.custtype = k.custtype.clone();
    cfg.us_paper_sell_tr_id = k.us_paper_sell_tr_id.clone();
    cfg.hashkey = k.hashkey;
    cfg.connect_timeout = k.timeout;
    cfg.read_timeout = k.timeout;
    cfg.requests_per_second = k.rate_limit_per_sec.max(1);
    cfg.page_delay = Duration::from_millis(1000 / u64::from(cfg.requests_per_second));
    cfg.refresh_ahead = k.token_refresh_ahead;
    Ok((cfg, format!("{}-{}", account.cano(), account.product_code())))
}

/// A wired application: the store, the broker, the notifiers and the runner with every stage.
pub struct App {
    /// The store.
    pub store: Store,
    /// The broker of the first market.
    pub broker: Arc<dyn Broker>,
    /// The notifier the stages and the transition sink use.
    pub fanout: Fanout,
    /// The runner with every concrete stage: of the KRX pipeline, or of the US one in an
    /// application that trades US stocks only.
    pub runner: Arc<Runner>,
    /// The runner of the US pipeline beside the KRX one (same client, token, socket and store).
    pub us_runner: Option<Arc<Runner>>,
    /// Fires on shutdown (shared by the runner and the outbox worker).
    pub cancel: CancellationToken,
    worker: JoinHandle<()>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("runner", &self.runner).finish_non_exhaustive()
    }
}

/// What every runner of an application shares.
struct Shared<'a> {
    store: &'a Store,
    opts: &'a AppOptions,
    fanout: &'a Fanout,
    tokens: Arc<dyn TokenStore>,
    key: TokenKey,
    cancel: &'a CancellationToken,
}

impl Shared<'_> {
    /// Builds the runner of one market's pipeline: every concrete stage on `broker`, `sessions`
    /// and `stages`, the notifying sink, the clock and the cancellation token.
    fn runner(
        &self,
        broker: Arc<dyn Broker>,
        sessions: Arc<dyn SessionCalendar>,
        stages: StagesConfig,
    ) -> Result<Runner, AppError> {
        let opts = self.opts;
        // The outbox schedules deliveries and retries in wall-clock time, the same clock as its
        // worker: stamping rows with a simulated clock that runs ahead of the wall would leave
        // them not yet due (the messages themselves carry the trading clock's times).
        let notifier: Arc<dyn Notifier> = Arc::new(self.fanout.clone());
        let mut deps = StageDeps::new(broker, opts.clock.clone(), sessions.clone(), notifier, stages);
        deps.progress.clone_from(&opts.progress);
        deps.llm = match &opts.loaded.settings.ai {
            Some(ai) => Some(
                LlmClient::new(LlmConfig::from_settings(ai)).map_err(|e| AppError::Config(e.to_string()))?,
            ),
            None => None,
        };
        let deps = Arc::new(deps);
        let mut runner = Runner::new(self.store.clone(), opts.calendar.clone())
            .with_sessions(sessions)
            .with_clock(opts.clock.clone())
            .with_cancel(self.cancel.clone(), opts.shutdown_grace)
            .with_sink(Arc::new(NotifySink::new(self.fanout.clone())))
            .with_stage(Arc::new(ConfigCheck::new(&opts.loaded)));
        for stage in broker_stages(&deps) {
            runner = runner.with_stage(stage);
        }
        runner = runner.with_stage(Arc::new(
            AccessToken::new(deps.clone()).with_token_store(self.tokens.clone(), self.key.clone()),
        ));
        if let Some(backoff) = opts.retry_backoff {
            for spec in DEFAULT_SPECS {
                runner = runner.with_spec(crate::domain::stage::StageSpec {
                    retry: StageRetry { backoff, ..spec.retry },
                    ..spec
                });
            }
        }
        Ok(runner)
    }
}

impl App {
    /// Builds the application on an open store: the KIS broker (tokens kept in the database), the
    /// notifiers with their outbox worker, and a runner holding every concrete stage, the
    /// notifying transition sink, the clock and `cancel` — two runners when a US pipeline runs
    /// beside the KRX one, on one client (one token, one approval key, one socket).
    ///
    /// # Errors
    /// Returns [`AppError`] when the broker settings are incomplete or an adapter cannot be built.
    pub fn build(store: Store, opts: AppOptions, cancel: CancellationToken) -> Result<Self, AppError> {
        let settings = &opts.loaded.settings;
        let (kis, account) = kis_config(settings)?;
        let tokens: Arc<dyn TokenStore> = Arc::new(store.tokens());
        let mut kis_broker = KisBroker::new(&kis, &account, tokens.clone(), opts.clock.clone())
            .map_err(|e| AppError::Broker(e.to_string()))?;
        // A store fenced by the pipeline lease gates the broker too: its last check sits right
        // before an order leaves the process.
        if let Some(fence) = store.fence() {
            kis_broker = kis_broker.with_order_gate(fence.clone());
        }
        let (fanout, worker) =
            crate::notify::start(&store, settings, opts.console.clone(), opts.worker, cancel.clone())
                .map_err(|e| AppError::Notify(e.to_string()))?;
        let key = TokenKey {
            app_key_fingerprint: crate::kis::auth::app_key_fingerprint(&kis.app_key),
            mode: kis.mode,
        };
        let shared = Shared { store: &store, opts: &opts, fanout: &fanout, tokens, key, cancel: &cancel };
        // A US pipeline speaks to the overseas endpoints through the same client and socket,
        // runs on the US calendar and trades (and reconciles) US stocks only.
        let (broker, runner, us_runner) = match &opts.us {
            None => {
                let broker: Arc<dyn Broker> = Arc::new(kis_broker);
                let runner = shared.runner(broker.clone(), opts.calendar.clone(), opts.stages.clone())?;
                (broker, runner, None)
            }
            Some(us) => {
                let us_broker: Arc<dyn Broker> = Arc::new(kis_broker.us(us.venues.clone()));
                match &us.beside {
                    None => {
                        let stages = StagesConfig { region: MarketRegion::Us, ..opts.stages.clone() };
                        let runner = shared.runner(us_broker.clone(), us.calendar.clone(), stages)?;
                        (us_broker, runner, None)
                    }
                    Some(us_stages) => {
                        let stages = StagesConfig { region: MarketRegion::Us, ..us_stages.clone() };
                        let us_runner = shared.runner(us_broker, us.calendar.clone(), stages)?;
                        let broker: Arc<dyn Broker> = Arc::new(kis_broker);
                        let runner =
                            shared.runner(broker.clone(), opts.calendar.clone(), opts.stages.clone())?;
                        (broker, runner, Some(Arc::new(us_runner)))
                    }
                }
            }
        };
        Ok(Self { store, broker, fanout, runner: Arc::new(runner), us_runner, cancel, worker })
    }

    /// Returns the runner of a market's pipeline, if the application runs it.
    pub fn runner_of(&self, market: MarketRegion) -> Option<Arc<Runner>> {
        if self.runner.market() == market {
            return Some(self.runner.clone());
        }
        self.us_runner.clone().filter(|r| r.market() == market)
    }

    /// Shuts down: unsubscribes and closes the real-time socket, stops the outbox worker and
    /// waits for it to finish its writes.
    pub async fn shutdown(self) {
        if let Err(e) = self.broker.disconnect().await {
            tracing::debug!(error = %e, "broker disconnect");
        }
        self.cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.worker).await;
    }
}
