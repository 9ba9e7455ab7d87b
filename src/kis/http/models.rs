//! Wire models of the KIS REST endpoints (KIS field names, all values strings) and their
//! conversion into domain types. Keys are lower-cased before decoding, so order responses with
//! UPPERCASE keys and the documented spelling variants decode alike.

use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::error::KisHttpError;
use crate::domain::market::{
    AccountHolding, AccountSnapshot, BOOK_DEPTH, BookLevel, BrokerOrder, DailyBar, Holiday, OrderAck,
    OrderBook, Quote, kst_to_utc,
};
use crate::domain::{OrderType, Side, Symbol};
use crate::kis::ws::codec::{parse_decimal, parse_hhmmss, parse_yyyymmdd};

/// Returns `value` with every object key lower-cased (recursively).
pub fn lowercase_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), lowercase_keys(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(lowercase_keys).collect()),
        other => other,
    }
}

/// Decodes a lower-cased body into a model.
///
/// # Errors
/// Returns [`KisHttpError::Decode`] when the shape does not match.
pub fn decode<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, KisHttpError> {
    serde_json::from_value(body).map_err(|e| KisHttpError::Decode(e.to_string()))
}

fn num(field: &'static str, raw: &str) -> Result<Decimal, KisHttpError> {
    parse_decimal(raw.trim().as_bytes())
        .ok_or_else(|| KisHttpError::Decode(format!("{field} is not a number")))
}

fn symbol(raw: &str) -> Result<Symbol, KisHttpError> {
    Symbol::new(raw.trim()).map_err(|e| KisHttpError::Decode(e.to_string()))
}

fn side(code: &str) -> Result<Side, KisHttpError> {
    match code.trim() {
        "01" => Ok(Side::Sell),
        "02" => Ok(Side::Buy),
        other => Err(KisHttpError::Decode(format!("unknown sll_buy_dvsn_cd {other:?}"))),
    }
}

fn date(field: &'static str, raw: &str) -> Result<NaiveDate, KisHttpError> {
    parse_yyyymmdd(raw.trim().as_bytes())
        .ok_or_else(|| KisHttpError::Decode(format!("{field} is not YYYYMMDD")))
}

fn time_or_midnight(raw: &str) -> NaiveTime {
    parse_hhmmss(raw.trim().as_bytes()).unwrap_or_default()
}

/// `POST /oauth2/tokenP` success body.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// Bearer token.
    pub access_token: String,
    /// Expiry (`YYYY-MM-DD HH:MM:SS`, KST).
    #[serde(default)]
    pub access_token_token_expired: String,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// `POST /oauth2/Approval` success body.
#[derive(Debug, Clone, Deserialize)]
pub struct ApprovalResponse {
    /// WebSocket approval key.
    pub approval_key: String,
}

/// `POST /uapi/hashkey` body.
#[derive(Debug, Clone, Deserialize)]
pub struct HashkeyResponse {
    /// Hash to send as the `hashkey` header.
    pub hash: String,
}

/// `output` of order-cash and order-rvsecncl.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderOutput {
    /// Branch (`KRX_FWDG_ORD_ORGNO`).
    pub krx_fwdg_ord_orgno: String,
    /// Order number.
    pub odno: String,
    /// Order time `HHMMSS`.
    pub ord_tmd: String,
}

impl OrderOutput {
    /// Converts into an acknowledgement dated `today` (KST).
    ///
    /// # Errors
    /// Returns [`KisHttpError::Decode`] when the order number is missing.
    pub fn to_ack(&self, today: NaiveDate) -> Result<OrderAck, KisHttpError> {
        if self.odno.trim().is_empty() {
            return Err(KisHttpError::Decode("order response without ODNO".into()));
        }
        Ok(OrderAck {
            broker_order_no: self.odno.trim().to_owned(),
            branch: self.krx_fwdg_ord_orgno.trim().to_owned(),
            at: kst_to_utc(today, time_or_midnight(&self.ord_tmd)),
        })
    }
}

