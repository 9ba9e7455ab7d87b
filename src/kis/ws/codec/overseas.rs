//! The overseas (US) channels: trades (HDFSCNT0), the level-1 book (HDFSASP0) and the decrypted
//! execution notices (H0GSCNI0 / H0GSCNI9), each record read by named field
//! ([`super::layout`]`::us_*`) into its domain event. These channels carry a few records a
//! second, so they take the straightforward path — the payload split into fields — and leave
//! the domestic hot path ([`super::Decoder`]) as it is.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::DataFrame;
use super::layout::{Field, us_book, us_notice, us_trade};
use super::market::field_error;
use super::strict::{parse_decimal, parse_hhmmss, parse_yyyymmdd};
use crate::domain::Side;
use crate::domain::market::kst_to_utc;
use crate::domain::overseas::{
    Ticker, UsBookTop, UsExchange, UsExecution, UsNoticeKind, UsTrade, UsTradeSession,
};
use crate::kis::ws::error::KisWsError;

/// Implied decimals of a US price in an execution notice (`overseas.md` §1.5: `001480100` =
/// 148.0100).
pub const US_NOTICE_PRICE_DECIMALS: u32 = 4;

/// Whether a TR id is one of the overseas channels this module decodes.
pub fn is_overseas(tr_id: &str) -> bool {
    matches!(tr_id, us_trade::TR_ID | us_book::TR_ID | us_notice::TR_ID | "H0GSCNI9")
}

/// The realtime key of a US stock (`DNASAAPL`, day session `RBAQAAPL`): prefix, market, ticker.
///
/// # Errors
/// [`KisWsError::Field`] (named `RSYM`) for a key of another shape or market.
pub fn parse_realtime_key(tr: &str, key: &str) -> Result<(UsExchange, Ticker), KisWsError> {
    let err = || field_error(tr, "RSYM");
    let (prefix, rest) = key.split_at_checked(1).ok_or_else(err)?;
    if !matches!(prefix, "D" | "R") {
        return Err(err());
    }
    let (market, ticker) = rest.split_at_checked(3).ok_or_else(err)?;
    let exchange = UsExchange::parse(market).map_err(|_| err())?;
    Ok((exchange, Ticker::new(ticker).map_err(|_| err())?))
}

/// Most fields a record of an overseas channel may have (as the domestic channels).
const MAX_RECORD_FIELDS: usize = 128;

/// How a channel treats records wider than its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wider {
    /// Fields appended at the end (a layout drift): the known ones are read where they are.
    Appended,
    /// Another layout (the 71-field HDFSASP0 variant): refused.
    Refused,
}

/// The fields of `frame`'s records, `width` each; the width is the field total over the
/// declared count and must be `expected` (or one of `older`, or wider where `wider` allows it,
/// up to [`MAX_RECORD_FIELDS`]).
fn records<'a>(
    frame: &DataFrame<'a>,
    expected: usize,
    older: &[usize],
    wider: Wider,
) -> Result<(Vec<&'a str>, usize), KisWsError> {
    let fields: Vec<&str> = frame.payload.split('^').collect();
    let tr = frame.tr_id;
    if frame.count == 0 || !fields.len().is_multiple_of(frame.count) {
        return Err(KisWsError::RecordSplit { tr: tr.to_owned(), fields: fields.len(), count: frame.count });
    }
    let width = fields.len() / frame.count;
    let appended = wider == Wider::Appended && width > expected && width <= MAX_RECORD_FIELDS;
    if width != expected && !older.contains(&width) && !appended {
        return Err(KisWsError::Truncated { tr: tr.to_owned(), expected, observed: width });
    }
    Ok((fields, width))
}

/// The width of the records of a well-formed frame of `count` records (for the layout-drift
/// report: wider than the channel's layout).
pub fn record_width(payload: &str, count: usize) -> usize {
    let fields = payload.bytes().filter(|&b| b == b'^').count() + 1;
    fields.checked_div(count).unwrap_or(0)
}

/// One record's fields.
struct Rec<'a, 'b> {
    f: &'b [&'a str],
    tr: &'b str,
}

