//! Storage: one interface, two backends. The policy code runs inside one transaction as plain
//! synchronous code against [`Db`]; a store opens that transaction on a blocking thread, so the
//! async request path never waits on the database while holding a worker (the one exception: a
//! SQLite lookup by primary key, cheaper than the hand-off).
//!
//! - SQLite: one writer connection, owned by a thread that commits queued writes in groups, and a
//!   pool of `query_only` readers.
//! - Postgres: a deadpool of tokio-postgres connections with per-connection prepared statement
//!   caches; writes run SERIALIZABLE, so concurrent instances see the same outcomes as SQLite's
//!   single writer. A write that loses a serialization race is retried once under an exclusive
//!   advisory lock that every write transaction otherwise takes shared, so the retry cannot lose
//!   again to another ward write (`sql::ddl::pg_retry_lock`). Reads run in one REPEATABLE READ
//!   snapshot. The exception is a write that reads no row but the one it writes
//!   (`write_then`: a logged create or update alone), READ COMMITTED with that row locked.
//! - Either: a request that is a single statement runs it without an explicit transaction
//!   (`query`, `query_by_key`, `write_query`, `write_one`); on Postgres the first three are
//!   awaited on the runtime, no blocking thread.
//!
//! Stores bind and run statements built in `sql/`; they never build SQL from values.

pub mod postgres;
pub mod row;
pub mod sqlite;

use serde_json::Value as Json;
use ward_ir::ColumnType;

use crate::StartError;
use crate::error::ApiError;
use crate::sql::{Dialect, Stmt};

/// One open transaction, as the policy code sees it: statements in, typed cells out.
pub trait Db {
    /// Runs a query and reads every row; cell `i` is read as `types[i]`.
    fn query(&self, stmt: &Stmt, types: &[ColumnType]) -> Result<Vec<Vec<Json>>, ApiError>;

    /// Runs a write and returns the number of rows it changed.
    fn execute(&self, stmt: &Stmt) -> Result<u64, ApiError>;

    /// Runs one of ward's fixed transaction-control statements (savepoints).
    fn control(&self, sql: Control) -> Result<(), ApiError>;

    /// Runs a write whose outcome nothing later in the transaction reads (a change record). A
    /// store may send it together with its next statement, or with the commit, instead of
    /// waiting for it alone; its error fails the transaction all the same.
    fn append(&self, stmt: Stmt) -> Result<(), ApiError> {
        self.execute(&stmt).map(|_| ())
    }

    /// Asks that other processes be told, once this transaction commits, that `table`'s change
    /// log grew: realtime's followers on other instances then read it without waiting for their
    /// next poll. Nothing is told of a transaction that does not commit. The default tells
    /// no one: SQLite has no other process to tell (its writers are all in this one), and a
    /// single statement writes no change record (a record is a statement of its own).
    fn announce(&self, table: &str) {
        let _ = table;
    }

    /// Runs `first`, then `second` (which does not depend on what `first` returns), reading both
    /// as rows of `types`: a store may send them together and wait once.
    fn query_pair(
        &self,
        first: &Stmt,
        second: &Stmt,
        types: &[ColumnType],
    ) -> Result<Rows2, ApiError> {
        Ok((self.query(first, types)?, self.query(second, types)?))
    }
}

/// [`Store::write_then`] one statement at a time, in a transaction already open on `db`.
pub(crate) fn run_then<R>(
    db: &dyn Db,
    stmts: &[Stmt],
    types: &[ColumnType],
    then: impl FnOnce(&dyn Db, Vec<Rows>) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let rows = stmts
        .iter()
        .map(|stmt| db.query(stmt, types))
        .collect::<Result<_, _>>()?;
    then(db, rows)
}

/// The rows one statement returned, as cells.
pub type Rows = Vec<Vec<Json>>;
/// The rows of two statements ([`Db::query_pair`]).
pub type Rows2 = (Rows, Rows);

pub use crate::sql::tx::Control;

/// Runs `f` in a savepoint of `db`: its changes are kept when it succeeds and undone when it
/// fails, so one record of a non-atomic batch either fully happens or changes nothing (and a
/// Postgres transaction stays usable after the record's error).
pub fn isolated<R>(
    db: &dyn Db,
    f: impl FnOnce(&dyn Db) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    db.control(Control::Savepoint)?;
    match f(db) {
        Ok(r) => {
            db.control(Control::Release)?;
            Ok(r)
        }
        Err(e) => {
            db.control(Control::RollbackTo)?;
            Err(e)
        }
    }
}

/// A [`Db`] that runs one statement and refuses any after it: what a read outside a transaction
/// may do and still see one snapshot.
pub(crate) struct OneStatement<'a> {
    db: &'a dyn Db,
    ran: std::cell::Cell<bool>,
}

