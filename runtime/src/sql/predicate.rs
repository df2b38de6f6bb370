//! Row conditions as SQL: access residuals, firewall scopes and the soft-delete filter.

use sea_query::{Cond, Condition as SqlCond, Expr, ExprTrait, Func, LikeExpr, Value};
use ward_ir::{ColumnType, CompareOp, Condition, system, time};

use super::value::{id_type, to_db};
use super::{Dialect, col, never, tbl, unknown};
use crate::gate::{Caller, Gate, resolve};
use crate::mutation::{self, Mutation};
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
    if filters_soft_deleted(plan) {
        c = c.add(col(system::DELETED_AT).is_null());
    }
    c
}

/// Whether [`firewall`] leaves soft-deleted rows out.
pub fn filters_soft_deleted(plan: &TablePlan) -> bool {
    plan.soft && !mutation::active(Mutation::DeleteSoftDeletedVisible)
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
            let ty = column_type(plan, field);
            let mut vals = Vec::with_capacity(values.len());
            for v in values {
                match resolve(v, caller, now) {
                    Some(j) => vals.push(j),
                    // Unknown, not false: `not { … }` around it must not match every row.
                    None => return Cond::all().add(unknown()),
                }
            }
            let db: Vec<Value> = vals.iter().map(|j| to_db(ty, j)).collect();
            Cond::all().add(compare(plan, field, *op, db))
        }
    }
}

/// The type values of `field` are bound as (the id follows the table's id kind).
pub fn column_type(plan: &TablePlan, field: &str) -> ColumnType {
    if field == system::ID {
        return id_type(plan.def.id);
    }
    plan.column(field).map_or(ColumnType::Text, |c| c.ty)
}

/// `field OP values` with bound values; `like` means "contains", ASCII case-insensitively, with
/// the value escaped.
pub fn compare(plan: &TablePlan, field: &str, op: CompareOp, values: Vec<Value>) -> Expr {
    let ty = column_type(plan, field);
    if values.iter().any(|v| misfit(ty, v)) && op != CompareOp::Like {
        return compare_misfit(field, ty, op, values);
    }
    let c = col(field);
    let first = values.first().cloned();
    match (op, first) {
        (CompareOp::IsNull, _) => c.is_null(),
        (CompareOp::NotNull, _) => c.is_not_null(),
        // sea-query renders an empty list as `1 = 2` with bound integers, which Postgres cannot
        // type; a bound boolean says the same on both backends.
        (CompareOp::In, None) => never(),
        (CompareOp::NotIn, None) => Expr::val(true),
        (CompareOp::In, _) => c.is_in(values),
        (CompareOp::NotIn, _) => c.is_not_in(values),
        (_, None) => never(),
        (CompareOp::Eq, Some(v)) => c.eq(v),
        (CompareOp::Ne, Some(v)) => c.ne(v),
        (CompareOp::Gt, Some(v)) => c.gt(v),
        (CompareOp::Gte, Some(v)) => c.gte(v),
        (CompareOp::Lt, Some(v)) => c.lt(v),
        (CompareOp::Lte, Some(v)) => c.lte(v),
        (CompareOp::Like, Some(Value::String(Some(s)))) => {
            let contains = |s: &str| LikeExpr::new(format!("%{}%", escape_like(s))).escape('\\');
            match plan.dialect {
                // SQLite's LIKE folds ASCII case only.
                Dialect::Sqlite => c.like(contains(&s)),
                // So does Postgres' LOWER on `COLLATE "C"` text (and on the ASCII text of uuids
                // and times); the pattern is folded the same way here.
                Dialect::Postgres => Expr::expr(Func::lower(pg_text(field, ty)))
                    .like(contains(&s.to_ascii_lowercase())),
            }
        }
        (CompareOp::Like, Some(_)) => never(),
    }
}

