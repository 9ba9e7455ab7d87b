//! Primitive domain types shared by every layer: symbols, sides, order types, venues,
//! trading mode and the account number (which never prints in full).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Errors raised when a primitive value is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The symbol is neither a KRX code (6 to 9 ASCII uppercase letters or digits) nor a US
    /// ticker (1 to 5 uppercase letters, optionally a `.` or `/` and a class of 1 or 2 letters).
    #[error(
        "invalid symbol {0:?}: expected a KRX code (6-9 ASCII uppercase letters or digits) or a US ticker (AAPL, BRK.B)"
    )]
    InvalidSymbol(String),
    /// The account number is not `CANO-ACNT_PRDT_CD` with 8 + 2 digits.
    #[error("invalid account number (expected CANO-ACNT_PRDT_CD, 8+2 digits): {0}")]
    InvalidAccount(String),
    /// An enum value could not be parsed.
    #[error("invalid {kind}: {value:?}")]
    InvalidValue {
        /// What was being parsed.
        kind: &'static str,
        /// The offending input.
        value: String,
    },
}

/// Longest instrument code.
const SYMBOL_MAX: usize = 9;

/// An instrument code: a KRX code — 6 characters for stocks and ETFs (may contain letters, e.g.
/// `0001A0`), 7 for ETNs (`Q500061`), up to 9 for some warrants — or a US ticker (`AAPL`,
/// `BRK.B`: 1 to 5 uppercase letters, optionally `.` or `/` and a class of 1 or 2 letters). The
/// code alone does not say the market: an order and an instrument carry their
/// [`Exchange`], which does (and with it the [`Currency`]). Stored inline (no heap allocation),
/// so the real-time codec can build one per record for free; ordered like its text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol {
    // Zero-padded: a shorter code sorts before a longer one it prefixes, as text does.
    bytes: [u8; SYMBOL_MAX],
    len: u8,
}

impl Symbol {
    /// Parses and validates a symbol.
    ///
    /// # Errors
    /// Returns [`DomainError::InvalidSymbol`] when the code is neither a KRX code nor a US ticker.
    pub fn new(code: impl AsRef<str>) -> Result<Self, DomainError> {
        let code = code.as_ref();
        Self::from_ascii(code.as_bytes())
            .or_else(|| Self::us_ticker(code.as_bytes()))
            .ok_or_else(|| DomainError::InvalidSymbol(code.to_owned()))
    }

    /// Validates a US ticker: 1 to 5 uppercase letters, optionally followed by `.` or `/` and a
    /// share class of 1 or 2 letters (`AAPL`, `BRK.B`, `BF/B`); `None` otherwise.
    pub fn us_ticker(code: &[u8]) -> Option<Self> {
        let root_len = code.iter().take_while(|b| b.is_ascii_uppercase()).count();
        let ok = match code.get(root_len..) {
            _ if !(1..=5).contains(&root_len) => false,
            Some([]) => true,
            Some([b'.' | b'/', class @ ..]) => {
                (1..=2).contains(&class.len()) && class.iter().all(u8::is_ascii_uppercase)
            }
            _ => false,
        };
        if !ok {
            return None;
        }
        let mut bytes = [0; SYMBOL_MAX];
        bytes.get_mut(..code.len())?.copy_from_slice(code);
        Some(Self { bytes, len: u8::try_from(code.len()).ok()? })
    }

    /// Returns true for a KRX code (6 to 9 uppercase letters or digits), false for a US ticker.
    pub fn is_krx_code(&self) -> bool {
        self.len >= 6 && self.as_str().bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    }

    /// Returns the market the code belongs to: the two forms never overlap (a US ticker has at
    /// most 5 letters before its class, a KRX code at least 6 letters or digits and no `.`/`/`).
    pub fn region(&self) -> MarketRegion {
        if self.is_krx_code() { MarketRegion::Kr } else { MarketRegion::Us }
    }

