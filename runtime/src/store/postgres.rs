//! The Postgres store: a deadpool of tokio-postgres connections, each with its own cache of
//! prepared statements. The policy code is synchronous (one transaction, many statements), so a
//! request's transaction runs on a blocking thread that drives each statement's future to
//! completion on the server's runtime; connections themselves stay async tasks.
//!
//! Reads by primary key take no connection of their own: they are pipelined on a few shared
//! connections (one per core), many requests' statements in flight on each, which the driver
//! writes and Postgres answers in batches. Each is its own implicit transaction (its own `Sync`),
//! so one that fails fails alone. Statements that may scan or wait on a lock keep a pooled
//! connection, so that none of them holds up the reads queued behind it.

use std::cell::{Cell, RefCell};
use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, StatementCache,
};
use serde_json::Value as Json;
use tokio::runtime::Handle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{IsolationLevel, NoTls, Row};
use ward_ir::{ColumnType, time};

use super::{Control, Db, OneStatement};
use crate::StartError;
use crate::error::ApiError;
use crate::sql::Stmt;

/// Attempts of one write transaction before answering `DATABASE_BUSY` (SPEC §5.7: at most 3).
/// Only the first can lose a race to another ward write; see [`crate::sql::ddl::pg_write_lock`].
const WRITE_ATTEMPTS: u32 = 3;
/// Prepared statements kept per connection. Statement shapes vary with the request (number of
/// filters, `in` values, page size), so the cache is emptied when it grows past this rather than
/// grow without bound on a hostile mix of shapes.
const STATEMENT_CACHE_LIMIT: usize = 512;
/// How long to wait for a connection when none is given in the URL: an unreachable database is
/// reported at start, not retried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// SPEC §5.7: every statement has a deadline (10 s), enforced by the server itself.
const STATEMENT_TIMEOUT_OPTION: &str = "-c statement_timeout=10000";

pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Connections that reads by primary key share, pipelined: many requests' statements in
    /// flight on one connection, sent and answered in batches.
    shared: Arc<[tokio::sync::Mutex<Option<Arc<deadpool_postgres::Object>>>]>,
    next_shared: Arc<AtomicUsize>,
    /// How the pool connects, for the dedicated connections of [`PgStore::listen`] and the
    /// announcer.
    config: Arc<tokio_postgres::Config>,
    /// Woken after every write this process commits ([`super::Store::commits`]).
    pub(crate) commits: Arc<super::Commits>,
    /// Tells other instances which realtime tables' logs this process's commits grew.
    announcer: announce::Announcer,
}

/// Opens a pool on `url` and checks that the database answers, once, without retrying.
pub async fn open(url: &str) -> Result<PgStore, StartError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StartError::Database(format!("invalid Postgres URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    // A statement that runs away is cancelled by the server (SPEC §5.7), unless the URL sets
    // a timeout of its own (`?options=-c statement_timeout=…`).
    let options = config.get_options().unwrap_or_default().to_owned();
    if !options.contains("statement_timeout") {
        config.options(format!("{options} {STATEMENT_TIMEOUT_OPTION}").trim());
    }
    let target = describe(&config);
    let manager = Manager::from_config(
        config.clone(),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let pool = Pool::builder(manager)
        .max_size((cores * 4).max(8) + cores)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(super::POOL_WAIT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|e| StartError::Database(format!("cannot create the Postgres pool: {e}")))?;
    let client = pool
        .get()
        .await
        .map_err(|e| StartError::Database(format!("cannot connect to {target}: {}", cause(&e))))?;
    client
        .simple_query("SELECT 1")
        .await
        .map_err(|e| StartError::Database(format!("{target} does not answer: {}", cause(&e))))?;
    let config = Arc::new(config);
    Ok(PgStore {
        pool,
        shared: (0..cores).map(|_| tokio::sync::Mutex::new(None)).collect(),
        next_shared: Arc::new(AtomicUsize::new(0)),
        announcer: announce::Announcer::start(config.clone()),
        config,
        commits: Arc::default(),
    })
}

/// How long [`PgStore::listen`] waits before connecting again after losing its connection.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

impl PgStore {
    /// Wakes `wake` whenever any process commits a transaction that signalled `channel`
    /// (`pg_notify`), and once each time the listening connection is (re)established — a
    /// notification sent while it was down is lost, so whoever waits must look for themselves
    /// then. Runs until the returned task is aborted, reconnecting every [`LISTEN_RETRY`].
    pub(crate) fn listen(
        &self,
        channel: &'static str,
        wake: Arc<tokio::sync::Notify>,
    ) -> tokio::task::JoinHandle<()> {
        let config = self.config.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = listen_once(&config, channel, &wake).await {
                    tracing::warn!(target: "ward::realtime", error = %cause(&e), "listening for changes");
                }
                tokio::time::sleep(LISTEN_RETRY).await;
            }
        })
    }
}

