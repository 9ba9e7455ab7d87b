//! Execution notices (H0STCNI0 / H0STCNI9, current and legacy layout): each decrypted record
//! read by named field into an order notice or a fill notice; notices of other accounts are left
//! out. Fill notices keep the notice's KST date and time as they are.

use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;

use super::layout::{Field, notice, notice_legacy};
use super::market::field_error;
use super::strict::{parse_decimal, parse_hhmmss};
use crate::domain::market::{FillNotice, NoticeKind, OrderNotice, kst_to_utc};
use crate::domain::{Side, Symbol};
use crate::kis::ws::error::KisWsError;

/// One decoded record of an execution notice of one of our orders (H0STCNI0 / H0STCNI9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionRecord {
    /// Receipt, modification, cancellation or rejection.
    Notice(OrderNotice),
    /// A fill.
    Fill(FillNotice),
}

/// One record split into its fields (execution notices, read out of order).
pub(super) struct Rec<'a, 'b> {
    pub(super) f: &'b [&'a [u8]],
    pub(super) tr: &'b str,
}

impl<'a> Rec<'a, '_> {
    fn err(&self, field: Field) -> KisWsError {
        field_error(self.tr, field.name)
    }

    fn raw(&self, field: Field) -> &'a [u8] {
        self.f.get(field.at).copied().unwrap_or_default()
    }

    fn dec(&self, field: Field) -> Result<Decimal, KisWsError> {
        parse_decimal(self.raw(field)).ok_or_else(|| self.err(field))
    }

    fn time(&self, field: Field) -> Result<NaiveTime, KisWsError> {
        parse_hhmmss(self.raw(field)).ok_or_else(|| self.err(field))
    }

    fn symbol(&self, field: Field) -> Result<Symbol, KisWsError> {
        std::str::from_utf8(self.raw(field))
            .ok()
            .and_then(|s| Symbol::new(s).ok())
            .ok_or_else(|| self.err(field))
    }

    fn text(&self, field: Field) -> Result<String, KisWsError> {
        std::str::from_utf8(self.raw(field)).map(str::to_owned).map_err(|_| self.err(field))
    }

    /// The notice of the trading day `date` in a record of `width` fields (the current or the
    /// legacy layout); `None` when it is for an account other than `account`.
    pub(super) fn notice(
        &self,
        date: NaiveDate,
        width: usize,
        account: Option<&str>,
    ) -> Result<Option<ExecutionRecord>, KisWsError> {
        if let Some(acct) = account
            && self.raw(notice::ACNT_NO) != acct.as_bytes()
        {
            return Ok(None);
        }
        let side = match self.raw(notice::SELN_BYOV_CLS) {
            b"01" => Side::Sell,
            b"02" => Side::Buy,
            _ => return Err(self.err(notice::SELN_BYOV_CLS)),
        };
        let broker_order_no = self.text(notice::ODER_NO)?;
        if broker_order_no.is_empty() {
            return Err(self.err(notice::ODER_NO));
        }
        let branch = self.text(notice::BRNC_NO)?;
        let symbol = self.symbol(notice::STCK_SHRN_ISCD)?;
        let exec_time = self.time(notice::STCK_CNTG_HOUR)?;
        let qty = self.dec(notice::CNTG_QTY)?;
        let price = self.dec(notice::CNTG_UNPR)?;
        match self.raw(notice::CNTG_YN) {
            b"2" => {
                let fill = FillNotice {
                    trade_date: date,
                    exec_time,
                    broker_order_no,
                    branch,
                    symbol,
                    side,
                    qty,
                    price,
                };
                Ok(Some(ExecutionRecord::Fill(fill)))
            }
            b"1" => {
                let kind = match (
                    self.raw(notice::RFUS_YN),
                    self.raw(notice::ACPT_YN),
                    self.raw(notice::RCTF_CLS),
                ) {
                    (b"1", _, _) => NoticeKind::Rejected,
                    (_, b"3", _) => NoticeKind::RemainderCanceled,
                    (_, _, b"1") => NoticeKind::ModifyAccepted,
                    (_, _, b"2") => NoticeKind::CancelAccepted,
                    (_, _, b"0") => NoticeKind::Accepted,
                    _ => return Err(self.err(notice::RCTF_CLS)),
                };
                let order_qty = self.dec(notice::ODER_QTY)?;
                let price_field =
                    if width == notice_legacy::WIDTH { notice_legacy::ODER_PRC } else { notice::ODER_PRC };
                let order_price = self.dec(price_field)?;
                let original = self.text(notice::OODER_NO)?;
                Ok(Some(ExecutionRecord::Notice(OrderNotice {
                    kind,
                    trade_date: date,
                    broker_order_no,
                    branch,
                    original_order_no: (!original.is_empty()).then_some(original),
                    symbol,
                    side,
                    qty: if order_qty.is_zero() { qty } else { order_qty },
                    price: if order_price.is_zero() { price } else { order_price },
                    at: kst_to_utc(date, exec_time),
                })))
            }
            _ => Err(self.err(notice::CNTG_YN)),
        }
    }
}
