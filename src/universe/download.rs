//! Download of the zipped master files over HTTPS (certificate checks on, timeouts, size limit,
//! a progress bar only on a terminal) and the refresh that keeps the last good copy on failure.

use std::io::IsTerminal;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use url::Url;

use super::cache::{CacheError, LoadedMaster, MasterCache};
use super::master::{MasterFileError, ParseOptions, parse_master, unzip_master};
use crate::domain::instrument::Market;

/// The vendor's publication directory (REFERENCE.md §7).
pub const DEFAULT_BASE_URL: &str = "https://new.real.download.dws.co.kr/common/master/";

/// When to draw a download progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// Draw on stderr only when it is a terminal (quiet under a daemon or in logs).
    #[default]
    Auto,
    /// Never draw.
    Hidden,
}

/// Settings of the master-file downloader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadConfig {
    /// Directory URL the archives are fetched from (the simulator serves the same names).
    pub base_url: Url,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Largest accepted archive, in bytes.
    pub max_archive_bytes: u64,
    /// Progress-bar behaviour.
    pub progress: ProgressMode,
}

impl DownloadConfig {
    /// Returns the defaults for a base URL: 60 s timeout, 10 s connect, 32 MiB archives.
    pub fn new(base_url: Url) -> Self {
        Self {
            base_url,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_archive_bytes: 32 * 1024 * 1024,
            progress: ProgressMode::Auto,
        }
    }
}

/// Errors of a master download.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DownloadError {
    /// The base URL cannot be joined with an archive name.
    #[error("invalid master base url: {0}")]
    InvalidUrl(String),
    /// The HTTP client could not be built.
    #[error("cannot build the http client: {0}")]
    Client(String),
    /// The request failed before a complete response (connect, TLS, timeout, reset).
    #[error("download of {url} failed{}: {detail}", if *.timeout { " (timeout)" } else { "" })]
    Transport {
        /// The archive URL.
        url: String,
        /// True when a timeout expired.
        timeout: bool,
        /// The transport error chain.
        detail: String,
    },
    /// The server answered with a non-success status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The archive URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The archive exceeds the size limit.
    #[error("{url} is larger than {limit} bytes")]
    TooLarge {
        /// The archive URL.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The archive or its file was refused whole.
    #[error(transparent)]
    File(#[from] MasterFileError),
}

impl DownloadError {
    /// Returns true when a later attempt may succeed (transport errors, 408, 429 and 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            Self::InvalidUrl(_) | Self::Client(_) | Self::TooLarge { .. } | Self::File(_) => false,
        }
    }
}

fn error_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Fetches master archives from the configured base URL.
#[derive(Debug, Clone)]
pub struct MasterDownloader {
    client: reqwest::Client,
    config: DownloadConfig,
}

impl MasterDownloader {
    /// Builds a downloader; certificate and host-name checks stay on.
    ///
    /// # Errors
    /// Returns [`DownloadError::InvalidUrl`] for a base URL that cannot hold files (`mailto:`),
    /// or [`DownloadError::Client`] when the TLS client cannot be built.
    pub fn new(mut config: DownloadConfig) -> Result<Self, DownloadError> {
        if config.base_url.cannot_be_a_base() || !matches!(config.base_url.scheme(), "http" | "https") {
            return Err(DownloadError::InvalidUrl(config.base_url.to_string()));
        }
        if !config.base_url.path().ends_with('/') {
            let path = format!("{}/", config.base_url.path());
            config.base_url.set_path(&path);
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .tls_danger_accept_invalid_certs(false)
            .tls_danger_accept_invalid_hostnames(false)
            .user_agent(concat!("aegis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DownloadError::Client(error_chain(e)))?;
        Ok(Self { client, config })
    }

    /// Returns the archive URL of a market (`<base>/kospi_code.mst.zip`).
    ///
    /// # Errors
    /// Returns [`DownloadError::InvalidUrl`] when the join fails.
    pub fn archive_url(&self, market: Market) -> Result<Url, DownloadError> {
        self.config.base_url.join(market.archive_name()).map_err(|e| DownloadError::InvalidUrl(e.to_string()))
    }

    /// Downloads a market's archive (still zipped) within the size limit.
    ///
    /// # Errors
    /// Returns [`DownloadError`] on transport failure, a non-success status or an oversized body.
    pub async fn download_archive(&self, market: Market) -> Result<Vec<u8>, DownloadError> {
        let url = self.archive_url(market)?;
        let url_text = url.to_string();
        let limit = self.config.max_archive_bytes;
        let transport = |e: reqwest::Error| DownloadError::Transport {
            url: url_text.clone(),
            timeout: e.is_timeout(),
            detail: error_chain(e),
        };
        let mut response = self.client.get(url.clone()).send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(DownloadError::Status { url: url_text, status: status.as_u16() });
        }
        let too_large = || DownloadError::TooLarge { url: url_text.clone(), limit };
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let bar = self.progress_bar(market, response.content_length());
        let mut body = Vec::with_capacity(
            usize::try_from(response.content_length().unwrap_or(0).min(limit)).unwrap_or(0),
        );
        let result = loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > limit {
                        break Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                    bar.inc(chunk.len() as u64);
                }
                Ok(None) => break Ok(body),
                Err(e) => break Err(transport(e)),
            }
        };
        bar.finish_and_clear();
        result
    }

