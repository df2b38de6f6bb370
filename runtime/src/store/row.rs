//! Reading rows back as typed records, and running statements, on either backend.

use serde_json::{Map, Value as Json};
use ward_ir::{ColumnType, system};

use super::Db;
use crate::error::ApiError;
use crate::snapshot::TablePlan;
use crate::sql::Stmt;
use crate::sql::value::id_type;

/// A record: column name → typed JSON value, every column of the table.
pub type Record = Map<String, Json>;

/// The types of every column of `plan`, in column order (the id follows the table's id kind).
pub(crate) fn column_types(plan: &TablePlan) -> Vec<ColumnType> {
    plan.columns()
        .iter()
        .map(|c| {
            if c.name == system::ID {
                id_type(plan.def.id)
            } else {
                c.ty
            }
        })
        .collect()
}

/// Runs a `dml::select` statement of `plan` and reads every row as cells in column order.
pub fn cells(db: &dyn Db, plan: &TablePlan, stmt: &Stmt) -> Result<Vec<Vec<Json>>, ApiError> {
    db.query(stmt, &column_types(plan))
}

/// Runs a `dml::select` statement of `plan` and reads every row.
pub fn records(db: &dyn Db, plan: &TablePlan, stmt: &Stmt) -> Result<Vec<Record>, ApiError> {
    Ok(to_records(plan, cells(db, plan, stmt)?))
}

/// Rows of `plan` read by [`cells`], as records.
pub fn to_records(plan: &TablePlan, rows: Vec<Vec<Json>>) -> Vec<Record> {
    rows.into_iter()
        .map(|cells| {
            plan.columns()
                .iter()
                .map(|c| c.name.clone())
                .zip(cells)
                .collect()
        })
        .collect()
}

pub fn first_record(
    db: &dyn Db,
    plan: &TablePlan,
    stmt: &Stmt,
) -> Result<Option<Record>, ApiError> {
    Ok(records(db, plan, stmt)?.into_iter().next())
}

/// The row of `plan` with this id that also satisfies `cond` (the firewall, for loads; nothing
/// more, for re-reading a row just written).
pub fn by_id(
    db: &dyn Db,
    plan: &TablePlan,
    id: &Json,
    cond: sea_query::Condition,
) -> Result<Option<Record>, ApiError> {
    let stmt = crate::sql::dml::select(
        plan,
        crate::sql::dml::by_id(plan, id).add(cond),
        &[],
        Some(1),
        0,
    );
    first_record(db, plan, &stmt)
}

/// [`by_id`] (no condition but the id), and then the first row `stmt` returns — the row before
/// a statement that changes it and the row it left — in one round trip where the store can.
pub fn by_id_and_first(
    db: &dyn Db,
    plan: &TablePlan,
    id: &Json,
    stmt: &Stmt,
) -> Result<(Option<Record>, Option<Record>), ApiError> {
    let read = crate::sql::dml::select(plan, crate::sql::dml::by_id(plan, id), &[], Some(1), 0);
    let (first, second) = db.query_pair(&read, stmt, &column_types(plan))?;
    let one = |rows| to_records(plan, rows).into_iter().next();
    Ok((one(first), one(second)))
}

/// Runs a `related::select_ids`-shaped statement of `plan` and reads the ids (first column).
pub fn ids(db: &dyn Db, plan: &TablePlan, stmt: &Stmt) -> Result<Vec<Json>, ApiError> {
    let rows = db.query(stmt, &[id_type(plan.def.id)])?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect())
}

/// Runs a statement that returns one integer (a count).
pub fn scalar(db: &dyn Db, stmt: &Stmt) -> Result<i64, ApiError> {
    db.query(stmt, &[ColumnType::Integer])?
        .first()
        .and_then(|r| r.first())
        .and_then(Json::as_i64)
        .ok_or_else(|| ApiError::internal("a count returned no number"))
}

/// Whether a statement returns any row.
pub fn any_row(db: &dyn Db, stmt: &Stmt) -> Result<bool, ApiError> {
    Ok(!db.query(stmt, &[])?.is_empty())
}

/// Runs a write and returns the number of rows it changed.
pub fn execute(db: &dyn Db, stmt: &Stmt) -> Result<u64, ApiError> {
    db.execute(stmt)
}

/// Runs an `INSERT … RETURNING id` of an integer-id table and reads the ids, ascending. Ids only
/// grow (AUTOINCREMENT, identity) and the VALUES rows are inserted in order, so ascending order
/// is the order of the rows in the statement.
pub fn returning_ids(db: &dyn Db, stmt: &Stmt) -> Result<Vec<i64>, ApiError> {
    let mut out: Vec<i64> = db
        .query(stmt, &[ColumnType::Integer])?
        .iter()
        .filter_map(|r| r.first().and_then(Json::as_i64))
        .collect();
    out.sort_unstable();
    Ok(out)
}
