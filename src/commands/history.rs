//! `ward history purge DIR --table T (--id X | --actor U | --before DATE)`: erases versions from
//! a table's history (SPEC §11) — a row's, a user's, or everything older than a date — in small
//! batches, whatever the table's `keep`.

use std::process::ExitCode;

use ward_runtime::{HistoryPurge, MigrateCommandError};

use super::{ProjectDir, exit_failure, project, serve};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Erase versions: one row's (--id), one user's (--actor), or all before a date (--before).
    Purge(Purge),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["id", "actor", "before"])))]
struct Purge {
    #[command(flatten)]
    project: ProjectDir,
    /// Database URL: sqlite://PATH (default: sqlite://DIR/.ward/data.db) or postgres://….
    #[arg(long, env = "WARD_DATABASE_URL")]
    database: Option<String>,
    /// The table whose history to erase from.
    #[arg(long)]
    table: String,
    /// Every version of the row with this id.
    #[arg(long)]
    id: Option<String>,
    /// Every version written by this user (the token's subject).
    #[arg(long)]
    actor: Option<String>,
    /// Every version written before this date (`2026-01-31`) or time (`2026-01-31T12:00:00Z`).
    #[arg(long)]
    before: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Command::Purge(p) = args.command;
    let what = match (p.id, p.actor, p.before) {
        (Some(id), _, _) => HistoryPurge::Row(id),
        (_, Some(actor), _) => HistoryPurge::Actor(actor),
        (_, _, Some(before)) => match stamp(&before) {
            Some(at) => HistoryPurge::Before(at),
            None => {
                eprintln!(
                    "error: `--before {before}` is not a date (2026-01-31) or a time (2026-01-31T12:00:00Z)"
                );
                return Ok(super::exit_usage());
            }
        },
        (None, None, None) => return Ok(super::exit_usage()),
    };
    let dir = p.project.dir;
    let ir = match project::compile_dir(&dir)?.into_ir() {
        Ok(ir) => ir,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(exit_failure());
        }
    };
    let url = match p.database {
        Some(url) => url,
        None => serve::default_database(&dir)?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(ward_runtime::purge_history(ir, &url, &p.table, what)) {
        Ok(n) => {
            println!("erased {n} version(s) of `{}`", p.table);
            Ok(ExitCode::SUCCESS)
        }
        Err(MigrateCommandError::Purge(why)) => {
            eprintln!("error: {why}");
            Ok(exit_failure())
        }
        Err(e) => Err(e.into()),
    }
}

/// A date or time as the change log stamps it (`at`), for comparing as text.
fn stamp(text: &str) -> Option<String> {
    if let Some(date) = ward_ir::time::parse_date(text) {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|t| ward_ir::time::datetime_text(&t.and_utc()));
    }
    ward_ir::time::normalize_datetime(text)
}
