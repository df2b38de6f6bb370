//! Row writes: every INSERT, UPDATE and DELETE of a declared table, each followed by the change
//! records of the rows it changed ([`journal::record`]). A table that keeps no log pays nothing:
//! its statement runs as rendered. One that does has its rows read in the same transaction
//! before an UPDATE or DELETE (with the statement's own condition, so exactly the rows it
//! changes, or by key next to an `UPDATE … RETURNING` of one row) and after an INSERT or UPDATE
//! (returned by the statement or read by id): those images are what the records carry.

use std::sync::Arc;

use sea_query::{Cond, Condition as SqlCond};
use serde_json::{Map, Value as Json};
use ward_ir::{IdKind, system};

use super::{Origin, Writer, files, journal};
use crate::error::ApiError;
use crate::snapshot::Snapshot;
use crate::snapshot::TablePlan;
use crate::sql::{Stmt, dml, related};
use crate::store::row::{self, Record};
use crate::store::{Db, Store};

/// What every write of a row does besides its statement, once the row's images are known: its
/// change record, and the release of the files it no longer holds.
pub fn written(
    w: Writer<'_>,
    plan: &TablePlan,
    before: Option<&Record>,
    after: Option<&Record>,
) -> Result<(), ApiError> {
    journal::record(w, plan, before, after)?;
    files::release(w, plan, before, after)
}

/// INSERT of one prepared row; returns the row as stored.
pub fn insert_returning(
    w: Writer<'_>,
    plan: &TablePlan,
    values: &Map<String, Json>,
) -> Result<Record, ApiError> {
    let stmt = dml::insert_returning(plan, values).map_err(ApiError::internal)?;
    let rec = row::first_record(w.db, plan, &stmt)?
        .ok_or_else(|| ApiError::internal("insert returned no row"))?;
    written(w, plan, None, Some(&rec))?;
    Ok(rec)
}

/// The INSERT … RETURNING of one prepared row of a table that logs its changes, with its change
/// record, when the two are the whole write (no reference to check, no trigger): on Postgres two
/// round trips awaited on the runtime ([`Store::write_then`]). Returns the row as stored.
pub async fn logged_insert_alone(
    store: &Store,
    snap: Arc<Snapshot>,
    table: String,
    values: &Map<String, Json>,
    origin: Origin,
) -> Result<Record, ApiError> {
    let plan = in_snapshot(&snap, &table)?;
    let stmt = dml::insert_returning(plan, values).map_err(ApiError::internal)?;
    let types = row::column_types(plan);
    store
        .write_then(vec![stmt], types, move |db, mut rows| {
            let plan = in_snapshot(&snap, &table)?;
            let rec = first(plan, &mut rows, 0)
                .ok_or_else(|| ApiError::internal("insert returned no row"))?;
            written(origin.writer(db), plan, None, Some(&rec))?;
            Ok(rec)
        })
        .await
}

/// [`logged_insert_alone`] for the UPDATE … RETURNING of the row `id` while it satisfies `cond`,
/// sent together with the read of its `before` image; `None` when the UPDATE found no row.
pub async fn logged_update_alone(
    store: &Store,
    snap: Arc<Snapshot>,
    table: String,
    id: &Json,
    changes: &Map<String, Json>,
    cond: SqlCond,
    origin: Origin,
) -> Result<Option<Record>, ApiError> {
    let plan = in_snapshot(&snap, &table)?;
    let before = dml::select_for_update(plan, id);
    let update = dml::update_returning(plan, id, changes, cond);
    let types = row::column_types(plan);
    store
        .write_then(vec![before, update], types, move |db, mut rows| {
            let plan = in_snapshot(&snap, &table)?;
            let after = first(plan, &mut rows, 1);
            if let Some(after) = &after {
                let before = first(plan, &mut rows, 0);
                written(origin.writer(db), plan, before.as_ref(), Some(after))?;
            }
            Ok(after)
        })
        .await
}

fn in_snapshot<'a>(snap: &'a Snapshot, table: &str) -> Result<&'a TablePlan, ApiError> {
    snap.table(table)
        .ok_or_else(|| ApiError::internal("the written table left its snapshot"))
}

