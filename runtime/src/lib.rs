//! ward's runtime: serves a checked [`ward_ir::Ir`] as a REST API on SQLite or Postgres, with the
//! security pipeline of SPEC §6 applied to every request.
//!
//! The CLI uses exactly this surface: [`App::open`], [`App::router`], [`serve`] and
//! [`secret::hs256_secret`].

#![forbid(unsafe_code)]

mod changes;
mod connections;
mod engine;
mod error;
mod files;
mod gate;
mod http;
mod layers;
mod migrate;
pub mod mutation;
mod openapi;
mod realtime;
mod retention;
pub mod secret;
mod security;
mod seed;
mod snapshot;
mod sql;
mod store;
#[cfg(test)]
mod test_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

pub use error::NOT_FOUND_BODY;
pub use http::cors::Cors;
pub use migrate::{MigrateError, Mode as MigrateMode, Plan};
pub use openapi::document as openapi_document;
pub use secret::SecretSource;
use security::identity::Verifier;
use snapshot::Snapshot;
use store::Store;
pub use store::describe_url;
pub use store::sqlite::Sync as SqliteSync;
use ward_ir::JwtKey;

/// How to serve a project.
#[derive(Clone)]
pub struct ServeOptions {
    /// The project directory (relative key paths and the dev secret live here).
    pub project_dir: PathBuf,
    /// `postgres://…`, `sqlite://path` or a plain path.
    pub database_url: String,
    /// Refuse to start without the configured secret instead of using the dev secret.
    pub require_secret: bool,
    /// Browser origins allowed besides the project's `server { cors … }`.
    pub cors: Cors,
    /// Deadlines and caps (SPEC §5.7).
    pub limits: Limits,
    /// How SQLite makes an answered write durable (Postgres: its server's settings).
    pub sqlite_sync: SqliteSync,
}

/// The limits a server keeps on its own (SPEC §5.7); the defaults are the SPEC's.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Every request's deadline: past it, 504 `TIMEOUT`.
    pub request_deadline: Duration,
    /// A request's head must have arrived this long after the connection opened or after the
    /// previous answer; else the connection closes. It is also how long an idle keep-alive
    /// connection stays open.
    pub header_timeout: Duration,
    /// A request body that sends nothing for this long fails (504 `TIMEOUT`).
    pub body_stall: Duration,
    /// Open connections beyond which no more are accepted until one closes.
    pub max_connections: usize,
    /// Bytes all request bodies being read may hold together; a body waits (within its
    /// deadline) for its share. A body counts its `Content-Length`, or the 1 MiB limit.
    pub body_memory: usize,
    /// Refused tokens one client address may send (`None`: unlimited); past it they answer 429.
    pub failed_auth: Option<Rate>,
    /// Requests one client address may send, whatever they carry (`None`, the default:
    /// unlimited); past it they answer 429 before any other work.
    pub per_ip: Option<Rate>,
    /// Requests one authenticated caller, by user id, may send from any address (`None`, the
    /// default: unlimited); past it they answer 429 before touching the database.
    pub per_subject: Option<Rate>,
}

/// A sustained rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: std::num::NonZeroU32,
    pub burst: std::num::NonZeroU32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            request_deadline: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            body_stall: Duration::from_secs(10),
            max_connections: 10_000,
            body_memory: 256 << 20,
            failed_auth: Some(Rate {
                per_second: std::num::NonZeroU32::MIN.saturating_add(19),
                burst: std::num::NonZeroU32::MIN.saturating_add(99),
            }),
            per_ip: None,
            per_subject: None,
        }
    }
}

impl std::fmt::Debug for ServeOptions {
    /// Without the database password: options end up in debug output of the app.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("project_dir", &self.project_dir)
            .field("database_url", &store::describe_url(&self.database_url))
            .field("require_secret", &self.require_secret)
            .field("cors", &self.cors)
            .field("limits", &self.limits)
            .field("sqlite_sync", &self.sqlite_sync)
            .finish()
    }
}

