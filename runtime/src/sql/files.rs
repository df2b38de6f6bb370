//! The file store's queue of objects to delete (SPEC §13): a write that replaces or removes a
//! file puts the old object's key here in its own transaction, and the collector deletes the
//! object after commit, retrying with backoff until the store confirms. Keys are bound values.

use sea_query::{Alias, ColumnDef, Expr, ExprTrait, OnConflict, Order, Query, Table};

use super::{Dialect, Stmt, col, render, tbl};
use crate::snapshot::TablePlan;

/// One row per stored object waiting to be deleted.
pub const QUEUE_TABLE: &str = "_ward_file_gc";

/// The statement that creates the queue when it is missing.
pub fn create_tables(dialect: Dialect) -> Vec<String> {
    let integer = match dialect {
        Dialect::Sqlite => "INTEGER",
        Dialect::Postgres => "bigint",
    };
    let mut t = Table::create();
    t.table(tbl(QUEUE_TABLE))
        .if_not_exists()
        .col(
            ColumnDef::new(tbl("key"))
                .custom(Alias::new("TEXT"))
                .not_null()
                .primary_key(),
        )
        // When the next attempt is due: ISO 8601 in UTC, compared as text.
        .col(
            ColumnDef::new(tbl("due"))
                .custom(Alias::new("TEXT"))
                .not_null(),
        )
        .col(
            ColumnDef::new(tbl("attempts"))
                .custom(Alias::new(integer))
                .not_null(),
        )
        .col(ColumnDef::new(tbl("error")).custom(Alias::new("TEXT")));
    vec![match dialect {
        Dialect::Sqlite => t.to_string(sea_query::SqliteQueryBuilder),
        Dialect::Postgres => t.to_string(sea_query::PostgresQueryBuilder),
    }]
}

/// Queues `key` for deletion, due at `due` (a key already queued stays as it is).
pub fn release(dialect: Dialect, key: &str, due: &str) -> Stmt {
    let mut q = Query::insert();
    q.into_table(tbl(QUEUE_TABLE))
        .columns([tbl("key"), tbl("due"), tbl("attempts")])
        .values_panic([key.into(), due.into(), 0i64.into()])
        .on_conflict(OnConflict::column(tbl("key")).do_nothing().to_owned());
    render(dialect, &q)
}

/// At most `limit` queued keys due at `now`, oldest first: `(key, attempts)`.
pub fn due(dialect: Dialect, now: &str, limit: u64) -> Stmt {
    let mut q = Query::select();
    q.columns([tbl("key"), tbl("attempts")])
        .from(tbl(QUEUE_TABLE))
        .and_where(col("due").lte(now))
        .order_by(tbl("due"), Order::Asc)
        .limit(limit);
    render(dialect, &q)
}

/// The key's object is gone: off the queue.
pub fn forget(dialect: Dialect, key: &str) -> Stmt {
    let mut q = Query::delete();
    q.from_table(tbl(QUEUE_TABLE)).and_where(col("key").eq(key));
    render(dialect, &q)
}

/// A failed attempt: the next one is due at `due`.
pub fn retry(dialect: Dialect, key: &str, due: &str, attempts: i64, error: &str) -> Stmt {
    let mut q = Query::update();
    q.table(tbl(QUEUE_TABLE))
        .value(tbl("due"), due)
        .value(tbl("attempts"), attempts)
        .value(tbl("error"), error)
        .and_where(col("key").eq(key));
    render(dialect, &q)
}

/// The number of keys queued (for tests and the operator's view).
pub fn queued(dialect: Dialect) -> Stmt {
    let mut q = Query::select();
    q.expr(Expr::col(tbl("key")).count()).from(tbl(QUEUE_TABLE));
    render(dialect, &q)
}

/// Every stored value of the file column `column` of `plan`, soft-deleted rows included: what
/// the sweeper keeps.
pub fn stored(plan: &TablePlan, column: &str) -> Stmt {
    let mut q = Query::select();
    q.column(tbl(column))
        .from(tbl(plan.name()))
        .and_where(col(column).is_not_null());
    render(plan.dialect, &q)
}
