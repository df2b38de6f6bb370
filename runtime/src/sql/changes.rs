//! The change log's statements (SPEC §11): its tables, the record of one change and how it is
//! numbered in commit order (as it is written on SQLite, after commit on Postgres), the reads of
//! a row's versions and of a table's records since a point (realtime), and erasing. Table names
//! and ids are bound values like any other.

use sea_query::{
    Alias, ColumnDef, Expr, ExprTrait, Func, Index, OnConflict, Order, Query,
    SchemaStatementBuilder, Table, Value, Values,
};

use super::{Dialect, Stmt, col, render, tbl};
use crate::error::ApiError;

/// One record per change of a row of a table that logs its changes.
pub const CHANGES_TABLE: &str = "_ward_changes";
/// The highest `seq` ever erased per table (by the retention sweep or a purge): a realtime
/// subscriber resuming from below it has missed records that no longer exist (SPEC §12).
pub const ERASED_TABLE: &str = "_ward_change_erased";
/// Postgres: the `NOTIFY` channel the writer signals after committing change records of a
/// realtime table ([`announce`]), its payload the table's name; every serving instance listens
/// (SPEC §12).
pub const CHANNEL: &str = "ward_changes";
/// Postgres: where every table's `seq` comes from ([`number_pending`]).
pub const SEQUENCE: &str = "_ward_change_numbers";
/// Postgres: where a write puts its change records, unnumbered ([`record_change`]); they are
/// numbered, in commit order, by whoever reads the log next ([`number_pending`]).
pub const INBOX_TABLE: &str = "_ward_change_inbox";
/// Postgres: the two keys of the advisory lock that numbering passes take in turn. Two-key
/// locks never meet ward's one-key locks. "wrdn" in ASCII.
const NUMBERING_LOCK: (i32, i32) = (0x7772_646e, 0);

/// The change log's columns, in the order [`record_change`] binds and [`versions`] reads them.
pub const COLUMNS: [&str; 10] = [
    "tbl", "seq", "op", "row_id", "at", "actor", "role", "request", "before", "after",
];
/// [`COLUMNS`] but `seq`: what a Postgres write puts in the inbox.
const UNNUMBERED: [&str; 9] = [
    "tbl", "op", "row_id", "at", "actor", "role", "request", "before", "after",
];
/// Which of [`UNNUMBERED`] are `NOT NULL`.
const NOT_NULL: [bool; 9] = [true, true, true, true, false, false, false, false, false];

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
    // One `seq` per table: the erased mark.
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
    let mut erased = per_table(ERASED_TABLE);
    if dialect == Dialect::Sqlite {
        // Keyed by their primary keys alone: one B-tree each instead of a rowid table and a
        // key index, so a logged write changes fewer pages.
        changes.extra("WITHOUT ROWID, STRICT");
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
    if dialect == Dialect::Postgres {
        let mut inbox = Table::create();
        inbox.table(tbl(INBOX_TABLE)).if_not_exists().col(
            ColumnDef::new(tbl("id"))
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        );
        for (name, not_null) in UNNUMBERED.iter().zip(NOT_NULL) {
            inbox.col(text(name, not_null));
        }
        statements.push(schema_sql(dialect, &inbox));
    }
    if dialect == Dialect::Postgres {
        // sea-query has no sequence statements; these are fixed text. The second moves the
        // sequence past any number a log written before it existed (by counter rows) holds.
        statements.extend([
            format!("CREATE SEQUENCE IF NOT EXISTS \"{SEQUENCE}\""),
            format!(
                "SELECT setval('\"{SEQUENCE}\"', max(seq)) FROM \"{CHANGES_TABLE}\" \
                 HAVING max(seq) >= (SELECT last_value FROM \"{SEQUENCE}\")"
            ),
        ]);
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
}

/// The statement that writes one change record.
///
/// SQLite, one writer: the record's INSERT numbers it one past the highest number the table's
/// log ever held ([`next_seq`]), so numbers rise in commit order and are gap-free.
///
/// Postgres: numbering in the write would make the writers of a table take turns from their
/// record to their commit (measured: 1,538 creates/s with history where the table without it
/// serves 7,473; a counter row under SERIALIZABLE was worse, 536). So a write only appends its
/// record, unnumbered, to the inbox; the records are numbered after their transactions commit,
/// by whoever reads the log next ([`number_pending`]), in the order they are found committed.
pub fn record_change(dialect: Dialect, c: ChangeRow<'_>) -> Result<Stmt, ApiError> {
    // The text names no table (the table is a bound value): one text per shape serves every
    // write, rendered once. It is kept only once the values made here are exactly the ones
    // sea-query bound, in its order.
    let kept = &KEPT_RECORDS[record_shape(dialect)];
    if let Some(sql) = kept.get() {
        return Ok(Stmt {
            sql: sql.clone(),
            values: record_values(dialect, c),
        });
    }
    let stmt = render_record(dialect, &c)?;
    if stmt.values == record_values(dialect, c) {
        let _ = kept.set(stmt.sql.clone());
    }
    Ok(stmt)
}

/// [`record_change`]'s text per dialect.
static KEPT_RECORDS: [std::sync::OnceLock<String>; 2] = [const { std::sync::OnceLock::new() }; 2];

fn record_shape(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Sqlite => 0,
        Dialect::Postgres => 1,
    }
}

