//! The full path over real sockets: auth → approval key → 40 quote/trade registrations plus
//! the notice registration → place, modify and cancel → decrypted fills match inquire-daily-ccld.

use std::collections::BTreeMap;

use aegis::domain::market::{
    CancelRequest, ExecutionEvent, FeedStatus, MarketEvent, ModifyRequest, NoticeKind, OrderRequest,
    Subscription,
};
use aegis::domain::{Exchange, OrderType, Side};
use aegis::ports::{Broker, BrokerError};
use rust_decimal::Decimal;

use super::*;

fn limit_buy(code: &str, qty: i64, price: i64) -> OrderRequest {
    OrderRequest {
        symbol: symbol(code),
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty: Decimal::from(qty),
        price: Decimal::from(price),
        exchange: Exchange::Krx,
    }
}

fn notice_for(no: &str, kind: NoticeKind) -> impl FnMut(&ExecutionEvent) -> bool + '_ {
    move |ev| matches!(ev, ExecutionEvent::Notice(n) if n.broker_order_no == no && n.kind == kind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_decrypted_fills_match_the_daily_inquiry() {
    let sim = start_sim(Some(10_000)).await;
    let broker = sim_broker(&sim, 1, 1_000);
    let mut streams = broker.take_streams().unwrap();

    broker.authenticate().await.unwrap();
    broker.approval_key().await.unwrap();
    assert_eq!(issued_tokens(&sim), 1);
    assert_eq!(sim.state()["approval_keys"].as_array().unwrap().len(), 1);
    let account = broker.account().await.unwrap();
    assert!(account.orderable_cash > Decimal::ZERO, "{account:?}");

    // 40 market registrations and the notices, requested concurrently: one socket opens lazily.
    let mut subs: Vec<Subscription> = symbols()
        .iter()
        .flat_map(|c| [Subscription::Quotes(symbol(c)), Subscription::Trades(symbol(c))])
        .collect();
    subs.push(Subscription::Executions);
    let results = futures::future::join_all(subs.iter().cloned().map(|s| broker.subscribe(s))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let open = sessions(&sim);
    assert_eq!(open.len(), 1, "exactly one socket per app key");
    assert_eq!(open[0].len(), 41);
    assert!(open[0].contains(&("H0STCNI9".into(), HTS.into())));
    let over = broker.subscribe(Subscription::Trades(symbol("900099"))).await;
    assert!(matches!(over, Err(BrokerError::Subscription { .. })), "{over:?}");

    // Place a resting buy, modify its price, then print at the new price: it fills.
    let (a, b, c) = ("005930", "000660", "900001");
    let (lower, _) = band(&sim, a);
    let placed = broker.place_order(&limit_buy(a, 10, lower)).await.unwrap();
    assert_eq!(placed.branch, "06010");
    until(&mut streams.executions, 5, notice_for(&placed.broker_order_no, NoticeKind::Accepted)).await;
    let new_price = lower + tick(lower);
    let modified = broker
        .modify_order(&ModifyRequest {
            symbol: Symbol::new(a).unwrap(),
            broker_order_no: placed.broker_order_no.clone(),
            branch: placed.branch.clone(),
            order_type: OrderType::Limit,
            qty: None,
            price: Decimal::from(new_price),
            exchange: Exchange::Krx,
        })
        .await
        .unwrap();
    until(&mut streams.executions, 5, notice_for(&modified.broker_order_no, NoticeKind::ModifyAccepted))
        .await;
    sim.set_price(a, new_price).unwrap();

    // A resting buy that is cancelled, and a market buy that fills at once.
    let (lower_b, _) = band(&sim, b);
    let resting = broker.place_order(&limit_buy(b, 5, lower_b)).await.unwrap();
    let cancel = broker
        .cancel_order(&CancelRequest {
            symbol: Symbol::new(b).unwrap(),
            broker_order_no: resting.broker_order_no.clone(),
            branch: resting.branch.clone(),
            qty: None,
            exchange: Exchange::Krx,
        })
        .await
        .unwrap();
    let market = OrderRequest { order_type: OrderType::Market, price: Decimal::ZERO, ..limit_buy(c, 3, 0) };
    let market = broker.place_order(&market).await.unwrap();

    // Decrypted fills arrive until 13 shares are filled; nothing else fills.
    let mut filled: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    let mut events = Vec::new();
    let mut total = Decimal::ZERO;
    while total < Decimal::from(13) {
        for ev in until(&mut streams.executions, 5, |e| matches!(e, ExecutionEvent::Fill(_))).await {
            if let ExecutionEvent::Fill(f) = &ev {
                // As the notice says it: the session's KST date and the frozen 10:00 KST.
                let at = day_at(10, 0);
                assert_eq!((f.trade_date, f.exec_time), (at.date_naive(), at.time()), "{f:?}");
                let e = filled.entry(f.broker_order_no.clone()).or_default();
                e.0 += f.qty;
                e.1 += f.qty * f.price;
                total += f.qty;
            }
            events.push(ev);
        }
    }
    assert_eq!(total, Decimal::from(13));
    let is_cancel = |e: &ExecutionEvent| {
        matches!(e, ExecutionEvent::Notice(n) if n.kind == NoticeKind::CancelAccepted
            && (n.broker_order_no == cancel.broker_order_no
                || n.original_order_no.as_deref() == Some(resting.broker_order_no.as_str())))
    };
    if !events.iter().any(is_cancel) {
        until(&mut streams.executions, 5, is_cancel).await;
    }

    let rest: BTreeMap<String, (Decimal, Decimal)> = broker
        .todays_fills()
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.broker_order_no, (f.filled_qty, f.amount)))
        .collect();
    assert_eq!(filled, rest, "notice fills against inquire-daily-ccld");
    assert_eq!(filled.keys().cloned().collect::<Vec<_>>(), {
        let mut k = vec![modified.broker_order_no.clone(), market.broker_order_no.clone()];
        k.sort();
        k
    });
    let orders = broker.todays_orders().await.unwrap();
    assert!(
        orders.iter().any(|o| o.broker_order_no == cancel.broker_order_no
            && o.original_order_no.as_deref() == Some(resting.broker_order_no.as_str())
            && o.canceled),
        "{orders:?}"
    );
    let sim_fills = sim.state()["fills"].as_array().unwrap().len();
    assert!(sim_fills >= 2, "sim recorded {sim_fills} fills");

    // The print reached the trade registration of that symbol.
    let mut trade_seen = false;
    while let Ok(batch) = streams.market.try_recv() {
        trade_seen |= batch.iter().any(|ev| matches!(ev, MarketEvent::Trade(t) if t.symbol.as_str() == a));
    }
    assert!(trade_seen, "no H0STCNT0 tick for {a}");

    // Graceful shutdown unsubscribes everything and closes the socket.
    broker.disconnect().await.unwrap();
    until(&mut streams.executions, 5, |e| matches!(e, ExecutionEvent::Status(FeedStatus::Closed))).await;
    for _ in 0..100 {
        if sessions(&sim).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(sessions(&sim).is_empty(), "{:?}", sessions(&sim));
    sim.shutdown().await;
}
