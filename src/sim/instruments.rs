//! The simulator's instruments: a small built-in catalog of KRX names plus seeded synthetic ones,
//! and a catalog of US names (Nasdaq, NYSE, Amex) whose prices are kept in ten-thousandths of a
//! dollar (see [`super::us::rules`]).

use serde::Serialize;

/// The listing market of an instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Listing {
    /// KOSPI (유가증권시장).
    Kospi,
    /// KOSDAQ.
    Kosdaq,
    /// KONEX.
    Konex,
    /// Nasdaq (`NASD` / `NAS`).
    Nasdaq,
    /// New York Stock Exchange (`NYSE` / `NYS`).
    Nyse,
    /// NYSE American / Amex (`AMEX` / `AMS`).
    Amex,
}

impl Listing {
    /// Returns the `mket_id_cd` of search-stock-info (US: the 3-letter quotation code).
    pub const fn market_id(self) -> &'static str {
        match self {
            Self::Kospi => "STK",
            Self::Kosdaq => "KSQ",
            Self::Konex => "KNX",
            Self::Nasdaq | Self::Nyse | Self::Amex => self.excd(),
        }
    }

    /// Returns the `excg_dvsn_cd` of search-stock-info (US: the `PRDT_TYPE_CD`).
    pub const fn exchange_code(self) -> &'static str {
        match self {
            Self::Kospi => "02",
            Self::Kosdaq => "03",
            Self::Konex => "04",
            Self::Nasdaq | Self::Nyse | Self::Amex => self.prdt_type_cd(),
        }
    }

    /// Returns the `rprs_mrkt_kor_name` of inquire-price (US: the Korean market name).
    pub const fn korean_name(self) -> &'static str {
        match self {
            Self::Kospi => "KOSPI",
            Self::Kosdaq => "KOSDAQ",
            Self::Konex => "KONEX",
            Self::Nasdaq => "나스닥",
            Self::Nyse => "뉴욕",
            Self::Amex => "아멕스",
        }
    }

    /// Returns true for the US exchanges.
    pub const fn is_us(self) -> bool {
        matches!(self, Self::Nasdaq | Self::Nyse | Self::Amex)
    }

    /// Returns the 3-letter quotation / WebSocket market code (`EXCD`: `NAS`, `NYS`, `AMS`).
    pub const fn excd(self) -> &'static str {
        match self {
            Self::Nyse => "NYS",
            Self::Amex => "AMS",
            _ => "NAS",
        }
    }

    /// Returns the 4-letter trading code (`OVRS_EXCG_CD`: `NASD`, `NYSE`, `AMEX`).
    pub const fn ovrs_excg_cd(self) -> &'static str {
        match self {
            Self::Nyse => "NYSE",
            Self::Amex => "AMEX",
            _ => "NASD",
        }
    }

    /// Returns the overseas `PRDT_TYPE_CD` (512 Nasdaq, 513 NYSE, 529 Amex).
    pub const fn prdt_type_cd(self) -> &'static str {
        match self {
            Self::Nyse => "513",
            Self::Amex => "529",
            _ => "512",
        }
    }

    /// Returns the US `TR_MKET_CD` of inquire-present-balance (01 NASD, 02 NYSE, 05 AMEX).
    pub const fn tr_mket_cd(self) -> &'static str {
        match self {
            Self::Nyse => "02",
            Self::Amex => "05",
            _ => "01",
        }
    }

    /// Returns the US listing of a quotation code (`NAS`/`BAQ`, `NYS`/`BAY`, `AMS`/`BAA`).
    pub fn from_excd(code: &str) -> Option<Self> {
        match code {
            "NAS" | "BAQ" => Some(Self::Nasdaq),
            "NYS" | "BAY" => Some(Self::Nyse),
            "AMS" | "BAA" => Some(Self::Amex),
            _ => None,
        }
    }

    /// Returns the US listing of a trading code (`NASD`, `NYSE`, `AMEX`).
    pub fn from_ovrs(code: &str) -> Option<Self> {
        match code {
            "NASD" => Some(Self::Nasdaq),
            "NYSE" => Some(Self::Nyse),
            "AMEX" => Some(Self::Amex),
            _ => None,
        }
    }
}

