//! The overseas (US) endpoints of the typed REST client (`../shared/kis-api/overseas.md` §3):
//! price, order, modify/cancel, unfilled orders, order history, balance, present balance and
//! buying power. They go through the same token manager, rate limiter, circuit breakers and
//! retry rules as the domestic ones (an order is never resent after an ambiguous failure), and
//! page with the 200-character context keys.

use std::str::FromStr;

use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, KisHttpError, KisRest, wire_qty};
use crate::domain::overseas::{
    Ticker, UsAccount, UsAmendRequest, UsBook, UsBookTop, UsBrokerOrder, UsBuyingPower, UsExchange,
    UsHolding, UsOrderAck, UsOrderRequest, UsOrderType, UsQuote,
};
use crate::domain::{Mode, Side};
use crate::kis::breaker::EndpointGroup;
use crate::ports::BrokerError;

const ORDER_PATH: &str = "/uapi/overseas-stock/v1/trading/order";
const RVSECNCL_PATH: &str = "/uapi/overseas-stock/v1/trading/order-rvsecncl";
const NCCS_PATH: &str = "/uapi/overseas-stock/v1/trading/inquire-nccs";
const CCNL_PATH: &str = "/uapi/overseas-stock/v1/trading/inquire-ccnl";
const BALANCE_PATH: &str = "/uapi/overseas-stock/v1/trading/inquire-balance";
const PRESENT_BALANCE_PATH: &str = "/uapi/overseas-stock/v1/trading/inquire-present-balance";
const PSAMOUNT_PATH: &str = "/uapi/overseas-stock/v1/trading/inquire-psamount";
const PRICE_PATH: &str = "/uapi/overseas-price/v1/quotations/price";
const ASKING_PRICE_PATH: &str = "/uapi/overseas-price/v1/quotations/inquire-asking-price";

/// The documented paper TR id of a US sell (`overseas.md` §1.3: UNCONFIRMED against the
/// sample code's `VTTT1006U`; `KisConfig::us_paper_sell_tr_id` changes it).
pub const DEFAULT_US_PAPER_SELL_TR: &str = "VTTT1001U";

/// The overseas endpoints that need a TR id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsTr {
    /// US buy.
    Buy,
    /// US sell.
    Sell,
    /// Modify / cancel.
    Amend,
    /// Unfilled orders.
    Nccs,
    /// Orders and fills.
    Ccnl,
    /// Balance.
    Balance,
    /// Present balance.
    PresentBalance,
    /// Buying power.
    Psamount,
    /// Current price.
    Price,
    /// Order book (asking price).
    AskingPrice,
}

impl UsTr {
    /// The live TR id.
    pub const fn live(self) -> &'static str {
        match self {
            Self::Buy => "TTTT1002U",
            Self::Sell => "TTTT1006U",
            Self::Amend => "TTTT1004U",
            Self::Nccs => "TTTS3018R",
            Self::Ccnl => "TTTS3035R",
            Self::Balance => "TTTS3012R",
            Self::PresentBalance => "CTRP6504R",
            Self::Psamount => "TTTS3007R",
            Self::Price => "HHDFS00000300",
            Self::AskingPrice => "HHDFS76200100",
        }
    }

    /// The TR id for `mode`: paper ids replace the leading letter with `V`, except the US sell
    /// (`paper_sell`, documented `VTTT1001U`) and quotations (`HHDFS…`, the same on both hosts;
    /// whether the paper host serves the asking price at all is unconfirmed).
    pub fn id(self, mode: Mode, paper_sell: &str) -> String {
        let live = self.live();
        match (mode, self) {
            (Mode::Live, _) | (Mode::Paper, Self::Price | Self::AskingPrice) => live.to_owned(),
            (Mode::Paper, Self::Sell) => paper_sell.to_owned(),
            (Mode::Paper, _) => format!("V{}", live.get(1..).unwrap_or_default()),
        }
    }
}

fn invalid(message: impl Into<String>) -> BrokerError {
    BrokerError::Invalid { message: message.into() }
}

