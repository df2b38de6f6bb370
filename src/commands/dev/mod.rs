//! `ward dev`: `serve` plus a watcher. Every saved change to a resource file recompiles the
//! project; a project that compiles is migrated to and swapped in atomically (requests in flight
//! finish on the IR they started with), one that does not keeps the last good IR serving and
//! prints the diagnostics, and a change that could lose data is refused with its plan. One
//! message per save.

mod reload;
mod tokens;
mod watch;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use ward_runtime::{App, ServeOptions};

use super::console::{self, Mode, Said};
use super::{ProjectDir, exit_failure, project, serve};

/// SPEC §8: saves closer together than this are one reload.
const DEBOUNCE: Duration = Duration::from_millis(50);

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: ProjectDir,
    /// Database URL: sqlite://PATH (default: sqlite://DIR/.ward/data.db) or postgres://….
    #[arg(long, env = "WARD_DATABASE_URL")]
    database: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "WARD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Also apply reloads whose migration can lose data (drops, type changes, new required
    /// columns). Without it such a reload is refused and its plan printed.
    #[arg(long)]
    allow_destructive: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    serve::init_logging(true);
    let dir = args.project.dir.clone();
    let compiled = project::compile_dir(&dir)?;
    let serving = compiled.sources.clone();
    let ir = match compiled.into_ir() {
        Ok(ir) => ir,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(exit_failure());
        }
    };
    let database_url = match &args.database {
        Some(url) => url.clone(),
        None => serve::default_database(&dir)?,
    };
    let options = ServeOptions {
        project_dir: dir.clone(),
        database_url: database_url.clone(),
        require_secret: false,
        cors: ward_runtime::Cors {
            origins: Vec::new(),
            loopback: true,
        },
        // The project's limits; a reload does not change them (they are read at start).
        limits: super::limits::LimitArgs::default().limits(&ir.server.limits),
        sqlite_sync: super::limits::LimitArgs::default().sqlite_sync(&ir.server.limits),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async move {
        // The port first: a busy one is an error before the database is touched.
        let listener = ward_runtime::bind(args.listen).await?;
        let app = App::open(ir.clone(), &options).await?;
        // Watching starts before the banner: a save right after it is never missed.
        let (_watch, mut changed) = watch::watch(&dir, DEBOUNCE)?;
        // Serves until ctrl-c (finishing requests in flight), like `ward serve`.
        let said = Said::default();
        let console = console::router(
            app.clone(),
            Mode::Dev {
                dir: dir.clone(),
                said: said.clone(),
            },
        );
        let mut server = tokio::spawn(ward_runtime::serve_with(app.clone(), listener, console));
        eprintln!(
            "ward dev: serving {} on http://{} (ir {}, database {}, jwt: {}); watching for changes",
            dir.display(),
            args.listen,
            short(&app.ir_hash()),
            ward_runtime::describe_url(&database_url),
            app.secret_source(),
        );
        tokens::print(&ir, &dir);
        eprintln!("ward dev: console at http://{}/_ward", args.listen);
        let mut reloader = reload::Reloader::new(app, dir, args.allow_destructive, serving, said);
        loop {
            tokio::select! {
                look = changed.recv() => {
                    if look.is_none() {
                        break;
                    }
                    // Changes that arrived while the last reload ran are one more look.
                    while changed.try_recv().is_ok() {}
                    reloader.look().await;
                }
                ended = &mut server => {
                    // Ctrl-c (the server shut down gracefully) or a failure to serve.
                    return match ended {
                        Ok(result) => result.map_err(anyhow::Error::from),
                        Err(join) => Err(anyhow::Error::from(join)),
                    };
                }
            }
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
