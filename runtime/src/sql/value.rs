//! Conversions between typed JSON values and the values bound into statements.

use sea_query::Value;
use serde_json::Value as Json;
use ward_ir::{ColumnType, IdKind};

use ward_ir::time::normalize_datetime;

/// A typed JSON value (as produced by validation or a condition) as a bound value of `ty`.
pub fn to_db(ty: ColumnType, v: &Json) -> Value {
    match (ty, v) {
        (ColumnType::Integer | ColumnType::Boolean, Json::Null) => Value::BigInt(None),
        (ColumnType::Float, Json::Null) => Value::Double(None),
        (_, Json::Null) => Value::String(None),
        // Any JSON value of a json column is stored as its text, booleans included.
        (ColumnType::Json | ColumnType::File, other) => Value::String(Some(other.to_string())),
        (_, Json::Bool(b)) => Value::BigInt(Some(i64::from(*b))),
        (ColumnType::Float, Json::Number(n)) => Value::Double(n.as_f64()),
        (ColumnType::Integer | ColumnType::Boolean, Json::Number(n)) => match n.as_i64() {
            Some(i) => Value::BigInt(Some(i)),
            None => Value::Double(n.as_f64()),
        },
        (ColumnType::Datetime, Json::String(s)) => {
            Value::String(Some(normalize_datetime(s).unwrap_or_else(|| s.clone())))
        }
        // Stored UUIDs are canonical; an auth value in another spelling still means the same id.
        // One that is no UUID at all stays as it is (`predicate::compare` handles it).
        (ColumnType::Uuid, Json::String(s)) => Value::String(Some(
            uuid::Uuid::parse_str(s).map_or_else(|_| s.clone(), |u| u.hyphenated().to_string()),
        )),
        (_, Json::String(s)) => Value::String(Some(s.clone())),
        (_, Json::Number(n)) => match n.as_i64() {
            Some(i) => Value::BigInt(Some(i)),
            None => Value::Double(n.as_f64()),
        },
        (_, other) => Value::String(Some(other.to_string())),
    }
}

/// A path id as the table's id value; `None` when it cannot be one (answered as not found).
pub fn parse_id(kind: IdKind, raw: &str) -> Option<Json> {
    match kind {
        IdKind::Uuid => uuid::Uuid::parse_str(raw)
            .ok()
            .map(|u| Json::String(u.hyphenated().to_string())),
        IdKind::Integer => raw.parse::<i64>().ok().map(Json::from),
        IdKind::Text => (!raw.is_empty()).then(|| Json::String(raw.to_owned())),
    }
}

pub fn id_type(kind: IdKind) -> ColumnType {
    match kind {
        IdKind::Uuid => ColumnType::Uuid,
        IdKind::Integer => ColumnType::Integer,
        IdKind::Text => ColumnType::Text,
    }
}
