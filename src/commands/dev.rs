//! `ward dev`: `serve` plus a watcher. Every save of a resource file recompiles the project;
//! a project that compiles is migrated to and swapped in atomically (requests in flight finish
//! on the IR they started with), one that does not keeps the last good IR serving and prints the
//! diagnostics, and a change that could lose data is refused with its plan. One line per reload.

use std::net::SocketAddr;
use std::path::{Component, Path};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use notify_debouncer_mini::notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, new_debouncer};
use serde_json::{Map, Value, json};
use ward_ir::{CLAIM_ORG_ID, CLAIM_ROLES, CLAIM_USER_ID, Ir, JwtKey};
use ward_runtime::{App, ReloadError, ServeOptions};

use super::{ProjectDir, exit_failure, project, serve};

/// SPEC §8: saves closer together than this are one reload.
const DEBOUNCE: Duration = Duration::from_millis(50);
/// Dev tokens live a day: long enough for a working session.
const DEV_TOKEN_TTL_SECONDS: i64 = 24 * 3600;

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
    serve::init_logging();
    let dir = args.project.dir.clone();
    let ir = match project::compile_dir(&dir)?.into_ir() {
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
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async move {
        let app = App::open(ir.clone(), &options).await?;
        // Serves until ctrl-c (finishing requests in flight), like `ward serve`.
        let mut server = tokio::spawn(ward_runtime::serve(app.clone(), args.listen));
        eprintln!(
            "ward dev: serving {} on http://{} (ir {}, database {}, jwt: {}); watching for changes",
            dir.display(),
            args.listen,
            short(&app.ir_hash()),
            ward_runtime::store::describe_url(&database_url),
            app.secret_source(),
        );
        print_dev_tokens(&ir, &dir);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let root = dir.clone();
        let mut debouncer = new_debouncer(DEBOUNCE, move |res: DebounceEventResult| {
            let relevant = match res {
                Ok(events) => events.iter().any(|e| is_resource(&root, &e.path)),
                Err(_) => true,
            };
            if relevant {
                // The receiver lives as long as the server; a send can only fail at exit.
                let _ = tx.send(());
            }
        })
        .context("could not start the file watcher")?;
        debouncer
            .watcher()
            .watch(&dir, RecursiveMode::Recursive)
            .with_context(|| format!("could not watch {}", dir.display()))?;
        loop {
            tokio::select! {
                changed = rx.recv() => {
                    if changed.is_none() {
                        break;
                    }
                    // Saves that arrived while the last reload ran are one more reload.
                    while rx.try_recv().is_ok() {}
                    reload(&app, &dir, args.allow_destructive).await;
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

/// A change under `root` that can change the project: a `.kdl` file outside hidden directories
/// and the top-level `tests/` (which holds test cases, not resources), as `Sources::load` reads.
fn is_resource(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let mut parts = rel.components().peekable();
    if let Some(Component::Normal(first)) = parts.peek()
        && *first == "tests"
        && rel.components().count() > 1
    {
        return false;
    }
    let hidden = rel.components().any(|c| match c {
        Component::Normal(n) => n.to_string_lossy().starts_with('.'),
        _ => false,
    });
    !hidden && rel.extension().is_some_and(|x| x == "kdl")
}

/// One reload: recompile, then migrate and swap, printing one line (or the diagnostics/plan).
async fn reload(app: &App, dir: &Path, allow_destructive: bool) {
    let started = Instant::now();
    let current = app.ir_hash();
    let compiled = match project::compile_dir(dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ward dev: {e:#}; still serving ir {}", short(&current));
            return;
        }
    };
    compiled.print_diagnostics();
    let errors = compiled.compilation.error_count();
    let Some(ir) = compiled.compilation.ir else {
        eprintln!(
            "ward dev: {errors} error(s); still serving ir {}",
            short(&current)
        );
        return;
    };
    if ir.hash == current {
        eprintln!("ward dev: no changes (ir {})", short(&current));
        return;
    }
    match app.reload(ir, allow_destructive).await {
        Ok(done) => {
            let mut what = done.changes.join("; ");
            if what.is_empty() {
                what = "no policy or schema changes".to_owned();
            }
            eprintln!(
                "ward dev: reloaded in {} ms (ir {} → {}): {what}",
                started.elapsed().as_millis(),
                short(&done.from_hash),
                short(&done.to_hash),
            );
        }
        Err(ReloadError::Destructive(plan)) => {
            eprintln!(
                "ward dev: not reloaded, the migration could lose data; still serving ir {}. Plan:\n{plan}\n  apply it with `ward migrate {} --apply --allow-destructive` (or run `ward dev --allow-destructive`), then save again",
                short(&current),
                dir.display()
            );
        }
        Err(e) => eprintln!(
            "ward dev: not reloaded: {e}; still serving ir {}",
            short(&current)
        ),
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// A token per declared role, signed with the project's HS256 secret, printed at start so that
/// every role can be tried at once.
fn print_dev_tokens(ir: &Ir, dir: &Path) {
    if !matches!(ir.auth.jwt.key, JwtKey::Secret { .. }) {
        eprintln!("ward dev: the project verifies tokens with a public key; no dev tokens");
        return;
    }
    let Ok((secret, _)) = ward_runtime::secret::hs256_secret(ir, dir, false) else {
        return;
    };
    if ir.roles.is_empty() {
        return;
    }
    eprintln!("ward dev: tokens for each role (24 h; sub dev-ROLE, org-id dev-org):");
    for role in &ir.roles {
        match dev_token(ir, &secret, role) {
            Ok(token) => eprintln!("  {role:<12} {token}"),
            Err(e) => eprintln!("  {role:<12} (could not sign: {e})"),
        }
    }
}

fn dev_token(ir: &Ir, secret: &[u8], role: &str) -> Result<String, jsonwebtoken::errors::Error> {
    let claim = |auth: &str| {
        ir.auth
            .claims
            .get(auth)
            .cloned()
            .unwrap_or_else(|| auth.to_owned())
    };
    let now = chrono::Utc::now().timestamp();
    let mut claims = Map::new();
    claims.insert(claim(CLAIM_USER_ID), json!(format!("dev-{role}")));
    claims.insert(claim(CLAIM_ROLES), json!([role]));
    claims.insert(claim(CLAIM_ORG_ID), json!("dev-org"));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + DEV_TOKEN_TTL_SECONDS));
    if let Some(iss) = &ir.auth.jwt.issuer {
        claims.insert("iss".into(), json!(iss));
    }
    if let Some(aud) = &ir.auth.jwt.audience {
        claims.insert("aud".into(), json!(aud));
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &Value::Object(claims),
        &EncodingKey::from_secret(secret),
    )
}

#[cfg(test)]
mod tests {
    use super::is_resource;
    use std::path::Path;

    #[test]
    fn only_resource_files_trigger_a_reload() {
        let root = Path::new("/p");
        assert!(is_resource(root, Path::new("/p/app.kdl")));
        assert!(is_resource(root, Path::new("/p/tables/rooms.kdl")));
        assert!(!is_resource(root, Path::new("/p/tests/cases.kdl")));
        assert!(!is_resource(root, Path::new("/p/.ward/data.db")));
        assert!(!is_resource(root, Path::new("/p/.git/x.kdl")));
        assert!(!is_resource(root, Path::new("/p/README.md")));
        assert!(!is_resource(root, Path::new("/elsewhere/app.kdl")));
    }
}
