//! The overseas (US) adapter against the simulator's US side over real sockets (issue #23): a
//! US order → fill → the decrypted H0GSCNI9 notice decoded by aegis's codec → the holding and
//! the order history; a resting order modified and cancelled; the account's USD side.

use std::sync::Arc;

use aegis::app::SimTimeClock;
use aegis::domain::Side;
use aegis::domain::overseas::{
    Ticker, UsAmendRequest, UsExchange, UsNoticeKind, UsOrderRequest, UsOrderType,
};
use aegis::kis::http::client::KisRest;
use aegis::kis::ws::codec::DataFrame;
use aegis::kis::ws::codec::overseas::decode_us_notices;
use aegis::ports::InMemoryTokenStore;
use aegis::sim::SimConfig;
use chrono::{DateTime, NaiveDate};
use futures::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use tokio_tungstenite::tungstenite::Message;

use super::*;
use crate::support::sim::ACCOUNT;

/// A paper simulator frozen at 2026-03-04 00:00 KST = 2026-03-03 10:00 New York: the US regular
/// session runs.
fn us_sim_config() -> SimConfig {
    SimConfig {
        start: Some(DateTime::parse_from_rfc3339("2026-03-04T00:00:00+09:00").unwrap()),
        ..crate::support::sim::frozen(&["005930"], 5, Some(10_000))
    }
}

async fn next_text(ws: &mut crate::support::ws::Ws) -> String {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(3), ws.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(t) = m
            && !t.as_str().contains("\"PINGPONG\"")
        {
            return t.as_str().to_owned();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_us_order_fills_notifies_and_shows_in_holdings_and_history() {
    let sim = crate::support::sim::start(us_sim_config()).await;
    let cfg = kis_config(&sim, 61, 1_000);
    let clock = Arc::new(SimTimeClock(sim.clock().clone()));
    let rest = KisRest::new(&cfg, ACCOUNT, Arc::new(InMemoryTokenStore::new()), clock).unwrap();

    // The notice channel first, on a raw socket with an approval key from the adapter's tokens.
    let approval = rest.tokens().approval_key(false).await.unwrap();
    let mut ws = crate::support::ws::connect(&sim, "/tryitout").await;
    let sub = crate::support::ws::request(approval.expose(), "1", "H0GSCNI9", HTS);
    ws.send(Message::text(sub)).await.unwrap();
    let ack: serde_json::Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(ack["body"]["msg_cd"], "OPSP0000", "{ack}");
    let (key, iv) =
        (ack["body"]["output"]["key"].as_str().unwrap(), ack["body"]["output"]["iv"].as_str().unwrap());

    let aapl = Ticker::new("AAPL").unwrap();
    let quote = rest.us_quote(UsExchange::Nasdaq, &aapl).await.unwrap();
    assert!(quote.last > Decimal::ZERO && quote.decimals == 4, "{quote:?}");
    let account = rest.us_account().await.unwrap();
    let cash = account.usd_deposit.expect("the account holds USD");
    let power = rest.us_buying_power(UsExchange::Nasdaq, &aapl, quote.last).await.unwrap();
    assert!(power.qty >= Decimal::from(3), "{power:?}");

    // A marketable limit buy fills at once: receipt and fill notices, decoded by the codec.
    let price = (quote.last * Decimal::new(101, 2)).round_dp(2);
    let buy = UsOrderRequest {
        exchange: UsExchange::Nasdaq,
        ticker: aapl.clone(),
        side: Side::Buy,
        order_type: UsOrderType::Limit,
        qty: Decimal::from(3),
        price,
    };
    let ack = rest.us_place_order(&buy).await.unwrap();
    let mut filled = Decimal::ZERO;
    while filled < Decimal::from(3) {
        let text = next_text(&mut ws).await;
        let parts: Vec<&str> = text.splitn(4, '|').collect();
        assert_eq!((parts[0], parts[1]), ("1", "H0GSCNI9"), "{text}");
        let plain = crate::support::ws::decrypt(key, iv, parts[3]);
        let frame = DataFrame {
            encrypted: false,
            tr_id: parts[1],
            count: parts[2].parse().unwrap(),
            payload: &plain,
        };
        for n in decode_us_notices(&frame, None).unwrap() {
            assert_eq!(
                (n.broker_order_no.as_str(), n.ticker.as_str(), n.side),
                (ack.broker_order_no.as_str(), "AAPL", Side::Buy)
            );
            if n.kind == UsNoticeKind::Fill {
                assert!(n.price > Decimal::ZERO && n.price <= price, "{n:?}");
                filled += n.qty;
            }
        }
    }
    assert_eq!(filled, Decimal::from(3));
    let held = rest.us_holdings().await.unwrap();
    let aapl_held = held.iter().find(|h| h.ticker == aapl).expect("AAPL is held");
    assert_eq!((aapl_held.qty, aapl_held.exchange), (Decimal::from(3), UsExchange::Nasdaq));
    let after = rest.us_account().await.unwrap().usd_deposit.unwrap();
    assert!(after < cash, "the buy was paid in USD: {cash} -> {after}");
    let day = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
    let history = rest.us_orders(day, day).await.unwrap();
    let row = history.iter().find(|o| o.broker_order_no == ack.broker_order_no).expect("in inquire-ccnl");
    assert_eq!((row.filled_qty, row.unfilled_qty), (Decimal::from(3), Decimal::ZERO));

    // A resting buy: listed as unfilled, modified (a new order number), then cancelled.
    let resting = UsOrderRequest {
        qty: Decimal::from(2),
        price: (quote.last * Decimal::new(80, 2)).round_dp(2),
        ..buy
    };
    let r = rest.us_place_order(&resting).await.unwrap();
    let open = rest.us_open_orders().await.unwrap();
    assert_eq!(
        open.iter().map(|o| o.broker_order_no.as_str()).collect::<Vec<_>>(),
        [r.broker_order_no.as_str()]
    );
    let amend = |no: &str, new_price| UsAmendRequest {
        exchange: UsExchange::Nasdaq,
        ticker: aapl.clone(),
        broker_order_no: no.to_owned(),
        qty: Decimal::from(2),
        new_price,
    };
    let new_price = resting.price + Decimal::ONE;
    let m = rest.us_amend_order(&amend(&r.broker_order_no, Some(new_price))).await.unwrap();
    let open = rest.us_open_orders().await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0].broker_order_no.as_str(), open[0].price), (m.broker_order_no.as_str(), new_price));
    rest.us_amend_order(&amend(&m.broker_order_no, None)).await.unwrap();
    assert!(rest.us_open_orders().await.unwrap().is_empty());
}

