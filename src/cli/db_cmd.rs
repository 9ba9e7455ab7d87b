//! `aegis db migrate|status`.

use super::DbCommand;
use crate::config::Loaded;
use crate::store::Store;

/// Runs a database command; only `DB_URL` problems stop it.
pub async fn run(loaded: &Loaded, cmd: DbCommand) -> i32 {
    let problems = loaded.problems_for(&["DB_URL"]);
    if !problems.is_empty() {
        for p in problems {
            eprintln!("error: {p}");
        }
        return super::EXIT_CONFIG;
    }
    let url = loaded.settings.db_url.expose();
    let store = match Store::connect(url).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let result = match cmd {
        DbCommand::Migrate => store.migrate().await.map(|()| println!("migrations applied")),
        DbCommand::Status => Ok(()),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        return 1;
    }
    match store.migration_status().await {
        Ok(list) => {
            println!("{:<10} MIGRATION", "STATUS");
            for m in &list {
                println!("{:<10} {}", if m.applied { "applied" } else { "pending" }, m.name);
            }
            let pending = list.iter().filter(|m| !m.applied).count();
            println!("{} applied, {pending} pending", list.len() - pending);
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