/// One listening connection, until it fails.
async fn listen_once(
    config: &tokio_postgres::Config,
    channel: &str,
    wake: &tokio::sync::Notify,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (messages, mut received) = tokio::sync::mpsc::unbounded_channel();
    // The connection does its work only while polled; its messages go to the loop below.
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(message)) => {
                    if messages.send(message).is_err() {
                        return Ok(());
                    }
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    });
    // The channel is a constant of ward's, quoted as an identifier.
    let listened = client.batch_execute(&format!("LISTEN \"{channel}\"")).await;
    if let Err(e) = listened {
        driver.abort();
        return Err(e);
    }
    wake.notify_one();
    while let Some(message) = received.recv().await {
        if matches!(message, tokio_postgres::AsyncMessage::Notification(_)) {
            wake.notify_one();
        }
    }
    drop(client);
    match driver.await {
        Ok(outcome) => outcome,
        Err(_) => Ok(()),
    }
}

/// `user@host:port/dbname`, never the password.
pub(crate) fn describe(c: &tokio_postgres::Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        c.get_user().unwrap_or(""),
        c.get_dbname().unwrap_or("")
    )
}

/// The innermost cause of an error chain: what the driver says actually failed.
fn cause(e: &dyn StdError) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    msg
}

/// Why one attempt of a write ended.
pub(crate) enum Attempt<R> {
    Done(Result<R, ApiError>),
    /// Lost a serialization race (or a deadlock): nothing was committed, run it again.
    Conflict,
}