/// Body of an envelope with a single `output`.
#[derive(Debug, Clone, Deserialize)]
pub struct Single<T> {
    /// Payload.
    pub output: T,
}

/// One row of inquire-daily-ccld `output1`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DailyCcldRow {
    pub ord_dt: String,
    pub ord_gno_brno: String,
    pub odno: String,
    pub orgn_odno: String,
    pub sll_buy_dvsn_cd: String,
    pub pdno: String,
    pub ord_qty: String,
    pub ord_unpr: String,
    pub ord_tmd: String,
    pub tot_ccld_qty: String,
    pub avg_prvs: String,
    pub cncl_yn: String,
    pub tot_ccld_amt: String,
    pub ord_dvsn_cd: String,
    pub rmn_qty: String,
    pub rjct_qty: String,
}

/// Body of inquire-daily-ccld.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DailyCcldBody {
    pub output1: Vec<DailyCcldRow>,
    pub ctx_area_fk100: String,
    pub ctx_area_nk100: String,
}

impl DailyCcldRow {
    /// Converts into a domain order snapshot.
    ///
    /// # Errors
    /// Returns [`KisHttpError::Decode`] for malformed fields.
    pub fn to_order(&self) -> Result<BrokerOrder, KisHttpError> {
        let original = self.orgn_odno.trim();
        let filled_qty = num("tot_ccld_qty", &self.tot_ccld_qty)?;
        Ok(BrokerOrder {
            broker_order_no: self.odno.trim().to_owned(),
            branch: self.ord_gno_brno.trim().to_owned(),
            original_order_no: (!original.is_empty() && original.bytes().any(|b| b != b'0'))
                .then(|| original.to_owned()),
            symbol: symbol(&self.pdno)?,
            side: side(&self.sll_buy_dvsn_cd)?,
            order_type: order_type(&self.ord_dvsn_cd),
            qty: num("ord_qty", &self.ord_qty)?,
            price: num("ord_unpr", &self.ord_unpr)?,
            filled_qty,
            avg_fill_price: num("avg_prvs", &self.avg_prvs)?,
            filled_amount: num("tot_ccld_amt", &self.tot_ccld_amt)?,
            remaining_qty: num("rmn_qty", &self.rmn_qty)?,
            canceled: self.cncl_yn.trim() == "Y",
            rejected: num("rjct_qty", &self.rjct_qty)? > Decimal::ZERO,
            ordered_at: kst_to_utc(date("ord_dt", &self.ord_dt)?, time_or_midnight(&self.ord_tmd)),
        })
    }
}

/// Maps an `ORD_DVSN` code to the order types the service sends.
pub fn order_type(code: &str) -> Option<OrderType> {
    match code.trim() {
        "00" => Some(OrderType::Limit),
        "01" => Some(OrderType::Market),
        "11" => Some(OrderType::IocLimit),
        "12" => Some(OrderType::FokLimit),
        _ => None,
    }
}

/// Returns the `ORD_DVSN` code of an order type.
pub const fn ord_dvsn(order_type: OrderType) -> &'static str {
    match order_type {
        OrderType::Limit => "00",
        OrderType::Market => "01",
        OrderType::IocLimit => "11",
        OrderType::FokLimit => "12",
    }
}

/// One position of inquire-balance `output1`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BalanceRow {
    pub pdno: String,
    pub prdt_name: String,
    pub hldg_qty: String,
    pub ord_psbl_qty: String,
    pub pchs_avg_pric: String,
    pub pchs_amt: String,
    pub prpr: String,
    pub evlu_amt: String,
    pub evlu_pfls_amt: String,
}

/// Totals of inquire-balance `output2`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BalanceTotals {
    pub dnca_tot_amt: String,
    pub prvs_rcdl_excc_amt: String,
    pub tot_evlu_amt: String,
    pub nass_amt: String,
    pub pchs_amt_smtl_amt: String,
    pub evlu_amt_smtl_amt: String,
    pub evlu_pfls_smtl_amt: String,
}

