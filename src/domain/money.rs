//! Money as an operator reads it: whole won with thousands separators (`-5,981`, `63,062`).
//!
//! Amounts are kept exact (`Decimal`, fractions of a won included: an average price, a P&L with
//! fees pro rata); only their display is rounded, half away from zero, as a statement would.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

/// Displays an amount in whole KRW with `,` between groups of three digits; `{:+}` adds the sign
/// of a non-negative amount too. Width and alignment apply to the whole number (`{:>12}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Krw(pub Decimal);

impl fmt::Display for Krw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let won = self.0.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        let digits = won.abs().trunc().to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        f.pad_integral(won.is_zero() || won.is_sign_positive(), "", &grouped)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::Krw;

    #[test]
    fn whole_won_with_separators() {
        assert_eq!(Krw(dec!(-5980.75694445)).to_string(), "-5,981");
        assert_eq!(Krw(dec!(63061.88271605)).to_string(), "63,062");
        assert_eq!(Krw(dec!(0.4)).to_string(), "0");
        assert_eq!(Krw(dec!(-0.4)).to_string(), "0", "no negative zero");
        assert_eq!(Krw(dec!(999.5)).to_string(), "1,000");
        assert_eq!(Krw(dec!(-2.5)).to_string(), "-3");
        assert_eq!(Krw(dec!(1234567)).to_string(), "1,234,567");
        assert_eq!(Krw(dec!(100000)).to_string(), "100,000");
        assert_eq!(format!("{:+}", Krw(dec!(1000))), "+1,000");
        assert_eq!(format!("{:>8}|", Krw(dec!(-1500))), "  -1,500|");
        assert_eq!(format!("{:<8}|", Krw(dec!(15))), "15      |");
    }
}
