//! One module per subcommand; this file only declares the command line and dispatches.

mod check;
mod compile;
mod console;
mod dev;
mod diff;
mod explain;
mod history;
mod limits;
mod migrate;
mod openapi;
mod project;
mod serve;
mod test;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A check or test failed.
pub fn exit_failure() -> ExitCode {
    ExitCode::from(1)
}

/// A usage or I/O error.
pub fn exit_usage() -> ExitCode {
    ExitCode::from(2)
}

#[derive(Debug, Parser)]
#[command(
    name = "ward",
    version,
    about = "Declarative, secure-by-default backend: KDL resources in, a checked REST API out"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Type-check a project and print diagnostics; exit 1 on any error.
    Check(check::Args),
    /// Write the checked IR as JSON.
    Compile(compile::Args),
    /// Serve a project as a REST API.
    Serve(serve::Args),
    /// Serve a project and reload it on every save (hot reload, safe migrations).
    Dev(dev::Args),
    /// Print the migration plan from the database to the project; --apply applies it.
    Migrate(migrate::Args),
    /// Erase versions from a table's history (`ward history purge`).
    History(history::Args),
    /// Print the effective policy: role × operation and field × role matrices per table.
    Explain(explain::Args),
    /// Print the security-relevant differences between two versions of a project; exit 1 if
    /// anything widened.
    Diff(diff::Args),
    /// Print the OpenAPI 3.1 document of the project's API (what /openapi.json serves).
    Openapi(openapi::Args),
    /// Run the conformance suite against the project's own resources, then its tests/*.kdl cases.
    Test(test::Args),
    /// Mint a token signed with the secret the project is served with.
    Token(token::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Compile(args) => compile::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::History(args) => history::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Openapi(args) => openapi::run(args),
        Command::Test(args) => test::run(args),
        Command::Token(args) => token::run(args),
    }
}

/// The project directory argument shared by every command: defaults to the current directory.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectDir {
    /// The project directory (every *.kdl file under it, except tests/ and hidden folders).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}