impl<'a> Rec<'a, '_> {
    fn raw(&self, field: Field) -> &'a str {
        self.f.get(field.at).copied().unwrap_or_default()
    }

    fn dec(&self, field: Field) -> Result<Decimal, KisWsError> {
        parse_decimal(self.raw(field).trim().as_bytes()).ok_or_else(|| field_error(self.tr, field.name))
    }

    /// A KST date and time field pair as an instant.
    fn kst(&self, date: Field, time: Field) -> Result<DateTime<Utc>, KisWsError> {
        let d = parse_yyyymmdd(self.raw(date).as_bytes()).ok_or_else(|| field_error(self.tr, date.name))?;
        let t = parse_hhmmss(self.raw(time).as_bytes()).ok_or_else(|| field_error(self.tr, time.name))?;
        Ok(kst_to_utc(d, t))
    }

    fn key(&self, field: Field) -> Result<(UsExchange, Ticker), KisWsError> {
        parse_realtime_key(self.tr, self.raw(field))
    }

    /// Implied-decimals digits (`001480100` with 4 = 148.0100).
    fn implied(&self, field: Field, decimals: u32) -> Result<Decimal, KisWsError> {
        let raw = self.raw(field).trim();
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) || raw.len() > 28 {
            return Err(field_error(self.tr, field.name));
        }
        let units: i128 = raw.parse().map_err(|_| field_error(self.tr, field.name))?;
        Decimal::try_from_i128_with_scale(units, decimals).map_err(|_| field_error(self.tr, field.name))
    }
}

/// Decodes the trade records of an HDFSCNT0 frame (26 fields; fields appended after them, a
/// layout drift, are left unread).
///
/// # Errors
/// [`KisWsError::RecordSplit`] / [`KisWsError::Truncated`] for a payload that does not split into
/// records of at least 26 fields, [`KisWsError::Field`] naming the first field that does not
/// parse.
pub fn decode_us_trades(frame: &DataFrame<'_>) -> Result<Vec<UsTrade>, KisWsError> {
    let (fields, width) = records(frame, us_trade::WIDTH, &[], Wider::Appended)?;
    fields
        .chunks(width)
        .map(|f| {
            let r = Rec { f, tr: frame.tr_id };
            let (exchange, ticker) = r.key(us_trade::RSYM)?;
            let down = matches!(r.raw(us_trade::SIGN), "4" | "5");
            let signed = |v: Decimal| if down { -v.abs() } else { v };
            let local_date = parse_yyyymmdd(r.raw(us_trade::XYMD).as_bytes())
                .ok_or_else(|| field_error(frame.tr_id, us_trade::XYMD.name))?;
            Ok(UsTrade {
                exchange,
                ticker,
                local_date,
                at: r.kst(us_trade::KYMD, us_trade::KHMS)?,
                price: r.dec(us_trade::LAST)?,
                qty: r.dec(us_trade::EVOL)?,
                open: r.dec(us_trade::OPEN)?,
                high: r.dec(us_trade::HIGH)?,
                low: r.dec(us_trade::LOW)?,
                change: signed(r.dec(us_trade::DIFF)?),
                change_rate: signed(r.dec(us_trade::RATE)?),
                best_bid: r.dec(us_trade::PBID)?,
                best_ask: r.dec(us_trade::PASK)?,
                cum_volume: r.dec(us_trade::TVOL)?,
                cum_value: r.dec(us_trade::TAMT)?,
                session: match r.raw(us_trade::MTYP) {
                    "1" => UsTradeSession::Regular,
                    "2" => UsTradeSession::PreMarket,
                    "3" => UsTradeSession::AfterMarket,
                    _ => UsTradeSession::Unknown,
                },
            })
        })
        .collect()
}

/// Decodes the level-1 book records of an HDFSASP0 frame (the 17-field US layout; the
/// unconfirmed 71-field variant is refused as another width).
///
/// # Errors
/// As [`decode_us_trades`].
pub fn decode_us_book(frame: &DataFrame<'_>) -> Result<Vec<UsBookTop>, KisWsError> {
    let (fields, width) = records(frame, us_book::WIDTH, &[], Wider::Refused)?;
    fields
        .chunks(width)
        .map(|f| {
            let r = Rec { f, tr: frame.tr_id };
            let (exchange, ticker) = r.key(us_book::RSYM)?;
            Ok(UsBookTop {
                exchange,
                ticker,
                at: r.kst(us_book::KYMD, us_book::KHMS)?,
                bid: r.dec(us_book::PBID1)?,
                ask: r.dec(us_book::PASK1)?,
                bid_qty: r.dec(us_book::VBID1)?,
                ask_qty: r.dec(us_book::VASK1)?,
            })
        })
        .collect()
}

