//! The change log's statements (SPEC §11): its two bookkeeping tables, the per-table counter
//! that numbers changes in commit order, the record of one change, and the reads of a row's
//! versions. Table names and ids are bound values like any other.

use sea_query::{
    Alias, ColumnDef, CommonTableExpression, Expr, ExprTrait, Func, Index, OnConflict, Order,
    Query, SchemaStatementBuilder, Table, WithClause,
};

use super::{Dialect, Stmt, col, render, tbl};
use crate::error::ApiError;

/// One record per change of a row of a table that logs its changes.
pub const CHANGES_TABLE: &str = "_ward_changes";
/// SQLite: the last `seq` handed out per table.
pub const COUNTER_TABLE: &str = "_ward_change_seq";
/// The highest `seq` ever erased per table (by the retention sweep or a purge): a realtime
/// subscriber resuming from below it has missed records that no longer exist (SPEC §12).
pub const ERASED_TABLE: &str = "_ward_change_erased";
/// Postgres: the `NOTIFY` channel a commit with change records of a realtime table signals on,
/// its payload the table's name; every serving instance listens (SPEC §12).
pub const CHANNEL: &str = "ward_changes";
/// Postgres: where every table's `seq` comes from ([`record_change`]).
pub const SEQUENCE: &str = "_ward_change_numbers";
/// Postgres: the first key of the per-table advisory locks [`record_change`] takes (the second
/// is the table name's hash). Two-key locks never meet ward's one-key locks. "wrdc" in ASCII.
const NUMBERING_LOCK_CLASS: i32 = 0x7772_6463;

/// The change log's columns, in the order [`record_change`] binds and [`versions`] reads them.
pub const COLUMNS: [&str; 10] = [
    "tbl", "seq", "op", "row_id", "at", "actor", "role", "request", "before", "after",
];

fn integer(dialect: Dialect) -> Alias {
    Alias::new(match dialect {
        Dialect::Sqlite => "INTEGER",
        Dialect::Postgres => "bigint",
    })
}

fn schema_sql<S: SchemaStatementBuilder>(dialect: Dialect, s: &S) -> String {
    match dialect {
        Dialect::Sqlite => s.to_string(sea_query::SqliteQueryBuilder),
        Dialect::Postgres => s.to_string(sea_query::PostgresQueryBuilder),
    }
}

/// The statements that create the change log's tables and index when they are missing.
pub fn create_tables(dialect: Dialect) -> Vec<String> {
    let text = |name: &str, not_null: bool| {
        let mut c = ColumnDef::new(tbl(name));
        c.custom(Alias::new("TEXT"));
        if not_null {
            c.not_null();
        }
        c
    };
    let mut changes = Table::create();
    changes
        .table(tbl(CHANGES_TABLE))
        .if_not_exists()
        .col(text("tbl", true))
        .col(
            ColumnDef::new(tbl("seq"))
                .custom(integer(dialect))
                .not_null(),
        )
        .col(text("op", true))
        .col(text("row_id", true))
        .col(text("at", true))
        .col(text("actor", false))
        .col(text("role", false))
        .col(text("request", false))
        .col(text("before", false))
        .col(text("after", false))
        .primary_key(Index::create().col(tbl("tbl")).col(tbl("seq")));
    // One `seq` per table: the counter, and the erased mark.
    let per_table = |name: &str| {
        let mut t = Table::create();
        t.table(tbl(name))
            .if_not_exists()
            .col(text("tbl", true).primary_key())
            .col(
                ColumnDef::new(tbl("seq"))
                    .custom(integer(dialect))
                    .not_null(),
            );
        t
    };
    let mut counter = per_table(COUNTER_TABLE);
    let mut erased = per_table(ERASED_TABLE);
    if dialect == Dialect::Sqlite {
        // Keyed by their primary keys alone: one B-tree each instead of a rowid table and a
        // key index, so a logged write changes fewer pages.
        changes.extra("WITHOUT ROWID, STRICT");
        counter.extra("WITHOUT ROWID, STRICT");
        erased.extra("WITHOUT ROWID, STRICT");
    }
    let by_row = Index::create()
        .if_not_exists()
        .name("ix__ward_changes_row")
        .table(tbl(CHANGES_TABLE))
        .col(tbl("tbl"))
        .col(tbl("row_id"))
        .col(tbl("seq"))
        .to_owned();
    let mut statements = vec![
        schema_sql(dialect, &changes),
        schema_sql(dialect, &by_row),
        schema_sql(dialect, &erased),
    ];
    match dialect {
        Dialect::Sqlite => statements.push(schema_sql(dialect, &counter)),
        // sea-query has no sequence statements; these are fixed text. The second moves the
        // sequence past any number a log written before it existed (by counter rows) holds.
        Dialect::Postgres => statements.extend([
            format!("CREATE SEQUENCE IF NOT EXISTS \"{SEQUENCE}\""),
            format!(
                "SELECT setval('\"{SEQUENCE}\"', max(seq)) FROM \"{CHANGES_TABLE}\" \
                 HAVING max(seq) >= (SELECT last_value FROM \"{SEQUENCE}\")"
            ),
        ]),
    }
    statements
}

