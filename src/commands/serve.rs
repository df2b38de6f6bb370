//! `ward serve`: compile a project and serve it as a REST API.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ward_runtime::{App, ServeOptions};

use super::check::short_hash;
use super::console::{self, Mode};
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
    /// Allow browser pages from this origin (`scheme://host[:port]`, or `*` for any), besides
    /// the project's `server { cors … }`; repeatable.
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    cors_origins: Vec<String>,
    /// Log one line per request (method, path, status, duration, request id); `RUST_LOG` can
    /// also turn it on (`RUST_LOG=ward::request=info`).
    #[arg(long)]
    log_requests: bool,
    /// Serve the console at `/_ward` to tokens with one of the project's
    /// `server { operators … }` roles (without it, `/_ward` is not found).
    #[arg(long)]
    console: bool,
    #[command(flatten)]
    limits: super::limits::LimitArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging(args.log_requests);
    let dir = args.project.dir;
    let compiled = project::compile_dir(&dir)?;
    let ir = match compiled.into_ir() {
        Ok(ir) => ir,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(exit_failure());
        }
    };
    if args.console && ir.server.operators.is_empty() {
        eprintln!(
            "error: --console needs the roles it admits: add `server {{ operators ROLE… }}` to the project (for example `operators admin`)"
        );
        return Ok(exit_failure());
    }
    let database_url = match args.database {
        Some(url) => url,
        None => default_database(&dir)?,
    };
    let options = ServeOptions {
        project_dir: dir.clone(),
        database_url: database_url.clone(),
        require_secret: args.require_secret,
        cors: ward_runtime::Cors {
            origins: args.cors_origins,
            loopback: false,
        },
        limits: args.limits.limits(&ir.server.limits),
        sqlite_sync: args.limits.sqlite_sync(&ir.server.limits),
    };
    let tables = ir.tables.len();
    let has_files = ir.tables.iter().any(|t| t.file_columns().next().is_some());
    let secret_env = match &ir.auth.jwt.key {
        ward_ir::JwtKey::Secret { env } => env.clone(),
        _ => String::new(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async move {
        // The port first: a busy one is an error before the database is touched.
        let listener = ward_runtime::bind(args.listen).await?;
        let app = App::open(ir, &options).await?;
        if let ward_runtime::SecretSource::DevFile(path) = app.secret_source() {
            eprintln!(
                "warning: ${secret_env} is not set; signing with the development secret in {} (set it, and pass --require-secret, in production)",
                path.display()
            );
        }
        eprintln!(
            "ward: serving {tables} table(s) from {} on http://{} (ir {}, database {}, jwt: {})",
            dir.display(),
            args.listen,
            short_hash(&app.ir_hash()),
            ward_runtime::describe_url(&database_url),
            app.secret_source(),
        );
        if has_files {
            eprintln!("ward: files are stored in {}", app.file_store());
        }
        if args.console {
            eprintln!(
                "ward: console at http://{}/_ward for tokens with the role {}",
                args.listen,
                app.ir_now().server.operators.join(" or ")
            );
            let console = console::router(app.clone(), Mode::Serve);
            ward_runtime::serve_with(app, listener, console).await?;
        } else {
            ward_runtime::serve(app, listener).await?;
        }
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

/// Logs to stderr. `RUST_LOG` decides when set; otherwise warnings and ward's own notices, and
/// the request lines when `requests` is on. `requests` also turns them on under a `RUST_LOG`
/// that does not mention them.
pub(super) fn init_logging(requests: bool) {
    let requests_directive = if requests {
        "ward::request=info"
    } else {
        "ward::request=off"
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "warn,ward=info,ward_runtime=info,{requests_directive}"
        ))
    });
    if requests && let Ok(directive) = requests_directive.parse() {
        filter = filter.add_directive(directive);
    }
    // A second initialisation (only possible in tests) is harmless, so its error is ignored.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_writer(std::io::stderr)
        .try_init();
}

fn parse_origin(raw: &str) -> Result<String, String> {
    ward_compiler::origin::normalize(raw)
}
