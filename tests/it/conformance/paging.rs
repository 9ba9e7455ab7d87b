//! `tr_cont` paging of inquire-daily-ccld (REFERENCE.md §3.3, §4.4 "Page size: live 100, paper
//! 15", §9): header `tr_cont` F/M while more pages exist and D/E on the last, `ctx_area_fk100` /
//! `ctx_area_nk100` right-padded with spaces to exactly 100 characters and sent back unchanged
//! with request header `tr_cont: N`, and every order exactly once across the pages.

use std::collections::HashMap;

use super::wire::*;

/// REFERENCE.md §4.4 / rest_endpoints.json `inquire_daily_ccld.page_size.paper`.
const PAPER_PAGE: usize = 15;
const ORDERS: usize = 2 * PAPER_PAGE + 7;

#[tokio::test]
async fn daily_ccld_pages_hold_every_order_exactly_once() {
    let sim = start().await;
    let kis = Kis::new(&sim, 1).await;
    let price = kis.resting_buy_price(SYMBOL).await;
    let mut placed = Vec::new();
    for _ in 0..ORDERS {
        let v = kis.buy(SYMBOL, 1, price).await.json();
        assert_eq!(v["rt_cd"], "0", "{v}");
        placed.push(field(&v["output"], "ODNO").expect("ODNO").to_owned());
    }

    let (mut fk, mut nk, mut cont) = (String::new(), String::new(), "");
    let mut pages: Vec<(String, usize)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    loop {
        assert!(pages.len() <= ORDERS, "paging does not end: {pages:?}");
        let r = kis.daily_ccld(DAY1, &fk, &nk, cont).await;
        let v = r.json();
        assert_eq!(v["rt_cd"], "0", "page {}: {v}", pages.len() + 1);
        let rows = v["output1"].as_array().cloned().unwrap_or_default();
        for row in &rows {
            *seen.entry(field(row, "odno").expect("odno").to_owned()).or_default() += 1;
        }
        // The header is read by its exact lowercase name, as KIS's own samples do (§3.2).
        let tr_cont = r.header("tr_cont").map(str::to_owned).unwrap_or_else(|| {
            panic!("page {}: no header named exactly \"tr_cont\"\n{}", pages.len() + 1, r.head)
        });
        pages.push((tr_cont.clone(), rows.len()));
        for key in ["ctx_area_fk100", "ctx_area_nk100"] {
            let ctx = v[key].as_str().unwrap_or_else(|| panic!("page {}: {key} missing: {v}", pages.len()));
            assert_eq!(ctx.chars().count(), 100, "page {}: {key} {ctx:?} is not 100 characters", pages.len());
            assert!(
                !ctx.chars().any(char::is_control),
                "page {}: {key} {ctx:?} is padded with spaces",
                pages.len()
            );
        }
        match tr_cont.as_str() {
            "F" | "M" => {
                assert_eq!(rows.len(), PAPER_PAGE, "a page followed by more holds a paper page (15)");
                fk = v["ctx_area_fk100"].as_str().unwrap_or_default().to_owned();
                nk = v["ctx_area_nk100"].as_str().unwrap_or_default().to_owned();
                cont = "N";
            }
            "D" | "E" => break,
            other => panic!("page {}: tr_cont {other:?} is none of F/M/D/E", pages.len()),
        }
    }

    assert_eq!(pages.len(), ORDERS.div_ceil(PAPER_PAGE), "pages (tr_cont, rows): {pages:?}");
    assert_eq!(pages.last().map(|p| p.1), Some(ORDERS % PAPER_PAGE), "{pages:?}");
    let dup: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dup.is_empty(), "orders on more than one page: {dup:?}");
    let missing: Vec<_> = placed.iter().filter(|o| !seen.contains_key(*o)).collect();
    assert!(missing.is_empty(), "orders on no page: {missing:?} (pages {pages:?})");
    assert_eq!(seen.len(), ORDERS, "rows that are not our orders: {seen:?}");
}

#[tokio::test]
async fn a_single_page_ends_with_d_or_e() {
    let sim = start().await;
    let kis = Kis::new(&sim, 1).await;
    let price = kis.resting_buy_price(SYMBOL).await;
    for _ in 0..3 {
        assert_eq!(kis.buy(SYMBOL, 1, price).await.json()["rt_cd"], "0");
    }
    let r = kis.daily_ccld(DAY1, "", "", "").await;
    assert!(matches!(r.header("tr_cont"), Some("D" | "E")), "one page: tr_cont must be D/E\n{}", r.head);
    assert_eq!(r.json()["output1"].as_array().map(Vec::len), Some(3));
}
