//! Parser of the CP949 fixed-width stock master files: slices raw bytes by the layout, decodes each
//! field, skips bad records with their line numbers and refuses a bad file whole.

use std::collections::HashSet;
use std::io::{Cursor, Read};

use chrono::NaiveDate;
use encoding_rs::EUC_KR;
use rust_decimal::Decimal;

use super::layout::{FixedWidthField, Layout};
use crate::domain::Symbol;
use crate::domain::instrument::{InstrumentFlags, Market, MarketWarning, MasterRecord, SecurityGroup};

/// Limits that decide when a file is refused whole instead of parsed with skipped records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParseOptions {
    /// The file is refused when it has more bad records than this.
    pub max_bad_records: usize,
    /// The file is refused when bad records exceed this fraction of all records (0.0-1.0).
    pub max_bad_fraction: f64,
    /// Largest accepted uncompressed master file, in bytes.
    pub max_file_bytes: u64,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self { max_bad_records: 50, max_bad_fraction: 0.05, max_file_bytes: 32 * 1024 * 1024 }
    }
}

/// Why one record was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRecordReason {
    /// The record is not the layout's length.
    #[error("record is {actual} bytes, expected {expected}")]
    WrongLength {
        /// The layout's record length.
        expected: usize,
        /// The record's length.
        actual: usize,
    },
    /// A text field is not valid CP949.
    #[error("field {field} is not valid CP949")]
    Undecodable {
        /// The vendor field name.
        field: &'static str,
    },
    /// A field holds a value outside its domain (bad number, date, flag or code).
    #[error("field {field} has invalid value {value:?}")]
    InvalidValue {
        /// The vendor field name.
        field: &'static str,
        /// The offending text (public market data, never secret).
        value: String,
    },
    /// The short code already appeared on an earlier line.
    #[error("duplicate code {0}")]
    Duplicate(String),
}

/// A skipped record: its 1-based line number and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct BadRecord {
    /// 1-based line number in the file.
    pub line: usize,
    /// Why it was skipped.
    pub reason: BadRecordReason,
}

/// The outcome of parsing one acceptable file: the good records and the skipped ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseReport {
    /// The market of the file.
    pub market: Market,
    /// Records in file order.
    pub records: Vec<MasterRecord>,
    /// Skipped records in file order.
    pub bad: Vec<BadRecord>,
}

/// A file refused whole; the caller keeps its last good master.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MasterFileError {
    /// The file holds no records.
    #[error("{market} master file is empty")]
    Empty {
        /// The market of the file.
        market: Market,
    },
    /// Most lines have the wrong length: the file is not this market's layout.
    #[error("{market} master file has {wrong} of {lines} lines not {expected} bytes long")]
    WrongRecordSize {
        /// The market of the file.
        market: Market,
        /// The layout's record length.
        expected: usize,
        /// Lines of the wrong length.
        wrong: usize,
        /// All lines.
        lines: usize,
    },
    /// Too many records are bad.
    #[error("{market} master file has {bad} bad records of {lines} (first: {first})")]
    TooManyBadRecords {
        /// The market of the file.
        market: Market,
        /// Bad records.
        bad: usize,
        /// All lines.
        lines: usize,
        /// The first bad record.
        first: BadRecord,
    },
    /// The archive is not a readable ZIP file.
    #[error("{market} master archive is not a valid zip: {detail}")]
    NotZip {
        /// The market of the archive.
        market: Market,
        /// What the zip reader reported.
        detail: String,
    },
    /// The archive does not contain the expected member.
    #[error("{market} master archive has no member {member}")]
    MissingMember {
        /// The market of the archive.
        market: Market,
        /// The expected member name.
        member: &'static str,
    },
    /// The uncompressed file exceeds the size limit.
    #[error("{market} master file exceeds {limit} bytes")]
    TooLarge {
        /// The market of the file.
        market: Market,
        /// The limit in bytes.
        limit: u64,
    },
}

/// Extracts the market's master file (`kospi_code.mst`) from a downloaded archive.
///
/// # Errors
/// Returns [`MasterFileError::NotZip`], [`MasterFileError::MissingMember`] or
/// [`MasterFileError::TooLarge`] when the archive cannot yield the member within the size limit.
pub fn unzip_master(market: Market, archive: &[u8], max_bytes: u64) -> Result<Vec<u8>, MasterFileError> {
    let not_zip = |e: zip::result::ZipError| MasterFileError::NotZip { market, detail: e.to_string() };
    let mut zip = zip::ZipArchive::new(Cursor::new(archive)).map_err(not_zip)?;
    let member = market.member_name();
    let mut file = match zip.by_name(member) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(MasterFileError::MissingMember { market, member });
        }
        Err(e) => return Err(not_zip(e)),
    };
    if file.size() > max_bytes {
        return Err(MasterFileError::TooLarge { market, limit: max_bytes });
    }
    let mut out = Vec::new();
    file.by_ref()
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| MasterFileError::NotZip { market, detail: e.to_string() })?;
    if out.len() as u64 > max_bytes {
        return Err(MasterFileError::TooLarge { market, limit: max_bytes });
    }
    Ok(out)
}

