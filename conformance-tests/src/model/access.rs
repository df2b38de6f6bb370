//! Layers 2 and 4, access (SPEC §2.5, docs/decisions.md): the role part by partial evaluation
//! before any row is looked at, then the remaining row condition evaluated on rows with SQL's
//! three-valued logic (`NULL` compared to anything is unknown, and unknown fails).

use std::cmp::Ordering;

use serde_json::Value;
use ward_ir::{CompareOp, Condition, Literal, Operation, Table, Value as CondValue};

use super::Row;
use super::auth::Who;
use super::errors::Fail;

/// What a rule still asks of a row once the caller's roles are known.
#[derive(Debug, Clone, PartialEq)]
pub enum Residual {
    All,
    Rows(Condition),
}

enum Partial {
    True,
    False,
    Rows(Condition),
}

/// The role part of `op`: 401 `AUTH_MISSING` for anonymous callers, 403 `ACCESS_ROLE_REQUIRED`
/// for others, or the residual row condition.
pub fn authorize(table: &Table, op: Operation, who: &Who) -> Result<Residual, Fail> {
    authorize_rule(table.access.rule(op), who)
}

/// The same for one rule (a view's); no rule denies.
pub fn authorize_rule(rule: Option<&ward_ir::AccessRule>, who: &Who) -> Result<Residual, Fail> {
    match rule.map(|r| partial(&r.when, who)) {
        Some(Partial::True) => Ok(Residual::All),
        Some(Partial::Rows(c)) => Ok(Residual::Rows(c)),
        Some(Partial::False) | None if !who.authenticated => Err(Fail::auth_missing()),
        Some(Partial::False) | None => Err(Fail::role_required(
            &rule.map(|r| r.roles.clone()).unwrap_or_default(),
            &who.roles,
        )),
    }
}

fn partial(c: &Condition, who: &Who) -> Partial {
    match c {
        Condition::Role { roles } if who.has_any(roles) => Partial::True,
        Condition::Role { .. } => Partial::False,
        Condition::Compare { .. } => Partial::Rows(c.clone()),
        Condition::Not { of } => match partial(of, who) {
            Partial::True => Partial::False,
            Partial::False => Partial::True,
            Partial::Rows(r) => Partial::Rows(Condition::Not { of: Box::new(r) }),
        },
        Condition::All { of } => {
            let mut rest = Vec::new();
            for child in of {
                match partial(child, who) {
                    Partial::False => return Partial::False,
                    Partial::True => {}
                    Partial::Rows(r) => rest.push(r),
                }
            }
            if rest.is_empty() {
                Partial::True
            } else {
                Partial::Rows(Condition::All { of: rest })
            }
        }
        Condition::Any { of } => {
            let mut rest = Vec::new();
            for child in of {
                match partial(child, who) {
                    Partial::True => return Partial::True,
                    Partial::False => {}
                    Partial::Rows(r) => rest.push(r),
                }
            }
            if rest.is_empty() {
                Partial::False
            } else {
                Partial::Rows(Condition::Any { of: rest })
            }
        }
    }
}

impl Residual {
    pub fn admits(&self, row: &Row, who: &Who, now: &str) -> bool {
        match self {
            Residual::All => true,
            Residual::Rows(c) => holds(c, row, who, now),
        }
    }
}

/// Whether `c` holds on `row` (role leaves decided by the caller).
pub fn holds(c: &Condition, row: &Row, who: &Who, now: &str) -> bool {
    eval(c, row, who, now) == Some(true)
}