    /// Validates raw bytes as a symbol (6-9 ASCII uppercase alphanumerics), as wire decoders
    /// read them; `None` otherwise. Copies and checks the code eight bytes at a time (no loop
    /// per byte, no call to `memcpy`): the real-time codec builds one per record.
    #[inline]
    pub fn from_ascii(code: &[u8]) -> Option<Self> {
        let (head, tail) = code.split_first_chunk::<6>()?;
        // The bytes after the code, and the padding of the first eight that is checked as '0'.
        let (t, padding) = match *tail {
            [] => ([0; 3], 0x3030 << 48),
            [a] => ([a, 0, 0], 0x30 << 56),
            [a, b] => ([a, b, 0], 0),
            [a, b, c] => ([a, b, c], 0),
            _ => return None,
        };
        let [h0, h1, h2, h3, h4, h5] = *head;
        let [t0, t1, t2] = t;
        let first8 = u64::from_le_bytes([h0, h1, h2, h3, h4, h5, t0, t1]) | padding;
        let ninth = if tail.len() == 3 { t2 } else { b'0' };
        (alphanumeric_word(first8) && (ninth.is_ascii_digit() || ninth.is_ascii_uppercase()))
            .then_some(Self { bytes: [h0, h1, h2, h3, h4, h5, t0, t1, t2], len: 6 + tail.len() as u8 })
    }

    /// Returns the code as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored.
        self.bytes.get(..usize::from(self.len)).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default()
    }
}

/// Every byte of `v` is an ASCII digit or uppercase letter (SWAR: each range test adds to every
/// byte at once; no byte can carry into the next while all are below 0x80, and a byte at or
/// above 0x80 fails anyway).
const fn alphanumeric_word(v: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = ONES * 0x80;
    const fn at_least(v: u64, lo: u8) -> u64 {
        v.wrapping_add(ONES * (0x80 - lo as u64)) & HIGHS
    }
    const fn above(v: u64, hi: u8) -> u64 {
        v.wrapping_add(ONES * (0x7f - hi as u64)) & HIGHS
    }
    let digit = at_least(v, b'0') & !above(v, b'9');
    let upper = at_least(v, b'A') & !above(v, b'Z');
    v & HIGHS == 0 && (digit | upper) == HIGHS
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Symbol").field(&self.as_str()).finish()
    }
}

impl TryFrom<String> for Symbol {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Symbol> for String {
    fn from(value: Symbol) -> Self {
        value.as_str().to_owned()
    }
}

impl FromStr for Symbol {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! str_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Returns the stable text form used in the database and the CLI.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_uppercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(DomainError::InvalidValue { kind: $kind, value: s.to_owned() }),
                }
            }
        }
    };
}

str_enum!(
    /// Buy or sell.
    Side, "side" {
        /// Buy.
        Buy => "BUY",
        /// Sell.
        Sell => "SELL",
    }
);

str_enum!(
    /// Order types the service sends (a subset of KIS `ORD_DVSN`).
    OrderType, "order type" {
        /// Limit order (`00`).
        Limit => "LIMIT",
        /// Market order (`01`).
        Market => "MARKET",
        /// Immediate-or-cancel limit (`11`).
        IocLimit => "IOC_LIMIT",
        /// Fill-or-kill limit (`12`).
        FokLimit => "FOK_LIMIT",
    }
);

str_enum!(
    /// Trading venue.
    Exchange, "exchange" {
        /// Korea Exchange (default; the only domestic venue on paper accounts).
        Krx => "KRX",
        /// Nextrade alternative venue.
        Nxt => "NXT",
        /// Smart order routing between KRX and NXT.
        Sor => "SOR",
        /// Nasdaq (US; KIS trading code `NASD`).
        Nasd => "NASD",
        /// New York Stock Exchange (US).
        Nyse => "NYSE",
        /// NYSE American (US; `AMEX`).
        Amex => "AMEX",
    }
);

str_enum!(
    /// The currency of an instrument's prices, of its orders and of their limits.
    Currency, "currency" {
        /// Korean won (whole units).
        Krw => "KRW",
        /// US dollar (cents, and sub-penny below one dollar).
        Usd => "USD",
    }
);

str_enum!(
    /// The market a pipeline trades: its calendar, its trade date, its broker endpoints.
    MarketRegion, "market" {
        /// Korea: KRX (and NXT), KRW, the KST trade date.
        Kr => "KR",
        /// United States: Nasdaq, NYSE, Amex, USD, the New York trade date.
        Us => "US",
    }
);

#[expect(clippy::derivable_impls, reason = "declared by str_enum!, which derives no Default")]
impl Default for Exchange {
    fn default() -> Self {
        Self::Krx
    }
}