impl PgStore {
    /// Runs `g` on a blocking thread with a pooled connection, whose futures `g` drives with
    /// `block_on` on the server's runtime.
    async fn on_connection<R, G>(&self, g: G) -> Result<R, ApiError>
    where
        R: Send + 'static,
        G: FnOnce(&Handle, &mut deadpool_postgres::Client) -> Result<R, ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let rt = Handle::current();
            let mut client = rt.block_on(pool.get()).map_err(pool_error)?;
            g(&rt, &mut client)
        })
        .await
        .map_err(ApiError::internal)?
    }

    pub(crate) async fn read<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
    {
        self.on_connection(move |rt, client| {
            one_transaction(rt, client, IsolationLevel::RepeatableRead, true, f)
        })
        .await
    }

    /// One statement outside an explicit transaction: a read (its own snapshot) or a write (atomic
    /// by itself); one round trip instead of three.
    pub(crate) async fn one_statement<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
    {
        self.on_connection(move |rt, client| {
            let client: &deadpool_postgres::Client = client;
            f(&OneStatement::new(&PgDb::new(
                rt,
                client,
                &client.statement_cache,
            )))
        })
        .await
    }

    /// One statement awaited on the runtime itself, outside an explicit transaction (a read sees
    /// one snapshot, a write is atomic): no blocking thread to hand over to and back (a quarter
    /// of the CPU of a read by id went to those switches).
    pub(crate) async fn query(
        &self,
        stmt: &Stmt,
        types: &[ColumnType],
    ) -> Result<Vec<Vec<Json>>, ApiError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        run_query(&client, stmt, types).await
    }

    /// [`PgStore::query`] on a shared connection, for statements that find their rows by primary
    /// key: cheap and bounded, so one never holds up the others pipelined behind it.
    pub(crate) async fn query_by_key(
        &self,
        stmt: &Stmt,
        types: &[ColumnType],
    ) -> Result<Vec<Vec<Json>>, ApiError> {
        let client = self.shared_connection().await?;
        run_query(&client, stmt, types).await
    }

    async fn shared_connection(&self) -> Result<Arc<deadpool_postgres::Object>, ApiError> {
        let i = self.next_shared.fetch_add(1, Ordering::Relaxed) % self.shared.len().max(1);
        let Some(slot) = self.shared.get(i) else {
            return Ok(Arc::new(self.pool.get().await.map_err(pool_error)?));
        };
        let mut slot = slot.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        // Closed (the server restarted or dropped it): the pool discards it once the requests
        // still holding it are done, and a new one takes its place.
        let c = Arc::new(self.pool.get().await.map_err(pool_error)?);
        *slot = Some(c.clone());
        Ok(c)
    }

    pub(crate) async fn write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Clone + Send + 'static,
    {
        for attempt in 0..WRITE_ATTEMPTS {
            let pool = self.pool.clone();
            let announcer = self.announcer.clone();
            let f = f.clone();
            let retry = attempt > 0;
            let outcome =
                tokio::task::spawn_blocking(move || write_once(&pool, &announcer, retry, f))
                    .await
                    .map_err(ApiError::internal)?;
            match outcome {
                Attempt::Done(r) => return r,
                Attempt::Conflict if attempt + 1 < WRITE_ATTEMPTS => {
                    // Back off a random while, up to twice as long each time ("full jitter"):
                    // writers that collided once do not collide again in lockstep.
                    let ceiling = 2u64 << attempt.min(6);
                    tokio::time::sleep(Duration::from_micros(fastrand::u64(0..ceiling * 1000)))
                        .await;
                }
                Attempt::Conflict => {}
            }
        }
        tracing::warn!(
            "a write lost {WRITE_ATTEMPTS} serialization races; answering DATABASE_BUSY"
        );
        Err(ApiError::busy())
    }

    /// A READ COMMITTED write transaction outside ward's write locks, attempted once: for
    /// bookkeeping that serialises itself (numbering the change log).
    pub(crate) async fn committed_write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
    {
        self.on_connection(move |rt, client| {
            one_transaction(rt, client, IsolationLevel::ReadCommitted, false, f)
        })
        .await
    }

    pub(crate) async fn schema_write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
    {
        let out = self
            .on_connection(move |rt, client| {
                // READ COMMITTED: after waiting for the lock, the catalog reads below see what the
                // instance that held it created.
                let tx = rt
                    .block_on(
                        client
                            .build_transaction()
                            .isolation_level(IsolationLevel::ReadCommitted)
                            .start(),
                    )
                    .map_err(pg_error)?;
                let db = PgDb::new(rt, &tx, &tx.statement_cache);
                db.query(&crate::sql::ddl::pg_no_statement_timeout(), &[])?;
                db.query(&crate::sql::ddl::pg_migration_lock(), &[])?;
                let out = f(&db)?;
                drop(db);
                rt.block_on(tx.commit()).map_err(pg_error)?;
                Ok(out)
            })
            .await?;
        // A statement prepared before a column changed type fails from then on ("cached plan
        // must not change result type"): every connection prepares afresh.
        self.pool.manager().statement_caches.clear();
        Ok(out)
    }
}

