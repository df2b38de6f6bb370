//! The only place SQL text is made: every statement is a sea-query statement rendered for the
//! store's dialect with bound values. Identifiers come from the IR, values are always bound
//! parameters.

pub mod by_id;
pub mod changes;
pub mod ddl;
pub mod dml;
pub mod files;
pub mod filter;
pub mod kept;
pub mod predicate;
pub mod related;
pub mod tx;
pub mod value;

#[cfg(test)]
mod tests;

use sea_query::{Alias, Expr, PostgresQueryBuilder, QueryStatementWriter, SqliteQueryBuilder};

/// The SQL dialect a store speaks. Statements are rendered once per request for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A rendered statement and its bound values (bound by the store, per backend).
#[derive(Debug, Clone)]
pub struct Stmt {
    pub sql: String,
    pub values: sea_query::Values,
}

impl Stmt {
    /// A statement without bound values: DDL and other text made from the IR alone (or, in
    /// tests, fixed text).
    pub(crate) fn unbound(sql: impl Into<String>) -> Stmt {
        Stmt {
            sql: sql.into(),
            values: sea_query::Values(Vec::new()),
        }
    }
}

pub(crate) fn render<S: QueryStatementWriter>(dialect: Dialect, s: &S) -> Stmt {
    let (sql, values) = match dialect {
        Dialect::Sqlite => s.build(SqliteQueryBuilder),
        Dialect::Postgres => s.build(PostgresQueryBuilder),
    };
    Stmt { sql, values }
}

pub(crate) fn col(name: &str) -> Expr {
    Expr::col(Alias::new(name))
}

pub(crate) fn tbl(name: &str) -> Alias {
    Alias::new(name)
}

/// A predicate that never holds (an empty `any`, a page past the last row): a bound `false`,
/// which both dialects accept as a whole condition.
pub(crate) fn never() -> Expr {
    Expr::val(false)
}

/// A predicate that is SQL NULL, i.e. unknown: a comparison with an auth value the caller lacks.
/// Unknown never selects a row and `NOT unknown` is still unknown, so wrapping the comparison in
/// `not { … }` cannot widen what the caller sees, as `false` would (docs/decisions.md).
pub(crate) fn unknown() -> Expr {
    // A bound NULL boolean; no SQL text is made by hand.
    Expr::val(sea_query::Value::Bool(None))
}

/// `SELECT CURRENT_TIMESTAMP`: the real query `/readyz` asks the database (a constant without a
/// bound value, which Postgres could not type).
pub(crate) fn ping(dialect: Dialect) -> Stmt {
    let mut q = sea_query::Query::select();
    q.expr(Expr::current_timestamp());
    render(dialect, &q)
}