/// A Postgres column of a textual type as the text SQLite stores for it, so that `like` matches
/// the same rows on both backends (Postgres has no LIKE on uuid, date or timestamptz).
fn pg_text(field: &str, ty: ColumnType) -> Expr {
    match ty {
        ColumnType::Uuid => col(field).cast_as(tbl("text")),
        ColumnType::Date => Func::cust(tbl("to_char"))
            .arg(col(field))
            .arg("YYYY-MM-DD")
            .into(),
        ColumnType::Datetime => Func::cust(tbl("to_char"))
            .arg(Func::cust(tbl("timezone")).arg("UTC").arg(col(field)))
            .arg(r#"YYYY-MM-DD"T"HH24:MI:SS.MS"Z""#)
            .into(),
        _ => col(field),
    }
}

/// Whether `v` cannot be stored in a column of `ty`: an auth value that is not a canonical UUID
/// compared with a uuid column, `(time)now` compared with a date column, a malformed id in a
/// batch body. SQLite compares such values with the stored text and finds nothing equal;
/// Postgres cannot even bind them to a typed parameter. [`compare_misfit`] gives the answer
/// SQLite gives, on both, with well-typed values only.
pub(crate) fn misfit(ty: ColumnType, v: &Value) -> bool {
    match (ty, v) {
        (ColumnType::Uuid, Value::String(Some(s))) => !is_canonical_uuid(s),
        (ColumnType::Date, Value::String(Some(s))) => time::parse_date(s).is_none(),
        (ColumnType::Datetime, Value::String(Some(s))) => {
            chrono::DateTime::parse_from_rfc3339(s).is_err()
        }
        (ColumnType::Integer | ColumnType::Float | ColumnType::Boolean, Value::String(Some(_))) => {
            true
        }
        (
            ColumnType::Text | ColumnType::Uuid | ColumnType::Date | ColumnType::Datetime,
            Value::BigInt(Some(_)) | Value::Double(Some(_)) | Value::Bool(Some(_)),
        ) => true,
        _ => false,
    }
}

pub fn is_canonical_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok_and(|u| u.hyphenated().to_string() == s)
}

/// A comparison in which some value is a [`misfit`]. A misfit never equals a stored value, so
/// `in` and `not-in` drop it; `eq` is false and `ne` true, except on NULL, which stays unknown
/// (`c <> c`, `c = c`). Against a date, a timestamp `T` sorts right after its own day (the date
/// is a prefix of it), so `c < T` is `c <= day(T)` and `c > T` is `c > day(T)`. A uuid column is never
/// ordered (the compiler refuses `gt`… on it); were it, the answer would be unknown.
fn compare_misfit(field: &str, ty: ColumnType, op: CompareOp, values: Vec<Value>) -> Expr {
    let c = col(field);
    let always_false = c.clone().ne(c.clone());
    let always_true = c.clone().eq(c.clone());
    let fitting: Vec<Value> = values.iter().filter(|v| !misfit(ty, v)).cloned().collect();
    let day = values.first().and_then(|v| match v {
        Value::String(Some(s)) if ty == ColumnType::Date => s.get(..10).and_then(time::parse_date),
        _ => None,
    });
    match op {
        CompareOp::In if fitting.is_empty() => always_false,
        CompareOp::In => c.is_in(fitting),
        CompareOp::NotIn if fitting.is_empty() => always_true,
        CompareOp::NotIn => c.is_not_in(fitting),
        CompareOp::Eq => always_false,
        CompareOp::Ne => always_true,
        CompareOp::Lt | CompareOp::Lte => match day {
            Some(d) => c.lte(time::date_text(d)),
            None => unknown(),
        },
        CompareOp::Gt | CompareOp::Gte => match day {
            Some(d) => c.gt(time::date_text(d)),
            None => unknown(),
        },
        CompareOp::IsNull => c.is_null(),
        CompareOp::NotNull => c.is_not_null(),
        CompareOp::Like => never(),
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
