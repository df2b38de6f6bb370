//! The `data` of a write's answer (create, update, upsert, restore, batch successes). A row the
//! caller's `read` rule would not show (role part or row conditions) is answered as `{"id"}`
//! only: otherwise `PATCH {}` would read rows for a caller with `update` but not `read`. This is
//! PostgREST's rule that the SELECT policy applies to RETURNING (docs/decisions.md).

use serde_json::{Value as Json, json};
use ward_ir::system;

use super::embed::{self, Ctx};
use super::request;
use super::triggers;
use crate::error::ApiError;
use crate::gate::Caller;
use crate::security::access;
use crate::snapshot::TablePlan;
use crate::store::row::{self, Record};

/// A row as a write left it, for the answer.
pub(crate) enum Row {
    /// Returned by the write's own statement (`RETURNING`), and nothing ran after it.
    Returned(Record),
    /// A `during` trigger ran after the statement and may have changed or deleted the row: it
    /// must be read again.
    Stale,
}

impl Row {
    /// `rec`, the row `w`'s statement returned, unless `w` has `during` triggers (which have run
    /// by now).
    pub(crate) fn after(w: &triggers::Write, rec: Record) -> Row {
        if w.any(ward_ir::TriggerPhase::During) {
            Row::Stale
        } else {
            Row::Returned(rec)
        }
    }
}

/// The answer for the row `id` a write left as `row`: the returned row itself, saving a read,
/// or the row read again.
pub(crate) fn answer_one(
    ctx: Ctx<'_>,
    plan: &TablePlan,
    id: &Json,
    row: Row,
) -> Result<Json, ApiError> {
    match row {
        Row::Returned(record) => render_one(ctx, plan, record),
        Row::Stale => reload_one(ctx, plan, id),
    }
}

/// The row `id` read back after a write, rendered for the caller if they may read it; `null`
/// when a trigger of the write deleted it again.
pub(crate) fn reload_one(ctx: Ctx<'_>, plan: &TablePlan, id: &Json) -> Result<Json, ApiError> {
    match row::by_id(ctx.conn, plan, id, sea_query::Cond::all())? {
        Some(record) => render_one(ctx, plan, record),
        None => Ok(Json::Null),
    }
}

/// One written record, rendered for the caller if they may read it.
pub(crate) fn render_one(ctx: Ctx<'_>, plan: &TablePlan, record: Record) -> Result<Json, ApiError> {
    Ok(render(ctx, plan, vec![record])?.pop().unwrap_or(Json::Null))
}

/// A write that is its `… RETURNING` statement alone, on a table without references, run on the
/// store as one statement: its answer, or `None` when the statement touched no row.
pub(crate) async fn alone(
    store: &crate::store::Store,
    plan: &TablePlan,
    caller: &Caller,
    now: &str,
    stmt: crate::sql::Stmt,
) -> Result<Option<Json>, ApiError> {
    let rows = store.write_query(stmt, row::column_types(plan)).await?;
    Ok(row::to_records(plan, rows)
        .into_iter()
        .next()
        .map(|rec| render_unreferenced(plan, caller, now, rec)))
}

/// [`render_one`] for a table without references, whose rendering reads nothing (no labels):
/// no connection needed.
pub(crate) fn render_unreferenced(
    plan: &TablePlan,
    caller: &Caller,
    now: &str,
    record: Record,
) -> Json {
    if access::may_read(&plan.def, caller, &record, now) {
        request::output(plan, caller, record, None)
    } else {
        id_only(&record)
    }
}

/// All a caller who may not read a written row learns of it.
fn id_only(record: &Record) -> Json {
    json!({ "id": record.get(system::ID).cloned().unwrap_or(Json::Null) })
}

/// Written records in order: the readable ones rendered together (one label query per reference
/// for all of them), the others reduced to their id.
pub(crate) fn render(
    ctx: Ctx<'_>,
    plan: &TablePlan,
    records: Vec<Record>,
) -> Result<Vec<Json>, ApiError> {
    let mut slots: Vec<Option<Json>> = Vec::with_capacity(records.len());
    let mut shown = Vec::with_capacity(records.len());
    for rec in records {
        if access::may_read(&plan.def, ctx.caller, &rec, ctx.now) {
            slots.push(None);
            shown.push(rec);
        } else {
            slots.push(Some(id_only(&rec)));
        }
    }
    let mut rendered = embed::render(ctx, plan, shown, &embed::Shape::default())?.into_iter();
    slots
        .into_iter()
        .map(|slot| match slot {
            Some(id_only) => Ok(id_only),
            None => rendered
                .next()
                .ok_or_else(|| ApiError::internal("rendered rows out of step")),
        })
        .collect()
}
