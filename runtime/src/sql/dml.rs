//! SELECT, INSERT, UPDATE and DELETE statements for one table. Callers pass the visibility
//! conditions; every write carries them in its own WHERE.

use sea_query::{Cond, Condition as SqlCond, Expr, ExprTrait, Order, Query};
use serde_json::{Map, Value as Json};
use ward_ir::system;

use super::filter::SortKey;
use super::value::{id_type, to_db};
use super::{Stmt, col, render, tbl};
use crate::snapshot::TablePlan;

pub fn id_eq(plan: &TablePlan, id: &Json) -> Expr {
    col(system::ID).eq(to_db(id_type(plan.def.id), id))
}

/// `id IN (…)`: a batch reads all its rows with one statement.
pub fn ids_in(plan: &TablePlan, ids: &[Json]) -> Expr {
    let ty = id_type(plan.def.id);
    col(system::ID).is_in(ids.iter().map(|id| to_db(ty, id)))
}

pub fn by_id(plan: &TablePlan, id: &Json) -> SqlCond {
    Cond::all().add(id_eq(plan, id))
}

/// Every column, in column order (what `store::row` reads back).
pub fn select(
    plan: &TablePlan,
    cond: SqlCond,
    sort: &[SortKey],
    limit: Option<u64>,
    offset: u64,
) -> Stmt {
    let mut q = Query::select();
    q.from(tbl(plan.name()));
    for c in plan.columns() {
        q.column(tbl(&c.name));
    }
    q.cond_where(cond);
    for k in sort {
        q.order_by(
            tbl(&k.column),
            if k.desc { Order::Desc } else { Order::Asc },
        );
    }
    if let Some(l) = limit {
        q.limit(l);
    }
    if offset > 0 {
        q.offset(offset);
    }
    render(&q)
}

pub fn count(plan: &TablePlan, cond: SqlCond) -> Stmt {
    let mut q = Query::select();
    q.from(tbl(plan.name()))
        .expr(Expr::col(sea_query::Asterisk).count())
        .cond_where(cond);
    render(&q)
}

/// `SELECT id … LIMIT 1`: whether a row matching `cond` exists.
pub fn exists(plan: &TablePlan, cond: SqlCond) -> Stmt {
    let mut q = Query::select();
    q.from(tbl(plan.name()))
        .column(tbl(system::ID))
        .cond_where(cond)
        .limit(1);
    render(&q)
}

/// INSERT of the given columns (in column order).
pub fn insert(plan: &TablePlan, row: &Map<String, Json>) -> Result<Stmt, String> {
    let mut cols = Vec::new();
    let mut vals: Vec<Expr> = Vec::new();
    for c in plan.columns() {
        if let Some(v) = row.get(&c.name) {
            cols.push(tbl(&c.name));
            vals.push(to_db(c.ty, v).into());
        }
    }
    let mut q = Query::insert();
    q.into_table(tbl(plan.name())).columns(cols);
    q.values(vals).map_err(|e| e.to_string())?;
    Ok(render(&q))
}

/// Bound values per statement, under SQLite's default limit of 32,766 variables.
const MAX_BOUND: usize = 30_000;

/// Multi-row INSERTs of `rows` (chunked under the bound-value limit), over the union of their
/// columns: a column a row lacks has no default (validation filled those), so NULL is what a
/// single-row INSERT would have stored. With `returning_id` each statement returns the new ids.
pub fn insert_many(
    plan: &TablePlan,
    rows: &[&Map<String, Json>],
    returning_id: bool,
) -> Result<Vec<Stmt>, String> {
    let cols: Vec<&ward_ir::Column> = plan
        .columns()
        .iter()
        .filter(|c| rows.iter().any(|r| r.contains_key(&c.name)))
        .collect();
    let per_stmt = (MAX_BOUND / cols.len().max(1)).max(1);
    let mut out = Vec::new();
    for chunk in rows.chunks(per_stmt) {
        let mut q = Query::insert();
        q.into_table(tbl(plan.name()))
            .columns(cols.iter().map(|c| tbl(&c.name)));
        for r in chunk {
            let vals: Vec<Expr> = cols
                .iter()
                .map(|c| to_db(c.ty, r.get(&c.name).unwrap_or(&Json::Null)).into())
                .collect();
            q.values(vals).map_err(|e| e.to_string())?;
        }
        if returning_id {
            q.returning_col(tbl(system::ID));
        }
        out.push(render(&q));
    }
    Ok(out)
}

/// UPDATE of `changes` on the row `id` that still satisfies `cond`.
pub fn update(plan: &TablePlan, id: &Json, changes: &Map<String, Json>, cond: SqlCond) -> Stmt {
    update_where(plan, changes, cond.add(id_eq(plan, id)))
}

/// UPDATE of `changes` on every row that satisfies `cond`.
pub fn update_where(plan: &TablePlan, changes: &Map<String, Json>, cond: SqlCond) -> Stmt {
    let mut q = Query::update();
    q.table(tbl(plan.name()));
    for c in plan.columns() {
        if let Some(v) = changes.get(&c.name) {
            q.value(tbl(&c.name), to_db(c.ty, v));
        }
    }
    q.cond_where(cond);
    render(&q)
}

pub fn delete(plan: &TablePlan, id: &Json, cond: SqlCond) -> Stmt {
    let mut q = Query::delete();
    q.from_table(tbl(plan.name()))
        .cond_where(cond.add(id_eq(plan, id)));
    render(&q)
}
