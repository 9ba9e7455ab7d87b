//! The last good master file per market, kept on disk with its download time.
//!
//! A copy is written only after it parsed, as a content-addressed raw file plus a small JSON
//! pointer (`<member>.meta.json`); replacing the pointer with a rename is the single commit point,
//! so a crash mid-write leaves the previous copy in force.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::freshness::{Freshness, freshness};
use super::master::{MasterFileError, ParseOptions, ParseReport, parse_master};
use crate::domain::instrument::Market;

/// Errors of the on-disk master cache.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CacheError {
    /// Reading or writing a cache file failed.
    #[error("master cache i/o on {path}: {detail}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        detail: String,
    },
    /// A cache file does not match its metadata or cannot be read as such.
    #[error("master cache file {path} is corrupt: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The cached file no longer parses (for example after stricter options).
    #[error("cached master no longer parses: {0}")]
    File(#[from] MasterFileError),
}

/// A master file that parsed, with the time it was downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedMaster {
    /// The market.
    pub market: Market,
    /// When the raw file was downloaded.
    pub downloaded_at: DateTime<Utc>,
    /// SHA-256 of the raw (uncompressed) file, hex.
    pub sha256: String,
    /// The parse result.
    pub report: ParseReport,
}

impl LoadedMaster {
    /// Returns where this copy stands against the publication schedule at `now`, counting the
    /// days `is_publication_day` accepts (pass the KRX calendar, or `|_| true`).
    pub fn freshness(&self, now: DateTime<Utc>, is_publication_day: impl Fn(NaiveDate) -> bool) -> Freshness {
        freshness(self.downloaded_at, now, is_publication_day)
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    market: Market,
    downloaded_at: DateTime<Utc>,
    file: String,
    bytes: u64,
    sha256: String,
}

/// The directory holding the last good master of each market.
#[derive(Debug, Clone)]
pub struct MasterCache {
    dir: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |e| CacheError::Io { path: path.to_path_buf(), detail: e.to_string() }
}

impl MasterCache {
    /// Returns a cache rooted at `dir` (created on the first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Returns the cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn meta_path(&self, market: Market) -> PathBuf {
        self.dir.join(format!("{}.meta.json", market.member_name()))
    }

    /// Loads and parses the last good copy of a market; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// Returns [`CacheError`] when the copy cannot be read, fails its checksum or no longer parses.
    pub async fn load(
        &self,
        market: Market,
        options: &ParseOptions,
    ) -> Result<Option<LoadedMaster>, CacheError> {
        let meta_path = self.meta_path(market);
        let meta_text = match tokio::fs::read(&meta_path).await {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&meta_path)(e)),
        };
        let corrupt = |detail: String| CacheError::Corrupt { path: meta_path.clone(), detail };
        let meta: Meta = serde_json::from_slice(&meta_text).map_err(|e| corrupt(e.to_string()))?;
        if meta.market != market || meta.file.contains(['/', '\\']) {
            return Err(corrupt(format!("metadata names {} file {:?}", meta.market, meta.file)));
        }
        let raw_path = self.dir.join(&meta.file);
        let raw = tokio::fs::read(&raw_path).await.map_err(io_err(&raw_path))?;
        let sha256 = hex::encode(Sha256::digest(&raw));
        if sha256 != meta.sha256 || raw.len() as u64 != meta.bytes {
            return Err(CacheError::Corrupt { path: raw_path, detail: "checksum mismatch".into() });
        }
        let report = parse_master(market, &raw, options)?;
        Ok(Some(LoadedMaster { market, downloaded_at: meta.downloaded_at, sha256, report }))
    }

    /// Stores a raw file that parsed as the market's last good copy, replacing the previous one.
    ///
    /// # Errors
    /// Returns [`CacheError::Io`] when a file cannot be written; the previous copy then stays in force.
    pub async fn store(
        &self,
        market: Market,
        raw: &[u8],
        downloaded_at: DateTime<Utc>,
    ) -> Result<String, CacheError> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(io_err(&self.dir))?;
        let sha256 = hex::encode(Sha256::digest(raw));
        let file = format!("{}.{}", market.member_name(), sha256.get(..16).unwrap_or(&sha256));
        let previous = self.previous_file(market).await;
        write_atomic(&self.dir.join(&file), raw).await?;
        let meta = Meta {
            market,
            downloaded_at,
            file: file.clone(),
            bytes: raw.len() as u64,
            sha256: sha256.clone(),
        };
        let meta_json = serde_json::to_vec_pretty(&meta)
            .map_err(|e| CacheError::Corrupt { path: self.meta_path(market), detail: e.to_string() })?;
        write_atomic(&self.meta_path(market), &meta_json).await?;
        if let Some(old) = previous.filter(|old| *old != file) {
            // Best effort: a leftover raw file is harmless, the pointer no longer names it.
            let _ = tokio::fs::remove_file(self.dir.join(old)).await;
        }
        Ok(sha256)
    }

    async fn previous_file(&self, market: Market) -> Option<String> {
        let text = tokio::fs::read(self.meta_path(market)).await.ok()?;
        serde_json::from_slice::<Meta>(&text).ok().map(|m| m.file).filter(|f| !f.contains(['/', '\\']))
    }
}

