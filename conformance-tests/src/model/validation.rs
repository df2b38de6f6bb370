//! Layer 6, validation (SPEC §2.3, §5.4): each value typed and normalised the way it is stored
//! (UTC millisecond datetimes, lowercase hyphenated UUIDs, floats as floats), then required,
//! range, length, pattern and enum, in that order per field; fields in column order.

use serde_json::{Map, Value};
use ward_ir::{Column, ColumnDefault, ColumnType, Table};

use super::access::{literal, order};
use super::errors::Fail;
use super::guards::{Write, client_id, managed};

/// The values a body writes (and, on create, the defaults of the columns it leaves out).
/// `now` and `today` are the request's timestamp and date (or their sentinels).
pub fn validate(
    table: &Table,
    kind: Write,
    body: &Map<String, Value>,
    now: &str,
    today: &str,
) -> Result<Map<String, Value>, Fail> {
    let columns = table.columns.iter().filter_map(|col| {
        let named_id = client_id(table, kind, &col.name);
        if managed(table, &col.name) && !named_id {
            return None;
        }
        Some((col, col.required || named_id))
    });
    check(columns, kind, body, now, today)
}

/// The same for columns that belong to no table (an action's inputs).
pub fn validate_columns(
    columns: &[Column],
    kind: Write,
    body: &Map<String, Value>,
    now: &str,
    today: &str,
) -> Result<Map<String, Value>, Fail> {
    check(
        columns.iter().map(|c| (c, c.required)),
        kind,
        body,
        now,
        today,
    )
}

fn check<'c>(
    columns: impl Iterator<Item = (&'c Column, bool)>,
    kind: Write,
    body: &Map<String, Value>,
    now: &str,
    today: &str,
) -> Result<Map<String, Value>, Fail> {
    let mut out = Map::new();
    let mut failures: Vec<(String, &'static str)> = Vec::new();
    for (col, required) in columns {
        match body.get(&col.name) {
            Some(v) => match value(col, v, required) {
                Ok(v) => {
                    out.insert(col.name.clone(), v);
                }
                Err(code) => failures.push((col.name.clone(), code)),
            },
            None if kind == Write::Update => {}
            None => match &col.default {
                Some(ColumnDefault::Literal(l)) => {
                    out.insert(col.name.clone(), stored(col.ty, literal(l)));
                }
                Some(ColumnDefault::Now) if col.ty == ColumnType::Date => {
                    out.insert(col.name.clone(), Value::String(today.to_owned()));
                }
                Some(ColumnDefault::Now) => {
                    out.insert(col.name.clone(), Value::String(now.to_owned()));
                }
                None if required => failures.push((col.name.clone(), "VALIDATION_REQUIRED")),
                None => {}
            },
        }
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err(Fail::validation(&failures))
    }
}

fn value(col: &Column, v: &Value, required: bool) -> Result<Value, &'static str> {
    if v.is_null() {
        return if required {
            Err("VALIDATION_REQUIRED")
        } else {
            Ok(Value::Null)
        };
    }
    let typed = typed(col.ty, v).ok_or("VALIDATION_TYPE")?;
    if let Value::Number(n) = &typed {
        let x = n.as_f64().unwrap_or(f64::NAN);
        if col.min.is_some_and(|m| x < m.as_f64()) || col.max.is_some_and(|m| x > m.as_f64()) {
            return Err("VALIDATION_RANGE");
        }
    }
    if let (Value::String(s), ColumnType::Text) = (&typed, col.ty) {
        let len = s.chars().count() as u64;
        if col.min_length.is_some_and(|m| len < m) || col.max_length.is_some_and(|m| len > m) {
            return Err("VALIDATION_LENGTH");
        }
        if let Some(p) = &col.pattern {
            // Unanchored, as in JSON Schema (docs/decisions.md).
            let matched = regex::Regex::new(p).is_ok_and(|re| re.is_match(s));
            if !matched {
                return Err("VALIDATION_PATTERN");
            }
        }
    }
    if !col.one_of.is_empty()
        && !col.one_of.iter().any(|l| {
            let allowed = literal(l);
            allowed == typed || order(&allowed, &typed) == Some(std::cmp::Ordering::Equal)
        })
    {
        return Err("VALIDATION_ENUM");
    }
    Ok(typed)
}

/// A JSON value as a value of `ty`, normalised as stored; `None` when it is not one.
pub fn typed(ty: ColumnType, v: &Value) -> Option<Value> {
    match ty {
        ColumnType::Text => v.as_str().map(|s| Value::String(s.to_owned())),
        ColumnType::Integer => {
            let n = v.as_number()?;
            if let Some(i) = n.as_i64() {
                return Some(Value::from(i));
            }
            // JSON has one number type: an integral value is an integer, while it is exact.
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then(|| Value::from(f as i64))
        }
        ColumnType::Float => float(v.as_f64()?),
        ColumnType::Boolean => v.as_bool().map(Value::Bool),
        ColumnType::Datetime => v.as_str().and_then(datetime).map(Value::String),
        ColumnType::Date => v.as_str().and_then(date).map(Value::String),
        ColumnType::Uuid => v.as_str().and_then(uuid).map(Value::String),
        ColumnType::Json => Some(v.clone()),
        // A file is uploaded, never written as JSON: no value a client writes is one.
        ColumnType::File => None,
    }
}

fn float(f: f64) -> Option<Value> {
    serde_json::Number::from_f64(f).map(Value::Number)
}

/// A value as a column of `ty` stores and reads it back (a float column returns floats).
pub fn stored(ty: ColumnType, v: Value) -> Value {
    match (ty, &v) {
        (ColumnType::Float, Value::Number(n)) => n.as_f64().and_then(float).unwrap_or(v),
        _ => v,
    }
}

/// Any RFC 3339 offset → UTC with milliseconds.
pub fn datetime(s: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
    )
}

pub fn date(s: &str) -> Option<String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

pub fn uuid(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s)
        .ok()
        .map(|u| u.hyphenated().to_string())
}