impl<'a> OneStatement<'a> {
    pub(crate) fn new(db: &'a dyn Db) -> Self {
        OneStatement {
            db,
            ran: std::cell::Cell::new(false),
        }
    }

    fn next(&self) -> Result<(), ApiError> {
        if self.ran.replace(true) {
            return Err(ApiError::internal(
                "a single-statement read ran a second statement",
            ));
        }
        Ok(())
    }
}

impl Db for OneStatement<'_> {
    fn query(&self, stmt: &Stmt, types: &[ColumnType]) -> Result<Vec<Vec<Json>>, ApiError> {
        self.next()?;
        self.db.query(stmt, types)
    }

    fn execute(&self, stmt: &Stmt) -> Result<u64, ApiError> {
        self.next()?;
        self.db.execute(stmt)
    }

    fn control(&self, _: Control) -> Result<(), ApiError> {
        Err(ApiError::internal(
            "a single-statement read has no transaction",
        ))
    }
}

/// `url` fit to print: a Postgres URL without its password (or anything else it carries).
pub fn describe_url(url: &str) -> String {
    if postgres::is_postgres_url(url) {
        return url.parse::<tokio_postgres::Config>().map_or_else(
            |_| "postgres://(unparsable URL)".to_owned(),
            |c| postgres::describe(&c),
        );
    }
    url.to_owned()
}

/// The followers of this process's commits, each with its own signal.
#[derive(Default)]
pub struct Commits {
    followers: std::sync::Mutex<Vec<std::sync::Weak<tokio::sync::Notify>>>,
}

impl Commits {
    fn follow(&self) -> std::sync::Arc<tokio::sync::Notify> {
        let signal = std::sync::Arc::new(tokio::sync::Notify::new());
        let mut followers = self
            .followers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        followers.retain(|f| f.strong_count() > 0);
        followers.push(std::sync::Arc::downgrade(&signal));
        signal
    }

    pub(crate) fn signal(&self) {
        let followers = self
            .followers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for f in followers.iter().filter_map(std::sync::Weak::upgrade) {
            f.notify_one();
        }
    }
}

/// An opened database.
#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect())
            .finish_non_exhaustive()
    }
}

