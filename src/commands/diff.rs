//! `ward diff OLD NEW`: the security-relevant differences between two versions of a project,
//! meant as a CI gate on pull requests: exit 1 when anything widened, unless `--allow-widening`.

use std::path::PathBuf;
use std::process::ExitCode;

use ward_compiler::policy;

use super::{exit_failure, project};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project before the change (e.g. a checkout of the base branch).
    old: PathBuf,
    /// The project after the change.
    new: PathBuf,
    /// Exit 0 even when the change widens access (the differences are still printed).
    #[arg(long)]
    allow_widening: bool,
    /// Print the differences as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let load = |dir: &PathBuf| -> anyhow::Result<Option<ward_ir::Ir>> {
        match project::compile_dir(dir)?.into_ir() {
            Ok(ir) => Ok(Some(ir)),
            Err(err) => {
                eprintln!("error: {}: {err}", dir.display());
                Ok(None)
            }
        }
    };
    let (Some(old), Some(new)) = (load(&args.old)?, load(&args.new)?) else {
        return Ok(exit_failure());
    };
    let differences = policy::diff(&policy::explain(&old), &policy::explain(&new));
    let widened = differences.iter().filter(|d| d.widened).count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&differences)?);
    } else if differences.is_empty() {
        println!("no security-relevant differences");
    } else {
        for d in &differences {
            let mark = if d.widened {
                "+ widened "
            } else {
                "- narrowed"
            };
            println!("{mark}  {}: {}", d.table, d.what);
        }
        println!("{} difference(s), {widened} widening", differences.len());
    }
    if widened > 0 && !args.allow_widening {
        eprintln!(
            "error: the change widens access ({widened} difference(s) marked `+ widened`); review them, then pass --allow-widening"
        );
        return Ok(exit_failure());
    }
    Ok(ExitCode::SUCCESS)
}
