//! Byte layouts of the KIS stock master files (`kospi_code.mst`, `kosdaq_code.mst`,
//! `konex_code.mst`): the markets, their file names and the offsets of the fields the service reads.
//!
//! The numbers mirror `master_file_layouts.json` (a copy lives beside this file); a unit test
//! checks every offset and width against that copy so the two cannot drift apart.

use crate::domain::instrument::Market;

// `Market` itself is a domain type; the names and byte layouts of its master files belong here.
impl Market {
    /// Returns the name of the master file inside the archive (`kospi_code.mst`).
    pub const fn member_name(self) -> &'static str {
        match self {
            Self::Kospi => "kospi_code.mst",
            Self::Kosdaq => "kosdaq_code.mst",
            Self::Konex => "konex_code.mst",
        }
    }

    /// Returns the name of the published archive (`kospi_code.mst.zip`).
    pub const fn archive_name(self) -> &'static str {
        match self {
            Self::Kospi => "kospi_code.mst.zip",
            Self::Kosdaq => "kosdaq_code.mst.zip",
            Self::Konex => "konex_code.mst.zip",
        }
    }

    /// Returns the byte layout of this market's records.
    pub const fn layout(self) -> &'static Layout {
        match self {
            Self::Kospi => &KOSPI,
            Self::Kosdaq => &KOSDAQ,
            Self::Konex => &KONEX,
        }
    }
}

/// One fixed-width field: its name in the vendor layout, byte offset and byte width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedWidthField {
    /// The vendor field name (`stck_sdpr`).
    pub name: &'static str,
    /// Offset of the first byte within the record.
    pub offset: usize,
    /// Width in bytes.
    pub width: usize,
}

impl FixedWidthField {
    /// Returns the byte range of the field within a record.
    pub const fn range(self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.width
    }
}

const fn f(name: &'static str, offset: usize, width: usize) -> FixedWidthField {
    FixedWidthField { name, offset, width }
}

/// The fields the parser reads from one market's records (the others are skipped).
///
/// Fields a market does not publish (KONEX has no index flags) are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The market the layout belongs to.
    pub market: Market,
    /// Record length in bytes, excluding the LF terminator.
    pub record_bytes: usize,
    /// Short code (`mksc_shrn_iscd`).
    pub short_code: FixedWidthField,
    /// ISIN (`stnd_iscd`).
    pub isin: FixedWidthField,
    /// Korean name (`hts_kor_isnm`), CP949.
    pub name: FixedWidthField,
    /// Security group (`scrt_grp_cls_code`).
    pub group: FixedWidthField,
    /// Base price (`stck_sdpr`).
    pub base_price: FixedWidthField,
    /// Regular-session lot (`frml_mrkt_deal_qty_unit`).
    pub lot_size: FixedWidthField,
    /// Trading halt (`trht_yn`).
    pub halted: FixedWidthField,
    /// Liquidation trading (`sltr_yn`).
    pub liquidation: FixedWidthField,
    /// Administrative issue (`mang_issu_yn`).
    pub admin_issue: FixedWidthField,
    /// Market warning level (`mrkt_alrm_cls_code`).
    pub warning: FixedWidthField,
    /// Warning-to-risk advance notice (`mrkt_alrm_risk_adnt_yn`).
    pub warning_risk_notice: FixedWidthField,
    /// Unfaithful disclosure (`insn_pbnt_yn`).
    pub unfaithful_disclosure: FixedWidthField,
    /// Margin rate in percent (`marg_rate`).
    pub margin_rate: FixedWidthField,
    /// Credit trading allowed (`crdt_able`).
    pub credit_available: FixedWidthField,
    /// Previous-day volume (`prdy_vol`).
    pub prev_volume: FixedWidthField,
    /// Face value (`stck_fcam`).
    pub face_value: FixedWidthField,
    /// Listing date (`stck_lstn_date`).
    pub listed_on: FixedWidthField,
    /// Listed shares (`lstn_stcn`).
    pub listed_shares: FixedWidthField,
    /// Preferred-share class (`prst_cls_code`).
    pub preferred: FixedWidthField,
    /// Short-selling overheated (`ssts_hot_yn`).
    pub short_sale_overheat: FixedWidthField,
    /// Abnormal surge (`stange_runup_yn`).
    pub abnormal_surge: FixedWidthField,
    /// Previous-day market capitalisation in 100 million KRW (`prdy_avls_scal`).
    pub prev_market_cap: FixedWidthField,
    /// Low liquidity (`low_current_yn`).
    pub low_liquidity: Option<FixedWidthField>,
    /// Special-purpose acquisition company (`etpr_undt_objt_co_yn`).
    pub spac: Option<FixedWidthField>,
    /// Short-term overheating code (`short_over_cls_code`).
    pub short_term_overheat: Option<FixedWidthField>,
    /// Investment-caution alert, KOSDAQ only (`invt_alrm_yn`).
    pub investment_alert: Option<FixedWidthField>,
}

