//! Ten-level books (H0STASP0): each record parsed by named field into the [`QuoteEvent`] in its
//! slot; the 46 numbers from `ASKP1` to `ANTC_CNQN` are read as one run.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::kst::KstDay;
use super::layout::{Field, book, consecutive};
use super::market::{Market, field_error, phase, slot};
use super::run::{Numbers, ReadNumbers};
use crate::domain::Symbol;
use crate::domain::market::{BOOK_DEPTH, BookLevel, QuoteEvent, SessionPhase};
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
    /// Decodes `count` book records of the session `day` into `slots` (written over as
    /// [`Self::trades`] writes).
    #[inline(never)]
    pub(super) fn books(
        self,
        count: usize,
        width: usize,
        day: &KstDay,
        slots: &mut Vec<QuoteEvent>,
    ) -> Result<(), KisWsError> {
        let mut m = Market::new(self.f, self.tr);
        for i in 0..count {
            m.book(day, slots, i)?;
            m.next_record(width);
        }
        Ok(())
    }

    /// A 10-level book of the session day, written over slot `i`. Every field of the event is
    /// written.
    #[inline(always)]
    fn book(&mut self, day: &KstDay, slots: &mut Vec<QuoteEvent>, i: usize) -> Result<(), KisWsError> {
        let symbol = self.symbol(book::MKSC_SHRN_ISCD)?;
        let at = day.at(self.seconds(book::BSOP_HOUR)?);
        let Some(q) = slot(slots, i, || blank_quote(symbol.clone())) else {
            return Err(field_error(self.tr, book::MKSC_SHRN_ISCD.name)); // never: slots holds at least `i`
        };
        q.symbol = symbol;
        q.at = at;
        q.phase = phase(self.raw(book::HOUR_CLS_CODE));
        self.numbers(RUN, &mut BookNumbers(q))?;
        self.put(book::ACML_VOL, &mut q.cum_volume)
    }
}

/// A book slot's first event (every field is written over before it is returned).
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
