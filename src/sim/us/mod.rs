//! The simulator's US side (overseas stocks, overseas.md): a USD market of Nasdaq / NYSE / Amex
//! names on the New York session, a USD wallet per account, US orders matched by the same engine
//! as KRX orders, the realtime records HDFSCNT0 / HDFSASP0 / H0GSCNI0, and the settings of the
//! items overseas.md marks UNCONFIRMED (each with the documented default).

pub mod fields;
pub mod matching;
pub mod records;
pub mod rules;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::market::SymbolMarket;
use super::state::{SimHolding, Wallet};
use crate::domain::Mode;

/// A US position an account starts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsHoldingSeed {
    /// Ticker.
    pub symbol: String,
    /// Shares.
    pub qty: i64,
    /// Average cost per share in USD.
    pub avg_price: Decimal,
}

impl UsHoldingSeed {
    /// Parses `TICKER=QTY[@AVG_PRICE]` (e.g. `AAPL=10@180.50`; without a price, the first day's
    /// base price is the cost).
    ///
    /// # Errors
    /// Returns a message naming the bad part.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (sym, rest) =
            text.split_once('=').ok_or_else(|| format!("expected TICKER=QTY[@PRICE], got {text:?}"))?;
        let (qty, price) = rest.split_once('@').unwrap_or((rest, ""));
        let qty: i64 = qty.trim().parse().map_err(|_| format!("quantity is not a whole number: {qty:?}"))?;
        if qty <= 0 {
            return Err(format!("quantity must be positive, got {qty}"));
        }
        let avg_price = if price.trim().is_empty() {
            Decimal::ZERO
        } else {
            let p: Decimal = price.trim().parse().map_err(|_| format!("price is not a number: {price:?}"))?;
            if p <= Decimal::ZERO {
                return Err(format!("price must be positive, got {p}"));
            }
            p
        };
        Ok(Self { symbol: sym.trim().to_owned(), qty, avg_price })
    }
}

/// Settings of the US side. Items overseas.md marks UNCONFIRMED are settings with the
/// documented default.
#[derive(Debug, Clone, PartialEq)]
pub struct UsConfig {
    /// US tickers simulated (default: the built-in US catalog).
    pub symbols: Vec<String>,
    /// Initial USD deposit per account.
    pub cash: Decimal,
    /// US positions every account starts with (default none).
    pub holdings: Vec<UsHoldingSeed>,
    /// NYSE full-day closures (weekends are always closed).
    pub holidays: Vec<NaiveDate>,
    /// Commission rate on every US fill (not in the shared facts; 0.25%, KIS's standard online rate).
    pub commission_rate: Decimal,
    /// Fee rate on US sell fills (SEC fee and the like; not in the shared facts; default 0).
    pub sell_fee_rate: Decimal,
    /// KRW per USD used for the KRW columns (`bass_exrt`, `frst_bltn_exrt`, `exrt`).
    pub usd_krw: Decimal,
    /// Paper TR id of a US sell (overseas.md §1.3: documented `VTTT1001U`, the sample code computes
    /// `VTTT1006U`; UNCONFIRMED).
    pub paper_sell_tr: String,
    /// Whether the paper host serves inquire-asking-price `HHDFS76200100` (no paper id documented;
    /// default false: live only, `EGW00213` on paper).
    pub paper_asking_price: bool,
    /// Whether the paper host accepts HDFSCNT0 / HDFSASP0 (REFERENCE.md §6.12 "live only"; paper
    /// UNCONFIRMED; default false).
    pub paper_realtime: bool,
    /// Book levels of HDFSASP0 and inquire-asking-price `output2`: 1 (17-field frames, the
    /// samples) or 10 (71 fields, ws_fields.json; UNCONFIRMED).
    pub book_levels: usize,
    /// Whether `ctx_area_fk200` / `ctx_area_nk200` are right-padded with spaces to 200 characters
    /// like the domestic 100-character keys (UNCONFIRMED; default true).
    pub pad_ctx200: bool,
    /// Whether inquire-balance `output2` is a one-element array instead of an object
    /// (UNCONFIRMED; default false: object, as documented).
    pub balance_output2_array: bool,
    /// Whether inquire-present-balance `output3` is in KRW whatever `WCRC_FRCR_DVSN_CD` asks
    /// (its `frcr_*` fields stay in USD); default false: `02` answers `output3` in USD too
    /// (overseas.md §3.8 says only "01 KRW / 02 foreign"; UNCONFIRMED).
    pub present_output3_krw: bool,
    /// Fields per H0GSCNI0/H0GSCNI9 record: 25 (since 2026-01-02), 24 or 21 (older layouts).
    pub notice_fields: usize,
    /// Whether order times (`ORD_TMD`, `ord_tmd`, `STCK_CNTG_HOUR`, book `dhms`) are New York
    /// time instead of KST (UNCONFIRMED; default false: KST).
    pub local_times: bool,
    /// Rows per page of inquire-nccs on the paper host (live 40; paper UNCONFIRMED, default 40).
    pub nccs_paper_page: usize,
    /// Rows per page of inquire-balance on the paper host (live 100; paper UNCONFIRMED, default 100).
    pub balance_paper_page: usize,
}

