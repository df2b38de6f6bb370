//! The only place SQL text is made: every statement is a sea-query statement rendered for SQLite
//! with bound values. Identifiers come from the IR, values are always bound parameters.

pub mod ddl;
pub mod dml;
pub mod filter;
pub mod predicate;
pub mod related;
pub mod value;

#[cfg(test)]
mod tests;

use sea_query::{Alias, Expr, ExprTrait, SqliteQueryBuilder};
use sea_query_rusqlite::{RusqliteBinder, RusqliteValues};

/// A rendered statement and its bound values.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub sql: String,
    pub values: RusqliteValues,
}

impl Stmt {
    pub fn params(&self) -> Vec<&dyn rusqlite::ToSql> {
        self.values.as_params()
    }
}

pub(crate) fn render<S: RusqliteBinder>(s: &S) -> Stmt {
    let (sql, values) = s.build_rusqlite(SqliteQueryBuilder);
    Stmt { sql, values }
}

pub(crate) fn col(name: &str) -> Expr {
    Expr::col(Alias::new(name))
}

pub(crate) fn tbl(name: &str) -> Alias {
    Alias::new(name)
}

/// A predicate that never holds (an empty `any`, a page past the last row).
pub(crate) fn never() -> Expr {
    Expr::value(1).eq(0)
}

/// A predicate that is SQL NULL, i.e. unknown: a comparison with an auth value the caller lacks.
/// Unknown never selects a row and `NOT unknown` is still unknown, so wrapping the comparison in
/// `not { … }` cannot widen what the caller sees, as `1=0` would (docs/decisions.md).
pub(crate) fn unknown() -> Expr {
    // A bound NULL compared with anything is NULL; no SQL text is made by hand.
    Expr::value(sea_query::Value::Int(None)).eq(1)
}