/// Runs `f` in one transaction at `isolation`, committed when it succeeds, attempted once.
fn one_transaction<R>(
    rt: &Handle,
    client: &mut deadpool_postgres::Client,
    isolation: IsolationLevel,
    read_only: bool,
    f: impl FnOnce(&dyn Db) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let tx = rt
        .block_on(
            client
                .build_transaction()
                .isolation_level(isolation)
                .read_only(read_only)
                .start(),
        )
        .map_err(pg_error)?;
    let db = PgDb::new(rt, &tx, &tx.statement_cache);
    let out = f(&db)?;
    drop(db);
    rt.block_on(tx.commit()).map_err(pg_error)?;
    Ok(out)
}

async fn run_query(
    client: &deadpool_postgres::Object,
    stmt: &Stmt,
    types: &[ColumnType],
) -> Result<Vec<Vec<Json>>, ApiError> {
    if client.statement_cache.size() > STATEMENT_CACHE_LIMIT {
        client.statement_cache.clear();
    }
    let bound = bound(stmt);
    let refs = params(&bound);
    let st = client.prepare_cached(&stmt.sql).await.map_err(pg_error)?;
    let rows = match client.query(&st, &refs).await {
        // Another instance changed a column's type since this statement was prepared: prepare
        // it again, once.
        Err(e) if e.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED) => {
            client.statement_cache.remove(&stmt.sql, &[]);
            let st = client.prepare_cached(&stmt.sql).await.map_err(pg_error)?;
            client.query(&st, &refs).await
        }
        rows => rows,
    }
    .map_err(pg_error)?;
    cells(&rows, types)
}

/// One attempt of a write transaction; `retry` when an attempt before it lost a serialization
/// race: it then runs under the exclusive write lock ([`crate::sql::ddl::pg_retry_lock`]).
fn write_once<R>(
    pool: &Pool,
    announcer: &announce::Announcer,
    retry: bool,
    f: impl FnOnce(&dyn Db) -> Result<R, ApiError>,
) -> Attempt<R> {
    let rt = Handle::current();
    let mut client = match rt.block_on(pool.get()) {
        Ok(c) => c,
        Err(e) => return Attempt::Done(Err(pool_error(e))),
    };
    if !retry {
        return in_transaction(&rt, &mut client, announcer, f);
    }
    let session = |stmt: Stmt, client: &deadpool_postgres::Object| {
        PgDb::new(&rt, client, &client.statement_cache).query(&stmt, &[])
    };
    if let Err(e) = session(crate::sql::ddl::pg_retry_lock(), &client) {
        return Attempt::Done(Err(e));
    }
    let outcome = in_transaction(&rt, &mut client, announcer, f);
    if session(crate::sql::ddl::pg_retry_unlock(), &client).is_err() {
        // A connection that may still hold the lock never goes back to the pool: closing it
        // releases the lock.
        drop(deadpool_postgres::Object::take(client));
    }
    outcome
}

fn in_transaction<R>(
    rt: &Handle,
    client: &mut deadpool_postgres::Object,
    announcer: &announce::Announcer,
    f: impl FnOnce(&dyn Db) -> Result<R, ApiError>,
) -> Attempt<R> {
    let client: &deadpool_postgres::Object = client;
    let db = match PgDb::write_transaction(rt, client, &client.statement_cache) {
        Ok(db) => db,
        Err(e) => return Attempt::Done(Err(e)),
    };
    let out = f(&db);
    // A conflict anywhere in the attempt, even one a batch record caught in its savepoint,
    // means its reads may be stale: roll back (dropping `db` does) and run the whole attempt
    // again.
    if db.conflict.get() {
        return Attempt::Conflict;
    }
    match out.and_then(|r| db.commit().map(|()| r)) {
        Ok(r) => {
            announcer.committed(db.announced.take());
            Attempt::Done(Ok(r))
        }
        Err(_) if db.conflict.get() => Attempt::Conflict,
        Err(e) => Attempt::Done(Err(e)),
    }
}