/// Why the server could not start. Messages are meant for humans at a terminal.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(String),
    #[error(
        "the database needs changes that could lose data; refusing to start. Steps:\n{}",
        .0.iter().map(|s| format!("  - {s}")).collect::<Vec<_>>().join("\n")
    )]
    Migration(Vec<String>),
    #[error("the JWT secret variable ${env} is not set (required by --require-secret)")]
    MissingSecret { env: String },
    #[error(
        "the JWT secret in ${env} is {len} byte(s) long; HS256 needs a secret of at least 32 bytes (256 bits)"
    )]
    WeakSecret { env: String, len: usize },
    #[error(
        "the development secret {path} is empty or shorter than 32 bytes; delete it and ward will create a new one"
    )]
    WeakDevSecret { path: PathBuf },
    #[error("the project does not verify tokens with an HS256 secret")]
    NotHs256,
    #[error("cannot use key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error("the IR cannot be served: {0}")]
    InvalidIr(String),
    #[error("{0}")]
    Io(String),
    #[error("file storage: {0}")]
    Storage(String),
}

/// Shared by every request (opaque outside the crate).
#[derive(Debug)]
pub struct State {
    /// The IR being served. A request loads it once and keeps that `Arc` to the end, so a reload
    /// never changes the IR under a request in flight.
    serving: ArcSwap<Serving>,
    pub(crate) store: Store,
    options: ServeOptions,
    /// One reload at a time: plans and migrations do not interleave.
    reloading: tokio::sync::Mutex<()>,
    /// The memory request bodies may hold, in KiB (see [`Limits::body_memory`]).
    pub(crate) bodies: tokio::sync::Semaphore,
    /// Requests per authenticated caller, when limited ([`Limits::per_subject`]). Kept across
    /// reloads, as every limit is.
    pub(crate) per_subject: Option<http::throttle::RequestLimit<String>>,
    /// Realtime subscribers and the follower of the change log (SPEC §12).
    pub(crate) realtime: Arc<realtime::hub::Hub>,
    /// Tickets that open a stream for a browser (`POST /api/subscribe/ticket`).
    pub(crate) tickets: realtime::tickets::Tickets,
    /// Where file columns keep their bytes (SPEC §13), as the IR's `storage` said at start.
    pub(crate) files: files::store::FileStore,
    /// Deletes the objects writes released.
    collector: files::collector::Collector,
    /// Signs file download URLs when the project has no HS256 secret to derive a key from;
    /// kept across reloads, so links outlive them.
    own_url_key: files::grant::Key,
}

/// Everything a request needs from the IR: the snapshot and the token verifier it configures.
#[derive(Debug)]
pub struct Serving {
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) verifier: Verifier,
    /// Signs and checks file download URLs (SPEC §13).
    pub(crate) file_urls: files::grant::Key,
}

impl State {
    pub(crate) fn current(&self) -> Arc<Serving> {
        self.serving.load_full()
    }
}

/// A reload that happened.
#[derive(Debug)]
pub struct Reloaded {
    /// What the database went through (empty when only the policy changed).
    pub plan: Plan,
    /// What changed in the IR, a phrase per change.
    pub changes: Vec<String>,
    pub from_hash: String,
    pub to_hash: String,
}

/// Why a reload did not happen; the previous IR keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(
        "the new resources need changes that could lose data; still serving the previous IR. Plan:\n{0}\nrun `ward migrate --apply --allow-destructive` to apply it"
    )]
    Destructive(Plan),
    #[error("{0}")]
    Start(#[from] StartError),
}

/// An opened, migrated project, ready to serve.
#[derive(Debug, Clone)]
pub struct App {
    state: Arc<State>,
    secret_source: SecretSource,
}

