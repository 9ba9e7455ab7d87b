//! Order numbers (REFERENCE.md §4.1 order-cash output, §4.2, §9 "Order numbers"):
//! `ODNO` 10 digits zero-padded, `KRX_FWDG_ORD_ORGNO` 5 digits, `ORD_TMD` HHMMSS of the (sim)
//! clock, rising within a day, restarting on the next business day, and modify/cancel limited to
//! the same day's orders.

use std::time::Duration;

use serde_json::Value;

use super::wire::*;

/// (`KRX_FWDG_ORD_ORGNO`, `ODNO`, `ORD_TMD`) of an accepted order, formats checked.
fn accepted(r: &Raw) -> (String, String, String) {
    let v = r.json();
    assert_eq!((v["rt_cd"].as_str(), v["msg_cd"].as_str()), (Some("0"), Some("APBK0013")), "{v}");
    let get = |k: &str| field(&v["output"], k).unwrap_or_else(|| panic!("output lacks {k}: {v}")).to_owned();
    let (orgno, odno, tmd) = (get("KRX_FWDG_ORD_ORGNO"), get("ODNO"), get("ORD_TMD"));
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    assert!(digits(&odno, 10), "ODNO {odno:?} is not 10 zero-padded digits");
    assert!(digits(&orgno, 5), "KRX_FWDG_ORD_ORGNO {orgno:?} is not 5 digits");
    assert!(digits(&tmd, 6), "ORD_TMD {tmd:?} is not HHMMSS");
    (orgno, odno, tmd)
}

fn number(odno: &str) -> u64 {
    odno.parse().expect("ODNO digits")
}

fn assert_rising(day: &str, odnos: &[String]) {
    assert!(odnos.windows(2).all(|w| number(&w[0]) < number(&w[1])), "{day}: ODNOs not rising: {odnos:?}");
}

fn row<'a>(rows: &'a [Value], odno: &str) -> Option<&'a Value> {
    rows.iter()
        .find(|r| field(r, "odno") == Some(odno) && field(r, "orgn_odno").unwrap_or_default().is_empty())
}

#[tokio::test]
async fn order_numbers_have_the_documented_format_and_rise_within_a_day() {
    let sim = start().await;
    let kis = Kis::new(&sim, 1).await;
    let price = kis.resting_buy_price(SYMBOL).await;
    let mut placed = Vec::new();
    for s in 0..5 {
        let (orgno, odno, tmd) = accepted(&kis.buy(SYMBOL, 1, price).await);
        // frozen clock at 10:00:00 KST, one second further per order
        assert_eq!(tmd, format!("1000{s:02}"), "ORD_TMD follows the sim clock");
        placed.push((orgno, odno, tmd));
        sim.advance(Duration::from_secs(1));
    }
    let odnos: Vec<String> = placed.iter().map(|p| p.1.clone()).collect();
    assert_rising(DAY1, &odnos);

    let rows = kis.daily_ccld_all(DAY1).await;
    for (orgno, odno, tmd) in &placed {
        let r =
            row(&rows, odno).unwrap_or_else(|| panic!("order {odno} not in inquire-daily-ccld: {rows:?}"));
        assert_eq!(field(r, "ord_dt"), Some(DAY1), "{r}");
        assert_eq!(field(r, "ord_gno_brno"), Some(orgno.as_str()), "ord_gno_brno = KRX_FWDG_ORD_ORGNO: {r}");
        assert_eq!(field(r, "ord_tmd"), Some(tmd.as_str()), "{r}");
    }
}

