//! Response header names byte for byte (REFERENCE.md §3.2 "Response headers", §3.3 `tr_cont`):
//! `Content-Type` capitalized, `tr_id` (echo) / `tr_cont` / `gt_uid` lowercase, on the token
//! endpoints, inquiries, orders and gateway errors — read over a raw TCP stream.

use super::wire::*;

/// Collects the header problems of several responses so one run reports all of them.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn check(&mut self, what: &str, r: &Raw, tr_id: Option<&str>, pageable: Option<bool>) {
        let p = header_problems(r, tr_id, pageable);
        if !p.is_empty() {
            self.0.push(format!("{what} (HTTP {}): {}\n{}\n", r.status, p.join("; "), r.head));
        }
    }

    fn assert_none(self) {
        assert!(self.0.is_empty(), "header names differ from REFERENCE.md §3.2:\n{}", self.0.join("\n"));
    }
}

#[tokio::test]
async fn header_names_on_token_and_approval_endpoints() {
    let sim = start().await;
    let key = appkey(1);
    let mut f = Findings::default();

    let ok = token_raw(sim.addr, &key).await;
    assert_eq!(ok.status, 200);
    f.check("POST /oauth2/tokenP 200", &ok, None, None);

    // §2.1: a second issuance within a minute → HTTP 403 EGW00133
    let throttled = token_raw(sim.addr, &key).await;
    assert_eq!(throttled.status, 403);
    f.check("POST /oauth2/tokenP 403 EGW00133", &throttled, None, None);

    let approval = approval_raw(sim.addr, &key).await;
    assert_eq!(approval.status, 200);
    f.check("POST /oauth2/Approval 200", &approval, None, None);
    f.assert_none();
}

#[tokio::test]
async fn header_names_on_inquiries_and_orders() {
    let sim = start().await;
    let kis = Kis::new(&sim, 1).await;
    let mut f = Findings::default();

    let balance = kis.balance().await;
    f.check("GET inquire-balance", &balance, Some("VTTC8434R"), Some(true));
    let psbl = kis.psbl_order(SYMBOL).await;
    f.check("GET inquire-psbl-order", &psbl, Some("VTTC8908R"), Some(false));

    let price = kis.price_below(SYMBOL, 3).await;
    let order = kis.buy(SYMBOL, 1, price).await;
    assert_eq!(order.json()["rt_cd"], "0", "{}", order.json());
    f.check("POST order-cash", &order, Some("VTTC0012U"), Some(false));

    let ccld = kis.daily_ccld(DAY1, "", "", "").await;
    f.check("GET inquire-daily-ccld", &ccld, Some("VTTC0081R"), Some(true));
    f.assert_none();
}

#[tokio::test]
async fn header_names_on_gateway_errors() {
    let sim = start().await;
    let mut kis = Kis::new(&sim, 1).await;
    let mut f = Findings::default();

    kis.token = "not-a-token".to_owned();
    let invalid = kis.balance().await;
    assert_gateway_error("invalid token", &invalid, &["EGW00121", "EGW00122"]);
    // The tr_id echo is only checked for casing here: §3.2 does not say the gateway echoes it.
    f.check("GET inquire-balance with an invalid token", &invalid, None, None);

    kis.token = String::new();
    let missing = kis.psbl_order(SYMBOL).await;
    assert_gateway_error("empty bearer token", &missing, &[]);
    f.check("GET inquire-psbl-order with an empty bearer token", &missing, None, None);
    f.assert_none();
}

#[tokio::test]
async fn a_corporate_callers_gt_uid_comes_back_lowercase() {
    let sim = start().await;
    let kis = Kis::new(&sim, 1).await;
    let auth = format!("Bearer {}", kis.token);
    let mut headers = kis.headers(&auth, "VTTC8908R", "");
    headers.retain(|(k, _)| *k != "custtype");
    headers.extend([("custtype", "B"), ("gt_uid", "0123456789abcdef0123456789abcdef")]);
    let q = [
        ("CANO", CANO),
        ("ACNT_PRDT_CD", PRDT),
        ("PDNO", SYMBOL),
        ("ORD_UNPR", ""),
        ("ORD_DVSN", "01"),
        ("CMA_EVLU_AMT_ICLD_YN", "N"),
        ("OVRS_ICLD_YN", "N"),
    ];
    let target = format!("{PSBL_ORDER}?{}", query(&q));
    let r = http(sim.addr, "GET", &target, &headers, None).await;
    assert!(
        r.head.contains("\r\ngt_uid: 0123456789abcdef0123456789abcdef\r\n"),
        "§3.2: gt_uid (corporate) is echoed in lowercase:\n{}",
        r.head
    );
    let mut f = Findings::default();
    f.check("GET inquire-psbl-order (corporate)", &r, Some("VTTC8908R"), Some(false));
    f.assert_none();
}