impl App {
    /// Opens the database, migrates it to `ir` and builds the serving snapshot.
    pub async fn open(ir: ward_ir::Ir, opts: &ServeOptions) -> Result<App, StartError> {
        let (verifier, secret_source, derived) = verifier(&ir, opts)?;
        let own_url_key = files::grant::Key::random();
        let file_urls = derived.unwrap_or_else(|| own_url_key.clone());
        let store = Store::open(&opts.database_url, opts.sqlite_sync).await?;
        let snapshot =
            Arc::new(Snapshot::build(ir, store.dialect()).map_err(StartError::InvalidIr)?);
        migrate::migrate_on_start(&store, &snapshot).await?;
        let realtime = Arc::new(realtime::hub::Hub::new(store.commits()));
        let files =
            files::store::FileStore::open(snapshot.ir.server.storage.as_ref(), &opts.project_dir)
                .map_err(StartError::Storage)?;
        let app = App {
            state: Arc::new(State {
                realtime,
                tickets: realtime::tickets::Tickets::default(),
                files,
                collector: files::collector::Collector::default(),
                own_url_key,
                serving: ArcSwap::from_pointee(Serving {
                    snapshot,
                    verifier,
                    file_urls,
                }),
                store,
                options: opts.clone(),
                reloading: tokio::sync::Mutex::new(()),
                bodies: http::request::body_budget(opts.limits.body_memory),
                per_subject: opts
                    .limits
                    .per_subject
                    .map(http::throttle::RequestLimit::new),
            }),
            secret_source,
        };
        app.start_collector();
        Ok(app)
    }

    /// Starts deleting released files in the background (SPEC §13). The task holds the state
    /// weakly: it ends with the app.
    fn start_collector(&self) {
        let weak = Arc::downgrade(&self.state);
        let wanted = Arc::new(move || {
            weak.upgrade()
                .is_some_and(|s| s.current().snapshot.tables().any(|t| !t.files.is_empty()))
        });
        self.state.collector.start(
            self.state.store.clone(),
            self.state.files.clone(),
            self.state.store.commits(),
            wanted,
        );
    }

    /// One pass of the file collector now: deletes the objects released writes queued whose
    /// deletion is due; the number deleted. A serving app also runs it after its commits.
    pub async fn collect_files(&self) -> Result<usize, error::ApiError> {
        files::collector::collect(&self.state.store, &self.state.files).await
    }

    /// The keys of every object in the file store, sorted: for tests and operators.
    pub async fn stored_files(&self) -> Result<Vec<String>, error::ApiError> {
        use futures_util::TryStreamExt;
        let mut keys: Vec<String> = self
            .state
            .files
            .list()
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .map_err(error::ApiError::file_store_unavailable)?;
        keys.sort();
        Ok(keys)
    }

    /// The number of objects waiting to be deleted.
    pub async fn files_queued(&self) -> Result<u64, error::ApiError> {
        files::collector::queued(&self.state.store).await
    }

    /// Deletes every stored object no row references that is older than `grace`; the number
    /// deleted. A serving instance runs it hourly with [`files::collector::SWEEP_GRACE`].
    pub async fn sweep_files(&self, grace: Duration) -> Result<usize, error::ApiError> {
        let snapshot = self.state.current().snapshot.clone();
        files::collector::sweep(&self.state.store, &self.state.files, &snapshot, grace).await
    }