    fn progress_bar(&self, market: Market, len: Option<u64>) -> ProgressBar {
        if self.config.progress == ProgressMode::Hidden || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{msg:>20} {bar:30} {bytes}/{total_bytes}") {
            bar.set_style(style);
        }
        bar.set_message(market.archive_name());
        bar
    }

    /// Downloads, unzips and parses a market's master; returns the raw file and its parse.
    ///
    /// # Errors
    /// Returns [`DownloadError`] when the download fails or the file is refused whole.
    pub async fn fetch(
        &self,
        market: Market,
        options: &ParseOptions,
    ) -> Result<(Vec<u8>, super::master::ParseReport), DownloadError> {
        let archive = self.download_archive(market).await?;
        let raw = unzip_master(market, &archive, options.max_file_bytes)?;
        let report = parse_master(market, &raw, options)?;
        Ok((raw, report))
    }
}

/// The result of a refresh that left a usable master in place.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// Today's file downloaded and parsed; it is the new last good copy.
    Updated {
        /// The new master.
        master: LoadedMaster,
        /// Set when the copy could not be saved (the next run re-downloads).
        persist_error: Option<CacheError>,
    },
    /// The download or parse failed; the last good copy stays in use.
    KeptLastGood {
        /// The previous master.
        master: LoadedMaster,
        /// Why today's file was not used.
        error: DownloadError,
    },
}

impl RefreshOutcome {
    /// Returns the master now in use.
    pub fn master(&self) -> &LoadedMaster {
        match self {
            Self::Updated { master, .. } | Self::KeptLastGood { master, .. } => master,
        }
    }
}

/// A refresh that left no usable master.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{market} master refresh failed and no last good copy is usable: {error}{}",
    cache.as_ref().map(|c| format!(" (cache: {c})")).unwrap_or_default())]
pub struct RefreshError {
    /// The market.
    pub market: Market,
    /// Why the download failed.
    pub error: DownloadError,
    /// Why the cached copy could not be used, when one existed.
    pub cache: Option<CacheError>,
}

/// Downloads today's master for a market and makes it the last good copy, or falls back to the
/// previous copy when anything fails. `now` is the download time recorded with the copy.
///
/// # Errors
/// Returns [`RefreshError`] when the download failed and no cached copy is usable.
#[tracing::instrument(skip_all, fields(%market), err)]
pub async fn refresh_master(
    downloader: &MasterDownloader,
    cache: &MasterCache,
    market: Market,
    now: DateTime<Utc>,
    options: &ParseOptions,
) -> Result<RefreshOutcome, RefreshError> {
    match downloader.fetch(market, options).await {
        Ok((raw, report)) => {
            let (sha256, persist_error) = match cache.store(market, &raw, now).await {
                Ok(sha) => (sha, None),
                Err(e) => {
                    tracing::warn!(%market, error = %e, "master parsed but could not be cached");
                    (hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&raw)), Some(e))
                }
            };
            let master = LoadedMaster { market, downloaded_at: now, sha256, report };
            Ok(RefreshOutcome::Updated { master, persist_error })
        }
        Err(error) => {
            tracing::warn!(%market, error = %error, "master download refused; trying the last good copy");
            match cache.load(market, options).await {
                Ok(Some(master)) => Ok(RefreshOutcome::KeptLastGood { master, error }),
                Ok(None) => Err(RefreshError { market, error, cache: None }),
                Err(cache) => Err(RefreshError { market, error, cache: Some(cache) }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_are_transport_and_server_side() {
        let status = |status| DownloadError::Status { url: "u".into(), status };
        let transport = DownloadError::Transport { url: "u".into(), timeout: true, detail: "d".into() };
        assert!(transport.is_retryable());
        assert!(transport.to_string().contains("(timeout)"));
        for (s, retry) in [(500, true), (503, true), (429, true), (408, true), (404, false), (403, false)] {
            assert_eq!(status(s).is_retryable(), retry, "{s}");
        }
        assert!(!DownloadError::File(MasterFileError::Empty { market: Market::Kospi }).is_retryable());
        assert!(!DownloadError::TooLarge { url: "u".into(), limit: 1 }.is_retryable());
    }

    #[test]
    fn archive_urls_join_the_base_directory() {
        let d = |base: &str| MasterDownloader::new(DownloadConfig::new(Url::parse(base).unwrap()));
        let url = d(DEFAULT_BASE_URL).unwrap().archive_url(Market::Kosdaq).unwrap();
        assert_eq!(url.as_str(), "https://new.real.download.dws.co.kr/common/master/kosdaq_code.mst.zip");
        let url = d("http://127.0.0.1:9/sim/master").unwrap().archive_url(Market::Konex).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9/sim/master/konex_code.mst.zip");
        assert!(matches!(d("mailto:x@y.z"), Err(DownloadError::InvalidUrl(_))));
        assert!(matches!(d("ftp://host/dir/"), Err(DownloadError::InvalidUrl(_))));
    }
}
