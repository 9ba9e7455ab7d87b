//! `aegis trader-harness` (hidden): runs a deterministic order script against `aegis sim` through
//! the KIS adapter (REST and WebSocket over real sockets) and a database, printing
//! `MARK <checkpoint> <id>` lines, so the crash test can kill it with SIGKILL at chosen points of
//! the order life cycle and check the state after every restart.
//!
//! Every start runs recovery first. `--recover-only` stops after recovery. The access token is
//! kept in the harness database (`DbTokenStore`), so restarts reuse it. With `--sim-prints` the
//! harness stands in for the market: it prints one-share trades at a resting order's price
//! through the simulator's admin API, so fills stream in one at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use url::Url;

use crate::config::Secret;
use crate::domain::market::ExecutionEvent;
use crate::domain::order::OrderStatus;
use crate::domain::position::FeeSchedule;
use crate::domain::price::{TickRounding, TickTable, round_to_tick, tick_size};
use crate::domain::strategy::OrderIntent;
use crate::domain::{Mode, OrderType, Side, Symbol};
use crate::kis::KisBroker;
use crate::kis::config::KisConfig;
use crate::ports::{Broker, BrokerStreams, Clock, SystemClock, TokenStore};
use crate::store::Store;
use crate::trading::orders::{Resolution, SubmitOutcome};
use crate::trading::{Checkpoint, ControlModeStore, Guard, TradingConfig, TradingCore};

/// Arguments of `aegis trader-harness`.
#[derive(Debug, clap::Args)]
pub struct HarnessArgs {
    /// Database URL (falls back to `DB_URL`).
    #[arg(long, env = "DB_URL")]
    pub db_url: String,
    /// Broker: `sim` (the KIS adapter against `aegis sim`).
    #[arg(long, default_value = "sim")]
    pub broker: String,
    /// KIS REST base URL of the simulator.
    #[arg(long, env = "AEGIS_KIS_REST_URL")]
    pub rest_url: Url,
    /// KIS WebSocket URL of the simulator.
    #[arg(long, env = "AEGIS_KIS_WS_URL")]
    pub ws_url: Url,
    /// App key.
    #[arg(long, env = "AEGIS_KIS_APP_KEY", hide_env_values = true, value_parser = secret)]
    pub app_key: Secret,
    /// App secret.
    #[arg(long, env = "AEGIS_KIS_APP_SECRET", hide_env_values = true, value_parser = secret)]
    pub app_secret: Secret,
    /// Account `CANO-ACNT_PRDT_CD`.
    #[arg(long, env = "AEGIS_KIS_ACCOUNT", hide_env_values = true, value_parser = secret)]
    pub account: Secret,
    /// HTS id that receives execution notices.
    #[arg(long, env = "AEGIS_KIS_HTS_ID", hide_env_values = true, value_parser = secret)]
    pub hts_id: Secret,
    /// Simulated time at the start of this process (the clock runs on from it); the system clock
    /// when absent.
    #[arg(long)]
    pub clock_start: Option<DateTime<Utc>>,
    /// REST read timeout in milliseconds (an unanswered order becomes an unknown outcome).
    #[arg(long, default_value_t = 1_000)]
    pub read_timeout_ms: u64,
    /// Prints one-share trades through the simulator's admin API to fill resting orders.
    #[arg(long)]
    pub sim_prints: bool,
    /// Number of intents in the script.
    #[arg(long, default_value_t = 20)]
    pub intents: u32,
    /// Stops after recovery.
    #[arg(long)]
    pub recover_only: bool,
    /// Gives up after this many seconds (exit code 4).
    #[arg(long, default_value_t = 120)]
    pub deadline_secs: u64,
}

fn secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s))
}

/// Scripted instruments.
pub const SYMBOLS: [&str; 3] = ["005930", "000660", "035720"];

