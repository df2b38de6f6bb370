//! `ward openapi`: the OpenAPI 3.1 document `ward serve` answers at `/openapi.json`.

use std::process::ExitCode;

use super::{ProjectDir, exit_failure, project};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: ProjectDir,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let ir = match project::compile_dir(&args.project.dir)?.into_ir() {
        Ok(ir) => ir,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(exit_failure());
        }
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&ward_runtime::openapi_document(&ir))?
    );
    Ok(ExitCode::SUCCESS)
}