/// A USD price as the order body wants it: positive, at most 8 decimals (format 23.8), at least
/// two (`"145.00"`, as the vendor's samples send).
fn wire_usd(price: Decimal) -> Result<String, BrokerError> {
    if price <= Decimal::ZERO || price.normalize().scale() > 8 {
        return Err(invalid(format!("USD price {price} is not positive with at most 8 decimals")));
    }
    let mut p = price.normalize();
    if p.scale() < 2 {
        p.rescale(2);
    }
    Ok(p.to_string())
}

fn decode_err(field: &'static str, raw: &str) -> KisHttpError {
    KisHttpError::Decode(format!("{field} is not a number: {raw:?}"))
}

/// A decimal field; an empty one is zero (KIS leaves unused amounts blank).
fn dec(field: &'static str, raw: &str) -> Result<Decimal, KisHttpError> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(Decimal::ZERO);
    }
    Decimal::from_str(t).map_err(|_| decode_err(field, raw))
}

fn ticker(raw: &str) -> Result<Ticker, KisHttpError> {
    Ticker::new(raw).map_err(|e| KisHttpError::Decode(e.to_string()))
}

fn exchange(raw: &str) -> Result<UsExchange, KisHttpError> {
    UsExchange::parse(raw).map_err(|e| KisHttpError::Decode(e.to_string()))
}

fn side(raw: &str) -> Result<Side, KisHttpError> {
    match raw.trim() {
        "01" => Ok(Side::Sell),
        "02" => Ok(Side::Buy),
        other => Err(KisHttpError::Decode(format!("unknown sll_buy_dvsn_cd {other:?}"))),
    }
}

/// Reads `key` of `body` as rows: an array, or one object (`output2` of the balance is documented
/// both ways), or nothing.
fn rows<T: serde::de::DeserializeOwned>(body: &Value, key: &str) -> Result<Vec<T>, KisHttpError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|v| super::models::decode(v.clone())).collect(),
        Some(v @ Value::Object(_)) => Ok(vec![super::models::decode(v.clone())?]),
        Some(other) => Err(KisHttpError::Decode(format!("{key} is neither an array nor an object: {other}"))),
    }
}

/// `output` of the overseas order and modify/cancel.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct OrderOutput {
    krx_fwdg_ord_orgno: String,
    odno: String,
    ord_tmd: String,
}

/// `output1` of inquire-asking-price (the totals).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct AskingSummary {
    bvol: String,
    avol: String,
}

/// `output2` of inquire-asking-price: level 1 (more levels are unconfirmed).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct AskingLevel1 {
    pbid1: String,
    pask1: String,
    vbid1: String,
    vask1: String,
}

/// `output` of price.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct PriceOutput {
    rsym: String,
    zdiv: String,
    base: String,
    last: String,
    sign: String,
    diff: String,
    rate: String,
    tvol: String,
}

/// One row of inquire-nccs or inquire-ccnl.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct OrderRow {
    ord_dt: String,
    odno: String,
    orgn_odno: String,
    pdno: String,
    sll_buy_dvsn_cd: String,
    ft_ord_qty: String,
    ft_ccld_qty: String,
    nccs_qty: String,
    ft_ord_unpr3: String,
    ft_ccld_unpr3: String,
    ovrs_excg_cd: String,
    prcs_stat_name: String,
    rjct_rson: String,
    dmst_ord_dt: String,
    thco_ord_tmd: String,
}

