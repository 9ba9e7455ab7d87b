//! Integration tests of the master-file download and refresh against a local HTTP server on
//! port 0 serving good and bad archives (the simulator serves the same names later).

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aegis::universe::{
    DownloadConfig, DownloadError, Market, MasterCache, MasterDownloader, MasterFileError, ParseOptions,
    ProgressMode, RefreshOutcome, SecurityGroup, refresh_master,
};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, TimeZone, Utc};
use url::Url;

const KOSPI: &[u8] = include_bytes!("../fixtures/master/kospi_code.sample.mst");
const KOSDAQ: &[u8] = include_bytes!("../fixtures/master/kosdaq_code.sample.mst");
const KONEX: &[u8] = include_bytes!("../fixtures/master/konex_code.sample.mst");

#[derive(Clone)]
enum Serve {
    Body(Vec<u8>),
    Status(u16),
    Hang,
}

type Files = Arc<Mutex<HashMap<String, Serve>>>;

/// A predicate on the error a failed refresh reports.
type Expect = fn(&DownloadError) -> bool;

async fn archive(State(files): State<Files>, Path(name): Path<String>) -> Response {
    let entry = files.lock().unwrap().get(&name).cloned();
    match entry {
        Some(Serve::Body(bytes)) => (StatusCode::OK, bytes).into_response(),
        Some(Serve::Status(code)) => StatusCode::from_u16(code).unwrap().into_response(),
        Some(Serve::Hang) => std::future::pending().await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Fixture {
    files: Files,
    downloader: MasterDownloader,
    cache: MasterCache,
    base: Url,
}

impl Fixture {
    async fn start() -> Self {
        let files = Files::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/common/master/{name}", get(archive)).with_state(files.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let base = Url::parse(&format!("http://{addr}/common/master/")).unwrap();
        let downloader = MasterDownloader::new(config(&base)).unwrap();
        let dir = std::env::temp_dir().join(format!("aegis-universe-{}", uuid::Uuid::new_v4()));
        Self { files, downloader, cache: MasterCache::new(dir), base }
    }

    fn serve(&self, market: Market, what: Serve) {
        self.files.lock().unwrap().insert(market.archive_name().to_owned(), what);
    }

    async fn refresh(&self, market: Market, now: DateTime<Utc>) -> RefreshOutcome {
        refresh_master(&self.downloader, &self.cache, market, now, &ParseOptions::default()).await.unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.cache.dir());
    }
}

fn config(base: &Url) -> DownloadConfig {
    DownloadConfig {
        timeout: Duration::from_secs(5),
        progress: ProgressMode::Hidden,
        ..DownloadConfig::new(base.clone())
    }
}

fn zip_of(member: &str, data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file(member, zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap().into_inner()
}

fn good(market: Market, data: &[u8]) -> Serve {
    Serve::Body(zip_of(market.member_name(), data))
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 22, 0, 0).unwrap()
}

/// Builds a full KOSPI file of `n` records from the first sample record, with stock, alphanumeric
/// and ETN codes, CP949 names and distinct volumes.
fn generated_kospi(n: usize) -> Vec<u8> {
    let template = &KOSPI[..288];
    let mut out = Vec::with_capacity(n * 289);
    for i in 0..n {
        let code = match i % 3 {
            0 => format!("{:06}", 100_000 + i),
            1 => format!("{:04}A0", i),
            _ => format!("Q5{:05}", i),
        };
        let mut line = template.to_vec();
        line[..9].copy_from_slice(format!("{code:<9}").as_bytes());
        line[9..21].copy_from_slice(format!("KR7{:0>6}003", &code[code.len() - 6..]).as_bytes());
        let name = format!("생성종목 {i}");
        let mut name = encoding_rs::EUC_KR.encode(&name).0.into_owned();
        name.resize(40, b' ');
        line[21..61].copy_from_slice(&name);
        line[142..154].copy_from_slice(format!("{:012}", i * 1000).as_bytes());
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    out
}

#[tokio::test]
async fn downloads_parse_and_become_the_last_good_copy() {
    let fx = Fixture::start().await;
    for (market, data, count) in
        [(Market::Kospi, KOSPI, 5), (Market::Kosdaq, KOSDAQ, 2), (Market::Konex, KONEX, 1)]
    {
        fx.serve(market, good(market, data));
        let RefreshOutcome::Updated { master, persist_error: None } = fx.refresh(market, at(2)).await else {
            panic!("{market} not updated")
        };
        assert_eq!((master.report.records.len(), master.downloaded_at), (count, at(2)), "{market}");
        let cached = fx.cache.load(market, &ParseOptions::default()).await.unwrap().unwrap();
        assert_eq!(cached, master, "{market}");
    }

    fx.serve(Market::Kospi, good(Market::Kospi, &generated_kospi(300)));
    let outcome = fx.refresh(Market::Kospi, at(3)).await;
    let report = &outcome.master().report;
    assert!(matches!(outcome, RefreshOutcome::Updated { .. }));
    assert_eq!((report.records.len(), report.bad.len()), (300, 0));
    let etn = report.records.iter().find(|r| r.symbol.as_str() == "Q500299").unwrap();
    assert_eq!((etn.name.as_str(), etn.prev_volume), ("생성종목 299", 299_000));
    assert!(report.records.iter().any(|r| r.symbol.as_str() == "0001A0"));
    assert!(report.records.iter().all(|r| r.group == SecurityGroup::Stock && r.market == Market::Kospi));
}

#[tokio::test]
async fn failed_downloads_keep_the_last_good_master() {
    let fx = Fixture::start().await;
    fx.serve(Market::Kospi, good(Market::Kospi, KOSPI));
    let first = fx.refresh(Market::Kospi, at(2)).await.master().clone();

    let mut bad_record = KOSPI.to_vec();
    bad_record[288 + 1 + 121] = b'X';
    let cases: Vec<(Serve, Expect)> = vec![
        (Serve::Body(b"<html>maintenance</html>".to_vec()), |e| {
            matches!(e, DownloadError::File(MasterFileError::NotZip { .. }))
        }),
        (Serve::Status(500), |e| matches!(e, DownloadError::Status { status: 500, .. }) && e.is_retryable()),
        (Serve::Status(404), |e| matches!(e, DownloadError::Status { status: 404, .. }) && !e.is_retryable()),
        (Serve::Body(zip_of("kosdaq_code.mst", KOSDAQ)), |e| {
            matches!(e, DownloadError::File(MasterFileError::MissingMember { .. }))
        }),
        (good(Market::Kospi, KOSDAQ), |e| {
            matches!(e, DownloadError::File(MasterFileError::WrongRecordSize { .. }))
        }),
        (good(Market::Kospi, b""), |e| matches!(e, DownloadError::File(MasterFileError::Empty { .. }))),
        (
            good(Market::Kospi, &bad_record),
            |e| matches!(e, DownloadError::File(MasterFileError::TooManyBadRecords { first, .. }) if first.line == 2),
        ),
    ];
    for (i, (serve, expected)) in cases.into_iter().enumerate() {
        fx.serve(Market::Kospi, serve);
        match fx.refresh(Market::Kospi, at(3)).await {
            RefreshOutcome::KeptLastGood { master, error } => {
                assert!(expected(&error), "case {i}: {error}");
                assert_eq!(master, first, "case {i}");
            }
            other => panic!("case {i}: {other:?}"),
        }
    }

    let small = MasterDownloader::new(DownloadConfig { max_archive_bytes: 100, ..config(&fx.base) }).unwrap();
    fx.serve(Market::Kospi, good(Market::Kospi, KOSPI));
    let outcome =
        refresh_master(&small, &fx.cache, Market::Kospi, at(3), &ParseOptions::default()).await.unwrap();
    assert!(matches!(
        outcome,
        RefreshOutcome::KeptLastGood { error: DownloadError::TooLarge { limit: 100, .. }, .. }
    ));
    assert_eq!(fx.cache.load(Market::Kospi, &ParseOptions::default()).await.unwrap().unwrap(), first);
}

#[tokio::test]
async fn a_failed_download_without_a_last_good_copy_is_an_error() {
    let fx = Fixture::start().await;
    let err = refresh_master(&fx.downloader, &fx.cache, Market::Kosdaq, at(2), &ParseOptions::default())
        .await
        .unwrap_err();
    assert_eq!((err.market, err.cache.clone()), (Market::Kosdaq, None));
    assert!(matches!(err.error, DownloadError::Status { status: 404, .. }), "{err}");
    assert!(err.to_string().contains("kosdaq_code.mst.zip"), "{err}");
}

#[tokio::test]
async fn a_hanging_server_times_out_with_a_retryable_error() {
    let fx = Fixture::start().await;
    fx.serve(Market::Konex, Serve::Hang);
    // A short real timeout: the crate's tokio has no `test-util`, so time cannot be paused here.
    let quick = DownloadConfig { timeout: Duration::from_millis(200), ..config(&fx.base) };
    let err = MasterDownloader::new(quick).unwrap().download_archive(Market::Konex).await.unwrap_err();
    assert!(matches!(err, DownloadError::Transport { timeout: true, .. }), "{err}");
    assert!(err.is_retryable());
}
