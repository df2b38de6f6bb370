//! Reading rows back as typed records, and running statements.

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde_json::{Map, Value as Json};
use ward_ir::{ColumnType, IdKind, system};

use super::{db_error, is_primary_key_conflict};
use crate::http::error::ApiError;
use crate::snapshot::TablePlan;
use crate::sql::Stmt;

/// A record: column name → typed JSON value, every column of the table.
pub type Record = Map<String, Json>;

fn to_json(ty: ColumnType, v: ValueRef<'_>) -> Json {
    match (ty, v) {
        (_, ValueRef::Null) => Json::Null,
        (ColumnType::Boolean, ValueRef::Integer(i)) => Json::Bool(i != 0),
        (ColumnType::Float, ValueRef::Integer(i)) => {
            serde_json::Number::from_f64(i as f64).map_or(Json::Null, Json::Number)
        }
        (_, ValueRef::Integer(i)) => Json::from(i),
        (_, ValueRef::Real(f)) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
        (ColumnType::Json, ValueRef::Text(t)) => serde_json::from_slice(t)
            .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(t).into())),
        (_, ValueRef::Text(t)) => Json::String(String::from_utf8_lossy(t).into()),
        (_, ValueRef::Blob(_)) => Json::Null,
    }
}

/// Runs a `dml::select` statement of `plan` and reads every row.
pub fn records(conn: &Connection, plan: &TablePlan, stmt: &Stmt) -> Result<Vec<Record>, ApiError> {
    let mut st = conn.prepare_cached(&stmt.sql).map_err(db_error)?;
    let mut rows = st.query(&*stmt.params()).map_err(db_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        let mut rec = Map::new();
        for (i, c) in plan.columns().iter().enumerate() {
            let ty = if c.name == system::ID && plan.def.id == IdKind::Integer {
                ColumnType::Integer
            } else {
                c.ty
            };
            let v = row.get_ref(i).map_err(db_error)?;
            rec.insert(c.name.clone(), to_json(ty, v));
        }
        out.push(rec);
    }
    Ok(out)
}

pub fn first_record(
    conn: &Connection,
    plan: &TablePlan,
    stmt: &Stmt,
) -> Result<Option<Record>, ApiError> {
    Ok(records(conn, plan, stmt)?.into_iter().next())
}

/// Runs a `related::select_ids`-shaped statement of `plan` and reads the ids (first column).
pub fn ids(conn: &Connection, plan: &TablePlan, stmt: &Stmt) -> Result<Vec<Json>, ApiError> {
    let ty = if plan.def.id == IdKind::Integer {
        ColumnType::Integer
    } else {
        ColumnType::Text
    };
    let mut st = conn.prepare_cached(&stmt.sql).map_err(db_error)?;
    let mut rows = st.query(&*stmt.params()).map_err(db_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        out.push(to_json(ty, row.get_ref(0).map_err(db_error)?));
    }
    Ok(out)
}

/// Runs a statement that returns one integer (a count).
pub fn scalar(conn: &Connection, stmt: &Stmt) -> Result<i64, ApiError> {
    conn.prepare_cached(&stmt.sql)
        .and_then(|mut st| st.query_row(&*stmt.params(), |r| r.get::<_, i64>(0)))
        .map_err(db_error)
}

/// Whether a statement returns any row.
pub fn any_row(conn: &Connection, stmt: &Stmt) -> Result<bool, ApiError> {
    let mut st = conn.prepare_cached(&stmt.sql).map_err(db_error)?;
    let mut rows = st.query(&*stmt.params()).map_err(db_error)?;
    Ok(rows.next().map_err(db_error)?.is_some())
}

/// Runs a write and returns the number of rows it changed.
pub fn execute(conn: &Connection, stmt: &Stmt) -> Result<usize, ApiError> {
    conn.prepare_cached(&stmt.sql)
        .and_then(|mut st| st.execute(&*stmt.params()))
        .map_err(db_error)
}

/// Runs an INSERT that must not meet an existing row: `Ok(false)` on a primary key conflict,
/// which the caller answers as it would an invisible row.
pub fn insert_new(conn: &Connection, stmt: &Stmt) -> Result<bool, ApiError> {
    match conn
        .prepare_cached(&stmt.sql)
        .and_then(|mut st| st.execute(&*stmt.params()))
    {
        Ok(_) => Ok(true),
        Err(e) if is_primary_key_conflict(&e) => Ok(false),
        Err(e) => Err(db_error(e)),
    }
}

/// Runs an `INSERT … RETURNING id` of an integer-id table and reads the ids, ascending. With
/// AUTOINCREMENT every new id is larger than any before it and the VALUES rows are inserted in
/// order, so ascending order is the order of the rows in the statement.
pub fn returning_ids(conn: &Connection, stmt: &Stmt) -> Result<Vec<i64>, ApiError> {
    let mut st = conn.prepare_cached(&stmt.sql).map_err(db_error)?;
    let mut rows = st.query(&*stmt.params()).map_err(db_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        out.push(row.get::<_, i64>(0).map_err(db_error)?);
    }
    out.sort_unstable();
    Ok(out)
}
