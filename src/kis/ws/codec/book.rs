//! Ten-level books (H0STASP0): each record parsed by named field into its [`QuoteEvent`], in
//! place at the end of the frame's batch; the 46 numbers from `ASKP1` to `ANTC_CNQN` are read as
//! one run.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::kst::KstDay;
use super::layout::{Field, book, consecutive};
use super::market::{Market, field_error, phase};
use super::run::{Numbers, ReadNumbers};
use crate::domain::Symbol;
use crate::domain::market::{BOOK_DEPTH, BookLevel, MarketEvent, QuoteEvent, SessionPhase};
use crate::kis::ws::error::KisWsError;

/// The first and last field of the run of numbers [`BookNumbers`] reads.
const RUN: [Field; 2] = [book::ASKP1, book::ANTC_CNQN];

// `BookNumbers` reads its fields one after the other, from the first of `RUN` to the last.
const _: () = assert!(
    book::ASKP[0].at == RUN[0].at
        && consecutive(&book::ASKP)
        && consecutive(&[book::ASKP[BOOK_DEPTH - 1], book::BIDP[0]])
        && consecutive(&book::BIDP)
        && consecutive(&[book::BIDP[BOOK_DEPTH - 1], book::ASKP_RSQN[0]])
        && consecutive(&book::ASKP_RSQN)
        && consecutive(&[book::ASKP_RSQN[BOOK_DEPTH - 1], book::BIDP_RSQN[0]])
        && consecutive(&book::BIDP_RSQN)
        && consecutive(&[
            book::BIDP_RSQN[BOOK_DEPTH - 1],
            book::TOTAL_ASKP_RSQN,
            book::TOTAL_BIDP_RSQN,
            book::OVTM_TOTAL_ASKP_RSQN,
            book::OVTM_TOTAL_BIDP_RSQN,
            book::ANTC_CNPR,
            book::ANTC_CNQN,
        ])
        && book::ANTC_CNQN.at == RUN[1].at
);

impl Market<'_> {
    /// Decodes `count` book records of the session `day` onto the end of `events` (as
    /// [`Self::trades`] does).
    #[inline(never)]
    pub(super) fn books(
        self,
        count: usize,
        width: usize,
        day: &KstDay,
        events: &mut Vec<MarketEvent>,
    ) -> Result<(), KisWsError> {
        let mut m = Market::new(self.f, self.tr);
        for _ in 0..count {
            m.book(day, events)?;
            m.next_record(width);
        }
        Ok(())
    }

    /// A 10-level book of the session day, pushed onto `events` blank and parsed over in place.
    /// Every field of the event is written.
    #[inline(always)]
    fn book(&mut self, day: &KstDay, events: &mut Vec<MarketEvent>) -> Result<(), KisWsError> {
        let symbol = self.symbol(book::MKSC_SHRN_ISCD)?;
        let at = day.at(self.seconds(book::BSOP_HOUR)?);
        events.push(MarketEvent::Quote(blank_quote(symbol)));
        let Some(MarketEvent::Quote(q)) = events.last_mut() else {
            return Err(field_error(self.tr, book::MKSC_SHRN_ISCD.name)); // never: just pushed
        };
        q.at = at;
        q.phase = phase(self.raw(book::HOUR_CLS_CODE));
        self.numbers(RUN, &mut BookNumbers(q))?;
        self.put(book::ACML_VOL, &mut q.cum_volume)
    }
}

/// A book before its record is parsed over it (every field but the symbol is written).
fn blank_quote(symbol: Symbol) -> QuoteEvent {
    QuoteEvent {
        symbol,
        at: DateTime::<Utc>::UNIX_EPOCH,
        phase: SessionPhase::Unknown,
        asks: [BookLevel::default(); BOOK_DEPTH],
        bids: [BookLevel::default(); BOOK_DEPTH],
        total_ask_qty: Decimal::ZERO,
        total_bid_qty: Decimal::ZERO,
        expected_price: Decimal::ZERO,
        expected_qty: Decimal::ZERO,
        cum_volume: Decimal::ZERO,
    }
}

/// The run of 46 numbers of a book record: ask prices, bid prices, ask quantities and bid
/// quantities, best level first; the total resting quantities, the after-hours totals (not
/// kept) and the expected match price and quantity.
struct BookNumbers<'q>(&'q mut QuoteEvent);

impl ReadNumbers for BookNumbers<'_> {
    #[inline(always)]
    fn read<N: Numbers>(&mut self, n: &mut N) -> Result<(), &'static str> {
        let q = &mut *self.0;
        n.fill(&book::ASKP, &mut q.asks, |l| &mut l.price)?;
        n.fill(&book::BIDP, &mut q.bids, |l| &mut l.price)?;
        n.fill(&book::ASKP_RSQN, &mut q.asks, |l| &mut l.qty)?;
        n.fill(&book::BIDP_RSQN, &mut q.bids, |l| &mut l.qty)?;
        n.pair([book::TOTAL_ASKP_RSQN, book::TOTAL_BIDP_RSQN], &mut q.total_ask_qty, &mut q.total_bid_qty)?;
        n.skip(2); // OVTM_TOTAL_ASKP_RSQN, OVTM_TOTAL_BIDP_RSQN
        n.pair([book::ANTC_CNPR, book::ANTC_CNQN], &mut q.expected_price, &mut q.expected_qty)
    }
}
