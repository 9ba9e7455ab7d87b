//! Storage tests of broker identities on SQLite and PostgreSQL: fill keys and order lookups by
//! (trading date, order number), conflicts between two of our orders, and the migration of a
//! database whose fill keys predate trading dates.

use chrono::{NaiveDate, NaiveTime, Utc};
use entity::Dec;
use migration::{Migrator, MigratorTrait};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};

use super::StoreError;
use super::fills::{self, FillMeta};
use super::orders::{self, OrderMeta};
use super::testing::TestDb;
use crate::domain::fill::{Fill, FillId, FillKey};
use crate::domain::order::{BrokerOrderNo, IdempotencyKey, NewOrder};
use crate::domain::{Exchange, MarketRegion, OrderType, Side, Symbol};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

/// Writes an order of `date` that the broker knows under `number`.
async fn order(conn: &DatabaseConnection, date: NaiveDate, signal: &str, number: &str) -> i64 {
    let req = NewOrder {
        key: IdempotencyKey::derive("identity-test", date, signal),
        symbol: Symbol::new("005930").unwrap(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty: dec!(10),
        price: Some(dec!(70000)),
        exchange: Exchange::Krx,
    };
    let meta = OrderMeta { trade_date: date, strategy_id: None };
    let id = orders::insert_or_get(conn, &req, &meta, Utc::now(), None).await.unwrap().stored().id;
    entity::order::Entity::update_many()
        .col_expr(entity::order::Column::BrokerOrderNo, Expr::value(number))
        .col_expr(entity::order::Column::BrokerBranch, Expr::value("06010"))
        .col_expr(entity::order::Column::Status, Expr::value("SENT"))
        .filter(entity::order::Column::Id.eq(id))
        .exec(conn)
        .await
        .unwrap();
    id
}

fn notice(number: &str, h: u32, m: u32, s: u32, qty: Decimal, price: Decimal) -> Fill {
    let key = FillKey::Notice { exec_time: NaiveTime::from_hms_opt(h, m, s).unwrap(), qty, price };
    let broker_order_no = BrokerOrderNo::new("06010", number).unwrap();
    Fill { id: FillId { broker_order_no, key }, qty, amount: qty * price }
}

fn meta(order_id: i64, trade_date: NaiveDate) -> FillMeta {
    FillMeta {
        order_id,
        trade_date,
        symbol: Symbol::new("005930").unwrap(),
        side: Side::Buy,
        filled_at: Utc::now(),
    }
}

/// Writes a fill row exactly as given (an old-format key, for the migration test).
async fn raw_fill(conn: &DatabaseConnection, order_id: i64, key: &str, qty: Decimal, price: Decimal) {
    let source = if key.contains(":S:") { "SNAPSHOT" } else { "NOTICE" };
    let row = entity::fill::ActiveModel {
        order_id: Set(order_id),
        fill_key: Set(key.to_owned()),
        broker_order_no: Set("0000000001".to_owned()),
        symbol: Set("005930".to_owned()),
        side: Set("BUY".to_owned()),
        qty: Set(Dec(qty)),
        price: Set(Dec(price)),
        filled_at: Set(Utc::now()),
        source: Set(source.to_owned()),
        created_at: Set(Utc::now()),
        amount: Set(Some(Dec(qty * price))),
        ..Default::default()
    };
    entity::fill::Entity::insert(row).exec(conn).await.unwrap();
}

async fn keys(conn: &DatabaseConnection) -> Vec<String> {
    let rows = entity::fill::Entity::find().order_by_asc(entity::fill::Column::Id).all(conn).await.unwrap();
    rows.into_iter().map(|m| m.fill_key).collect()
}

async fn old_fill_keys_migrate_body(db: TestDb) {
    let conn = db.store.conn();
    // Back to the schema before trading dates were part of fill keys, with its kind of rows.
    // (Every later migration goes down too, however many there are by now.)
    let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    let rekey = names.iter().position(|n| n == "m20261204_000005_rekey_fills").expect("the rekey migration");
    Migrator::down(conn, Some(u32::try_from(names.len() - rekey).unwrap())).await.unwrap();
    let pending = Migrator::get_pending_migrations(conn).await.unwrap();
    assert_eq!(pending.iter().map(|m| m.name().to_owned()).collect::<Vec<_>>(), names[rekey..]);
    let first = order(conn, day(23), "a", "0000000001").await;
    let second = order(conn, day(24), "b", "0000000001").await;
    raw_fill(conn, first, "0000000001:N:090102:3:70000", dec!(3), dec!(70000)).await;
    raw_fill(conn, first, "0000000001:S:5", dec!(2), dec!(70000)).await;
    raw_fill(conn, second, "0000000001:N:100000:1:70100", dec!(1), dec!(70100)).await;

    Migrator::up(conn, None).await.unwrap();
    assert_eq!(
        keys(conn).await,
        [
            "2026-11-23:0000000001:N:090102:3:70000",
            "2026-11-23:0000000001:S:5",
            "2026-11-24:0000000001:N:100000:1:70100",
        ]
    );
    assert_eq!(fills::for_order(conn, first, day(23)).await.unwrap().len(), 2);
    assert_eq!(fills::for_order(conn, second, day(24)).await.unwrap().len(), 1);
    assert!(
        matches!(fills::for_order(conn, second, day(23)).await, Err(StoreError::Corrupt { .. })),
        "a key of another date than its order's is corrupt"
    );
    // Day 2's fill with exactly the details of day 1's is now recorded, once.
    let repeat = notice("1", 9, 1, 2, dec!(3), dec!(70000));
    assert!(fills::insert(conn, &repeat, &meta(second, day(24))).await.unwrap(), "recorded");
    assert!(!fills::insert(conn, &repeat, &meta(second, day(24))).await.unwrap(), "a duplicate is a no-op");
    assert_eq!(keys(conn).await.len(), 4);
}
crate::storage_test!(old_fill_keys_migrate, old_fill_keys_migrate_body);

/// The expected answer of a lookup: the order found (or none), or the orders in conflict.
type Lookup = Result<Option<i64>, Vec<i64>>;

async fn broker_identities_body(db: TestDb) {
    let conn = db.store.conn();
    let first = order(conn, day(23), "a", "0000000001").await;
    let second = order(conn, day(24), "b", "0000000001").await;
    let third = order(conn, day(24), "c", "0000000002").await;
    // A bad state: two orders of the 25th claim number 3.
    let (x, y) =
        (order(conn, day(25), "x", "0000000003").await, order(conn, day(25), "y", "0000000003").await);

    // (date, number) -> Ok(order) | Err(orders in conflict)
    let lookups: [(NaiveDate, &str, Lookup); 6] = [
        (day(23), "0000000001", Ok(Some(first))),
        (day(24), "0000000001", Ok(Some(second))),
        (day(24), "0000000002", Ok(Some(third))),
        (day(23), "0000000002", Ok(None)),
        (day(26), "0000000001", Ok(None)),
        (day(25), "0000000003", Err(vec![x, y])),
    ];
    for (date, number, want) in lookups {
        let got = orders::find_by_broker_no(conn, MarketRegion::Kr, date, number).await;
        match (got, want) {
            (Ok(found), Ok(id)) => assert_eq!(found.map(|s| s.id), id, "{date} {number}"),
            (Err(StoreError::IdentityConflict { key, orders }), Err(ids)) => {
                assert_eq!((key.as_str(), orders), ("2026-11-25:0000000003", ids));
            }
            (got, want) => panic!("{date} {number}: got {got:?}, want {want:?}"),
        }
    }

    // The same fill details under number 1 on two dates: two rows, one per order.
    let fill = notice("1", 9, 1, 2, dec!(3), dec!(70000));
    assert!(fills::insert(conn, &fill, &meta(first, day(23))).await.unwrap());
    assert!(fills::insert(conn, &fill, &meta(second, day(24))).await.unwrap());
    // The key of the 23rd written for another order is a conflict, never a silent drop.
    match fills::insert(conn, &fill, &meta(third, day(23))).await {
        Err(StoreError::IdentityConflict { key, orders }) => {
            assert_eq!(key, "2026-11-23:0000000001:N:090102:3:70000");
            assert_eq!(orders, [first, third]);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    for (order_id, date) in [(first, day(23)), (second, day(24))] {
        let stored = fills::for_order(conn, order_id, date).await.unwrap();
        let got: Vec<_> = stored.iter().map(|f| (&f.id.key, f.qty, f.amount)).collect();
        assert_eq!(got, [(&fill.id.key, fill.qty, fill.amount)], "order {order_id}");
    }
    assert!(fills::for_order(conn, third, day(24)).await.unwrap().is_empty());
}
crate::storage_test!(broker_identities, broker_identities_body);

/// KRX and US orders are numbered apart: a KRX and a US order of one date holding the same number
/// are two identities — each lookup finds its market's order, and the same fill details make one
/// row per order, never a conflict.
async fn markets_number_apart_body(db: TestDb) {
    let conn = db.store.conn();
    let kr = order(conn, day(23), "kr", "0000000002").await;
    let req = NewOrder {
        key: IdempotencyKey::derive("identity-test", day(23), "us"),
        symbol: Symbol::new("AAPL").unwrap(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty: dec!(1),
        price: Some(dec!(231.25)),
        exchange: Exchange::Nasd,
    };
    let meta_us = OrderMeta { trade_date: day(23), strategy_id: None };
    let us = orders::insert_or_get(conn, &req, &meta_us, Utc::now(), None).await.unwrap().stored().id;
    entity::order::Entity::update_many()
        .col_expr(entity::order::Column::BrokerOrderNo, Expr::value("0000000002"))
        .filter(entity::order::Column::Id.eq(us))
        .exec(conn)
        .await
        .unwrap();
    let find = |m| orders::find_by_broker_no(conn, m, day(23), "0000000002");
    assert_eq!(find(MarketRegion::Kr).await.unwrap().map(|o| o.id), Some(kr));
    assert_eq!(find(MarketRegion::Us).await.unwrap().map(|o| o.id), Some(us));

    let snapshot = |n: &str| Fill {
        id: FillId {
            broker_order_no: BrokerOrderNo::new("", n).unwrap(),
            key: FillKey::Snapshot { cum_qty: dec!(1) },
        },
        qty: dec!(1),
        amount: dec!(231.25),
    };
    let us_meta = FillMeta { symbol: Symbol::new("AAPL").unwrap(), ..meta(us, day(23)) };
    assert!(fills::insert(conn, &snapshot("2"), &meta(kr, day(23))).await.unwrap());
    assert!(fills::insert(conn, &snapshot("2"), &us_meta).await.unwrap(), "the US fill is its own row");
    assert!(!fills::insert(conn, &snapshot("2"), &us_meta).await.unwrap(), "and a duplicate of itself");
    assert_eq!(keys(conn).await, ["2026-11-23:0000000002:S:1", "2026-11-23:US:0000000002:S:1"]);
    assert_eq!(fills::for_order(conn, us, day(23)).await.unwrap().len(), 1);
    assert_eq!(fills::for_order(conn, kr, day(23)).await.unwrap().len(), 1);
}
crate::storage_test!(markets_number_apart, markets_number_apart_body);
