//! The `instruments` table: upsert of today's master records (missing ones turn inactive, never
//! deleted), loading them back as [`MasterRecord`]s for the day's diff, and the diff's events.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use entity::Dec;
use entity::instrument::{ActiveModel, Column, Entity, Model};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{Severity, Store, StoreError};
use crate::domain::Symbol;
use crate::domain::instrument::{
    InstrumentChange, InstrumentFlags, Market, MarketWarning, MasterRecord, SecurityGroup,
};

/// Rows per multi-row insert (14 columns each keeps every backend far below its bind limit).
const UPSERT_CHUNK: usize = 400;

/// What one upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpsertStats {
    /// Records written (inserted or updated).
    pub upserted: usize,
    /// Previously active rows of the refreshed markets that are no longer listed (now inactive).
    pub deactivated: usize,
}

fn to_active(record: &MasterRecord, now: DateTime<Utc>) -> ActiveModel {
    ActiveModel {
        code: Set(record.symbol.as_str().to_owned()),
        isin: Set(record.isin.clone()),
        name: Set(record.name.clone()),
        market: Set(record.market.as_str().to_owned()),
        security_group: Set(record.group.code().to_owned()),
        halted: Set(record.halted),
        admin_issue: Set(record.admin_issue),
        warning_level: Set(record.warning.as_str().to_owned()),
        base_price: Set(Dec(record.base_price)),
        lot_size: Set(Dec(Decimal::from(record.lot_size))),
        listed_on: Set(record.listed_on),
        prev_volume: Set(Dec(Decimal::from(record.prev_volume))),
        active: Set(true),
        updated_at: Set(now),
    }
}

fn parse_warning(text: &str) -> Option<MarketWarning> {
    [MarketWarning::None, MarketWarning::Caution, MarketWarning::Warning, MarketWarning::Risk]
        .into_iter()
        .find(|w| w.as_str() == text)
}

/// Maps a stored row back to a master record (informational fields and flags are not stored).
///
/// # Errors
/// Returns [`StoreError::Corrupt`] when a column holds a value the domain refuses.
fn record_from_row(row: &Model) -> Result<MasterRecord, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { table: "instruments", id: row.code.clone(), reason };
    let whole = |name: &str, d: Dec| -> Result<Decimal, StoreError> {
        if d.0.is_sign_negative() || !d.0.fract().is_zero() {
            return Err(corrupt(format!("{name} {} is not a whole non-negative number", d.0)));
        }
        Ok(d.0)
    };
    Ok(MasterRecord {
        symbol: Symbol::new(row.code.clone()).map_err(|e| corrupt(e.to_string()))?,
        isin: row.isin.clone(),
        name: row.name.clone(),
        market: Market::from_str(&row.market).map_err(|e| corrupt(e.to_string()))?,
        group: SecurityGroup::try_from(row.security_group.clone()).map_err(corrupt)?,
        halted: row.halted,
        admin_issue: row.admin_issue,
        warning: parse_warning(&row.warning_level)
            .ok_or_else(|| corrupt(format!("unknown warning level {:?}", row.warning_level)))?,
        base_price: row.base_price.0,
        lot_size: whole("lot_size", row.lot_size)?
            .to_u32()
            .ok_or_else(|| corrupt("lot_size out of range".into()))?,
        listed_on: row.listed_on,
        prev_volume: whole("prev_volume", row.prev_volume)?
            .to_u64()
            .ok_or_else(|| corrupt("prev_volume out of range".into()))?,
        flags: InstrumentFlags::default(),
        face_value: None,
        listed_shares: None,
        margin_rate_pct: None,
        prev_market_cap_eok: None,
    })
}

fn market_names(markets: &[Market]) -> Vec<&'static str> {
    markets.iter().map(|m| m.as_str()).collect()
}

/// Loads the active instruments of the given markets, ordered by code.
///
/// # Errors
/// Returns [`StoreError::Db`] when the query fails and [`StoreError::Corrupt`] for a bad row.
pub async fn load_instruments(store: &Store, markets: &[Market]) -> Result<Vec<MasterRecord>, StoreError> {
    let rows = Entity::find()
        .filter(Column::Market.is_in(market_names(markets)))
        .filter(Column::Active.eq(true))
        .order_by_asc(Column::Code)
        .all(store.conn())
        .await?;
    rows.iter().map(record_from_row).collect()
}