/// The first row statement `i` of a [`Store::write_then`] returned, as a record.
fn first(plan: &TablePlan, rows: &mut [crate::store::Rows], i: usize) -> Option<Record> {
    let cells = std::mem::take(rows.get_mut(i)?);
    row::to_records(plan, cells).into_iter().next()
}

/// The INSERT … RETURNING of one prepared row that is its request's only statement, run outside
/// a transaction; `None` for a table that logs its changes, whose records share the write's
/// transaction.
pub fn lone_insert(plan: &TablePlan, values: &Map<String, Json>) -> Result<Option<Stmt>, ApiError> {
    if plan.writes_images {
        return Ok(None);
    }
    dml::insert_returning(plan, values)
        .map(Some)
        .map_err(ApiError::internal)
}

/// [`lone_insert`] for the UPDATE … RETURNING of the row `id` while it satisfies `cond`.
pub fn lone_update(
    plan: &TablePlan,
    id: &Json,
    changes: &Map<String, Json>,
    cond: SqlCond,
) -> Option<Stmt> {
    (!plan.writes_images).then(|| dml::update_returning(plan, id, changes, cond))
}

/// INSERT of one prepared row unless its id is taken; returns the row when it inserted one.
pub fn insert_if_new(
    w: Writer<'_>,
    plan: &TablePlan,
    values: &Map<String, Json>,
) -> Result<Option<Record>, ApiError> {
    let stmt = dml::insert_if_new(plan, values).map_err(ApiError::internal)?;
    let rec = row::first_record(w.db, plan, &stmt)?;
    if let Some(rec) = &rec {
        written(w, plan, None, Some(rec))?;
    }
    Ok(rec)
}

/// INSERT of one prepared row; returns its id (generated by the database for `id integer`).
pub fn insert(
    w: Writer<'_>,
    plan: &TablePlan,
    values: &Map<String, Json>,
) -> Result<Json, ApiError> {
    let stmt = dml::insert(plan, values).map_err(ApiError::internal)?;
    let id = match values.get(system::ID) {
        Some(id) => {
            row::execute(w.db, &stmt)?;
            id.clone()
        }
        // `id integer`: the database chose it (`RETURNING id`).
        None => row::returning_ids(w.db, &stmt)?
            .first()
            .map(|id| Json::from(*id))
            .ok_or_else(|| ApiError::internal("insert returned no id"))?,
    };
    inserted(w, plan, std::slice::from_ref(&id))?;
    Ok(id)
}

/// Multi-row INSERTs of prepared rows (chunked under the bound-value limit); returns the new ids
/// in row order.
pub fn insert_many(
    w: Writer<'_>,
    plan: &TablePlan,
    rows: &[&Map<String, Json>],
) -> Result<Vec<Json>, ApiError> {
    let integer = plan.def.id == IdKind::Integer;
    let stmts = dml::insert_many(plan, rows, integer).map_err(ApiError::internal)?;
    let ids: Vec<Json> = if integer {
        let mut ids = Vec::with_capacity(rows.len());
        for s in &stmts {
            ids.extend(row::returning_ids(w.db, s)?.into_iter().map(Json::from));
        }
        if ids.len() != rows.len() {
            return Err(ApiError::internal(
                "bulk insert returned a wrong number of ids",
            ));
        }
        ids
    } else {
        for s in &stmts {
            row::execute(w.db, s)?;
        }
        rows.iter()
            .map(|r| {
                r.get(system::ID)
                    .cloned()
                    .ok_or_else(|| ApiError::internal("prepared row without an id"))
            })
            .collect::<Result<_, _>>()?
    };
    inserted(w, plan, &ids)?;
    Ok(ids)
}

/// The records of rows just inserted, read back as stored, in `ids` order.
fn inserted(w: Writer<'_>, plan: &TablePlan, ids: &[Json]) -> Result<(), ApiError> {
    if !plan.writes_images {
        return Ok(());
    }
    for rec in by_ids(w.db, plan, ids)? {
        written(w, plan, None, Some(&rec))?;
    }
    Ok(())
}

/// UPDATE of `changes` on the row `id` that still satisfies `cond`; the number of rows changed.
pub fn update(
    w: Writer<'_>,
    plan: &TablePlan,
    id: &Json,
    changes: &Map<String, Json>,
    cond: SqlCond,
) -> Result<u64, ApiError> {
    update_where(w, plan, changes, cond.add(dml::id_eq(plan, id)))
}