fn is_conflict(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// A connection not handed out: waiting took too long (busy), or none could be made
/// (unavailable).
fn pool_error(e: deadpool_postgres::PoolError) -> ApiError {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => ApiError::busy(),
        PoolError::Timeout(_) | PoolError::Backend(_) => {
            ApiError::unavailable(format!("postgres: {}", cause(&e)))
        }
        other => ApiError::internal(format!("postgres pool: {other}")),
    }
}

/// Maps a driver error to the envelope by its SQLSTATE; anything unexpected is internal.
fn pg_error(e: tokio_postgres::Error) -> ApiError {
    // The connection is gone, or the server is going away or not yet accepting: nothing this
    // request did is kept, and nothing it can do now will work.
    let unreachable = e.is_closed()
        || e.code().is_some_and(|c| {
            c.code().starts_with("08")
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        });
    if unreachable {
        return ApiError::unavailable(format!("postgres: {}", cause(&e)));
    }
    match e.code() {
        // `statement_timeout` cancelled the statement.
        Some(c) if *c == SqlState::QUERY_CANCELED => ApiError::timeout(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => ApiError::unique_violation(),
        Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION || *c == SqlState::RESTRICT_VIOLATION => {
            ApiError::reference_violation(None)
        }
        Some(c) if *c == SqlState::NOT_NULL_VIOLATION => ApiError::required_missing(),
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::LOCK_NOT_AVAILABLE =>
        {
            ApiError::busy()
        }
        _ => ApiError::internal(format!("postgres: {e:?}")),
    }
}

/// A transaction (or, for [`PgStore::one_statement`], a bare connection) from the pool, driven from a
/// blocking thread.
///
/// A write transaction ([`PgDb::write_transaction`]) spends as few round trips as its
/// statements allow: its opening (BEGIN and the shared write lock) is sent ahead of its first
/// statement, and its change records ([`Db::append`]) ahead of the statement or the COMMIT that
/// follows them, all in one pipelined message. Postgres runs them in the order sent; the first
/// that fails is the one reported (the ones after it only fail for the aborted transaction).
/// A logged create is then two round trips — the INSERT with its opening, the COMMIT with its
/// record — where it was five.
struct PgDb<'a, C: GenericClient> {
    rt: &'a Handle,
    tx: &'a C,
    cache: &'a StatementCache,
    conflict: Cell<bool>,
    state: Cell<TxState>,
    ahead: RefCell<Vec<Ahead>>,
    /// Realtime tables whose logs the transaction grew ([`Db::announce`]).
    announced: RefCell<Vec<String>>,
}

/// Where [`PgDb`] is in a transaction it opened itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TxState {
    /// Not one of its own (a bare connection, or a `Transaction` that ends itself).
    None,
    /// Opened in the next round trip.
    Unsent,
    /// Sent; it ends with [`PgDb::commit`], or with a ROLLBACK when dropped.
    Open,
}

/// BEGIN and the shared write lock.
const OPENING_STATEMENTS: usize = 2;

/// A statement sent with the next round trip.
enum Ahead {
    Text(&'static str),
    Prepared(tokio_postgres::Statement, Stmt),
}

impl<'a, C: GenericClient> PgDb<'a, C> {
    fn new(rt: &'a Handle, tx: &'a C, cache: &'a StatementCache) -> Self {
        PgDb {
            rt,
            tx,
            cache,
            conflict: Cell::new(false),
            state: Cell::new(TxState::None),
            ahead: RefCell::new(Vec::new()),
            announced: RefCell::new(Vec::new()),
        }
    }