impl Layout {
    /// Returns every field the parser reads, for checks and diagnostics.
    pub fn fields(&self) -> Vec<FixedWidthField> {
        let mut all = vec![
            self.short_code,
            self.isin,
            self.name,
            self.group,
            self.base_price,
            self.lot_size,
            self.halted,
            self.liquidation,
            self.admin_issue,
            self.warning,
            self.warning_risk_notice,
            self.unfaithful_disclosure,
            self.margin_rate,
            self.credit_available,
            self.prev_volume,
            self.face_value,
            self.listed_on,
            self.listed_shares,
            self.preferred,
            self.short_sale_overheat,
            self.abnormal_surge,
            self.prev_market_cap,
        ];
        all.extend(
            [self.low_liquidity, self.spac, self.short_term_overheat, self.investment_alert]
                .into_iter()
                .flatten(),
        );
        all
    }
}

const SHORT_CODE: FixedWidthField = f("mksc_shrn_iscd", 0, 9);
const ISIN: FixedWidthField = f("stnd_iscd", 9, 12);
const NAME: FixedWidthField = f("hts_kor_isnm", 21, 40);
const GROUP: FixedWidthField = f("scrt_grp_cls_code", 61, 2);

/// The KOSPI layout (288-byte records).
pub const KOSPI: Layout = Layout {
    market: Market::Kospi,
    record_bytes: 288,
    short_code: SHORT_CODE,
    isin: ISIN,
    name: NAME,
    group: GROUP,
    base_price: f("stck_sdpr", 102, 9),
    lot_size: f("frml_mrkt_deal_qty_unit", 111, 5),
    halted: f("trht_yn", 121, 1),
    liquidation: f("sltr_yn", 122, 1),
    admin_issue: f("mang_issu_yn", 123, 1),
    warning: f("mrkt_alrm_cls_code", 124, 2),
    warning_risk_notice: f("mrkt_alrm_risk_adnt_yn", 126, 1),
    unfaithful_disclosure: f("insn_pbnt_yn", 127, 1),
    margin_rate: f("marg_rate", 135, 3),
    credit_available: f("crdt_able", 138, 1),
    prev_volume: f("prdy_vol", 142, 12),
    face_value: f("stck_fcam", 154, 12),
    listed_on: f("stck_lstn_date", 166, 8),
    listed_shares: f("lstn_stcn", 174, 15),
    preferred: f("prst_cls_code", 219, 1),
    short_sale_overheat: f("ssts_hot_yn", 220, 1),
    abnormal_surge: f("stange_runup_yn", 221, 1),
    prev_market_cap: f("prdy_avls_scal", 273, 9),
    low_liquidity: Some(f("low_current_yn", 77, 1)),
    spac: Some(f("etpr_undt_objt_co_yn", 90, 1)),
    short_term_overheat: Some(f("short_over_cls_code", 93, 1)),
    investment_alert: None,
};

/// The KOSDAQ layout (282-byte records).
pub const KOSDAQ: Layout = Layout {
    market: Market::Kosdaq,
    record_bytes: 282,
    short_code: SHORT_CODE,
    isin: ISIN,
    name: NAME,
    group: GROUP,
    base_price: f("stck_sdpr", 97, 9),
    lot_size: f("frml_mrkt_deal_qty_unit", 106, 5),
    halted: f("trht_yn", 116, 1),
    liquidation: f("sltr_yn", 117, 1),
    admin_issue: f("mang_issu_yn", 118, 1),
    warning: f("mrkt_alrm_cls_code", 119, 2),
    warning_risk_notice: f("mrkt_alrm_risk_adnt_yn", 121, 1),
    unfaithful_disclosure: f("insn_pbnt_yn", 122, 1),
    margin_rate: f("marg_rate", 130, 3),
    credit_available: f("crdt_able", 133, 1),
    prev_volume: f("prdy_vol", 137, 12),
    face_value: f("stck_fcam", 149, 12),
    listed_on: f("stck_lstn_date", 161, 8),
    listed_shares: f("lstn_stcn", 169, 15),
    preferred: f("prst_cls_code", 214, 1),
    short_sale_overheat: f("ssts_hot_yn", 215, 1),
    abnormal_surge: f("stange_runup_yn", 216, 1),
    prev_market_cap: f("prdy_avls_scal", 267, 9),
    low_liquidity: Some(f("low_current_yn", 77, 1)),
    spac: Some(f("etpr_undt_objt_co_yn", 85, 1)),
    short_term_overheat: Some(f("short_over_cls_code", 88, 1)),
    investment_alert: Some(f("invt_alrm_yn", 91, 1)),
};

