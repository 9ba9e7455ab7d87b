//! Property test: fill notices and REST snapshots of one order, in any order and duplicated,
//! converge on the same database state (order row, fill rows, positions).

use aegis::domain::Side;
use aegis::domain::fill::FillSnapshot;
use aegis::domain::market::{ExecutionEvent, FeedStatus, FillNotice, to_kst};
use aegis::domain::order::BrokerOrderNo;
use aegis::ports::{Broker, BrokerError};
use aegis::trading::executions::Handled;
use aegis::trading::orders::SubmitOutcome;
use chrono::TimeDelta;
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sea_orm::{EntityTrait, QueryOrder};

use super::{day, env, intent, start, sym};

#[derive(Debug, Clone)]
enum Input {
    Notice(usize),
    Snapshot(usize),
}

type DbState = (String, Decimal, Vec<(String, Decimal, Decimal)>, Vec<(String, Decimal)>);

async fn run(fills: &[(i64, i64)], extra: i64, inputs: &[Input]) -> DbState {
    let db = crate::support::db::sqlite().await;
    let e = env(db, |_| {}, Default::default()).await;
    let total: i64 = fills.iter().map(|f| f.0).sum::<i64>() + extra;
    let out = e.core.submit(&intent("005930", Side::Buy, total, 70_000, "p")).await.unwrap();
    let SubmitOutcome::Sent(order) = out else { panic!("sent") };
    let no = BrokerOrderNo::new("06010", "1").unwrap();
    let notice = |i: usize| {
        let (qty, price) = fills[i];
        let at = start() + TimeDelta::seconds(i64::try_from(i).unwrap());
        FillNotice {
            trade_date: day(),
            exec_time: to_kst(at).time(),
            broker_order_no: no.number.clone(),
            branch: no.branch.clone(),
            symbol: sym("005930"),
            side: Side::Buy,
            qty: Decimal::from(qty),
            price: Decimal::from(price),
        }
    };
    let snapshot = |i: usize| {
        let cum_qty: i64 = fills[..=i].iter().map(|f| f.0).sum();
        let cum_amount: i64 = fills[..=i].iter().map(|f| f.0 * f.1).sum();
        FillSnapshot {
            broker_order_no: no.clone(),
            cum_qty: Decimal::from(cum_qty),
            cum_amount: Decimal::from(cum_amount),
        }
    };
    for input in inputs {
        match input {
            Input::Notice(i) => {
                e.core.handle_execution(&ExecutionEvent::Fill(notice(*i))).await.unwrap();
            }
            Input::Snapshot(i) => {
                e.core.apply_fill_snapshot(order.id, &snapshot(*i)).await.unwrap();
            }
        }
    }
    // Positions are held in memory and written with each reconciliation: write them now.
    e.core.flush_positions().await.unwrap();
    let back = aegis::store::orders::get(e.db.store.conn(), order.id).await.unwrap().unwrap();
    let rows = entity::fill::Entity::find()
        .order_by_asc(entity::fill::Column::FillKey)
        .all(e.db.store.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.fill_key, f.qty.get(), f.amount.map(entity::Dec::get).unwrap_or_default()))
        .collect();
    let pos = aegis::store::positions::load(e.db.store.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.symbol.as_str().to_owned(), p.qty))
        .collect();
    (back.order.status().as_str().to_owned(), back.order.record().filled_amount, rows, pos)
}