/// Static data of one instrument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instrument {
    /// Short code (`005930`).
    pub code: String,
    /// ISIN (`KR7005930003`).
    pub isin: String,
    /// Korean display name.
    pub name: String,
    /// English name.
    pub eng_name: String,
    /// Listing market.
    pub listing: Listing,
    /// Security group (`ST` stock, `EF` ETF, `EN` ETN).
    pub group: &'static str,
    /// Base price of the first simulated day (on the tick grid; US: in 0.0001 USD).
    pub base_price: i64,
    /// Listed shares.
    pub listed_shares: i64,
    /// Par value.
    pub par: i64,
    /// Listing date `YYYYMMDD`.
    pub listed_on: &'static str,
}

impl Instrument {
    /// Returns true for ETF/ETN/ELW, which trade on a flat 5 KRW tick.
    pub fn flat_tick(&self) -> bool {
        matches!(self.group, "EF" | "EN" | "EW")
    }
}

/// Catalog row: code, ISIN, name, English name, listing, group, base price, shares, par, listing date.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Listing,
    &'static str,
    i64,
    i64,
    i64,
    &'static str,
);

const CATALOG: &[Row] = &[
    (
        "005930",
        "KR7005930003",
        "삼성전자",
        "SamsungElectronics",
        Listing::Kospi,
        "ST",
        71_000,
        5_969_782_550,
        100,
        "19750611",
    ),
    (
        "000660",
        "KR7000660001",
        "SK하이닉스",
        "SK hynix",
        Listing::Kospi,
        "ST",
        180_000,
        728_002_365,
        5_000,
        "19961226",
    ),
    ("035420", "KR7035420009", "NAVER", "NAVER", Listing::Kospi, "ST", 190_000, 158_437_008, 100, "20081129"),
    (
        "005380",
        "KR7005380001",
        "현대차",
        "Hyundai Motor",
        Listing::Kospi,
        "ST",
        210_000,
        209_416_191,
        5_000,
        "19740628",
    ),
    ("035720", "KR7035720002", "카카오", "Kakao", Listing::Kospi, "ST", 45_000, 442_818_868, 100, "20171110"),
    (
        "069500",
        "KR7069500007",
        "KODEX 200",
        "KODEX 200",
        Listing::Kospi,
        "EF",
        35_000,
        120_000_000,
        0,
        "20021014",
    ),
    (
        "247540",
        "KR7247540008",
        "에코프로비엠",
        "ECOPROBM",
        Listing::Kosdaq,
        "ST",
        120_000,
        97_801_344,
        500,
        "20190305",
    ),
    (
        "086520",
        "KR7086520004",
        "에코프로",
        "ECOPRO",
        Listing::Kosdaq,
        "ST",
        90_000,
        133_138_340,
        500,
        "20070720",
    ),
    (
        "003380",
        "KR7003380003",
        "하림지주",
        "HARIM HOLDINGS",
        Listing::Kosdaq,
        "ST",
        9_490,
        112_005_000,
        100,
        "20170630",
    ),
    (
        "012210",
        "KR7012210001",
        "삼미금속",
        "SAMMI METAL",
        Listing::Konex,
        "ST",
        3_330,
        6_100_000,
        500,
        "20230516",
    ),
];

