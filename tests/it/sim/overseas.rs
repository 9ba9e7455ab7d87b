//! The simulator's US side through a plain HTTP client (reqwest) and a raw WebSocket, as an
//! unmodified third-party KIS client uses it: the account-query sequence that reads the domestic
//! and the overseas endpoints, US orders matched against the USD market with their H0GSCNI0
//! notices, KR and US subscriptions on one socket within the 41-registration budget, the US day
//! roll-over and the fault controls on overseas endpoints.

use std::time::Duration;

use aegis::domain::Mode;
use aegis::sim::us::{UsConfig, UsHoldingSeed};
use aegis::sim::{FaultCommand, SimConfig, TokenFault};
use chrono::DateTime;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::*;

const OVRS: &str = "/uapi/overseas-stock/v1/trading";
const OVRS_PRICE: &str = "/uapi/overseas-price/v1/quotations";

/// 2026-03-03 10:00 New York (EST) = 2026-03-04 00:00 KST: the US regular session runs, KRX is
/// closed.
fn us_session() -> chrono::DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339("2026-03-04T00:00:00+09:00").unwrap()
}

fn us_config(mode: Mode) -> SimConfig {
    SimConfig {
        start: Some(us_session()),
        us: UsConfig { holdings: vec![UsHoldingSeed::parse("KO=4@60").unwrap()], ..UsConfig::default() },
        ..config(mode)
    }
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).trim().parse().unwrap()
}

impl Client {
    fn us_tr(&self, live: &str) -> String {
        match (self.mode, live) {
            (Mode::Paper, "TTTT1006U") => "VTTT1001U".to_owned(),
            _ => self.tr(live),
        }
    }

    async fn us_price(&self, symbol: &str) -> Reply {
        self.get(
            &format!("{OVRS_PRICE}/price"),
            "HHDFS00000300",
            &[("AUTH", ""), ("EXCD", "NAS"), ("SYMB", symbol)],
        )
        .await
    }

    async fn us_order(&self, sell: bool, symbol: &str, dvsn: &str, qty: i64, price: &str) -> Reply {
        let tr = self.us_tr(if sell { "TTTT1006U" } else { "TTTT1002U" });
        let exch = if symbol == "KO" { "NYSE" } else { "NASD" };
        let body = json!({"CANO":CANO,"ACNT_PRDT_CD":PRDT,"OVRS_EXCG_CD":exch,"PDNO":symbol,"ORD_QTY":qty.to_string(),
            "OVRS_ORD_UNPR":price,"CTAC_TLNO":"","MGCO_APTM_ODNO":"","SLL_TYPE":if sell {"00"} else {""},
            "ORD_SVR_DVSN_CD":"0","ORD_DVSN":dvsn});
        self.post(&format!("{OVRS}/order"), &tr, &body).await
    }

    async fn us_amend(&self, symbol: &str, odno: &str, cancel: bool, qty: i64, price: &str) -> Reply {
        let body = json!({"CANO":CANO,"ACNT_PRDT_CD":PRDT,"OVRS_EXCG_CD":"NASD","PDNO":symbol,"ORGN_ODNO":odno,
            "RVSE_CNCL_DVSN_CD":if cancel {"02"} else {"01"},"ORD_QTY":qty.to_string(),"OVRS_ORD_UNPR":price,
            "MGCO_APTM_ODNO":"","ORD_SVR_DVSN_CD":"0"});
        self.post(&format!("{OVRS}/order-rvsecncl"), &self.tr("TTTT1004U"), &body).await
    }

    async fn us_nccs(&self) -> Reply {
        let q = [
            ("CANO", CANO),
            ("ACNT_PRDT_CD", PRDT),
            ("OVRS_EXCG_CD", "NASD"),
            ("SORT_SQN", "DS"),
            ("CTX_AREA_FK200", ""),
            ("CTX_AREA_NK200", ""),
        ];
        self.get(&format!("{OVRS}/inquire-nccs"), &self.tr("TTTS3018R"), &q).await
    }

