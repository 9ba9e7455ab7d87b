//! Response bodies (REFERENCE.md §3.2, §4.1, §4.4, §9; rest_endpoints.json): UTF-8 JSON, `rt_cd` /
//! `msg_cd` / `msg1` always present, every `output*` value a JSON string, account inquiries'
//! `msg1` padded to 80 EUC-KR bytes while order answers are not, order output fields.

use super::wire::*;

#[tokio::test]
async fn inquiry_and_order_bodies_follow_the_envelope() {
    let sim = start().await;
    let kis = Kis::new(&sim, 1).await;

    let balance = kis.balance().await;
    assert_eq!(balance.status, 200);
    let v = balance.json();
    assert_envelope("inquire-balance", &v);
    assert_eq!(v["rt_cd"], "0", "{v}");
    assert!(v["output1"].is_array(), "inquire-balance output1 is an array (§4.5): {v}");
    let out2 = v["output2"].as_array().expect("inquire-balance output2 is an array (§3.2, §4.5)");
    assert_eq!(out2.len(), 1, "inquire-balance output2 is an array with one element: {v}");
    assert_msg1_padded("inquire-balance", &v);

    let psbl = kis.psbl_order(SYMBOL).await;
    assert_eq!(psbl.status, 200);
    let v = psbl.json();
    assert_envelope("inquire-psbl-order", &v);
    assert_eq!(v["rt_cd"], "0", "{v}");
    assert!(v["output"].is_object(), "inquire-psbl-order output is an object (§4.6): {v}");

    let price = kis.price_below(SYMBOL, 3).await;
    let order = kis.buy(SYMBOL, 1, price).await;
    assert_eq!(order.status, 200);
    let v = order.json();
    assert_envelope("order-cash", &v);
    assert_eq!((v["rt_cd"].as_str(), v["msg_cd"].as_str()), (Some("0"), Some("APBK0013")), "{v}");
    let msg1 = v["msg1"].as_str().unwrap_or_default();
    assert!(!msg1.ends_with(' '), "order msg1 is not padded (§3.2): {msg1:?}");
    for (key, len) in [("KRX_FWDG_ORD_ORGNO", 5), ("ODNO", 10), ("ORD_TMD", 6)] {
        let got = field(&v["output"], key).unwrap_or_else(|| panic!("order output lacks {key}: {v}"));
        assert!(got.len() == len && got.bytes().all(|b| b.is_ascii_digit()), "{key} {got:?}: {len} digits");
    }

    let ccld = kis.daily_ccld(DAY1, "", "", "").await;
    assert_eq!(ccld.status, 200);
    let v = ccld.json();
    assert_envelope("inquire-daily-ccld", &v);
    assert_eq!(v["rt_cd"], "0", "{v}");
    assert!(v["output1"].is_array() && v["output2"].is_object(), "daily-ccld shapes (§4.4): {v}");
    assert_msg1_padded("inquire-daily-ccld", &v);
    let rows = v["output1"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["ord_dt"], DAY1);
    assert_eq!(field(&rows[0], "odno"), field(&order.json()["output"], "ODNO"));
}

#[tokio::test]
async fn business_rejection_is_http_200_with_an_envelope() {
    let sim = start().await;
    let kis = Kis::new(&sim, 1).await;
    // §8: orders outside the ±30 % band are rejected (e.g. APBK0406); §3.2/§9: business
    // rejections come with HTTP 200 and rt_cd != "0" ("7" per the §9 checklist).
    let (prpr, _) = kis.price(SYMBOL).await;
    let above = prpr * 2 - prpr * 2 % tick(prpr * 2);
    let r = kis.buy(SYMBOL, 1, above).await;
    let v = r.json();
    assert_eq!(r.status, 200, "{v}");
    assert_envelope("rejected order-cash", &v);
    assert_eq!(v["rt_cd"], "7", "{v}");
}
