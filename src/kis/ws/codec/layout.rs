//! Named field positions of the records the codec reads, one module per TR, as KIS documents
//! them (checked against `../shared/kis-api/ws_fields.json` by a unit test).
//!
//! Each constant is a [`Field`]: its index in the record and its KIS name, which is also the name
//! a malformed field is reported under. Only the fields the decoder reads are named.

/// A field of a record: its index (from 0) and its KIS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Index of the field in its record.
    pub at: usize,
    /// KIS name of the field.
    pub name: &'static str,
}

/// Declares a TR's record width and named fields: `NAME = index` makes a [`Field`] constant
/// named as KIS names the field, and `NAMED` lists them all.
macro_rules! layout {
    ($tr:literal, width $width:literal; $($name:ident = $at:literal),* $(,)?) => {
        use super::Field;

        /// The TR id the layout is documented under.
        pub const TR_ID: &str = $tr;
        /// Fields of one record.
        pub const WIDTH: usize = $width;
        $(
            #[doc = concat!("`", stringify!($name), "`, field ", stringify!($at), ".")]
            pub const $name: Field = Field { at: $at, name: stringify!($name) };
        )*
        /// Every field named in this module, in record order.
        pub const NAMED: &[Field] = &[$($name),*];
    };
}

/// Returns true when the fields of `group` follow each other in the record.
pub(crate) const fn consecutive(group: &[Field]) -> bool {
    let mut i = 1;
    while i < group.len() {
        if group[i].at != group[i - 1].at + 1 {
            return false;
        }
        i += 1;
    }
    true
}

/// Trade prints, H0STCNT0 (H0UNCNT0 and H0NXCNT0 share the order; their field 21 is named
/// `CNTG_CLS_CODE`).
pub mod trade {
    layout! { "H0STCNT0", width 46;
        MKSC_SHRN_ISCD = 0,
        STCK_CNTG_HOUR = 1,
        STCK_PRPR = 2,
        PRDY_VRSS = 4,
        PRDY_CTRT = 5,
        STCK_OPRC = 7,
        STCK_HGPR = 8,
        STCK_LWPR = 9,
        ASKP1 = 10,
        BIDP1 = 11,
        CNTG_VOL = 12,
        ACML_VOL = 13,
        ACML_TR_PBMN = 14,
        CCLD_DVSN = 21,
        BSOP_DATE = 33,
        TRHT_YN = 35,
        HOUR_CLS_CODE = 43,
    }
}

/// The 10-level order book, H0STASP0.
pub mod book {
    use crate::domain::market::BOOK_DEPTH;

    layout! { "H0STASP0", width 59;
        MKSC_SHRN_ISCD = 0,
        BSOP_HOUR = 1,
        HOUR_CLS_CODE = 2,
        ASKP1 = 3, ASKP2 = 4, ASKP3 = 5, ASKP4 = 6, ASKP5 = 7,
        ASKP6 = 8, ASKP7 = 9, ASKP8 = 10, ASKP9 = 11, ASKP10 = 12,
        BIDP1 = 13, BIDP2 = 14, BIDP3 = 15, BIDP4 = 16, BIDP5 = 17,
        BIDP6 = 18, BIDP7 = 19, BIDP8 = 20, BIDP9 = 21, BIDP10 = 22,
        ASKP_RSQN1 = 23, ASKP_RSQN2 = 24, ASKP_RSQN3 = 25, ASKP_RSQN4 = 26, ASKP_RSQN5 = 27,
        ASKP_RSQN6 = 28, ASKP_RSQN7 = 29, ASKP_RSQN8 = 30, ASKP_RSQN9 = 31, ASKP_RSQN10 = 32,
        BIDP_RSQN1 = 33, BIDP_RSQN2 = 34, BIDP_RSQN3 = 35, BIDP_RSQN4 = 36, BIDP_RSQN5 = 37,
        BIDP_RSQN6 = 38, BIDP_RSQN7 = 39, BIDP_RSQN8 = 40, BIDP_RSQN9 = 41, BIDP_RSQN10 = 42,
        TOTAL_ASKP_RSQN = 43,
        TOTAL_BIDP_RSQN = 44,
        OVTM_TOTAL_ASKP_RSQN = 45,
        OVTM_TOTAL_BIDP_RSQN = 46,
        ANTC_CNPR = 47,
        ANTC_CNQN = 48,
        ACML_VOL = 53,
    }