    /// Every row of inquire-ccnl for one New York date, following tr_cont.
    async fn us_ccnl_all(&self, date: &str) -> Vec<Value> {
        let (mut rows, mut fk, mut nk, mut cont) = (Vec::new(), String::new(), String::new(), String::new());
        for _ in 0..50 {
            let q = [
                ("CANO", CANO),
                ("ACNT_PRDT_CD", PRDT),
                ("PDNO", ""),
                ("ORD_STRT_DT", date),
                ("ORD_END_DT", date),
                ("SLL_BUY_DVSN", "00"),
                ("CCLD_NCCS_DVSN", "00"),
                ("OVRS_EXCG_CD", ""),
                ("SORT_SQN", "DS"),
                ("ORD_DT", ""),
                ("ORD_GNO_BRNO", ""),
                ("ODNO", ""),
                ("CTX_AREA_NK200", nk.as_str()),
                ("CTX_AREA_FK200", fk.as_str()),
            ];
            let r = self.get_cont(&format!("{OVRS}/inquire-ccnl"), &self.tr("TTTS3035R"), &q, &cont).await;
            assert_eq!(r.rt_cd(), "0", "{:?}", r.body);
            rows.extend(r.body["output"].as_array().cloned().unwrap_or_default());
            if !matches!(r.tr_cont.as_str(), "F" | "M") {
                return rows;
            }
            fk = r.body["ctx_area_fk200"].as_str().unwrap().to_owned();
            nk = r.body["ctx_area_nk200"].as_str().unwrap().to_owned();
            cont = "N".into();
        }
        panic!("inquire-ccnl does not end");
    }

    async fn us_balance(&self) -> Reply {
        let q = [
            ("CANO", CANO),
            ("ACNT_PRDT_CD", PRDT),
            ("OVRS_EXCG_CD", "NASD"),
            ("TR_CRCY_CD", "USD"),
            ("CTX_AREA_FK200", ""),
            ("CTX_AREA_NK200", ""),
        ];
        self.get(&format!("{OVRS}/inquire-balance"), &self.tr("TTTS3012R"), &q).await
    }

    async fn us_present_balance(&self) -> Reply {
        let q = [
            ("CANO", CANO),
            ("ACNT_PRDT_CD", PRDT),
            ("WCRC_FRCR_DVSN_CD", "02"),
            ("NATN_CD", "000"),
            ("TR_MKET_CD", "00"),
            ("INQR_DVSN_CD", "00"),
        ];
        let tr = match self.mode {
            Mode::Live => "CTRP6504R",
            Mode::Paper => "VTRP6504R",
        };
        self.get(&format!("{OVRS}/inquire-present-balance"), tr, &q).await
    }

    async fn us_psamount(&self, symbol: &str, price: &str) -> Reply {
        let q = [
            ("CANO", CANO),
            ("ACNT_PRDT_CD", PRDT),
            ("OVRS_EXCG_CD", "NASD"),
            ("OVRS_ORD_UNPR", price),
            ("ITEM_CD", symbol),
        ];
        self.get(&format!("{OVRS}/inquire-psamount"), &self.tr("TTTS3007R"), &q).await
    }
}

/// A buy limit about 1% above the last price, on the cent grid: it crosses the simulated book
/// (ten one-cent levels above the last price).
fn marketable(last: Decimal) -> String {
    format!("{:.2}", (last * Decimal::new(101, 2)).round_dp(2))
}

fn holding<'a>(rows: &'a Value, symbol: &str, key: &str) -> Option<&'a Value> {
    rows.as_array()?.iter().find(|r| r[key] == symbol)
}

