//! The `positions` table: positions recomputed from fills and written as a whole, so the table
//! always equals opening holdings plus the recorded fills.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use entity::Dec;
use entity::position::{ActiveModel, Column, Entity, Model};
use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::StoreError;
use crate::domain::fill::Execution;
use crate::domain::position::{FeeSchedule, Holding, Positions};
use crate::domain::{MarketRegion, Symbol};

const TABLE: &str = "positions";

/// One stored position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionRow {
    /// Instrument.
    pub symbol: Symbol,
    /// Quantity held.
    pub qty: Decimal,
    /// Average purchase price (zero when flat).
    pub avg_price: Decimal,
    /// Realized P&L net of fees.
    pub realized_pnl: Decimal,
    /// Last known price.
    pub last_price: Option<Decimal>,
}

impl PositionRow {
    /// Returns the row as a holding (for comparing with the broker).
    pub fn holding(&self) -> Holding {
        Holding { symbol: self.symbol.clone(), qty: self.qty, avg_price: self.avg_price }
    }
}

fn to_row(m: Model) -> Result<PositionRow, StoreError> {
    let symbol = Symbol::from_str(&m.symbol).map_err(|e| StoreError::Corrupt {
        table: TABLE,
        id: m.symbol.clone(),
        reason: e.to_string(),
    })?;
    Ok(PositionRow {
        symbol,
        qty: m.qty.get(),
        avg_price: m.avg_price.get(),
        realized_pnl: m.realized_pnl.get(),
        last_price: m.last_price.map(Dec::get),
    })
}

/// Returns every stored position, by symbol.
///
/// # Errors
/// Returns [`StoreError::Db`] or [`StoreError::Corrupt`].
pub async fn load<C: ConnectionTrait>(conn: &C) -> Result<Vec<PositionRow>, StoreError> {
    Entity::find().order_by_asc(Column::Symbol).all(conn).await?.into_iter().map(to_row).collect()
}

/// Writes every position (insert or update by symbol) and deletes rows of symbols not in
/// `positions`.
///
/// # Errors
/// Returns [`StoreError::Db`] on a failed query.
pub async fn save<C: ConnectionTrait>(
    conn: &C,
    positions: &Positions,
    region: MarketRegion,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut symbols = Vec::new();
    for p in positions.iter() {
        symbols.push(p.symbol.as_str().to_owned());
        let row = ActiveModel {
            symbol: Set(p.symbol.as_str().to_owned()),
            qty: Set(Dec(p.qty)),
            avg_price: Set(Dec(p.avg_price().map_or(Decimal::ZERO, |a| a.round_dp(8)))),
            realized_pnl: Set(Dec(p.realized_pnl())),
            last_price: Set(p.last_price.map(Dec)),
            updated_at: Set(now),
        };
        Entity::insert(row)
            .on_conflict(
                OnConflict::column(Column::Symbol)
                    .update_columns([
                        Column::Qty,
                        Column::AvgPrice,
                        Column::RealizedPnl,
                        Column::LastPrice,
                        Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    // Rows of this market that the snapshot no longer holds; the other market's rows stay.
    let gone: Vec<String> = Entity::find()
        .filter(Column::Symbol.is_not_in(symbols))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| row.symbol)
        .filter(|s| Symbol::new(s).map_or(region == MarketRegion::Kr, |s| s.region() == region))
        .collect();
    if !gone.is_empty() {
        Entity::delete_many().filter(Column::Symbol.is_in(gone)).exec(conn).await?;
    }
    Ok(())
}

/// Recomputes positions of one market from opening holdings and executions, stores them and
/// returns them.
///
/// # Errors
/// Returns [`StoreError::Corrupt`] when the fills do not make valid positions (e.g. a sell above
/// the holding), or [`StoreError::Db`].
pub async fn recompute<C: ConnectionTrait>(
    conn: &C,
    fees: FeeSchedule,
    opening: &[Holding],
    executions: &[Execution],
    region: MarketRegion,
    now: DateTime<Utc>,
) -> Result<Positions, StoreError> {
    let positions = Positions::from_fills(fees, opening, executions).map_err(|e| StoreError::Corrupt {
        table: TABLE,
        id: "*".into(),
        reason: e.to_string(),
    })?;
    save(conn, &positions, region, now).await?;
    Ok(positions)
}