/// What the script needs of an instrument: its base price and lower limit of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels {
    /// Base price (previous close).
    pub base: Decimal,
    /// Lower price limit of the day.
    pub lower: Decimal,
}

/// The kind of a scripted step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// A buy just under the market, filled share by share by prints.
    StreamBuy,
    /// A marketable sell, filled on arrival.
    Sell,
    /// A buy far under the market that rests and is then canceled.
    RestingBuy,
}

/// Returns the i-th scripted intent, its kind and the symbol index. Every intent has a unique
/// (symbol, side, quantity, price), so broker orders map to intents one to one; prices stay on
/// ticks, inside the band, and resting buys stay under every print of the script.
///
/// # Errors
/// Returns an error when a price cannot be put on a tick.
pub fn script_intent(i: u32, levels: &[Levels; 3]) -> anyhow::Result<(OrderIntent, StepKind)> {
    let k = i / 3;
    let idx = usize::try_from(k % 3).unwrap_or(0);
    let lv = levels.get(idx).copied().context("levels")?;
    let symbol = Symbol::new(SYMBOLS.get(idx).copied().unwrap_or("005930"))?;
    let t = tick_size(lv.base, TickTable::Stock);
    // (j, lot) is unique per symbol; j stays under 100 ticks so buys just under the base price
    // stay above sells and resting buys just over the lower limit.
    let j = Decimal::from(k / 3 % 100) + Decimal::ONE;
    let lot = Decimal::from(k / 300);
    let on_tick = |p: Decimal| round_to_tick(p, TickTable::Stock, TickRounding::Down);
    let (side, qty, price, kind) = match i % 3 {
        0 => (Side::Buy, Decimal::from(3) + lot, on_tick(lv.base - t * j)?, StepKind::StreamBuy),
        1 => (Side::Sell, Decimal::ONE + lot, on_tick(lv.lower + t * j)?, StepKind::Sell),
        _ => (Side::Buy, Decimal::from(2) + lot, on_tick(lv.lower + t * j)?, StepKind::RestingBuy),
    };
    let intent = OrderIntent {
        symbol,
        side,
        order_type: OrderType::Limit,
        qty,
        price: Some(price),
        reason: format!("harness step {i}"),
        signal_id: format!("s{i}"),
    };
    Ok((intent, kind))
}

/// A clock that starts at a given instant and runs with real time.
#[derive(Debug)]
struct OffsetClock {
    start: DateTime<Utc>,
    real: Instant,
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = TimeDelta::from_std(self.real.elapsed()).unwrap_or(TimeDelta::zero());
        self.start + elapsed
    }
}

/// Runs the harness; returns 0 when done, 3 when recovery stopped trading, 4 past the deadline.
pub async fn run(args: HarnessArgs) -> i32 {
    let deadline = Duration::from_secs(args.deadline_secs.max(1));
    match tokio::time::timeout(deadline, run_inner(args)).await {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            1
        }
        Err(_) => {
            eprintln!("error: deadline passed");
            4
        }
    }
}

fn mark(what: &str, id: &str) {
    println!("MARK {what} {id}");
}

/// The market stand-in: one-share prints through the simulator's admin API.
struct Printer {
    http: reqwest::Client,
    url: Url,
}

impl Printer {
    async fn print(&self, symbol: &Symbol, price: Decimal) -> anyhow::Result<()> {
        let body = serde_json::json!({ "symbol": symbol.as_str(), "price": price.to_string().parse::<i64>()?, "qty": 1 });
        let r = self.http.post(self.url.clone()).json(&body).send().await?;
        anyhow::ensure!(r.status().is_success(), "print refused: {}", r.status());
        Ok(())
    }
}

