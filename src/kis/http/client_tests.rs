//! Tests of the typed REST client against a small local HTTP stub (real sockets, loopback).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use chrono::DateTime;
use rust_decimal_macros::dec;
use serde_json::json;
use url::Url;

use super::*;
use crate::domain::OrderType;
use crate::ports::{FakeClock, InMemoryTokenStore};

#[derive(Debug, Clone)]
struct Scripted {
    status: u16,
    body: String,
    tr_cont: &'static str,
    delay_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    path: String,
    query: String,
    tr_id: String,
    tr_cont: String,
    auth: String,
    hashkey: bool,
}

#[derive(Debug, Default)]
struct StubState {
    seen: Vec<Seen>,
    script: HashMap<String, VecDeque<Scripted>>,
    tokens_issued: usize,
}

#[derive(Debug, Clone, Default)]
struct Stub(Arc<Mutex<StubState>>);

impl Stub {
    fn push(&self, path: &str, status: u16, body: serde_json::Value, tr_cont: &'static str, delay_ms: u64) {
        let mut s = self.0.lock().unwrap();
        let item = Scripted { status, body: body.to_string(), tr_cont, delay_ms };
        s.script.entry(path.into()).or_default().push_back(item);
    }

    fn seen(&self, path: &str) -> Vec<Seen> {
        self.0.lock().unwrap().seen.iter().filter(|s| s.path == path).cloned().collect()
    }

    fn tokens_issued(&self) -> usize {
        self.0.lock().unwrap().tokens_issued
    }
}

async fn handle(State(stub): State<Stub>, uri: Uri, headers: HeaderMap, _body: Bytes) -> impl IntoResponse {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let path = uri.path().to_owned();
    let scripted = {
        let mut s = stub.0.lock().unwrap();
        s.seen.push(Seen {
            path: path.clone(),
            query: uri.query().unwrap_or("").to_owned(),
            tr_id: header("tr_id"),
            tr_cont: header("tr_cont"),
            auth: header("authorization"),
            hashkey: headers.contains_key("hashkey"),
        });
        let next = s.script.get_mut(&path).and_then(VecDeque::pop_front);
        match next {
            Some(item) => item,
            None if path == "/oauth2/tokenP" => {
                s.tokens_issued += 1;
                let body = json!({"access_token": format!("token-{}", s.tokens_issued), "token_type": "Bearer",
                    "access_token_token_expired": "2026-03-04 09:00:00", "expires_in": 86400});
                Scripted { status: 200, body: body.to_string(), tr_cont: "", delay_ms: 0 }
            }
            None if path == "/uapi/hashkey" => {
                Scripted { status: 200, body: json!({"HASH": "abc"}).to_string(), tr_cont: "", delay_ms: 0 }
            }
            None => Scripted { status: 200, body: ok(json!({})).to_string(), tr_cont: "", delay_ms: 0 },
        }
    };
    if scripted.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(scripted.delay_ms)).await;
    }
    let status = StatusCode::from_u16(scripted.status).unwrap();
    (status, [("content-type", "application/json"), ("tr_cont", scripted.tr_cont)], scripted.body)
}

fn ok(output: serde_json::Value) -> serde_json::Value {
    json!({"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다.", "output": output})
}

async fn start_stub() -> (Stub, Url) {
    let stub = Stub::default();
    let app = Router::new().fallback(handle).with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (stub, Url::parse(&format!("http://{addr}")).unwrap())
}

fn config(base: Url, app_key: &str) -> KisConfig {
    let mut cfg =
        KisConfig::defaults(Mode::Paper, Secret::new(app_key), Secret::new("secret"), Secret::new("hts"))
            .unwrap()
            .with_endpoints(base, Url::parse("ws://127.0.0.1:1").unwrap());
    cfg.requests_per_second = 1000;
    cfg.retry.base_delay = Duration::from_millis(5);
    cfg.read_timeout = Duration::from_millis(300);
    cfg.page_delay = Duration::ZERO;
    cfg
}