    /// Ask prices, best level first.
    pub const ASKP: [Field; BOOK_DEPTH] =
        [ASKP1, ASKP2, ASKP3, ASKP4, ASKP5, ASKP6, ASKP7, ASKP8, ASKP9, ASKP10];
    /// Bid prices, best level first.
    pub const BIDP: [Field; BOOK_DEPTH] =
        [BIDP1, BIDP2, BIDP3, BIDP4, BIDP5, BIDP6, BIDP7, BIDP8, BIDP9, BIDP10];
    /// Ask quantities, best level first.
    pub const ASKP_RSQN: [Field; BOOK_DEPTH] = [
        ASKP_RSQN1,
        ASKP_RSQN2,
        ASKP_RSQN3,
        ASKP_RSQN4,
        ASKP_RSQN5,
        ASKP_RSQN6,
        ASKP_RSQN7,
        ASKP_RSQN8,
        ASKP_RSQN9,
        ASKP_RSQN10,
    ];
    /// Bid quantities, best level first.
    pub const BIDP_RSQN: [Field; BOOK_DEPTH] = [
        BIDP_RSQN1,
        BIDP_RSQN2,
        BIDP_RSQN3,
        BIDP_RSQN4,
        BIDP_RSQN5,
        BIDP_RSQN6,
        BIDP_RSQN7,
        BIDP_RSQN8,
        BIDP_RSQN9,
        BIDP_RSQN10,
    ];
}

/// Execution notices, H0STCNI0 (live) and H0STCNI9 (paper), which share the layout.
pub mod notice {
    layout! { "H0STCNI0", width 26;
        ACNT_NO = 1,
        ODER_NO = 2,
        OODER_NO = 3,
        SELN_BYOV_CLS = 4,
        RCTF_CLS = 5,
        STCK_SHRN_ISCD = 8,
        CNTG_QTY = 9,
        CNTG_UNPR = 10,
        STCK_CNTG_HOUR = 11,
        RFUS_YN = 12,
        CNTG_YN = 13,
        ACPT_YN = 14,
        BRNC_NO = 15,
        ODER_QTY = 16,
        ODER_PRC = 25,
    }
}

/// The older 23-field execution-notice layout: the fields up to `ODER_QTY` are where
/// [`notice`] has them; `ODER_PRC` is the last field here too.
pub mod notice_legacy {
    layout! { "H0STCNI0_legacy23", width 23;
        ODER_PRC = 22,
    }
}

/// Overseas trades, HDFSCNT0 (`../shared/kis-api/overseas_ws_fields.json`; field 0 is the
/// realtime key, e.g. `DNASAAPL`).
pub mod us_trade {
    layout! { "HDFSCNT0", width 26;
        RSYM = 0,
        SYMB = 1,
        ZDIV = 2,
        XYMD = 4,
        KYMD = 6,
        KHMS = 7,
        OPEN = 8,
        HIGH = 9,
        LOW = 10,
        LAST = 11,
        SIGN = 12,
        DIFF = 13,
        RATE = 14,
        PBID = 15,
        PASK = 16,
        EVOL = 19,
        TVOL = 20,
        TAMT = 21,
        MTYP = 25,
    }
}

/// The overseas level-1 book, HDFSASP0 (the 17-field US layout).
pub mod us_book {
    layout! { "HDFSASP0", width 17;
        RSYM = 0,
        SYMB = 1,
        KYMD = 5,
        KHMS = 6,
        PBID1 = 11,
        PASK1 = 12,
        VBID1 = 13,
        VASK1 = 14,
    }
}

/// Overseas execution notices, H0GSCNI0 (live) and H0GSCNI9 (paper), 25 fields since the
/// 2026-01-02 sample update; the 24- and 21-field layouts end earlier with the same positions.
pub mod us_notice {
    layout! { "H0GSCNI0", width 25;
        ACNT_NO = 1,
        ODER_NO = 2,
        OODER_NO = 3,
        SELN_BYOV_CLS = 4,
        RCTF_CLS = 5,
        ODER_KIND2 = 6,
        STCK_SHRN_ISCD = 7,
        CNTG_QTY = 8,
        CNTG_UNPR = 9,
        STCK_CNTG_HOUR = 10,
        RFUS_YN = 11,
        CNTG_YN = 12,
        ACPT_YN = 13,
        BRNC_NO = 14,
        ODER_QTY = 15,
    }

    /// Field counts of the older layouts (through `TM_DIV_TP`, through `DEBT_DATE`).
    pub const OLDER_WIDTHS: [usize; 2] = [24, 21];
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
