//! `ward compile`: write the checked IR as JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::{ProjectDir, exit_failure, project};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: ProjectDir,
    /// Write the IR here instead of to stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let compiled = project::compile_dir(&args.project.dir)?;
    let ir = match compiled.into_ir() {
        Ok(ir) => ir,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(exit_failure());
        }
    };
    let mut json = serde_json::to_string_pretty(&ir)?;
    json.push('\n');
    match args.output {
        Some(path) => std::fs::write(&path, json)
            .with_context(|| format!("could not write {}", path.display()))?,
        None => print!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}