fn clock() -> FakeClock {
    FakeClock::new(DateTime::parse_from_rfc3339("2026-03-03T00:30:00Z").unwrap().to_utc())
}

fn client(cfg: &KisConfig, store: &Arc<InMemoryTokenStore>, clock: &FakeClock) -> KisRest {
    KisRest::new(cfg, "12345678-01", store.clone(), Arc::new(clock.clone())).unwrap()
}

fn sym() -> Symbol {
    Symbol::new("005930").unwrap()
}

const PRICE: &str = "/uapi/domestic-stock/v1/quotations/inquire-price";

#[tokio::test]
async fn one_issuance_shared_across_clients_and_refresh_ahead_of_expiry() {
    let (stub, base) = start_stub().await;
    let cfg = config(base, "key-issuance");
    let store = Arc::new(InMemoryTokenStore::new());
    let clock = clock();
    let (a, b) = (client(&cfg, &store, &clock), client(&cfg, &store, &clock));
    a.quote(&sym()).await.unwrap();
    b.quote(&sym()).await.unwrap();
    assert_eq!(stub.tokens_issued(), 1, "a second process start reuses the stored token");
    // Expiry is 2026-03-04 00:00 UTC; 29 minutes before it the token is refreshed.
    clock.set(DateTime::parse_from_rfc3339("2026-03-03T23:31:00Z").unwrap().to_utc());
    a.quote(&sym()).await.unwrap();
    assert_eq!(stub.tokens_issued(), 2);
    assert_eq!(stub.seen(PRICE).last().unwrap().auth, "Bearer token-2");
}

