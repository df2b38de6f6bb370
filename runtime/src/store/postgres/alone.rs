//! A logged write that is a few independent statements and their change records, run on the
//! server's runtime rather than a blocking thread: the statements go out with the transaction's
//! opening, the records with its COMMIT — two round trips, none of them a wake-up of another
//! thread.
//!
//! Its statements read nothing but the one row they write (an INSERT; or an UPDATE and the read
//! of its `before` image, which locks the row first: [`crate::sql::dml::select_for_update`]),
//! as the same write of a table without a log is one statement on its own. So it runs READ
//! COMMITTED, outside the write lock, like that statement: SERIALIZABLE's bookkeeping and the
//! lock would guard reads it does not make (docs/decisions.md). A lost race (a deadlock) is run
//! again on the blocking path, which retries.

use std::cell::RefCell;

use serde_json::Value as Json;
use tokio_postgres::Statement;
use ward_ir::ColumnType;

use super::{
    Attempt, PgStore, STATEMENT_CACHE_LIMIT, announce::Announcer, announce_once, bound, cells,
    is_conflict, params, pg_error, pool_error,
};
use crate::error::ApiError;
use crate::sql::Stmt;
use crate::store::{Control, Db, Rows};

impl PgStore {
    /// Runs `stmts` (none reads what another returns), then `then` on the rows they returned
    /// with a [`Db`] that takes only [`Db::append`]ed statements, and commits them together;
    /// attempted once ([`crate::store::Store::write_then`] runs a lost race again).
    pub(crate) async fn write_then_once<R>(
        &self,
        stmts: &[Stmt],
        types: &[ColumnType],
        then: impl FnOnce(&dyn Db, Vec<Rows>) -> Result<R, ApiError>,
    ) -> Attempt<R> {
        let client = match self.pool.get().await {
            Ok(c) => c,
            Err(e) => return Attempt::Done(Err(pool_error(e))),
        };
        let mut tx = Open(Some(client));
        let outcome = tx.run(stmts, types, &self.announcer, then).await;
        match outcome {
            Ok(r) => {
                tx.close();
                Attempt::Done(Ok(r))
            }
            Err(failure) => {
                tx.rollback().await;
                match failure {
                    Failure::Database(e) if is_conflict(&e) => Attempt::Conflict,
                    Failure::Database(e) => Attempt::Done(Err(pg_error(e))),
                    Failure::Refused(e) => Attempt::Done(Err(e)),
                }
            }
        }
    }
}

/// A pooled connection with a transaction open on it. Dropped open — the request was cancelled
/// mid-write — the connection is closed instead of returned, which ends the transaction.
struct Open(Option<deadpool_postgres::Object>);

/// Why an attempt failed.
enum Failure {
    Database(tokio_postgres::Error),
    /// Refused by ward (the row could not be read, or its records not made).
    Refused(ApiError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Database(e)
    }
}

impl Open {
    async fn run<R>(
        &mut self,
        stmts: &[Stmt],
        types: &[ColumnType],
        announcer: &Announcer,
        then: impl FnOnce(&dyn Db, Vec<Rows>) -> Result<R, ApiError>,
    ) -> Result<R, Failure> {
        let Some(client) = self.0.as_ref() else {
            return Err(Failure::Refused(ApiError::internal("no connection")));
        };
        if client.statement_cache.size() > STATEMENT_CACHE_LIMIT {
            client.statement_cache.clear();
        }
        let mut prepared = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            prepared.push(client.prepare_cached(&stmt.sql).await?);
        }
        let values: Vec<_> = stmts.iter().map(bound).collect();
        let queries = prepared
            .iter()
            .zip(&values)
            .map(|(st, v)| async move { client.query(st, &params(v)).await });
        // Sent in this order (each request goes out when its future is first polled).
        let (begun, answers) = futures_util::future::join(
            client.batch_execute(crate::sql::tx::PG_BEGIN_READ_COMMITTED),
            futures_util::future::join_all(queries),
        )
        .await;
        begun?;
        let mut rows = Vec::with_capacity(answers.len());
        for answer in answers {
            rows.push(cells(&answer?, types).map_err(Failure::Refused)?);
        }

        let records = Records::default();
        let out = then(&records, rows).map_err(Failure::Refused);
        let (records, announced) = (records.appended.into_inner(), records.announced);
        let out = out?;
        let mut prepared: Vec<(Statement, &Stmt)> = Vec::with_capacity(records.len());
        for r in &records {
            prepared.push((client.prepare_cached(&r.sql).await?, r));
        }
        let values: Vec<_> = prepared.iter().map(|(_, r)| bound(r)).collect();
        let sent = prepared
            .iter()
            .zip(&values)
            .map(|((st, _), v)| async move { client.execute(st, &params(v)).await });
        let (appended, committed) = futures_util::future::join(
            futures_util::future::join_all(sent),
            client.batch_execute(crate::sql::tx::COMMIT),
        )
        .await;
        if let Some(e) = appended.into_iter().find_map(Result::err) {
            // COMMIT of an aborted transaction ended it with a rollback.
            self.close();
            return Err(Failure::Database(e));
        }
        committed?;
        announcer.committed(announced.into_inner());
        Ok(out)
    }

    /// Ends the transaction with a ROLLBACK, or closes the connection when that fails.
    async fn rollback(&mut self) {
        if let Some(client) = self.0.as_ref()
            && client.batch_execute(crate::sql::tx::ROLLBACK).await.is_ok()
        {
            self.close();
        }
    }

    /// The transaction is over: the connection goes back to the pool.
    fn close(&mut self) {
        drop(self.0.take());
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// The [`Db`] a logged write's `then` runs on: it keeps the records appended, to send with the
/// COMMIT, and refuses any other statement (the write has no more round trips).
#[derive(Default)]
struct Records {
    appended: RefCell<Vec<Stmt>>,
    announced: RefCell<Vec<String>>,
}

impl Records {
    fn refuse<T>() -> Result<T, ApiError> {
        Err(ApiError::internal(
            "a write alone with its records ran another statement",
        ))
    }
}

impl Db for Records {
    fn query(&self, _: &Stmt, _: &[ColumnType]) -> Result<Vec<Vec<Json>>, ApiError> {
        Records::refuse()
    }

    fn execute(&self, _: &Stmt) -> Result<u64, ApiError> {
        Records::refuse()
    }

    fn control(&self, _: Control) -> Result<(), ApiError> {
        Records::refuse()
    }

    fn append(&self, stmt: Stmt) -> Result<(), ApiError> {
        self.appended.borrow_mut().push(stmt);
        Ok(())
    }

    fn announce(&self, table: &str) {
        announce_once(&self.announced, table);
    }
}