/// Three-valued: `None` is SQL's unknown.
fn eval(c: &Condition, row: &Row, who: &Who, now: &str) -> Option<bool> {
    match c {
        Condition::Role { roles } => Some(who.has_any(roles)),
        Condition::Not { of } => eval(of, row, who, now).map(|b| !b),
        Condition::All { of } => {
            let mut unknown = false;
            for child in of {
                match eval(child, row, who, now) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            if unknown { None } else { Some(true) }
        }
        Condition::Any { of } => {
            let mut unknown = false;
            for child in of {
                match eval(child, row, who, now) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            if unknown { None } else { Some(false) }
        }
        Condition::Compare { field, op, values } => {
            let left = row.get(field).unwrap_or(&Value::Null);
            compare(left, *op, values, who, now)
        }
    }
}

fn compare(
    left: &Value,
    op: CompareOp,
    values: &[CondValue],
    who: &Who,
    now: &str,
) -> Option<bool> {
    match op {
        CompareOp::IsNull => return Some(left.is_null()),
        CompareOp::NotNull => return Some(!left.is_null()),
        _ => {}
    }
    let mut rights = Vec::new();
    for v in values {
        match resolve(v, who, now) {
            Some(r) => rights.push(r),
            // A condition on an auth value the caller lacks is unknown (docs/decisions.md), so
            // `not { … }` around it stays unknown and never grants.
            None => return None,
        }
    }
    if left.is_null() {
        return None;
    }
    let first = rights.first().unwrap_or(&Value::Null);
    let ord = order(left, first);
    let found = rights
        .iter()
        .any(|r| order(left, r) == Some(Ordering::Equal));
    match op {
        CompareOp::Eq => ord.map(Ordering::is_eq),
        CompareOp::Ne => ord.map(Ordering::is_ne),
        CompareOp::Gt => ord.map(Ordering::is_gt),
        CompareOp::Gte => ord.map(Ordering::is_ge),
        CompareOp::Lt => ord.map(Ordering::is_lt),
        CompareOp::Lte => ord.map(Ordering::is_le),
        CompareOp::In => Some(found),
        CompareOp::NotIn => Some(!found),
        CompareOp::Like => Some(like(left, first)),
        CompareOp::IsNull | CompareOp::NotNull => None,
    }
}

/// `like` means "contains", ASCII case-insensitively (docs/decisions.md).
pub fn like(left: &Value, pattern: &Value) -> bool {
    match (left, pattern) {
        (Value::String(l), Value::String(p)) => {
            l.to_ascii_lowercase().contains(&p.to_ascii_lowercase())
        }
        _ => false,
    }
}

pub fn resolve(v: &CondValue, who: &Who, now: &str) -> Option<Value> {
    match v {
        CondValue::Literal(l) => Some(literal(l)),
        CondValue::Auth(name) => who.value(name).map(|s| Value::String(s.to_owned())),
        CondValue::Now => Some(Value::String(now.to_owned())),
        // Views bind params to literals first; one left over matches nothing. Actions and
        // triggers are not modelled yet.
        CondValue::Param(_) | CondValue::Input(_) | CondValue::Record(_) | CondValue::Old(_) => {
            None
        }
    }
}

pub fn literal(l: &Literal) -> Value {
    match l {
        Literal::Null => Value::Null,
        Literal::Boolean(b) => Value::Bool(*b),
        Literal::Integer(i) => Value::from(*i),
        Literal::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Literal::Text(s) => Value::String(s.clone()),
    }
}

/// How SQLite orders two non-null stored values of one column: numbers numerically, text by
/// bytes, booleans as 0/1.
pub fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => Some(i.cmp(&j)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Number(y)) => Some(i64::from(*x).cmp(&y.as_i64()?)),
        (Value::Number(x), Value::Bool(y)) => Some(x.as_i64()?.cmp(&i64::from(*y))),
        _ => None,
    }
}

/// A row just written, as conditions judge it: it holds this request's timestamp as a sentinel,
/// judged by the model's clock.
pub(super) fn judged(row: &Row, now: &str) -> Row {
    row.iter()
        .map(|(k, v)| {
            let v = match v.as_str() {
                Some(s) if s.starts_with("\u{1}now") => Value::String(now.to_owned()),
                Some(s) if s.starts_with("\u{1}date") => {
                    Value::String(now.get(..10).unwrap_or(now).to_owned())
                }
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// The `check` of `op`'s rule on the incoming or resulting row.
pub fn check(table: &Table, op: Operation, row: &Row, who: &Who, now: &str) -> Result<(), Fail> {
    let row = judged(row, now);
    match table.access.rule(op).and_then(|r| r.check.as_ref()) {
        Some(c) if !holds(c, &row, who, now) => Err(Fail::check_failed()),
        _ => Ok(()),
    }
}

/// Whether the caller's `read` rule shows a row they just wrote: its role part, then its row
/// conditions on the row. A write answers with the whole row only then, as a SELECT policy
/// governs RETURNING in PostgREST (docs/decisions.md); otherwise a write would be a read.
pub fn may_read(table: &Table, row: &Row, who: &Who, now: &str) -> bool {
    match authorize(table, Operation::Read, who) {
        Ok(residual) => residual.admits(&judged(row, now), who, now),
        Err(_) => false,
    }
}