#[tokio::test]
async fn concurrent_callers_wait_for_one_issuance() {
    let (stub, base) = start_stub().await;
    let rest =
        Arc::new(client(&config(base, "key-single-flight"), &Arc::new(InMemoryTokenStore::new()), &clock()));
    let calls = (0..10).map(|_| {
        let rest = rest.clone();
        tokio::spawn(async move { rest.quote(&sym()).await })
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap().unwrap();
    }
    assert_eq!(stub.tokens_issued(), 1);
}

#[tokio::test]
async fn expired_token_forces_one_refresh_and_a_successful_retry() {
    let (stub, base) = start_stub().await;
    let cfg = config(base, "key-expired");
    let store = Arc::new(InMemoryTokenStore::new());
    let clock = clock();
    let rest = client(&cfg, &store, &clock);
    rest.authenticate_for_test().await;
    clock.advance(TimeDelta::seconds(61));
    stub.push(
        PRICE,
        500,
        json!({"rt_cd": "1", "msg_cd": "EGW00123", "msg1": "기간이 만료된 token 입니다."}),
        "",
        0,
    );
    let quote = rest.quote(&sym()).await.unwrap();
    assert_eq!(quote.symbol, sym());
    assert_eq!(stub.tokens_issued(), 2);
    let auths: Vec<String> = stub.seen(PRICE).into_iter().map(|s| s.auth).collect();
    assert_eq!(auths, ["Bearer token-1", "Bearer token-2"]);
}

#[tokio::test]
async fn persistent_token_rejection_ends_in_authentication_error() {
    let (stub, base) = start_stub().await;
    let mut cfg = config(base, "key-rejected");
    cfg.token_issue_spacing = Duration::ZERO;
    let clock = clock();
    let rest = client(&cfg, &Arc::new(InMemoryTokenStore::new()), &clock);
    rest.authenticate_for_test().await;
    for _ in 0..4 {
        stub.push(PRICE, 500, json!({"rt_cd": "1", "msg_cd": "EGW00121", "msg1": "x"}), "", 0);
    }
    let err = rest.quote(&sym()).await.unwrap_err();
    assert!(matches!(err, BrokerError::Authentication { .. }), "{err:?}");
    assert_eq!(stub.seen(PRICE).len(), 4, "first try plus three retries");
}

#[tokio::test]
async fn order_timeout_is_outcome_unknown_and_never_resent() {
    let (stub, base) = start_stub().await;
    let rest = client(&config(base, "key-timeout"), &Arc::new(InMemoryTokenStore::new()), &clock());
    stub.push(ORDER_PATH, 200, ok(json!({"ODNO": "0000000001"})), "", 1_000);
    let order = OrderRequest {
        symbol: sym(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty: dec!(10),
        price: dec!(70000),
        exchange: Exchange::Krx,
    };
    let err = rest.place_order(&order).await.unwrap_err();
    assert!(matches!(err, BrokerError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(stub.seen(ORDER_PATH).len(), 1);
}

#[tokio::test]
async fn orders_carry_hashkey_and_map_rejections() {
    let (stub, base) = start_stub().await;
    let rest = client(&config(base, "key-orders"), &Arc::new(InMemoryTokenStore::new()), &clock());
    stub.push(
        ORDER_PATH,
        200,
        ok(json!({"KRX_FWDG_ORD_ORGNO": "06010", "ODNO": "0000000007", "ORD_TMD": "090000"})),
        "",
        0,
    );
    stub.push(
        ORDER_PATH,
        200,
        json!({"rt_cd": "7", "msg_cd": "APBK0406", "msg1": "주문가격이 상한가를 초과합니다."}),
        "",
        0,
    );
    let order = OrderRequest {
        symbol: sym(),
        side: Side::Sell,
        order_type: OrderType::Limit,
        qty: dec!(3),
        price: dec!(70000),
        exchange: Exchange::Krx,
    };
    let ack = rest.place_order(&order).await.unwrap();
    assert_eq!((ack.broker_order_no.as_str(), ack.branch.as_str()), ("0000000007", "06010"));
    let err = rest.place_order(&order).await.unwrap_err();
    assert_eq!(
        err,
        BrokerError::Rejected {
            msg_cd: "APBK0406".into(), msg1: "주문가격이 상한가를 초과합니다.".into()
        }
    );
    let seen = stub.seen(ORDER_PATH);
    assert!(seen.iter().all(|s| s.hashkey && s.tr_id == "VTTC0011U"));
    assert!(matches!(
        rest.place_order(&OrderRequest { qty: dec!(1.5), ..order }).await,
        Err(BrokerError::Invalid { .. })
    ));
}

#[tokio::test]
async fn inquiries_retry_transient_failures_then_give_up() {
    let (stub, base) = start_stub().await;
    let rest = client(&config(base, "key-5xx"), &Arc::new(InMemoryTokenStore::new()), &clock());
    stub.push(PRICE, 502, json!("bad gateway"), "", 0);
    stub.push(PRICE, 500, json!({"rt_cd": "1", "msg_cd": "EGW00203", "msg1": "x"}), "", 0);
    rest.quote(&sym()).await.unwrap();
    assert_eq!(stub.seen(PRICE).len(), 3);
    for _ in 0..4 {
        stub.push(PRICE, 503, json!("down"), "", 0);
    }
    assert!(matches!(rest.quote(&sym()).await, Err(BrokerError::Connection { .. })));
    assert_eq!(stub.seen(PRICE).len(), 7, "three retries after the first attempt");
}

#[tokio::test]
async fn rate_limit_backs_off_and_retries() {
    let (stub, base) = start_stub().await;
    let rest = client(&config(base, "key-egw00201"), &Arc::new(InMemoryTokenStore::new()), &clock());
    stub.push(
        PRICE,
        500,
        json!({"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}),
        "",
        0,
    );
    rest.quote(&sym()).await.unwrap();
    assert_eq!(stub.seen(PRICE).len(), 2);
}

#[tokio::test]
async fn daily_orders_follow_every_page() {
    let (stub, base) = start_stub().await;
    let rest = client(&config(base, "key-pages"), &Arc::new(InMemoryTokenStore::new()), &clock());
    let row = |no: &str| {
        json!({"ord_dt": "20260303", "ord_gno_brno": "06010", "odno": no, "orgn_odno": "", "sll_buy_dvsn_cd": "02",
            "pdno": "005930", "ord_qty": "10", "ord_unpr": "70000", "ord_tmd": "090001", "tot_ccld_qty": "10",
            "avg_prvs": "70000", "cncl_yn": "N", "tot_ccld_amt": "700000", "ord_dvsn_cd": "00", "rmn_qty": "0", "rjct_qty": "0"})
    };
    let fk = format!("{:<100}", "12345678^01^N^");
    let page = |rows, fk: &str| {
        json!({"rt_cd": "0", "msg_cd": "KIOK0510", "msg1": "", "output1": rows, "output2": {},
        "ctx_area_fk100": fk, "ctx_area_nk100": ""})
    };
    stub.push(DAILY_CCLD_PATH, 200, page(vec![row("0000000001")], &fk), "F", 0);
    stub.push(DAILY_CCLD_PATH, 200, page(vec![row("0000000002")], ""), "D", 0);
    let fills = rest.todays_fills().await.unwrap();
    assert_eq!(
        fills.iter().map(|f| f.broker_order_no.as_str()).collect::<Vec<_>>(),
        ["0000000001", "0000000002"]
    );
    let seen = stub.seen(DAILY_CCLD_PATH);
    assert_eq!((seen[0].tr_cont.as_str(), seen[1].tr_cont.as_str()), ("", "N"));
    assert!(seen[1].query.contains("CTX_AREA_FK100=12345678%5E01%5EN%5E"), "{}", seen[1].query);
    assert_eq!(seen[0].tr_id, "VTTC0081R");
}

#[test]
fn refuses_to_build_without_a_valid_account() {
    let cfg = config(Url::parse("http://127.0.0.1:9").unwrap(), "key-account");
    let err =
        KisRest::new(&cfg, "1234567-01", Arc::new(InMemoryTokenStore::new()), Arc::new(clock())).unwrap_err();
    assert!(matches!(err, BrokerError::Invalid { .. }));
    assert!(!err.to_string().contains("1234567"), "{err}");
}

impl KisRest {
    async fn authenticate_for_test(&self) {
        self.tokens.token().await.unwrap();
    }
}

#[tokio::test]
async fn records_one_line_per_call_and_no_secret() {
    let (stub, base) = start_stub().await;
    let mut cfg = config(base, "APPKEY-LOGS-0123456789");
    cfg.app_secret = Secret::new("APPSECRET-LOGS-XYZ");
    let records = Arc::new(Mutex::new(Vec::new()));
    let sink = records.clone();
    let raw =
        RawClient::new(&cfg).unwrap().with_call_hook(Arc::new(move |r| sink.lock().unwrap().push(r.clone())));
    let rest =
        KisRest::with_raw(&cfg, "12345678-01", raw, Arc::new(InMemoryTokenStore::new()), Arc::new(clock()))
            .unwrap();
    stub.push(
        ORDER_PATH,
        200,
        ok(json!({"KRX_FWDG_ORD_ORGNO": "06010", "ODNO": "0000000009", "ORD_TMD": "090000"})),
        "",
        0,
    );
    let order = OrderRequest {
        symbol: sym(),
        side: Side::Buy,
        order_type: OrderType::Market,
        qty: dec!(1),
        price: dec!(0),
        exchange: Exchange::Krx,
    };
    let cid = "20261207-fedcba9876543210fedcba9876543210";
    crate::ports::correlation::scope(cid, rest.place_order(&order)).await.unwrap();
    rest.quote(&sym()).await.unwrap();
    let records = records.lock().unwrap().clone();
    assert_eq!(records.len(), stub.0.lock().unwrap().seen.len());
    let order_call = records.iter().find(|r| r.path == ORDER_PATH).unwrap();
    assert_eq!((order_call.method.as_str(), order_call.tr_id.as_str()), ("POST", "VTTC0012U"));
    assert_eq!((order_call.status, order_call.msg_cd.as_str()), (200, "MCA00000"));
    // The order's correlation id reaches the record of its broker call (and its log line);
    // a call outside an order action carries none.
    assert_eq!(order_call.correlation_id.as_deref(), Some(cid));
    let quote_call = records.iter().find(|r| r.path != ORDER_PATH && !r.tr_id.is_empty()).unwrap();
    assert_eq!(quote_call.correlation_id, None);
    let rendered = format!("{records:?} {rest:?}");
    for secret in ["APPKEY-LOGS", "APPSECRET-LOGS", "token-1", "12345678"] {
        assert!(!rendered.contains(secret), "{secret} leaked: {rendered}");
    }
}

mod overseas {
    //! The overseas (US) endpoints against the stub: documented TR ids and parameters, the
    //! 200-character paging keys, USD decimals, and refusals before anything is sent.

    use super::*;
    use crate::domain::overseas::{Ticker, UsAmendRequest, UsExchange, UsOrderRequest, UsOrderType};

    const US_ORDER: &str = "/uapi/overseas-stock/v1/trading/order";
    const US_AMEND: &str = "/uapi/overseas-stock/v1/trading/order-rvsecncl";
    const US_NCCS: &str = "/uapi/overseas-stock/v1/trading/inquire-nccs";
    const US_PRICE: &str = "/uapi/overseas-price/v1/quotations/price";
    const US_PRESENT: &str = "/uapi/overseas-stock/v1/trading/inquire-present-balance";

    fn aapl() -> Ticker {
        Ticker::new("AAPL").unwrap()
    }

    fn order(side: Side, order_type: UsOrderType) -> UsOrderRequest {
        UsOrderRequest {
            exchange: UsExchange::Nasdaq,
            ticker: aapl(),
            side,
            order_type,
            qty: dec!(3),
            price: dec!(190.25),
        }
    }

    fn ack(odno: &str) -> serde_json::Value {
        json!({"rt_cd": "0", "msg_cd": "APBK0013", "msg1": "주문 전송 완료 되었습니다.",
            "output": {"KRX_FWDG_ORD_ORGNO": "01790", "ODNO": odno, "ORD_TMD": "231105"}})
    }

    #[tokio::test]
    async fn us_orders_use_the_documented_paper_ids_and_amend_by_order_number() {
        let (stub, base) = start_stub().await;
        let (store, clock) = (Arc::new(InMemoryTokenStore::default()), clock());
        let rest = client(&config(base, "app-us-orders"), &store, &clock);
        stub.push(US_ORDER, 200, ack("0030138295"), "", 0);
        stub.push(US_ORDER, 200, ack("0030138296"), "", 0);
        stub.push(US_AMEND, 200, ack("0030138297"), "", 0);
        let buy = rest.us_place_order(&order(Side::Buy, UsOrderType::Limit)).await.unwrap();
        assert_eq!((buy.broker_order_no.as_str(), buy.branch.as_str()), ("0030138295", "01790"));
        rest.us_place_order(&order(Side::Sell, UsOrderType::Limit)).await.unwrap();
        let cancel = UsAmendRequest {
            exchange: UsExchange::Nasdaq,
            ticker: aapl(),
            broker_order_no: buy.broker_order_no.clone(),
            qty: dec!(3),
            new_price: None,
        };
        assert_eq!(rest.us_amend_order(&cancel).await.unwrap().broker_order_no, "0030138297");
        let ids: Vec<_> = stub.seen(US_ORDER).into_iter().map(|s| s.tr_id).collect();
        assert_eq!(ids, ["VTTT1002U", "VTTT1001U"], "paper buy, then the documented paper sell id");
        assert_eq!(stub.seen(US_AMEND)[0].tr_id, "VTTT1004U");
    }

    #[tokio::test]
    async fn orders_kis_would_refuse_are_not_sent() {
        let (stub, base) = start_stub().await;
        let (store, clock) = (Arc::new(InMemoryTokenStore::default()), clock());
        let rest = client(&config(base, "app-us-refuse"), &store, &clock);
        for o in [
            order(Side::Buy, UsOrderType::MarketOnOpen),
            order(Side::Sell, UsOrderType::LimitOnClose),
            UsOrderRequest { qty: dec!(1.5), ..order(Side::Buy, UsOrderType::Limit) },
            UsOrderRequest { price: dec!(0), ..order(Side::Buy, UsOrderType::Limit) },
        ] {
            let e = rest.us_place_order(&o).await.unwrap_err();
            assert!(matches!(e, BrokerError::Invalid { .. }), "{o:?}: {e:?}");
        }
        assert!(stub.seen(US_ORDER).is_empty(), "nothing reached the broker");
    }

    #[tokio::test]
    async fn unfilled_orders_page_with_the_200_character_keys() {
        let (stub, base) = start_stub().await;
        let (store, clock) = (Arc::new(InMemoryTokenStore::default()), clock());
        let rest = client(&config(base, "app-us-nccs"), &store, &clock);
        let row = |odno: &str| {
            json!({"ord_dt": "20261207", "odno": odno, "orgn_odno": "", "pdno": "AAPL", "sll_buy_dvsn_cd": "02",
                "ft_ord_qty": "5", "ft_ccld_qty": "2", "nccs_qty": "3", "ft_ord_unpr3": "190.2500",
                "ft_ccld_unpr3": "190.2500", "ovrs_excg_cd": "NASD"})
        };
        let page = |rows: serde_json::Value, fk: &str| {
            json!({"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "ok", "ctx_area_fk200": fk, "ctx_area_nk200": fk,
                "output": rows})
        };
        stub.push(US_NCCS, 200, page(json!([row("1")]), "KEY-ONE"), "M", 0);
        stub.push(US_NCCS, 200, page(json!([row("2")]), ""), "D", 0);
        let open = rest.us_open_orders().await.unwrap();
        assert_eq!(open.iter().map(|o| o.broker_order_no.as_str()).collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!((open[0].unfilled_qty, open[0].price), (dec!(3), dec!(190.25)));
        let seen = stub.seen(US_NCCS);
        assert_eq!(seen[0].tr_id, "VTTS3018R");
        assert!(seen[0].query.contains("OVRS_EXCG_CD=NASD"), "{}", seen[0].query);
        assert!(seen[1].query.contains("CTX_AREA_FK200=KEY-ONE"), "{}", seen[1].query);
        assert_eq!((seen[0].tr_cont.as_str(), seen[1].tr_cont.as_str()), ("", "N"));
    }

    #[tokio::test]
    async fn quote_and_present_balance_decode_usd() {
        let (stub, base) = start_stub().await;
        let (store, clock) = (Arc::new(InMemoryTokenStore::default()), clock());
        let rest = client(&config(base, "app-us-quote"), &store, &clock);
        stub.push(
            US_PRICE,
            200,
            ok(json!({"rsym": "DNASAAPL", "zdiv": "4", "base": "190.0000", "pvol": "1", "last": "188.5000",
                "sign": "5", "diff": "1.5000", "rate": "0.79", "tvol": "1200", "tamt": "1", "ordy": "매수가능"})),
            "",
            0,
        );
        let q = rest.us_quote(UsExchange::Nasdaq, &aapl()).await.unwrap();
        assert_eq!(
            (q.last, q.diff, q.decimals, q.realtime_key.as_str()),
            (dec!(188.5), dec!(-1.5), 4, "DNASAAPL")
        );
        assert!(stub.seen(US_PRICE)[0].query.contains("EXCD=NAS"));
        stub.push(
            US_PRESENT,
            200,
            json!({"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "ok", "output1": [],
                "output2": [{"crcy_cd": "USD", "frcr_dncl_amt_2": "1000.50", "frcr_drwg_psbl_amt_1": "900.25"}],
                "output3": {"tot_asst_amt": "15000000"}}),
            "",
            0,
        );
        let a = rest.us_account().await.unwrap();
        assert_eq!((a.usd_deposit, a.total_assets), (Some(dec!(1000.50)), dec!(15000000)));
        assert_eq!(stub.seen(US_PRESENT)[0].tr_id, "VTRP6504R");
    }
}