impl OrderRow {
    fn to_order(&self) -> Result<UsBrokerOrder, KisHttpError> {
        let order_date = NaiveDate::parse_from_str(self.ord_dt.trim(), "%Y%m%d")
            .map_err(|_| KisHttpError::Decode(format!("ord_dt is not YYYYMMDD: {:?}", self.ord_dt)))?;
        let qty = dec("ft_ord_qty", &self.ft_ord_qty)?;
        let filled_qty = dec("ft_ccld_qty", &self.ft_ccld_qty)?;
        // inquire-ccnl documents nccs_qty too; when blank, what is not filled is open.
        let unfilled_qty = match self.nccs_qty.trim() {
            "" => (qty - filled_qty).max(Decimal::ZERO),
            raw => dec("nccs_qty", raw)?,
        };
        let status =
            if self.rjct_rson.trim().is_empty() { self.prcs_stat_name.trim() } else { self.rjct_rson.trim() };
        Ok(UsBrokerOrder {
            order_date,
            broker_order_no: self.odno.trim().to_owned(),
            original_order_no: self.orgn_odno.trim().to_owned(),
            ticker: ticker(&self.pdno)?,
            side: side(&self.sll_buy_dvsn_cd)?,
            qty,
            filled_qty,
            unfilled_qty,
            price: dec("ft_ord_unpr3", &self.ft_ord_unpr3)?,
            avg_fill_price: dec("ft_ccld_unpr3", &self.ft_ccld_unpr3)?,
            exchange: exchange(&self.ovrs_excg_cd)?,
            status: status.to_owned(),
            rejected: !self.rjct_rson.trim().is_empty() || self.prcs_stat_name.trim() == "거부",
            // When KIS received it, in Korea (`dmst_ord_dt`, `thco_ord_tmd`): absent on a row
            // that leaves them blank.
            received_at: NaiveDate::parse_from_str(self.dmst_ord_dt.trim(), "%Y%m%d")
                .ok()
                .zip(NaiveTime::parse_from_str(self.thco_ord_tmd.trim(), "%H%M%S").ok())
                .map(|(d, t)| crate::domain::market::kst_to_utc(d, t)),
        })
    }
}

/// One row of inquire-balance `output1`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct HoldingRow {
    ovrs_pdno: String,
    ovrs_excg_cd: String,
    ovrs_cblc_qty: String,
    ord_psbl_qty: String,
    pchs_avg_pric: String,
    now_pric2: String,
    frcr_evlu_pfls_amt: String,
}

impl HoldingRow {
    fn to_holding(&self) -> Result<UsHolding, KisHttpError> {
        Ok(UsHolding {
            ticker: ticker(&self.ovrs_pdno)?,
            exchange: exchange(&self.ovrs_excg_cd)?,
            qty: dec("ovrs_cblc_qty", &self.ovrs_cblc_qty)?,
            sellable_qty: dec("ord_psbl_qty", &self.ord_psbl_qty)?,
            avg_price: dec("pchs_avg_pric", &self.pchs_avg_pric)?,
            price: dec("now_pric2", &self.now_pric2)?,
            unrealized_pnl: dec("frcr_evlu_pfls_amt", &self.frcr_evlu_pfls_amt)?,
        })
    }
}

/// One row of inquire-present-balance `output2` (per currency).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct CurrencyRow {
    crcy_cd: String,
    frcr_dncl_amt_2: String,
    frcr_drwg_psbl_amt_1: String,
}

/// inquire-present-balance `output3`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct PresentSummary {
    tot_asst_amt: String,
}

/// `output` of inquire-psamount.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct PsamountOutput {
    ord_psbl_frcr_amt: String,
    ord_psbl_qty: String,
    max_ord_psbl_qty: String,
    exrt: String,
}

impl KisRest {
    fn us_tr(&self, tr: UsTr) -> String {
        tr.id(self.mode, &self.us_paper_sell_tr)
    }

