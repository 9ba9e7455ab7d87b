//! `aegis params list|show|approve|reject`: the operator's review of strategy-parameter drafts.
//!
//! Exit codes: 0 done, 1 database failure, 2 configuration problem, 3 unknown draft id,
//! 4 draft already decided or invalid.

use chrono::Utc;

use super::ParamsCommand;
use crate::config::Loaded;
use crate::journal::drafts;
use crate::store::Store;
use crate::store::params::{Draft, ParamsError, get_draft, list_drafts, reject_draft};

/// Exit code for an unknown draft id.
pub const EXIT_NOT_FOUND: i32 = 3;
/// Exit code for a draft that is already decided or invalid.
pub const EXIT_CONFLICT: i32 = 4;

fn actor(by: Option<String>) -> String {
    by.filter(|s| !s.trim().is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn exit_for(e: &ParamsError) -> i32 {
    match e {
        ParamsError::NotFound(_) => EXIT_NOT_FOUND,
        ParamsError::AlreadyDecided { .. } | ParamsError::Invalid { .. } => EXIT_CONFLICT,
        ParamsError::Store(_) => 1,
    }
}

fn print_draft(d: &Draft) {
    println!("draft        {}", d.id);
    println!("strategy     {}", d.strategy);
    println!("trade date   {}", d.trade_date);
    println!("status       {}", d.status);
    println!("source       {}", d.source);
    println!("created at   {}", d.created_at.to_rfc3339());
    if let (Some(at), Some(by)) = (d.decided_at, &d.decided_by) {
        println!("decided      {} by {by}", at.to_rfc3339());
    }
    if let Some(reason) = &d.reason {
        println!("reason       {reason}");
    }
    println!("rationale    {}", d.rationale);
    println!("params       {}", serde_json::to_string_pretty(&d.params).unwrap_or_default());
}

/// Runs a params command; only `DB_URL` problems stop it.
pub async fn run(loaded: &Loaded, cmd: ParamsCommand) -> i32 {
    let problems = loaded.problems_for(&["DB_URL"]);
    if !problems.is_empty() {
        for p in problems {
            eprintln!("error: {p}");
        }
        return super::EXIT_CONFIG;
    }
    let store = match Store::open(loaded.settings.db_url.expose()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    match cmd {
        ParamsCommand::List { status } => match list_drafts(&store, status).await {
            Ok(list) => {
                println!(
                    "{:>6}  {:<9} {:<20} {:<10}  {:<6} CREATED",
                    "ID", "STATUS", "STRATEGY", "TRADE DATE", "SOURCE"
                );
                for d in &list {
                    println!(
                        "{:>6}  {:<9} {:<20} {:<10}  {:<6} {}",
                        d.id,
                        d.status.as_str(),
                        d.strategy,
                        d.trade_date,
                        d.source,
                        d.created_at.to_rfc3339()
                    );
                }
                println!("{} drafts", list.len());
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
        ParamsCommand::Show { id } => match get_draft(&store, id).await {
            Ok(Some(d)) => {
                print_draft(&d);
                0
            }
            Ok(None) => {
                eprintln!("error: {}", ParamsError::NotFound(id));
                EXIT_NOT_FOUND
            }
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
        ParamsCommand::Approve { id, by } => {
            let by = actor(by);
            match drafts::approve(&store, id, &by, Utc::now()).await {
                Ok(a) => {
                    let retired = if a.retired.is_empty() {
                        String::new()
                    } else {
                        format!(" (retired: {:?})", a.retired)
                    };
                    println!(
                        "draft {id} approved by {by}: strategy_params {} is ACTIVE for {} on {}{retired}",
                        a.active.id, a.draft.strategy, a.draft.trade_date
                    );
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    exit_for(&e)
                }
            }
        }
        ParamsCommand::Reject { id, reason, by } => {
            let by = actor(by);
            if reason.trim().is_empty() {
                eprintln!("error: --reason must not be empty");
                return super::EXIT_CONFIG;
            }
            match reject_draft(&store, id, &by, reason.trim(), Utc::now()).await {
                Ok(d) => {
                    println!("draft {id} rejected by {by}: {}", d.reason.unwrap_or_default());
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    exit_for(&e)
                }
            }
        }
    }
}
