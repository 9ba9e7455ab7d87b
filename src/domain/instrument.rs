//! Instruments: the KRX [`Market`], the typed [`MasterRecord`] read from a stock master file
//! (shaped to map one-to-one onto an `instruments` row) with its security group, market-warning level
//! and status flags, and the day's [`InstrumentChange`]s.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{DomainError, Symbol};

/// A KRX cash-equity market that publishes a stock master file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Market {
    /// KOSPI (유가증권시장).
    Kospi,
    /// KOSDAQ.
    Kosdaq,
    /// KONEX.
    Konex,
}

impl Market {
    /// Every market, in declaration order.
    pub const ALL: &'static [Market] = &[Market::Kospi, Market::Kosdaq, Market::Konex];

    /// Returns the stable text form used in the database and the configuration.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Kospi => "KOSPI",
            Self::Kosdaq => "KOSDAQ",
            Self::Konex => "KONEX",
        }
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Market {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "KOSPI" => Ok(Self::Kospi),
            "KOSDAQ" => Ok(Self::Kosdaq),
            "KONEX" => Ok(Self::Konex),
            _ => Err(DomainError::InvalidValue { kind: "market", value: s.to_owned() }),
        }
    }
}

/// Security group: what kind of instrument a code is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SecurityGroup {
    /// `ST` common or preferred shares (주권).
    Stock,
    /// `MF` securities investment company.
    MutualFund,
    /// `RT` real-estate investment trust.
    Reit,
    /// `SC` ship investment company.
    ShipFund,
    /// `IF` infrastructure fund.
    InfraFund,
    /// `DR` depositary receipt.
    DepositaryReceipt,
    /// `EW` equity-linked warrant.
    Elw,
    /// `EF` exchange-traded fund.
    Etf,
    /// `SW` subscription warrant (신주인수권증권).
    SubscriptionWarrant,
    /// `SR` subscription right (신주인수권증서).
    SubscriptionRight,
    /// `BC` beneficiary certificate.
    BeneficiaryCertificate,
    /// `FE` foreign ETF.
    ForeignEtf,
    /// `FS` foreign shares.
    ForeignStock,
    /// `EN` exchange-traded note.
    Etn,
    /// Any other two-letter code (`PF` has been seen), kept verbatim.
    Other(String),
}

impl SecurityGroup {
    /// Returns the group for a two-letter code; unknown codes become [`SecurityGroup::Other`].
    pub fn from_code(code: &str) -> Self {
        match code {
            "ST" => Self::Stock,
            "MF" => Self::MutualFund,
            "RT" => Self::Reit,
            "SC" => Self::ShipFund,
            "IF" => Self::InfraFund,
            "DR" => Self::DepositaryReceipt,
            "EW" => Self::Elw,
            "EF" => Self::Etf,
            "SW" => Self::SubscriptionWarrant,
            "SR" => Self::SubscriptionRight,
            "BC" => Self::BeneficiaryCertificate,
            "FE" => Self::ForeignEtf,
            "FS" => Self::ForeignStock,
            "EN" => Self::Etn,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Returns the two-letter vendor code, the form stored in the database.
    pub fn code(&self) -> &str {
        match self {
            Self::Stock => "ST",
            Self::MutualFund => "MF",
            Self::Reit => "RT",
            Self::ShipFund => "SC",
            Self::InfraFund => "IF",
            Self::DepositaryReceipt => "DR",
            Self::Elw => "EW",
            Self::Etf => "EF",
            Self::SubscriptionWarrant => "SW",
            Self::SubscriptionRight => "SR",
            Self::BeneficiaryCertificate => "BC",
            Self::ForeignEtf => "FE",
            Self::ForeignStock => "FS",
            Self::Etn => "EN",
            Self::Other(code) => code,
        }
    }
}

impl TryFrom<String> for SecurityGroup {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let code = value.trim().to_ascii_uppercase();
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self::from_code(&code))
        } else {
            Err(format!("invalid security group {value:?}: expected a two-letter code such as ST, EF, EN"))
        }
    }
}

impl From<SecurityGroup> for String {
    fn from(value: SecurityGroup) -> Self {
        value.code().to_owned()
    }
}

impl fmt::Display for SecurityGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// KRX market-warning level, ordered from none to risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MarketWarning {
    /// `00` (or blank): no designation.
    None,
    /// `01` investment caution (투자주의).
    Caution,
    /// `02` investment warning (투자경고).
    Warning,
    /// `03` investment risk (투자위험).
    Risk,
}

impl MarketWarning {
    /// Returns the level for a vendor code; `None` for an unknown code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "00" | "" => Some(Self::None),
            "01" => Some(Self::Caution),
            "02" => Some(Self::Warning),
            "03" => Some(Self::Risk),
            _ => None,
        }
    }

    /// Returns the stable text form used in the database and events.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Caution => "CAUTION",
            Self::Warning => "WARNING",
            Self::Risk => "RISK",
        }
    }
}