/// Decodes the decrypted records of an H0GSCNI0 / H0GSCNI9 frame (25 fields, or the older 24
/// and 21; fields appended after the 25 are left unread); notices of accounts other than `account` (the `ACNT_NO` as KIS sends it) are left
/// out.
///
/// # Errors
/// As [`decode_us_trades`].
pub fn decode_us_notices(
    frame: &DataFrame<'_>,
    account: Option<&str>,
) -> Result<Vec<UsExecution>, KisWsError> {
    let (fields, width) = records(frame, us_notice::WIDTH, &us_notice::OLDER_WIDTHS, Wider::Appended)?;
    let mut out = Vec::new();
    for f in fields.chunks(width) {
        let r = Rec { f, tr: frame.tr_id };
        if account.is_some_and(|a| r.raw(us_notice::ACNT_NO) != a) {
            continue;
        }
        let err = |field: Field| field_error(frame.tr_id, field.name);
        let side = match r.raw(us_notice::SELN_BYOV_CLS) {
            "01" => Side::Sell,
            "02" => Side::Buy,
            _ => return Err(err(us_notice::SELN_BYOV_CLS)),
        };
        let broker_order_no = r.raw(us_notice::ODER_NO).trim();
        if broker_order_no.is_empty() {
            return Err(err(us_notice::ODER_NO));
        }
        let original = r.raw(us_notice::OODER_NO).trim();
        let kind = match (r.raw(us_notice::CNTG_YN), r.raw(us_notice::RFUS_YN), r.raw(us_notice::RCTF_CLS)) {
            ("2", _, _) => UsNoticeKind::Fill,
            ("1", "1", _) => UsNoticeKind::Rejected,
            // The modify-class codes are unconfirmed for overseas; the domestic ones are used
            // (0 new, 1 modify, 2 cancel), and an unknown one reads as a receipt.
            ("1", _, "1") => UsNoticeKind::ModifyAccepted,
            ("1", _, "2") => UsNoticeKind::CancelAccepted,
            ("1", _, _) => UsNoticeKind::Accepted,
            _ => return Err(err(us_notice::CNTG_YN)),
        };
        let order_qty = match r.raw(us_notice::ODER_QTY).trim() {
            "" => Decimal::ZERO,
            _ => r.dec(us_notice::ODER_QTY)?,
        };
        out.push(UsExecution {
            kind,
            broker_order_no: broker_order_no.to_owned(),
            original_order_no: (!original.is_empty() && original.bytes().any(|b| b != b'0'))
                .then(|| original.to_owned()),
            ticker: Ticker::new(r.raw(us_notice::STCK_SHRN_ISCD))
                .map_err(|_| err(us_notice::STCK_SHRN_ISCD))?,
            side,
            qty: r.dec(us_notice::CNTG_QTY)?,
            price: r.implied(us_notice::CNTG_UNPR, US_NOTICE_PRICE_DECIMALS)?,
            order_qty,
            time: r.raw(us_notice::STCK_CNTG_HOUR).trim().to_owned(),
            branch: r.raw(us_notice::BRNC_NO).trim().to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;

    fn frame<'a>(tr: &'a str, count: usize, payload: &'a str) -> DataFrame<'a> {
        DataFrame { encrypted: false, tr_id: tr, count, payload }
    }

    fn trade_record(key: &str, last: &str, sign: &str) -> String {
        // 0 RSYM 1 SYMB 2 ZDIV 3 TYMD 4 XYMD 5 XHMS 6 KYMD 7 KHMS 8 OPEN 9 HIGH 10 LOW 11 LAST 12 SIGN
        // 13 DIFF 14 RATE 15 PBID 16 PASK 17 VBID 18 VASK 19 EVOL 20 TVOL 21 TAMT 22 BIVL 23 ASVL
        // 24 STRN 25 MTYP
        let ticker = &key[4..];
        [
            key, ticker, "4", "20260715", "20260715", "093001", "20260715", "223001", "190.0000", "191.2500",
            "189.5000", last, sign, "1.2500", "0.66", "190.4900", "190.5100", "300", "200", "10", "12345",
            "2351234", "100", "120", "101.50", "1",
        ]
        .join("^")
    }

    #[test]
    fn trades_decode_with_the_kst_stamp_the_local_date_and_a_signed_change() {
        let payload =
            [trade_record("DNASAAPL", "190.5000", "2"), trade_record("RBAYIBM", "150.1000", "5")].join("^");
        let trades = decode_us_trades(&frame("HDFSCNT0", 2, &payload)).unwrap();
        assert_eq!(trades.len(), 2);
        let t = &trades[0];
        assert_eq!(
            (t.exchange, t.ticker.as_str(), t.price, t.qty),
            (UsExchange::Nasdaq, "AAPL", dec!(190.5), dec!(10))
        );
        assert_eq!(t.at, kst_to_utc(t.local_date, chrono::NaiveTime::from_hms_opt(22, 30, 1).unwrap()));
        assert_eq!((t.change, t.session), (dec!(1.25), UsTradeSession::Regular));
        assert_eq!((trades[1].exchange, trades[1].change), (UsExchange::Nyse, dec!(-1.25)));
    }

    #[test]
    fn book_and_notices_decode() {
        let book =
            "DNASAAPL^AAPL^4^20260715^093001^20260715^223001^1000^900^5^-3^190.4900^190.5100^300^200^1^2";
        let b = &decode_us_book(&frame("HDFSASP0", 1, book)).unwrap()[0];
        assert_eq!((b.bid, b.ask, b.bid_qty, b.ask_qty), (dec!(190.49), dec!(190.51), dec!(300), dec!(200)));
        // 25 fields: a fill of 3 AAPL at 148.0100 on order 0030012345 of account 5012345601.
        let fill = "trader01^5012345601^0030012345^0000000000^02^0^2^AAPL^3^001480100^093001^0^2^2^01790^10^KIM^APPLE^1^10^^^^^";
        let n = decode_us_notices(&frame("H0GSCNI9", 1, fill), Some("5012345601")).unwrap();
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n[0].kind, n[0].price, n[0].qty, n[0].order_qty),
            (UsNoticeKind::Fill, dec!(148.01), dec!(3), dec!(10))
        );
        assert_eq!(n[0].original_order_no, None);
        assert!(decode_us_notices(&frame("H0GSCNI9", 1, fill), Some("5099999901")).unwrap().is_empty());
        // The oldest 21-field layout: a receipt, ODER_QTY blank.
        let receipt =
            "trader01^5012345601^0030012346^^01^0^2^AAPL^5^001900000^093002^0^1^1^01790^^KIM^APPLE^1^10^";
        let n = decode_us_notices(&frame("H0GSCNI0", 1, receipt), None).unwrap();
        assert_eq!(
            (n[0].kind, n[0].side, n[0].price, n[0].order_qty),
            (UsNoticeKind::Accepted, Side::Sell, dec!(190), Decimal::ZERO)
        );
    }

    #[test]
    fn malformed_records_name_their_field() {
        let bad = trade_record("DNASAAPL", "19O.5", "2");
        assert!(matches!(
            decode_us_trades(&frame("HDFSCNT0", 1, &bad)),
            Err(KisWsError::Field { field: "LAST", .. })
        ));
        let bad = trade_record("XNASAAPL", "190.5", "2");
        assert!(matches!(
            decode_us_trades(&frame("HDFSCNT0", 1, &bad)),
            Err(KisWsError::Field { field: "RSYM", .. })
        ));
        let short = "DNASAAPL^AAPL^4";
        assert!(matches!(decode_us_trades(&frame("HDFSCNT0", 1, short)), Err(KisWsError::Truncated { .. })));
        let two = trade_record("DNASAAPL", "190.5", "2");
        assert!(matches!(decode_us_trades(&frame("HDFSCNT0", 3, &two)), Err(KisWsError::RecordSplit { .. })));
        assert!(matches!(decode_us_trades(&frame("HDFSCNT0", 0, &two)), Err(KisWsError::RecordSplit { .. })));
    }

    #[test]
    fn appended_fields_are_a_drift_but_another_book_layout_is_refused() {
        let wider = format!("{}^X^Y", trade_record("DNASAAPL", "190.5000", "2"));
        assert_eq!(record_width(&wider, 1), 28);
        assert_eq!(decode_us_trades(&frame("HDFSCNT0", 1, &wider)).unwrap()[0].price, dec!(190.5));
        let fill = "trader01^5012345601^0030012345^^02^0^2^AAPL^3^001480100^093001^0^2^2^01790^10^KIM^APPLE^1^10^^^^^^NEW";
        let n = decode_us_notices(&frame("H0GSCNI0", 1, fill), None).unwrap();
        assert_eq!((n[0].qty, n[0].branch.as_str()), (dec!(3), "01790"));
        let book71 = vec!["1"; 71].join("^");
        assert!(matches!(
            decode_us_book(&frame("HDFSASP0", 1, &book71)),
            Err(KisWsError::Truncated { expected: 17, observed: 71, .. })
        ));
        assert_eq!(record_width("a^b^c^d", 2), 2);
        assert_eq!(record_width("a", 0), 0);
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(
            text in "\\PC{0,400}",
            fields in prop::collection::vec("[A-Z0-9.+-]{0,12}", 0..80),
            count in 0usize..4,
        ) {
            for payload in [text, fields.join("^")] {
                let _ = decode_us_trades(&frame("HDFSCNT0", count, &payload));
                let _ = decode_us_book(&frame("HDFSASP0", count, &payload));
                let _ = decode_us_notices(&frame("H0GSCNI0", count, &payload), Some("5012345601"));
            }
        }

        #[test]
        fn any_well_formed_trade_round_trips(
            ticker in "[A-Z]{1,5}",
            units in 1u64..10_000_000_000,
            qty in 1u32..1_000_000,
        ) {
            let price = Decimal::new(i64::try_from(units).unwrap(), 4);
            let record = trade_record(&format!("DNYS{ticker}"), &price.to_string(), "2")
                .replace("^10^12345^", &format!("^{qty}^12345^"));
            let t = &decode_us_trades(&frame("HDFSCNT0", 1, &record)).unwrap()[0];
            prop_assert_eq!(t.price, price);
            prop_assert_eq!(t.qty, Decimal::from(qty));
            prop_assert_eq!(t.ticker.as_str(), ticker.as_str());
        }
    }
}