impl Default for UsConfig {
    fn default() -> Self {
        Self {
            symbols: super::instruments::default_us_symbols(),
            cash: Decimal::from(100_000),
            holdings: Vec::new(),
            holidays: rules::default_holidays(),
            commission_rate: Decimal::new(25, 4),
            sell_fee_rate: Decimal::ZERO,
            usd_krw: Decimal::from(1_400),
            paper_sell_tr: "VTTT1001U".to_owned(),
            paper_asking_price: false,
            paper_realtime: false,
            book_levels: 1,
            pad_ctx200: true,
            balance_output2_array: false,
            present_output3_krw: false,
            notice_fields: 25,
            local_times: false,
            nccs_paper_page: 40,
            balance_paper_page: 100,
        }
    }
}

impl UsConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// Returns a message naming the bad setting.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(s) = self.symbols.iter().find(|s| !super::instruments::is_us_ticker(s)) {
            return Err(format!("{s:?} is not a US ticker"));
        }
        if let Some(h) = self.holdings.iter().find(|h| !self.symbols.contains(&h.symbol)) {
            return Err(format!(
                "a US holding of {} is seeded, which is not a simulated US symbol",
                h.symbol
            ));
        }
        if self.cash < Decimal::ZERO {
            return Err("the USD deposit must not be negative".into());
        }
        if self.paper_sell_tr.len() != 9 || !self.paper_sell_tr.is_ascii() {
            return Err(format!("paper sell TR {:?} is not a 9-character TR id", self.paper_sell_tr));
        }
        if ![1, 10].contains(&self.book_levels) {
            return Err(format!("book levels must be 1 or 10, got {}", self.book_levels));
        }
        if ![21, 24, 25].contains(&self.notice_fields) {
            return Err(format!("notice fields must be 21, 24 or 25, got {}", self.notice_fields));
        }
        if self.nccs_paper_page == 0 || self.balance_paper_page == 0 {
            return Err("page sizes must be positive".into());
        }
        Ok(())
    }

    /// Returns the US sell TR ids accepted in `mode`.
    pub fn sell_trs(&self, mode: Mode) -> Vec<&str> {
        match mode {
            Mode::Live => vec!["TTTT1006U"],
            Mode::Paper => vec![self.paper_sell_tr.as_str()],
        }
    }

    /// Returns the US notice TR of `mode` (H0GSCNI0 live, H0GSCNI9 paper).
    pub const fn notice_tr(mode: Mode) -> &'static str {
        match mode {
            Mode::Live => "H0GSCNI0",
            Mode::Paper => "H0GSCNI9",
        }
    }

    /// Builds the USD side every account starts with (seeded positions cost their average price,
    /// or the first day's base price).
    pub fn wallet(&self, markets: &BTreeMap<String, SymbolMarket>) -> Wallet {
        let mut holdings = BTreeMap::new();
        let mut value = Decimal::ZERO;
        for h in &self.holdings {
            let base = markets.get(&h.symbol).map_or(0, |m| m.base);
            let avg = if h.avg_price > Decimal::ZERO { h.avg_price } else { rules::dollars(base) };
            let cost = avg * Decimal::from(h.qty);
            value += rules::dollars(base) * Decimal::from(h.qty);
            let e: &mut SimHolding = holdings.entry(h.symbol.clone()).or_default();
            e.qty += h.qty;
            e.start_qty += h.qty;
            e.cost += cost;
        }
        Wallet {
            initial_cash: self.cash,
            cash: self.cash,
            reserved: Decimal::ZERO,
            holdings,
            start_assets: self.cash + value,
        }
    }
}

/// Returns the realtime tr_key of a US market (`D` + quotation code + ticker, e.g. `DNASAAPL`).
pub fn rsym(m: &SymbolMarket) -> String {
    format!("D{}{}", m.inst.listing.excd(), m.inst.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holding_seeds_parse_and_config_validates() {
        assert_eq!(
            UsHoldingSeed::parse("AAPL=10@180.5"),
            Ok(UsHoldingSeed { symbol: "AAPL".into(), qty: 10, avg_price: Decimal::new(1805, 1) })
        );
        assert_eq!(UsHoldingSeed::parse("KO=3").map(|h| h.avg_price), Ok(Decimal::ZERO));
        for bad in ["AAPL", "AAPL=x", "AAPL=0", "AAPL=1@-2", "AAPL=1@y"] {
            assert!(UsHoldingSeed::parse(bad).is_err(), "{bad}");
        }
        assert!(UsConfig::default().validate().is_ok());
        assert!(UsConfig { symbols: vec!["aapl".into()], ..UsConfig::default() }.validate().is_err());
        assert!(UsConfig { book_levels: 5, ..UsConfig::default() }.validate().is_err());
        assert!(UsConfig { notice_fields: 26, ..UsConfig::default() }.validate().is_err());
        let seeded =
            UsConfig { holdings: vec![UsHoldingSeed::parse("ZZZZ=1").unwrap()], ..UsConfig::default() };
        assert!(seeded.validate().is_err());
        assert_eq!(UsConfig::default().sell_trs(Mode::Paper), vec!["VTTT1001U"]);
    }
}