#[tokio::test]
async fn a_third_party_account_sequence_reads_domestic_and_overseas_endpoints() {
    let sim = start_with(us_config(Mode::Paper)).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;

    // The sequence a client's "account" call runs: domestic balance, daily orders, buying power,
    // then the overseas present balance, unfilled orders, daily orders and balance.
    let dom = c.balance().await;
    assert_eq!(dom.rt_cd(), "0", "{:?}", dom.body);
    let krw_before = dom.body["output2"][0]["dnca_tot_amt"].clone();
    assert!(c.daily_ccld_all().await.is_empty());
    let present = c.us_present_balance().await;
    assert_eq!((present.status, present.rt_cd()), (200, "0"), "{:?}", present.body);
    assert_eq!(present.body["output2"][0]["crcy_cd"], "USD");
    assert_eq!(dec(&present.body["output2"][0]["frcr_dncl_amt_2"]), Decimal::from(100_000));
    assert_eq!(
        holding(&present.body["output1"], "KO", "pdno").map(|r| r["cblc_qty13"].clone()),
        Some(json!("4"))
    );
    let nccs = c.us_nccs().await;
    assert_eq!((nccs.rt_cd(), nccs.tr_cont.as_str()), ("0", "D"), "{:?}", nccs.body);
    assert!(nccs.body["output"].as_array().unwrap().is_empty());
    assert!(c.us_ccnl_all("20260303").await.is_empty());
    let bal = c.us_balance().await;
    assert_eq!(bal.rt_cd(), "0", "{:?}", bal.body);
    // Paper NASD means Nasdaq only (overseas.md §1.1): the NYSE position KO is not listed.
    assert!(holding(&bal.body["output1"], "KO", "ovrs_pdno").is_none(), "{:?}", bal.body);

    // A US buy through the paper TR fills against the USD market.
    let last = dec(&c.us_price("AAPL").await.body["output"]["last"]);
    let ps = c.us_psamount("AAPL", &marketable(last)).await;
    assert_eq!(ps.rt_cd(), "0", "{:?}", ps.body);
    assert!(ps.body["output"]["ord_psbl_qty"].as_str().unwrap().parse::<i64>().unwrap() > 100);
    let buy = c.us_order(false, "AAPL", "00", 5, &marketable(last)).await;
    assert_eq!((buy.rt_cd(), buy.msg_cd()), ("0", "APBK0013"), "{:?}", buy.body);
    let buy_no = odno(&buy);

    let bal = c.us_balance().await;
    let row = holding(&bal.body["output1"], "AAPL", "ovrs_pdno").unwrap_or_else(|| panic!("{:?}", bal.body));
    assert_eq!(row["ovrs_cblc_qty"], "5");
    assert_eq!(row["ovrs_excg_cd"], "NASD");
    let ccnl = c.us_ccnl_all("20260303").await;
    assert_eq!(ccnl.len(), 1);
    assert_eq!(
        (ccnl[0]["odno"].as_str(), ccnl[0]["ft_ccld_qty"].as_str()),
        (Some(buy_no.as_str()), Some("5"))
    );
    let present = c.us_present_balance().await;
    let cash = dec(&present.body["output2"][0]["frcr_dncl_amt_2"]);
    let paid = dec(&ccnl[0]["ft_ccld_amt3"]);
    assert!(
        cash < Decimal::from(100_000) - paid + Decimal::ONE && cash > Decimal::from(99_000) - paid,
        "{cash}"
    );

    // The domestic side does not see the US order, fill or position.
    let dom = c.balance().await;
    assert_eq!(dom.body["output2"][0]["dnca_tot_amt"], krw_before);
    assert!(holding(&dom.body["output1"], "AAPL", "pdno").is_none());
    assert!(c.daily_ccld_all().await.is_empty());
}