/// How long a request waits for a pooled connection before it answers 503 `DATABASE_BUSY`
/// (SPEC §5.7): a pool exhausted by slow requests sheds load instead of queueing without end.
pub const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Store {
    /// Opens `url`: `postgres://…` / `postgresql://…`, else `sqlite://path`, `sqlite:path` or a
    /// plain path.
    /// `sync` is how SQLite makes commits durable; Postgres keeps its server's settings.
    pub async fn open(url: &str, sync: sqlite::Sync) -> Result<Store, StartError> {
        if postgres::is_postgres_url(url) {
            return postgres::open(url).await.map(Store::Postgres);
        }
        let path = sqlite::database_path(url)?;
        sqlite::open(&path, sync).map(Store::Sqlite)
    }

    /// Whether the database answers a real query now (`/readyz`).
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.query(crate::sql::ping(self.dialect()), Vec::new())
            .await
            .map(|_| ())
    }

    /// A new follower's signal, woken (one stored permit, like
    /// [`tokio::sync::Notify::notify_one`]) after every write transaction this process commits:
    /// whoever follows the change log (realtime) or the file queue reads it then instead of
    /// polling. Writes by other processes are not seen here.
    pub fn commits(&self) -> std::sync::Arc<tokio::sync::Notify> {
        match self {
            Store::Sqlite(s) => s.commits.follow(),
            Store::Postgres(p) => p.commits.follow(),
        }
    }

    fn committed<R>(&self, outcome: Result<R, ApiError>) -> Result<R, ApiError> {
        if outcome.is_ok() {
            match self {
                Store::Sqlite(s) => s.commits.signal(),
                Store::Postgres(p) => p.commits.signal(),
            }
        }
        outcome
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Store::Sqlite(_) => Dialect::Sqlite,
            Store::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `f` in one read-only transaction that sees one snapshot: a page, its `total`, its
    /// labels and its expansions agree with each other even while writers commit in between.
    pub async fn read<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
    {
        match self {
            Store::Sqlite(s) => s.read(f).await,
            Store::Postgres(p) => p.read(f).await,
        }
    }

    /// One read statement, outside an explicit transaction (its own snapshot): for requests whose
    /// only database work is that statement, the rest done by the caller on the runtime. On
    /// Postgres the statement is awaited without a blocking thread.
    pub async fn query(
        &self,
        stmt: Stmt,
        types: Vec<ColumnType>,
    ) -> Result<Vec<Vec<Json>>, ApiError> {
        match self {
            Store::Sqlite(s) => s.query(stmt, types).await,
            Store::Postgres(p) => p.query(&stmt, &types).await,
        }
    }

    /// [`Store::query`] for a statement that finds its rows by primary key (a read by id): on
    /// SQLite it runs on the request's own worker rather than a blocking thread.
    pub async fn query_by_key(
        &self,
        stmt: Stmt,
        types: Vec<ColumnType>,
    ) -> Result<Vec<Vec<Json>>, ApiError> {
        match self {
            Store::Sqlite(s) => s.query_by_key(&stmt, &types),
            Store::Postgres(p) => p.query_by_key(&stmt, &types).await,
        }
    }

    /// One write statement that returns rows (`INSERT … RETURNING`) and is the whole of its
    /// request's database work, atomic by itself: on SQLite it joins the writer's group commit,
    /// on Postgres it is awaited on the runtime without an explicit transaction.
    pub async fn write_query(
        &self,
        stmt: Stmt,
        types: Vec<ColumnType>,
    ) -> Result<Vec<Vec<Json>>, ApiError> {
        let outcome = match self {
            Store::Sqlite(s) => s.write(move |db| db.query(&stmt, &types)).await,
            Store::Postgres(p) => p.query(&stmt, &types).await,
        };
        self.committed(outcome)
    }

    /// [`Store::write`] for an `f` that runs a single statement. On Postgres it runs without an
    /// explicit transaction (one statement is atomic by itself), saving the BEGIN and COMMIT
    /// round trips; on SQLite it joins the writer's group commit like any write. A second
    /// statement is refused with an internal error on both.
    pub async fn write_one<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
    {
        let outcome = match self {
            Store::Sqlite(s) => s.write(move |db| f(&OneStatement::new(db))).await,
            Store::Postgres(p) => p.one_statement(f).await,
        };
        self.committed(outcome)
    }

    /// A write that is a few statements returning rows, none reading what another returned, plus
    /// what `then` appends to them (change records), atomic together. The statements may read
    /// no row but the one they write, which the first of them locks (on Postgres the transaction
    /// is READ COMMITTED, as a single statement is). On SQLite a write like any
    /// other; on Postgres awaited on the runtime, the statements sent with the transaction's
    /// opening and the records with its COMMIT
    /// ([`postgres::PgStore::write_then_once`]). `then` may run more than once (a lost serialization
    /// race is run again), so it is `Clone` and has no effect outside the database.
    pub async fn write_then<R, F>(
        &self,
        stmts: Vec<Stmt>,
        types: Vec<ColumnType>,
        then: F,
    ) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db, Vec<Rows>) -> Result<R, ApiError> + Clone + Send + 'static,
    {
        let outcome = match self {
            Store::Sqlite(s) => s.write(move |db| run_then(db, &stmts, &types, then)).await,
            Store::Postgres(p) => match p.write_then_once(&stmts, &types, then.clone()).await {
                postgres::Attempt::Done(out) => out,
                postgres::Attempt::Conflict => {
                    p.write(move |db| run_then(db, &stmts, &types, then)).await
                }
            },
        };
        self.committed(outcome)
    }

    /// Runs schema work (the migration) once, in one transaction; on Postgres under a lock that
    /// instances starting together on one database take in turn, each statement seeing what the
    /// ones before it committed.
    pub async fn schema_write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
    {
        match self {
            Store::Sqlite(s) => s.schema_write(f).await,
            Store::Postgres(p) => p.schema_write(f).await,
        }
    }

    /// Runs `f` in one write transaction; commits only when `f` succeeds. `f` may run more than
    /// once (Postgres retries a transaction that lost a serialization race), so it must not have
    /// effects outside the database: it is `Clone` so that every attempt starts from the same
    /// inputs.
    pub async fn write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Clone + Send + 'static,
    {
        let outcome = match self {
            Store::Sqlite(s) => s.write(f).await,
            Store::Postgres(p) => p.write(f).await,
        };
        self.committed(outcome)
    }

    /// Runs `f` in a write transaction at READ COMMITTED, once, outside the locks ward's writes
    /// take (Postgres); on SQLite, a write like any other. For bookkeeping that serialises
    /// itself with a lock of its own.
    pub async fn committed_write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
    {
        match self {
            Store::Sqlite(s) => s.write(f).await,
            Store::Postgres(p) => p.committed_write(f).await,
        }
    }

    /// Postgres: wakes `wake` on every commit, by any process, that signalled `channel`; see
    /// [`postgres::PgStore::listen`]. `None` on SQLite, whose writers are all in this process.
    pub fn listen(
        &self,
        channel: &'static str,
        wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(p) => Some(p.listen(channel, wake)),
        }
    }
}
