//! The socket is dropped 10 times during an accelerated simulated day while orders fill: every
//! registration is restored after each reconnect, each reconnect is reported, and every fill is
//! counted exactly once by the orders' ledgers (`domain::fill::FillLedger`, as the trading core
//! keeps them): from its notice, or from the snapshot of today's orders taken on `Reconnected`
//! when the notice was lost with the socket.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aegis::domain::fill::{FillLedger, FillSnapshot, NoticeFill};
use aegis::domain::market::{
    BrokerOrder, ExecutionEvent, FeedStatus, FillNotice, OrderRequest, Subscription,
};
use aegis::domain::order::BrokerOrderNo;
use aegis::domain::{Exchange, OrderType, Side};
use aegis::ports::Broker;
use aegis::sim::{FaultCommand, Sim, SimConfig};
use rust_decimal::Decimal;

use super::*;

const CODES: [&str; 5] = ["005930", "000660", "035420", "900001", "900002"];
const DROPS: usize = 10;
/// The most any order of this test asks for (market buys of 1 to 3 shares).
const MAX_ORDER_QTY: i64 = 3;

/// The ledgers of the orders, by order number, as the consumer of the feed keeps them.
#[derive(Default)]
struct Ledgers(BTreeMap<String, FillLedger>);

impl Ledgers {
    fn of(&mut self, branch: &str, number: &str) -> &mut FillLedger {
        let no = BrokerOrderNo::new(branch, number).unwrap();
        self.0.entry(no.number.clone()).or_insert_with(|| FillLedger::new(no, Decimal::from(MAX_ORDER_QTY)))
    }

    fn notice(&mut self, f: &FillNotice) {
        let no = BrokerOrderNo::new(&f.branch, &f.broker_order_no).unwrap();
        let n = NoticeFill { broker_order_no: no, exec_time: f.exec_time, qty: f.qty, price: f.price };
        self.of(&f.branch, &f.broker_order_no).apply_notice(&n).unwrap();
    }

    fn snapshot(&mut self, orders: &[BrokerOrder]) {
        for o in orders.iter().filter(|o| o.filled_qty > Decimal::ZERO) {
            let no = BrokerOrderNo::new(&o.branch, &o.broker_order_no).unwrap();
            let s = FillSnapshot { broker_order_no: no, cum_qty: o.filled_qty, cum_amount: o.filled_amount };
            self.of(&o.branch, &o.broker_order_no).apply_snapshot(&s).unwrap();
        }
    }

