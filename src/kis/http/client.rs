//! The typed REST client: domain types in and out, with the token manager, the shared rate
//! limiter, retries with backoff and circuit breakers around every raw call.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::KisHttpError;
use super::models::{
    self, AskingPriceBody, BalanceBody, ChartBody, DailyCcldBody, HolidayBody, OrderOutput, PriceOutput,
    PsblOrderOutput, Single,
};
use super::raw::{RawClient, Reply, Request};
use super::tr::Tr;
use crate::domain::market::{
    AccountSnapshot, BrokerFill, BrokerOrder, CancelRequest, DailyBar, Holiday, ModifyRequest, OrderAck,
    OrderBook, OrderRequest, Quote, to_kst,
};
use crate::domain::{AccountNo, Exchange, Mode, Side, Symbol};
use crate::kis::auth::{TokenManager, app_key_fingerprint};
use crate::kis::breaker::{Breakers, EndpointGroup};
use crate::kis::config::KisConfig;
use crate::kis::limiter::{Priority, RateLimiter};
use crate::kis::retry::{Backoff, RequestRetry};
use crate::ports::{BrokerError, Clock, Secret, TokenStore};

const ORDER_PATH: &str = "/uapi/domestic-stock/v1/trading/order-cash";
const RVSECNCL_PATH: &str = "/uapi/domestic-stock/v1/trading/order-rvsecncl";
const DAILY_CCLD_PATH: &str = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld";
const BALANCE_PATH: &str = "/uapi/domestic-stock/v1/trading/inquire-balance";
const PSBL_ORDER_PATH: &str = "/uapi/domestic-stock/v1/trading/inquire-psbl-order";
const PRICE_PATH: &str = "/uapi/domestic-stock/v1/quotations/inquire-price";
const ASKING_PATH: &str = "/uapi/domestic-stock/v1/quotations/inquire-asking-price-exp-ccn";
const CHART_PATH: &str = "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice";
const HOLIDAY_PATH: &str = "/uapi/domestic-stock/v1/quotations/chk-holiday";

mod overseas;

pub use overseas::{DEFAULT_US_PAPER_SELL_TR, UsTr};
/// Safety cap on pages of one inquiry.
const MAX_PAGES: usize = 500;
/// Forced token refreshes per call before giving up.
const MAX_AUTH_RETRIES: u32 = 3;

/// The paging context keys of an inquiry: the domestic 100-character ones or the overseas
/// 200-character ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    K100,
    K200,
}

impl Context {
    /// Request keys, then response fields.
    const fn keys(self) -> [&'static str; 4] {
        match self {
            Self::K100 => ["CTX_AREA_FK100", "CTX_AREA_NK100", "ctx_area_fk100", "ctx_area_nk100"],
            Self::K200 => ["CTX_AREA_FK200", "CTX_AREA_NK200", "ctx_area_fk200", "ctx_area_nk200"],
        }
    }
}

/// Whether a call may be repeated after an ambiguous failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Inquiry,
    Order,
}

/// The typed KIS REST client.
#[derive(Debug)]
pub struct KisRest {
    raw: RawClient,
    tokens: Arc<TokenManager>,
    limiter: Arc<RateLimiter>,
    breakers: Breakers,
    clock: Arc<dyn Clock>,
    account: AccountNo,
    mode: Mode,
    legacy: bool,
    hashkey: bool,
    retry: RequestRetry,
    page_delay: Duration,
    us_paper_sell_tr: String,
    /// When set, an order, modify or cancel request leaves only while this fence may act (checked
    /// after the rate limiter, right before the request is written).
    order_gate: std::sync::OnceLock<Arc<crate::ports::Fence>>,
}

fn wire_qty(qty: Decimal) -> Result<String, BrokerError> {
    if qty <= Decimal::ZERO || !qty.fract().is_zero() {
        return Err(BrokerError::Invalid {
            message: format!("quantity {qty} is not a positive whole number"),
        });
    }
    Ok(qty.trunc().to_string())
}

fn wire_price(price: Decimal) -> Result<String, BrokerError> {
    if price < Decimal::ZERO || !price.fract().is_zero() {
        return Err(BrokerError::Invalid {
            message: format!("price {price} is not a non-negative whole number"),
        });
    }
    Ok(price.trunc().to_string())
}

