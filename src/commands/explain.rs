//! `ward explain`: the effective policy of a project, per table: a role × operation matrix with
//! the row conditions each role is left with, and a field × role matrix of visibility and
//! writability.

use std::process::ExitCode;

use ward_compiler::policy::{self, render::Format};

use super::{ProjectDir, exit_failure, project};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: ProjectDir,
    /// Only this table.
    #[arg(long)]
    table: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let ir = match project::compile_dir(&args.project.dir)?.into_ir() {
        Ok(ir) => ir,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(exit_failure());
        }
    };
    let mut explanation = policy::explain(&ir);
    if let Some(name) = &args.table {
        explanation.tables.retain(|t| &t.table == name);
        if explanation.tables.is_empty() {
            anyhow::bail!("the project has no table `{name}`");
        }
    }
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&explanation)?),
        OutputFormat::Text => print!("{}", policy::render::render(&explanation, Format::Text)),
        OutputFormat::Markdown => {
            print!("{}", policy::render::render(&explanation, Format::Markdown));
        }
    }
    Ok(ExitCode::SUCCESS)
}
