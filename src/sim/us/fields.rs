//! Ordered wire field names of the overseas (US) responses and frames the simulator emits,
//! transcribed from the shared reference (`overseas_endpoints.json`, `overseas_ws_fields.json`).

/// `quotations/price` (HHDFS00000300) `output`.
pub const PRICE: &[&str] =
    &["rsym", "zdiv", "base", "pvol", "last", "sign", "diff", "rate", "tvol", "tamt", "ordy"];

/// `quotations/inquire-asking-price` (HHDFS76200100) `output1`.
pub const ASKING_OUTPUT1: &[&str] = &[
    "rsym", "zdiv", "curr", "base", "open", "high", "low", "last", "dymd", "dhms", "bvol", "avol", "bdvl",
    "advl", "code", "ropen", "rhigh", "rlow", "rclose",
];

/// `inquire-asking-price` `output2` (level 1; levels 2-10 repeat the six names with their number).
pub const ASKING_OUTPUT2: &[&str] = &["pbid1", "pask1", "vbid1", "vask1", "dbid1", "dask1"];

/// `inquire-asking-price` `output3`.
pub const ASKING_OUTPUT3: &[&str] = &["vstm", "vetm", "csbp", "cshi", "cslo", "iep", "iev"];

/// `trading/order` and `trading/order-rvsecncl` `output` (UPPERCASE keys).
pub const ORDER: &[&str] = &["KRX_FWDG_ORD_ORGNO", "ODNO", "ORD_TMD"];

/// `trading/inquire-nccs` (TTTS3018R) `output` rows.
pub const NCCS: &[&str] = &[
    "ord_dt",
    "ord_gno_brno",
    "odno",
    "orgn_odno",
    "pdno",
    "sll_buy_dvsn_cd",
    "rvse_cncl_dvsn_cd",
    "rjct_rson",
    "ord_tmd",
    "tr_crcy_cd",
    "natn_cd",
    "ft_ord_qty",
    "ft_ccld_qty",
    "nccs_qty",
    "ft_ord_unpr3",
    "ft_ccld_unpr3",
    "ft_ccld_amt3",
    "ovrs_excg_cd",
    "loan_type_cd",
    "loan_dt",
    "usa_amk_exts_rqst_yn",
];

/// `trading/inquire-ccnl` (TTTS3035R) `output` rows.
pub const CCNL: &[&str] = &[
    "ord_dt",
    "ord_gno_brno",
    "odno",
    "orgn_odno",
    "sll_buy_dvsn_cd",
    "sll_buy_dvsn_cd_name",
    "rvse_cncl_dvsn",
    "rvse_cncl_dvsn_name",
    "pdno",
    "prdt_name",
    "ft_ord_qty",
    "ft_ord_unpr3",
    "ft_ccld_qty",
    "ft_ccld_unpr3",
    "ft_ccld_amt3",
    "nccs_qty",
    "prcs_stat_name",
    "rjct_rson",
    "rjct_rson_name",
    "ord_tmd",
    "tr_mket_name",
    "tr_crcy_cd",
    "tr_natn",
    "ovrs_excg_cd",
    "tr_natn_name",
    "dmst_ord_dt",
    "thco_ord_tmd",
    "loan_type_cd",
    "loan_dt",
    "mdia_dvsn_name",
    "usa_amk_exts_rqst_yn",
    "splt_buy_attr_name",
];

/// `trading/inquire-balance` (TTTS3012R) `output1` rows.
pub const BALANCE_OUTPUT1: &[&str] = &[
    "cano",
    "acnt_prdt_cd",
    "prdt_type_cd",
    "ovrs_pdno",
    "frcr_evlu_pfls_amt",
    "evlu_pfls_rt",
    "pchs_avg_pric",
    "ovrs_cblc_qty",
    "ord_psbl_qty",
    "frcr_pchs_amt1",
    "ovrs_stck_evlu_amt",
    "now_pric2",
    "tr_crcy_cd",
    "ovrs_excg_cd",
    "loan_type_cd",
    "loan_dt",
    "expd_dt",
];

/// `trading/inquire-balance` `output2` totals.
pub const BALANCE_OUTPUT2: &[&str] = &[
    "frcr_pchs_amt1",
    "ovrs_rlzt_pfls_amt",
    "ovrs_tot_pfls",
    "rlzt_erng_rt",
    "tot_evlu_pfls_amt",
    "tot_pftrt",
    "frcr_buy_amt_smtl1",
    "ovrs_rlzt_pfls_amt2",
    "frcr_buy_amt_smtl2",
];