/// [`update`] returning the row as the UPDATE left it (`None`: `cond` no longer held). A logged
/// table's `before` is the row read by its key just before (whatever the caller loaded earlier
/// may have changed since: a trigger, an earlier record of the same batch); its `after` is what
/// the UPDATE returns.
pub fn update_returning(
    w: Writer<'_>,
    plan: &TablePlan,
    id: &Json,
    changes: &Map<String, Json>,
    cond: SqlCond,
) -> Result<Option<Record>, ApiError> {
    let stmt = dml::update_returning(plan, id, changes, cond);
    if !plan.writes_images {
        return row::first_record(w.db, plan, &stmt);
    }
    let (before, after) = row::by_id_and_first(w.db, plan, id, &stmt)?;
    if let Some(after) = &after {
        written(w, plan, before.as_ref(), Some(after))?;
    }
    Ok(after)
}

/// UPDATE of `changes` on every row that satisfies `cond`; the number of rows changed.
pub fn update_where(
    w: Writer<'_>,
    plan: &TablePlan,
    changes: &Map<String, Json>,
    cond: SqlCond,
) -> Result<u64, ApiError> {
    if !plan.writes_images {
        return row::execute(w.db, &dml::update_where(plan, changes, cond));
    }
    Ok(logged_update(w, plan, changes, cond)?.len() as u64)
}

/// DELETE of the row `id` that still satisfies `cond`; the number of rows removed. Rows the
/// foreign keys remove or change with it are the caller's (`cascade`) to record.
pub fn delete(w: Writer<'_>, plan: &TablePlan, id: &Json, cond: SqlCond) -> Result<u64, ApiError> {
    let stmt = dml::delete(plan, id, cond.clone());
    if !plan.writes_images {
        return row::execute(w.db, &stmt);
    }
    let before = row::by_id(w.db, plan, id, cond)?;
    let Some(before) = before else {
        return Ok(0);
    };
    let n = row::execute(w.db, &stmt)?;
    written(w, plan, Some(&before), None)?;
    Ok(n)
}

/// The rows `cond` selects, updated, recorded; returns them as the UPDATE left them.
fn logged_update(
    w: Writer<'_>,
    plan: &TablePlan,
    changes: &Map<String, Json>,
    cond: SqlCond,
) -> Result<Vec<Record>, ApiError> {
    let before = row::records(w.db, plan, &dml::select(plan, cond.clone(), &[], None, 0))?;
    if before.is_empty() {
        return Ok(Vec::new());
    }
    let n = row::execute(w.db, &dml::update_where(plan, changes, cond))?;
    if n != before.len() as u64 {
        return Err(ApiError::internal(format!(
            "the update changed {n} rows where its condition selected {}",
            before.len()
        )));
    }
    let ids: Vec<Json> = before
        .iter()
        .filter_map(|r| r.get(system::ID).cloned())
        .collect();
    let after = by_ids(w.db, plan, &ids)?;
    for (b, a) in before.iter().zip(&after) {
        written(w, plan, Some(b), Some(a))?;
    }
    Ok(after)
}

/// The rows with these ids, in `ids` order, whatever their state; an id without a row is an
/// internal error (the ids come from rows this transaction read or wrote).
pub fn by_ids(db: &dyn Db, plan: &TablePlan, ids: &[Json]) -> Result<Vec<Record>, ApiError> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(related::IN_CHUNK) {
        let cond = Cond::all().add(dml::ids_in(plan, chunk));
        found.extend(row::records(
            db,
            plan,
            &dml::select(plan, cond, &[], None, 0),
        )?);
    }
    let key = |r: &Record| r.get(system::ID).map(journal::id_key);
    let mut by_key: std::collections::HashMap<String, Record> = found
        .into_iter()
        .filter_map(|r| key(&r).map(|k| (k, r)))
        .collect();
    ids.iter()
        .map(|id| {
            by_key
                .remove(&journal::id_key(id))
                .ok_or_else(|| ApiError::internal("a row this transaction read or wrote is gone"))
        })
        .collect()
}