/// Body of inquire-balance (`output2` is an array with one element; an object is accepted too).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BalanceBody {
    pub output1: Vec<BalanceRow>,
    pub output2: Value,
    pub ctx_area_fk100: String,
    pub ctx_area_nk100: String,
}

impl BalanceBody {
    /// Returns the totals object.
    ///
    /// # Errors
    /// Returns [`KisHttpError::Decode`] when `output2` is missing or malformed.
    pub fn totals(&self) -> Result<BalanceTotals, KisHttpError> {
        let v = match &self.output2 {
            Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        if v.is_null() {
            return Err(KisHttpError::Decode("inquire-balance without output2".into()));
        }
        decode(v)
    }
}

impl BalanceRow {
    /// Converts into a holding.
    ///
    /// # Errors
    /// Returns [`KisHttpError::Decode`] for malformed fields.
    pub fn to_holding(&self) -> Result<AccountHolding, KisHttpError> {
        Ok(AccountHolding {
            symbol: symbol(&self.pdno)?,
            name: self.prdt_name.trim().to_owned(),
            qty: num("hldg_qty", &self.hldg_qty)?,
            sellable_qty: num("ord_psbl_qty", &self.ord_psbl_qty)?,
            avg_price: num("pchs_avg_pric", &self.pchs_avg_pric)?,
            purchase_amount: num("pchs_amt", &self.pchs_amt)?,
            current_price: num("prpr", &self.prpr)?,
            eval_amount: num("evlu_amt", &self.evlu_amt)?,
            unrealized_pnl: num("evlu_pfls_amt", &self.evlu_pfls_amt)?,
        })
    }
}

/// `output` of inquire-psbl-order.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PsblOrderOutput {
    pub ord_psbl_cash: String,
    pub nrcvb_buy_amt: String,
}

/// Builds the account snapshot from buying power, holdings and totals.
///
/// # Errors
/// Returns [`KisHttpError::Decode`] for malformed fields.
pub fn account_snapshot(
    psbl: &PsblOrderOutput,
    rows: &[BalanceRow],
    totals: &BalanceTotals,
) -> Result<AccountSnapshot, KisHttpError> {
    Ok(AccountSnapshot {
        orderable_cash: num("ord_psbl_cash", &psbl.ord_psbl_cash)?,
        cash_d0: num("dnca_tot_amt", &totals.dnca_tot_amt)?,
        cash_d2: num("prvs_rcdl_excc_amt", &totals.prvs_rcdl_excc_amt)?,
        holdings: rows.iter().map(BalanceRow::to_holding).collect::<Result<_, _>>()?,
        purchase_total: num("pchs_amt_smtl_amt", &totals.pchs_amt_smtl_amt)?,
        eval_total: num("evlu_amt_smtl_amt", &totals.evlu_amt_smtl_amt)?,
        unrealized_pnl_total: num("evlu_pfls_smtl_amt", &totals.evlu_pfls_smtl_amt)?,
        account_total: num("tot_evlu_amt", &totals.tot_evlu_amt)?,
        net_asset: num("nass_amt", &totals.nass_amt)?,
    })
}

/// `output` of inquire-price.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PriceOutput {
    pub stck_prpr: String,
    pub prdy_vrss: String,
    pub prdy_ctrt: String,
    pub stck_oprc: String,
    pub stck_hgpr: String,
    pub stck_lwpr: String,
    pub acml_vol: String,
    pub stck_mxpr: String,
    pub stck_llam: String,
    pub stck_sdpr: String,
    pub aspr_unit: String,
    pub temp_stop_yn: String,
    pub iscd_stat_cls_code: String,
}

