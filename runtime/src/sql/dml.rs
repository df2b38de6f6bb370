//! SELECT, INSERT, UPDATE and DELETE statements for one table. Callers pass the visibility
//! conditions; every write carries them in its own WHERE.

use sea_query::{
    Cond, Condition as SqlCond, Expr, ExprTrait, NullOrdering, OnConflict, Order, Query, Values,
};
use serde_json::{Map, Value as Json};
use ward_ir::{CompareOp, system};

use super::filter::SortKey;
use super::predicate::compare;
use super::value::{id_type, to_db};
use super::{Dialect, Stmt, render, tbl};
use crate::snapshot::TablePlan;

/// `id = …`; an id that cannot be one of the table's (a batch body's `"a/b"` on a uuid table)
/// matches nothing.
pub fn id_eq(plan: &TablePlan, id: &Json) -> Expr {
    compare(
        plan,
        system::ID,
        CompareOp::Eq,
        vec![to_db(id_type(plan.def.id), id)],
    )
}

/// `id IN (…)`: a batch reads all its rows with one statement.
pub fn ids_in(plan: &TablePlan, ids: &[Json]) -> Expr {
    let ty = id_type(plan.def.id);
    compare(
        plan,
        system::ID,
        CompareOp::In,
        ids.iter().map(|id| to_db(ty, id)).collect(),
    )
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
    render(plan.dialect, &select_query(plan, cond, sort, limit, offset))
}

/// The row `id`, every column, locked until the transaction ends (`FOR UPDATE` on Postgres;
/// SQLite's single writer needs no row lock): the `before` image of an update that follows it
/// in a READ COMMITTED transaction, which no other write can change in between.
pub fn select_for_update(plan: &TablePlan, id: &Json) -> Stmt {
    let mut q = select_query(plan, by_id(plan, id), &[], Some(1), 0);
    if plan.dialect == Dialect::Postgres {
        q.lock(sea_query::LockType::Update);
    }
    render(plan.dialect, &q)
}

fn select_query(
    plan: &TablePlan,
    cond: SqlCond,
    sort: &[SortKey],
    limit: Option<u64>,
    offset: u64,
) -> sea_query::SelectStatement {
    let mut q = Query::select();
    q.from(tbl(plan.name()));
    for c in plan.columns() {
        q.column(tbl(&c.name));
    }
    q.cond_where(cond);
    for k in sort {
        // SQLite's default NULL placement everywhere, so that every page, and the keyset
        // predicates after it, are ordered the same way on both backends. Spelled out for
        // Postgres only (NULLs last ascending there): SQLite does not walk an index for an
        // explicit NULLS clause, even one that names its default, and sorts the whole match.
        let (order, nulls) = if k.desc {
            (Order::Desc, NullOrdering::Last)
        } else {
            (Order::Asc, NullOrdering::First)
        };
        match plan.dialect {
            Dialect::Sqlite => q.order_by(tbl(&k.column), order),
            Dialect::Postgres => q.order_by_with_nulls(tbl(&k.column), order, nulls),
        };
    }
    if let Some(l) = limit {
        q.limit(l);
    }
    if offset > 0 {
        q.offset(offset);
    }
    q
}

pub fn count(plan: &TablePlan, cond: SqlCond) -> Stmt {
    let mut q = Query::select();
    q.from(tbl(plan.name()))
        .expr(Expr::col(sea_query::Asterisk).count())
        .cond_where(cond);
    render(plan.dialect, &q)
}

/// `SELECT id … LIMIT 1`: whether a row matching `cond` exists.
pub fn exists(plan: &TablePlan, cond: SqlCond) -> Stmt {
    let mut q = Query::select();
    q.from(tbl(plan.name()))
        .column(tbl(system::ID))
        .cond_where(cond)
        .limit(1);
    render(plan.dialect, &q)
}

/// INSERT of the given columns (in column order); an integer-id table returns the new id.
pub fn insert(plan: &TablePlan, row: &Map<String, Json>) -> Result<Stmt, String> {
    let mut q = insert_statement(plan, row)?;
    if plan.def.id == ward_ir::IdKind::Integer && !row.contains_key(system::ID) {
        q.returning_col(tbl(system::ID));
    }
    Ok(render(plan.dialect, &q))
}