/// Expected to fail until the simulator restarts numbering each business day (issue 17,
/// `SimConfig::daily_order_numbers`, default on).
#[tokio::test]
async fn order_numbers_restart_on_the_next_business_day() {
    let sim = start().await;
    let kis = Kis::new(&sim, 1).await;
    let price = kis.resting_buy_price(SYMBOL).await;
    let mut day1_odnos = Vec::new();
    for _ in 0..3 {
        day1_odnos.push(accepted(&kis.buy(SYMBOL, 1, price).await).1);
    }
    assert_rising(DAY1, &day1_odnos);

    sim.set_time(day2("09:30:00")); // within the token's 24 h (§2.1)
    let price = kis.resting_buy_price(SYMBOL).await;
    let mut day2_orders = Vec::new();
    for _ in 0..3 {
        day2_orders.push(accepted(&kis.buy(SYMBOL, 1, price).await));
    }
    let day2_odnos: Vec<String> = day2_orders.iter().map(|o| o.1.clone()).collect();
    assert_rising(DAY2, &day2_odnos);
    assert!(day2_orders.iter().all(|o| o.2 == "093000"), "ORD_TMD on day 2: {day2_orders:?}");
    assert_eq!(
        day2_odnos, day1_odnos,
        "numbering restarts each business day (§9), so day 2's first orders reuse day 1's numbers"
    );

    // The numbers now collide: a cancel sent on day 2 can only mean day 2's order (§9: only
    // same-day orders can be modified or cancelled); day 1's order of that number is untouched.
    let day1_before = kis.daily_ccld_all(DAY1).await;
    let (orgno, odno, _) = &day2_orders[0];
    let v = kis.cancel_all(orgno, odno).await.json();
    assert_eq!(v["rt_cd"], "0", "cancel of today's {odno}: {v}");
    let cancel_no = field(&v["output"], "ODNO").unwrap_or_default().to_owned();
    assert_ne!(&cancel_no, odno, "a cancel gets a new order number (§4.2)");
    let day2_rows = kis.daily_ccld_all(DAY2).await;
    assert!(
        day2_rows.iter().any(|r| field(r, "orgn_odno") == Some(odno.as_str())),
        "day 2's inquiry shows the cancel of {odno} (orgn_odno, §4.2): {day2_rows:?}"
    );
    assert_eq!(kis.daily_ccld_all(DAY1).await, day1_before, "day 1's orders are untouched");
}

#[tokio::test]
async fn cancel_of_an_order_number_known_only_from_a_previous_day_is_rejected() {
    let sim = start().await;
    let kis = Kis::new(&sim, 1).await;
    let price = kis.resting_buy_price(SYMBOL).await;
    let mut day1 = Vec::new();
    for _ in 0..4 {
        day1.push(accepted(&kis.buy(SYMBOL, 1, price).await));
    }
    sim.set_time(day2("09:30:00")); // within the token's 24 h (§2.1)
    let price = kis.resting_buy_price(SYMBOL).await;
    let today = accepted(&kis.buy(SYMBOL, 1, price).await);
    let (orgno, old_odno, _) = &day1[3];
    assert_ne!(old_odno, &today.1, "day 2 has a single order, numbered differently from day 1's fourth");

    let day1_before = kis.daily_ccld_all(DAY1).await;
    let day2_before = kis.daily_ccld_all(DAY2).await;
    assert!(row(&day1_before, old_odno).is_some(), "{old_odno} is in day 1's inquiry");
    // §9: only same-day orders can be modified or cancelled. The spec names no code for this
    // rejection, so only rt_cd != "0" (§3.2 "anything else is failure") is asserted.
    let cancel = kis.cancel_all(orgno, old_odno).await.json();
    assert_ne!(cancel["rt_cd"], "0", "cancel of yesterday's {old_odno} on day 2 must fail: {cancel}");
    let modify = modify_price(&kis, orgno, old_odno, price).await;
    assert_ne!(modify["rt_cd"], "0", "modify of yesterday's {old_odno} on day 2 must fail: {modify}");

    assert_eq!(kis.daily_ccld_all(DAY1).await, day1_before, "day 1's orders are untouched");
    assert_eq!(kis.daily_ccld_all(DAY2).await, day2_before, "today's orders are untouched");
}

/// Modify of the whole remainder to `price` (§4.2, `RVSE_CNCL_DVSN_CD 01`).
async fn modify_price(kis: &Kis, orgno: &str, odno: &str, price: i64) -> Value {
    let body = serde_json::json!({"CANO":CANO,"ACNT_PRDT_CD":PRDT,"KRX_FWDG_ORD_ORGNO":orgno,"ORGN_ODNO":odno,
        "ORD_DVSN":"00","RVSE_CNCL_DVSN_CD":"01","ORD_QTY":"0","ORD_UNPR":price.to_string(),"QTY_ALL_ORD_YN":"Y"});
    kis.post(RVSECNCL, "VTTC0013U", &body).await.json()
}
