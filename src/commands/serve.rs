//! `ward serve`: compile a project and serve it as a REST API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ward_runtime::{App, ServeOptions};

use super::check::short_hash;
use super::{ProjectDir, exit_failure, project};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: ProjectDir,
    /// Database URL: sqlite://PATH (default: sqlite://DIR/.ward/data.db) or
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
    #[arg(long, env = "WARD_DATABASE_URL")]
    database: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "WARD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Refuse to start without the configured JWT secret (no dev secret fallback): for production.
    #[arg(long)]
    require_secret: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    let dir = args.project.dir;
    let compiled = project::compile_dir(&dir)?;
    let ir = match compiled.into_ir() {
        Ok(ir) => ir,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(exit_failure());
        }
    };
    let database_url = match args.database {
        Some(url) => url,
        None => default_database(&dir)?,
    };
    let options = ServeOptions {
        project_dir: dir.clone(),
        database_url: database_url.clone(),
        require_secret: args.require_secret,
    };
    let tables = ir.tables.len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async move {
        let app = App::open(ir, &options).await?;
        if let ward_runtime::SecretSource::DevFile(path) = app.secret_source() {
            eprintln!(
                "warning: the JWT secret variable is not set; signing with the development secret in {} (use --require-secret in production)",
                path.display()
            );
        }
        eprintln!(
            "ward: serving {tables} table(s) from {} on http://{} (ir {}, database {}, jwt: {})",
            dir.display(),
            args.listen,
            short_hash(&app.ir_hash()),
            ward_runtime::store::describe_url(&database_url),
            app.secret_source(),
        );
        ward_runtime::serve(app, args.listen).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn default_database(dir: &Path) -> anyhow::Result<String> {
    let state = dir.join(".ward");
    // Private: it holds the database and the dev secret.
    ward_runtime::secret::create_private_dir(&state)
        .with_context(|| format!("could not create {}", state.display()))?;
    let path: PathBuf = state.join("data.db");
    Ok(format!("sqlite://{}", path.display()))
}

pub(super) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,ward=info,ward_runtime=info"));
    // A second initialisation (only possible in tests) is harmless, so its error is ignored.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