impl Exchange {
    /// Returns the market the venue belongs to.
    pub const fn region(self) -> MarketRegion {
        match self {
            Self::Krx | Self::Nxt | Self::Sor => MarketRegion::Kr,
            Self::Nasd | Self::Nyse | Self::Amex => MarketRegion::Us,
        }
    }

    /// Returns the currency of the venue's prices.
    pub const fn currency(self) -> Currency {
        match self.region() {
            MarketRegion::Kr => Currency::Krw,
            MarketRegion::Us => Currency::Usd,
        }
    }

    /// Returns the US exchange, for a US venue.
    pub const fn us(self) -> Option<super::overseas::UsExchange> {
        use super::overseas::UsExchange;
        match self {
            Self::Nasd => Some(UsExchange::Nasdaq),
            Self::Nyse => Some(UsExchange::Nyse),
            Self::Amex => Some(UsExchange::Amex),
            Self::Krx | Self::Nxt | Self::Sor => None,
        }
    }
}

impl From<super::overseas::UsExchange> for Exchange {
    fn from(value: super::overseas::UsExchange) -> Self {
        use super::overseas::UsExchange;
        match value {
            UsExchange::Nasdaq => Self::Nasd,
            UsExchange::Nyse => Self::Nyse,
            UsExchange::Amex => Self::Amex,
        }
    }
}

impl MarketRegion {
    /// Returns the currency the market trades in.
    pub const fn currency(self) -> Currency {
        match self {
            Self::Kr => Currency::Krw,
            Self::Us => Currency::Usd,
        }
    }
}

str_enum!(
    /// Live (실전투자) or paper (모의투자) trading.
    Mode, "mode" {
        /// Real money.
        Live => "LIVE",
        /// Paper trading on the KIS virtual host.
        Paper => "PAPER",
    }
);

impl OrderType {
    /// Returns true when the order carries a price.
    pub const fn has_price(self) -> bool {
        matches!(self, Self::Limit | Self::IocLimit | Self::FokLimit)
    }
}

impl Side {
    /// Returns the opposite side.
    pub const fn opposite(self) -> Self {
        match self {
            Self::Buy => Self::Sell,
            Self::Sell => Self::Buy,
        }
    }
}

/// A brokerage account number `CANO-ACNT_PRDT_CD` (8 + 2 digits).
///
/// `Display` and `Debug` show only the last 4 digits (`****-**5601` style); the full
/// number is available through [`AccountNo::cano`] and [`AccountNo::product_code`] for the wire.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccountNo {
    cano: String,
    product: String,
}

impl AccountNo {
    /// Parses `CANO-ACNT_PRDT_CD` (also accepts 10 digits without the dash).
    ///
    /// # Errors
    /// Returns [`DomainError::InvalidAccount`] (with a masked echo) when malformed.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        let (cano, product) = match raw.split_once('-') {
            Some((c, p)) => (c, p),
            None if raw.len() == 10 && raw.is_ascii() => raw.split_at(8),
            None => ("", ""),
        };
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if digits(cano, 8) && digits(product, 2) {
            Ok(Self { cano: cano.to_owned(), product: product.to_owned() })
        } else {
            Err(DomainError::InvalidAccount(mask_tail(raw, 4)))
        }
    }

    /// Returns the 8-digit `CANO` for request bodies.
    pub fn cano(&self) -> &str {
        &self.cano
    }

    /// Returns the 2-digit `ACNT_PRDT_CD` for request bodies.
    pub fn product_code(&self) -> &str {
        &self.product
    }

    /// Returns the 10-digit form used in realtime notices (`ACNT_NO`).
    pub fn ten_digits(&self) -> String {
        format!("{}{}", self.cano, self.product)
    }

    /// Returns the masked form: only the last 4 digits are visible.
    pub fn masked(&self) -> String {
        mask_tail(&self.ten_digits(), 4)
    }
}

impl fmt::Display for AccountNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for AccountNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountNo({})", self.masked())
    }
}