#[tokio::test]
async fn us_orders_fill_notify_modify_cancel_and_close() {
    let sim = start_with(us_config(Mode::Live)).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    let key = c.approval().await;
    let mut ws = ws_connect(&sim, "/tryitout").await;
    let ack = subscribe(&mut ws, &key, "H0GSCNI0", HTS).await;
    assert_eq!(ack["body"]["msg_cd"], "OPSP0000", "{ack}");
    let (k, iv) =
        (ack["body"]["output"]["key"].as_str().unwrap(), ack["body"]["output"]["iv"].as_str().unwrap());

    let last = dec(&c.us_price("AAPL").await.body["output"]["last"]);
    let buy = c.us_order(false, "AAPL", "00", 3, &marketable(last)).await;
    assert_eq!(buy.rt_cd(), "0", "{:?}", buy.body);
    let buy_no = odno(&buy);
    // Receipt then fill notices (CNTG_YN 1, then 2), decrypted with the ack's key and iv.
    let mut filled = 0;
    while filled < 3 {
        let f = next_text(&mut ws).await;
        let parts: Vec<&str> = f.splitn(4, '|').collect();
        assert_eq!((parts[0], parts[1]), ("1", "H0GSCNI0"), "{f}");
        let rec: Vec<String> = decrypt(k, iv, parts[3]).split('^').map(str::to_owned).collect();
        assert_eq!(rec.len(), 25);
        assert_eq!(rec[2], buy_no);
        if rec[12] == "2" {
            filled += rec[8].parse::<i64>().unwrap();
            assert_eq!(rec[15].parse::<i64>().unwrap(), 3, "ODER_QTY of a fill is the order quantity");
        }
    }

    // A resting buy, modified then cancelled.
    let rest = c.us_order(false, "AAPL", "00", 2, "100.00").await;
    let rest_no = odno(&rest);
    let m = c.us_amend("AAPL", &rest_no, false, 2, "101.00").await;
    assert_eq!(m.rt_cd(), "0", "{:?}", m.body);
    let mod_no = odno(&m);
    assert_ne!(mod_no, rest_no);
    let open = c.us_nccs().await.body["output"].as_array().cloned().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (open[0]["odno"].as_str(), open[0]["ft_ord_unpr3"].as_str()),
        (Some(mod_no.as_str()), Some("101.0000"))
    );
    assert_eq!(open[0]["orgn_odno"], json!(rest_no));
    let off_tick = c.us_amend("AAPL", &mod_no, false, 2, "101.005").await;
    assert_eq!(off_tick.rt_cd(), "7", "{:?}", off_tick.body);
    let x = c.us_amend("AAPL", &mod_no, true, 0, "0").await;
    assert_eq!(x.rt_cd(), "0", "{:?}", x.body);
    assert!(c.us_nccs().await.body["output"].as_array().unwrap().is_empty());

    // Sells: more than held is refused; a market-on-close sell rests and crosses at the close.
    assert_eq!(c.us_order(true, "AAPL", "00", 4, "1.00").await.rt_cd(), "7");
    assert_eq!(c.us_order(true, "AAPL", "31", 1, "0").await.rt_cd(), "7", "MOO after the open");
    let moc = c.us_order(true, "AAPL", "33", 3, "0").await;
    assert_eq!(moc.rt_cd(), "0", "{:?}", moc.body);
    let moc_no = odno(&moc);
    assert_eq!(c.us_nccs().await.body["output"].as_array().unwrap().len(), 1);
    let before = sim.state()["accounts"][0]["usd"]["cash"].as_str().unwrap().parse::<Decimal>().unwrap();
    // 16:00 New York is 06:00 KST; the US day rolls at New York midnight (14:00 KST).
    sim.set_time(DateTime::parse_from_rfc3339("2026-03-04T14:30:00+09:00").unwrap());
    let st = sim.state();
    assert_eq!(st["us_trading_date"], "2026-03-04");
    let after = st["accounts"][0]["usd"]["cash"].as_str().unwrap().parse::<Decimal>().unwrap();
    assert!(after > before, "the MOC sell was paid: {before} -> {after}");
    let ccnl = c.us_ccnl_all("20260303").await;
    let row = ccnl.iter().find(|r| r["odno"] == json!(moc_no)).unwrap();
    assert_eq!(row["ft_ccld_qty"], "3", "{row}");
    assert!(c.us_nccs().await.body["output"].as_array().unwrap().is_empty());
    // Outside the session US orders are refused (overseas.md §2).
    assert_eq!(c.us_order(false, "AAPL", "00", 1, "1.00").await.rt_cd(), "7");
}

#[tokio::test]
async fn kr_and_us_subscriptions_share_one_socket() {
    let sim = start_with(us_config(Mode::Live)).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    let key = c.approval().await;
    let mut ws = ws_connect(&sim, "/tryitout").await;
    for (tr, k) in [("H0STCNI0", HTS), ("H0GSCNI0", HTS), ("HDFSCNT0", "DNASAAPL"), ("H0STCNT0", "005930")] {
        let a = subscribe(&mut ws, &key, tr, k).await;
        assert_eq!(a["body"]["msg_cd"], "OPSP0000", "{tr}: {a}");
        assert_eq!(a["header"]["encrypt"], if tr.ends_with("CNI0") { "Y" } else { "N" }, "{a}");
    }
    let state = sim.state();
    let regs = state["ws_sessions"][0]["registrations"].as_array().unwrap();
    assert_eq!(regs.len(), 4, "{regs:?}");

    let mut trade = None;
    for _ in 0..40 {
        sim.advance(Duration::from_secs(5));
        let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_millis(300), ws.next()).await
        else {
            continue;
        };
        if t.as_str().starts_with("0|HDFSCNT0|") {
            trade = Some(t.as_str().to_owned());
            break;
        }
    }
    let frame = trade.expect("a HDFSCNT0 frame while the US session runs");
    let parts: Vec<&str> = frame.splitn(4, '|').collect();
    let n: usize = parts[2].parse().unwrap();
    let fields: Vec<&str> = parts[3].split('^').collect();
    assert_eq!(fields.len(), 26 * n, "{frame}");
    for rec in fields.chunks(26) {
        assert_eq!((rec[0], rec[1], rec[2]), ("DNASAAPL", "AAPL", "4"));
        let last: Decimal = rec[11].parse().unwrap();
        let evol: i64 = rec[19].parse().unwrap();
        assert!(last > Decimal::ONE && evol > 0, "{frame}");
        assert!(rec[5].len() == 6 && rec[7].len() == 6, "XHMS / KHMS: {frame}");
    }
}