/// Whether [`record_change`] keeps its text for this dialect.
#[cfg(test)]
pub(crate) fn record_is_kept(dialect: Dialect) -> bool {
    KEPT_RECORDS[record_shape(dialect)].get().is_some()
}

/// The values [`render_record`] binds, in the order its text binds them.
fn record_values(dialect: Dialect, c: ChangeRow<'_>) -> Values {
    let text = |s: Option<&str>| Value::from(s.map(str::to_owned));
    let mut values: Vec<Value> = Vec::with_capacity(15);
    values.push(c.table.into());
    if dialect == Dialect::Sqlite {
        // next_seq: the table and 0 for the log, the table and 0 for the erased mark, then 1.
        values.extend([
            c.table.into(),
            0i64.into(),
            c.table.into(),
            0i64.into(),
            1i64.into(),
        ]);
    }
    values.extend([
        c.op.into(),
        c.row_id.into(),
        c.at.into(),
        text(c.actor),
        text(c.role),
        text(c.request),
        Value::from(c.before),
        Value::from(c.after),
    ]);
    Values(values)
}

/// [`record_change`] rendered afresh (once per shape: it copies the images).
pub(crate) fn render_record(dialect: Dialect, c: &ChangeRow<'_>) -> Result<Stmt, ApiError> {
    let mut values = Query::select();
    let cells = [
        Expr::val(c.table),
        Expr::val(c.op),
        Expr::val(c.row_id),
        Expr::val(c.at),
        Expr::val(c.actor.map(str::to_owned)),
        Expr::val(c.role.map(str::to_owned)),
        Expr::val(c.request.map(str::to_owned)),
        Expr::val(c.before.clone()),
        Expr::val(c.after.clone()),
    ];
    let mut insert = Query::insert();
    let record = match dialect {
        Dialect::Sqlite => {
            let mut numbered: Vec<Expr> = cells.into();
            numbered.insert(1, next_seq(c.table));
            values.exprs(numbered);
            insert
                .into_table(tbl(CHANGES_TABLE))
                .columns(COLUMNS.map(tbl));
            insert.select_from(values).map(|q| render(dialect, q))
        }
        Dialect::Postgres => {
            values.exprs(cells);
            insert
                .into_table(tbl(INBOX_TABLE))
                .columns(UNNUMBERED.map(tbl));
            insert.select_from(values).map(|q| render(dialect, q))
        }
    };
    // As many values as columns: an error here is a bug in this function.
    record.map_err(ApiError::internal)
}