/// Splits a file into lines: LF-terminated, a trailing CR stripped, the final LF optional.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let empty = body.is_empty();
    body.split(|&b| b == b'\n').filter(move |_| !empty).map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Parses one market's uncompressed master file.
///
/// # Errors
/// Returns a [`MasterFileError`] when the file is empty, has the wrong record size on most lines,
/// exceeds the size limit or has more bad records than `options` allow; single bad records are
/// reported in [`ParseReport::bad`] instead.
pub fn parse_master(
    market: Market,
    data: &[u8],
    options: &ParseOptions,
) -> Result<ParseReport, MasterFileError> {
    if data.len() as u64 > options.max_file_bytes {
        return Err(MasterFileError::TooLarge { market, limit: options.max_file_bytes });
    }
    let layout = market.layout();
    let total = lines(data).count();
    if total == 0 {
        return Err(MasterFileError::Empty { market });
    }
    let wrong = lines(data).filter(|l| l.len() != layout.record_bytes).count();
    if wrong * 2 > total {
        return Err(MasterFileError::WrongRecordSize {
            market,
            expected: layout.record_bytes,
            wrong,
            lines: total,
        });
    }
    let mut records = Vec::with_capacity(total);
    let mut bad = Vec::new();
    let mut seen = HashSet::with_capacity(total);
    for (index, line) in lines(data).enumerate() {
        let parsed = parse_record(layout, line).and_then(|r| {
            if seen.insert(r.symbol.clone()) {
                Ok(r)
            } else {
                Err(BadRecordReason::Duplicate(r.symbol.to_string()))
            }
        });
        match parsed {
            Ok(record) => records.push(record),
            Err(reason) => bad.push(BadRecord { line: index + 1, reason }),
        }
    }
    let too_many =
        bad.len() > options.max_bad_records || bad.len() as f64 > options.max_bad_fraction * total as f64;
    if let (true, Some(first)) = (too_many, bad.first()) {
        return Err(MasterFileError::TooManyBadRecords {
            market,
            bad: bad.len(),
            lines: total,
            first: first.clone(),
        });
    }
    if records.is_empty() {
        return Err(MasterFileError::Empty { market });
    }
    Ok(ParseReport { market, records, bad })
}

