//! `aegis config check`.

use rust_decimal::Decimal;

use crate::config::{KEYS, Loaded, RiskSettings, UsSettings, is_secret};
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
    println!("  risk limits");
    print_risk(&s.risk, "RISK_", "KRW");
    print_us(s.us.as_ref());
    let secrets = KEYS.iter().filter(|k| is_secret(k.name)).count();
    println!("  ({secrets} secret keys are never printed)");
    0
}

/// Prints the effective risk limits of one market, one key a line (`off` when unset): the
/// `RISK_*_KRW` keys of the KRX pipeline, or the `US_RISK_*_USD` keys of the US one.
fn print_risk(risk: &RiskSettings, prefix: &str, currency: &str) {
    let g = &risk.guardrails;
    let money = |v: Option<Decimal>| v.map_or_else(|| "off".to_owned(), |d| format!("{d} {currency}"));
    let count = |v: Option<String>| v.unwrap_or_else(|| "off".to_owned());
    let daily = match risk.kill_switch_daily_loss {
        Some(l) => format!(
            "{} {currency} (kill switch: blocks new risk, trips STOP; {})",
            l.max_loss,
            if l.include_unrealized { "realized + unrealized P&L" } else { "realized P&L only" }
        ),
        None => "off".to_owned(),
    };
    let position = match g.symbol_exposure {
        Some(ExposureLimit::Value(v)) => Some(v),
        Some(ExposureLimit::Quantity(_)) | None => None,
    };
    let lines = [
        (format!("{prefix}DAILY_LOSS_{currency}"), daily),
        (format!("{prefix}MAX_ORDER_VALUE_{currency}"), money(g.max_order_value)),
        (format!("{prefix}MAX_POSITION_VALUE_{currency}"), money(position)),
        (format!("{prefix}MAX_GROSS_EXPOSURE_{currency}"), money(g.max_gross_exposure)),
        (format!("{prefix}MAX_OPEN_POSITIONS"), count(g.max_open_positions.map(|n| n.to_string()))),
        (format!("{prefix}MAX_ORDERS_PER_DAY"), count(g.max_orders_per_day.map(|n| n.to_string()))),
    ];
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in lines {
        println!("    {key:<width$}  {value}");
    }
}

/// Prints the US pipeline: its tickers with their exchanges and its limits in USD, or that it
/// is off.
fn print_us(us: Option<&UsSettings>) {
    let Some(us) = us else {
        println!("  US pipeline        off (set US_SYMBOLS to trade US stocks)");
        return;
    };
    let tickers: Vec<String> = us.venues.iter().map(|(s, e)| format!("{s}:{}", e.order_code())).collect();
    println!(
        "  US pipeline        {} (the [us] triggers of the schedule, New York time)",
        tickers.join(", ")
    );
    println!("  US risk limits");
    print_risk(&us.risk, "US_RISK_", "USD");
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