/// One change record; `before`/`after` are the stored rows as JSON text.
pub struct ChangeRow<'a> {
    pub table: &'a str,
    pub op: &'a str,
    pub row_id: &'a str,
    pub at: &'a str,
    pub actor: Option<&'a str>,
    pub role: Option<&'a str>,
    pub request: Option<&'a str>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// Postgres: signal [`CHANNEL`] at commit (the table is realtime); SQLite ignores it, its
    /// only writer is the serving process itself.
    pub notify: bool,
}

/// The statements that write one change record, in order, numbering it with the next `seq` of
/// its table in the order the writers of that table commit.
///
/// SQLite, one writer: a counter row per table, bumped and then read by the record's INSERT,
/// so the numbers are also gap-free. Postgres: a counter row would be updated by every writer
/// of the table, and under SERIALIZABLE all but one of them would fail and retry (measured: 536
/// creates/s where ward without history serves 7,000). So the number comes from a sequence,
/// taken by the record's own INSERT under a per-table advisory lock held until the transaction
/// ends: the next writer of the table takes its number only after this one has committed or
/// rolled back. The numbers of one table therefore rise in commit order, and a reader that sees
/// one has seen every smaller one that will ever exist; a transaction that took a number and
/// then rolled back leaves a gap no later commit fills.
pub fn record_change(dialect: Dialect, c: ChangeRow<'_>) -> Result<Vec<Stmt>, ApiError> {
    let table = c.table;
    let (number, seq) = match dialect {
        Dialect::Sqlite => {
            let mut current = Query::select();
            current
                .from(tbl(COUNTER_TABLE))
                .column(tbl("seq"))
                .and_where(col("tbl").eq(table));
            (
                Some(bump_counter(table)),
                Expr::SubQuery(None, Box::new(current.into())),
            )
        }
        Dialect::Postgres => {
            // Bound as text and cast, since a parameter typed `regclass` would travel as an oid.
            let sequence = Expr::val(SEQUENCE)
                .cast_as(tbl("text"))
                .cast_as(tbl("regclass"));
            (None, Func::cust(tbl("nextval")).arg(sequence).into())
        }
    };
    let mut values = Query::select();
    values.exprs([
        Expr::val(c.table),
        seq,
        Expr::val(c.op),
        Expr::val(c.row_id),
        Expr::val(c.at),
        Expr::val(c.actor.map(str::to_owned)),
        Expr::val(c.role.map(str::to_owned)),
        Expr::val(c.request.map(str::to_owned)),
        Expr::val(c.before),
        Expr::val(c.after),
    ]);
    let mut insert = Query::insert();
    insert
        .into_table(tbl(CHANGES_TABLE))
        .columns(COLUMNS.map(tbl));
    let record = match dialect {
        Dialect::Sqlite => insert.select_from(values).map(|q| render(dialect, q)),
        Dialect::Postgres => {
            values.from(tbl("numbering"));
            let mut lock = Query::select();
            lock.expr_as(
                Func::cust(tbl("pg_advisory_xact_lock"))
                    .arg(NUMBERING_LOCK_CLASS)
                    .arg(Func::cust(tbl("hashtext")).arg(table)),
                tbl("locked"),
            );
            // A notification is delivered at commit and never after a rollback; the same
            // payload twice in one transaction is delivered once.
            if c.notify {
                lock.expr_as(
                    Func::cust(tbl("pg_notify")).arg(CHANNEL).arg(table),
                    tbl("signalled"),
                );
            }
            let locked = CommonTableExpression::new()
                .query(lock)
                .table_name(tbl("numbering"))
                // Evaluated once and first: the lock is held before the number is taken.
                .materialized(true)
                .to_owned();
            insert.select_from(values).map(|q| {
                render(
                    dialect,
                    &q.clone().with(WithClause::new().cte(locked).to_owned()),
                )
            })
        }
    };
    // Ten values for ten columns: an error here is a bug in this function.
    let record = record.map_err(ApiError::internal)?;
    Ok(number.into_iter().chain([record]).collect())
}

/// SQLite: the counter row of `table` moved on by one (created at 1).
fn bump_counter(table: &str) -> Stmt {
    let mut q = Query::insert();
    q.into_table(tbl(COUNTER_TABLE))
        .columns([tbl("tbl"), tbl("seq")])
        .values_panic([table.into(), 1i64.into()])
        .on_conflict(
            OnConflict::column(tbl("tbl"))
                .value(
                    tbl("seq"),
                    Expr::col((tbl(COUNTER_TABLE), tbl("seq"))).add(1i64),
                )
                .to_owned(),
        );
    render(Dialect::Sqlite, &q)
}

