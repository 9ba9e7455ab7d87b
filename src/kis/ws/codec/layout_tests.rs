//! Checks the named field positions against the vendor layouts in
//! `../shared/kis-api/ws_fields.json` (not against the simulator, an independent implementation).

use std::path::PathBuf;

use serde_json::Value;

use super::{Field, book, notice, notice_legacy, trade, us_book, us_notice, us_trade};

/// The layouts file; a missing or unreadable file fails the test (CI has `shared/` beside the
/// clone).
fn channels() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/kis-api/ws_fields.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} must be readable: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("ws_fields.json is JSON");
    json["channels"].clone()
}

/// The ordered field names and the declared field count of `tr`.
fn names(channels: &Value, tr: &str) -> (Vec<String>, usize) {
    let channel = &channels[tr];
    let names: Vec<String> = channel["field_names"]
        .as_array()
        .unwrap_or_else(|| panic!("{tr} has field_names"))
        .iter()
        .map(|n| n.as_str().expect("a field name is text").to_owned())
        .collect();
    let count = channel["field_count"].as_u64().unwrap_or_else(|| panic!("{tr} has field_count"));
    (names, usize::try_from(count).expect("a small count"))
}

/// Asserts that every field of `named` sits at its name's index in `tr`'s layout, and that the
/// layout has `width` fields.
fn check(channels: &Value, tr: &str, width: usize, named: &[Field]) {
    let (names, count) = names(channels, tr);
    assert_eq!((names.len(), count), (width, width), "{tr}: field count");
    for field in named {
        let at = names.iter().position(|n| n == field.name);
        assert_eq!(at, Some(field.at), "{tr}: {} is field {:?}, named at {}", field.name, at, field.at);
    }
}

#[test]
fn named_positions_match_the_vendor_layouts() {
    let channels = channels();
    check(&channels, trade::TR_ID, trade::WIDTH, trade::NAMED);
    check(&channels, book::TR_ID, book::WIDTH, book::NAMED);
    for tr in [notice::TR_ID, "H0STCNI9"] {
        check(&channels, tr, notice::WIDTH, notice::NAMED);
    }
    check(&channels, notice_legacy::TR_ID, notice_legacy::WIDTH, notice_legacy::NAMED);
}

#[test]
fn channels_decoded_alike_share_the_positions() {
    let channels = channels();
    // The integrated and NXT trade channels decode as trades; only field 21's name differs.
    for tr in ["H0UNCNT0", "H0NXCNT0"] {
        let shared: Vec<Field> = trade::NAMED.iter().copied().filter(|f| *f != trade::CCLD_DVSN).collect();
        check(&channels, tr, trade::WIDTH, &shared);
        assert_eq!(names(&channels, tr).0[trade::CCLD_DVSN.at], "CNTG_CLS_CODE");
    }
    // The legacy notice layout is read with the current layout's positions but its own price.
    let shared: Vec<Field> = notice::NAMED.iter().copied().filter(|f| *f != notice::ODER_PRC).collect();
    check(&channels, notice_legacy::TR_ID, notice_legacy::WIDTH, &shared);
}

#[test]
fn named_fields_are_in_record_order_and_unique() {
    for named in [trade::NAMED, book::NAMED, notice::NAMED, notice_legacy::NAMED] {
        assert!(named.windows(2).all(|w| w[0].at < w[1].at), "{named:?}");
    }
    let levels = [book::ASKP, book::BIDP, book::ASKP_RSQN, book::BIDP_RSQN];
    for (side, name) in levels.iter().zip(["ASKP", "BIDP", "ASKP_RSQN", "BIDP_RSQN"]) {
        for (level, field) in side.iter().enumerate() {
            assert_eq!(field.name, format!("{name}{}", level + 1));
        }
    }
}

/// The overseas layouts file (`../shared/kis-api/overseas_ws_fields.json`).
fn overseas_channels() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/kis-api/overseas_ws_fields.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} must be readable: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("overseas_ws_fields.json is JSON");
    json["channels"].clone()
}

#[test]
fn overseas_positions_match_the_vendor_layouts() {
    let channels = overseas_channels();
    check(&channels, us_trade::TR_ID, us_trade::WIDTH, us_trade::NAMED);
    check(&channels, us_book::TR_ID, us_book::WIDTH, us_book::NAMED);
    for tr in [us_notice::TR_ID, "H0GSCNI9"] {
        check(&channels, tr, us_notice::WIDTH, us_notice::NAMED);
    }
    let alt: Vec<u64> = channels["H0GSCNI0"]["alt_field_counts"]
        .as_array()
        .expect("alt_field_counts")
        .iter()
        .map(|v| v.as_u64().expect("a count"))
        .collect();
    assert_eq!(alt, us_notice::OLDER_WIDTHS.map(|w| w as u64));
    for named in [us_trade::NAMED, us_book::NAMED, us_notice::NAMED] {
        assert!(named.windows(2).all(|w| w[0].at < w[1].at), "{named:?}");
    }
    // Every field read from a notice exists in the oldest layout too.
    assert!(us_notice::NAMED.iter().all(|f| f.at < us_notice::OLDER_WIDTHS[1]));
}