    /// Current price of a US stock (`price`, HHDFS00000300).
    ///
    /// # Errors
    /// Any [`BrokerError`]; [`BrokerError::Invalid`] for a reply that does not decode.
    pub async fn us_quote(&self, exchange: UsExchange, ticker: &Ticker) -> Result<UsQuote, BrokerError> {
        let query = vec![
            ("AUTH", String::new()),
            ("EXCD", exchange.quote_code().to_owned()),
            ("SYMB", ticker.as_str().to_owned()),
        ];
        let reply =
            self.get_tr(EndpointGroup::Quotes, PRICE_PATH, self.us_tr(UsTr::Price), "", query).await?;
        let out: PriceOutput = super::models::decode::<super::Single<PriceOutput>>(reply.body)
            .map_err(KisHttpError::into_broker)?
            .output;
        let quote = || -> Result<UsQuote, KisHttpError> {
            // `sign` 4/5 (down) with an unsigned `diff` (whether DIFF carries a minus sign is
            // unconfirmed): the sign code decides.
            let signed = |v: Decimal| if matches!(out.sign.trim(), "4" | "5") { -v.abs() } else { v };
            Ok(UsQuote {
                realtime_key: out.rsym.trim().to_owned(),
                decimals: out.zdiv.trim().parse().map_err(|_| decode_err("zdiv", &out.zdiv))?,
                base: dec("base", &out.base)?,
                last: dec("last", &out.last)?,
                diff: signed(dec("diff", &out.diff)?),
                rate: signed(dec("rate", &out.rate)?),
                volume: dec("tvol", &out.tvol)?,
            })
        };
        quote().map_err(KisHttpError::into_broker)
    }

    /// The best bid and ask of a US stock with the book's totals (`inquire-asking-price`,
    /// HHDFS76200100; the free feed is the Nasdaq market center's book, level 1 only). The book's
    /// own time (`dymd`, `dhms`) has an unconfirmed time zone: the answer is stamped with the
    /// client's clock.
    ///
    /// # Errors
    /// Any [`BrokerError`]; [`BrokerError::Invalid`] for a reply that does not decode.
    pub async fn us_asking_price(
        &self,
        exchange: UsExchange,
        ticker: &Ticker,
    ) -> Result<UsBook, BrokerError> {
        let query = vec![
            ("AUTH", String::new()),
            ("EXCD", exchange.quote_code().to_owned()),
            ("SYMB", ticker.as_str().to_owned()),
        ];
        let tr = self.us_tr(UsTr::AskingPrice);
        let reply = self.get_tr(EndpointGroup::Quotes, ASKING_PRICE_PATH, tr, "", query).await?;
        let book = || -> Result<UsBook, KisHttpError> {
            let totals =
                rows::<AskingSummary>(&reply.body, "output1")?.into_iter().next().unwrap_or_default();
            let l1 = rows::<AskingLevel1>(&reply.body, "output2")?.into_iter().next().unwrap_or_default();
            let top = UsBookTop {
                exchange,
                ticker: ticker.clone(),
                at: self.clock.now(),
                bid: dec("pbid1", &l1.pbid1)?,
                ask: dec("pask1", &l1.pask1)?,
                bid_qty: dec("vbid1", &l1.vbid1)?,
                ask_qty: dec("vask1", &l1.vask1)?,
            };
            Ok(UsBook {
                top,
                total_bid_qty: dec("bvol", &totals.bvol)?,
                total_ask_qty: dec("avol", &totals.avol)?,
            })
        };
        book().map_err(KisHttpError::into_broker)
    }

    /// Sends a US order (`order`). Market-on-open/close are sell only, and the paper host takes
    /// limit orders only (`overseas.md` §3.3): both are refused here, before anything is sent.
    ///
    /// # Errors
    /// [`BrokerError::Invalid`] for an order KIS would refuse, [`BrokerError::Rejected`],
    /// [`BrokerError::OutcomeUnknown`] (never resent), or others.
    pub async fn us_place_order(&self, order: &UsOrderRequest) -> Result<UsOrderAck, BrokerError> {
        if !order.order_type.allowed_for(order.side) {
            return Err(invalid(format!("{:?} is a sell-only US order type", order.order_type)));
        }
        if self.mode == Mode::Paper && order.order_type != UsOrderType::Limit {
            return Err(invalid("the paper host takes US limit orders only"));
        }
        let price = if order.order_type.has_price() { wire_usd(order.price)? } else { "0".into() };
        let body = json!({
            "CANO": self.account.cano(),
            "ACNT_PRDT_CD": self.account.product_code(),
            "OVRS_EXCG_CD": order.exchange.order_code(),
            "PDNO": order.ticker.as_str(),
            "ORD_QTY": wire_qty(order.qty)?,
            "OVRS_ORD_UNPR": price,
            "CTAC_TLNO": "",
            "MGCO_APTM_ODNO": "",
            "SLL_TYPE": if order.side == Side::Sell { "00" } else { "" },
            "ORD_SVR_DVSN_CD": "0",
            "ORD_DVSN": order.order_type.code(),
        });
        let tr = if order.side == Side::Buy { UsTr::Buy } else { UsTr::Sell };
        let out: OrderOutput = self.send_order(ORDER_PATH, self.us_tr(tr), body).await?;
        ack(&out)
    }