    /// A SERIALIZABLE transaction under the shared write lock on the connection `client`,
    /// opened with its first statement.
    fn write_transaction(
        rt: &'a Handle,
        client: &'a C,
        cache: &'a StatementCache,
    ) -> Result<Self, ApiError> {
        let db = PgDb::new(rt, client, cache);
        let lock = crate::sql::ddl::pg_write_lock_shared();
        let prepared = db.prepare(&lock.sql)?;
        let opening = [
            Ahead::Text(crate::sql::tx::PG_BEGIN_SERIALIZABLE),
            Ahead::Prepared(prepared, lock),
        ];
        db.ahead.borrow_mut().extend(opening);
        db.state.set(TxState::Unsent);
        Ok(db)
    }

    /// Commits the transaction [`PgDb::write_transaction`] opened, with the records appended
    /// since its last statement; a transaction that never sent a statement has nothing to commit.
    fn commit(&self) -> Result<(), ApiError> {
        let nothing_sent =
            self.state.get() == TxState::Unsent && self.ahead.borrow().len() == OPENING_STATEMENTS;
        if self.state.get() == TxState::None || nothing_sent {
            self.state.set(TxState::None);
            self.ahead.borrow_mut().clear();
            return Ok(());
        }
        let out = self.round_trip(self.tx.batch_execute(crate::sql::tx::COMMIT));
        // Committed, or (any error of COMMIT or of what it carried) ended by Postgres.
        self.state.set(TxState::None);
        out
    }

    fn fail(&self, e: tokio_postgres::Error) -> ApiError {
        if is_conflict(&e) {
            self.conflict.set(true);
        }
        pg_error(e)
    }

    fn prepare(&self, sql: &str) -> Result<tokio_postgres::Statement, ApiError> {
        if self.cache.size() > STATEMENT_CACHE_LIMIT {
            self.cache.clear();
        }
        self.rt
            .block_on(self.tx.prepare_cached(sql))
            .map_err(|e| self.fail(e))
    }

    /// Sends what waits ahead and then `main`, in one message, and waits for all of their
    /// answers; the first error in the order sent is the one returned.
    fn round_trip<T>(
        &self,
        main: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, ApiError> {
        let ahead = self.ahead.take();
        if self.state.get() == TxState::Unsent {
            self.state.set(TxState::Open);
        }
        if ahead.is_empty() {
            return self.rt.block_on(main).map_err(|e| self.fail(e));
        }
        // `join_all` and `join` poll in order, and each request is handed to the connection
        // when its future is first polled: Postgres receives them in this order.
        let sent = ahead.iter().map(|a| send_ahead(self.tx, a));
        let (before, out) = self.rt.block_on(futures_util::future::join(
            futures_util::future::join_all(sent),
            main,
        ));
        if let Some(e) = before.into_iter().find_map(Result::err) {
            return Err(self.fail(e));
        }
        out.map_err(|e| self.fail(e))
    }
}

async fn send_ahead<C: GenericClient>(
    client: &C,
    ahead: &Ahead,
) -> Result<(), tokio_postgres::Error> {
    match ahead {
        Ahead::Text(sql) => client.batch_execute(sql).await,
        Ahead::Prepared(st, stmt) => {
            let bound = bound(stmt);
            let refs = params(&bound);
            client.execute(st, &refs).await.map(|_| ())
        }
    }
}

impl<C: GenericClient> Drop for PgDb<'_, C> {
    /// A transaction of its own that was not committed (an error, a lost race, a panic) is
    /// rolled back before its connection goes back to the pool.
    fn drop(&mut self) {
        if self.state.get() == TxState::Open {
            // Best effort: a connection that cannot take a ROLLBACK is broken, and the pool
            // discards a closed connection instead of handing it out.
            let _ = self.rt.block_on(rollback(self.tx));
        }
    }
}

async fn rollback<C: GenericClient>(client: &C) -> Result<(), tokio_postgres::Error> {
    client.batch_execute(crate::sql::tx::ROLLBACK).await
}

impl<C: GenericClient> Db for PgDb<'_, C> {
    fn query(&self, stmt: &Stmt, types: &[ColumnType]) -> Result<Vec<Vec<Json>>, ApiError> {
        let st = self.prepare(&stmt.sql)?;
        let bound = bound(stmt);
        let refs = params(&bound);
        let rows = self.round_trip(self.tx.query(&st, &refs))?;
        cells(&rows, types)
    }

