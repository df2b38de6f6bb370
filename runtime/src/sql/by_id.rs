//! The read of one row by id, the hottest statement there is. Its text depends only on the
//! table, the scope columns the caller's firewall applies and whether soft-deleted rows are
//! filtered, so each table plan (one IR version) renders it once per such shape and a request
//! makes only its values. A gate with an access residual is rendered afresh: a residual's shape
//! varies with the caller's auth values.

use std::sync::RwLock;

use sea_query::{Value, Values};
use serde_json::Value as Json;

use super::value::{id_type, to_db};
use super::{Stmt, dml, predicate};
use crate::security::Gate;
use crate::security::identity::Caller;
use crate::snapshot::TablePlan;

/// Shapes kept per table: one per subset of the firewall's scopes a caller can have, and soft
/// delete on or off. Past this, statements are rendered per request rather than kept.
const SHAPES_KEPT: usize = 16;

/// The rendered reads by id of one table plan, by shape.
#[derive(Debug, Default)]
pub struct Rendered {
    shapes: RwLock<Vec<Shape>>,
}

#[derive(Debug)]
struct Shape {
    scope_columns: Vec<String>,
    soft_filter: bool,
    sql: String,
}

impl Shape {
    fn fits(&self, gate: &Gate, soft_filter: bool) -> bool {
        self.soft_filter == soft_filter
            && self
                .scope_columns
                .iter()
                .eq(gate.scopes.iter().map(|s| &s.column))
    }
}

impl Rendered {
    fn find(&self, gate: &Gate, soft_filter: bool) -> Option<String> {
        let shapes = self.shapes.read().unwrap_or_else(|e| e.into_inner());
        shapes
            .iter()
            .find(|s| s.fits(gate, soft_filter))
            .map(|s| s.sql.clone())
    }

    fn keep(&self, gate: &Gate, soft_filter: bool, sql: &str) {
        let mut shapes = self.shapes.write().unwrap_or_else(|e| e.into_inner());
        if shapes.len() < SHAPES_KEPT && !shapes.iter().any(|s| s.fits(gate, soft_filter)) {
            shapes.push(Shape {
                scope_columns: gate.scopes.iter().map(|s| s.column.clone()).collect(),
                soft_filter,
                sql: sql.to_owned(),
            });
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shapes.read().map_or(0, |s| s.len())
    }
}

/// `SELECT <every column> FROM t WHERE <visible to the caller> AND id = ?`: the statement
/// `dml::select` makes from `predicate::visibility` and `dml::id_eq`, rendered once per shape. No
/// `LIMIT`: the id is the primary key, and on Postgres a bound limit cost the server 10 % more
/// CPU per read (a Limit node over the index scan, its parameter evaluated per execution).
pub fn select_visible(
    plan: &TablePlan,
    gate: &Gate,
    caller: &Caller,
    now: &str,
    id: &Json,
) -> Stmt {
    let render = || {
        let cond = predicate::visibility(plan, gate, caller, now, true).add(dml::id_eq(plan, id));
        dml::select(plan, cond, &[], None, 0)
    };
    let id_value = to_db(id_type(plan.def.id), id);
    if gate.residual.condition().is_some() || predicate::misfit(id_type(plan.def.id), &id_value) {
        return render();
    }
    let soft_filter = predicate::filters_soft_deleted(plan);
    let values = values_in_order(gate, id_value);
    if let Some(sql) = plan.by_id.find(gate, soft_filter) {
        return Stmt { sql, values };
    }
    let stmt = render();
    // Kept only when the values made here are the ones sea-query bound, in its order: a shape
    // this module does not foresee is rendered every time instead of bound wrongly.
    if stmt.values == values {
        plan.by_id.keep(gate, soft_filter, &stmt.sql);
    }
    stmt
}

/// The values in the order the statement binds them: the scope values, then the id.
fn values_in_order(gate: &Gate, id: Value) -> Values {
    let mut values: Vec<Value> = gate
        .scopes
        .iter()
        .map(|s| Value::from(s.value.as_str()))
        .collect();
    values.push(id);
    Values(values)
}
