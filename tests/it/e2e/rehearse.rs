//! `aegis rehearse --days 2 --kills 1`: the real daemon over two simulated KRX trading days under
//! the default fault plan (every fault kind of the simulator, a failed stage re-run by the
//! operator) and one SIGKILL, against the in-process simulator, on a fresh SQLite database. It
//! exits 0 only when every check of its verdict table held.

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
