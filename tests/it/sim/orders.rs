//! Orders, matching, modify/cancel and business rejections.

use std::time::Duration;

use aegis::domain::Mode;
use rust_decimal::Decimal;
use serde_json::Value;

use super::*;
use crate::support::sim::dec;

fn fills(sim: &aegis::sim::SimHandle) -> Vec<Value> {
    sim.state()["fills"].as_array().unwrap().clone()
}

#[tokio::test]
async fn marketable_limit_and_market_orders_fill_and_settle_cash_and_tax() {
    let sim = start(Mode::Paper).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;
    let r = c.order(true, "005930", "00", 10, 92_300).await;
    assert_eq!((r.status, r.rt_cd(), r.msg_cd()), (200, "0", "APBK0013"), "{:?}", r.body);
    assert_eq!(r.body["msg1"], "주문 전송 완료 되었습니다.");
    assert_eq!(r.body["output"]["KRX_FWDG_ORD_ORGNO"], "06010");
    assert_eq!(odno(&r).len(), 10);
    assert_eq!(r.body["output"]["ORD_TMD"], "100000");
    let r = c.order(false, "005930", "01", 4, 0).await;
    assert_eq!(r.msg_cd(), "APBK0013");

    let f = fills(&sim);
    let (mut cash, mut held) = (Decimal::from(100_000_000), 0_i64);
    for x in &f {
        let amount = Decimal::from(x["price"].as_i64().unwrap() * x["qty"].as_i64().unwrap());
        let comm = dec(&x["commission"]);
        assert_eq!(comm, (amount * Decimal::new(15, 5)).floor());
        if x["side"] == "BUY" {
            cash -= amount + comm;
            held += x["qty"].as_i64().unwrap();
            assert_eq!(dec(&x["tax"]), Decimal::ZERO);
        } else {
            let tax = dec(&x["tax"]);
            assert_eq!(tax, (amount * Decimal::new(20, 4)).floor());
            cash -= -amount + comm + tax;
            held -= x["qty"].as_i64().unwrap();
        }
    }
    assert_eq!(held, 6);
    let b = c.balance().await;
    assert_eq!(b.body["output2"].as_array().unwrap().len(), 1);
    assert_eq!(num(&b.body["output2"][0]["dnca_tot_amt"]), cash.round().to_string().parse::<i64>().unwrap());
    let row = &b.body["output1"][0];
    assert_eq!(row["pdno"], "005930");
    assert_eq!(row["hldg_qty"], "6");
    assert!(row["pchs_avg_pric"].as_str().unwrap().split('.').nth(1).unwrap().len() == 4);
}

#[tokio::test]
async fn resting_limit_orders_fill_when_the_market_reaches_them_partially_when_short() {
    let sim = start(Mode::Paper).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;
    let r = c.order(true, "005930", "00", 5, 70_000).await;
    assert_eq!(r.msg_cd(), "APBK0013");
    assert!(fills(&sim).is_empty(), "below the market it rests");
    sim.advance(Duration::from_secs(1));
    sim.set_price("005930", 70_000).unwrap();
    let _ = &r;
    let rows = c.daily_ccld_all().await;
    let row = rows.iter().find(|x| x["odno"] == odno(&r).as_str()).unwrap();
    assert_eq!(row["tot_ccld_qty"], "5");
    assert_eq!(row["rmn_qty"], "0");
    assert_eq!(row["avg_prvs"], "70000");

    // partial: a print of 3 shares against a resting order of 5
    let r2 = c.order(true, "005930", "00", 5, 69_000).await;
    let body = serde_json::json!({"symbol":"005930","price":69000,"qty":3});
    let http = reqwest::Client::new();
    http.post(format!("{}/__sim/market", sim.rest_url)).json(&body).send().await.unwrap();
    let rows = c.daily_ccld_all().await;
    let row = rows.iter().find(|x| x["odno"] == odno(&r2).as_str()).unwrap();
    assert_eq!((row["tot_ccld_qty"].as_str(), row["rmn_qty"].as_str()), (Some("3"), Some("2")));
}

