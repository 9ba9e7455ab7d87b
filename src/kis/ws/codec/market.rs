//! The reader of market-data records (trades and books): typed reads by named field, in record
//! order, over the field walker. A read moves to its field by skipping the fields before it that
//! nothing reads; the positions are constants, so each skip is a fixed count once inlined.

use rust_decimal::Decimal;

use super::layout::Field;
use super::run::ReadNumbers;
use super::separators::Fields;
use crate::domain::Symbol;
use crate::domain::market::SessionPhase;
use crate::kis::ws::error::KisWsError;

/// Sequential typed reads over the market-data records of a payload.
pub(super) struct Market<'a> {
    pub(super) f: Fields<'a>,
    pub(super) tr: &'a str,
    /// Index in the current record of the field the walker is at.
    pub(super) at: usize,
}

impl<'a> Market<'a> {
    /// Returns a reader at the first field of the first record of `f`.
    pub(super) fn new(f: Fields<'a>, tr: &'a str) -> Self {
        Market { f, tr, at: 0 }
    }

    /// Moves the walker to `field` of the current record, which is not before it.
    #[inline(always)]
    fn seek(&mut self, field: Field) {
        debug_assert!(field.at >= self.at, "{} read out of record order", field.name);
        self.f.skip(field.at - self.at);
        self.at = field.at + 1;
    }

    /// Skips the rest of the current record, which has `width` fields; the walker is then at the
    /// next record's first field.
    #[inline(always)]
    pub(super) fn next_record(&mut self, width: usize) {
        self.f.skip(width - self.at);
        self.at = 0;
    }

    /// Parses `field` into `dst` (in place: the hot path of the market-data channels).
    #[inline(always)]
    pub(super) fn put(&mut self, field: Field, dst: &mut Decimal) -> Result<(), KisWsError> {
        self.seek(field);
        if self.f.decimal_into(dst) { Ok(()) } else { Err(field_error(self.tr, field.name)) }
    }

    /// Seconds after midnight of the `HHMMSS` field `field`.
    #[inline(always)]
    pub(super) fn seconds(&mut self, field: Field) -> Result<u32, KisWsError> {
        self.seek(field);
        self.f.seconds().ok_or_else(|| field_error(self.tr, field.name))
    }

    /// The instrument code in `field`.
    #[inline(always)]
    pub(super) fn symbol(&mut self, field: Field) -> Result<Symbol, KisWsError> {
        self.seek(field);
        self.f.symbol().ok_or_else(|| field_error(self.tr, field.name))
    }

    /// The bytes of `field` (a code or a flag).
    #[inline(always)]
    pub(super) fn raw(&mut self, field: Field) -> &'a [u8] {
        self.seek(field);
        self.f.field()
    }

    /// Reads the run of numbers from `first` to `last` through `read` (see
    /// [`Fields::numbers`]).
    #[inline(always)]
    pub(super) fn numbers<R: ReadNumbers>(
        &mut self,
        [first, last]: [Field; 2],
        read: &mut R,
    ) -> Result<(), KisWsError> {
        self.seek(first);
        let (f, numbers) = self.f.numbers(read);
        self.f = f;
        self.at = last.at + 1;
        numbers.map_err(|name| field_error(self.tr, name))
    }
}

/// The error of a malformed field.
#[cold]
#[inline(never)]
pub(super) fn field_error(tr: &str, field: &'static str) -> KisWsError {
    KisWsError::Field { tr: tr.to_owned(), field }
}

/// The session phase of an `HOUR_CLS_CODE`.
pub(super) fn phase(code: &[u8]) -> SessionPhase {
    match code {
        b"0" => SessionPhase::Continuous,
        b"A" => SessionPhase::ClosingAuction,
        b"B" => SessionPhase::PreOpenAuction,
        b"C" => SessionPhase::ViAuction,
        b"D" => SessionPhase::AfterHoursAuction,
        _ => SessionPhase::Unknown,
    }
}
