//! The simulator's instruments: a small built-in catalog of KRX names plus seeded synthetic ones.

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
}

impl Listing {
    /// Returns the `mket_id_cd` of search-stock-info.
    pub const fn market_id(self) -> &'static str {
        match self {
            Self::Kospi => "STK",
            Self::Kosdaq => "KSQ",
            Self::Konex => "KNX",
        }
    }

    /// Returns the `excg_dvsn_cd` of search-stock-info.
    pub const fn exchange_code(self) -> &'static str {
        match self {
            Self::Kospi => "02",
            Self::Kosdaq => "03",
            Self::Konex => "04",
        }
    }

    /// Returns the `rprs_mrkt_kor_name` of inquire-price.
    pub const fn korean_name(self) -> &'static str {
        match self {
            Self::Kospi => "KOSPI",
            Self::Kosdaq => "KOSDAQ",
            Self::Konex => "KONEX",
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
    /// Base price of the first simulated day (on the tick grid).
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