impl fmt::Display for MarketWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! flags {
    ($($(#[$meta:meta])* $name:ident = $bit:literal),+ $(,)?) => {
        /// Secondary status flags of an instrument; stored as one integer column via
        /// [`InstrumentFlags::bits`] and [`InstrumentFlags::from_bits`].
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct InstrumentFlags {
            $($(#[$meta])* pub $name: bool,)+
        }

        impl InstrumentFlags {
            /// Returns the flags packed into an integer (bit positions are stable).
            pub const fn bits(self) -> u32 {
                0 $(| ((self.$name as u32) << $bit))+
            }

            /// Returns the flags unpacked from [`InstrumentFlags::bits`]; unknown bits are ignored.
            pub const fn from_bits(bits: u32) -> Self {
                Self { $($name: bits & (1 << $bit) != 0,)+ }
            }
        }
    };
}

flags! {
    /// Liquidation trading before delisting (정리매매).
    liquidation_trading = 0,
    /// Advance notice of a warning-to-risk designation.
    warning_risk_notice = 1,
    /// Unfaithful-disclosure designation (불성실공시).
    unfaithful_disclosure = 2,
    /// Short-term overheating designated or extended (단기과열 2/3).
    short_term_overheat = 3,
    /// Short-selling overheated (공매도과열).
    short_sale_overheat = 4,
    /// Abnormal price surge (이상급등).
    abnormal_surge = 5,
    /// Low liquidity (저유동성).
    low_liquidity = 6,
    /// Special-purpose acquisition company (SPAC).
    spac = 7,
    /// KOSDAQ investment-caution alert (투자주의환기).
    investment_alert = 8,
    /// Credit trading allowed.
    credit_available = 9,
    /// Preferred share.
    preferred = 10,
}

/// One instrument from a stock master file.
///
/// The first twelve fields are the `instruments` row (code, ISIN, name, market, group, halted,
/// administrative issue, warning, base price, lot size, listing date, previous-day volume); `flags`
/// packs into one integer column; the remaining fields are informational.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterRecord {
    /// Short code (`005930`, `0001A0`, `Q500061`).
    pub symbol: Symbol,
    /// ISIN (`KR7005930003`).
    pub isin: String,
    /// Korean name, trailing padding removed.
    pub name: String,
    /// The market whose file lists the instrument.
    pub market: Market,
    /// Security group.
    pub group: SecurityGroup,
    /// Trading halted (거래정지).
    pub halted: bool,
    /// Administrative issue (관리종목).
    pub admin_issue: bool,
    /// Market-warning level.
    pub warning: MarketWarning,
    /// Base price for the day in KRW (기준가).
    pub base_price: Decimal,
    /// Regular-session lot size (at least 1).
    pub lot_size: u32,
    /// Listing date, when published.
    pub listed_on: Option<NaiveDate>,
    /// Previous-day volume in shares (0 when blank).
    pub prev_volume: u64,
    /// Secondary status flags.
    pub flags: InstrumentFlags,
    /// Face value in KRW, when published.
    pub face_value: Option<Decimal>,
    /// Listed shares, when published.
    pub listed_shares: Option<u64>,
    /// Margin rate in percent, when published.
    pub margin_rate_pct: Option<u16>,
    /// Previous-day market capitalisation in 100 million KRW (억원), when published.
    pub prev_market_cap_eok: Option<u64>,
}

impl MasterRecord {
    /// Returns the approximate previous-day turnover in KRW: previous-day volume × base price.
    pub fn prev_turnover(&self) -> Decimal {
        Decimal::from(self.prev_volume).saturating_mul(self.base_price)
    }
}

/// One difference between yesterday's instruments and today's master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstrumentChange {
    /// The code appears for the first time.
    NewListing {
        /// The instrument.
        symbol: Symbol,
        /// Its name.
        name: String,
        /// Its market.
        market: Market,
        /// Its security group.
        group: SecurityGroup,
    },
    /// The code is no longer listed.
    Delisting {
        /// The instrument.
        symbol: Symbol,
        /// Its last known name.
        name: String,
        /// Its last known market.
        market: Market,
    },
    /// Trading was halted (`halted: true`) or resumed (`halted: false`).
    TradingHalt {
        /// The instrument.
        symbol: Symbol,
        /// The new state.
        halted: bool,
    },
    /// The administrative-issue designation was added or removed.
    AdministrativeIssue {
        /// The instrument.
        symbol: Symbol,
        /// The new state.
        designated: bool,
    },
    /// The market-warning level changed.
    MarketWarning {
        /// The instrument.
        symbol: Symbol,
        /// Yesterday's level.
        from: MarketWarning,
        /// Today's level.
        to: MarketWarning,
    },
    /// The Korean name changed.
    NameChange {
        /// The instrument.
        symbol: Symbol,
        /// Yesterday's name.
        from: String,
        /// Today's name.
        to: String,
    },
    /// The instrument moved to another market (for example KOSDAQ to KOSPI).
    MarketTransfer {
        /// The instrument.
        symbol: Symbol,
        /// Yesterday's market.
        from: Market,
        /// Today's market.
        to: Market,
    },
}

impl InstrumentChange {
    /// Returns the instrument the change is about.
    pub fn symbol(&self) -> &Symbol {
        match self {
            Self::NewListing { symbol, .. }
            | Self::Delisting { symbol, .. }
            | Self::TradingHalt { symbol, .. }
            | Self::AdministrativeIssue { symbol, .. }
            | Self::MarketWarning { symbol, .. }
            | Self::NameChange { symbol, .. }
            | Self::MarketTransfer { symbol, .. } => symbol,
        }
    }

    /// Returns the stable event kind (`NEW_LISTING`, `TRADING_HALT`, ...).
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::NewListing { .. } => "NEW_LISTING",
            Self::Delisting { .. } => "DELISTING",
            Self::TradingHalt { .. } => "TRADING_HALT",
            Self::AdministrativeIssue { .. } => "ADMINISTRATIVE_ISSUE",
            Self::MarketWarning { .. } => "MARKET_WARNING",
            Self::NameChange { .. } => "NAME_CHANGE",
            Self::MarketTransfer { .. } => "MARKET_TRANSFER",
        }
    }
}

