//! `aegis rehearse --days 2 --kills 1`: the real daemon over two simulated KRX trading days under
//! the default fault plan (every fault kind of the simulator, a failed stage re-run by the
//! operator) and one SIGKILL, against the in-process simulator, on a fresh SQLite database; and
//! `aegis rehearse --us --days 1 --kills 1`, the same with the US pipeline beside (its session
//! overnight KST, the kill in it). It exits 0 only when every check of its verdict table held.

use std::collections::BTreeMap;

#[tokio::test]
async fn rehearse_two_days_with_a_kill() {
    let env: BTreeMap<String, String> = BTreeMap::new();
    let args = ["rehearse", "--days", "2", "--kills", "1", "--no-progress", "--speed", "1000"];
    let out = crate::support::bin::run_async(&args, &env).await;
    let text = crate::support::bin::text(&out);
    assert!(out.status.success(), "exit {:?}:\n{text}", out.status.code());
    assert!(text.contains("── aegis rehearse: 2 trading days ──"), "{text}");
    assert!(text.contains("stages") && text.contains("db=broker") && text.contains("pos=hold"), "{text}");
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("11/11")).collect();
    assert_eq!(rows.len(), 2, "one row per day, every stage succeeded: {text}");
    // … db=broker  pos=hold  daemon RSS: both checks yes, then the daemon's RSS that evening.
    assert!(
        rows.iter().all(|r| {
            let t: Vec<&str> = r.split_whitespace().collect();
            t.len() > 4 && t[t.len() - 4..] == ["yes", "yes", t[t.len() - 2], "MB"]
        }),
        "{text}"
    );
    assert!(text.contains("rerun"), "the failed stage was re-run: {text}");
    assert!(text.contains("kills at 20"), "the kill happened: {text}");
    assert!(text.contains("check: every check held"), "{text}");
}

/// `aegis rehearse --us --days 1 --kills 1`: the daemon trades US stocks beside (`US_SYMBOLS`),
/// so after the KRX day its US pipeline runs overnight KST on the New York date, under socket
/// drops and order-path faults of the US session — and the one kill lands in that session (with
/// `--us` the kills alternate, the first in a US one). The verdict table has a KRX and a US row
/// for the date, each with every stage succeeded and every check held (about 90 s at 1000×).
#[tokio::test]
async fn rehearse_a_krx_and_a_us_day_with_a_kill_in_the_us_session() {
    let env: BTreeMap<String, String> = BTreeMap::new();
    let args = ["rehearse", "--us", "--days", "1", "--kills", "1", "--no-progress", "--speed", "1000"];
    let out = crate::support::bin::run_async(&args, &env).await;
    let text = crate::support::bin::text(&out);
    assert!(out.status.success(), "exit {:?}:\n{text}", out.status.code());
    assert!(text.contains("── aegis rehearse: 1 KRX and 1 US trading days ──"), "{text}");
    let rows: Vec<Vec<&str>> =
        text.lines().filter(|l| l.contains("11/11")).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "a KRX and a US row, every stage succeeded: {text}");
    // date [US] stages [rerun] orders fills P&L currency alerts kills faults db=broker pos=hold RSS MB
    assert!(
        rows.iter().all(|t| t.len() > 4 && t[t.len() - 4..] == ["yes", "yes", t[t.len() - 2], "MB"]),
        "{text}"
    );
    let (kr, us) = (&rows[0], &rows[1]);
    assert_eq!((kr[0], kr[1], kr[2]), (us[0], "11/11", "rerun"), "the same date, KRX first: {text}");
    assert_eq!((us[1], us[2]), ("US", "11/11"), "{text}");
    assert!(us[3].parse::<u32>().is_ok_and(|n| n > 0), "the US session traded: {text}");
    assert_eq!((us[6], us[8]), ("USD", "1"), "P&L in USD, the kill in the US session: {text}");
    assert!(text.contains("check: every check held"), "{text}");
}
