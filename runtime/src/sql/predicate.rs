//! Row conditions as SQL: access residuals, firewall scopes and the soft-delete filter.

use sea_query::{Cond, Condition as SqlCond, Expr, ExprTrait, LikeExpr};
use ward_ir::{ColumnType, CompareOp, Condition, system};

use super::value::to_db;
use super::{col, never, unknown};
use crate::mutation::{self, Mutation};
use crate::security::Gate;
use crate::security::access::resolve;
use crate::security::identity::Caller;
use crate::snapshot::TablePlan;

/// Everything that makes a row visible to the caller for `gate`'s operation: the firewall scopes,
/// the soft-delete filter and, with `with_residual`, the access residual.
pub fn visibility(
    plan: &TablePlan,
    gate: &Gate,
    caller: &Caller,
    now: &str,
    with_residual: bool,
) -> SqlCond {
    let mut c = firewall(plan, gate);
    if with_residual && let Some(r) = gate.residual.condition() {
        c = c.add(condition(plan, r, caller, now));
    }
    c
}

/// Scopes and soft delete only: what "visible row" means for writes.
pub fn firewall(plan: &TablePlan, gate: &Gate) -> SqlCond {
    let mut c = Cond::all();
    for s in &gate.scopes {
        c = c.add(col(&s.column).eq(s.value.as_str()));
    }
    if plan.soft && !mutation::active(Mutation::DeleteSoftDeletedVisible) {
        c = c.add(col(system::DELETED_AT).is_null());
    }
    c
}

/// A role-free IR condition compiled for `plan`'s columns.
pub fn condition(plan: &TablePlan, c: &Condition, caller: &Caller, now: &str) -> SqlCond {
    match c {
        Condition::All { of } => of.iter().fold(Cond::all(), |acc, x| {
            acc.add(condition(plan, x, caller, now))
        }),
        Condition::Any { of } if of.is_empty() => Cond::all().add(never()),
        Condition::Any { of } => of.iter().fold(Cond::any(), |acc, x| {
            acc.add(condition(plan, x, caller, now))
        }),
        Condition::Not { of } => Cond::all().add(condition(plan, of, caller, now)).not(),
        Condition::Role { roles } => {
            // Residuals carry no role leaves; evaluate defensively rather than trust that.
            if caller.has_any_role(roles) {
                Cond::all()
            } else {
                Cond::all().add(never())
            }
        }
        Condition::Compare { field, op, values } => {
            let ty = plan.column(field).map_or(ColumnType::Text, |c| c.ty);
            let mut vals = Vec::with_capacity(values.len());
            for v in values {
                match resolve(v, caller, now) {
                    Some(j) => vals.push(j),
                    // Unknown, not false: `not { … }` around it must not match every row.
                    None => return Cond::all().add(unknown()),
                }
            }
            let db: Vec<sea_query::Value> = vals.iter().map(|j| to_db(ty, j)).collect();
            Cond::all().add(compare(field, *op, db))
        }
    }
}

/// `field OP values` with bound values; `like` means "contains", with the value escaped.
pub fn compare(field: &str, op: CompareOp, values: Vec<sea_query::Value>) -> Expr {
    let c = col(field);
    let first = values.first().cloned();
    match (op, first) {
        (CompareOp::IsNull, _) => c.is_null(),
        (CompareOp::NotNull, _) => c.is_not_null(),
        (CompareOp::In, _) => c.is_in(values),
        (CompareOp::NotIn, _) => c.is_not_in(values),
        (_, None) => never(),
        (CompareOp::Eq, Some(v)) => c.eq(v),
        (CompareOp::Ne, Some(v)) => c.ne(v),
        (CompareOp::Gt, Some(v)) => c.gt(v),
        (CompareOp::Gte, Some(v)) => c.gte(v),
        (CompareOp::Lt, Some(v)) => c.lt(v),
        (CompareOp::Lte, Some(v)) => c.lte(v),
        (CompareOp::Like, Some(sea_query::Value::String(Some(s)))) => {
            c.like(LikeExpr::new(format!("%{}%", escape_like(&s))).escape('\\'))
        }
        (CompareOp::Like, Some(_)) => never(),
    }
}

/// Escapes LIKE's wildcards and the escape character itself.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}
