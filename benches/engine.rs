//! Criterion benchmark of the trading engine's decision path: a market event → the strategy (the
//! reference mean-reversion strategy on the demo's parameters) → guardrails and price rules →
//! order intents, with no I/O. Throughput is reported in market events per second.

use std::hint::black_box;
use std::sync::Arc;

use aegis::domain::Symbol;
use aegis::domain::market::{MarketEvent, TradeTick};
use aegis::ports::{Clock, FakeBroker, FakeClock};
use aegis::store::testing::{Backend, TestDb};
use aegis::trading::engine::{Engine, build_strategy};
use aegis::trading::{Guard, InMemoryModeStore, TradingConfig, TradingCore};
use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;

/// Market events per iteration: 20 instruments, prices on a random walk of whole ticks.
const EVENTS: usize = 20_000;
const SYMBOLS: usize = 20;

fn events() -> Vec<MarketEvent> {
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).single().unwrap_or_default();
    let symbols: Vec<Symbol> =
        (0..SYMBOLS).filter_map(|i| Symbol::new(format!("{:06}", 5930 + i * 10)).ok()).collect();
    let mut prices = [70_000_i64; SYMBOLS];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    (0..EVENTS)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let k = i % SYMBOLS;
            let step = i64::try_from(seed % 5).unwrap_or(2) - 2;
            prices[k] = (prices[k] + step * 100).clamp(60_000, 80_000);
            let at = start + TimeDelta::milliseconds(i64::try_from(i).unwrap_or(0) * 50);
            MarketEvent::Trade(TradeTick::print(
                symbols[k].clone(),
                at,
                Decimal::from(prices[k]),
                Decimal::TEN,
            ))
        })
        .collect()
}

fn engine(db: &TestDb) -> Engine {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let clock = FakeClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).single().unwrap_or_default());
        let c: Arc<dyn Clock> = Arc::new(clock);
        let broker = Arc::new(FakeBroker::new(c.clone()));
        let guard = Guard::load(
            Arc::new(InMemoryModeStore::default()),
            db.store.events(),
            c.clone(),
            Default::default(),
        )
        .await
        .expect("guard");
        let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        let mut cfg = TradingConfig::new(date, "bench");
        cfg.risk.max_orders_per_day = Some(1_000);
        let core = TradingCore::new(db.store.clone(), broker, c, Arc::new(guard), cfg);
        let params = serde_json::json!({
            "window": 10, "entry_pct": 0.1, "exit_pct": 0.05, "stop_loss_pct": 1,
            "order_qty": 1, "max_position_qty": 3, "cooldown_secs": 900,
        });
        let strategy = build_strategy("bench", &params).expect("parameters");
        Engine::start(core, Some(strategy), true).await.expect("engine")
    })
}

fn decide(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let db = rt.block_on(TestDb::new(Backend::Sqlite)).expect("db").expect("sqlite");
    let events = events();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("decide_20k_trades", |b| {
        b.iter_batched_ref(
            || engine(&db),
            |engine| {
                let mut intents = 0;
                for ev in &events {
                    intents += engine.decide(black_box(ev)).len();
                }
                black_box(intents)
            },
            criterion::BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