async fn build_core(args: &HarnessArgs) -> anyhow::Result<(TradingCore, Arc<KisBroker>)> {
    anyhow::ensure!(args.broker == "sim", "only --broker sim is available");
    let clock: Arc<dyn Clock> = match args.clock_start {
        Some(start) => Arc::new(OffsetClock { start, real: Instant::now() }),
        None => Arc::new(SystemClock),
    };
    let store = Store::open(&args.db_url).await.context("open the database")?;
    let mut kis =
        KisConfig::defaults(Mode::Paper, args.app_key.clone(), args.app_secret.clone(), args.hts_id.clone())?
            .with_endpoints(args.rest_url.clone(), args.ws_url.clone());
    kis.requests_per_second = 1_000;
    kis.page_delay = Duration::ZERO;
    kis.read_timeout = Duration::from_millis(args.read_timeout_ms.max(1));
    kis.connect_timeout = Duration::from_secs(2);
    kis.retry.base_delay = Duration::from_millis(20);
    kis.retry.max_delay = Duration::from_millis(200);
    kis.breaker.open_for = Duration::from_millis(500);
    kis.feed.reconnect_base = Duration::from_millis(50);
    let tokens: Arc<dyn TokenStore> = Arc::new(store.tokens());
    let broker = Arc::new(KisBroker::new(&kis, args.account.expose(), tokens, clock.clone())?);
    let modes = Arc::new(ControlModeStore::new(store.control(), "trader-harness"));
    let guard = Guard::load(modes, store.events(), clock.clone(), Default::default()).await?;
    let today = crate::domain::market::to_kst(clock.now()).date_naive();
    let mut cfg = TradingConfig::new(today, "harness");
    cfg.resolve_grace_secs = 0;
    // Every scripted intent has a unique fingerprint, so the whole day may be searched.
    cfg.match_window_secs = 86_400;
    cfg.fees = FeeSchedule {
        commission_rate: Decimal::new(15, 5),
        sell_tax_rate: Decimal::new(20, 4),
        charge_dp: 0,
    };
    let dyn_broker: Arc<dyn Broker> = broker.clone();
    let core = TradingCore::new(store, dyn_broker, clock, Arc::new(guard), cfg)
        .with_hook(Arc::new(|c: Checkpoint, id: &str| mark(c.as_str(), id)));
    Ok((core, broker))
}

async fn levels(broker: &KisBroker) -> anyhow::Result<[Levels; 3]> {
    let mut out = [Levels { base: Decimal::ZERO, lower: Decimal::ZERO }; 3];
    for (slot, code) in out.iter_mut().zip(SYMBOLS) {
        let q = broker.quote(&Symbol::new(code)?).await.with_context(|| format!("quote {code}"))?;
        *slot = Levels { base: q.base_price, lower: q.lower_limit };
    }
    Ok(out)
}

async fn run_inner(args: HarnessArgs) -> anyhow::Result<i32> {
    let (core, broker) = build_core(&args).await?;
    let report = core.recover().await?;
    mark("recovered", &report.differences.len().to_string());
    if let Some(reason) = &report.stopped {
        println!("STOPPED {reason}");
        return Ok(3);
    }
    if args.recover_only {
        return Ok(0);
    }
    let mut streams = broker.take_streams().context("broker streams")?;
    if let Err(e) = broker.subscribe(crate::domain::market::Subscription::Executions).await {
        // Notices are an accelerator; REST snapshots alone converge.
        eprintln!("notices unavailable: {e}");
    }
    let levels = levels(&broker).await?;
    let printer = Printer { http: reqwest::Client::new(), url: args.rest_url.join("/__sim/market")? };
    for i in 0..args.intents {
        let (intent, kind) = script_intent(i, &levels)?;
        if kind == StepKind::StreamBuy && args.sim_prints {
            // A print at the limit first: the book moves there and the buy rests instead of crossing.
            printer.print(&intent.symbol, intent.price.unwrap_or_default()).await?;
        }
        let id = submit(&core, &intent).await?;
        drive(&core, &broker, &mut streams, &printer, args.sim_prints, id, &intent, kind).await?;
        mark("intent_done", &i.to_string());
    }
    println!("DONE");
    Ok(0)
}