#[tokio::test]
async fn modify_and_cancel_partially_and_entirely() {
    let sim = start(Mode::Live).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    let r = c.order(true, "005930", "00", 10, 70_000).await;
    let orig = odno(&r);
    let over = c.amend(&orig, false, "00", 20, 70_100, false).await;
    assert_eq!((over.rt_cd(), over.msg_cd()), ("7", "APBK1359"));
    let m = c.amend(&orig, false, "00", 4, 70_100, false).await;
    assert_eq!(m.msg_cd(), "APBK0013", "{:?}", m.body);
    let modified = odno(&m);
    assert_ne!(modified, orig);
    let psbl = c
        .get(
            "/uapi/domestic-stock/v1/trading/inquire-psbl-rvsecncl",
            "TTTC0084R",
            &[
                ("CANO", CANO),
                ("ACNT_PRDT_CD", PRDT),
                ("CTX_AREA_FK100", ""),
                ("CTX_AREA_NK100", ""),
                ("INQR_DVSN_1", "0"),
                ("INQR_DVSN_2", "0"),
            ],
        )
        .await;
    let rows = psbl.body["output"].as_array().unwrap();
    let q =
        |o: &str| rows.iter().find(|x| x["odno"] == o).map(|x| x["psbl_qty"].as_str().unwrap().to_owned());
    assert_eq!(q(&orig).as_deref(), Some("6"));
    assert_eq!(q(&modified).as_deref(), Some("4"));
    assert_eq!(rows.iter().find(|x| x["odno"] == modified.as_str()).unwrap()["orgn_odno"], orig.as_str());

    let cx = c.amend(&orig, true, "00", 0, 0, true).await;
    assert_eq!(cx.msg_cd(), "APBK0013");
    let again = c.amend(&orig, true, "00", 0, 0, true).await;
    assert_eq!((again.rt_cd(), again.msg_cd()), ("7", "APBK0581"));
    let rows = c.daily_ccld_all().await;
    let cancel_row = rows.iter().find(|x| x["odno"] == odno(&cx).as_str()).unwrap();
    assert_eq!(cancel_row["cncl_yn"], "Y");
    assert_eq!(cancel_row["cncl_cfrm_qty"], "6");
    let acct = &sim.state()["accounts"][0];
    let reserved = dec(&acct["reserved"]);
    let need = Decimal::from(70_100 * 4) + (Decimal::from(70_100 * 4) * Decimal::new(15, 5)).ceil();
    assert_eq!(reserved, need, "only the modified remainder stays reserved");
}

#[tokio::test]
async fn business_rejections_carry_kis_codes() {
    let sim = start(Mode::Paper).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;
    let cases: [(bool, &str, &str, i64, i64, &str); 8] = [
        (true, "005930", "00", 1, 92_400, "APBK0406"),
        (true, "005930", "00", 1, 49_600, "APBK0407"),
        (true, "005930", "00", 1, 70_050, "APBK0507"),
        (true, "123456", "00", 1, 10_000, "APBK0656"),
        (true, "005930", "00", 10_000, 90_000, "APBK0952"),
        (false, "005930", "00", 1, 71_000, "APBK0400"),
        (true, "005930", "22", 1, 71_000, "APBK0536"),
        (true, "005930", "00", 0, 71_000, "APBK0508"),
    ];
    for (buy, code, dvsn, qty, price, want) in cases {
        let r = c.order(buy, code, dvsn, qty, price).await;
        assert_eq!(
            (r.status, r.rt_cd(), r.msg_cd()),
            (200, "7", want),
            "{code} {dvsn} {qty}@{price}: {:?}",
            r.body
        );
    }
    let filled = c.order(true, "005930", "01", 1, 0).await;
    let cx = c.amend(&odno(&filled), true, "00", 0, 0, true).await;
    assert_eq!(cx.msg_cd(), "APBK0581", "a filled order cannot be cancelled");

    sim.set_time(day_at(16, 0));
    let r = c.order(true, "005930", "00", 1, 71_000).await;
    assert_eq!(r.body, serde_json::json!({"rt_cd":"1","msg_cd":"40580000","msg1":"모의투자 장종료 입니다."}));
    assert!(
        sim.state()["orders"].as_array().unwrap().iter().all(|o| o["status"] != "Open"),
        "day orders expire at the close"
    );
}

#[tokio::test]
async fn fok_that_cannot_fill_is_cancelled_and_ioc_keeps_what_it_got() {
    let cfg = aegis::sim::SimConfig { cash: Decimal::from(100_000_000_000_i64), ..config(Mode::Live) };
    let sim = start_with(cfg).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    let fok = c.order(true, "005930", "14", 30_000, 0).await;
    assert_eq!(fok.msg_cd(), "APBK0013");
    let ioc = c.order(true, "005930", "13", 30_000, 0).await;
    let rows = c.daily_ccld_all().await;
    let fok_row = rows.iter().find(|x| x["odno"] == odno(&fok).as_str()).unwrap();
    assert_eq!((fok_row["tot_ccld_qty"].as_str(), fok_row["rmn_qty"].as_str()), (Some("0"), Some("0")));
    assert_eq!(fok_row["ccld_cndt_name"], "FOK");
    let ioc_row = rows.iter().find(|x| x["odno"] == odno(&ioc).as_str()).unwrap();
    let got = num(&ioc_row["tot_ccld_qty"]);
    assert!(got > 0 && got < 30_000, "IOC took the book's liquidity only: {got}");
    assert_eq!(ioc_row["rmn_qty"], "0");
}