/// Returns the catalog entry for `code`, or a seeded synthetic KOSPI stock for unknown codes.
pub fn catalog(code: &str) -> Instrument {
    if let Some(&(c, isin, name, eng, listing, group, base, shares, par, date)) =
        CATALOG.iter().find(|e| e.0 == code)
    {
        return Instrument {
            code: c.to_owned(),
            isin: isin.to_owned(),
            name: name.to_owned(),
            eng_name: eng.to_owned(),
            listing,
            group,
            base_price: base,
            listed_shares: shares,
            par,
            listed_on: date,
        };
    }
    let h = code.bytes().fold(0_u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    let base = 10_000 + i64::try_from(h % 90).unwrap_or(0) * 1_000;
    Instrument {
        code: code.to_owned(),
        isin: format!("KR7{:0>6}00{}", code, h % 10),
        name: format!("모의종목{code}"),
        eng_name: format!("SIM {code}"),
        listing: Listing::Kospi,
        group: "ST",
        base_price: base,
        listed_shares: 10_000_000,
        par: 500,
        listed_on: "20000101",
    }
}

/// Returns the default symbol list (the built-in catalog).
pub fn default_symbols() -> Vec<String> {
    CATALOG.iter().map(|e| e.0.to_owned()).collect()
}

/// US catalog row: ticker, ISIN, Korean name, English name, listing, group, base price in 0.0001
/// USD, shares outstanding, listing date.
type UsRow =
    (&'static str, &'static str, &'static str, &'static str, Listing, &'static str, i64, i64, &'static str);

const US_CATALOG: &[UsRow] = &[
    (
        "AAPL",
        "US0378331005",
        "애플",
        "APPLE INC",
        Listing::Nasdaq,
        "ST",
        2_300_000,
        14_840_000_000,
        "19801212",
    ),
    (
        "MSFT",
        "US5949181045",
        "마이크로소프트",
        "MICROSOFT CORP",
        Listing::Nasdaq,
        "ST",
        4_200_000,
        7_433_000_000,
        "19860313",
    ),
    (
        "NVDA",
        "US67066G1040",
        "엔비디아",
        "NVIDIA CORP",
        Listing::Nasdaq,
        "ST",
        1_350_000,
        24_400_000_000,
        "19990122",
    ),
    (
        "TSLA",
        "US88160R1014",
        "테슬라",
        "TESLA INC",
        Listing::Nasdaq,
        "ST",
        2_500_000,
        3_210_000_000,
        "20100629",
    ),
    (
        "KO",
        "US1912161007",
        "코카콜라",
        "COCA-COLA CO",
        Listing::Nyse,
        "ST",
        620_000,
        4_310_000_000,
        "19190101",
    ),
    (
        "JPM",
        "US46625H1005",
        "JP모간체이스",
        "JPMORGAN CHASE & CO",
        Listing::Nyse,
        "ST",
        2_400_000,
        2_800_000_000,
        "19690305",
    ),
    (
        "SPY",
        "US78462F1030",
        "SPDR S&P500 ETF",
        "SPDR S&P 500 ETF TRUST",
        Listing::Amex,
        "EF",
        5_900_000,
        1_000_000_000,
        "19930122",
    ),
];

/// Returns the US catalog entry for `ticker`, or a seeded synthetic Nasdaq stock for unknown ones.
pub fn us_catalog(ticker: &str) -> Instrument {
    if let Some(&(c, isin, name, eng, listing, group, base, shares, date)) =
        US_CATALOG.iter().find(|e| e.0 == ticker)
    {
        return Instrument {
            code: c.to_owned(),
            isin: isin.to_owned(),
            name: name.to_owned(),
            eng_name: eng.to_owned(),
            listing,
            group,
            base_price: base,
            listed_shares: shares,
            par: 0,
            listed_on: date,
        };
    }
    let h = ticker.bytes().fold(0_u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    let base = 200_000 + i64::try_from(h % 90).unwrap_or(0) * 10_000;
    Instrument {
        code: ticker.to_owned(),
        isin: format!("US{:0>9}{}", ticker, h % 10),
        name: format!("모의해외{ticker}"),
        eng_name: format!("SIM {ticker}"),
        listing: Listing::Nasdaq,
        group: "ST",
        base_price: base,
        listed_shares: 100_000_000,
        par: 0,
        listed_on: "20000101",
    }
}

/// Returns the default US symbol list (the built-in US catalog).
pub fn default_us_symbols() -> Vec<String> {
    US_CATALOG.iter().map(|e| e.0.to_owned()).collect()
}

/// Returns true when `ticker` is a plausible US symbol (1-10 of `A-Z`, `0-9`, `.`, `-`, starting
/// with a letter).
pub fn is_us_ticker(ticker: &str) -> bool {
    (1..=10).contains(&ticker.len())
        && ticker.starts_with(|c: char| c.is_ascii_uppercase())
        && ticker.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}
