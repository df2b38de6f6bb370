//! Group commit on the writer connection. SQLite has one writer, so writes queue anyway; here
//! they queue for one thread that owns the connection, runs every write waiting at that moment
//! in one IMMEDIATE transaction — each in its own savepoint — and commits them together.
//!
//! A write that fails rolls back to its savepoint and changes nothing, exactly as its own
//! transaction would have. No write is answered before the COMMIT that makes it durable and
//! visible to readers; when that COMMIT fails, every write of the batch answers its error. A
//! batch is what was queued while the previous one ran, at most [`MAX_BATCH`] writes: under no
//! contention it is one write, and the cost is that of a transaction per write.
//!
//! What this saves per write under load (docs/performance.md): the BEGIN and COMMIT (the WAL
//! append) shared by the batch, and no blocking-pool thread per write fighting over a mutex.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::{SqliteDb, Tx, db_error};
use crate::error::ApiError;
use crate::sql::tx;
use crate::store::Db;

/// Writes one batch may hold: bounds how long a batch keeps SQLite's write lock (other processes
/// on the file wait for it) and how long the first write of a batch waits for its answer.
pub(crate) const MAX_BATCH: usize = 64;

/// A write waiting for the writer thread.
pub(crate) trait Job: Send {
    /// Runs the write in its own savepoint of the open batch transaction.
    fn run(self: Box<Self>, conn: &Connection) -> Box<dyn Done>;
    /// Answers a write that never ran (the batch could not begin).
    fn refuse(self: Box<Self>, error: ApiError);
}

/// A write that ran, waiting for its batch's COMMIT to be answered.
pub(crate) trait Done: Send {
    fn answer(self: Box<Self>, committed: &Result<(), ApiError>);
}

/// Queues `f` for the writer thread and waits for its answer, given after the COMMIT.
pub(crate) async fn submit<R, F>(queue: &Sender<Box<dyn Job>>, f: F) -> Result<R, ApiError>
where
    R: Send + 'static,
    F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    queue
        .send(Box::new(Pending { f, reply }))
        .map_err(|_| ApiError::internal("the SQLite writer has stopped"))?;
    answer
        .await
        .map_err(|_| ApiError::internal("the SQLite writer dropped a write"))?
}

struct Pending<R, F> {
    f: F,
    reply: oneshot::Sender<Result<R, ApiError>>,
}

impl<R, F> Job for Pending<R, F>
where
    R: Send + 'static,
    F: FnOnce(&dyn Db) -> Result<R, ApiError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Box<dyn Done> {
        let Pending { f, reply } = *self;
        let outcome = in_savepoint(conn, f);
        Box::new(Ran { outcome, reply })
    }

    fn refuse(self: Box<Self>, error: ApiError) {
        let _ = self.reply.send(Err(error));
    }
}

struct Ran<R> {
    outcome: Result<R, ApiError>,
    reply: oneshot::Sender<Result<R, ApiError>>,
}

impl<R: Send> Done for Ran<R> {
    fn answer(self: Box<Self>, committed: &Result<(), ApiError>) {
        let answer = match (self.outcome, committed) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e.clone()),
            (Ok(r), Ok(())) => Ok(r),
        };
        // The client may have gone away; its write stands (or not) all the same.
        let _ = self.reply.send(answer);
    }
}

/// Runs `f` in a savepoint: kept when it succeeds, undone when it fails or panics (a panic in
/// policy code must not take the writer thread, and every later write, with it).
fn in_savepoint<R>(
    conn: &Connection,
    f: impl FnOnce(&dyn Db) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    control(conn, tx::WRITE_SAVEPOINT)?;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| f(&SqliteDb(conn))))
        .unwrap_or_else(|_| Err(ApiError::internal("a write panicked")));
    if outcome.is_ok() {
        control(conn, tx::WRITE_RELEASE)?;
    } else if !conn.is_autocommit() {
        control(conn, tx::WRITE_ROLLBACK_TO)?;
        control(conn, tx::WRITE_RELEASE)?;
    }
    outcome
}

