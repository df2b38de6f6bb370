//! The SQLite store: one writer connection behind a mutex and a pool of readers, used from async
//! handlers through `spawn_blocking`. It binds and runs statements built in `sql/`; it never
//! builds SQL itself.

pub mod migrate;
pub mod row;
pub mod sqlite;

use std::sync::{Arc, Mutex};

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::http::error::ApiError;

#[derive(Clone)]
pub struct Store {
    writer: Arc<Mutex<Connection>>,
    readers: r2d2::Pool<SqliteConnectionManager>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    pub(crate) fn new(writer: Connection, readers: r2d2::Pool<SqliteConnectionManager>) -> Store {
        Store {
            writer: Arc::new(Mutex::new(writer)),
            readers,
        }
    }

    /// Runs `f` on a pooled reader connection, in one deferred read transaction: under WAL every
    /// statement `f` runs sees the snapshot of its first read, so a page, its `total`, its labels
    /// and its expansions agree with each other even while writers commit in between.
    pub async fn read<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, ApiError> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(ApiError::internal)?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Deferred)
                .map_err(db_error)?;
            let out = f(&tx)?;
            // Nothing was written (readers are `query_only`); ending the transaction releases the
            // snapshot. On an error above, dropping `tx` rolls it back just the same.
            tx.commit().map_err(db_error)?;
            Ok(out)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` in one immediate transaction on the writer; commits only when `f` succeeds.
    pub async fn write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<R, ApiError> + Send + 'static,
    {
        self.write_mut(|tx| f(tx)).await
    }

    /// Like [`Store::write`], with the transaction mutable so that `f` can open savepoints (a
    /// non-atomic batch isolates each record's write in one).
    pub async fn write_mut<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Transaction<'_>) -> Result<R, ApiError> + Send + 'static,
    {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let out = f(&mut tx)?;
            tx.commit().map_err(db_error)?;
            Ok(out)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` with the writer connection itself (start-up work such as migrations).
    pub(crate) fn with_writer<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        let mut conn = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut conn)
    }
}

/// Runs `f` in a savepoint of `tx`: its changes are kept when it succeeds and undone when it
/// fails, so one record of a non-atomic batch either fully happens or changes nothing.
pub fn isolated<R>(
    tx: &mut Transaction<'_>,
    f: impl FnOnce(&Connection) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let sp = tx.savepoint().map_err(db_error)?;
    match f(&sp) {
        Ok(r) => {
            sp.commit().map_err(db_error)?;
            Ok(r)
        }
        Err(e) => {
            // `finish` on a savepoint that was not committed rolls back to it and releases it.
            sp.finish().map_err(db_error)?;
            Err(e)
        }
    }
}

/// SQLite extended result codes that map to client errors.
const SQLITE_CONSTRAINT_UNIQUE: i32 = 2067;
const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;
const SQLITE_CONSTRAINT_FOREIGNKEY: i32 = 787;
const SQLITE_CONSTRAINT_NOTNULL: i32 = 1299;
/// `ON DELETE RESTRICT` fires as a trigger constraint; ward declares no triggers of its own.
const SQLITE_CONSTRAINT_TRIGGER: i32 = 1811;

/// Whether `e` is a primary key conflict (an upsert's INSERT met a row it must not overwrite).
pub fn is_primary_key_conflict(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == SQLITE_CONSTRAINT_PRIMARYKEY)
}

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
            SQLITE_CONSTRAINT_NOTNULL => {
                return ApiError::validation(
                    "VALIDATION_REQUIRED",
                    "A required field is missing",
                    serde_json::json!({}),
                );
            }
            _ => {}
        }
    }
    ApiError::internal(format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[tokio::test]
    async fn a_read_sees_one_snapshot_while_a_writer_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.db");
        let store = super::sqlite::open(&path).unwrap();
        store.with_writer(|c| c.execute_batch("CREATE TABLE t (x INTEGER)").unwrap());
        let count = |c: &rusqlite::Connection| -> i64 {
            c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap()
        };
        let (before, after) = store
            .read(move |c| {
                let before = count(c);
                // Another connection commits between the two statements of this read.
                let other = rusqlite::Connection::open(&path).unwrap();
                other.execute("INSERT INTO t (x) VALUES (1)", []).unwrap();
                Ok((before, count(c)))
            })
            .await
            .unwrap();
        assert_eq!(
            (before, after),
            (0, 0),
            "both statements see the first snapshot"
        );
        let now = store.read(move |c| Ok(count(c))).await.unwrap();
        assert_eq!(now, 1, "the next read sees the commit");
    }
}