/// The paper host's inquire-balance takes `NASD` for Nasdaq only (overseas.md §1.1): the US
/// holdings are every exchange's — a NYSE and an Amex holding beside a Nasdaq one.
#[tokio::test]
async fn us_holdings_on_paper_cover_every_us_exchange() {
    use aegis::sim::us::{UsConfig, UsHoldingSeed};
    let seeds = ["AAPL=10@200", "KO=5@60", "SPY=2@590"];
    let cfg = SimConfig {
        us: UsConfig {
            holdings: seeds.iter().map(|s| UsHoldingSeed::parse(s).unwrap()).collect(),
            ..UsConfig::default()
        },
        ..us_sim_config()
    };
    let sim = crate::support::sim::start(cfg).await;
    let kis = kis_config(&sim, 62, 1_000);
    let clock = Arc::new(SimTimeClock(sim.clock().clone()));
    let rest = KisRest::new(&kis, ACCOUNT, Arc::new(InMemoryTokenStore::new()), clock).unwrap();
    let mut held: Vec<(String, Decimal, UsExchange)> = rest
        .us_holdings()
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.ticker.as_str().to_owned(), h.qty, h.exchange))
        .collect();
    held.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        held,
        vec![
            ("AAPL".to_owned(), Decimal::from(10), UsExchange::Nasdaq),
            ("KO".to_owned(), Decimal::from(5), UsExchange::Nyse),
            ("SPY".to_owned(), Decimal::from(2), UsExchange::Amex),
        ]
    );
}
