//! KRX prices: tick sizes, rounding to a tick, the daily price band and the pre-send price check.
//!
//! Facts from `shared/kis-api/market_rules.json`: since 2023-01-25 one stock tick table for KOSPI,
//! KOSDAQ and KONEX, chosen by the order price; ETF/ETN/ELW trade in 5 KRW ticks; the daily band is
//! ±30 % of the base price, and because its exact tick rounding is unconfirmed the broker's own
//! limits (`stck_mxpr`/`stck_llam`) are preferred whenever they are known.

use rust_decimal::{Decimal, RoundingStrategy};
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use super::order::MAX_INPUT;
use super::types::{OrderType, Side};

/// Stock tick table: `(price below, tick)`; prices at or above the last bound use 1,000 KRW.
const STOCK_TICKS: [(Decimal, Decimal); 6] = [
    (dec!(2_000), dec!(1)),
    (dec!(5_000), dec!(5)),
    (dec!(20_000), dec!(10)),
    (dec!(50_000), dec!(50)),
    (dec!(200_000), dec!(100)),
    (dec!(500_000), dec!(500)),
];

/// Which tick table an instrument uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TickTable {
    /// Stocks (KOSPI, KOSDAQ, KONEX): 1 to 1,000 KRW by price level.
    #[default]
    Stock,
    /// ETF, ETN and ELW: always 5 KRW.
    Fund,
    /// US stocks (Regulation NMS rule 612): one cent at or above one dollar, a hundredth of a
    /// cent below it.
    UsEquity,
}

impl TickTable {
    /// Returns the table of a market's stocks (KRX funds trade on [`TickTable::Fund`], which the
    /// instrument, not the market, decides).
    pub const fn stocks_of(region: super::MarketRegion) -> Self {
        match region {
            super::MarketRegion::Kr => Self::Stock,
            super::MarketRegion::Us => Self::UsEquity,
        }
    }
}

/// How a price off the tick grid is moved onto it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TickRounding {
    /// To the tick at or below (never pays more).
    Down,
    /// To the tick at or above (never sells for less).
    Up,
    /// To the closest tick; halves go up.
    Nearest,
}

impl TickRounding {
    /// Returns the conservative rounding for a side: down for buys, up for sells.
    pub const fn conservative(side: Side) -> Self {
        match side {
            Side::Buy => Self::Down,
            Side::Sell => Self::Up,
        }
    }
}

/// Errors of price rounding and the pre-send price check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    /// The price is zero, negative or beyond the accepted range.
    #[error("price {0} is not a positive price within range")]
    OutOfRange(Decimal),
    /// A limit-type order has no price.
    #[error("a {0} order needs a price")]
    MissingPrice(OrderType),
    /// A market-type order carries a price.
    #[error("a {0} order must not carry a price")]
    UnexpectedPrice(OrderType),
    /// The price is not a multiple of its tick.
    #[error("price {price} is not on the {tick} tick")]
    OffTick {
        /// Offending price.
        price: Decimal,
        /// Tick at that price level.
        tick: Decimal,
    },
    /// The price is above the daily upper limit.
    #[error("price {price} is above the upper limit {upper}")]
    AboveUpperLimit {
        /// Offending price.
        price: Decimal,
        /// Upper limit.
        upper: Decimal,
    },
    /// The price is below the daily lower limit.
    #[error("price {price} is below the lower limit {lower}")]
    BelowLowerLimit {
        /// Offending price.
        price: Decimal,
        /// Lower limit.
        lower: Decimal,
    },
    /// A band's limits are not positive or are reversed.
    #[error("invalid price band {lower}..{upper}")]
    InvalidBand {
        /// Lower limit.
        lower: Decimal,
        /// Upper limit.
        upper: Decimal,
    },
}

fn check_range(price: Decimal) -> Result<(), PriceError> {
    if price > Decimal::ZERO && price <= MAX_INPUT { Ok(()) } else { Err(PriceError::OutOfRange(price)) }
}

/// Returns the tick size at a price level.
pub fn tick_size(price: Decimal, table: TickTable) -> Decimal {
    match table {
        TickTable::Fund => dec!(5),
        TickTable::UsEquity if price < Decimal::ONE => dec!(0.0001),
        TickTable::UsEquity => dec!(0.01),
        TickTable::Stock => {
            STOCK_TICKS.iter().find(|(below, _)| price < *below).map_or(dec!(1_000), |(_, tick)| *tick)
        }
    }
}

/// Returns true when the price is a positive multiple of its tick.
pub fn is_on_tick(price: Decimal, table: TickTable) -> bool {
    price > Decimal::ZERO && (price % tick_size(price, table)).is_zero()
}

