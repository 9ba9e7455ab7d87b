//! Tests of the universe stage against `aegis sim` (port 0) on SQLite and PostgreSQL: a full
//! generated master is downloaded, stored and diffed; a failed download keeps the last good copy.

use std::time::Duration;

use chrono::TimeZone;
use url::Url;

use super::*;
use crate::domain::Symbol;
use crate::sim::{FaultCommand, Sim, SimConfig, SimHandle};
use crate::store::instruments::test_rows;
use crate::store::testing::{TempDir, TestDb};
use crate::universe::{DownloadConfig, ProgressMode};

fn kst(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Seoul.with_ymd_and_hms(2026, 3, day, h, m, 0).unwrap().with_timezone(&Utc)
}

/// The simulator's catalog plus synthetic KOSPI stocks, including alphanumeric codes.
fn symbols() -> Vec<String> {
    let mut s = crate::sim::instruments::default_symbols();
    s.extend((0..60).map(|i| format!("{:06}", 400_000 + i)));
    s.extend((0..6).map(|i| format!("{i:04}A0")));
    s
}

async fn sim() -> SimHandle {
    Sim::start(SimConfig { symbols: symbols(), ..SimConfig::default() }).await.unwrap()
}

fn downloader(base: &str) -> MasterDownloader {
    let config = DownloadConfig {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        progress: ProgressMode::Hidden,
        ..DownloadConfig::new(Url::parse(base).unwrap())
    };
    MasterDownloader::new(config).unwrap()
}

fn rule_config() -> UniverseConfig {
    UniverseConfig::new(UniverseSource::Rule(crate::universe::UniverseRule::default()))
}

async fn kinds(store: &Store) -> Vec<String> {
    store.events().recent(500).await.unwrap().into_iter().rev().map(|e| e.kind).collect()
}

async fn full_master_is_stored_diffed_and_selected(db: TestDb) {
    let sim = sim().await;
    let dir = TempDir::new("aegis-refresh").unwrap();
    let cache = MasterCache::new(dir.0.join("master"));
    let dl = downloader(&format!("{}/common/master/", sim.rest_url));
    let store = &db.store;
    let config = rule_config();

    let first = refresh_universe(store, &dl, &cache, &config, kst(3, 8, 0), true).await.unwrap();
    assert!(first.changes.is_empty(), "an initial load is not a list of new listings");
    let kospi = &first.markets[0];
    assert_eq!((kospi.market, &kospi.source), (Market::Kospi, &MasterSource::Downloaded));
    assert!(kospi.records >= 72, "{}", kospi.records);
    assert!(kospi.bad_lines.is_empty());
    assert!(!first.stale());
    let stored = load_instruments(store, &[Market::Kospi, Market::Kosdaq]).await.unwrap();
    assert_eq!(stored.len(), first.markets.iter().map(|m| m.records).sum::<usize>());
    let alnum = stored.iter().find(|r| r.symbol.as_str() == "0001A0").expect("alphanumeric code stored");
    assert_eq!(alnum.market, Market::Kospi);
    assert!(stored.iter().any(|r| r.market == Market::Kosdaq && r.symbol.as_str() == "247540"));
    assert!(first.universe.symbols().contains(&Symbol::new("005930").unwrap()));
    assert!(!first.universe.symbols().contains(&Symbol::new("069500").unwrap()), "ETFs are not in the rule");

    // Yesterday (as stored): 005930 halted, a KOSDAQ code that is gone today.
    test_rows::set_halted(store, "005930", true).await;
    test_rows::copy_as(store, "247540", "999990").await;

    let second = refresh_universe(store, &dl, &cache, &config, kst(3, 9, 0), true).await.unwrap();
    let changes: Vec<(String, &str)> =
        second.changes.iter().map(|c| (c.symbol().to_string(), c.kind())).collect();
    assert_eq!(changes, [("005930".to_owned(), "TRADING_HALT"), ("999990".to_owned(), "DELISTING")]);
    let (gone_active, _) = test_rows::flags(store, "999990").await;
    assert!(!gone_active, "a delisted instrument is kept inactive, not deleted");
    assert_eq!(second.markets[1].upsert.map(|u| u.deactivated), Some(1));
    let (_, halted) = test_rows::flags(store, "005930").await;
    assert!(!halted);
    let kinds = kinds(store).await;
    for kind in
        ["instrument.trading_halt", "instrument.delisting", "universe.master_updated", "universe.selected"]
    {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing from {kinds:?}");
    }
    sim.shutdown().await;
}
crate::storage_test!(full_master, full_master_is_stored_diffed_and_selected);

async fn failed_download_keeps_the_last_good_master(db: TestDb) {
    let sim = sim().await;
    let dir = TempDir::new("aegis-refresh").unwrap();
    let cache = MasterCache::new(dir.0.join("master"));
    let dl = downloader(&format!("{}/common/master/", sim.rest_url));
    let store = &db.store;
    let config = UniverseConfig::new(UniverseSource::Symbols(vec![
        Symbol::new("005930").unwrap(),
        Symbol::new("247540").unwrap(),
    ]));
    let first = refresh_universe(store, &dl, &cache, &config, kst(3, 8, 0), true).await.unwrap();
    assert_eq!(first.universe.symbols().len(), 2);

    // Next morning (a new process, so no pooled connection) the simulator refuses connections;
    // the master in use is yesterday's.
    sim.inject(FaultCommand::RefuseConnections { on: true });
    let morning = kst(4, 8, 0);
    let fresh = downloader(&format!("{}/common/master/", sim.rest_url));
    let kept = refresh_universe(store, &fresh, &cache, &config, morning, true).await.unwrap();
    for m in &kept.markets {
        assert!(matches!(m.source, MasterSource::KeptLastGood { .. }), "{m:?}");
        assert_eq!(m.freshness.copy_time, kst(3, 8, 0));
        assert!(m.upsert.is_none());
    }
    assert!(kept.stale(), "yesterday's copy predates this morning's publication");
    assert!(kept.changes.is_empty());
    assert_eq!(kept.universe.symbols(), first.universe.symbols());
    let kinds = kinds(store).await;
    assert!(kinds.iter().any(|k| k == "universe.master_kept_last_good"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "universe.master_stale"), "{kinds:?}");

    // A wrong URL with no cached copy is a typed error, recorded as an event.
    let empty_cache = MasterCache::new(dir.0.join("none"));
    let bad = downloader(&format!("{}/common/missing/", sim.rest_url));
    sim.inject(FaultCommand::RefuseConnections { on: false });
    let err = refresh_universe(store, &bad, &empty_cache, &config, morning, true).await.unwrap_err();
    assert!(matches!(err, UniverseRefreshError::NoMaster(_)), "{err}");
    let last = store.events().recent(1).await.unwrap();
    assert_eq!(last[0].kind, "universe.master_unavailable");

    // Only unknown symbols with trading enabled: an empty universe is refused.
    let none = UniverseConfig::new(UniverseSource::Symbols(vec![Symbol::new("111111").unwrap()]));
    let err = refresh_universe(store, &dl, &cache, &none, morning, true).await.unwrap_err();
    assert!(matches!(err, UniverseRefreshError::Empty(_)), "{err}");
    assert!(!err.is_retryable());
    let ok = refresh_universe(store, &dl, &cache, &none, morning, false).await.unwrap();
    assert!(ok.universe.selected.is_empty());
    assert!(test_rows::active_count(store).await > 0);
    sim.shutdown().await;
}
crate::storage_test!(failed_download, failed_download_keeps_the_last_good_master);
