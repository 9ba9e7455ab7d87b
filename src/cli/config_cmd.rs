//! `aegis config check`.

use rust_decimal::Decimal;

use crate::config::{KEYS, Loaded, RiskSettings, is_secret};
use crate::domain::risk::ExposureLimit;

/// The problems of the files in SCHEDULES_DIR: the pipeline schedule, the KRX and the US
/// calendars (a missing file means the built-in one, which is no problem).
fn schedule_problems(loaded: &Loaded) -> Vec<String> {
    let dir = &loaded.settings.schedules_dir;
    let mut problems = Vec::new();
    if let Err(e) = super::run_cmd::load_schedule(None, dir) {
        problems.push(format!("SCHEDULES_DIR: {e}"));
    }
    if let Err(e) = super::ops_cmd::load_calendar(dir) {
        problems.push(format!("SCHEDULES_DIR: {e}"));
    }
    if let Err(e) = super::ops_cmd::load_us_calendar(dir) {
        problems.push(format!("SCHEDULES_DIR: {e}"));
    }
    problems
}

/// Prints every problem (exit 2) or a summary of the effective settings (exit 0).
pub fn check(loaded: &Loaded) -> i32 {
    let schedules = schedule_problems(loaded);
    if !loaded.problems.is_empty() || !schedules.is_empty() {
        eprintln!("configuration has {} problem(s):", loaded.problems.len() + schedules.len());
        for p in &loaded.problems {
            eprintln!("  - {p}");
        }
        for p in &schedules {
            eprintln!("  - {p}");
        }
        eprintln!("see .env.example or README.md (Configuration) for every key");
        return super::EXIT_CONFIG;
    }
    let s = &loaded.settings;
    println!("configuration OK");
    println!("  MODE               {}", s.mode);
    println!("  KIS_ACCOUNT        {}", s.kis.account.as_ref().map(|a| a.masked()).unwrap_or_default());
    println!("  KIS_REST_BASE_URL  {}", s.kis.rest_base_url);
    println!("  KIS_WS_URL         {}", s.kis.ws_url);
    println!("  rate limit         {}/s", s.kis.rate_limit_per_sec);
    println!("  database           {}", db_kind(s.db_url.expose()));
    println!("  schedules          {} (missing files: the built-in ones)", s.schedules_dir.display());
    println!("  slack              {}", if s.slack.is_some() { "on" } else { "off" });
    println!("  email              {}", if s.smtp.is_some() { "on" } else { "off" });
    println!("  AI journal         {}", if s.ai.is_some() { "model" } else { "template" });
    match s.metrics_listen {
        Some(addr) => println!("  metrics            http://{addr}/metrics (/healthz, /readyz)"),
        None => println!("  metrics            off"),
    }
    print_risk(&s.risk);
    let secrets = KEYS.iter().filter(|k| is_secret(k.name)).count();
    println!("  ({secrets} secret keys are never printed)");
    0
}

/// Prints the effective risk limits, one `RISK_*` key a line (`off` when unset).
fn print_risk(risk: &RiskSettings) {
    let g = &risk.guardrails;
    let krw = |v: Option<Decimal>| v.map_or_else(|| "off".to_owned(), |d| format!("{d} KRW"));
    let count = |v: Option<String>| v.unwrap_or_else(|| "off".to_owned());
    let daily = match risk.kill_switch_daily_loss {
        Some(l) => format!(
            "{} KRW (kill switch: blocks new risk, trips STOP; {})",
            l.max_loss,
            if l.include_unrealized { "realized + unrealized P&L" } else { "realized P&L only" }
        ),
        None => "off".to_owned(),
    };
    let position = match g.symbol_exposure {
        Some(ExposureLimit::Value(v)) => Some(v),
        Some(ExposureLimit::Quantity(_)) | None => None,
    };
    println!("  risk limits");
    println!("    RISK_DAILY_LOSS_KRW          {daily}");
    println!("    RISK_MAX_ORDER_VALUE_KRW     {}", krw(g.max_order_value));
    println!("    RISK_MAX_POSITION_VALUE_KRW  {}", krw(position));
    println!("    RISK_MAX_GROSS_EXPOSURE_KRW  {}", krw(g.max_gross_exposure));
    println!("    RISK_MAX_OPEN_POSITIONS      {}", count(g.max_open_positions.map(|n| n.to_string())));
    println!("    RISK_MAX_ORDERS_PER_DAY      {}", count(g.max_orders_per_day.map(|n| n.to_string())));
}

fn db_kind(url: &str) -> String {
    if let Some(path) = url.strip_prefix("sqlite://") {
        format!("SQLite {}", path.split('?').next().unwrap_or(path))
    } else {
        let host = url::Url::parse(url)
            .ok()
            .map(|u| format!("{}:{}", u.host_str().unwrap_or("?"), u.port().unwrap_or(5432)))
            .unwrap_or_default();
        format!("PostgreSQL {host}")
    }
}