    /// Serves `ir` from now on: migrates the database to it (additive changes, and destructive
    /// ones only when allowed) and swaps it in atomically. Requests in flight finish on the IR
    /// they started with. On any error nothing changed and the previous IR keeps serving.
    pub async fn reload(
        &self,
        ir: ward_ir::Ir,
        allow_destructive: bool,
    ) -> Result<Reloaded, ReloadError> {
        let _one_at_a_time = self.state.reloading.lock().await;
        let old = self.state.current();
        let from_hash = old.snapshot.ir.hash.clone();
        let (verifier, _, derived) = verifier(&ir, &self.state.options)?;
        let file_urls = derived.unwrap_or_else(|| self.state.own_url_key.clone());
        if ir.server.storage != old.snapshot.ir.server.storage {
            return Err(StartError::Storage(
                "`storage` changed: restart ward to serve files from the new store (files already stored stay where they are)".into(),
            )
            .into());
        }
        let changes = changes::describe(&old.snapshot.ir, &ir);
        let snapshot = Arc::new(
            Snapshot::build(ir, self.state.store.dialect()).map_err(StartError::InvalidIr)?,
        );
        let to_hash = snapshot.ir.hash.clone();
        let mode = migrate::Mode::Apply { allow_destructive };
        let plan = match migrate::migrate(&self.state.store, &snapshot, mode).await {
            Ok(plan) => plan,
            Err(MigrateError::Destructive(plan)) => return Err(ReloadError::Destructive(plan)),
            Err(MigrateError::Database(e)) => {
                return Err(StartError::Database(format!("migration failed: {e}")).into());
            }
        };
        self.state.serving.store(Arc::new(Serving {
            snapshot,
            verifier,
            file_urls,
        }));
        // Streams of tables that are gone, or no longer realtime, end now.
        self.state.realtime.wake();
        Ok(Reloaded {
            plan,
            changes,
            from_hash,
            to_hash,
        })
    }

    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }

    /// Whether `authorization` carries a token the API accepts with one of `roles`: for routes
    /// served beside the API (`ward serve --console`). A refusal is the response the API gives
    /// the same token — 401 for a missing or bad one, 403 `ACCESS_ROLE_REQUIRED` otherwise.
    pub fn admit(
        &self,
        authorization: Option<&[u8]>,
        roles: &[String],
    ) -> Result<(), Box<axum::response::Response>> {
        use axum::response::IntoResponse;
        let refuse = |e: error::ApiError| Box::new(e.into_response());
        let caller = self
            .state
            .current()
            .verifier
            .authenticate(authorization)
            .map_err(refuse)?;
        if !caller.authenticated {
            return Err(refuse(error::ApiError::auth_missing()));
        }
        if caller.roles.iter().any(|r| roles.contains(r)) {
            return Ok(());
        }
        Err(refuse(error::ApiError::role_required(roles, &caller.roles)))
    }

    /// The IR being served now.
    pub fn ir_now(&self) -> ward_ir::Ir {
        self.state.current().snapshot.ir.clone()
    }

    /// The hash of the IR being served now.
    pub fn ir_hash(&self) -> String {
        self.state.current().snapshot.ir.hash.clone()
    }

    /// Where file columns keep their bytes: a directory, or `s3://bucket/prefix`.
    pub fn file_store(&self) -> &str {
        self.state.files.place()
    }

    pub fn secret_source(&self) -> &SecretSource {
        &self.secret_source
    }

    /// Inserts a test fixture row owned by the caller `owner_claims` describes (empty: nobody);
    /// see [`seed`]. Returns the stored row, unmasked. For `ward test`, never served over HTTP.
    pub async fn seed(
        &self,
        table: &str,
        owner_claims: &serde_json::Map<String, serde_json::Value>,
        values: serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        seed::seed(&self.state, table, owner_claims, values).await
    }

    /// Stores `bytes` as an upload to the file column `column` of `table` — typed by content and
    /// held to the column's limits as an HTTP upload is — and returns the value [`App::seed`]
    /// takes for that column. For `ward test` and the conformance suite, never served over HTTP;
    /// an upload no seed ends up naming is the sweeper's.
    pub async fn store_upload(
        &self,
        table: &str,
        column: &str,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<serde_json::Value, String> {
        let snapshot = self.state.current().snapshot.clone();
        let rules = snapshot
            .table(table)
            .and_then(|t| t.column(column))
            .and_then(|c| c.file.clone())
            .ok_or_else(|| format!("`{table}.{column}` is not a file column"))?;
        let chunks = futures_util::stream::iter([Ok(bytes::Bytes::from(bytes))]);
        let stored = files::upload::receive(
            &self.state.files,
            table,
            column,
            &rules,
            Some(filename),
            chunks,
        )
        .await
        .map_err(|e| e.body())?;
        Ok(stored.sealed())
    }

    /// Runs the retention sweep (SPEC §11) as of `now`: erases every version older than its
    /// table's `history { keep … }`; the number erased. A serving instance runs it hourly.
    pub async fn sweep_history(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, error::ApiError> {
        let snapshot = self.state.current().snapshot.clone();
        retention::sweep(&self.state.store, &snapshot, now).await
    }

    /// Every change record of `table` (SPEC §11), oldest first, as stored: for tests and the
    /// conformance suite. Read-only, never served over HTTP.
    pub async fn change_log(&self, table: &str) -> Result<Vec<serde_json::Value>, String> {
        let dialect = self.state.store.dialect();
        engine::journal::settle(&self.state.store)
            .await
            .map_err(|e| e.body())?;
        let stmt = sql::changes::all(dialect, table);
        let changes = self
            .state
            .store
            .read(move |db| engine::journal::read(db, &stmt))
            .await
            .map_err(|e| e.body())?;
        Ok(changes
            .iter()
            .map(engine::journal::Change::to_json)
            .collect())
    }

    /// Every stored row of `table`, soft-deleted ones included, unmasked (see [`seed`]): for the
    /// conformance suite's state comparison. Read-only, never served over HTTP.
    pub async fn dump_rows(
        &self,
        table: &str,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
        seed::dump(&self.state, table).await
    }
}

/// `ward migrate`: opens the database without serving it and makes the plan from it to `ir`;
/// applies it per `mode`.
pub async fn migrate(
    ir: ward_ir::Ir,
    database_url: &str,
    mode: MigrateMode,
) -> Result<Plan, MigrateCommandError> {
    let store = Store::open(database_url, store::sqlite::Sync::Full).await?;
    let snapshot = Arc::new(Snapshot::build(ir, store.dialect()).map_err(StartError::InvalidIr)?);
    Ok(migrate::migrate(&store, &snapshot, mode).await?)
}

/// Why `ward migrate` failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateCommandError {
    #[error("{0}")]
    Start(#[from] StartError),
    #[error("{0}")]
    Migrate(#[from] MigrateError),
    #[error("{0}")]
    Purge(String),
}

/// How tokens are verified, where the key came from, and the key derived from an HS256 secret
/// that signs file download URLs (`None` for public keys: the server's own random one then).
fn verifier(
    ir: &ward_ir::Ir,
    opts: &ServeOptions,
) -> Result<(Verifier, SecretSource, Option<files::grant::Key>), StartError> {
    let read = |path: &str| {
        let full = opts.project_dir.join(path);
        std::fs::read(&full)
            .map(|b| (b, full.clone()))
            .map_err(|e| StartError::KeyFile {
                path: full,
                reason: e.to_string(),
            })
    };
    match &ir.auth.jwt.key {
        JwtKey::Secret { .. } => {
            let (secret, source) =
                secret::hs256_secret(ir, &opts.project_dir, opts.require_secret)?;
            let urls = files::grant::Key::from_secret(&secret);
            Ok((Verifier::hs256(ir, &secret), source, Some(urls)))
        }
        JwtKey::PublicKey { path, algorithm } => {
            let (pem, full) = read(path)?;
            let v = Verifier::public_key(ir, &pem, *algorithm).map_err(|reason| {
                StartError::KeyFile {
                    path: full.clone(),
                    reason,
                }
            })?;
            Ok((v, SecretSource::KeyFile(full), None))
        }
        JwtKey::Jwks { path } => {
            let (json, full) = read(path)?;
            let v = Verifier::jwks(ir, &json).map_err(|reason| StartError::KeyFile {
                path: full.clone(),
                reason,
            })?;
            Ok((v, SecretSource::KeyFile(full), None))
        }
    }
}

/// Takes the address to serve on, so that a busy port is an error before anything says
/// "serving".
pub async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (is another server running there? choose another with --listen)"
        } else {
            ""
        };
        StartError::Io(format!("cannot listen on {listen}: {e}{hint}"))
    })
}

