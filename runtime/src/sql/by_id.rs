//! The read of one row by id, the hottest statement there is, rendered once per table and shape
//! ([`super::kept`]): the scope columns the caller's firewall applies and whether soft-deleted
//! rows are filtered. A gate with an access residual is rendered afresh: a residual's shape
//! varies with the caller's auth values.

use sea_query::{Value, Values};
use serde_json::Value as Json;

use super::value::{id_type, to_db};
use super::{Stmt, dml, predicate};
use crate::gate::{Caller, Gate};
use crate::snapshot::TablePlan;

#[derive(Debug)]
pub struct Shape {
    scope_columns: Vec<String>,
    soft_filter: bool,
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
    let id_type = id_type(plan.def.id);
    let id_value = to_db(id_type, id);
    if gate.residual.condition().is_some() || predicate::misfit(id_type, &id_value) {
        return render();
    }
    let soft_filter = predicate::filters_soft_deleted(plan);
    let fits = |s: &Shape| s.fits(gate, soft_filter);
    let values = values_in_order(gate, id_value);
    if let Some(sql) = plan.kept.by_id.find(fits) {
        return Stmt { sql, values };
    }
    let stmt = render();
    if stmt.values == values {
        let shape = Shape {
            scope_columns: gate.scopes.iter().map(|s| s.column.clone()).collect(),
            soft_filter,
        };
        plan.kept.by_id.keep(shape, fits, &stmt.sql);
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
