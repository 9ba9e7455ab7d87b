//! Access-token rules (REFERENCE.md §2.1, §5.2, §9; rest_endpoints.json `token_issue`,
//! error_codes.json): success body and formats, 1 issuance per minute (HTTP 403 `EGW00133`), the
//! same token within 6 h, a new one after, and rejection of a token older than 24 h (`EGW00123`,
//! HTTP 500 envelope) — on a frozen clock moved by hand.

use std::time::Duration;

use chrono::NaiveDateTime;
use serde_json::Value;

use super::wire::*;

const THROTTLED: &str = "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)";

/// Checks a 200 tokenP body and returns (`access_token`, `access_token_token_expired`).
/// `expires_in` is 86400 on an issuance; §2.1 does not say what it holds when a request within
/// 6 h returns the same token, so then only a number of at most 86400 is required.
fn issued(r: &Raw) -> (String, String) {
    token_body(r, true)
}

fn reissued(r: &Raw) -> (String, String) {
    token_body(r, false)
}

fn token_body(r: &Raw, fresh: bool) -> (String, String) {
    let v = r.json();
    assert_eq!(r.status, 200, "{v}");
    let token = v["access_token"].as_str().unwrap_or_else(|| panic!("access_token: {v}"));
    assert!(!token.is_empty(), "{v}");
    assert_eq!(v["token_type"], "Bearer", "{v}");
    assert!(v["expires_in"].is_number(), "expires_in is a JSON number (§2.1 example): {v}");
    let expires_in = v["expires_in"].as_u64().unwrap_or_default();
    if fresh {
        assert_eq!(expires_in, 86_400, "expires_in of a new token (§2.1): {v}");
    } else {
        assert!((1..=86_400).contains(&expires_in), "expires_in of a returned token: {v}");
    }
    let expiry = v["access_token_token_expired"].as_str().unwrap_or_else(|| panic!("expiry: {v}"));
    assert!(
        expiry.len() == 19 && NaiveDateTime::parse_from_str(expiry, "%Y-%m-%d %H:%M:%S").is_ok(),
        "access_token_token_expired {expiry:?} is not YYYY-MM-DD HH:MM:SS"
    );
    (token.to_owned(), expiry.to_owned())
}

fn throttled(r: &Raw) {
    let v: Value = r.json();
    assert_eq!(r.status, 403, "§2.1: a second issuance within a minute is HTTP 403: {v}");
    assert_eq!(v["error_code"], "EGW00133", "{v}");
    assert_eq!(v["error_description"], THROTTLED, "{v}");
}

#[tokio::test]
async fn token_body_and_one_issuance_per_minute() {
    let sim = start().await;
    let key = appkey(1);
    let (_, expiry) = issued(&token_raw(sim.addr, &key).await);
    // issued at 2026-03-03 10:00:00 KST (frozen) → expires 24 h later, KST
    assert_eq!(expiry, "2026-03-04 10:00:00");
    throttled(&token_raw(sim.addr, &key).await);
    sim.advance(Duration::from_secs(30));
    throttled(&token_raw(sim.addr, &key).await);
}

#[tokio::test]
async fn same_token_within_six_hours_and_a_new_one_after() {
    let sim = start().await;
    let key = appkey(1);
    let first = issued(&token_raw(sim.addr, &key).await);

    sim.advance(Duration::from_secs(61));
    assert_eq!(reissued(&token_raw(sim.addr, &key).await), first, "61 s later: the same token (§2.1)");
    sim.set_time(day1("15:59:00"));
    assert_eq!(reissued(&token_raw(sim.addr, &key).await), first, "5 h 59 min later: the same token");

    sim.set_time(day1("16:01:00"));
    let second = issued(&token_raw(sim.addr, &key).await);
    assert_ne!(second.0, first.0, "6 h 1 min after the issuance: a new token");
    assert_eq!(second.1, "2026-03-04 16:01:00", "the new token expires 24 h after its issuance");

    sim.advance(Duration::from_secs(61));
    assert_eq!(reissued(&token_raw(sim.addr, &key).await), second, "the reissue period restarts");
}

#[tokio::test]
async fn token_older_than_24_hours_is_rejected_with_egw00123() {
    let sim = start().await;
    let mut kis = Kis::new(&sim, 1).await; // issued 2026-03-03 10:00:00

    sim.set_time(day2("09:59:59"));
    let v = kis.balance().await.json();
    assert_eq!(v["rt_cd"], "0", "23:59:59 after issuance the token is valid: {v}");

    sim.set_time(day2("10:00:01"));
    let r = kis.balance().await;
    assert_gateway_error("inquiry with a token issued 24 h + 1 s ago", &r, &["EGW00123"]);
    let r = kis.buy(SYMBOL, 1, 1).await;
    assert_gateway_error("order with a token issued 24 h + 1 s ago", &r, &["EGW00123"]);

    // §2.1 client strategy: reissue and retry
    let (token, _) = issued(&token_raw(sim.addr, &kis.appkey).await);
    assert_ne!(token, kis.token, "a new token after expiry");
    kis.token = token;
    assert_eq!(kis.balance().await.json()["rt_cd"], "0");
}
