//! The separator pass and the field walker of the codec's hot path. One pass marks every `^` of
//! a payload in bit masks (16 bytes per SIMD compare) and keeps a copy of it as digit values; a
//! [`Fields`] walker then takes field after field from the masks, so finding the next field
//! never waits for the previous one to be parsed, and numbers are converted from eight-byte loads
//! out of that fixed-size, padded copy (no bounds check per field). Nothing is allocated per
//! field or record; the masks and the copy are reused from payload to payload.

use bytemuck::cast;
use rust_decimal::Decimal;
use wide::{u8x16, u16x8};

use super::digits::{digits, hhmmss, load_before, signed_decimal_into};
use crate::domain::Symbol;

/// Bytes in front of a payload's copy (not digits).
const PAD: usize = 8;
/// Payload positions the copy holds (a power of two: a position `& (POSITIONS - 1)` is in it).
pub(super) const POSITIONS: usize = super::MAX_FRAME_BYTES;
/// Size of the padded copy: the eight bytes before any position are inside it.
pub(super) const ROOM: usize = PAD + POSITIONS;
const _: () = assert!(POSITIONS.is_power_of_two());

/// A byte of the copy that is no digit value (the copy holds each payload byte XOR `'0'`, so the
/// digits are 0-9 and every other byte is above 9).
const NOT_A_DIGIT: u8 = 0xff;

/// The separator bit masks of a payload (bit `i` of word `w` is set when byte `64 w + i` is
/// `^`) and a padded copy of it as digit values. Number fields are read with eight-byte loads
/// ending at their last byte; in the copy, which has a fixed size, such a load needs no bounds
/// check.
pub(crate) struct Separators {
    words: Vec<u64>,
    /// `PAD` bytes that are no digits, then the payload last marked, each byte XOR `'0'`
    /// (`ROOM` bytes in all, allocated zeroed: pages are touched only as far as payloads reach).
    /// After a payload too long to copy, all of it is [`NOT_A_DIGIT`]: every fast path fails
    /// and the strict parsers read the fields.
    copy: Box<[u8; ROOM]>,
}

impl Default for Separators {
    fn default() -> Self {
        let mut copy = bytemuck::zeroed_box::<[u8; ROOM]>();
        if let Some(pad) = copy.get_mut(..PAD) {
            pad.fill(NOT_A_DIGIT);
        }
        Self { words: Vec::new(), copy }
    }
}

impl std::fmt::Debug for Separators {
    // Not the copy: a notice payload holds the account number.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Separators").field("words", &self.words.len()).finish_non_exhaustive()
    }
}

impl Separators {
    /// Marks the separators of `bytes` and copies it as digit values; returns the number of
    /// fields.
    pub(crate) fn mark(&mut self, bytes: &[u8]) -> usize {
        let (chunks, rest) = bytes.as_chunks::<64>();
        let words = &mut self.words;
        words.clear();
        words.resize(chunks.len() + 1, 0);
        let mut marks = words.iter_mut();
        // The copy's 64-byte chunks, one per chunk of the payload (`POSITIONS` is a multiple of
        // 64, so they fit whenever the payload does).
        let room = self.copy.get_mut(PAD..).and_then(|c| c.get_mut(..bytes.len().next_multiple_of(64)));
        let fits = room.is_some();
        let mut copy = room.unwrap_or_default().as_chunks_mut::<64>().0.iter_mut();
        let mut mark = |chunk: &[u8; 64], lanes: &mut u8x16| {
            let (mask, digits) = mark64(chunk, lanes);
            if let Some(word) = marks.next() {
                *word = mask;
            }
            if let Some(dst) = copy.next() {
                *dst = cast(digits);
            }
        };
        // Separators are counted per byte lane (a match is 0xFF, so subtracting it adds one) and
        // the lanes summed every 63 chunks, before one can wrap (a chunk adds at most 4).
        let mut separators = 0usize;
        let mut lanes = u8x16::ZERO;
        for group in chunks.chunks(63) {
            for chunk in group {
                mark(chunk, &mut lanes);
            }
            separators += lane_sum(lanes);
            lanes = u8x16::ZERO;
        }
        let mut last = [0u8; 64];
        if let Some(head) = last.get_mut(..rest.len()) {
            head.copy_from_slice(rest);
        }
        mark(&last, &mut lanes);
        if !fits {
            self.copy.fill(NOT_A_DIGIT);
        }
        separators + lane_sum(lanes) + 1
    }

    /// A walker over the fields of `bytes` (the payload last marked).
    pub(crate) fn fields<'a>(&'a self, bytes: &'a [u8]) -> Fields<'a> {
        Fields {
            bytes,
            padded: &self.copy,
            words: &self.words,
            word: 0,
            mask: self.words.first().copied().unwrap_or(0),
            start: 0,
        }
    }
}

