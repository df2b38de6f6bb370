//! Statements over sets of rows linked by references: the batched lookups behind labels and
//! `expand` (`WHERE id IN (…)`, first N children per parent), and the id-set steps of a soft-delete
//! cascade and a restore. Every value is bound; identifiers come from the IR.

use sea_query::{
    Cond, Condition as SqlCond, Expr, ExprTrait, Frame, FrameType, Order, Query, WindowStatement,
};
use serde_json::Value as Json;
use ward_ir::{CompareOp, system};

use super::predicate::{column_type, compare};
use super::value::to_db;
use super::{Stmt, col, never, render, tbl};
use crate::snapshot::TablePlan;

/// Largest number of values bound into one `IN (…)`: a whole page (at most 1000 rows) fits in one
/// statement, and it stays far below SQLite's variable limit (32,766), so a statement never fails
/// on the number of its parameters.
pub const IN_CHUNK: usize = 1000;

/// `column IN (values…)`, typed by the column.
pub fn column_in(plan: &TablePlan, column: &str, values: &[Json]) -> Expr {
    let ty = column_type(plan, column);
    compare(
        plan,
        column,
        CompareOp::In,
        values.iter().map(|v| to_db(ty, v)).collect(),
    )
}

/// `column = value`, typed by the column; `IS NULL` for `null`.
pub fn column_eq(plan: &TablePlan, column: &str, value: &Json) -> Expr {
    if value.is_null() {
        col(column).is_null()
    } else {
        compare(
            plan,
            column,
            CompareOp::Eq,
            vec![to_db(column_type(plan, column), value)],
        )
    }
}

/// `id <> column`: leaves out the rows whose `column` references the row itself (a reference to
/// oneself never stands in the way of one's own delete, in SQL as in ward).
pub fn not_self(column: &str) -> Expr {
    col(system::ID).ne(col(column))
}

/// `SELECT id FROM T WHERE cond`.
pub fn select_ids(plan: &TablePlan, cond: SqlCond) -> Stmt {
    let mut q = Query::select();
    q.from(tbl(plan.name()))
        .column(tbl(system::ID))
        .cond_where(cond);
    render(plan.dialect, &q)
}

/// Scopes plus `deletedAt IS NOT NULL`: the soft-deleted rows the firewall would otherwise show,
/// which only restore and `?deleted=only` may reach. A hard-delete table has none.
pub fn deleted_in_scope(plan: &TablePlan, gate: &crate::gate::Gate) -> SqlCond {
    if !plan.soft {
        return Cond::all().add(never());
    }
    let mut c = Cond::all();
    for s in &gate.scopes {
        c = c.add(col(&s.column).eq(s.value.as_str()));
    }
    c.add(col(system::DELETED_AT).is_not_null())
}

/// Child rows among `ids` whose `column` points at a soft-deleted row of `target`: what a restore
/// must not bring back to life.
pub fn dangling(child: &TablePlan, ids: &[Json], column: &str, target: &TablePlan) -> Stmt {
    let mut deleted = Query::select();
    deleted
        .from(tbl(target.name()))
        .column(tbl(system::ID))
        .and_where(col(system::DELETED_AT).is_not_null());
    let mut q = Query::select();
    q.from(tbl(child.name()))
        .column(tbl(system::ID))
        .and_where(column_in(child, system::ID, ids))
        .and_where(col(column).in_subquery(deleted))
        .limit(1);
    render(child.dialect, &q)
}

/// The rank column of [`first_children`]'s inner query.
const RANK: &str = "_ward_rank";
const PAGE: &str = "_ward_page";

/// Every column of `child` for the rows matching `cond`, at most `per_parent` per value of `via`,
/// newest first (`-createdAt`, then `-id`), grouped by `via`. One statement for a whole page of
/// parents: a running `COUNT(*)` over the partition numbers the rows (a `ROWS` frame counts each
/// row once, so it equals the row number without a raw function call).
pub fn first_children(child: &TablePlan, via: &str, cond: SqlCond, per_parent: u64) -> Stmt {
    let mut window = WindowStatement::partition_by(tbl(via));
    window
        .order_by(tbl(system::CREATED_AT), Order::Desc)
        .order_by(tbl(system::ID), Order::Desc)
        .frame_start(FrameType::Rows, Frame::UnboundedPreceding);
    let mut inner = Query::select();
    inner.from(tbl(child.name()));
    for c in child.columns() {
        inner.column(tbl(&c.name));
    }
    inner
        .expr_window_as(Expr::col(sea_query::Asterisk).count(), window, tbl(RANK))
        .cond_where(cond);
    let mut q = Query::select();
    for c in child.columns() {
        q.column(tbl(&c.name));
    }
    q.from_subquery(inner, tbl(PAGE))
        .and_where(col(RANK).lte(i64::try_from(per_parent).unwrap_or(i64::MAX)))
        .order_by(tbl(via), Order::Asc)
        .order_by(tbl(RANK), Order::Asc);
    render(child.dialect, &q)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;
    use ward_ir::Operation;

    use super::*;
    use crate::security::gate;
    use crate::sql::predicate;
    use crate::test_support::{caller, snapshot};

    #[test]
    fn first_children_is_one_windowed_statement() {
        let snap = snapshot();
        let plan = snap.table("rooms").unwrap();
        let m = caller(Some("m"), &["member"], Some("acme"));
        let g = gate(plan, Operation::List, &m).unwrap();
        let cond = predicate::visibility(plan, &g, &m, "now", true).add(column_in(
            plan,
            "ownerId",
            &[json!("a"), json!("b")],
        ));
        let st = first_children(plan, "ownerId", cond, 100);
        assert_eq!(
            st.sql,
            r#"SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM (SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy", COUNT(*) OVER ( PARTITION BY "ownerId" ORDER BY "createdAt" DESC, "id" DESC ROWS UNBOUNDED PRECEDING ) AS "_ward_rank" FROM "rooms" WHERE "org" = ? AND "deletedAt" IS NULL AND "ownerId" IN (?, ?)) AS "_ward_page" WHERE "_ward_rank" <= ? ORDER BY "ownerId" ASC, "_ward_rank" ASC"#
        );
        assert_eq!(st.values.0.len(), 4);
    }

    #[test]
    fn restore_statements() {
        let snap = snapshot();
        let plan = snap.table("rooms").unwrap();
        let m = caller(Some("m"), &["member"], Some("acme"));
        let g = gate(plan, Operation::List, &m).unwrap();
        let st = select_ids(plan, deleted_in_scope(plan, &g));
        assert_eq!(
            st.sql,
            r#"SELECT "id" FROM "rooms" WHERE "org" = ? AND "deletedAt" IS NOT NULL"#
        );
        let st = dangling(
            plan,
            &[json!("00000000-0000-4000-8000-000000000001")],
            "ownerId",
            plan,
        );
        assert_eq!(
            st.sql,
            r#"SELECT "id" FROM "rooms" WHERE "id" IN (?) AND "ownerId" IN (SELECT "id" FROM "rooms" WHERE "deletedAt" IS NOT NULL) LIMIT ?"#
        );
    }
}