/// Postgres: tells every listening instance that the logs of `tables` grew — one notification
/// per table on [`CHANNEL`], sent by the writer after its commits (the store's announcer),
/// outside any write's transaction.
pub fn announce(tables: &[String]) -> Stmt {
    let mut q = Query::select();
    for table in tables {
        q.expr(
            Func::cust(tbl("pg_notify"))
                .arg(CHANNEL)
                .arg(table.as_str()),
        );
    }
    render(Dialect::Postgres, &q)
}

/// SQLite: the number after the highest the table's log ever held — the highest it holds, or
/// the highest erased from it if that is higher (a purge may take the newest). Two reads of
/// primary keys inside the record's own INSERT: the single writer runs them in commit order,
/// and no counter row is written per change.
fn next_seq(table: &str) -> Expr {
    let or_zero = |q: Expr| Func::coalesce([q, Expr::val(0i64)]);
    let (held, erased) = (or_zero(highest_held(table)), or_zero(erased_mark(table)));
    // SQLite's `max` of two arguments is the larger one.
    Expr::from(Func::cust(tbl("max")).args([held.into(), erased.into()])).add(1i64)
}

/// `(SELECT MAX(seq) …)`: the highest number `table`'s log holds (NULL: none).
fn highest_held(table: &str) -> Expr {
    let mut q = Query::select();
    q.expr(Func::max(Expr::col(tbl("seq"))))
        .from(tbl(CHANGES_TABLE))
        .and_where(col("tbl").eq(table));
    Expr::SubQuery(None, Box::new(q.into()))
}

/// `(SELECT seq FROM _ward_change_erased …)`: the highest number ever erased from `table`'s log
/// (NULL: none).
fn erased_mark(table: &str) -> Expr {
    let mut q = Query::select();
    q.column(tbl("seq"))
        .from(tbl(ERASED_TABLE))
        .and_where(col("tbl").eq(table));
    Expr::SubQuery(None, Box::new(q.into()))
}

/// Postgres: one row (an inbox id) when some record waits in the inbox, none otherwise.
pub fn any_pending() -> Stmt {
    let mut q = Query::select();
    q.column(tbl("id")).from(tbl(INBOX_TABLE)).limit(1);
    render(Dialect::Postgres, &q)
}

/// Postgres: the lock numbering passes take in turn, held to the end of the pass's transaction,
/// so the numbers of a later pass are all larger and committed after those of an earlier one.
pub fn numbering_lock() -> Stmt {
    let mut q = Query::select();
    q.expr(
        Func::cust(tbl("pg_advisory_xact_lock"))
            .arg(NUMBERING_LOCK.0)
            .arg(NUMBERING_LOCK.1),
    );
    render(Dialect::Postgres, &q)
}

/// Postgres: moves at most `limit` committed records from the inbox into the log, numbering
/// them from the sequence in the order they were appended. Run under [`numbering_lock`], in a
/// READ COMMITTED transaction: it sees every record committed before it, and the records of a
/// transaction that commits later are numbered by a later pass, with larger numbers. Two
/// changes of one row are appended in the order they happened (the second write waited for the
/// first's row lock, so its record came later), so a row's versions keep their order.
///
/// Fixed text (sea-query renders no data-modifying CTE); its one value, the limit, is bound.
pub fn number_pending(limit: u64) -> Stmt {
    let columns = |prefix: &str| {
        UNNUMBERED
            .iter()
            .map(|c| format!("{prefix}\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = format!(
        "WITH \"moved\" AS (DELETE FROM \"{INBOX_TABLE}\" WHERE \"id\" IN \
         (SELECT \"id\" FROM \"{INBOX_TABLE}\" ORDER BY \"id\" LIMIT $1) RETURNING *) \
         INSERT INTO \"{CHANGES_TABLE}\" (\"seq\", {all}) \
         SELECT nextval('\"{SEQUENCE}\"'), {moved} FROM \
         (SELECT * FROM \"moved\" ORDER BY \"id\") AS \"m\"",
        all = columns(""),
        moved = columns("\"m\"."),
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Stmt {
        sql,
        values: sea_query::Values(vec![limit.into()]),
    }
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
    let mut q = Query::select();
    q.expr(highest_held(table)).expr(erased_mark(table));
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