/// How long in-flight requests may take to finish once a shutdown signal arrived (SPEC §5.7).
pub const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until SIGTERM or SIGINT (ctrl-c); then it stops accepting, lets
/// the requests in flight finish for up to [`DRAIN`], and returns. Connections are kept within
/// the app's [`Limits`] (see `connections`).
pub async fn serve(app: App, listener: tokio::net::TcpListener) -> Result<(), StartError> {
    serve_until(app, listener, shutdown_signal()).await
}

/// [`serve`] with `extra` routes beside the API's (the dev console, `/_ward`): they are not
/// behind the API's edge (CORS, the request deadline), so they answer no other origin.
pub async fn serve_with(
    app: App,
    listener: tokio::net::TcpListener,
    extra: axum::Router,
) -> Result<(), StartError> {
    serve_routes(app, listener, Some(extra), shutdown_signal()).await
}

/// [`serve`] until `stop` completes instead of a signal (tests, embedding).
pub async fn serve_until(
    app: App,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    serve_routes(app, listener, None, stop).await
}

async fn serve_routes(
    app: App,
    listener: tokio::net::TcpListener,
    extra: Option<axum::Router>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    connections::raise_open_files_limit();
    let limits = app.state.options.limits.clone();
    let sweeper = tokio::spawn(sweep_history_while_serving(app.clone()));
    let hub = app.state.realtime.clone();
    // Streams never finish on their own: they end as the server stops accepting, so that the
    // drain waits only for requests.
    let stop = async move {
        stop.await;
        hub.close();
    };
    let router = match extra {
        Some(extra) => app.router().merge(extra),
        None => app.router(),
    };
    let open = connections::accept(router, listener, &limits, stop).await;
    sweeper.abort();
    // No longer accepting; idle connections close, requests in flight finish.
    if tokio::time::timeout(DRAIN, open.shutdown()).await.is_err() {
        tracing::warn!("requests still in flight {DRAIN:?} after the shutdown signal; exiting");
    }
    Ok(())
}