fn scenario() -> impl Strategy<Value = (Vec<(i64, i64)>, i64, Vec<Input>)> {
    (prop::collection::vec((1_i64..4, 690_i64..710), 1..5), 0_i64..2).prop_flat_map(|(fills, extra)| {
        let n = fills.len();
        let notices = Just((0..n).map(Input::Notice).collect::<Vec<_>>());
        let extras = prop::collection::vec(
            prop_oneof![(0..n).prop_map(Input::Notice), (0..n).prop_map(Input::Snapshot)],
            0..6,
        );
        (Just(fills), Just(extra), notices, extras).prop_flat_map(move |(f, x, mut all, more)| {
            all.extend(more);
            all.push(Input::Snapshot(n - 1));
            let len = all.len();
            (Just(f), Just(x), Just(all).prop_shuffle().prop_map(move |v| v.into_iter().take(len).collect()))
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn notices_and_snapshots_converge((fills, extra, inputs) in scenario()) {
        let fills: Vec<(i64, i64)> = fills.into_iter().map(|(q, p)| (q, p * 100)).collect();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let canonical: Vec<Input> = (0..fills.len()).map(Input::Notice).collect();
        let expected = rt.block_on(run(&fills, extra, &canonical));
        let got = rt.block_on(run(&fills, extra, &inputs));
        prop_assert_eq!(got, expected);
    }
}

/// A fill whose notice was lost with the socket arrives through the snapshot the feed's
/// `Reconnected` asks for, once: a failed snapshot is a warning and leaves it missing, the next
/// one records it, its late notice is absorbed, and a fill after it adds up.
#[tokio::test]
async fn fills_missed_while_disconnected_arrive_through_the_reconnect_snapshot() {
    let e = env(crate::support::db::sqlite().await, |_| {}, Default::default()).await;
    let mut streams = e.broker.take_streams().unwrap();
    let out = e.core.submit(&intent("005930", Side::Buy, 5, 70_000, "gap")).await.unwrap();
    let SubmitOutcome::Sent(order) = out else { panic!("sent") };
    let no = order.order.broker_order_no().unwrap().number.clone();
    let filled = || async {
        let stored = aegis::store::orders::get(e.db.store.conn(), order.id).await.unwrap().unwrap();
        (stored.order.filled_qty(), stored.order.record().filled_amount)
    };
    let mut handle_all = async || {
        let mut handled = Vec::new();
        while let Ok(ev) = streams.executions.try_recv() {
            handled.push((e.core.handle_execution(&ev).await.unwrap(), ev));
        }
        handled
    };

    e.broker.fill(&no, dec!(1), dec!(70000)).unwrap();
    handle_all().await;
    assert_eq!(filled().await, (dec!(1), dec!(70000)));

    // Down: 2 fill and their notice is lost. The first snapshot after the reconnect fails.
    e.clock.advance(TimeDelta::seconds(1));
    let lost = e.broker.fill_unnoticed(&no, dec!(2), dec!(70100)).unwrap();
    e.broker.reconnect("eof");
    e.broker.fail_next(BrokerError::Connection { message: "down".into() });
    let handled = handle_all().await;
    assert_eq!(handled.last().unwrap().1, ExecutionEvent::Status(FeedStatus::Reconnected));
    assert_eq!(crate::support::db::events_of(&e.db.store, "FEED_RECONCILE_FAILED").await.len(), 1);
    assert_eq!(filled().await, (dec!(1), dec!(70000)), "still missing");

    // The next reconnect's snapshot records it, once.
    e.broker.reconnect("eof");
    handle_all().await;
    assert_eq!(filled().await, (dec!(3), dec!(210200)));
    e.broker.reconnect("eof");
    handle_all().await;
    assert_eq!(filled().await, (dec!(3), dec!(210200)), "a snapshot again adds nothing");

    // Its notice arrives late: absorbed, not added. A fill afterwards adds up.
    e.core.handle_execution(&ExecutionEvent::Fill(lost)).await.unwrap();
    assert_eq!(filled().await, (dec!(3), dec!(210200)));
    e.clock.advance(TimeDelta::seconds(1));
    e.broker.fill(&no, dec!(1), dec!(70200)).unwrap();
    let handled = handle_all().await;
    assert!(matches!(handled[..], [(Handled::FillRecorded(id), _)] if id == order.id), "{handled:?}");
    assert_eq!(filled().await, (dec!(4), dec!(280400)));
    assert_eq!(e.broker.todays_orders().await.unwrap()[0].filled_qty, dec!(4));
}