impl PriceOutput {
    /// Converts into a quote.
    ///
    /// # Errors
    /// Returns [`KisHttpError::Decode`] for malformed fields.
    pub fn to_quote(&self, symbol: Symbol) -> Result<Quote, KisHttpError> {
        Ok(Quote {
            symbol,
            exchange: crate::domain::Exchange::Krx,
            price: num("stck_prpr", &self.stck_prpr)?,
            change: num("prdy_vrss", &self.prdy_vrss)?,
            change_rate: num("prdy_ctrt", &self.prdy_ctrt)?,
            open: num("stck_oprc", &self.stck_oprc)?,
            high: num("stck_hgpr", &self.stck_hgpr)?,
            low: num("stck_lwpr", &self.stck_lwpr)?,
            volume: num("acml_vol", &self.acml_vol)?,
            upper_limit: num("stck_mxpr", &self.stck_mxpr)?,
            lower_limit: num("stck_llam", &self.stck_llam)?,
            base_price: num("stck_sdpr", &self.stck_sdpr)?,
            tick_size: num("aspr_unit", &self.aspr_unit)?,
            halted: self.temp_stop_yn.trim() == "Y" || self.iscd_stat_cls_code.trim() == "58",
        })
    }
}

/// Body of inquire-asking-price-exp-ccn (`output1` has 71 keys; read by name).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AskingPriceBody {
    pub output1: serde_json::Map<String, Value>,
    pub output2: serde_json::Map<String, Value>,
}

impl AskingPriceBody {
    fn field(map: &serde_json::Map<String, Value>, key: &str) -> Result<Decimal, KisHttpError> {
        let raw = map.get(key).and_then(Value::as_str).unwrap_or("");
        parse_decimal(raw.trim().as_bytes())
            .ok_or_else(|| KisHttpError::Decode(format!("{key} is not a number")))
    }

    /// Converts into an order book snapshot dated `today` (KST).
    ///
    /// # Errors
    /// Returns [`KisHttpError::Decode`] for malformed fields.
    pub fn to_book(&self, symbol: Symbol, today: NaiveDate) -> Result<OrderBook, KisHttpError> {
        let o = &self.output1;
        let mut asks = [BookLevel::default(); BOOK_DEPTH];
        let mut bids = [BookLevel::default(); BOOK_DEPTH];
        for (i, (ask, bid)) in asks.iter_mut().zip(bids.iter_mut()).enumerate() {
            let n = i + 1;
            ask.price = Self::field(o, &format!("askp{n}"))?;
            bid.price = Self::field(o, &format!("bidp{n}"))?;
            ask.qty = Self::field(o, &format!("askp_rsqn{n}"))?;
            bid.qty = Self::field(o, &format!("bidp_rsqn{n}"))?;
        }
        let hour = o.get("aspr_acpt_hour").and_then(Value::as_str).unwrap_or("");
        Ok(OrderBook {
            symbol,
            at: kst_to_utc(today, time_or_midnight(hour)),
            asks,
            bids,
            total_ask_qty: Self::field(o, "total_askp_rsqn")?,
            total_bid_qty: Self::field(o, "total_bidp_rsqn")?,
            expected_price: Self::field(&self.output2, "antc_cnpr")?,
        })
    }
}

/// One row of inquire-daily-itemchartprice `output2` (empty objects are skipped).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ChartRow {
    pub stck_bsop_date: String,
    pub stck_clpr: String,
    pub stck_oprc: String,
    pub stck_hgpr: String,
    pub stck_lwpr: String,
    pub acml_vol: String,
    pub acml_tr_pbmn: String,
}

/// Body of inquire-daily-itemchartprice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ChartBody {
    pub output2: Vec<ChartRow>,
}

