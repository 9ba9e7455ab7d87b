//! Trade prints (H0STCNT0 and its integrated / NXT twins): each record parsed by named field
//! into its [`TradeTick`], in place at the end of the frame's batch.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::kst::KstDay;
use super::layout::trade;
use super::market::{Market, field_error, phase};
use super::strict::parse_yyyymmdd;
use crate::domain::market::{MarketEvent, SessionPhase, TradeTick};
use crate::domain::{Side, Symbol};
use crate::kis::ws::error::KisWsError;

/// The last trade date seen (`BSOP_DATE` bytes) and its day, parsed once per change.
pub(super) type TradeDay = Option<([u8; 8], KstDay)>;

impl Market<'_> {
    /// Decodes `count` trade records onto the end of `events` (one loop per channel keeps each
    /// hot loop's state in registers). On an error `events` ends with a partly written event;
    /// the caller drops the batch.
    #[inline(never)]
    pub(super) fn trades(
        self,
        count: usize,
        width: usize,
        day: &mut TradeDay,
        events: &mut Vec<MarketEvent>,
    ) -> Result<(), KisWsError> {
        // A fresh local copy (not the argument's memory) keeps the walker in registers.
        let mut m = Market::new(self.f, self.tr);
        for _ in 0..count {
            m.trade(day, events)?;
            m.next_record(width);
        }
        Ok(())
    }

    /// A trade print, pushed onto `events` blank and parsed over in place; `day` caches the day
    /// of the last trade date seen. Every field of the event is written.
    #[inline(always)]
    fn trade(&mut self, day: &mut TradeDay, events: &mut Vec<MarketEvent>) -> Result<(), KisWsError> {
        let symbol = self.symbol(trade::MKSC_SHRN_ISCD)?;
        let secs = self.seconds(trade::STCK_CNTG_HOUR)?;
        events.push(MarketEvent::Trade(blank_trade(symbol)));
        let Some(MarketEvent::Trade(t)) = events.last_mut() else {
            return Err(field_error(self.tr, trade::MKSC_SHRN_ISCD.name)); // never: just pushed
        };
        self.put(trade::STCK_PRPR, &mut t.price)?;
        self.put(trade::PRDY_VRSS, &mut t.change)?;
        self.put(trade::PRDY_CTRT, &mut t.change_rate)?;
        self.put(trade::STCK_OPRC, &mut t.open)?;
        self.put(trade::STCK_HGPR, &mut t.high)?;
        self.put(trade::STCK_LWPR, &mut t.low)?;
        self.put(trade::ASKP1, &mut t.best_ask)?;
        self.put(trade::BIDP1, &mut t.best_bid)?;
        self.put(trade::CNTG_VOL, &mut t.qty)?;
        self.put(trade::ACML_VOL, &mut t.cum_volume)?;
        self.put(trade::ACML_TR_PBMN, &mut t.cum_value)?;
        t.aggressor = match self.raw(trade::CCLD_DVSN) {
            b"1" => Some(Side::Buy),
            b"5" => Some(Side::Sell),
            _ => None,
        };
        let raw_date = self.raw(trade::BSOP_DATE);
        let kst = match *day {
            Some((key, d)) if key.as_slice() == raw_date => d,
            _ => {
                let (Some(date), Ok(key)) = (parse_yyyymmdd(raw_date), <[u8; 8]>::try_from(raw_date)) else {
                    return Err(field_error(self.tr, trade::BSOP_DATE.name));
                };
                let d = KstDay::new(date);
                *day = Some((key, d));
                d
            }
        };
        t.at = kst.at(secs);
        t.halted = self.raw(trade::TRHT_YN) == b"Y";
        t.phase = phase(self.raw(trade::HOUR_CLS_CODE));
        Ok(())
    }
}

/// A trade print before its record is parsed over it (every field but the symbol is written).
fn blank_trade(symbol: Symbol) -> TradeTick {
    TradeTick {
        symbol,
        at: DateTime::<Utc>::UNIX_EPOCH,
        price: Decimal::ZERO,
        qty: Decimal::ZERO,
        change: Decimal::ZERO,
        change_rate: Decimal::ZERO,
        open: Decimal::ZERO,
        high: Decimal::ZERO,
        low: Decimal::ZERO,
        best_ask: Decimal::ZERO,
        best_bid: Decimal::ZERO,
        cum_volume: Decimal::ZERO,
        cum_value: Decimal::ZERO,
        aggressor: None,
        phase: SessionPhase::Unknown,
        halted: false,
    }
}