    /// Modifies (new price) or cancels (`new_price: None`) a resting US order (`order-rvsecncl`).
    ///
    /// # Errors
    /// As [`KisRest::us_place_order`].
    pub async fn us_amend_order(&self, amend: &UsAmendRequest) -> Result<UsOrderAck, BrokerError> {
        let (code, price) = match amend.new_price {
            Some(p) => ("01", wire_usd(p)?),
            None => ("02", "0".to_owned()),
        };
        let body = json!({
            "CANO": self.account.cano(),
            "ACNT_PRDT_CD": self.account.product_code(),
            "OVRS_EXCG_CD": amend.exchange.order_code(),
            "PDNO": amend.ticker.as_str(),
            "ORGN_ODNO": amend.broker_order_no,
            "RVSE_CNCL_DVSN_CD": code,
            "ORD_QTY": wire_qty(amend.qty)?,
            "OVRS_ORD_UNPR": price,
            "MGCO_APTM_ODNO": "",
            "ORD_SVR_DVSN_CD": "0",
        });
        let out: OrderOutput = self.send_order(RVSECNCL_PATH, self.us_tr(UsTr::Amend), body).await?;
        ack(&out)
    }

    /// The unfilled US orders, every page (`inquire-nccs`; `NASD` = every US exchange).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn us_open_orders(&self) -> Result<Vec<UsBrokerOrder>, BrokerError> {
        let mut q = self.account_query();
        q.extend([("OVRS_EXCG_CD", "NASD".to_owned()), ("SORT_SQN", "DS".to_owned())]);
        let bodies = self.pages_with(NCCS_PATH, self.us_tr(UsTr::Nccs), q, Context::K200).await?;
        order_rows(&bodies)
    }

    /// The US orders and fills between two exchange-local dates, every page (`inquire-ccnl`;
    /// the paper host takes only the fixed filters of `overseas.md` §3.6).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn us_orders(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<UsBrokerOrder>, BrokerError> {
        let paper = self.mode == Mode::Paper;
        let mut q = self.account_query();
        q.extend([
            ("PDNO", if paper { "" } else { "%" }.to_owned()),
            ("ORD_STRT_DT", from.format("%Y%m%d").to_string()),
            ("ORD_END_DT", to.format("%Y%m%d").to_string()),
            ("SLL_BUY_DVSN", "00".to_owned()),
            ("CCLD_NCCS_DVSN", "00".to_owned()),
            ("OVRS_EXCG_CD", if paper { "" } else { "%" }.to_owned()),
            ("SORT_SQN", "DS".to_owned()),
            ("ORD_DT", String::new()),
            ("ORD_GNO_BRNO", String::new()),
            ("ODNO", String::new()),
        ]);
        let bodies = self.pages_with(CCNL_PATH, self.us_tr(UsTr::Ccnl), q, Context::K200).await?;
        order_rows(&bodies)
    }

    /// The US holdings in USD, every page (`inquire-balance` `output1`). `NASD` names every US
    /// exchange on the live host but Nasdaq only on the paper host (overseas.md §1.1), which is
    /// asked once per exchange.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn us_holdings(&self) -> Result<Vec<UsHolding>, BrokerError> {
        let exchanges: &[&str] = match self.mode {
            Mode::Live => &["NASD"],
            Mode::Paper => &["NASD", "NYSE", "AMEX"],
        };
        let mut out = Vec::new();
        for exchange in exchanges {
            let mut q = self.account_query();
            q.extend([("OVRS_EXCG_CD", (*exchange).to_owned()), ("TR_CRCY_CD", "USD".to_owned())]);
            let bodies = self.pages_with(BALANCE_PATH, self.us_tr(UsTr::Balance), q, Context::K200).await?;
            for body in &bodies {
                for row in rows::<HoldingRow>(body, "output1").map_err(KisHttpError::into_broker)? {
                    out.push(row.to_holding().map_err(KisHttpError::into_broker)?);
                }
            }
        }
        Ok(out)
    }

    /// The USD deposit and the account's total assets (`inquire-present-balance`, in foreign
    /// currency, US markets; on the paper host only `output3` is documented as valid).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn us_account(&self) -> Result<UsAccount, BrokerError> {
        let mut q = self.account_query();
        q.extend([
            ("WCRC_FRCR_DVSN_CD", "02".to_owned()),
            ("NATN_CD", "840".to_owned()),
            ("TR_MKET_CD", "00".to_owned()),
            ("INQR_DVSN_CD", "00".to_owned()),
        ]);
        let tr = self.us_tr(UsTr::PresentBalance);
        let reply = self.get_tr(EndpointGroup::Account, PRESENT_BALANCE_PATH, tr, "", q).await?;
        let account = || -> Result<UsAccount, KisHttpError> {
            let usd =
                rows::<CurrencyRow>(&reply.body, "output2")?.into_iter().find(|r| r.crcy_cd.trim() == "USD");
            let summary =
                rows::<PresentSummary>(&reply.body, "output3")?.into_iter().next().unwrap_or_default();
            Ok(UsAccount {
                usd_deposit: usd.as_ref().map(|r| dec("frcr_dncl_amt_2", &r.frcr_dncl_amt_2)).transpose()?,
                usd_withdrawable: usd
                    .as_ref()
                    .map(|r| dec("frcr_drwg_psbl_amt_1", &r.frcr_drwg_psbl_amt_1))
                    .transpose()?,
                total_assets: dec("tot_asst_amt", &summary.tot_asst_amt)?,
                at: self.clock.now(),
            })
        };
        account().map_err(KisHttpError::into_broker)
    }

    /// What may be bought of `ticker` at `price` (`inquire-psamount`).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn us_buying_power(
        &self,
        exchange: UsExchange,
        ticker: &Ticker,
        price: Decimal,
    ) -> Result<UsBuyingPower, BrokerError> {
        let mut q = self.account_query();
        q.extend([
            ("OVRS_EXCG_CD", exchange.order_code().to_owned()),
            ("OVRS_ORD_UNPR", wire_usd(price)?),
            ("ITEM_CD", ticker.as_str().to_owned()),
        ]);
        let reply =
            self.get_tr(EndpointGroup::Account, PSAMOUNT_PATH, self.us_tr(UsTr::Psamount), "", q).await?;
        let power = || -> Result<UsBuyingPower, KisHttpError> {
            let out = super::models::decode::<super::Single<PsamountOutput>>(reply.body)?.output;
            // A legacy sample reads ord_psbl_qty and notes max_ord_psbl_qty for foreign-currency
            // cases: the larger one that is given.
            let qty =
                dec("ord_psbl_qty", &out.ord_psbl_qty)?.max(dec("max_ord_psbl_qty", &out.max_ord_psbl_qty)?);
            Ok(UsBuyingPower {
                cash: dec("ord_psbl_frcr_amt", &out.ord_psbl_frcr_amt)?,
                qty,
                fx_rate: dec("exrt", &out.exrt)?,
            })
        };
        power().map_err(KisHttpError::into_broker)
    }
}