async fn submit(core: &TradingCore, intent: &OrderIntent) -> anyhow::Result<i64> {
    loop {
        core.refresh_mode().await;
        match core.submit(intent).await? {
            SubmitOutcome::Sent(s) | SubmitOutcome::Existing(s) | SubmitOutcome::Rejected(s) => {
                return Ok(s.id);
            }
            SubmitOutcome::NotSent(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            SubmitOutcome::Unknown(s) => match core.resolve_unknown(s.id).await? {
                Resolution::Found(_) | Resolution::NotNeeded | Resolution::NotFound => return Ok(s.id),
                Resolution::StillUnknown(r) => anyhow::bail!("order {} unresolved: {r}", s.id),
            },
            other => anyhow::bail!("{} not sent: {other:?}", intent.signal_id),
        }
    }
}

/// Drives one order to a terminal state: resolves, resends, cancels or fills it.
#[allow(clippy::too_many_arguments)]
async fn drive(
    core: &TradingCore,
    broker: &KisBroker,
    streams: &mut BrokerStreams,
    printer: &Printer,
    prints: bool,
    id: i64,
    intent: &OrderIntent,
    kind: StepKind,
) -> anyhow::Result<()> {
    for _ in 0..200 {
        // Another process may have moved the order: read it back from the log.
        let stored = core.log().order(id).await?.context("order row")?;
        match stored.order.status() {
            s if s.is_terminal() => return Ok(()),
            OrderStatus::Submitting | OrderStatus::SubmitUnknown => {
                if let Resolution::StillUnknown(r) = core.resolve_unknown(id).await? {
                    anyhow::bail!("order {id} unresolved: {r}");
                }
            }
            OrderStatus::New => {
                submit(core, intent).await?;
            }
            _ if kind == StepKind::RestingBuy => {
                core.cancel(id).await?;
            }
            _ => {
                if kind == StepKind::StreamBuy && prints {
                    printer.print(&intent.symbol, intent.price.unwrap_or_default()).await?;
                    mark("broker_fill", &id.to_string());
                }
                // Notices first (whatever has arrived), then the REST snapshot converges the rest.
                tokio::time::sleep(Duration::from_millis(5)).await;
                while let Ok(ev) = streams.executions.try_recv() {
                    if matches!(ev, ExecutionEvent::Fill(_) | ExecutionEvent::Notice(_)) {
                        core.handle_execution(&ev).await?;
                    }
                }
                core.apply_orders_snapshot(&broker.todays_orders().await?).await?;
            }
        }
    }
    anyhow::bail!("order {id} did not finish")
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn scripted_intents_are_unique_and_keep_buys_above_sells_and_resting_buys() {
        let levels = [
            Levels { base: dec!(71000), lower: dec!(49700) },
            Levels { base: dec!(180000), lower: dec!(126000) },
            Levels { base: dec!(45000), lower: dec!(31500) },
        ];
        let mut seen = HashSet::new();
        let mut lowest_stream = [Decimal::MAX; 3];
        let mut highest_other = [Decimal::ZERO; 3];
        for i in 0..2_000 {
            let (it, kind) = script_intent(i, &levels).unwrap();
            let price = it.price.unwrap();
            assert!(seen.insert((it.symbol.clone(), it.side, it.qty, price)), "step {i} repeats");
            let s = SYMBOLS.iter().position(|c| *c == it.symbol.as_str()).unwrap();
            assert!(price >= levels[s].lower && price <= levels[s].base, "step {i} leaves the band");
            match kind {
                StepKind::StreamBuy => lowest_stream[s] = lowest_stream[s].min(price),
                _ => highest_other[s] = highest_other[s].max(price),
            }
        }
        for s in 0..3 {
            assert!(
                highest_other[s] < lowest_stream[s],
                "symbol {s}: sells must cross, resting buys must rest"
            );
        }
    }
}
