//! Layer 6, validation: types, required, bounds, lengths, patterns and enums of body values,
//! producing normalised typed values (UTC datetimes, lowercase UUIDs).

use serde_json::{Map, Value as Json, json};
use ward_ir::{Column, ColumnDefault, ColumnType, IdKind, system, time};

use super::guards::WriteKind;
use crate::error::ApiError;
use crate::files::meta;
use crate::gate::literal_json;
use crate::mutation::{self, Mutation};
use crate::snapshot::TablePlan;

struct Failure {
    code: &'static str,
    message: String,
}

fn fail(code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

/// Whether a create body carries the id (client-supplied `id text`).
pub fn client_id(plan: &TablePlan, kind: WriteKind) -> bool {
    kind == WriteKind::Create && plan.def.id == IdKind::Text
}

/// Validates `body` (whose keys already passed the guards) and returns the values to write:
/// the given fields, plus defaults for missing ones on create.
pub fn validate(
    plan: &TablePlan,
    kind: WriteKind,
    body: &Map<String, Json>,
    now: &str,
) -> Result<Map<String, Json>, ApiError> {
    let columns = plan.columns().iter().filter_map(|col| {
        let is_client_id = col.name == system::ID && client_id(plan, kind);
        let planted = mutation::active(Mutation::GuardsUpdateScopeColumn)
            && kind == WriteKind::Update
            && plan.def.is_scope_column(&col.name);
        if plan.is_managed(&col.name) && !is_client_id && !planted {
            return None;
        }
        Some((col, col.required || is_client_id))
    });
    check_columns(
        columns,
        &|name| plan.pattern(name),
        kind == WriteKind::Create,
        body,
        now,
    )
}

/// An action's inputs: every body key must be an input (`VALIDATION_UNKNOWN_FIELD`), then each
/// input is validated like a column on create (defaults applied, required ones present).
pub fn inputs(
    inputs: &[Column],
    body: &Map<String, Json>,
    now: &str,
) -> Result<Map<String, Json>, ApiError> {
    let unknown: Vec<&str> = body
        .keys()
        .map(String::as_str)
        .filter(|k| !inputs.iter().any(|i| i.name == *k))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::validation(
            "VALIDATION_UNKNOWN_FIELD",
            "Unknown fields in body",
            json!({ "fields": unknown }),
        ));
    }
    check_columns(
        inputs.iter().map(|c| (c, c.required)),
        &|_| None,
        true,
        body,
        now,
    )
}

/// Validates the given `(column, required)` pairs against `body`; with `create`, missing ones
/// take their defaults or fail as required.
fn check_columns<'c>(
    columns: impl Iterator<Item = (&'c Column, bool)>,
    pattern: &dyn Fn(&str) -> Option<&'c regex::Regex>,
    create: bool,
    body: &Map<String, Json>,
    now: &str,
) -> Result<Map<String, Json>, ApiError> {
    let mut out = Map::new();
    let mut failures: Vec<(String, Failure)> = Vec::new();
    for (col, required) in columns {
        match body.get(&col.name) {
            Some(v) => match value(col, pattern(&col.name), v, required) {
                Ok(j) => {
                    out.insert(col.name.clone(), j);
                }
                Err(f) => failures.push((col.name.clone(), f)),
            },
            None if create => match &col.default {
                Some(ColumnDefault::Literal(l)) => {
                    out.insert(col.name.clone(), literal_json(l));
                }
                Some(ColumnDefault::Now) => {
                    let v = if col.ty == ColumnType::Date {
                        now.get(..10).unwrap_or(now)
                    } else {
                        now
                    };
                    out.insert(col.name.clone(), Json::String(v.to_owned()));
                }
                None if required => failures.push((
                    col.name.clone(),
                    fail("VALIDATION_REQUIRED", format!("`{}` is required", col.name)),
                )),
                None => {}
            },
            None => {}
        }
    }
    let Some((_, first)) = failures.first() else {
        return Ok(out);
    };
    let code = first.code;
    let message = if failures.len() == 1 {
        first.message.clone()
    } else {
        format!("{} fields are invalid", failures.len())
    };
    let fields: Map<String, Json> = failures
        .iter()
        .map(|(name, f)| {
            (
                name.clone(),
                json!({ "code": f.code, "message": f.message }),
            )
        })
        .collect();
    Err(ApiError::validation(
        code,
        message,
        json!({ "fields": fields }),
    ))
}