fn ack(out: &OrderOutput) -> Result<UsOrderAck, BrokerError> {
    if out.odno.trim().is_empty() {
        return Err(KisHttpError::Decode("order response without ODNO".into()).into_order_error());
    }
    Ok(UsOrderAck {
        broker_order_no: out.odno.trim().to_owned(),
        branch: out.krx_fwdg_ord_orgno.trim().to_owned(),
        order_time: out.ord_tmd.trim().to_owned(),
    })
}

fn order_rows(bodies: &[Value]) -> Result<Vec<UsBrokerOrder>, BrokerError> {
    let mut out = Vec::new();
    for body in bodies {
        for row in rows::<OrderRow>(body, "output").map_err(KisHttpError::into_broker)? {
            out.push(row.to_order().map_err(KisHttpError::into_broker)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec as d;

    use super::*;

    #[test]
    fn tr_ids_live_and_paper_with_the_documented_paper_sell() {
        assert_eq!(UsTr::Buy.id(Mode::Live, DEFAULT_US_PAPER_SELL_TR), "TTTT1002U");
        assert_eq!(UsTr::Buy.id(Mode::Paper, DEFAULT_US_PAPER_SELL_TR), "VTTT1002U");
        assert_eq!(UsTr::Sell.id(Mode::Live, DEFAULT_US_PAPER_SELL_TR), "TTTT1006U");
        assert_eq!(UsTr::Sell.id(Mode::Paper, DEFAULT_US_PAPER_SELL_TR), "VTTT1001U");
        assert_eq!(UsTr::Sell.id(Mode::Paper, "VTTT1006U"), "VTTT1006U");
        assert_eq!(UsTr::PresentBalance.id(Mode::Paper, DEFAULT_US_PAPER_SELL_TR), "VTRP6504R");
        assert_eq!(UsTr::Price.id(Mode::Paper, DEFAULT_US_PAPER_SELL_TR), "HHDFS00000300");
    }

    #[test]
    fn usd_prices_go_out_with_two_to_eight_decimals() {
        assert_eq!(wire_usd(d!(145)).unwrap(), "145.00");
        assert_eq!(wire_usd(d!(148.0100)).unwrap(), "148.01");
        assert_eq!(wire_usd(d!(0.12345678)).unwrap(), "0.12345678");
        assert!(wire_usd(d!(0.123456789)).is_err());
        assert!(wire_usd(Decimal::ZERO).is_err());
        assert!(wire_usd(d!(-1)).is_err());
    }

    #[test]
    fn rows_accept_an_array_an_object_or_nothing() {
        let body = json!({"output2": {"crcy_cd": "USD", "frcr_dncl_amt_2": "10.5"}, "output1": []});
        assert_eq!(rows::<CurrencyRow>(&body, "output2").unwrap().len(), 1);
        assert!(rows::<CurrencyRow>(&body, "output1").unwrap().is_empty());
        assert!(rows::<CurrencyRow>(&body, "output9").unwrap().is_empty());
        assert!(rows::<CurrencyRow>(&json!({"output2": "x"}), "output2").is_err());
    }

    #[test]
    fn a_malformed_order_row_is_a_decode_error_not_a_panic() {
        let row = OrderRow { ord_dt: "2026-12-07".into(), ..OrderRow::default() };
        assert!(matches!(row.to_order(), Err(KisHttpError::Decode(_))));
        let row = OrderRow {
            ord_dt: "20261207".into(),
            odno: "0030012345".into(),
            pdno: "AAPL".into(),
            sll_buy_dvsn_cd: "02".into(),
            ft_ord_qty: "10".into(),
            ft_ccld_qty: "4".into(),
            ft_ord_unpr3: "190.5000".into(),
            ovrs_excg_cd: "NASD".into(),
            ..OrderRow::default()
        };
        let order = row.to_order().unwrap();
        assert_eq!((order.unfilled_qty, order.side, order.exchange), (d!(6), Side::Buy, UsExchange::Nasdaq));
        let bad = OrderRow { ft_ord_qty: "ten".into(), ..row };
        assert!(matches!(bad.to_order(), Err(KisHttpError::Decode(_))));
    }
}
