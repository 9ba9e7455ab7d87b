//! Stock master files (`kospi_code.mst.zip`, `kosdaq_code.mst.zip`, `konex_code.mst.zip` and the
//! NXT subsets) generated from the simulator's instruments in the CP949 fixed-width layout.

use std::io::{Cursor, Write};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Response, StatusCode, header};

use super::Shared;
use super::fields::{KONEX_TAIL, KOSDAQ_TAIL, KOSPI_TAIL};
use super::instruments::Listing;
use super::market::SymbolMarket;

/// Errors of building a master file.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// The ZIP writer failed.
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// Writing into the in-memory archive failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Pads (or cuts at a character boundary) CP949 bytes of `text` to exactly `width` bytes.
pub fn cp949_field(text: &str, width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(width);
    for ch in text.chars() {
        let mut buf = [0_u8; 4];
        let (bytes, _, _) = encoding_rs::EUC_KR.encode(ch.encode_utf8(&mut buf));
        if out.len() + bytes.len() > width {
            break;
        }
        out.extend_from_slice(&bytes);
    }
    out.resize(width, b' ');
    out
}

fn num(v: i128, width: usize) -> String {
    let s = format!("{:0width$}", v.max(0));
    if s.len() > width { "9".repeat(width) } else { s }
}

fn tail_value(m: &SymbolMarket, name: &str, width: usize) -> String {
    let i = &m.inst;
    let v = match name {
        "scrt_grp_cls_code" => i.group.to_owned(),
        "avls_scal_cls_code" => if i.group == "ST" { "1" } else { "0" }.to_owned(),
        "bstp_larg_div_code" | "bstp_medm_div_code" | "bstp_smal_div_code" => "0000".to_owned(),
        "kospi200_apnt_cls_code" | "short_over_cls_code" | "prst_cls_code" => "0".to_owned(),
        "etp_prod_cls_code" => if i.group == "EF" { "1" } else { "0" }.to_owned(),
        "stck_sdpr" => num(i128::from(m.base), width),
        "frml_mrkt_deal_qty_unit" | "ovtm_mrkt_deal_qty_unit" => num(1, width),
        "mrkt_alrm_cls_code" | "flng_cls_code" | "fcam_mod_cls_code" | "icic_cls_code" => "00".to_owned(),
        "marg_rate" => num(20, width),
        "crdt_able" => "Y".to_owned(),
        "crdt_days" => num(90, width),
        "prdy_vol" => num(i128::from(m.prev_volume), width),
        "stck_fcam" => num(i128::from(i.par), width),
        "stck_lstn_date" => i.listed_on.to_owned(),
        "lstn_stcn" => num(i128::from(i.listed_shares), width),
        "cpfn" => num(i128::from(i.listed_shares) * i128::from(i.par), width),
        "stac_month" => "12".to_owned(),
        "kospi_issu_yn" => if i.listing == Listing::Kospi { "Y" } else { "N" }.to_owned(),
        "roe" => "000000.00".to_owned(),
        "base_date" => m.date.format("%Y%m%d").to_string(),
        "prdy_avls_scal" => num(i128::from(m.base) * i128::from(i.listed_shares) / 100_000_000, width),
        "grp_code" => " ".repeat(width),
        _ if width == 1 => "N".to_owned(),
        _ => num(0, width),
    };
    format!("{v:<width$}").chars().take(width).collect()
}

/// Builds one fixed-width record (without the LF) for `m` in the layout of `listing`.
pub fn record(m: &SymbolMarket, listing: Listing) -> Vec<u8> {
    let tail = match listing {
        Listing::Kospi => KOSPI_TAIL,
        Listing::Kosdaq => KOSDAQ_TAIL,
        Listing::Konex => KONEX_TAIL,
        // US instruments have no KRX master record (they live in the US markets only).
        Listing::Nasdaq | Listing::Nyse | Listing::Amex => KOSPI_TAIL,
    };
    let mut out = cp949_field(&m.inst.code, 9);
    out.extend(cp949_field(&m.inst.isin, 12));
    out.extend(cp949_field(&m.inst.name, 40));
    for (name, width) in tail {
        out.extend(cp949_field(&tail_value(m, name, *width), *width));
    }
    out
}

/// Builds the `.mst` content (CP949, LF-terminated records) for a listing.
pub fn mst(markets: &[&SymbolMarket], listing: Listing) -> Vec<u8> {
    let mut out = Vec::new();
    for m in markets.iter().filter(|m| m.inst.listing == listing) {
        out.extend(record(m, listing));
        out.push(b'\n');
    }
    out
}

/// Wraps `content` in a ZIP archive with one member named `member`.
///
/// # Errors
/// Returns [`MasterError`] when the archive cannot be written.
pub fn zip_one(member: &str, content: &[u8]) -> Result<Vec<u8>, MasterError> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.start_file(member, opts)?;
    w.write_all(content)?;
    Ok(w.finish()?.into_inner())
}

/// `GET /common/master/{name}`.
pub async fn serve(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response<Body> {
    let listing = match name.as_str() {
        "kospi_code.mst.zip" | "nxt_kospi_code.mst.zip" => Listing::Kospi,
        "kosdaq_code.mst.zip" | "nxt_kosdaq_code.mst.zip" => Listing::Kosdaq,
        "konex_code.mst.zip" => Listing::Konex,
        _ => {
            let mut r = Response::new(Body::from("Not Found"));
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
    };
    let content = {
        let (st, _) = shared.lock_now();
        let ms: Vec<&SymbolMarket> = st.markets.values().collect();
        mst(&ms, listing)
    };
    let member = name.trim_end_matches(".zip");
    match zip_one(member, &content) {
        Ok(bytes) => {
            let mut r = Response::new(Body::from(bytes));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
            r
        }
        Err(_) => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock::at;
    use crate::sim::instruments::catalog;
    use crate::sim::market::{Activity, Calendar, session_open};

    #[test]
    fn records_have_the_documented_widths() {
        let now = at(chrono::NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(), session_open());
        let cal = Calendar::krx_default();
        for (code, listing, width) in [
            ("005930", Listing::Kospi, 288),
            ("247540", Listing::Kosdaq, 282),
            ("012210", Listing::Konex, 245),
        ] {
            let m = SymbolMarket::new(catalog(code), Activity::SMALL, 1, now, &cal);
            let rec = record(&m, listing);
            assert_eq!(rec.len(), width, "{code}");
            assert_eq!(&rec[..9], format!("{code:<9}").as_bytes());
            let (name, _, bad) = encoding_rs::EUC_KR.decode(&rec[21..61]);
            assert!(!bad);
            assert_eq!(name.trim_end(), m.inst.name);
        }
        assert_eq!(cp949_field("삼성전자", 6), encoding_rs::EUC_KR.encode("삼성전").0.to_vec());
    }
}
