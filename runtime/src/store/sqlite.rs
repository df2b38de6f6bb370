//! The SQLite store: WAL, foreign keys and a busy timeout on every connection; one writer
//! connection (SQLite has one writer anyway), owned by a thread that commits the writes queued
//! for it in batches (`writer`), and a pool of `query_only` readers.

mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, TransactionBehavior};
use serde_json::Value as Json;
use ward_ir::ColumnType;

use super::{Control, Db};
use crate::StartError;
use crate::error::ApiError;
use crate::sql::{Stmt, tx};

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct SqliteStore {
    /// Locked by the writer thread for each batch, and by schema work in between.
    writer: Arc<Mutex<Connection>>,
    queue: std::sync::mpsc::Sender<Box<dyn writer::Job>>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// Woken after every write this process commits ([`super::Store::commits`]).
    pub(crate) commits: Arc<super::Commits>,
}

impl SqliteStore {
    /// Under WAL every statement of a deferred transaction sees the snapshot of its first read.
    pub(crate) async fn read<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get().map_err(pool_error)?;
            let tx = Tx::begin(&conn, TransactionBehavior::Deferred)?;
            let out = f(&SqliteDb(tx.0))?;
            // Nothing was written (readers are `query_only`); ending the transaction releases the
            // snapshot.
            tx.commit()?;
            Ok(out)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// A read of one statement, outside an explicit transaction (its own snapshot).
    pub(crate) async fn query(
        &self,
        stmt: Stmt,
        types: Vec<ColumnType>,
    ) -> Result<Vec<Vec<Json>>, ApiError> {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get().map_err(pool_error)?;
            SqliteDb(&conn).query(&stmt, &types)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// [`SqliteStore::query`] for a statement that looks rows up by primary key, run right here
    /// on the request's worker: a handful of page reads cost less than handing the work to a
    /// blocking thread and back (half the CPU of a read by id went to those two thread switches).
    /// Never for a statement that may scan: that would hold the worker for as long.
    pub(crate) fn query_by_key(
        &self,
        stmt: &Stmt,
        types: &[ColumnType],
    ) -> Result<Vec<Vec<Json>>, ApiError> {
        let conn = self.readers.get().map_err(pool_error)?;
        SqliteDb(&conn).query(stmt, types)
    }

    /// One savepoint of a batch transaction on the writer, committed before the answer; SQLite
    /// never loses a race here, so `f` runs once.
    pub(crate) async fn write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
    {
        writer::submit(&self.queue, f).await
    }

    /// Schema work: like [`SqliteStore::write`] with foreign keys off, as SQLite's table rebuild
    /// needs (dropping the old table must not cascade into its children); the keys are checked
    /// before the commit and switched back on afterwards, whatever happened.
    pub(crate) async fn schema_write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
    {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let conn = writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            conn.pragma_update(None, "foreign_keys", false)
                .map_err(db_error)?;
            let out = checked_immediate(&conn, f);
            conn.pragma_update(None, "foreign_keys", true)
                .map_err(db_error)?;
            out
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` with the writer connection itself.
    #[cfg(test)]
    pub(crate) fn with_writer<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        let mut conn = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut conn)
    }
}

/// A transaction begun and ended with cached statements: rusqlite's `Transaction` parses `BEGIN`
/// and `COMMIT` anew each time, which every request pays. Dropped without [`Tx::commit`] (an
/// error or a panic in between), it rolls back, so a connection never goes back to its pool
/// inside a transaction.
struct Tx<'a>(&'a Connection);

impl<'a> Tx<'a> {
    fn begin(conn: &'a Connection, behavior: TransactionBehavior) -> Result<Self, ApiError> {
        let begin = match behavior {
            TransactionBehavior::Immediate => tx::SQLITE_BEGIN_IMMEDIATE,
            TransactionBehavior::Exclusive => tx::SQLITE_BEGIN_EXCLUSIVE,
            _ => tx::SQLITE_BEGIN_DEFERRED,
        };
        conn.prepare_cached(begin)
            .and_then(|mut st| st.execute([]))
            .map_err(db_error)?;
        Ok(Tx(conn))
    }

    fn commit(self) -> Result<(), ApiError> {
        self.0
            .prepare_cached(tx::COMMIT)
            .and_then(|mut st| st.execute([]))
            .map_err(db_error)?;
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            let _ = self
                .0
                .prepare_cached(tx::ROLLBACK)
                .and_then(|mut st| st.execute([]));
        }
    }
}

/// Runs `f` in one immediate transaction on `conn`, committing only when it succeeds and
/// `PRAGMA foreign_key_check` finds nothing broken.
fn checked_immediate<R>(
    conn: &Connection,
    f: impl FnOnce(&dyn Db) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let tx = Tx::begin(conn, TransactionBehavior::Immediate)?;
    let out = f(&SqliteDb(tx.0))?;
    let broken =
        tx.0.prepare("PRAGMA foreign_key_check")
            .and_then(|mut st| st.query([])?.next().map(|r| r.is_some()))
            .map_err(db_error)?;
    if broken {
        return Err(ApiError::reference_violation(None));
    }
    tx.commit()?;
    Ok(out)
}

/// A transaction on a SQLite connection.
pub(crate) struct SqliteDb<'a>(pub(crate) &'a Connection);

impl Db for SqliteDb<'_> {
    fn query(&self, stmt: &Stmt, types: &[ColumnType]) -> Result<Vec<Vec<Json>>, ApiError> {
        let mut st = self.0.prepare_cached(&stmt.sql).map_err(db_error)?;
        let params = bound(stmt);
        let mut rows = st
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(db_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_error)? {
            let mut cells = Vec::with_capacity(types.len());
            for (i, ty) in types.iter().enumerate() {
                cells.push(to_json(*ty, row.get_ref(i).map_err(db_error)?));
            }
            out.push(cells);
        }
        Ok(out)
    }

    fn execute(&self, stmt: &Stmt) -> Result<u64, ApiError> {
        let params = bound(stmt);
        let n = self
            .0
            .prepare_cached(&stmt.sql)
            .and_then(|mut st| st.execute(rusqlite::params_from_iter(params.iter())))
            .map_err(db_error)?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn control(&self, sql: Control) -> Result<(), ApiError> {
        self.0.execute_batch(sql.sql()).map_err(db_error)
    }
}

/// A statement's values as SQLite binds them: booleans as 0/1, everything else as itself.
fn bound(stmt: &Stmt) -> Vec<Bound<'_>> {
    stmt.values.0.iter().map(Bound).collect()
}

struct Bound<'a>(&'a sea_query::Value);

impl rusqlite::ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use sea_query::Value as V;
        let null = ToSqlOutput::Owned(rusqlite::types::Value::Null);
        Ok(match self.0 {
            V::Bool(b) => b.map_or(null, |b| ToSqlOutput::from(i64::from(b))),
            V::TinyInt(i) => i.map_or(null, |i| ToSqlOutput::from(i64::from(i))),
            V::SmallInt(i) => i.map_or(null, |i| ToSqlOutput::from(i64::from(i))),
            V::Int(i) => i.map_or(null, |i| ToSqlOutput::from(i64::from(i))),
            V::BigInt(i) => i.map_or(null, ToSqlOutput::from),
            V::TinyUnsigned(i) => i.map_or(null, |i| ToSqlOutput::from(i64::from(i))),
            V::SmallUnsigned(i) => i.map_or(null, |i| ToSqlOutput::from(i64::from(i))),
            V::Unsigned(i) => i.map_or(null, |i| ToSqlOutput::from(i64::from(i))),
            V::BigUnsigned(i) => match i {
                None => null,
                Some(i) => ToSqlOutput::from(
                    i64::try_from(*i)
                        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
                ),
            },
            V::Float(f) => f.map_or(null, |f| ToSqlOutput::from(f64::from(f))),
            V::Double(f) => f.map_or(null, ToSqlOutput::from),
            V::String(s) => s.as_deref().map_or(null, |s| {
                ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
            }),
            V::Char(c) => c.map_or(null, |c| ToSqlOutput::from(c.to_string())),
            V::Bytes(b) => b
                .as_deref()
                .map_or(null, |b| ToSqlOutput::Borrowed(ValueRef::Blob(b))),
            other => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!("unsupported bound value {other:?}").into(),
                ));
            }
        })
    }
}

fn to_json(ty: ColumnType, v: ValueRef<'_>) -> Json {
    match (ty, v) {
        (_, ValueRef::Null) => Json::Null,
        (ColumnType::Boolean, ValueRef::Integer(i)) => Json::Bool(i != 0),
        (ColumnType::Float, ValueRef::Integer(i)) => {
            serde_json::Number::from_f64(i as f64).map_or(Json::Null, Json::Number)
        }
        (_, ValueRef::Integer(i)) => Json::from(i),
        (_, ValueRef::Real(f)) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
        (ColumnType::Json | ColumnType::File, ValueRef::Text(t)) => serde_json::from_slice(t)
            .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(t).into())),
        (_, ValueRef::Text(t)) => Json::String(String::from_utf8_lossy(t).into()),
        (_, ValueRef::Blob(_)) => Json::Null,
    }
}

/// SQLite extended result codes that map to client errors.
const SQLITE_CONSTRAINT_UNIQUE: i32 = 2067;
const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;
const SQLITE_CONSTRAINT_FOREIGNKEY: i32 = 787;
const SQLITE_CONSTRAINT_NOTNULL: i32 = 1299;
/// `ON DELETE RESTRICT` fires as a trigger constraint; ward declares no triggers of its own.
const SQLITE_CONSTRAINT_TRIGGER: i32 = 1811;

/// Classifies a database error by its extended code; anything unexpected is internal.
pub fn db_error(e: rusqlite::Error) -> ApiError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        match f.extended_code {
            SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY => {
                return ApiError::unique_violation();
            }
            SQLITE_CONSTRAINT_FOREIGNKEY | SQLITE_CONSTRAINT_TRIGGER => {
                return ApiError::reference_violation(None);
            }
            SQLITE_CONSTRAINT_NOTNULL => return ApiError::required_missing(),
            _ if f.code == rusqlite::ErrorCode::DatabaseBusy => return ApiError::busy(),
            _ if unavailable(f.code) => return ApiError::unavailable(format!("sqlite: {e}")),
            _ => {}
        }
    }
    ApiError::internal(format!("{e:?}"))
}

/// Codes that say the database cannot be written or read at all, whatever the request: the disk
/// is full, the file or its directory is read-only, the file cannot be opened or read.
fn unavailable(code: rusqlite::ErrorCode) -> bool {
    use rusqlite::ErrorCode as C;
    matches!(
        code,
        C::DiskFull | C::ReadOnly | C::CannotOpen | C::SystemIoFailure | C::NotADatabase
    )
}

/// A pooled connection not handed out in time: busy, like a lock held too long.
fn pool_error(e: r2d2::Error) -> ApiError {
    tracing::debug!("sqlite pool: {e}");
    ApiError::busy()
}

/// `sqlite://path`, `sqlite:path` or a plain path.
pub fn database_path(url: &str) -> Result<PathBuf, StartError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        return Err(StartError::Database("empty database path".into()));
    }
    Ok(PathBuf::from(path))
}

fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(BUSY_TIMEOUT)?;
    // The query planner stability guarantee: a cached statement keeps its plan whatever values
    // are bound. Without it SQLite (built with STAT4) re-plans a statement on every execution
    // whose `LIMIT ?` or compared parameters it consulted while planning — a third of a read by
    // id went to re-parsing. ward's plans never depend on a bound value (its `like` patterns
    // start with `%`, and it runs no ANALYZE).
    c.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    c.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

pub use ward_ir::SqliteSync as Sync;

/// The `synchronous` pragma's value for `sync`.
fn synchronous(sync: Sync) -> &'static str {
    match sync {
        Sync::Full => "FULL",
        Sync::Normal => "NORMAL",
    }
}