/// Writes `data` to a temporary sibling, syncs it and renames it over `path`.
async fn write_atomic(path: &Path, data: &[u8]) -> Result<(), CacheError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = tokio::fs::File::create(&tmp).await.map_err(io_err(&tmp))?;
    file.write_all(data).await.map_err(io_err(&tmp))?;
    file.sync_all().await.map_err(io_err(&tmp))?;
    drop(file);
    tokio::fs::rename(&tmp, path).await.map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const KOSPI: &[u8] = include_bytes!("../../tests/fixtures/master/kospi_code.sample.mst");

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("aegis-master-cache-{}", uuid::Uuid::new_v4()))
    }

    #[tokio::test]
    async fn stores_and_reloads_the_last_good_copy() {
        let cache = MasterCache::new(temp_dir());
        let opts = ParseOptions::default();
        assert_eq!(cache.load(Market::Kospi, &opts).await, Ok(None));
        let t1 = Utc.with_ymd_and_hms(2026, 3, 2, 22, 0, 0).unwrap();
        cache.store(Market::Kospi, KOSPI, t1).await.unwrap();
        let loaded = cache.load(Market::Kospi, &opts).await.unwrap().unwrap();
        assert_eq!((loaded.downloaded_at, loaded.report.records.len()), (t1, 5));
        assert!(!loaded.freshness(t1, |_| true).stale);
        assert!(loaded.freshness(t1 + chrono::Duration::days(1), |_| true).stale);
        assert_eq!(cache.load(Market::Kosdaq, &opts).await, Ok(None));

        let smaller = &KOSPI[..288 * 2 + 2];
        let t2 = Utc.with_ymd_and_hms(2026, 3, 3, 22, 0, 0).unwrap();
        cache.store(Market::Kospi, smaller, t2).await.unwrap();
        let loaded = cache.load(Market::Kospi, &opts).await.unwrap().unwrap();
        assert_eq!((loaded.downloaded_at, loaded.report.records.len()), (t2, 2));
        let files = std::fs::read_dir(cache.dir()).unwrap().count();
        assert_eq!(files, 2, "the replaced raw file is removed");
        std::fs::remove_dir_all(cache.dir()).unwrap();
    }

    #[tokio::test]
    async fn a_tampered_copy_is_reported_corrupt() {
        let cache = MasterCache::new(temp_dir());
        let sha = cache.store(Market::Kospi, KOSPI, Utc::now()).await.unwrap();
        let raw = cache.dir().join(format!("kospi_code.mst.{}", &sha[..16]));
        std::fs::write(&raw, &KOSPI[..288]).unwrap();
        let err = cache.load(Market::Kospi, &ParseOptions::default()).await.unwrap_err();
        assert!(matches!(err, CacheError::Corrupt { .. }), "{err}");
        std::fs::write(cache.dir().join("kospi_code.mst.meta.json"), b"{").unwrap();
        let err = cache.load(Market::Kospi, &ParseOptions::default()).await.unwrap_err();
        assert!(matches!(err, CacheError::Corrupt { .. }), "{err}");
        std::fs::remove_dir_all(cache.dir()).unwrap();
    }
}