/// Parses one record (without its line terminator).
///
/// # Errors
/// Returns the [`BadRecordReason`] of the first field that fails.
pub fn parse_record(layout: &Layout, line: &[u8]) -> Result<MasterRecord, BadRecordReason> {
    if line.len() != layout.record_bytes {
        return Err(BadRecordReason::WrongLength { expected: layout.record_bytes, actual: line.len() });
    }
    let r = Record { line };
    let code = r.ascii(layout.short_code)?;
    let symbol = Symbol::new(code).map_err(|_| BadRecordReason::InvalidValue {
        field: layout.short_code.name,
        value: code.to_owned(),
    })?;
    let isin = r.ascii(layout.isin)?;
    if isin.len() != 12 || !isin.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid(layout.isin, isin));
    }
    let name = r.text(layout.name)?;
    if name.is_empty() {
        return Err(invalid(layout.name, ""));
    }
    let group_code = r.ascii(layout.group)?;
    if group_code.len() != 2 || !group_code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(layout.group, group_code));
    }
    let warning_code = r.ascii(layout.warning)?;
    let warning =
        MarketWarning::from_code(warning_code).ok_or_else(|| invalid(layout.warning, warning_code))?;
    let base_price = r.number(layout.base_price)?.ok_or_else(|| invalid(layout.base_price, ""))?;
    let lot_size = r
        .number(layout.lot_size)?
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| invalid(layout.lot_size, r.ascii(layout.lot_size).unwrap_or_default()))?;
    let margin_rate_pct = r
        .number(layout.margin_rate)?
        .map(u16::try_from)
        .transpose()
        .map_err(|_| invalid(layout.margin_rate, r.ascii(layout.margin_rate).unwrap_or_default()))?;
    let preferred = match r.ascii(layout.preferred)? {
        "" | "0" => false,
        "1" | "2" => true,
        other => return Err(invalid(layout.preferred, other)),
    };
    let short_term_overheat = match layout.short_term_overheat {
        None => false,
        Some(field) => match r.ascii(field)? {
            "" | "0" | "1" => false,
            "2" | "3" => true,
            other => return Err(invalid(field, other)),
        },
    };
    let optional_flag = |field: Option<FixedWidthField>| field.map_or(Ok(false), |f| r.flag(f));
    let flags = InstrumentFlags {
        liquidation_trading: r.flag(layout.liquidation)?,
        warning_risk_notice: r.flag(layout.warning_risk_notice)?,
        unfaithful_disclosure: r.flag(layout.unfaithful_disclosure)?,
        short_term_overheat,
        short_sale_overheat: r.flag(layout.short_sale_overheat)?,
        abnormal_surge: r.flag(layout.abnormal_surge)?,
        low_liquidity: optional_flag(layout.low_liquidity)?,
        spac: optional_flag(layout.spac)?,
        investment_alert: optional_flag(layout.investment_alert)?,
        credit_available: r.flag(layout.credit_available)?,
        preferred,
    };
    Ok(MasterRecord {
        symbol,
        isin: isin.to_owned(),
        name,
        market: layout.market,
        group: SecurityGroup::from_code(group_code),
        halted: r.flag(layout.halted)?,
        admin_issue: r.flag(layout.admin_issue)?,
        warning,
        base_price: Decimal::from(base_price),
        lot_size,
        listed_on: r.date(layout.listed_on)?,
        prev_volume: r.number(layout.prev_volume)?.unwrap_or(0),
        flags,
        face_value: r.number(layout.face_value)?.map(Decimal::from),
        listed_shares: r.number(layout.listed_shares)?,
        margin_rate_pct,
        prev_market_cap_eok: r.number(layout.prev_market_cap)?,
    })
}

fn invalid(field: FixedWidthField, value: &str) -> BadRecordReason {
    BadRecordReason::InvalidValue { field: field.name, value: value.to_owned() }
}

/// One record of the right length; field accessors slice bytes, then decode.
struct Record<'a> {
    line: &'a [u8],
}

impl<'a> Record<'a> {
    fn bytes(&self, field: FixedWidthField) -> &'a [u8] {
        self.line.get(field.range()).unwrap_or_default()
    }

    /// Returns an ASCII field with its space padding removed.
    fn ascii(&self, field: FixedWidthField) -> Result<&'a str, BadRecordReason> {
        let bytes = self.bytes(field);
        if !bytes.is_ascii() {
            return Err(BadRecordReason::Undecodable { field: field.name });
        }
        std::str::from_utf8(bytes)
            .map(str::trim)
            .map_err(|_| BadRecordReason::Undecodable { field: field.name })
    }

    /// Returns a CP949 text field with its trailing padding removed.
    fn text(&self, field: FixedWidthField) -> Result<String, BadRecordReason> {
        EUC_KR
            .decode_without_bom_handling_and_without_replacement(self.bytes(field))
            .map(|s| s.trim_end().to_owned())
            .ok_or(BadRecordReason::Undecodable { field: field.name })
    }

    /// Returns a zero-padded unsigned number, `None` when the field is blank.
    fn number(&self, field: FixedWidthField) -> Result<Option<u64>, BadRecordReason> {
        let text = self.ascii(field)?;
        if text.is_empty() {
            return Ok(None);
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(field, text));
        }
        text.parse::<u64>().map(Some).map_err(|_| invalid(field, text))
    }

    /// Returns a `Y`/`N` flag; blank reads as `N`.
    fn flag(&self, field: FixedWidthField) -> Result<bool, BadRecordReason> {
        match self.ascii(field)? {
            "Y" => Ok(true),
            "N" | "" => Ok(false),
            other => Err(invalid(field, other)),
        }
    }

    /// Returns a `YYYYMMDD` date; blank or all zeros reads as `None`.
    fn date(&self, field: FixedWidthField) -> Result<Option<NaiveDate>, BadRecordReason> {
        let text = self.ascii(field)?;
        if text.is_empty() || text.bytes().all(|b| b == b'0') {
            return Ok(None);
        }
        if text.len() != 8 {
            return Err(invalid(field, text));
        }
        NaiveDate::parse_from_str(text, "%Y%m%d").map(Some).map_err(|_| invalid(field, text))
    }
}

#[cfg(test)]
#[path = "master_tests.rs"]
mod tests;