    fn execute(&self, stmt: &Stmt) -> Result<u64, ApiError> {
        let st = self.prepare(&stmt.sql)?;
        let bound = bound(stmt);
        let refs = params(&bound);
        self.round_trip(self.tx.execute(&st, &refs))
    }

    fn control(&self, sql: Control) -> Result<(), ApiError> {
        self.round_trip(self.tx.batch_execute(sql.sql()))
    }

    fn query_pair(
        &self,
        first: &Stmt,
        second: &Stmt,
        types: &[ColumnType],
    ) -> Result<super::Rows2, ApiError> {
        let (st1, st2) = (self.prepare(&first.sql)?, self.prepare(&second.sql)?);
        let (p1, p2) = (bound(first), bound(second));
        let (r1, r2) = (params(&p1), params(&p2));
        let (a, b) = self.round_trip(async {
            let (a, b) =
                futures_util::future::join(self.tx.query(&st1, &r1), self.tx.query(&st2, &r2))
                    .await;
            Ok((a?, b?))
        })?;
        Ok((cells(&a, types)?, cells(&b, types)?))
    }

    fn append(&self, stmt: Stmt) -> Result<(), ApiError> {
        if self.state.get() == TxState::None {
            return self.execute(&stmt).map(|_| ());
        }
        let st = self.prepare(&stmt.sql)?;
        self.ahead.borrow_mut().push(Ahead::Prepared(st, stmt));
        Ok(())
    }

    fn announce(&self, table: &str) {
        announce_once(&self.announced, table);
    }
}

/// Adds `table` to the tables a transaction announces, once.
fn announce_once(announced: &RefCell<Vec<String>>, table: &str) {
    let mut announced = announced.borrow_mut();
    if !announced.iter().any(|t| t == table) {
        announced.push(table.to_owned());
    }
}

/// A statement's values as the driver binds them ([`params`]).
fn bound(stmt: &Stmt) -> Vec<Bound<'_>> {
    stmt.values.0.iter().map(Bound).collect()
}

fn params<'a>(bound: &'a [Bound<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    bound.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// The first `types.len()` cells of every row.
fn cells(rows: &[Row], types: &[ColumnType]) -> Result<Vec<Vec<Json>>, ApiError> {
    rows.iter()
        .map(|row| {
            (0..types.len().min(row.len()))
                .map(|i| cell(row, i))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect()
}

/// One cell as the JSON SQLite would give for it: times in UTC with milliseconds, UUIDs
/// hyphenated, dates as `YYYY-MM-DD`.
fn cell(row: &Row, i: usize) -> Result<Json, ApiError> {
    let ty = row
        .columns()
        .get(i)
        .map(|c| c.type_().clone())
        .ok_or_else(|| ApiError::internal("column index out of range"))?;
    let bad = |e: tokio_postgres::Error| ApiError::internal(format!("reading {ty}: {e}"));
    let number = |f: f64| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number);
    Ok(match ty {
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(bad)?
            .map(Json::Bool),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(bad)?
            .map(Json::from),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(bad)?
            .map(Json::from),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(bad)?
            .map(Json::from),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i).map_err(bad)?.map(number),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)
            .map_err(bad)?
            .map(|f| number(f64::from(f))),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => row
            .try_get::<_, Option<String>>(i)
            .map_err(bad)?
            .map(Json::String),
        Type::UUID => row
            .try_get::<_, Option<uuid::Uuid>>(i)
            .map_err(bad)?
            .map(|u| Json::String(u.hyphenated().to_string())),
        Type::TIMESTAMPTZ => row
            .try_get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)
            .map_err(bad)?
            .map(|t| Json::String(time::datetime_text(&t))),
        Type::DATE => row
            .try_get::<_, Option<chrono::NaiveDate>>(i)
            .map_err(bad)?
            .map(|d| Json::String(time::date_text(d))),
        Type::JSONB | Type::JSON => row.try_get::<_, Option<Json>>(i).map_err(bad)?,
        other => {
            return Err(ApiError::internal(format!(
                "unexpected column type {other}"
            )));
        }
    }
    .unwrap_or(Json::Null))
}

