//! `aegis config check`.

use crate::config::{KEYS, Loaded, is_secret};

/// Prints every problem (exit 2) or a summary of the effective settings (exit 0).
pub fn check(loaded: &Loaded) -> i32 {
    if !loaded.problems.is_empty() {
        eprintln!("configuration has {} problem(s):", loaded.problems.len());
        for p in &loaded.problems {
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
    println!("  slack              {}", if s.slack.is_some() { "on" } else { "off" });
    println!("  email              {}", if s.smtp.is_some() { "on" } else { "off" });
    println!("  AI journal         {}", if s.ai.is_some() { "model" } else { "template" });
    let secrets = KEYS.iter().filter(|k| is_secret(k.name)).count();
    println!("  ({secrets} secret keys are never printed)");
    0
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