/// Creates an empty database file readable by its owner only (unix), whatever the umask, unless
/// one exists: SQLite would create it 0644, and it creates the `-wal` and `-shm` files with the
/// permissions of the database file, so they stay private too. SQLite accepts an empty file as a
/// new database.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn open(path: &Path, sync: Sync) -> Result<SqliteStore, StartError> {
    let fail = |e: &dyn std::fmt::Display| {
        StartError::Database(format!("cannot open {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        crate::secret::create_private_dir(dir).map_err(|e| fail(&e))?;
    }
    create_private_file(path).map_err(|e| fail(&e))?;
    let writer = Connection::open(path).map_err(|e| fail(&e))?;
    writer
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| fail(&e))?;
    configure(&writer).map_err(|e| fail(&e))?;
    // Only the writer commits; readers are `query_only` and keep SQLite's default.
    writer
        .pragma_update(None, "synchronous", synchronous(sync))
        .map_err(|e| fail(&e))?;
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    // Readers are `query_only`: a read path that tried to write would fail loudly instead.
    let manager = SqliteConnectionManager::file(path).with_init(|c| {
        configure(c)?;
        c.pragma_update(None, "query_only", true)
    });
    let readers = r2d2::Pool::builder()
        .max_size(u32::try_from(cores).unwrap_or(2).max(2))
        .connection_timeout(super::POOL_WAIT)
        // A connection to a local file does not go stale; checking each one out with a query
        // cost ~3% of a read by id.
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| fail(&e))?;
    let writer = Arc::new(Mutex::new(writer));
    let queue = writer::spawn(writer.clone()).map_err(|e| fail(&e))?;
    Ok(SqliteStore {
        writer,
        queue,
        readers,
        commits: Arc::default(),
    })
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_database_directory_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".ward");
        let path = state.join("data.db");
        let store = super::open(&path, super::Sync::Full).unwrap();
        store.with_writer(|c| {
            c.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
                .unwrap();
        });
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        let mut files = 0;
        for entry in std::fs::read_dir(&state).unwrap() {
            let p = entry.unwrap().path();
            assert_eq!(mode(&p), 0o600, "{}", p.display());
            files += 1;
        }
        assert!(files >= 2, "the database and its WAL files were checked");
    }

    /// SPEC §5.7: an answered write survives a power cut unless the operator opted out. The
    /// writer is the connection that commits; `PRAGMA synchronous` reads 2 for FULL, 1 for NORMAL.
    #[test]
    fn the_writer_syncs_every_commit_unless_told_otherwise() {
        for (sync, expected) in [(super::Sync::Full, 2), (super::Sync::Normal, 1)] {
            let dir = tempfile::tempdir().unwrap();
            let store = super::open(&dir.path().join("data.db"), sync).unwrap();
            let level: i64 =
                store.with_writer(|c| c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap());
            assert_eq!(level, expected, "{sync:?}");
            let journal: String = store.with_writer(|c| {
                c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .unwrap()
            });
            assert_eq!(journal, "wal");
        }
        assert_eq!(super::Sync::default(), super::Sync::Full);
    }
}