impl KisRest {
    /// Builds the client for `account` (`CANO-ACNT_PRDT_CD`).
    ///
    /// # Errors
    /// [`BrokerError::Invalid`] when the account number is malformed (echoed masked) or the
    /// base URL is not allowed.
    pub fn new(
        config: &KisConfig,
        account: &str,
        store: Arc<dyn TokenStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BrokerError> {
        let raw = RawClient::new(config).map_err(KisHttpError::into_broker)?;
        Self::with_raw(config, account, raw, store, clock)
    }

    /// Builds the client around a prepared raw client (e.g. one with a call hook).
    ///
    /// # Errors
    /// As [`KisRest::new`].
    pub fn with_raw(
        config: &KisConfig,
        account: &str,
        raw: RawClient,
        store: Arc<dyn TokenStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BrokerError> {
        let account =
            AccountNo::parse(account).map_err(|e| BrokerError::Invalid { message: e.to_string() })?;
        let tokens = Arc::new(
            TokenManager::new(
                raw.clone(),
                store,
                clock.clone(),
                &config.app_key,
                config.mode,
                config.refresh_ahead,
            )
            .with_issue_spacing(config.token_issue_spacing),
        );
        Ok(Self {
            limiter: RateLimiter::shared(&app_key_fingerprint(&config.app_key), config.requests_per_second),
            breakers: Breakers::new(config.breaker, &clock),
            raw,
            tokens,
            clock,
            account,
            mode: config.mode,
            legacy: config.legacy_tr_ids,
            hashkey: config.hashkey,
            retry: config.retry,
            page_delay: config.page_delay,
            us_paper_sell_tr: config.us_paper_sell_tr_id.clone(),
            order_gate: std::sync::OnceLock::new(),
        })
    }

    /// Gates every order-changing request on `fence` (set once; later calls are ignored): a
    /// process that lost the pipeline lease, or was frozen past its local deadline, sends nothing.
    pub fn set_order_gate(&self, fence: Arc<crate::ports::Fence>) {
        let _ = self.order_gate.set(fence);
    }

    /// Returns the token manager (shared with the real-time feed for approval keys).
    pub fn tokens(&self) -> &Arc<TokenManager> {
        &self.tokens
    }

    /// Returns the account.
    pub fn account(&self) -> &AccountNo {
        &self.account
    }

    /// Returns the clock the client stamps answers with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn today(&self) -> NaiveDate {
        to_kst(self.clock.now()).date_naive()
    }

    fn tr(&self, tr: Tr) -> String {
        tr.id(self.mode, self.legacy)
    }

    /// Runs `call` with a token under the limiter and breaker, refreshing rejected tokens (at
    /// most 3 times), backing off on `EGW00201`, and retrying transient failures of inquiries.
    /// Orders that may have executed are never retried: they end as `OutcomeUnknown`.
    async fn execute<T, F, Fut>(&self, group: EndpointGroup, kind: Kind, call: F) -> Result<T, BrokerError>
    where
        F: Fn(Secret) -> Fut,
        Fut: Future<Output = Result<T, KisHttpError>>,
    {
        let priority = if kind == Kind::Order { Priority::Order } else { Priority::Inquiry };
        let mut transient = Backoff::new(self.retry);
        let mut limited = Backoff::new(self.retry);
        let mut auth_retries = 0;
        loop {
            self.breakers.admit(group)?;
            let token = match self.tokens.token().await {
                Ok(t) => t,
                Err(e) => {
                    self.breakers.get(group).record(!e.is_retryable());
                    return Err(e);
                }
            };
            self.limiter.acquire(priority).await;
            let err = match call(token.clone()).await {
                Ok(value) => {
                    self.breakers.get(group).record(true);
                    return Ok(value);
                }
                Err(err) => err,
            };
            let transient_failure = matches!(
                err,
                KisHttpError::Connect(_)
                    | KisHttpError::Timeout(_)
                    | KisHttpError::Transport(_)
                    | KisHttpError::Server { .. }
                    | KisHttpError::GatewayTimeout(_)
            );
            self.breakers.get(group).record(!transient_failure);
            match err {
                KisHttpError::TokenRejected(_) if auth_retries < MAX_AUTH_RETRIES => {
                    auth_retries += 1;
                    self.tokens.force_refresh(&token).await?;
                }
                KisHttpError::TokenRejected(code) => {
                    return Err(BrokerError::Authentication {
                        message: format!("token still rejected ({code})"),
                    });
                }
                KisHttpError::RateLimited => match limited.next_delay() {
                    Some(pause) => {
                        tracing::warn!(target: "aegis::kis::http", pause_ms = pause.as_millis() as u64, "EGW00201: backing off");
                        self.limiter.back_off(pause);
                    }
                    None => return Err(BrokerError::RateLimit),
                },
                e if kind == Kind::Order && e.may_have_executed() => return Err(e.into_order_error()),
                e if transient_failure => match transient.next_delay() {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => return Err(e.into_broker()),
                },
                e if kind == Kind::Order => return Err(e.into_order_error()),
                e => return Err(e.into_broker()),
            }
        }
    }

    async fn get(
        &self,
        group: EndpointGroup,
        path: &'static str,
        tr: Tr,
        tr_cont: &str,
        query: Vec<(&'static str, String)>,
    ) -> Result<Reply, BrokerError> {
        self.get_tr(group, path, self.tr(tr), tr_cont, query).await
    }

    /// [`Self::get`] with the TR id given as text (the overseas endpoints' ids).
    async fn get_tr(
        &self,
        group: EndpointGroup,
        path: &'static str,
        tr_id: String,
        tr_cont: &str,
        query: Vec<(&'static str, String)>,
    ) -> Result<Reply, BrokerError> {
        self.execute(group, Kind::Inquiry, |token| {
            let (tr_id, query) = (&tr_id, query.clone());
            async move {
                let req = Request {
                    method: Method::GET,
                    path,
                    tr_id,
                    token: &token,
                    tr_cont,
                    query,
                    body: None,
                    hashkey: None,
                };
                self.raw.call(req).await
            }
        })
        .await
    }

    /// Fetches every page of a pageable account inquiry; `query` gets the context keys appended.
    async fn pages(
        &self,
        path: &'static str,
        tr: Tr,
        query: Vec<(&'static str, String)>,
    ) -> Result<Vec<Value>, BrokerError> {
        self.pages_with(path, self.tr(tr), query, Context::K100).await
    }

    /// [`Self::pages`] with the TR id as text and the context keys of `context`.
    async fn pages_with(
        &self,
        path: &'static str,
        tr_id: String,
        query: Vec<(&'static str, String)>,
        context: Context,
    ) -> Result<Vec<Value>, BrokerError> {
        let (mut fk, mut nk) = (String::new(), String::new());
        let mut bodies = Vec::new();
        let [fk_key, nk_key, fk_field, nk_field] = context.keys();
        for page in 0..MAX_PAGES {
            let mut q = query.clone();
            q.push((fk_key, fk.clone()));
            q.push((nk_key, nk.clone()));
            let cont = if page == 0 { "" } else { "N" };
            let reply = self.get_tr(EndpointGroup::Account, path, tr_id.clone(), cont, q).await?;
            let more = reply.has_more();
            let text = |k: &str| reply.body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            (fk, nk) = (text(fk_field), text(nk_field));
            bodies.push(reply.body);
            if !more {
                return Ok(bodies);
            }
            tokio::time::sleep(self.page_delay).await;
        }
        Err(BrokerError::Invalid { message: format!("more than {MAX_PAGES} pages from {path}") })
    }

    fn account_query(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CANO", self.account.cano().to_owned()),
            ("ACNT_PRDT_CD", self.account.product_code().to_owned()),
        ]
    }

    async fn post_order(&self, path: &'static str, tr: Tr, body: Value) -> Result<OrderAck, BrokerError> {
        let today = self.today();
        let output: OrderOutput = self.send_order(path, self.tr(tr), body).await?;
        output.to_ack(today).map_err(KisHttpError::into_order_error)
    }

    /// Sends an order, modify or cancel (hashkey, order gate, never resent after an ambiguous
    /// failure) and decodes its `output`.
    async fn send_order<T: serde::de::DeserializeOwned>(
        &self,
        path: &'static str,
        tr_id: String,
        body: Value,
    ) -> Result<T, BrokerError> {
        self.execute(EndpointGroup::Orders, Kind::Order, |token| {
            let body = body.clone();
            let tr_id = tr_id.clone();
            async move {
                let hashkey = if self.hashkey {
                    self.limiter.acquire(Priority::Order).await;
                    // The order is not sent yet: any hashkey failure is safe to report as such.
                    Some(self.raw.uapi_hashkey(&body).await.map_err(|e| match e {
                        e if e.is_retryable() => KisHttpError::Connect(format!("hashkey: {e}")),
                        e => e,
                    })?)
                } else {
                    None
                };
                let req = Request {
                    method: Method::POST,
                    path,
                    tr_id: &tr_id,
                    token: &token,
                    tr_cont: "",
                    query: Vec::new(),
                    body: Some(body),
                    hashkey,
                };
                if self.order_gate.get().is_some_and(|f| !f.may_act()) {
                    return Err(KisHttpError::NotLeader);
                }
                let reply = self.raw.call(req).await?;
                Ok(models::decode::<Single<T>>(reply.body)?.output)
            }
        })
        .await
    }

    /// Sends a cash order (`order-cash`) on a KRX venue.
    ///
    /// # Errors
    /// [`BrokerError::Rejected`], [`BrokerError::OutcomeUnknown`] (never resent), or others.
    pub async fn place_order(&self, order: &OrderRequest) -> Result<OrderAck, BrokerError> {
        domestic_venue(order.exchange)?;
        if !order.symbol.is_krx_code() {
            return Err(BrokerError::Invalid { message: format!("{} is not a KRX code", order.symbol) });
        }
        let price = if order.order_type.has_price() { wire_price(order.price)? } else { "0".into() };
        let mut body = json!({
            "CANO": self.account.cano(),
            "ACNT_PRDT_CD": self.account.product_code(),
            "PDNO": order.symbol.as_str(),
            "ORD_DVSN": models::ord_dvsn(order.order_type),
            "ORD_QTY": wire_qty(order.qty)?,
            "ORD_UNPR": price,
            "EXCG_ID_DVSN_CD": order.exchange.as_str(),
        });
        if order.side == Side::Sell
            && let Some(map) = body.as_object_mut()
        {
            map.insert("SLL_TYPE".into(), Value::String("01".into()));
        }
        self.post_order(ORDER_PATH, Tr::order(order.side), body).await
    }

    fn rvsecncl_body(
        &self,
        no: &str,
        branch: &str,
        modify: Option<&ModifyRequest>,
        qty: Option<Decimal>,
        exchange: Exchange,
    ) -> Result<Value, BrokerError> {
        domestic_venue(exchange)?;
        let (dvsn, code, price) = match modify {
            Some(m) => (
                models::ord_dvsn(m.order_type),
                "01",
                if m.order_type.has_price() { wire_price(m.price)? } else { "0".into() },
            ),
            None => ("00", "02", "0".into()),
        };
        let (qty, all) = match qty {
            Some(q) => (wire_qty(q)?, "N"),
            None => ("0".into(), "Y"),
        };
        Ok(json!({
            "CANO": self.account.cano(),
            "ACNT_PRDT_CD": self.account.product_code(),
            "KRX_FWDG_ORD_ORGNO": branch,
            "ORGN_ODNO": no,
            "ORD_DVSN": dvsn,
            "RVSE_CNCL_DVSN_CD": code,
            "ORD_QTY": qty,
            "ORD_UNPR": price,
            "QTY_ALL_ORD_YN": all,
            "EXCG_ID_DVSN_CD": exchange.as_str(),
        }))
    }

    /// Modifies a resting order (`order-rvsecncl`, `01`).
    ///
    /// # Errors
    /// As [`KisRest::place_order`].
    pub async fn modify_order(&self, m: &ModifyRequest) -> Result<OrderAck, BrokerError> {
        let body = self.rvsecncl_body(&m.broker_order_no, &m.branch, Some(m), m.qty, m.exchange)?;
        self.post_order(RVSECNCL_PATH, Tr::ModifyCancel, body).await
    }

    /// Cancels a resting order (`order-rvsecncl`, `02`).
    ///
    /// # Errors
    /// As [`KisRest::place_order`].
    pub async fn cancel_order(&self, c: &CancelRequest) -> Result<OrderAck, BrokerError> {
        let body = self.rvsecncl_body(&c.broker_order_no, &c.branch, None, c.qty, c.exchange)?;
        self.post_order(RVSECNCL_PATH, Tr::ModifyCancel, body).await
    }

    /// Returns today's orders, every page (`inquire-daily-ccld`, oldest first).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn todays_orders(&self) -> Result<Vec<BrokerOrder>, BrokerError> {
        let today = self.today().format("%Y%m%d").to_string();
        let venue = if self.mode == Mode::Paper { "KRX" } else { "ALL" };
        let mut q = self.account_query();
        q.extend([
            ("INQR_STRT_DT", today.clone()),
            ("INQR_END_DT", today),
            ("SLL_BUY_DVSN_CD", "00".into()),
            ("PDNO", String::new()),
            ("ORD_GNO_BRNO", String::new()),
            ("ODNO", String::new()),
            ("CCLD_DVSN", "00".into()),
            ("INQR_DVSN", "01".into()),
            ("INQR_DVSN_1", String::new()),
            ("INQR_DVSN_3", "00".into()),
            ("EXCG_ID_DVSN_CD", venue.into()),
        ]);
        let mut orders = Vec::new();
        for body in self.pages(DAILY_CCLD_PATH, Tr::DailyCcld, q).await? {
            let body: DailyCcldBody = models::decode(body).map_err(KisHttpError::into_broker)?;
            for row in &body.output1 {
                orders.push(row.to_order().map_err(KisHttpError::into_broker)?);
            }
        }
        Ok(orders)
    }

    /// Returns today's orders with an open quantity.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn open_orders(&self) -> Result<Vec<BrokerOrder>, BrokerError> {
        Ok(self
            .todays_orders()
            .await?
            .into_iter()
            .filter(|o| o.remaining_qty > Decimal::ZERO && !o.canceled)
            .collect())
    }

    /// Returns the cumulative fills of today's orders.
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn todays_fills(&self) -> Result<Vec<BrokerFill>, BrokerError> {
        Ok(self.todays_orders().await?.iter().filter_map(BrokerFill::from_order).collect())
    }

    /// Returns orderable cash (`inquire-psbl-order`), holdings and totals (`inquire-balance`).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn account_snapshot(&self) -> Result<AccountSnapshot, BrokerError> {
        let mut q = self.account_query();
        q.extend([
            ("PDNO", String::new()),
            ("ORD_UNPR", String::new()),
            ("ORD_DVSN", "01".into()),
            ("CMA_EVLU_AMT_ICLD_YN", "N".into()),
            ("OVRS_ICLD_YN", "N".into()),
        ]);
        let reply = self.get(EndpointGroup::Account, PSBL_ORDER_PATH, Tr::PsblOrder, "", q).await?;
        let psbl: Single<PsblOrderOutput> = models::decode(reply.body).map_err(KisHttpError::into_broker)?;
        let mut q = self.account_query();
        q.extend([
            ("AFHR_FLPR_YN", "N".into()),
            ("OFL_YN", String::new()),
            ("INQR_DVSN", "02".into()),
            ("UNPR_DVSN", "01".into()),
            ("FUND_STTL_ICLD_YN", "N".into()),
            ("FNCG_AMT_AUTO_RDPT_YN", "N".into()),
            ("PRCS_DVSN", "00".into()),
        ]);
        let mut rows = Vec::new();
        let mut totals = None;
        for body in self.pages(BALANCE_PATH, Tr::Balance, q).await? {
            let body: BalanceBody = models::decode(body).map_err(KisHttpError::into_broker)?;
            totals = Some(body.totals().map_err(KisHttpError::into_broker)?);
            rows.extend(body.output1);
        }
        let totals = totals
            .ok_or_else(|| BrokerError::Invalid { message: "inquire-balance returned no page".into() })?;
        models::account_snapshot(&psbl.output, &rows, &totals).map_err(KisHttpError::into_broker)
    }

    fn quote_query(symbol: &Symbol) -> Vec<(&'static str, String)> {
        vec![("FID_COND_MRKT_DIV_CODE", "J".into()), ("FID_INPUT_ISCD", symbol.as_str().to_owned())]
    }

    /// Returns the current price (`inquire-price`).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn quote(&self, symbol: &Symbol) -> Result<Quote, BrokerError> {
        let reply =
            self.get(EndpointGroup::Quotes, PRICE_PATH, Tr::Price, "", Self::quote_query(symbol)).await?;
        let out: Single<PriceOutput> = models::decode(reply.body).map_err(KisHttpError::into_broker)?;
        out.output.to_quote(symbol.clone()).map_err(KisHttpError::into_broker)
    }

