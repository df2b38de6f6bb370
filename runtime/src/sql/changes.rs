//! The change log's statements (SPEC §11): its two bookkeeping tables, the per-table counter
//! that numbers changes in commit order, the record of one change, and the reads of a row's
//! versions. Table names and ids are bound values like any other.

use sea_query::{
    Alias, ColumnDef, Expr, ExprTrait, Index, OnConflict, Order, Query, SchemaStatementBuilder,
    Table,
};

use super::{Dialect, Stmt, col, render, tbl};

/// One record per change of a row of a table that logs its changes.
pub const CHANGES_TABLE: &str = "_ward_changes";
/// The last `seq` handed out per table.
pub const COUNTER_TABLE: &str = "_ward_change_seq";

/// The change log's columns, in the order [`insert_change`] binds and [`versions`] reads them.
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
    let mut counter = Table::create();
    counter
        .table(tbl(COUNTER_TABLE))
        .if_not_exists()
        .col(text("tbl", true).primary_key())
        .col(
            ColumnDef::new(tbl("seq"))
                .custom(integer(dialect))
                .not_null(),
        );
    if dialect == Dialect::Sqlite {
        // Keyed by their primary keys alone: one B-tree each instead of a rowid table and a
        // key index, so a logged write changes fewer pages.
        changes.extra("WITHOUT ROWID, STRICT");
        counter.extra("WITHOUT ROWID, STRICT");
    }
    let by_row = Index::create()
        .if_not_exists()
        .name("ix__ward_changes_row")
        .table(tbl(CHANGES_TABLE))
        .col(tbl("tbl"))
        .col(tbl("row_id"))
        .col(tbl("seq"))
        .to_owned();
    vec![
        schema_sql(dialect, &changes),
        schema_sql(dialect, &counter),
        schema_sql(dialect, &by_row),
    ]
}

/// Takes `table`'s next `seq`. The counter row stays locked until the transaction ends, so
/// writers of one table hand out numbers in the order they commit (SQLite has one writer
/// anyway); a sequence or a clock would not.
pub fn next_seq(dialect: Dialect, table: &str) -> Stmt {
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
        )
        .returning_col(tbl("seq"));
    render(dialect, &q)
}

/// One change record; `before`/`after` are the stored rows as JSON text.
pub struct ChangeRow<'a> {
    pub table: &'a str,
    pub seq: i64,
    pub op: &'a str,
    pub row_id: &'a str,
    pub at: &'a str,
    pub actor: Option<&'a str>,
    pub role: Option<&'a str>,
    pub request: Option<&'a str>,
    pub before: Option<String>,
    pub after: Option<String>,
}

pub fn insert_change(dialect: Dialect, c: ChangeRow<'_>) -> Stmt {
    let mut q = Query::insert();
    q.into_table(tbl(CHANGES_TABLE))
        .columns(COLUMNS.map(tbl))
        .values_panic([
            c.table.into(),
            c.seq.into(),
            c.op.into(),
            c.row_id.into(),
            c.at.into(),
            c.actor.map(str::to_owned).into(),
            c.role.map(str::to_owned).into(),
            c.request.map(str::to_owned).into(),
            c.before.into(),
            c.after.into(),
        ]);
    render(dialect, &q)
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
    let mut q = Query::delete();
    q.from_table(tbl(CHANGES_TABLE))
        .and_where(col("tbl").eq(table))
        .and_where(col("seq").in_subquery(oldest));
    render(dialect, &q)
}

/// Every change of `table`, oldest first.
pub fn all(dialect: Dialect, table: &str) -> Stmt {
    let mut q = Query::select();
    q.from(tbl(CHANGES_TABLE))
        .columns(COLUMNS.map(tbl))
        .and_where(col("tbl").eq(table))
        .order_by(tbl("seq"), Order::Asc);
    render(dialect, &q)
}

/// The versions of one row, newest first, below `below` (a cursor's seq) when given.
pub fn versions(
    dialect: Dialect,
    table: &str,
    row_id: &str,
    below: Option<i64>,
    limit: u64,
) -> Stmt {
    let mut q = Query::select();
    q.from(tbl(CHANGES_TABLE))
        .columns(COLUMNS.map(tbl))
        .and_where(col("tbl").eq(table))
        .and_where(col("row_id").eq(row_id));
    if let Some(seq) = below {
        q.and_where(col("seq").lt(seq));
    }
    q.order_by(tbl("seq"), Order::Desc).limit(limit);
    render(dialect, &q)
}