/// Reads the fields of a marked payload in order. Past the last field it yields empty fields.
/// (No `Debug`: a notice payload holds the account number.)
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(super) bytes: &'a [u8],
    /// The padded copy of `bytes` as digit values.
    pub(super) padded: &'a [u8; ROOM],
    pub(super) words: &'a [u64],
    pub(super) word: usize,
    /// Separators of the current word not yet passed.
    pub(super) mask: u64,
    pub(super) start: usize,
}

impl<'a> Fields<'a> {
    /// Start and end of the next field.
    #[inline(always)]
    fn span(&mut self) -> (usize, usize) {
        if !self.find_separator() {
            let start = self.start.min(self.bytes.len());
            self.start = self.bytes.len();
            return (start, self.bytes.len());
        }
        let end = (self.word << 6) | self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        let start = self.start;
        self.start = end + 1;
        (start, end)
    }

    /// Moves to the mask word that holds the next separator; false when none is left (the
    /// payload's last field runs to its end).
    #[inline(always)]
    fn find_separator(&mut self) -> bool {
        while self.mask == 0 {
            let Some(&mask) = self.words.get(self.word + 1) else { return false };
            self.word += 1;
            self.mask = mask;
        }
        true
    }

    /// Skips `n` fields: every separator but the last is only cleared from its mask.
    #[inline(always)]
    pub(crate) fn skip(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        for _ in 1..n {
            if self.find_separator() {
                self.mask &= self.mask - 1;
            } else {
                self.start = self.bytes.len();
            }
        }
        self.span();
    }

    /// The next field's bytes.
    #[inline(always)]
    pub(crate) fn field(&mut self) -> &'a [u8] {
        let (start, end) = self.span();
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// Parses the next field as a decimal into `dst`; false when malformed (`dst` then unchanged).
    #[inline(always)]
    pub(crate) fn decimal_into(&mut self, dst: &mut Decimal) -> bool {
        let (start, end) = self.span();
        // Written in place: a returned `Option<Decimal>` costs a store-forwarding stall here.
        if let Some(v) = digits(self.padded, start, end) {
            *dst = Decimal::from_parts(v as u32, (v >> 32) as u32, 0, false, 0);
            return true;
        }
        signed_decimal_into(self.bytes, self.padded, start, end, dst)
    }

    /// The next field as an instrument code. A six-character code (a stock's, the common case)
    /// is taken from one load of the copy; anything else, and a payload too long for the copy,
    /// is read from the payload.
    #[inline(always)]
    pub(crate) fn symbol(&mut self) -> Option<Symbol> {
        let (start, end) = self.span();
        if end.wrapping_sub(start) == 6 {
            let [_, _, code @ ..] = (load_before(self.padded, end) ^ 0x3030_3030_3030_3030).to_le_bytes();
            if let Some(symbol) = Symbol::from_ascii(&code) {
                return Some(symbol);
            }
        }
        Symbol::from_ascii(self.bytes.get(start..end)?)
    }

    /// Seconds after midnight of the next field (`HHMMSS`).
    #[inline(always)]
    pub(crate) fn seconds(&mut self) -> Option<u32> {
        let (start, end) = self.span();
        hhmmss(self.bytes, self.padded, start, end)
    }
}

/// Bit `i` of the mask is set when `chunk[i]` is `^`; adds the chunk's separators to `lanes`
/// and returns the chunk as digit values too. One byte compare and a move-mask per 16 bytes
/// (`wide` picks SSE2, NEON or plain code for the target).
#[inline(always)]
fn mark64(chunk: &[u8; 64], lanes: &mut u8x16) -> (u64, [u8x16; 4]) {
    let (blocks, _) = chunk.as_chunks::<16>();
    let mut mask = 0u64;
    let mut digits = [u8x16::ZERO; 4];
    for ((k, block), digit) in blocks.iter().enumerate().zip(&mut digits) {
        let bytes = u8x16::new(*block);
        let eq = bytes.simd_eq(u8x16::splat(b'^'));
        mask |= u64::from((eq.to_bitmask() & 0xffff) as u16) << (16 * k);
        *lanes -= eq;
        *digit = bytes ^ u8x16::splat(b'0');
    }
    (mask, digits)
}

/// The sum of the byte lanes of `lanes`.
#[inline(always)]
fn lane_sum(lanes: u8x16) -> usize {
    usize::from((u16x8::from_u8x16_low(lanes) + u16x8::from_u8x16_high(lanes)).reduce_add())
}

#[cfg(test)]
#[path = "separators_tests.rs"]
mod tests;