/// Moves a price onto the tick grid. Table boundaries are multiples of the next tick, so the result
/// is always on its own tick.
///
/// # Errors
/// Returns [`PriceError::OutOfRange`] when the price (or the rounded result) is not positive.
pub fn round_to_tick(price: Decimal, table: TickTable, mode: TickRounding) -> Result<Decimal, PriceError> {
    check_range(price)?;
    let tick = tick_size(price, table);
    let strategy = match mode {
        TickRounding::Down => RoundingStrategy::ToNegativeInfinity,
        TickRounding::Up => RoundingStrategy::ToPositiveInfinity,
        TickRounding::Nearest => RoundingStrategy::MidpointAwayFromZero,
    };
    let rounded = (price / tick).round_dp_with_strategy(0, strategy) * tick;
    check_range(rounded)?;
    Ok(rounded)
}

/// The daily price limits of an instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBand {
    /// Lowest accepted price (하한가).
    pub lower: Decimal,
    /// Highest accepted price (상한가).
    pub upper: Decimal,
}

impl PriceBand {
    /// Uses the limits the broker reports (preferred: the exact KRX rounding is unconfirmed).
    ///
    /// # Errors
    /// Returns [`PriceError::InvalidBand`] when a limit is not positive or `lower > upper`.
    pub fn from_broker(lower: Decimal, upper: Decimal) -> Result<Self, PriceError> {
        let ok = lower > Decimal::ZERO && upper <= MAX_INPUT && lower <= upper;
        if ok { Ok(Self { lower, upper }) } else { Err(PriceError::InvalidBand { lower, upper }) }
    }

    /// Computes the band `base × (1 ± pct/100)`, pulled inwards onto the tick grid.
    ///
    /// # Errors
    /// Returns [`PriceError::OutOfRange`] for a non-positive base and [`PriceError::InvalidBand`] for
    /// a percentage outside `0..100`.
    pub fn from_base(base: Decimal, pct: Decimal, table: TickTable) -> Result<Self, PriceError> {
        check_range(base)?;
        if pct < Decimal::ZERO || pct >= dec!(100) {
            return Err(PriceError::InvalidBand { lower: base, upper: base });
        }
        let factor = pct / dec!(100);
        let upper = round_to_tick(base * (Decimal::ONE + factor), table, TickRounding::Down)?;
        let lower = round_to_tick(base * (Decimal::ONE - factor), table, TickRounding::Up)?;
        Self::from_broker(lower, upper)
    }

    /// Returns true when the price is inside the band (limits included).
    pub fn contains(&self, price: Decimal) -> bool {
        self.lower <= price && price <= self.upper
    }
}

/// What is known about an instrument when an order is built and its price checked: the venue it
/// trades on (and with it its market and currency), its tick table and its daily band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PriceContext {
    /// The venue the instrument's orders go to (KRX by default; a US exchange for a US stock).
    pub exchange: super::types::Exchange,
    /// Tick table of the instrument.
    pub table: TickTable,
    /// Daily limits, when known.
    pub band: Option<PriceBand>,
}