impl ChartRow {
    /// Converts into a bar; `None` for the empty rows the API pads with.
    ///
    /// # Errors
    /// Returns [`KisHttpError::Decode`] for malformed fields.
    pub fn to_bar(&self, symbol: &Symbol) -> Result<Option<DailyBar>, KisHttpError> {
        if self.stck_bsop_date.trim().is_empty() {
            return Ok(None);
        }
        Ok(Some(DailyBar {
            symbol: symbol.clone(),
            date: date("stck_bsop_date", &self.stck_bsop_date)?,
            open: num("stck_oprc", &self.stck_oprc)?,
            high: num("stck_hgpr", &self.stck_hgpr)?,
            low: num("stck_lwpr", &self.stck_lwpr)?,
            close: num("stck_clpr", &self.stck_clpr)?,
            volume: num("acml_vol", &self.acml_vol)?,
            value: num("acml_tr_pbmn", &self.acml_tr_pbmn)?,
        }))
    }
}

/// One row of chk-holiday.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HolidayRow {
    pub bass_dt: String,
    pub bzdy_yn: String,
    pub tr_day_yn: String,
    pub opnd_yn: String,
    pub sttl_day_yn: String,
}

/// Body of chk-holiday.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HolidayBody {
    pub output: Vec<HolidayRow>,
}

impl HolidayRow {
    /// Converts into a market-day status.
    ///
    /// # Errors
    /// Returns [`KisHttpError::Decode`] for a malformed date.
    pub fn to_holiday(&self) -> Result<Holiday, KisHttpError> {
        let yes = |s: &str| s.trim() == "Y";
        Ok(Holiday {
            date: date("bass_dt", &self.bass_dt)?,
            business_day: yes(&self.bzdy_yn),
            trading_day: yes(&self.tr_day_yn),
            market_open: yes(&self.opnd_yn),
            settlement_day: yes(&self.sttl_day_yn),
        })
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use serde_json::json;

    use super::*;

    #[test]
    fn order_output_keys_are_case_insensitive() {
        let body = lowercase_keys(
            json!({"output": {"KRX_FWDG_ORD_ORGNO": "06010", "ODNO": "0001569157", "ORD_TMD": "155211"}}),
        );
        let out: Single<OrderOutput> = decode(body).unwrap();
        let ack = out.output.to_ack(NaiveDate::from_ymd_opt(2026, 3, 3).unwrap()).unwrap();
        assert_eq!((ack.broker_order_no.as_str(), ack.branch.as_str()), ("0001569157", "06010"));
        assert_eq!(ack.at.to_rfc3339(), "2026-03-03T06:52:11+00:00");
    }

    #[test]
    fn daily_ccld_rows_convert_with_string_numbers() {
        let row: DailyCcldRow = decode(lowercase_keys(json!({
            "ord_dt": "20260303", "ord_gno_brno": "06010", "odno": "0000002891", "orgn_odno": "",
            "sll_buy_dvsn_cd": "02", "pdno": "005930", "ord_qty": "10", "ord_unpr": "70000",
            "ord_tmd": "090001", "tot_ccld_qty": "4", "avg_prvs": "69950.5", "cncl_yn": "N",
            "tot_ccld_amt": "279802", "ord_dvsn_cd": "00", "rmn_qty": "6", "rjct_qty": "0",
            "excg_id_dvsn_Cd": "KRX"
        })))
        .unwrap();
        let o = row.to_order().unwrap();
        assert_eq!(
            (o.side, o.filled_qty, o.avg_fill_price, o.remaining_qty),
            (Side::Buy, dec!(4), dec!(69950.5), dec!(6))
        );
        assert_eq!((o.original_order_no, o.order_type, o.rejected), (None, Some(OrderType::Limit), false));
        let bad = DailyCcldRow { sll_buy_dvsn_cd: "9".into(), ..row };
        assert!(bad.to_order().is_err());
    }

    #[test]
    fn balance_totals_accept_array_or_object() {
        let t = json!({"dnca_tot_amt": "1000", "nass_amt": "5"});
        for output2 in [json!([t.clone()]), t] {
            let body: BalanceBody = decode(json!({"output1": [], "output2": output2})).unwrap();
            assert_eq!(body.totals().unwrap().dnca_tot_amt, "1000");
        }
        let empty: BalanceBody = decode(json!({"output1": [], "output2": []})).unwrap();
        assert!(empty.totals().is_err());
    }
}