fn control(conn: &Connection, sql: &'static str) -> Result<(), ApiError> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute([]))
        .map(|_| ())
        .map_err(db_error)
}

/// Starts the writer thread; it ends when every sender of `queue` is gone.
pub(crate) fn spawn(conn: Arc<Mutex<Connection>>) -> std::io::Result<Sender<Box<dyn Job>>> {
    let (queue, jobs) = std::sync::mpsc::channel::<Box<dyn Job>>();
    std::thread::Builder::new()
        .name("ward-sqlite-writer".into())
        .spawn(move || serve(&conn, &jobs))?;
    Ok(queue)
}

fn serve(conn: &Mutex<Connection>, jobs: &Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        // Schema work (migrations on reload) takes the same mutex; a batch never overlaps it.
        let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = match Tx::begin(&conn, TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                first.refuse(e);
                continue;
            }
        };
        let mut ran = vec![first.run(tx.0)];
        // SQLite ends the whole transaction on some errors (I/O, a full disk): the writes before
        // it are gone, so the batch stops there and answers with the error.
        let mut lost = tx.0.is_autocommit();
        while !lost && ran.len() < MAX_BATCH {
            let Ok(next) = jobs.try_recv() else { break };
            ran.push(next.run(tx.0));
            lost = tx.0.is_autocommit();
        }
        let committed = if lost {
            Err(ApiError::internal(
                "SQLite rolled the write transaction back",
            ))
        } else {
            tx.commit()
        };
        for done in ran {
            done.answer(&committed);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::error::ApiError;
    use crate::sql::Stmt;
    use crate::store::{Db, row};

    fn count(db: &dyn Db) -> Result<i64, ApiError> {
        row::scalar(db, &Stmt::unbound("SELECT count(*) FROM t"))
    }

    /// Many writes at once land in shared batches; the failing ones change nothing and the others
    /// all commit — as if each had had its own transaction.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_batched_together_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite =
            super::super::open(&dir.path().join("data.db"), super::super::Sync::Full).unwrap();
        sqlite.with_writer(|c| c.execute_batch("CREATE TABLE t (x INTEGER)").unwrap());
        let writes = (0..200).map(|i| {
            let store = sqlite.clone();
            tokio::spawn(async move {
                store
                    .write(move |db| {
                        db.execute(&Stmt::unbound("INSERT INTO t VALUES (1)"))?;
                        if i % 3 == 0 {
                            return Err(ApiError::internal("refused"));
                        }
                        if i % 7 == 0 {
                            panic!("a bug in policy code");
                        }
                        count(db)
                    })
                    .await
            })
        });
        let mut kept = 0;
        for (i, w) in writes.collect::<Vec<_>>().into_iter().enumerate() {
            let r = w.await.unwrap();
            assert_eq!(r.is_ok(), i % 3 != 0 && i % 7 != 0, "write {i}: {r:?}");
            kept += i64::from(r.is_ok());
        }
        let rows = sqlite.read(count).await.unwrap();
        assert_eq!(rows, kept, "exactly the writes answered OK are stored");
        // The writer survived the panics and the savepoints are all released.
        let after = sqlite.write(count).await.unwrap();
        assert_eq!(after, kept);
    }

    /// A write is answered only once it is committed: a reader asked right after sees it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_answered_write_is_visible_to_readers() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite =
            super::super::open(&dir.path().join("data.db"), super::super::Sync::Full).unwrap();
        sqlite.with_writer(|c| c.execute_batch("CREATE TABLE t (x INTEGER)").unwrap());
        for n in 1..=50 {
            sqlite
                .write(|db| db.execute(&Stmt::unbound("INSERT INTO t VALUES (1)")))
                .await
                .unwrap();
            assert_eq!(sqlite.read(count).await.unwrap(), n);
        }
    }
}
