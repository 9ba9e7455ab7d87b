//! Writer of master-file records in the vendor's fixed-width CP949 layout, the inverse of the
//! parser for the fields it reads (other bytes are spaces). The simulator and tests use it to
//! publish master files the real parser accepts.

use chrono::Datelike;
use encoding_rs::EUC_KR;
use rust_decimal::Decimal;

use super::layout::{FixedWidthField, Layout};
use crate::domain::instrument::{Market, MarketWarning, MasterRecord};

/// Why a record cannot be written in its market's layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The value does not fit the field (too wide, negative, fractional or not CP949).
    #[error("{symbol}: value {value:?} does not fit field {field}")]
    DoesNotFit {
        /// The instrument.
        symbol: String,
        /// The vendor field name.
        field: &'static str,
        /// The offending value.
        value: String,
    },
    /// A flag is set that the market's layout does not carry.
    #[error("{symbol}: {market} records carry no {flag} flag")]
    NoSuchField {
        /// The instrument.
        symbol: String,
        /// The market.
        market: Market,
        /// The flag's name.
        flag: &'static str,
    },
}

struct Writer<'a> {
    line: Vec<u8>,
    symbol: &'a str,
}

impl Writer<'_> {
    fn misfit(&self, field: FixedWidthField, value: impl ToString) -> EncodeError {
        EncodeError::DoesNotFit {
            symbol: self.symbol.to_owned(),
            field: field.name,
            value: value.to_string(),
        }
    }

    /// Writes left-justified, space-padded bytes.
    fn put(&mut self, field: FixedWidthField, bytes: &[u8]) -> Result<(), EncodeError> {
        if bytes.len() > field.width {
            return Err(self.misfit(field, String::from_utf8_lossy(bytes)));
        }
        let slot = self.line.get_mut(field.range()).ok_or_else(|| EncodeError::DoesNotFit {
            symbol: self.symbol.to_owned(),
            field: field.name,
            value: String::new(),
        })?;
        slot.fill(b' ');
        if let Some(head) = slot.get_mut(..bytes.len()) {
            head.copy_from_slice(bytes);
        }
        Ok(())
    }

    fn text(&mut self, field: FixedWidthField, text: &str) -> Result<(), EncodeError> {
        let (bytes, _, unmappable) = EUC_KR.encode(text);
        if unmappable {
            return Err(self.misfit(field, text));
        }
        self.put(field, &bytes)
    }

    fn number(&mut self, field: FixedWidthField, value: Option<u64>) -> Result<(), EncodeError> {
        match value {
            None => self.put(field, b""),
            Some(v) => self.put(field, format!("{v:0width$}", width = field.width).as_bytes()),
        }
    }

    fn decimal(&mut self, field: FixedWidthField, value: Option<Decimal>) -> Result<(), EncodeError> {
        let whole = match value {
            None => None,
            Some(d) => Some(
                (d.fract().is_zero())
                    .then(|| u64::try_from(d.trunc()).ok())
                    .flatten()
                    .ok_or_else(|| self.misfit(field, d))?,
            ),
        };
        self.number(field, whole)
    }

    fn flag(&mut self, field: FixedWidthField, on: bool) -> Result<(), EncodeError> {
        self.put(field, if on { b"Y" } else { b"N" })
    }

    fn optional_flag(
        &mut self,
        layout: &Layout,
        field: Option<FixedWidthField>,
        on: bool,
        flag: &'static str,
    ) -> Result<(), EncodeError> {
        match (field, on) {
            (Some(field), _) => self.flag(field, on),
            (None, false) => Ok(()),
            (None, true) => {
                Err(EncodeError::NoSuchField { symbol: self.symbol.to_owned(), market: layout.market, flag })
            }
        }
    }
}

/// Returns one record in its market's layout, without the line terminator.
///
/// # Errors
/// Returns [`EncodeError`] when a value does not fit its field or a flag has no field in the layout.
pub fn encode_record(record: &MasterRecord) -> Result<Vec<u8>, EncodeError> {
    let layout = record.market.layout();
    let mut w = Writer { line: vec![b' '; layout.record_bytes], symbol: record.symbol.as_str() };
    w.put(layout.short_code, record.symbol.as_str().as_bytes())?;
    w.put(layout.isin, record.isin.as_bytes())?;
    w.text(layout.name, &record.name)?;
    w.put(layout.group, record.group.code().as_bytes())?;
    w.decimal(layout.base_price, Some(record.base_price))?;
    w.number(layout.lot_size, Some(u64::from(record.lot_size)))?;
    w.flag(layout.halted, record.halted)?;
    w.flag(layout.admin_issue, record.admin_issue)?;
    let warning: &[u8] = match record.warning {
        MarketWarning::None => b"00",
        MarketWarning::Caution => b"01",
        MarketWarning::Warning => b"02",
        MarketWarning::Risk => b"03",
    };
    w.put(layout.warning, warning)?;
    let f = record.flags;
    w.flag(layout.liquidation, f.liquidation_trading)?;
    w.flag(layout.warning_risk_notice, f.warning_risk_notice)?;
    w.flag(layout.unfaithful_disclosure, f.unfaithful_disclosure)?;
    w.flag(layout.credit_available, f.credit_available)?;
    w.flag(layout.short_sale_overheat, f.short_sale_overheat)?;
    w.flag(layout.abnormal_surge, f.abnormal_surge)?;
    w.put(layout.preferred, if f.preferred { b"1" } else { b"0" })?;
    match layout.short_term_overheat {
        Some(field) => w.put(field, if f.short_term_overheat { b"2" } else { b"0" })?,
        None => w.optional_flag(layout, None, f.short_term_overheat, "short_term_overheat")?,
    }
    w.optional_flag(layout, layout.low_liquidity, f.low_liquidity, "low_liquidity")?;
    w.optional_flag(layout, layout.spac, f.spac, "spac")?;
    w.optional_flag(layout, layout.investment_alert, f.investment_alert, "investment_alert")?;
    w.number(layout.margin_rate, record.margin_rate_pct.map(u64::from))?;
    w.number(layout.prev_volume, Some(record.prev_volume))?;
    w.decimal(layout.face_value, record.face_value)?;
    let date = record.listed_on.map(|d| format!("{:04}{:02}{:02}", d.year(), d.month(), d.day()));
    w.put(layout.listed_on, date.as_deref().unwrap_or_default().as_bytes())?;
    w.number(layout.listed_shares, record.listed_shares)?;
    w.number(layout.prev_market_cap, record.prev_market_cap_eok)?;
    Ok(w.line)
}

/// Returns a whole master file: each record followed by LF.
///
/// # Errors
/// Returns the first record's [`EncodeError`].
pub fn encode_master(records: &[MasterRecord]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    for record in records {
        out.extend_from_slice(&encode_record(record)?);
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