impl fmt::Display for InstrumentChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NewListing { symbol, name, market, group } => {
                write!(f, "{symbol} {name}: new listing on {market} ({group})")
            }
            Self::Delisting { symbol, name, market } => write!(f, "{symbol} {name}: delisted from {market}"),
            Self::TradingHalt { symbol, halted: true } => write!(f, "{symbol}: trading halted"),
            Self::TradingHalt { symbol, halted: false } => write!(f, "{symbol}: trading resumed"),
            Self::AdministrativeIssue { symbol, designated: true } => {
                write!(f, "{symbol}: designated administrative issue")
            }
            Self::AdministrativeIssue { symbol, designated: false } => {
                write!(f, "{symbol}: administrative issue released")
            }
            Self::MarketWarning { symbol, from, to } => write!(f, "{symbol}: market warning {from} -> {to}"),
            Self::NameChange { symbol, from, to } => write!(f, "{symbol}: renamed {from} -> {to}"),
            Self::MarketTransfer { symbol, from, to } => write!(f, "{symbol}: moved {from} -> {to}"),
        }
    }
}

/// Returns a plain tradable stock record for unit tests.
#[cfg(test)]
pub(crate) fn test_record(code: &str, market: Market) -> MasterRecord {
    MasterRecord {
        symbol: Symbol::new(code).unwrap(),
        isin: format!("KR7{code:0>6}003"),
        name: format!("종목{code}"),
        market,
        group: SecurityGroup::Stock,
        halted: false,
        admin_issue: false,
        warning: MarketWarning::None,
        base_price: Decimal::from(10_000),
        lot_size: 1,
        listed_on: None,
        prev_volume: 1000,
        flags: InstrumentFlags::default(),
        face_value: None,
        listed_shares: None,
        margin_rate_pct: None,
        prev_market_cap_eok: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_names_round_trip() {
        for &m in Market::ALL {
            assert_eq!(m.as_str().parse::<Market>().unwrap(), m);
        }
        assert_eq!("kosdaq".parse::<Market>().unwrap(), Market::Kosdaq);
        assert!("nasdaq".parse::<Market>().is_err());
    }

    #[test]
    fn flags_round_trip_through_bits() {
        let all = InstrumentFlags::from_bits(u32::MAX);
        assert_eq!(all.bits(), (1 << 11) - 1);
        let some = InstrumentFlags { spac: true, preferred: true, ..InstrumentFlags::default() };
        assert_eq!(some.bits(), (1 << 7) | (1 << 10));
        assert_eq!(InstrumentFlags::from_bits(some.bits()), some);
        assert_eq!(InstrumentFlags::from_bits(0), InstrumentFlags::default());
    }

    #[test]
    fn groups_and_warnings_map_codes() {
        for code in ["ST", "MF", "RT", "SC", "IF", "DR", "EW", "EF", "SW", "SR", "BC", "FE", "FS", "EN", "PF"]
        {
            assert_eq!(SecurityGroup::from_code(code).code(), code);
        }
        assert_eq!(SecurityGroup::from_code("PF"), SecurityGroup::Other("PF".into()));
        assert_eq!(SecurityGroup::try_from("en".to_owned()).unwrap(), SecurityGroup::Etn);
        assert!(SecurityGroup::try_from("E1".to_owned()).is_err());
        assert_eq!(MarketWarning::from_code("02"), Some(MarketWarning::Warning));
        assert_eq!(MarketWarning::from_code(""), Some(MarketWarning::None));
        assert_eq!(MarketWarning::from_code("04"), None);
        assert!(
            MarketWarning::Caution < MarketWarning::Warning && MarketWarning::Warning < MarketWarning::Risk
        );
    }
}
