//! List filters, search and keyset (cursor) predicates as SQL.

use sea_query::{Cond, Condition as SqlCond, Expr, ExprTrait};
use serde_json::Value as Json;
use ward_ir::{ColumnType, CompareOp};

use super::predicate::compare;
use super::value::to_db;
use super::{col, never};
use crate::snapshot::TablePlan;

/// Most filters in one list request.
pub const MAX_FILTERS: usize = 100;
/// Most values of one `in`/`not-in` filter (one `IN (…)` chunk's worth).
pub const MAX_IN_VALUES: usize = 1000;
/// Most filter values in one request, all bound into one statement: far below SQLite's limit of
/// 32,766 variables, with room for the visibility, search and cursor predicates beside them, so a
/// list never fails as a 500 on the number of its parameters.
pub const MAX_FILTER_VALUES: usize = 10_000;

/// One `FIELD.OP=V` filter with typed values.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub column: String,
    pub op: CompareOp,
    pub values: Vec<Json>,
}

/// One sort key; `id` always ends the list.
pub use ward_ir::SortKey;

fn ty(plan: &TablePlan, column: &str) -> ColumnType {
    super::predicate::column_type(plan, column)
}

pub fn filters(plan: &TablePlan, filters: &[Filter]) -> SqlCond {
    filters.iter().fold(Cond::all(), |acc, f| {
        let t = ty(plan, &f.column);
        let vals = f.values.iter().map(|v| to_db(t, v)).collect();
        acc.add(compare(plan, &f.column, f.op, vals))
    })
}

/// `search=TEXT`: any of the given columns contains TEXT.
pub fn search(plan: &TablePlan, columns: &[String], text: &str) -> SqlCond {
    if columns.is_empty() {
        return Cond::all().add(never());
    }
    columns.iter().fold(Cond::any(), |acc, c| {
        acc.add(compare(
            plan,
            c,
            CompareOp::Like,
            vec![sea_query::Value::String(Some(text.to_owned()))],
        ))
    })
}

/// Rows strictly after the row whose sort values are `after`, in `sort` order. Lists sort NULL
/// first ascending and last descending (SQLite's default, explicit on both backends); the
/// predicates follow that.
pub fn keyset(plan: &TablePlan, sort: &[SortKey], after: &[Json]) -> SqlCond {
    let mut any = Cond::any();
    for (i, key) in sort.iter().enumerate() {
        let mut branch = Cond::all();
        for (k, v) in sort.iter().zip(after).take(i) {
            branch = branch.add(same(plan, &k.column, v));
        }
        let Some(v) = after.get(i) else {
            return Cond::all().add(never());
        };
        branch = branch.add(beyond(plan, key, v));
        any = any.add(branch);
    }
    any
}

fn same(plan: &TablePlan, column: &str, v: &Json) -> Expr {
    if v.is_null() {
        col(column).is_null()
    } else {
        col(column).eq(to_db(ty(plan, column), v))
    }
}

fn beyond(plan: &TablePlan, key: &SortKey, v: &Json) -> Expr {
    let c = col(&key.column);
    match (key.desc, v.is_null()) {
        (false, true) => c.is_not_null(),
        (false, false) => c.gt(to_db(ty(plan, &key.column), v)),
        (true, true) => never(),
        (true, false) => c
            .clone()
            .lt(to_db(ty(plan, &key.column), v))
            .or(c.is_null()),
    }
}