fn value(
    col: &Column,
    pattern: Option<&regex::Regex>,
    v: &Json,
    required: bool,
) -> Result<Json, Failure> {
    if v.is_null() {
        return if required {
            Err(fail(
                "VALIDATION_REQUIRED",
                format!("`{}` is required", col.name),
            ))
        } else {
            Ok(Json::Null)
        };
    }
    let typed = typed(col.ty, v).ok_or_else(|| {
        let message = if col.ty == ColumnType::File {
            format!(
                "`{}` is a file: upload it as a part of a multipart/form-data body, or send null to remove it",
                col.name
            )
        } else {
            format!("`{}` must be a {}", col.name, col.ty.name())
        };
        fail("VALIDATION_TYPE", message)
    })?;
    if let Some(n) = typed.as_f64() {
        let below = col.min.is_some_and(|m| n < m.as_f64());
        let above = col.max.is_some_and(|m| n > m.as_f64());
        if below || above {
            return Err(fail("VALIDATION_RANGE", range_message(col)));
        }
    }
    if let Json::String(s) = &typed
        && col.ty == ColumnType::Text
    {
        let len = s.chars().count() as u64;
        if col.min_length.is_some_and(|m| len < m) || col.max_length.is_some_and(|m| len > m) {
            return Err(fail("VALIDATION_LENGTH", length_message(col)));
        }
        if let Some(re) = pattern
            && !re.is_match(s)
        {
            return Err(fail(
                "VALIDATION_PATTERN",
                format!("`{}` does not match the required pattern", col.name),
            ));
        }
    }
    if !col.one_of.is_empty() && !col.one_of.iter().any(|l| literal_json(l) == typed) {
        return Err(fail(
            "VALIDATION_ENUM",
            format!("`{}` must be one of the allowed values", col.name),
        ));
    }
    Ok(typed)
}

fn range_message(col: &Column) -> String {
    match (col.min, col.max) {
        (Some(a), Some(b)) => format!(
            "`{}` must be between {} and {}",
            col.name,
            a.as_f64(),
            b.as_f64()
        ),
        (Some(a), None) => format!("`{}` must be at least {}", col.name, a.as_f64()),
        (None, Some(b)) => format!("`{}` must be at most {}", col.name, b.as_f64()),
        (None, None) => format!("`{}` is out of range", col.name),
    }
}

fn length_message(col: &Column) -> String {
    match (col.min_length, col.max_length) {
        (Some(a), Some(b)) => format!("`{}` must be {a} to {b} characters long", col.name),
        (Some(a), None) => format!("`{}` must be at least {a} characters long", col.name),
        (None, Some(b)) => format!("`{}` must be at most {b} characters long", col.name),
        (None, None) => format!("`{}` has an invalid length", col.name),
    }
}

/// A JSON value as `ty`, normalised; `None` when it is not one.
pub fn typed(ty: ColumnType, v: &Json) -> Option<Json> {
    match ty {
        ColumnType::Text => v.as_str().map(|s| Json::String(s.to_owned())),
        ColumnType::Integer => match v {
            Json::Number(n) => n.as_i64().map(Json::from).or_else(|| {
                let f = n.as_f64()?;
                (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(Json::from(f as i64))
            }),
            _ => None,
        },
        ColumnType::Float => match v {
            Json::Number(n) => n
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number),
            _ => None,
        },
        ColumnType::Boolean => v.as_bool().map(Json::Bool),
        ColumnType::Datetime => v
            .as_str()
            .and_then(time::normalize_datetime)
            .map(Json::String),
        ColumnType::Date => v
            .as_str()
            .and_then(time::parse_date)
            .map(|d| Json::String(time::date_text(d))),
        ColumnType::Uuid => v
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .map(|u| Json::String(u.hyphenated().to_string())),
        ColumnType::Json => Some(v.clone()),
        // Only what an upload of this request stored, sealed by this process (SPEC §13).
        ColumnType::File => meta::unseal(v),
    }
}

/// Form bodies carry strings: coerce each by its column's (or input's) type so validation sees
/// JSON types.
pub fn coerce_form(
    type_of: &dyn Fn(&str) -> Option<ColumnType>,
    pairs: Vec<(String, String)>,
) -> Map<String, Json> {
    let mut out = Map::new();
    for (k, v) in pairs {
        let ty = type_of(&k);
        let j = match ty {
            Some(ColumnType::Text | ColumnType::Uuid | ColumnType::Datetime | ColumnType::Date)
            | None => Json::String(v),
            Some(_) if v.is_empty() => Json::Null,
            Some(ColumnType::Integer) => v.parse::<i64>().map_or(Json::String(v), Json::from),
            Some(ColumnType::Float) => v
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Json::String(v), Json::Number),
            Some(ColumnType::Boolean) => match v.as_str() {
                "true" | "1" | "on" => Json::Bool(true),
                "false" | "0" | "off" => Json::Bool(false),
                _ => Json::String(v),
            },
            Some(ColumnType::Json) => serde_json::from_str(&v).unwrap_or(Json::String(v)),
            // A file sent as a plain form field is no upload: validation refuses the string.
            Some(ColumnType::File) => Json::String(v),
        };
        out.insert(k, j);
    }
    out
}