/// Writes today's records of the refreshed `markets` in one transaction: every record is inserted
/// or updated (and active), and every active row of those markets missing from `records` turns
/// inactive. Rows are never deleted; records of other markets are ignored.
///
/// # Errors
/// Returns [`StoreError::Db`] when a statement fails (nothing is written then).
pub async fn upsert_instruments(
    store: &Store,
    markets: &[Market],
    records: &[MasterRecord],
    now: DateTime<Utc>,
) -> Result<UpsertStats, StoreError> {
    // A code listed twice would make one multi-row upsert touch a row twice (PostgreSQL refuses);
    // the first occurrence wins.
    let mut listed: HashSet<&str> = HashSet::new();
    let in_scope: Vec<&MasterRecord> =
        records.iter().filter(|r| markets.contains(&r.market) && listed.insert(r.symbol.as_str())).collect();
    let txn = super::begin_write(store.conn()).await?;
    let before: Vec<String> = Entity::find()
        .filter(Column::Market.is_in(market_names(markets)))
        .filter(Column::Active.eq(true))
        .all(&txn)
        .await?
        .into_iter()
        .map(|m| m.code)
        .filter(|code| !listed.contains(code.as_str()))
        .collect();
    let update = OnConflict::column(Column::Code)
        .update_columns([
            Column::Isin,
            Column::Name,
            Column::Market,
            Column::SecurityGroup,
            Column::Halted,
            Column::AdminIssue,
            Column::WarningLevel,
            Column::BasePrice,
            Column::LotSize,
            Column::ListedOn,
            Column::PrevVolume,
            Column::Active,
            Column::UpdatedAt,
        ])
        .to_owned();
    for chunk in in_scope.chunks(UPSERT_CHUNK) {
        Entity::insert_many(chunk.iter().map(|r| to_active(r, now)))
            .on_conflict(update.clone())
            .exec_without_returning(&txn)
            .await?;
    }
    for chunk in before.chunks(UPSERT_CHUNK) {
        Entity::update_many()
            .col_expr(Column::Active, false.into())
            .col_expr(Column::UpdatedAt, now.into())
            .filter(Column::Code.is_in(chunk.iter().cloned()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(UpsertStats { upserted: in_scope.len(), deactivated: before.len() })
}

/// Returns how serious a change is: losses of tradability are warnings, the rest routine.
pub fn change_severity(change: &InstrumentChange) -> Severity {
    match change {
        InstrumentChange::Delisting { .. }
        | InstrumentChange::TradingHalt { halted: true, .. }
        | InstrumentChange::AdministrativeIssue { designated: true, .. } => Severity::Warning,
        InstrumentChange::MarketWarning { from, to, .. } if to > from => Severity::Warning,
        _ => Severity::Info,
    }
}

/// Returns the event kind of a change: `instrument.<kind>` in lower case
/// (`instrument.trading_halt`).
pub fn change_event_kind(change: &InstrumentChange) -> String {
    format!("instrument.{}", change.kind().to_ascii_lowercase())
}

/// Records each change as an event of kind `instrument.<kind>` for the trade date.
///
/// # Errors
/// Returns [`StoreError::Db`] when an insert fails.
pub async fn record_changes(
    store: &Store,
    changes: &[InstrumentChange],
    trade_date: NaiveDate,
) -> Result<(), StoreError> {
    let events = store.events();
    for change in changes {
        let payload = serde_json::to_value(change).unwrap_or(serde_json::Value::Null);
        events
            .record(
                &change_event_kind(change),
                change_severity(change),
                &change.to_string(),
                payload,
                Some(trade_date),
                None,
            )
            .await?;
    }
    Ok(())
}

/// Row surgery for tests that stage "yesterday's" instruments table.
#[cfg(test)]
pub(crate) mod test_rows {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};

    use super::*;

    async fn row(store: &Store, code: &str) -> Model {
        Entity::find_by_id(code.to_owned()).one(store.conn()).await.unwrap().expect("instrument row")
    }

    /// Sets the stored halted flag of `code`.
    pub(crate) async fn set_halted(store: &Store, code: &str, halted: bool) {
        let mut active = row(store, code).await.into_active_model();
        active.halted = Set(halted);
        active.update(store.conn()).await.unwrap();
    }

    /// Inserts a copy of the row of `from` under the code `to`.
    pub(crate) async fn copy_as(store: &Store, from: &str, to: &str) {
        let mut copy = row(store, from).await;
        copy.code = to.to_owned();
        copy.into_active_model().reset_all().insert(store.conn()).await.unwrap();
    }

    /// Returns the stored (active, halted) flags of `code`.
    pub(crate) async fn flags(store: &Store, code: &str) -> (bool, bool) {
        let r = row(store, code).await;
        (r.active, r.halted)
    }

    /// Returns how many rows are active, in every market.
    pub(crate) async fn active_count(store: &Store) -> usize {
        Entity::find().filter(Column::Active.eq(true)).all(store.conn()).await.unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_and_kinds() {
        let s = Symbol::new("005930").unwrap();
        let halt = InstrumentChange::TradingHalt { symbol: s.clone(), halted: true };
        assert_eq!(
            (change_event_kind(&halt).as_str(), change_severity(&halt)),
            ("instrument.trading_halt", Severity::Warning)
        );
        let resumed = InstrumentChange::TradingHalt { symbol: s.clone(), halted: false };
        assert_eq!(change_severity(&resumed), Severity::Info);
        let down = InstrumentChange::MarketWarning {
            symbol: s.clone(),
            from: MarketWarning::Warning,
            to: MarketWarning::Caution,
        };
        assert_eq!(change_severity(&down), Severity::Info);
        let up =
            InstrumentChange::MarketWarning { symbol: s, from: MarketWarning::None, to: MarketWarning::Risk };
        assert_eq!(change_severity(&up), Severity::Warning);
        for w in [MarketWarning::None, MarketWarning::Caution, MarketWarning::Warning, MarketWarning::Risk] {
            assert_eq!(parse_warning(w.as_str()), Some(w));
        }
        assert_eq!(parse_warning("x"), None);
    }
}