/// The retention sweep (SPEC §11) and the sweep of unreferenced files (SPEC §13) of a serving
/// instance: a minute after the start, then hourly, on the IR being served then. A failed
/// sweep is logged and tried again at the next.
async fn sweep_history_while_serving(app: App) {
    tokio::time::sleep(retention::FIRST_SWEEP).await;
    loop {
        match app.sweep_history(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(target: "ward::history", erased = n, "retention sweep"),
            Err(e) => {
                tracing::warn!(target: "ward::history", error = %e.code(), "retention sweep failed")
            }
        }
        match app.sweep_files(files::collector::SWEEP_GRACE).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(target: "ward::files", deleted = n, "unreferenced files swept"),
            Err(e) => {
                tracing::warn!(target: "ward::files", error = %e.code(), "file sweep failed")
            }
        }
        tokio::time::sleep(retention::SWEEP_EVERY).await;
    }
}

/// `ward history purge`: erases change records of `table` in the database at `database_url`
/// (SPEC §11); the number erased. The table must keep a history in `ir`.
pub async fn purge_history(
    ir: ward_ir::Ir,
    database_url: &str,
    table: &str,
    what: HistoryPurge,
) -> Result<u64, MigrateCommandError> {
    let keeps = ir
        .tables
        .iter()
        .any(|t| t.name == table && t.history.is_some());
    if !keeps {
        return Err(MigrateCommandError::Purge(format!(
            "table `{table}` keeps no history"
        )));
    }
    let store = Store::open(database_url, store::sqlite::Sync::Full).await?;
    let failed = |e: error::ApiError| MigrateCommandError::Purge(e.body().to_string());
    // A database ward never served has no change log yet: nothing to erase, but no error.
    let dialect = store.dialect();
    store
        .schema_write(move |db| {
            for sql in sql::changes::create_tables(dialect) {
                db.execute(&sql::Stmt::unbound(sql))?;
            }
            Ok(())
        })
        .await
        .map_err(failed)?;
    engine::journal::settle(&store).await.map_err(failed)?;
    retention::erase(&store, table, what).await.map_err(failed)
}

pub use sql::changes::Purge as HistoryPurge;

/// SIGTERM (what a supervisor sends) or SIGINT (ctrl-c). A handler that cannot be installed
/// never fires: the process then stops only when killed.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// The internals `bench/benches/hot_paths.rs` times, named here so that the crate's modules can
/// stay private (code nothing uses then shows as dead). Not an API: no stability promise.
#[doc(hidden)]
pub mod bench_internals {
    pub use crate::gate::Caller;
    pub use crate::http::encode::{Answer, Records, to_body};
    pub use crate::http::query::parse_list;
    pub use crate::security::{gate, masking::mask_record};
    pub use crate::snapshot::{Snapshot, TablePlan};
    pub use crate::sql::dml::select;
    pub use crate::sql::filter::{filters, search};
    pub use crate::sql::predicate::visibility;
    pub use crate::sql::{Dialect, Stmt};
}