#[cfg(test)]
mod snapshot_tests {
    #![allow(clippy::unwrap_used)]

    use crate::sql::Stmt;
    use crate::store::{Db, Store, row};

    #[tokio::test]
    async fn a_read_sees_one_snapshot_while_a_writer_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.db");
        let sqlite = super::open(&path, super::Sync::Full).unwrap();
        sqlite.with_writer(|c| c.execute_batch("CREATE TABLE t (x INTEGER)").unwrap());
        let store = Store::Sqlite(sqlite);
        let count = |db: &dyn Db| row::scalar(db, &Stmt::unbound("SELECT count(*) FROM t"));
        let (before, after) = store
            .read(move |db| {
                let before = count(db)?;
                // Another connection commits between the two statements of this read.
                let other = rusqlite::Connection::open(&path).unwrap();
                other.execute("INSERT INTO t (x) VALUES (1)", []).unwrap();
                Ok((before, count(db)?))
            })
            .await
            .unwrap();
        assert_eq!(
            (before, after),
            (0, 0),
            "both statements see the first snapshot"
        );
        let now = store.read(count).await.unwrap();
        assert_eq!(now, 1, "the next read sees the commit");
        // Outside a transaction: one statement on a reader, and a single-statement closure
        // whose second statement is refused rather than run in another snapshot.
        let counted = store
            .query(
                Stmt::unbound("SELECT count(*) FROM t"),
                vec![ward_ir::ColumnType::Integer],
            )
            .await
            .unwrap();
        assert_eq!(counted, vec![vec![serde_json::json!(1)]]);
        let two = store
            .write_one(move |db| Ok((count(db)?, count(db)?)))
            .await;
        assert!(two.is_err(), "{two:?}");
    }
}

#[cfg(test)]
mod classification {
    use super::db_error;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    /// A full disk, a read-only file or one that cannot be opened is the database being
    /// unavailable (503, retry elsewhere or later), not a bug (500).
    #[test]
    fn a_database_that_cannot_be_written_is_unavailable() {
        for code in [
            rusqlite::ffi::SQLITE_FULL,
            rusqlite::ffi::SQLITE_READONLY,
            rusqlite::ffi::SQLITE_CANTOPEN,
            rusqlite::ffi::SQLITE_IOERR,
        ] {
            let e = db_error(failure(code));
            assert_eq!(e.status().as_u16(), 503, "{code}");
            assert!(
                e.body().contains("DATABASE_UNAVAILABLE"),
                "{code}: {}",
                e.body()
            );
        }
        assert!(
            db_error(failure(rusqlite::ffi::SQLITE_BUSY))
                .body()
                .contains("DATABASE_BUSY")
        );
        assert_eq!(
            db_error(failure(rusqlite::ffi::SQLITE_MISUSE))
                .status()
                .as_u16(),
            500
        );
    }
}