    fn filled(&self) -> BTreeMap<String, Decimal> {
        self.0.iter().map(|(no, l)| (no.clone(), l.cum_qty())).filter(|(_, q)| !q.is_zero()).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_socket_drops_lose_and_double_no_fill() {
    let _serial = timing_lock().await;
    let cfg = SimConfig {
        symbols: CODES.iter().map(|c| (*c).to_owned()).collect(),
        start: Some(day_at(9, 1)),
        ..sim_config(Some(10_000))
    };
    let sim = Sim::start(cfg).await.unwrap();
    let broker = Arc::new(sim_broker(&sim, 8, 1_000));
    let mut streams = broker.take_streams().unwrap();
    let mut subs: Vec<Subscription> = CODES
        .iter()
        .flat_map(|c| [Subscription::Quotes(symbol(c)), Subscription::Trades(symbol(c))])
        .collect();
    subs.push(Subscription::Executions);
    for s in &subs {
        broker.subscribe(s.clone()).await.unwrap();
    }
    until(&mut streams.executions, 5, is_connected).await;
    let expected: BTreeSet<(String, String)> = sessions(&sim).concat().into_iter().collect();
    assert_eq!(expected.len(), subs.len());

    // 15 simulated minutes pass every 0.5 s; the server drops every socket each 15 minutes, so
    // the ten drops span 09:01 to about 11:30 however slowly the host runs.
    sim.inject(FaultCommand::WsClose { at: None, every_secs: Some(900) });
    sim.set_speed(1_800.0);

    // Market buys keep filling throughout, including while the socket is down.
    let stop = Arc::new(AtomicBool::new(false));
    let trader = {
        let (broker, stop) = (broker.clone(), stop.clone());
        tokio::spawn(async move {
            let mut placed = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let order = OrderRequest {
                    symbol: symbol(CODES[placed % CODES.len()]),
                    side: Side::Buy,
                    order_type: OrderType::Market,
                    qty: Decimal::from(1 + placed % 3),
                    price: Decimal::ZERO,
                    exchange: Exchange::Krx,
                };
                broker.place_order(&order).await.unwrap();
                placed += 1;
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
            placed
        })
    };

    let mut ledgers = Ledgers::default();
    let (mut reconnects, mut reported, mut drops, mut notices, mut snapshots) = (0, 0, 0, 0, 0);
    while reconnects < DROPS {
        for ev in until(&mut streams.executions, 10, is_connected).await {
            match ev {
                ExecutionEvent::Fill(f) => {
                    ledgers.notice(&f);
                    notices += 1;
                }
                ExecutionEvent::Status(FeedStatus::Disconnected { .. }) => drops += 1,
                ExecutionEvent::Status(FeedStatus::StopTrading { reason }) => panic!("{reason}"),
                ExecutionEvent::Status(FeedStatus::Connected { registrations }) => {
                    assert_eq!(registrations, subs.len());
                    reconnects += 1;
                }
                _ => {}
            }
        }
        // The feed reports the reconnect right after Connected; the consumer then takes a snapshot.
        for ev in
            until(&mut streams.executions, 10, |e| *e == ExecutionEvent::Status(FeedStatus::Reconnected))
                .await
        {
            match ev {
                ExecutionEvent::Fill(f) => {
                    ledgers.notice(&f);
                    notices += 1;
                }
                ExecutionEvent::Status(FeedStatus::Reconnected) => {
                    reported += 1;
                    ledgers.snapshot(&broker.todays_orders().await.unwrap());
                    snapshots += 1;
                }
                other => panic!("only fills come between Connected and Reconnected: {other:?}"),
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    let placed = trader.await.unwrap();
    sim.set_speed(0.0);
    sim.inject(FaultCommand::Clear);
    assert!(drops >= DROPS && placed >= 20, "{drops} drops, {placed} orders");

    // Every registration is back on the one open session.
    let mut open = sessions(&sim);
    for _ in 0..100 {
        if open.len() == 1 && open[0].len() == expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        open = sessions(&sim);
    }
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].iter().cloned().collect::<BTreeSet<_>>(), expected);

    // The fills received add up, order by order, to what inquire-daily-ccld reports.
    let truth: BTreeMap<String, Decimal> =
        broker.todays_fills().await.unwrap().into_iter().map(|f| (f.broker_order_no, f.filled_qty)).collect();
    let total: Decimal = truth.values().copied().sum();
    let sim_total: i64 =
        sim.state()["fills"].as_array().unwrap().iter().map(|f| f["qty"].as_i64().unwrap()).sum();
    assert_eq!(total, Decimal::from(sim_total));
    assert_eq!(truth.len(), placed, "every market buy filled");
    // The notices still under way arrive; nothing more comes afterwards.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while ledgers.filled() != truth && tokio::time::Instant::now() < deadline {
        if let Ok(Some(ExecutionEvent::Fill(f))) =
            tokio::time::timeout(Duration::from_millis(200), streams.executions.recv()).await
        {
            ledgers.notice(&f);
            notices += 1;
        }
    }
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(300), streams.executions.recv()).await
    {
        if let ExecutionEvent::Fill(f) = ev {
            ledgers.notice(&f);
            notices += 1;
        }
    }
    assert_eq!(reported, reconnects, "every reconnect is reported");
    assert_eq!(ledgers.filled(), truth, "fills missing or doubled");
    let recovered = ledgers.0.values().flat_map(FillLedger::fills).filter(|f| f.is_synthetic()).count();
    eprintln!(
        "{notices} notices over {drops} drops, {snapshots} snapshots, {recovered} fills recovered from them"
    );
    broker.disconnect().await.unwrap();
    sim.shutdown().await;
}
