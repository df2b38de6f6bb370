//! `ward check`: type-check a project and report every diagnostic.

use std::process::ExitCode;

use clap::ValueEnum;

use super::{ProjectDir, exit_failure, project};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: ProjectDir,
    /// Output format: human-readable diagnostics, or JSON for tools.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Fail when there are warnings, too.
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let compiled = project::compile_dir(&args.project.dir)?;
    let compilation = &compiled.compilation;
    let errors = compilation.error_count();
    let warnings = compilation.warning_count();
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);
    match args.format {
        Format::Json => {
            let report = serde_json::json!({
                "ok": !failed,
                "errors": errors,
                "warnings": warnings,
                "diagnostics": ward_compiler::diagnostics_json(&compilation.diagnostics, &compiled.sources),
                "ir": compilation.ir.as_ref().map(|ir| ir.hash.clone()),
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Format::Human => {
            compiled.print_diagnostics();
            match &compilation.ir {
                Some(ir) if !failed => println!(
                    "ok: {} table(s), {} warning(s), ir {}",
                    ir.tables.len(),
                    warnings,
                    short_hash(&ir.hash)
                ),
                _ => println!("failed: {errors} error(s), {warnings} warning(s)"),
            }
        }
    }
    Ok(if failed {
        exit_failure()
    } else {
        ExitCode::SUCCESS
    })
}

pub fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