/// INSERT of the given columns returning the whole stored row, in column order (what
/// `store::row` reads back): the write's answer without reading the row again.
/// Rendered once per table and set of columns ([`super::kept`]).
pub fn insert_returning(plan: &TablePlan, row: &Map<String, Json>) -> Result<Stmt, String> {
    let sets = |c: &ward_ir::Column| row.contains_key(&c.name);
    let fits = |shape: &Vec<bool>| shape.iter().copied().eq(plan.columns().iter().map(sets));
    let values = Values(
        plan.columns()
            .iter()
            .filter_map(|c| row.get(&c.name).map(|v| to_db(c.ty, v)))
            .collect(),
    );
    if let Some(sql) = plan.kept.inserts.find(fits) {
        return Ok(Stmt { sql, values });
    }
    let stmt = render_insert_returning(plan, row)?;
    if stmt.values == values {
        let shape = plan.columns().iter().map(sets).collect();
        plan.kept.inserts.keep(shape, fits, &stmt.sql);
    }
    Ok(stmt)
}

/// [`insert_returning`] rendered afresh.
pub(crate) fn render_insert_returning(
    plan: &TablePlan,
    row: &Map<String, Json>,
) -> Result<Stmt, String> {
    let mut q = insert_statement(plan, row)?;
    q.returning(every_column(plan));
    Ok(render(plan.dialect, &q))
}

/// INSERT of a row with a client-chosen id that does nothing when the id is taken: the caller
/// sees no row returned and answers as it would for an invisible row. A statement that cannot
/// fail on the key leaves a Postgres transaction usable, unlike a caught constraint error.
/// Returns the whole stored row when it inserted one.
pub fn insert_if_new(plan: &TablePlan, row: &Map<String, Json>) -> Result<Stmt, String> {
    let mut q = insert_statement(plan, row)?;
    q.on_conflict(OnConflict::column(tbl(system::ID)).do_nothing().to_owned());
    q.returning(every_column(plan));
    Ok(render(plan.dialect, &q))
}

/// `RETURNING` every column, in column order.
fn every_column(plan: &TablePlan) -> sea_query::ReturningClause {
    Query::returning().columns(plan.columns().iter().map(|c| tbl(&c.name)))
}

fn insert_statement(
    plan: &TablePlan,
    row: &Map<String, Json>,
) -> Result<sea_query::InsertStatement, String> {
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
    Ok(q)
}

/// Bound values per statement, under SQLite's default limit of 32,766 variables (Postgres allows
/// 65,535).
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
        out.push(render(plan.dialect, &q));
    }
    Ok(out)
}

/// UPDATE of `changes` on the row `id` that still satisfies `cond`, returning the whole row as
/// the UPDATE left it (no row: `cond` no longer held).
pub fn update_returning(
    plan: &TablePlan,
    id: &Json,
    changes: &Map<String, Json>,
    cond: SqlCond,
) -> Stmt {
    let mut q = update_statement(plan, changes, cond.add(id_eq(plan, id)));
    q.returning(every_column(plan));
    render(plan.dialect, &q)
}

/// UPDATE of `changes` on every row that satisfies `cond`.
pub fn update_where(plan: &TablePlan, changes: &Map<String, Json>, cond: SqlCond) -> Stmt {
    render(plan.dialect, &update_statement(plan, changes, cond))
}

fn update_statement(
    plan: &TablePlan,
    changes: &Map<String, Json>,
    cond: SqlCond,
) -> sea_query::UpdateStatement {
    let mut q = Query::update();
    q.table(tbl(plan.name()));
    for c in plan.columns() {
        if let Some(v) = changes.get(&c.name) {
            q.value(tbl(&c.name), to_db(c.ty, v));
        }
    }
    q.cond_where(cond);
    q
}

pub fn delete(plan: &TablePlan, id: &Json, cond: SqlCond) -> Stmt {
    let mut q = Query::delete();
    q.from_table(tbl(plan.name()))
        .cond_where(cond.add(id_eq(plan, id)));
    render(plan.dialect, &q)
}