/// `trading/inquire-present-balance` (CTRP6504R) `output1` rows.
pub const PRESENT_OUTPUT1: &[&str] = &[
    "cblc_qty13",
    "thdt_buy_ccld_qty1",
    "thdt_sll_ccld_qty1",
    "ccld_qty_smtl1",
    "ord_psbl_qty1",
    "frcr_pchs_amt",
    "frcr_evlu_amt2",
    "evlu_pfls_amt2",
    "evlu_pfls_rt1",
    "pdno",
    "bass_exrt",
    "buy_crcy_cd",
    "ovrs_now_pric1",
    "avg_unpr3",
    "tr_mket_name",
    "natn_kor_name",
    "pchs_rmnd_wcrc_amt",
    "thdt_buy_ccld_frcr_amt",
    "thdt_sll_ccld_frcr_amt",
    "unit_amt",
    "std_pdno",
    "prdt_type_cd",
    "loan_rmnd",
    "loan_dt",
    "loan_expd_dt",
    "ovrs_excg_cd",
    "item_lnkg_excg_cd",
];

/// `trading/inquire-present-balance` `output2` rows (one per currency).
pub const PRESENT_OUTPUT2: &[&str] = &[
    "crcy_cd",
    "frcr_buy_amt_smtl",
    "frcr_sll_amt_smtl",
    "frcr_dncl_amt_2",
    "frst_bltn_exrt",
    "frcr_buy_mgn_amt",
    "frcr_etc_mgna",
    "frcr_drwg_psbl_amt_1",
    "frcr_evlu_amt2",
    "acpl_cstd_crcy_yn",
    "nxdy_frcr_drwg_psbl_amt",
];

/// `trading/inquire-present-balance` `output3` summary.
pub const PRESENT_OUTPUT3: &[&str] = &[
    "pchs_amt_smtl",
    "evlu_amt_smtl",
    "evlu_pfls_amt_smtl",
    "dncl_amt",
    "cma_evlu_amt",
    "tot_dncl_amt",
    "etc_mgna",
    "wdrw_psbl_tot_amt",
    "frcr_evlu_tota",
    "evlu_erng_rt1",
    "pchs_amt_smtl_amt",
    "evlu_amt_smtl_amt",
    "tot_evlu_pfls_amt",
    "tot_asst_amt",
    "buy_mgn_amt",
    "mgna_tota",
    "frcr_use_psbl_amt",
    "ustl_sll_amt_smtl",
    "ustl_buy_amt_smtl",
    "tot_frcr_cblc_smtl",
    "tot_loan_amt",
];

/// `trading/inquire-psamount` (TTTS3007R) `output`.
pub const PSAMOUNT: &[&str] = &[
    "tr_crcy_cd",
    "ord_psbl_frcr_amt",
    "sll_ruse_psbl_amt",
    "ovrs_ord_psbl_amt",
    "max_ord_psbl_qty",
    "echm_af_ord_psbl_amt",
    "echm_af_ord_psbl_qty",
    "ord_psbl_qty",
    "exrt",
    "frcr_ord_psbl_amt1",
    "ovrs_max_ord_psbl_qty",
];

/// HDFSCNT0 trade records (26 fields).
pub const HDFSCNT0: &[&str] = &[
    "RSYM", "SYMB", "ZDIV", "TYMD", "XYMD", "XHMS", "KYMD", "KHMS", "OPEN", "HIGH", "LOW", "LAST", "SIGN",
    "DIFF", "RATE", "PBID", "PASK", "VBID", "VASK", "EVOL", "TVOL", "TAMT", "BIVL", "ASVL", "STRN", "MTYP",
];

/// HDFSASP0 book records, level 1 (17 fields; the 71-field variant repeats the last six per level).
pub const HDFSASP0: &[&str] = &[
    "RSYM", "SYMB", "ZDIV", "XYMD", "XHMS", "KYMD", "KHMS", "BVOL", "AVOL", "BDVL", "ADVL", "PBID1", "PASK1",
    "VBID1", "VASK1", "DBID1", "DASK1",
];

/// H0GSCNI0 / H0GSCNI9 notice records (25 fields; older layouts end after 24 or 21).
pub const H0GSCNI0: &[&str] = &[
    "CUST_ID",
    "ACNT_NO",
    "ODER_NO",
    "OODER_NO",
    "SELN_BYOV_CLS",
    "RCTF_CLS",
    "ODER_KIND2",
    "STCK_SHRN_ISCD",
    "CNTG_QTY",
    "CNTG_UNPR",
    "STCK_CNTG_HOUR",
    "RFUS_YN",
    "CNTG_YN",
    "ACPT_YN",
    "BRNC_NO",
    "ODER_QTY",
    "ACNT_NAME",
    "CNTG_ISNM",
    "ODER_COND",
    "DEBT_GB",
    "DEBT_DATE",
    "START_TM",
    "END_TM",
    "TM_DIV_TP",
    "CNTG_UNPR12",
];
