//! Store mapping on both backends: idempotent insert (also under a race), guarded updates,
//! corrupt rows as typed errors, fill deduplication, ledger sync and positions.

use aegis::domain::fill::{FillLedger, FillSnapshot, NoticeFill};
use aegis::domain::order::{BrokerOrderNo, IdempotencyKey, NewOrder, OrderEvent, OrderStatus};
use aegis::domain::position::{FeeSchedule, Holding, Positions};
use aegis::domain::{Exchange, MarketRegion, OrderType, Side};
use aegis::storage_test;
use aegis::store::testing::TestDb;
use aegis::store::{StoreError, fills, orders, positions};
use chrono::NaiveTime;
use rust_decimal_macros::dec;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{day, start, sym};

fn request(signal: &str) -> NewOrder {
    NewOrder {
        key: IdempotencyKey::derive("s", day(), signal),
        symbol: sym("005930"),
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty: dec!(10),
        price: Some(dec!(70000)),
        exchange: Exchange::Krx,
    }
}

fn meta() -> orders::OrderMeta {
    orders::OrderMeta { trade_date: day(), strategy_id: None }
}

async fn idempotent_insert_and_guarded_updates(t: TestDb) {
    let conn = t.store.conn();
    let req = request("sig-1");
    let m = meta();
    let (a, b) = tokio::join!(
        orders::insert_or_get(conn, &req, &m, start(), None),
        orders::insert_or_get(conn, &req, &m, start(), None)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let created = [&a, &b].iter().filter(|i| matches!(i, orders::Inserted::Created(_))).count();
    assert_eq!(created, 1, "the unique key lets exactly one writer create the row");
    assert_eq!(a.stored().id, b.stored().id);
    let again = orders::insert_or_get(conn, &req, &meta(), start(), None).await.unwrap();
    assert!(matches!(again, orders::Inserted::Existing(_)));
    let stored = again.stored().clone();
    assert_eq!(stored.order.request(), &req);

    let mut moved = stored.order.clone();
    moved.apply(&OrderEvent::Submit).unwrap();
    let extra = orders::UpdateExtra { sent_at: Some(start()), ..Default::default() };
    assert!(
        orders::update_guarded(conn, &moved, (OrderStatus::New, 0), &extra, start(), None).await.unwrap()
    );
    // A stale writer that still believes the order is NEW cannot overwrite it.
    let mut stale = stored.order.clone();
    stale.apply(&OrderEvent::CancelRequested).unwrap();
    assert!(
        !orders::update_guarded(conn, &stale, (OrderStatus::New, 0), &extra, start(), None).await.unwrap()
    );
    let back = orders::get(conn, stored.id).await.unwrap().unwrap();
    assert_eq!(back.order.status(), OrderStatus::Submitting);
    assert_eq!(back.sent_at, Some(start()));

    let no = BrokerOrderNo::new("06010", "77").unwrap();
    moved.apply(&OrderEvent::Accepted { broker_order_no: no.clone() }).unwrap();
    moved.apply(&moved.fill_event(dec!(4), dec!(280000.5))).unwrap();
    assert!(
        orders::update_guarded(
            conn,
            &moved,
            (OrderStatus::Submitting, 0),
            &Default::default(),
            start(),
            None
        )
        .await
        .unwrap()
    );
    let kr = aegis::domain::MarketRegion::Kr;
    let back = orders::find_by_broker_no(conn, kr, day(), "0000000077").await.unwrap().unwrap();
    assert_eq!(back.order, moved, "every domain field round-trips exactly");
    let next_day = day().succ_opt().unwrap();
    assert!(
        orders::find_by_broker_no(conn, kr, next_day, "0000000077").await.unwrap().is_none(),
        "another date"
    );
    let us = aegis::domain::MarketRegion::Us;
    assert!(
        orders::find_by_broker_no(conn, us, day(), "0000000077").await.unwrap().is_none(),
        "another market"
    );

    entity::order::Entity::update_many()
        .col_expr(entity::order::Column::Status, Expr::value("BOGUS"))
        .filter(entity::order::Column::Id.eq(stored.id))
        .exec(conn)
        .await
        .unwrap();
    assert!(matches!(orders::get(conn, stored.id).await, Err(StoreError::Corrupt { .. })));
}
storage_test!(orders_insert_and_update, idempotent_insert_and_guarded_updates);

async fn fills_dedup_sync_and_positions(t: TestDb) {
    let conn = t.store.conn();
    let stored = orders::insert_or_get(conn, &request("sig-2"), &meta(), start(), None)
        .await
        .unwrap()
        .stored()
        .clone();
    let no = BrokerOrderNo::new("06010", "5").unwrap();
    let fill_meta = fills::FillMeta {
        order_id: stored.id,
        trade_date: stored.trade_date,
        symbol: sym("005930"),
        side: Side::Buy,
        filled_at: start(),
    };
    let mut ledger = FillLedger::new(no.clone(), dec!(10));
    ledger
        .apply_snapshot(&FillSnapshot {
            broker_order_no: no.clone(),
            cum_qty: dec!(3),
            cum_amount: dec!(210001),
        })
        .unwrap();
    let r = fills::sync_ledger(conn, &ledger, &fill_meta).await.unwrap();
    assert_eq!((r.inserted, r.updated, r.deleted), (1, 0, 0));
    let synthetic = ledger.fills().first().unwrap().clone();
    assert!(!fills::insert(conn, &synthetic, &fill_meta).await.unwrap(), "a duplicate key is a no-op");
    let time = NaiveTime::from_hms_opt(9, 0, 1).unwrap();
    for _ in 0..2 {
        let n = NoticeFill { broker_order_no: no.clone(), exec_time: time, qty: dec!(2), price: dec!(70000) };
        let _ = ledger.apply_notice(&n).unwrap();
    }
    let r = fills::sync_ledger(conn, &ledger, &fill_meta).await.unwrap();
    assert_eq!((r.inserted, r.updated, r.deleted), (1, 1, 0));
    let back = fills::load_ledger(conn, stored.id, stored.trade_date, &no, dec!(10)).await.unwrap();
    assert_eq!(back.cum_qty(), dec!(3));
    assert_eq!(back.cum_amount(), dec!(210001), "synthetic amounts stay exact");

    let execs = fills::executions(conn, &[stored.id]).await.unwrap();
    let pos = positions::recompute(conn, FeeSchedule::default(), &[], &execs, MarketRegion::Kr, start())
        .await
        .unwrap();
    let rows = positions::load(conn).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].qty, dec!(3));
    assert_eq!(rows[0].qty, pos.qty(&sym("005930")));
    // A US snapshot leaves the KRX rows alone, and the other way round.
    let aapl = Holding { symbol: sym("AAPL"), qty: dec!(5), avg_price: dec!(187.23) };
    let us = Positions::from_fills(FeeSchedule::default(), &[aapl], &[]).unwrap();
    positions::save(conn, &us, MarketRegion::Us, start()).await.unwrap();
    assert_eq!(positions::load(conn).await.unwrap().len(), 2);
    positions::save(conn, &Positions::default(), MarketRegion::Kr, start()).await.unwrap();
    let rows = positions::load(conn).await.unwrap();
    assert_eq!(rows.len(), 1, "symbols no longer held are removed, in the market saved only");
    assert_eq!((rows[0].symbol.as_str(), rows[0].avg_price), ("AAPL", dec!(187.23)));
    positions::save(conn, &Positions::default(), MarketRegion::Us, start()).await.unwrap();
    assert!(positions::load(conn).await.unwrap().is_empty());
}
storage_test!(fills_and_positions, fills_dedup_sync_and_positions);