/// Which change records of one table a purge erases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purge {
    /// Every version of one row (its id as the log keys it).
    Row(String),
    /// Every change made by one token subject.
    Actor(String),
    /// Every change stamped before this time (`at`, ISO 8601 in UTC, compared as text).
    Before(String),
}

/// Erases at most `limit` of `table`'s records that `what` selects, oldest first: a retention
/// sweep or a purge runs it until it erases nothing, so no statement holds its locks long.
pub fn erase(dialect: Dialect, table: &str, what: &Purge, limit: u64) -> Stmt {
    let mut q = Query::delete();
    q.from_table(tbl(CHANGES_TABLE))
        .and_where(col("tbl").eq(table))
        .and_where(col("seq").in_subquery(oldest(table, what, limit)));
    render(dialect, &q)
}

/// The highest `seq` [`erase`] with the same arguments would erase, as one row, one cell
/// (NULL: none).
pub fn highest_erased(dialect: Dialect, table: &str, what: &Purge, limit: u64) -> Stmt {
    let mut q = Query::select();
    q.expr(Func::max(Expr::col(tbl("seq"))))
        .from_subquery(oldest(table, what, limit), tbl("erasing"));
    render(dialect, &q)
}

/// Raises `table`'s erased mark to `seq` (never lowers it).
pub fn mark_erased(dialect: Dialect, table: &str, seq: i64) -> Stmt {
    let mut q = Query::insert();
    q.into_table(tbl(ERASED_TABLE))
        .columns([tbl("tbl"), tbl("seq")])
        .values_panic([table.into(), seq.into()])
        .on_conflict(
            OnConflict::column(tbl("tbl"))
                .update_column(tbl("seq"))
                .action_and_where(
                    Expr::col((tbl(ERASED_TABLE), tbl("seq")))
                        .lt(Expr::col((tbl("excluded"), tbl("seq")))),
                )
                .to_owned(),
        );
    render(dialect, &q)
}

/// Where `table`'s log stands, as one row: the highest `seq` it holds and the highest one ever
/// erased from it (each NULL when there is none).
pub fn position(dialect: Dialect, table: &str) -> Stmt {
    let mut highest = Query::select();
    highest
        .expr(Func::max(Expr::col(tbl("seq"))))
        .from(tbl(CHANGES_TABLE))
        .and_where(col("tbl").eq(table));
    let mut erased = Query::select();
    erased
        .column(tbl("seq"))
        .from(tbl(ERASED_TABLE))
        .and_where(col("tbl").eq(table));
    let mut q = Query::select();
    q.expr(Expr::SubQuery(None, Box::new(highest.into())))
        .expr(Expr::SubQuery(None, Box::new(erased.into())));
    render(dialect, &q)
}

/// `table`'s records after `after`, up to `through` when given, oldest first, at most `limit`.
pub fn since(dialect: Dialect, table: &str, after: i64, through: Option<i64>, limit: u64) -> Stmt {
    let mut q = records(table);
    q.and_where(col("seq").gt(after));
    if let Some(last) = through {
        q.and_where(col("seq").lte(last));
    }
    q.order_by(tbl("seq"), Order::Asc).limit(limit);
    render(dialect, &q)
}

/// The oldest `limit` of `table`'s records that `what` selects, by `seq`.
fn oldest(table: &str, what: &Purge, limit: u64) -> sea_query::SelectStatement {
    let mut oldest = Query::select();
    oldest
        .from(tbl(CHANGES_TABLE))
        .column(tbl("seq"))
        .and_where(col("tbl").eq(table));
    match what {
        Purge::Row(id) => oldest.and_where(col("row_id").eq(id.as_str())),
        Purge::Actor(actor) => oldest.and_where(col("actor").eq(actor.as_str())),
        Purge::Before(at) => oldest.and_where(col("at").lt(at.as_str())),
    };
    oldest.order_by(tbl("seq"), Order::Asc).limit(limit);
    oldest
}

/// Every change of `table`, oldest first.
pub fn all(dialect: Dialect, table: &str) -> Stmt {
    let mut q = records(table);
    q.order_by(tbl("seq"), Order::Asc);
    render(dialect, &q)
}

/// `table`'s records, every column in [`COLUMNS`] order.
fn records(table: &str) -> sea_query::SelectStatement {
    let mut q = Query::select();
    q.from(tbl(CHANGES_TABLE))
        .columns(COLUMNS.map(tbl))
        .and_where(col("tbl").eq(table));
    q
}

/// The versions of one row, newest first, below `below` (a cursor's seq) when given.
pub fn versions(
    dialect: Dialect,
    table: &str,
    row_id: &str,
    below: Option<i64>,
    limit: u64,
) -> Stmt {
    let mut q = records(table);
    q.and_where(col("row_id").eq(row_id));
    if let Some(seq) = below {
        q.and_where(col("seq").lt(seq));
    }
    q.order_by(tbl("seq"), Order::Desc).limit(limit);
    render(dialect, &q)
}
