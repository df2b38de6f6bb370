//! `ward migrate`: the plan from the database to the project's IR; `--apply` applies it, and
//! destructive changes need `--allow-destructive` as well.

use std::process::ExitCode;

use ward_runtime::{MigrateCommandError, MigrateError, MigrateMode};

use super::{ProjectDir, exit_failure, project, serve};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: ProjectDir,
    /// Database URL: sqlite://PATH (default: sqlite://DIR/.ward/data.db) or postgres://….
    #[arg(long, env = "WARD_DATABASE_URL")]
    database: Option<String>,
    /// Apply the plan (in one transaction).
    #[arg(long)]
    apply: bool,
    /// With --apply: also apply changes that can lose data (drops, type changes, new required
    /// columns).
    #[arg(long, requires = "apply")]
    allow_destructive: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = args.project.dir;
    let again = format!("ward migrate {} --apply", project::shell_word(&dir));
    let ir = match project::compile_dir(&dir)?.into_ir() {
        Ok(ir) => ir,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(exit_failure());
        }
    };
    let url = match args.database {
        Some(url) => url,
        None => serve::default_database(&dir)?,
    };
    let mode = if args.apply {
        MigrateMode::Apply {
            allow_destructive: args.allow_destructive,
        }
    } else {
        MigrateMode::Plan
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let described = ward_runtime::describe_url(&url);
    match runtime.block_on(ward_runtime::migrate(ir, &url, mode)) {
        Ok(plan) => {
            println!("migration plan for {described}:\n{plan}");
            if plan.is_empty() {
                println!("the database is up to date");
            } else if args.apply {
                println!("applied");
            } else if plan.is_destructive() {
                println!(
                    "not applied; `{again} --allow-destructive` applies it (`!` marks changes that can lose data)"
                );
            } else {
                println!("not applied; `{again}` applies it");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(MigrateCommandError::Migrate(MigrateError::Destructive(plan))) => {
            println!("migration plan for {described}:\n{plan}");
            eprintln!(
                "error: the plan has changes that can lose data (marked `!`); nothing was changed. Add --allow-destructive to apply them"
            );
            Ok(exit_failure())
        }
        Err(e) => Err(e.into()),
    }
}