    /// Returns the order book (`inquire-asking-price-exp-ccn`).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn order_book(&self, symbol: &Symbol) -> Result<OrderBook, BrokerError> {
        let reply = self
            .get(EndpointGroup::Quotes, ASKING_PATH, Tr::AskingPrice, "", Self::quote_query(symbol))
            .await?;
        let body: AskingPriceBody = models::decode(reply.body).map_err(KisHttpError::into_broker)?;
        body.to_book(symbol.clone(), self.today()).map_err(KisHttpError::into_broker)
    }

    /// Returns daily bars from `from` to `to`, oldest first (100 per call, paging back by date).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn daily_bars(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyBar>, BrokerError> {
        let mut bars = Vec::new();
        let mut end = to;
        for _ in 0..MAX_PAGES {
            if end < from {
                break;
            }
            let mut q = Self::quote_query(symbol);
            q.extend([
                ("FID_INPUT_DATE_1", from.format("%Y%m%d").to_string()),
                ("FID_INPUT_DATE_2", end.format("%Y%m%d").to_string()),
                ("FID_PERIOD_DIV_CODE", "D".into()),
                ("FID_ORG_ADJ_PRC", "0".into()),
            ]);
            let reply = self.get(EndpointGroup::Quotes, CHART_PATH, Tr::DailyChart, "", q).await?;
            let body: ChartBody = models::decode(reply.body).map_err(KisHttpError::into_broker)?;
            let mut page = Vec::new();
            for row in &body.output2 {
                if let Some(bar) = row.to_bar(symbol).map_err(KisHttpError::into_broker)? {
                    page.push(bar);
                }
            }
            let Some(oldest) = page.iter().map(|b| b.date).min() else { break };
            let full = page.len() >= 100;
            bars.extend(page.into_iter().filter(|b| b.date >= from && b.date <= to));
            if !full {
                break;
            }
            end = oldest - TimeDelta::days(1);
        }
        bars.sort_by_key(|b| b.date);
        bars.dedup_by_key(|b| b.date);
        Ok(bars)
    }

    /// Returns the market status of the days from `from` (`chk-holiday`).
    ///
    /// # Errors
    /// Any [`BrokerError`].
    pub async fn holidays(&self, from: NaiveDate) -> Result<Vec<Holiday>, BrokerError> {
        let q = vec![
            ("BASS_DT", from.format("%Y%m%d").to_string()),
            ("CTX_AREA_NK", String::new()),
            ("CTX_AREA_FK", String::new()),
        ];
        let reply = self.get(EndpointGroup::Quotes, HOLIDAY_PATH, Tr::Holiday, "", q).await?;
        let body: HolidayBody = models::decode(reply.body).map_err(KisHttpError::into_broker)?;
        body.output.iter().map(|r| r.to_holiday().map_err(KisHttpError::into_broker)).collect()
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;

/// Refuses a US venue on a domestic order endpoint (the overseas calls take those).
fn domestic_venue(exchange: Exchange) -> Result<(), BrokerError> {
    match exchange.region() {
        crate::domain::MarketRegion::Kr => Ok(()),
        crate::domain::MarketRegion::Us => {
            Err(BrokerError::Invalid { message: format!("{exchange} is not a domestic venue") })
        }
    }
}