/// Replaces every character except the last `keep` with `*`.
pub fn mask_tail(raw: &str, keep: usize) -> String {
    let n = raw.chars().count();
    raw.chars().enumerate().map(|(i, c)| if i + keep < n { '*' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn symbols_from_bytes_agree_with_the_byte_by_byte_rule(
            code in proptest::collection::vec(
                proptest::prop_oneof![b'0'..=b'9', b'A'..=b'Z', proptest::num::u8::ANY], 0..12)
        ) {
            let valid = (6..=9).contains(&code.len())
                && code.iter().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
            let symbol = Symbol::from_ascii(&code);
            proptest::prop_assert_eq!(symbol.is_some(), valid, "{:?}", code);
            if let Some(symbol) = symbol {
                proptest::prop_assert_eq!(symbol.as_str().as_bytes(), &code[..]);
            }
        }
    }

    #[test]
    fn symbols_are_inline_and_order_like_their_text() {
        let mut codes = ["005930", "0059300", "Q500061", "0001A0", "J0036221D", "00593", "000660"]
            .into_iter()
            .filter_map(|c| Symbol::new(c).ok())
            .collect::<Vec<_>>();
        assert_eq!(codes.len(), 6, "5-character codes are refused");
        codes.sort();
        let text: Vec<&str> = codes.iter().map(Symbol::as_str).collect();
        let mut sorted = text.clone();
        sorted.sort_unstable();
        assert_eq!(text, sorted);
        let s = Symbol::new("J0036221D").unwrap();
        assert_eq!(
            (s.to_string(), format!("{s:?}")),
            ("J0036221D".to_owned(), "Symbol(\"J0036221D\")".to_owned())
        );
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"J0036221D\"");
        assert_eq!(serde_json::from_str::<Symbol>("\"005930\"").unwrap().as_str(), "005930");
        assert!(serde_json::from_str::<Symbol>("\"0059301234\"").is_err());
        assert_eq!(std::mem::size_of::<Symbol>(), 10);
    }

    #[test]
    fn symbols_accept_alphanumeric_and_etn_codes() {
        for ok in ["005930", "0001A0", "Q500061", "J0036221D"] {
            assert!(Symbol::new(ok).is_ok(), "{ok}");
        }
        for bad in
            ["", "5930", "00593a", "0059 30", "1234567890", "aapl", "ABCDEF.G", "BRK.", "BRK.BCD", ".B"]
        {
            assert!(Symbol::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn symbols_hold_us_tickers_apart_from_krx_codes() {
        for us in ["A", "AAPL", "GOOGL", "BRK.B", "BF/B", "ABC.WS"] {
            let s = Symbol::new(us).unwrap();
            assert_eq!(s.as_str(), us);
            assert!(!s.is_krx_code(), "{us}");
            assert!(Symbol::from_ascii(us.as_bytes()).is_none(), "the codec's KRX path refuses {us}");
        }
        assert!(Symbol::new("005930").unwrap().is_krx_code());
        assert_eq!(Symbol::new("005930").unwrap().region(), MarketRegion::Kr);
        assert_eq!(Symbol::new("BRK.B").unwrap().region(), MarketRegion::Us);
        assert_eq!(serde_json::from_str::<Symbol>("\"AAPL\"").unwrap().as_str(), "AAPL");
        for e in Exchange::ALL {
            assert_eq!(e.us().is_some(), e.region() == MarketRegion::Us);
            assert_eq!(e.currency(), e.region().currency());
            if let Some(us) = e.us() {
                assert_eq!(Exchange::from(us), *e);
                assert_eq!(us.order_code(), e.as_str());
            }
        }
    }

    #[test]
    fn account_parses_and_masks() {
        let a = AccountNo::parse("12345678-01").unwrap();
        assert_eq!(a.cano(), "12345678");
        assert_eq!(a.product_code(), "01");
        assert_eq!(a.to_string(), "******7801");
        assert!(!format!("{a:?}").contains("12345678"));
        assert_eq!(AccountNo::parse("1234567801").unwrap(), a);
        let err = AccountNo::parse("1234567-01").unwrap_err().to_string();
        assert!(!err.contains("1234567"), "{err}");
    }

    #[test]
    fn enums_round_trip_text() {
        for s in Side::ALL {
            assert_eq!(s.as_str().parse::<Side>().unwrap(), *s);
        }
        for e in Exchange::ALL {
            assert_eq!(e.as_str().parse::<Exchange>().unwrap(), *e);
        }
        assert_eq!("paper".parse::<Mode>().unwrap(), Mode::Paper);
        assert!("x".parse::<OrderType>().is_err());
    }
}