/// Validates an order's price before it is sent: presence by order type, range, tick and band.
///
/// # Errors
/// Returns the first [`PriceError`] found.
pub fn check_order_price(
    order_type: OrderType,
    price: Option<Decimal>,
    ctx: &PriceContext,
) -> Result<(), PriceError> {
    let price = match (order_type.has_price(), price) {
        (true, Some(p)) => p,
        (true, None) => return Err(PriceError::MissingPrice(order_type)),
        (false, None) => return Ok(()),
        (false, Some(_)) => return Err(PriceError::UnexpectedPrice(order_type)),
    };
    check_range(price)?;
    if !is_on_tick(price, ctx.table) {
        return Err(PriceError::OffTick { price, tick: tick_size(price, ctx.table) });
    }
    match ctx.band {
        Some(b) if price > b.upper => Err(PriceError::AboveUpperLimit { price, upper: b.upper }),
        Some(b) if price < b.lower => Err(PriceError::BelowLowerLimit { price, lower: b.lower }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_ticks_are_a_cent_above_a_dollar() {
        assert_eq!(tick_size(dec!(187.23), TickTable::UsEquity), dec!(0.01));
        assert_eq!(tick_size(dec!(0.5123), TickTable::UsEquity), dec!(0.0001));
        assert_eq!(
            round_to_tick(dec!(187.237), TickTable::UsEquity, TickRounding::Down).unwrap(),
            dec!(187.23)
        );
        assert_eq!(
            round_to_tick(dec!(187.231), TickTable::UsEquity, TickRounding::Up).unwrap(),
            dec!(187.24)
        );
        assert!(is_on_tick(dec!(0.9999), TickTable::UsEquity));
        assert!(!is_on_tick(dec!(1.001), TickTable::UsEquity));
    }

    #[test]
    fn tick_table_matches_market_rules() {
        let cases = [
            (dec!(1), 1),
            (dec!(1999), 1),
            (dec!(2000), 5),
            (dec!(4995), 5),
            (dec!(5000), 10),
            (dec!(19990), 10),
            (dec!(20000), 50),
            (dec!(49950), 50),
            (dec!(50000), 100),
            (dec!(199900), 100),
            (dec!(200000), 500),
            (dec!(499500), 500),
            (dec!(500000), 1000),
            (dec!(1_500_000), 1000),
        ];
        for (price, tick) in cases {
            assert_eq!(tick_size(price, TickTable::Stock), Decimal::from(tick), "{price}");
        }
        assert_eq!(tick_size(dec!(100_000), TickTable::Fund), dec!(5));
    }

    #[test]
    fn rounding_modes_and_boundaries() {
        let r = |p, m| round_to_tick(p, TickTable::Stock, m).unwrap();
        assert_eq!(r(dec!(70_050), TickRounding::Down), dec!(70_000));
        assert_eq!(r(dec!(70_050), TickRounding::Up), dec!(70_100));
        assert_eq!(r(dec!(70_050), TickRounding::Nearest), dec!(70_100));
        assert_eq!(r(dec!(70_049), TickRounding::Nearest), dec!(70_000));
        assert_eq!(r(dec!(4_998), TickRounding::Up), dec!(5_000));
        assert_eq!(r(dec!(1_999.5), TickRounding::Up), dec!(2_000));
        assert_eq!(r(dec!(2_003), TickRounding::Down), dec!(2_000));
        assert_eq!(r(dec!(70_000), TickRounding::Up), dec!(70_000));
        assert_eq!(round_to_tick(dec!(10_002), TickTable::Fund, TickRounding::Down).unwrap(), dec!(10_000));
        assert!(round_to_tick(dec!(0.4), TickTable::Stock, TickRounding::Down).is_err());
        assert!(round_to_tick(dec!(-5), TickTable::Stock, TickRounding::Up).is_err());
        assert_eq!(TickRounding::conservative(Side::Buy), TickRounding::Down);
        assert_eq!(TickRounding::conservative(Side::Sell), TickRounding::Up);
        for p in [dec!(1), dec!(1999), dec!(2005), dec!(5010), dec!(20050), dec!(500000)] {
            assert!(is_on_tick(p, TickTable::Stock), "{p}");
        }
        for p in [dec!(2001), dec!(5005), dec!(20010), dec!(50050), dec!(0), dec!(1.5)] {
            assert!(!is_on_tick(p, TickTable::Stock), "{p}");
        }
    }

    #[test]
    fn band_from_base_stays_on_ticks_inside_thirty_percent() {
        let b = PriceBand::from_base(dec!(71_000), dec!(30), TickTable::Stock).unwrap();
        assert_eq!((b.lower, b.upper), (dec!(49_700), dec!(92_300)));
        let b = PriceBand::from_base(dec!(3_333), dec!(30), TickTable::Stock).unwrap();
        assert!(is_on_tick(b.lower, TickTable::Stock) && is_on_tick(b.upper, TickTable::Stock));
        assert!(b.upper <= dec!(4_332.9) && b.lower >= dec!(2_333.1));
        assert!(PriceBand::from_base(dec!(100), dec!(100), TickTable::Stock).is_err());
        assert!(PriceBand::from_broker(dec!(10), dec!(5)).is_err());
    }

    #[test]
    fn order_price_check_reports_each_problem() {
        let band = PriceBand::from_broker(dec!(49_700), dec!(92_300)).unwrap();
        let ctx = PriceContext { table: TickTable::Stock, band: Some(band), ..PriceContext::default() };
        let check = |t, p| check_order_price(t, p, &ctx);
        assert_eq!(check(OrderType::Limit, Some(dec!(70_000))), Ok(()));
        assert_eq!(check(OrderType::Market, None), Ok(()));
        assert_eq!(check(OrderType::Limit, None), Err(PriceError::MissingPrice(OrderType::Limit)));
        assert_eq!(
            check(OrderType::Market, Some(dec!(1))),
            Err(PriceError::UnexpectedPrice(OrderType::Market))
        );
        assert_eq!(check(OrderType::IocLimit, Some(dec!(0))), Err(PriceError::OutOfRange(dec!(0))));
        assert_eq!(
            check(OrderType::Limit, Some(dec!(70_050))),
            Err(PriceError::OffTick { price: dec!(70_050), tick: dec!(100) })
        );
        assert!(matches!(
            check(OrderType::Limit, Some(dec!(92_400))),
            Err(PriceError::AboveUpperLimit { .. })
        ));
        assert!(matches!(
            check(OrderType::FokLimit, Some(dec!(49_600))),
            Err(PriceError::BelowLowerLimit { .. })
        ));
        let no_band = PriceContext::default();
        assert_eq!(check_order_price(OrderType::Limit, Some(dec!(92_400)), &no_band), Ok(()));
    }
}
