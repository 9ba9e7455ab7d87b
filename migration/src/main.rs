//! The migration CLI: `cargo run -p migration -- status|up|down|fresh|refresh|reset`.
//!
//! Uses `DATABASE_URL` when set, else aegis's own `DB_URL`, else the embedded SQLite default
//! `./aegis.db`, so it always looks at the same database as `aegis db status`.

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    if std::env::var_os("DATABASE_URL").is_none() {
        // `std::env::set_var` is unsafe in edition 2024 and unsafe code is forbidden here, so the
        // CLI is re-run once with the resolved URL in its environment.
        let url = std::env::var("DB_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| "sqlite://./aegis.db?mode=rwc".to_owned());
        let code = std::env::current_exe()
            .and_then(|exe| {
                std::process::Command::new(exe)
                    .args(std::env::args_os().skip(1))
                    .env("DATABASE_URL", url)
                    .status()
            })
            .map(|s| s.code().unwrap_or(1))
            .unwrap_or_else(|e| {
                eprintln!("error: cannot run the migration CLI: {e}");
                1
            });
        std::process::exit(code);
    }
    cli::run_cli(migration::Migrator).await;
}