#[tokio::test]
async fn overseas_registrations_count_toward_the_41_budget() {
    let mut us = vec!["AAPL".to_owned()];
    us.extend((0..19).map(|i| format!("ZQ{}", char::from(b'A' + i))));
    let cfg =
        SimConfig { us: UsConfig { symbols: us.clone(), ..UsConfig::default() }, ..us_config(Mode::Live) };
    let sim = start_with(cfg).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    let key = c.approval().await;
    let mut ws = ws_connect(&sim, "/tryitout").await;
    let mut n = 0;
    for s in &us {
        for tr in ["HDFSCNT0", "HDFSASP0"] {
            let a = subscribe(&mut ws, &key, tr, &format!("DNAS{s}")).await;
            assert_eq!(a["body"]["msg_cd"], "OPSP0000", "{a}");
            n += 1;
        }
    }
    let a = subscribe(&mut ws, &key, "H0GSCNI0", HTS).await;
    assert_eq!(a["body"]["msg_cd"], "OPSP0000", "{a}");
    assert_eq!(n + 1, 41);
    let over = subscribe(&mut ws, &key, "H0STCNT0", "005930").await;
    assert_eq!(
        (over["body"]["rt_cd"].as_str(), over["body"]["msg_cd"].as_str()),
        (Some("1"), Some("OPSP0008")),
        "{over}"
    );
}

#[tokio::test]
async fn faults_hit_the_overseas_endpoints_too() {
    let sim = start_with(us_config(Mode::Live)).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    assert_eq!(c.us_price("AAPL").await.rt_cd(), "0");
    sim.inject(FaultCommand::Rest5xx { count: 1, status: None });
    let r = c.us_balance().await;
    assert_eq!((r.status, r.msg_cd()), (500, "EGW00203"));
    sim.inject(FaultCommand::RateLimitStorm { count: 1 });
    assert_eq!(c.us_present_balance().await.msg_cd(), "EGW00201");
    sim.inject(FaultCommand::Delay { ms: 0 });
    assert_eq!(c.us_nccs().await.rt_cd(), "0");
    sim.inject(FaultCommand::Token { action: TokenFault::Revoke });
    let r = c.us_order(false, "AAPL", "00", 1, "1.00").await;
    assert_eq!((r.status, r.msg_cd()), (500, "EGW00121"));
    assert!(sim.state()["orders"].as_array().unwrap().is_empty(), "a refused call places nothing");
}

#[tokio::test]
async fn present_balance_amounts_follow_the_currency_code() {
    async fn total(c: &Client, wcrc: &str) -> String {
        let q = [
            ("CANO", CANO),
            ("ACNT_PRDT_CD", PRDT),
            ("WCRC_FRCR_DVSN_CD", wcrc),
            ("NATN_CD", "840"),
            ("TR_MKET_CD", "00"),
            ("INQR_DVSN_CD", "00"),
        ];
        let r = c.get(&format!("{OVRS}/inquire-present-balance"), "VTRP6504R", &q).await;
        assert_eq!(r.rt_cd(), "0", "{:?}", r.body);
        r.body["output3"]["tot_asst_amt"].as_str().unwrap().to_owned()
    }
    let sim = start_with(us_config(Mode::Paper)).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;
    // 100,000,000 KRW + (100,000 USD + 4 KO) at 1,400 KRW a dollar.
    let krw: Decimal = total(&c, "01").await.parse().unwrap();
    assert!(krw > Decimal::from(240_000_000) && krw.fract().is_zero(), "{krw}");
    let usd: Decimal = total(&c, "02").await.parse().unwrap();
    assert!(usd > Decimal::from(171_000) && usd < Decimal::from(172_000), "{usd}");
    let cfg = SimConfig {
        us: UsConfig { present_output3_krw: true, ..us_config(Mode::Paper).us },
        ..us_config(Mode::Paper)
    };
    let sim2 = start_with(cfg).await;
    let c2 = Client::new(&sim2, 2, Mode::Paper).await;
    assert_eq!(total(&c2, "02").await.parse::<Decimal>().unwrap(), krw, "configured: output3 stays in KRW");
}
