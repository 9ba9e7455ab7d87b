//! Money as an operator reads it: whole won with thousands separators (`-5,981`, `63,062`), and
//! dollars with their cents (`1,234.50`).
//!
//! Amounts are kept exact (`Decimal`, fractions of a won included: an average price, a P&L with
//! fees pro rata); only their display is rounded, half away from zero, as a statement would.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use super::Currency;

/// Displays an amount in whole KRW with `,` between groups of three digits; `{:+}` adds the sign
/// of a non-negative amount too. Width and alignment apply to the whole number (`{:>12}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Krw(pub Decimal);

impl fmt::Display for Krw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let won = self.0.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        f.pad_integral(won.is_zero() || won.is_sign_positive(), "", &grouped(&won.abs().trunc().to_string()))
    }
}

/// Groups the digits of a whole number by three with `,`.
fn grouped(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Displays an amount of a currency the way its market quotes it: [`Krw`] for won, dollars and
/// cents with separators for USD (`1,234.50`, `-0.75`). Width and alignment apply to the whole
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money(pub Decimal, pub Currency);

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Currency::Krw => Krw(self.0).fmt(f),
            Currency::Usd => {
                let cents = self.0.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
                let dollars = grouped(&cents.abs().trunc().to_string());
                let fraction = (cents.abs().fract() * Decimal::ONE_HUNDRED).trunc();
                let text = format!("{dollars}.{fraction:0>2}");
                f.pad_integral(cents.is_zero() || cents.is_sign_positive(), "", &text)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::{Krw, Money};
    use crate::domain::Currency;

    #[test]
    fn dollars_with_cents_and_separators() {
        let usd = |d| Money(d, Currency::Usd).to_string();
        assert_eq!(usd(dec!(1234.5)), "1,234.50");
        assert_eq!(usd(dec!(231.255)), "231.26", "half away from zero");
        assert_eq!(usd(dec!(-0.754)), "-0.75");
        assert_eq!(usd(dec!(-0.004)), "0.00", "no negative zero");
        assert_eq!(usd(dec!(1000000)), "1,000,000.00");
        assert_eq!(format!("{:>10}|", Money(dec!(-12.3), Currency::Usd)), "    -12.30|");
        assert_eq!(Money(dec!(63061.88), Currency::Krw).to_string(), "63,062");
    }

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
