//! Layer 2 and 4, access: the role part is decided by partial evaluation before any read; what
//! remains is a row condition (compiled into SQL for list/read, evaluated on the row otherwise).

use serde_json::{Map, Value as Json};
use ward_ir::{AccessRule, CompareOp, Condition, Operation, Partial, Value};

use crate::error::ApiError;
use crate::gate::{Caller, Residual, resolve};
use crate::mutation::{self, Mutation};

/// The role part of `op`'s rule: denied (401/403) or the residual row condition.
pub fn authorize(
    table: &ward_ir::Table,
    op: Operation,
    caller: &Caller,
) -> Result<Residual, ApiError> {
    let rule = table.access.rule(op);
    match rule.map(|r| partial(&r.when, caller)) {
        Some(Partial::True) => Ok(Residual::True),
        Some(Partial::Rows(c)) => Ok(Residual::Rows(c)),
        _ if mutation::active(Mutation::AccessReadSkipRole) && op == Operation::Read => {
            Ok(Residual::True)
        }
        _ if mutation::active(Mutation::AccessCreateSkipRole) && op == Operation::Create => {
            Ok(Residual::True)
        }
        Some(Partial::False) | None => Err(deny(rule, caller)),
    }
}

/// The role part of one rule (a view's or an action's); no rule denies.
pub fn authorize_rule(rule: Option<&AccessRule>, caller: &Caller) -> Result<Residual, ApiError> {
    match rule.map(|r| partial(&r.when, caller)) {
        Some(Partial::True) => Ok(Residual::True),
        Some(Partial::Rows(c)) => Ok(Residual::Rows(c)),
        Some(Partial::False) | None => Err(deny(rule, caller)),
    }
}

fn deny(rule: Option<&AccessRule>, caller: &Caller) -> ApiError {
    if !caller.authenticated {
        return ApiError::auth_missing();
    }
    let required = rule.map(|r| r.roles.clone()).unwrap_or_default();
    ApiError::role_required(&required, &caller.roles)
}

/// The `check` condition of a rule with its role leaves evaluated for the caller.
pub fn check_condition(table: &ward_ir::Table, op: Operation, caller: &Caller) -> Option<Residual> {
    let check = table.access.rule(op)?.check.as_ref()?;
    Some(match partial(check, caller) {
        Partial::True => Residual::True,
        Partial::False => Residual::Rows(Condition::Not {
            of: Box::new(Condition::All { of: Vec::new() }),
        }),
        Partial::Rows(c) => Residual::Rows(c),
    })
}

fn partial(c: &Condition, caller: &Caller) -> Partial {
    c.partial(&|roles| caller.has_any_role(roles))
}

/// Whether the caller's `read` rule shows `row`, a row they just wrote: the role part, then the
/// rule's row conditions on the row. A write answers with the whole row only then, as a SELECT
/// policy governs RETURNING in PostgREST, so that a write never works as a read
/// (docs/decisions.md). The firewall needs no check here: the write was inside the caller's scopes.
pub fn may_read(
    table: &ward_ir::Table,
    caller: &Caller,
    row: &Map<String, Json>,
    now: &str,
) -> bool {
    match authorize(table, Operation::Read, caller) {
        Ok(Residual::True) => true,
        Ok(Residual::Rows(c)) => holds(&c, row, caller, now),
        Err(_) => false,
    }
}

/// Evaluates a role-free condition on a typed record, with SQL's three-valued logic so that the
/// answer matches what the same condition compiled into a WHERE clause would select.
pub fn holds(c: &Condition, row: &Map<String, Json>, caller: &Caller, now: &str) -> bool {
    eval(c, row, caller, now) == Some(true)
}

fn eval(c: &Condition, row: &Map<String, Json>, caller: &Caller, now: &str) -> Option<bool> {
    match c {
        Condition::Role { roles } => Some(caller.has_any_role(roles)),
        Condition::Not { of } => eval(of, row, caller, now).map(|b| !b),
        Condition::All { of } => {
            let mut acc = Some(true);
            for child in of {
                match eval(child, row, caller, now) {
                    Some(false) => return Some(false),
                    None => acc = None,
                    Some(true) => {}
                }
            }
            acc
        }
        Condition::Any { of } => {
            let mut acc = Some(false);
            for child in of {
                match eval(child, row, caller, now) {
                    Some(true) => return Some(true),
                    None => acc = None,
                    Some(false) => {}
                }
            }
            acc
        }
        Condition::Compare { field, op, values } => {
            let left = row.get(field).unwrap_or(&Json::Null);
            compare(left, *op, values, caller, now)
        }
    }
}

fn compare(
    left: &Json,
    op: CompareOp,
    values: &[Value],
    caller: &Caller,
    now: &str,
) -> Option<bool> {
    match op {
        CompareOp::IsNull => return Some(left.is_null()),
        CompareOp::NotNull => return Some(!left.is_null()),
        _ => {}
    }
    // A missing auth value makes the comparison unknown, as SQL NULL would (docs/decisions.md):
    // unknown never grants and `not unknown` stays unknown, so `not { … }` cannot widen access.
    let mut rights = Vec::with_capacity(values.len());
    for v in values {
        match resolve(v, caller, now) {
            Some(j) => rights.push(j),
            None => return None,
        }
    }
    if left.is_null() {
        return None;
    }
    let first = rights.first();
    let ord = |r: &Json| order(left, r);
    Some(match op {
        CompareOp::Eq => first.and_then(ord)? == std::cmp::Ordering::Equal,
        CompareOp::Ne => first.and_then(ord)? != std::cmp::Ordering::Equal,
        CompareOp::Gt => first.and_then(ord)?.is_gt(),
        CompareOp::Gte => first.and_then(ord)?.is_ge(),
        CompareOp::Lt => first.and_then(ord)?.is_lt(),
        CompareOp::Lte => first.and_then(ord)?.is_le(),
        CompareOp::In => rights
            .iter()
            .any(|r| ord(r) == Some(std::cmp::Ordering::Equal)),
        CompareOp::NotIn => !rights
            .iter()
            .any(|r| ord(r) == Some(std::cmp::Ordering::Equal)),
        CompareOp::Like => match (left, first) {
            (Json::String(l), Some(Json::String(r))) => {
                l.to_ascii_lowercase().contains(&r.to_ascii_lowercase())
            }
            _ => false,
        },
        CompareOp::IsNull | CompareOp::NotNull => false,
    })
}

fn order(l: &Json, r: &Json) -> Option<std::cmp::Ordering> {
    match (l, r) {
        (Json::Number(a), Json::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
        },
        (Json::String(a), Json::String(b)) => Some(a.cmp(b)),
        (Json::Bool(a), Json::Bool(b)) => Some(a.cmp(b)),
        (Json::Bool(a), Json::Number(b)) => Some(i64::from(*a).cmp(&b.as_i64()?)),
        _ => None,
    }
}