/// The KONEX layout (245-byte records).
pub const KONEX: Layout = Layout {
    market: Market::Konex,
    record_bytes: 245,
    short_code: SHORT_CODE,
    isin: ISIN,
    name: NAME,
    group: GROUP,
    base_price: f("stck_sdpr", 63, 9),
    lot_size: f("frml_mrkt_deal_qty_unit", 72, 5),
    halted: f("trht_yn", 82, 1),
    liquidation: f("sltr_yn", 83, 1),
    admin_issue: f("mang_issu_yn", 84, 1),
    warning: f("mrkt_alrm_cls_code", 85, 2),
    warning_risk_notice: f("mrkt_alrm_risk_adnt_yn", 87, 1),
    unfaithful_disclosure: f("insn_pbnt_yn", 88, 1),
    margin_rate: f("marg_rate", 96, 3),
    credit_available: f("crdt_able", 99, 1),
    prev_volume: f("prdy_vol", 103, 12),
    face_value: f("stck_fcam", 115, 12),
    listed_on: f("stck_lstn_date", 127, 8),
    listed_shares: f("lstn_stcn", 135, 15),
    preferred: f("prst_cls_code", 180, 1),
    short_sale_overheat: f("ssts_hot_yn", 181, 1),
    abnormal_surge: f("stange_runup_yn", 182, 1),
    prev_market_cap: f("prdy_avls_scal", 233, 9),
    low_liquidity: None,
    spac: None,
    short_term_overheat: None,
    investment_alert: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const LAYOUTS_JSON: &str = include_str!("master_file_layouts.json");

    fn json_fields(doc: &Value, market: Market) -> Vec<(String, usize, usize)> {
        let file = &doc["files"][market.member_name()];
        ["head", "tail"]
            .iter()
            .flat_map(|part| file[*part].as_array().unwrap().iter())
            .map(|v| {
                let n = |k: &str| usize::try_from(v[k].as_u64().unwrap()).unwrap();
                (v["name"].as_str().unwrap().to_owned(), n("offset"), n("width"))
            })
            .collect()
    }

    #[test]
    fn json_fields_tile_the_record_exactly() {
        let doc: Value = serde_json::from_str(LAYOUTS_JSON).unwrap();
        for &market in Market::ALL {
            let fields = json_fields(&doc, market);
            let mut next = 0;
            for (name, offset, width) in &fields {
                assert_eq!(*offset, next, "{market} {name} does not follow its predecessor");
                next += width;
            }
            let file = &doc["files"][market.member_name()];
            let record = usize::try_from(file["record_bytes"].as_u64().unwrap()).unwrap();
            let size_table = &doc["record_sizes_bytes"][market.member_name()];
            assert_eq!(next, record, "{market}");
            assert_eq!(size_table.as_u64().unwrap(), record as u64, "{market}");
            assert_eq!(market.layout().record_bytes, record, "{market}");
        }
    }

    #[test]
    fn hard_coded_fields_match_the_json_copy() {
        let doc: Value = serde_json::from_str(LAYOUTS_JSON).unwrap();
        for &market in Market::ALL {
            let json = json_fields(&doc, market);
            let layout = market.layout();
            assert_eq!(layout.market, market);
            for field in layout.fields() {
                let found = json.iter().find(|(n, _, _)| n == field.name);
                let (_, offset, width) = found.unwrap_or_else(|| panic!("{market}: {} missing", field.name));
                assert_eq!((field.offset, field.width), (*offset, *width), "{market} {}", field.name);
                assert!(field.range().end <= layout.record_bytes);
            }
        }
    }

    #[test]
    fn optional_fields_are_absent_exactly_where_the_json_lacks_them() {
        let doc: Value = serde_json::from_str(LAYOUTS_JSON).unwrap();
        for &market in Market::ALL {
            let json = json_fields(&doc, market);
            let has = |name: &str| json.iter().any(|(n, _, _)| n == name);
            let l = market.layout();
            assert_eq!(l.low_liquidity.is_some(), has("low_current_yn"), "{market}");
            assert_eq!(l.spac.is_some(), has("etpr_undt_objt_co_yn"), "{market}");
            assert_eq!(l.short_term_overheat.is_some(), has("short_over_cls_code"), "{market}");
            assert_eq!(l.investment_alert.is_some(), has("invt_alrm_yn"), "{market}");
        }
    }

    #[test]
    fn archive_names_wrap_the_member_names() {
        for &m in Market::ALL {
            assert_eq!(m.archive_name(), format!("{}.zip", m.member_name()));
        }
    }
}