/// A bound value converted to the type Postgres inferred for its parameter. `sql/` binds values
/// as SQLite stores them (text for uuid, time and json; 0/1 for booleans), so the conversion
/// happens here, where the parameter's type is known.
#[derive(Debug)]
struct Bound<'a>(&'a sea_query::Value);

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Bound<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        use sea_query::Value as V;
        match self.0 {
            V::Bool(Some(b)) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                _ => int_to_sql(i64::from(*b), ty, out),
            },
            V::TinyInt(Some(i)) => int_to_sql(i64::from(*i), ty, out),
            V::SmallInt(Some(i)) => int_to_sql(i64::from(*i), ty, out),
            V::Int(Some(i)) => int_to_sql(i64::from(*i), ty, out),
            V::BigInt(Some(i)) => int_to_sql(*i, ty, out),
            V::TinyUnsigned(Some(i)) => int_to_sql(i64::from(*i), ty, out),
            V::SmallUnsigned(Some(i)) => int_to_sql(i64::from(*i), ty, out),
            V::Unsigned(Some(i)) => int_to_sql(i64::from(*i), ty, out),
            V::BigUnsigned(Some(i)) => int_to_sql(i64::try_from(*i)?, ty, out),
            V::Float(Some(f)) => float_to_sql(f64::from(*f), ty, out),
            V::Double(Some(f)) => float_to_sql(*f, ty, out),
            V::String(Some(s)) => text_to_sql(s, ty, out),
            V::Char(Some(c)) => text_to_sql(&c.to_string(), ty, out),
            V::Bool(None)
            | V::TinyInt(None)
            | V::SmallInt(None)
            | V::Int(None)
            | V::BigInt(None)
            | V::TinyUnsigned(None)
            | V::SmallUnsigned(None)
            | V::Unsigned(None)
            | V::BigUnsigned(None)
            | V::Float(None)
            | V::Double(None)
            | V::String(None)
            | V::Char(None)
            | V::Bytes(None) => Ok(IsNull::Yes),
            other => Err(format!("cannot bind {other:?} as {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn int_to_sql(i: i64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    match *ty {
        Type::INT8 => i.to_sql(ty, out),
        Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
        Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
        Type::FLOAT8 => (i as f64).to_sql(ty, out),
        Type::BOOL => (i != 0).to_sql(ty, out),
        _ => Err(format!("cannot bind an integer as {ty}").into()),
    }
}

fn float_to_sql(f: f64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    match *ty {
        Type::FLOAT8 => f.to_sql(ty, out),
        Type::FLOAT4 => (f as f32).to_sql(ty, out),
        _ => Err(format!("cannot bind a float as {ty}").into()),
    }
}

fn text_to_sql(s: &str, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    match *ty {
        Type::UUID => uuid::Uuid::parse_str(s)?.to_sql(ty, out),
        Type::TIMESTAMPTZ => chrono::DateTime::parse_from_rfc3339(s)?
            .with_timezone(&chrono::Utc)
            .to_sql(ty, out),
        Type::DATE => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")?.to_sql(ty, out),
        Type::JSONB | Type::JSON => serde_json::from_str::<Json>(s)?.to_sql(ty, out),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => s.to_sql(ty, out),
        _ => Err(format!("cannot bind text as {ty}").into()),
    }
}

mod alone;
mod announce;
#[cfg(test)]
mod tests;
