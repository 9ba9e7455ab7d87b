//! The tradable universe: stock master files (download, cache, parse), the day's instrument
//! differences, universe selection and master-file freshness.
//!
//! - [`layout`]: byte layouts of the KOSPI/KOSDAQ/KONEX files and each [`Market`]'s file names.
//! - [`master`]: the CP949 fixed-width parser with per-record and per-file errors.
//! - [`download`]: HTTPS download of the zipped files and the refresh that keeps the last good copy.
//! - [`cache`]: the last good raw file per market on disk, with its download time.
//! - [`encode`]: the inverse of the parser, for the simulator and tests that publish master files.
//! - [`diff`]: yesterday's instruments against today's master, as typed changes.
//! - [`select`]: the configured list or rule intersected with tradable instruments.
//! - [`freshness`]: the published refresh times and whether a copy is stale.
//! - [`refresh`]: the universe stage gluing download, diff, upsert, events and selection.
//!
//! The instrument types themselves ([`MasterRecord`], [`Market`], [`InstrumentChange`], ...) live in
//! [`crate::domain::instrument`] and are re-exported here.

pub mod cache;
pub mod diff;
pub mod download;
pub mod encode;
pub mod freshness;
pub mod layout;
pub mod master;
pub mod refresh;
pub mod select;

pub use crate::domain::instrument::{
    InstrumentChange, InstrumentFlags, Market, MarketWarning, MasterRecord, SecurityGroup,
};
pub use cache::{CacheError, LoadedMaster, MasterCache};
pub use diff::diff_instruments;
pub use download::{
    DEFAULT_BASE_URL, DownloadConfig, DownloadError, MasterDownloader, ProgressMode, RefreshError,
    RefreshOutcome, refresh_master,
};
pub use encode::{EncodeError, encode_master, encode_record};
pub use freshness::{Freshness, is_stale, latest_publication_before};
pub use master::{
    BadRecord, BadRecordReason, MasterFileError, ParseOptions, ParseReport, parse_master, unzip_master,
};
pub use refresh::{
    MarketReport, MasterSource, UniverseConfig, UniverseRefreshError, UniverseReport, refresh_universe,
};
pub use select::{
    Excluded, ExclusionPolicy, ExclusionReason, Universe, UniverseError, UniverseRule, UniverseSource,
    select_universe,
};
