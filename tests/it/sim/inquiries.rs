//! Account inquiries (pagination, padding), quotations and master files.

use std::io::Read;
use std::time::Duration;

use aegis::domain::Mode;
use serde_json::Value;

use super::*;
use crate::support::sim::daily_ccld_query;

fn euckr_len(s: &str) -> usize {
    encoding_rs::EUC_KR.encode(s).0.len()
}

#[tokio::test]
async fn daily_ccld_pages_fifteen_rows_on_paper_with_padded_keys() {
    let sim = start(Mode::Paper).await;
    let c = Client::new(&sim, 1, Mode::Paper).await;
    for i in 0..20 {
        let r = c.order(true, "005930", "00", 1, 60_000 + i * 100).await;
        assert_eq!(r.msg_cd(), "APBK0013");
    }
    let path = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld";
    let p1 = c.get(path, "VTTC0081R", &daily_ccld_query("20260303", "00", "", "")).await;
    assert_eq!(p1.tr_cont, "F");
    assert_eq!(p1.body["output1"].as_array().unwrap().len(), 15);
    let fk = p1.body["ctx_area_fk100"].as_str().unwrap().to_owned();
    let nk = p1.body["ctx_area_nk100"].as_str().unwrap().to_owned();
    assert_eq!((fk.len(), nk.len()), (100, 100));
    let msg1 = p1.body["msg1"].as_str().unwrap();
    assert_eq!(euckr_len(msg1), 80);
    let keys: Vec<&String> = match &p1.body {
        Value::Object(m) => m.keys().collect(),
        _ => vec![],
    };
    assert_eq!(keys.len(), 7);
    let p2 = c.get_cont(path, "VTTC0081R", &daily_ccld_query("20260303", "00", &fk, &nk), "N").await;
    assert_eq!(p2.tr_cont, "E");
    assert_eq!(p2.body["output1"].as_array().unwrap().len(), 5);
    assert_eq!(p2.body["output2"]["tot_ord_qty"], "20");
    let all = c.daily_ccld_all().await;
    let mut ids: Vec<&str> = all.iter().map(|r| r["odno"].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
}

#[tokio::test]
async fn live_only_account_inquiries() {
    let sim = start(Mode::Live).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    c.order(true, "000660", "01", 3, 0).await;
    sim.advance(Duration::from_secs(60));
    c.order(false, "000660", "01", 1, 0).await;
    let acct = [("CANO", CANO), ("ACNT_PRDT_CD", PRDT)];

    let mut q = acct.to_vec();
    q.extend([
        ("PDNO", "000660"),
        ("ORD_UNPR", ""),
        ("ORD_DVSN", "01"),
        ("CMA_EVLU_AMT_ICLD_YN", "N"),
        ("OVRS_ICLD_YN", "N"),
    ]);
    let po = c.get("/uapi/domestic-stock/v1/trading/inquire-psbl-order", "TTTC8908R", &q).await;
    assert_eq!(po.msg_cd(), "KIOK0510");
    assert!(num(&po.body["output"]["nrcvb_buy_qty"]) > 0);
    assert_eq!(po.body["output"].as_object().unwrap().len(), 12);

    let mut q = acct.to_vec();
    q.push(("PDNO", "000660"));
    let ps = c.get("/uapi/domestic-stock/v1/trading/inquire-psbl-sell", "TTTC8408R", &q).await;
    assert_eq!(ps.msg_cd(), "KIOK0420");
    assert_eq!(ps.body["output"]["ord_psbl_qty"], "2");

    let mut q = acct.to_vec();
    q.extend([
        ("SORT_DVSN", "00"),
        ("INQR_STRT_DT", "20260301"),
        ("INQR_END_DT", "20260331"),
        ("CBLC_DVSN", "00"),
        ("PDNO", ""),
        ("CTX_AREA_FK100", ""),
        ("CTX_AREA_NK100", ""),
    ]);
    let pr = c.get("/uapi/domestic-stock/v1/trading/inquire-period-trade-profit", "TTTC8715R", &q).await;
    assert_eq!(pr.rt_cd(), "0", "{:?}", pr.body);
    let row = &pr.body["output1"][0];
    assert_eq!(row["pdno"], "00000A000660");
    assert_eq!((row["buy_qty"].as_str(), row["sll_qty"].as_str()), (Some("3"), Some("1")));
    assert_eq!(pr.body["output2"]["buyqty_smtl"], "3");

    let b = c.balance().await;
    assert_eq!(b.body["output1"][0]["thdt_buyqty"], "3");
    assert_eq!(b.body["output1"][0]["ord_psbl_qty"], "2");
    assert_eq!(euckr_len(b.body["msg1"].as_str().unwrap()), 80);
}

#[tokio::test]
async fn quotations_follow_the_reference_layouts() {
    let sim = start(Mode::Live).await;
    let c = Client::new(&sim, 1, Mode::Live).await;
    sim.advance(Duration::from_secs(30 * 60));
    let code = [("FID_COND_MRKT_DIV_CODE", "J"), ("FID_INPUT_ISCD", "005930")];
    let p = c.get("/uapi/domestic-stock/v1/quotations/inquire-price", "FHKST01010100", &code).await;
    assert_eq!((p.msg_cd(), p.body["msg1"].as_str()), ("MCA00000", Some("정상처리 되었습니다.")));
    let o = &p.body["output"];
    assert_eq!(o.as_object().unwrap().len(), 82, "every field of rest_endpoints.json");
    assert_eq!(
        (o["stck_sdpr"].as_str(), o["stck_mxpr"].as_str(), o["stck_llam"].as_str()),
        (Some("71000"), Some("92300"), Some("49700"))
    );
    assert_eq!(o["aspr_unit"], "100");
    assert!(num(&o["acml_vol"]) > 0);

    let bad = c
        .get(
            "/uapi/domestic-stock/v1/quotations/inquire-price",
            "FHKST01010100",
            &[("FID_COND_MRKT_DIV_CODE", "Q"), ("FID_INPUT_ISCD", "005930")],
        )
        .await;
    assert_eq!(bad.msg_cd(), "OPSQ2001");

    let a = c
        .get("/uapi/domestic-stock/v1/quotations/inquire-asking-price-exp-ccn", "FHKST01010200", &code)
        .await;
    assert_eq!(a.body["output1"].as_object().unwrap().len(), 71);
    assert_eq!(a.body["output2"].as_object().unwrap().len(), 13);
    assert!(num(&a.body["output1"]["askp1"]) > num(&a.body["output1"]["bidp1"]));

    let h = c
        .get(
            "/uapi/domestic-stock/v1/quotations/chk-holiday",
            "CTCA0903R",
            &[("BASS_DT", "20260228"), ("CTX_AREA_NK", ""), ("CTX_AREA_FK", "")],
        )
        .await;
    let rows = h.body["output"].as_array().unwrap();
    assert_eq!(rows[0]["bass_dt"], "20260228");
    assert_eq!(rows[0]["opnd_yn"], "N", "Saturday");
    assert_eq!(rows[2]["opnd_yn"], "N", "substitute holiday 2026-03-02");
    assert_eq!(rows[3]["opnd_yn"], "Y");

    let si = c
        .get(
            "/uapi/domestic-stock/v1/quotations/search-info",
            "CTPF1604R",
            &[("PDNO", "005930"), ("PRDT_TYPE_CD", "300")],
        )
        .await;
    assert_eq!(si.msg_cd(), "KIOK0530");
    assert_eq!(si.body["output"]["std_pdno"], "KR7005930003");
    let nf = c
        .get(
            "/uapi/domestic-stock/v1/quotations/search-info",
            "CTPF1604R",
            &[("PDNO", "AAPL"), ("PRDT_TYPE_CD", "512")],
        )
        .await;
    assert_eq!(nf.rt_cd(), "7");
    let ss = c
        .get(
            "/uapi/domestic-stock/v1/quotations/search-stock-info",
            "CTPF1002R",
            &[("PRDT_TYPE_CD", "300"), ("PDNO", "000660")],
        )
        .await;
    assert_eq!(ss.body["output"].as_object().unwrap().len(), 67);
    assert_eq!(
        (ss.body["output"]["pdno"].as_str(), ss.body["output"]["mket_id_cd"].as_str()),
        (Some("00000A000660"), Some("STK"))
    );

    let d = c
        .get(
            "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice",
            "FHKST03010100",
            &[
                ("FID_COND_MRKT_DIV_CODE", "J"),
                ("FID_INPUT_ISCD", "005930"),
                ("FID_INPUT_DATE_1", "20250101"),
                ("FID_INPUT_DATE_2", "20260303"),
                ("FID_PERIOD_DIV_CODE", "D"),
                ("FID_ORG_ADJ_PRC", "0"),
            ],
        )
        .await;
    let bars = d.body["output2"].as_array().unwrap();
    assert_eq!(bars.len(), 100);
    assert_eq!(bars[0]["stck_bsop_date"], "20260303");
    assert!(bars.windows(2).all(|w| w[0]["stck_bsop_date"].as_str() > w[1]["stck_bsop_date"].as_str()));
    assert_eq!(d.body["output1"].as_object().unwrap().len(), 30);

    let m = c
        .get(
            "/uapi/domestic-stock/v1/quotations/inquire-time-itemchartprice",
            "FHKST03010200",
            &[
                ("FID_COND_MRKT_DIV_CODE", "J"),
                ("FID_INPUT_ISCD", "005930"),
                ("FID_INPUT_HOUR_1", "102000"),
                ("FID_PW_DATA_INCU_YN", "N"),
                ("FID_ETC_CLS_CODE", ""),
            ],
        )
        .await;
    let bars = m.body["output2"].as_array().unwrap();
    assert!(!bars.is_empty() && bars.len() <= 30);
    assert!(bars[0]["stck_cntg_hour"].as_str().unwrap() <= "102000");
    assert!(bars[0]["stck_cntg_hour"].as_str().unwrap().ends_with("00"));
}

#[tokio::test]
async fn master_files_are_cp949_fixed_width_zips() {
    let sim = start(Mode::Live).await;
    for (name, width, expect) in
        [("kospi_code.mst", 288, "005930"), ("kosdaq_code.mst", 282, ""), ("konex_code.mst", 245, "")]
    {
        let bytes = reqwest::get(format!("{}/common/master/{name}.zip", sim.rest_url))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let mut f = z.by_name(name).unwrap();
        let mut content = Vec::new();
        f.read_to_end(&mut content).unwrap();
        if expect.is_empty() {
            assert!(content.is_empty() || content.ends_with(b"\n"));
            continue;
        }
        assert!(content.ends_with(b"\n"));
        for line in content.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            assert_eq!(line.len(), width);
        }
        let first = content.split(|b| *b == b'\n').next().unwrap();
        assert_eq!(&first[..9], b"000660   ");
        let (name_field, _, bad) = encoding_rs::EUC_KR.decode(&first[21..61]);
        assert!(!bad);
        assert_eq!(name_field.trim_end(), "SK하이닉스");
        assert_eq!(&first[61..63], b"ST");
    }
    let missing = reqwest::get(format!("{}/common/master/idxcode.mst.zip", sim.rest_url)).await.unwrap();
    assert_eq!(missing.status(), 404);
}
