//! Batch creates: every record through `create::prepare` and the references check, then one
//! multi-row INSERT for all valid rows.
//!
//! The result is always the one a sequential run would give (record i sees records 0…i-1
//! written). The bulk INSERT is all or nothing; when it fails (a unique value repeated inside the
//! batch or already stored), it is undone and the records are inserted one by one, in order, each
//! in its own savepoint, which tells exactly which records fail. A table that references itself
//! is always run one by one, since a record may point at one created earlier in the batch.

use axum::http::StatusCode;
use serde_json::{Map, Value as Json};

use super::batch::{Ctx, Item};
use super::triggers;
use super::{batch_rows, create, references};
use crate::engine::rows;
use crate::error::ApiError;
use crate::gate::ScopeEq;
use crate::store::{self, Db};

/// Per record, in order: the created row as the caller sees it, or the record's error.
pub fn run(
    tx: &dyn Db,
    ctx: &Ctx<'_>,
    stamps: &[ScopeEq],
    items: &[Item],
) -> Result<Vec<Result<Json, ApiError>>, ApiError> {
    let plan = ctx.plan;
    let self_referencing = plan.references.iter().any(|(_, t)| t == plan.name());
    // Create triggers run per record, around each record's own INSERT.
    let triggered = plan
        .def
        .triggers
        .iter()
        .any(|t| t.event == ward_ir::TriggerEvent::Create);
    let ids = if self_referencing || triggered {
        one_by_one(tx, ctx, stamps, items)?
    } else {
        match bulk(tx, ctx, stamps, items)? {
            Some(ids) => ids,
            None => one_by_one(tx, ctx, stamps, items)?,
        }
    };
    batch_rows::reload(tx, ctx, ids)
}

/// Steps 5–8 and the references check of one record: the row to insert.
fn prepare(
    conn: &dyn Db,
    ctx: &Ctx<'_>,
    stamps: &[ScopeEq],
    item: &Item,
) -> Result<Map<String, Json>, ApiError> {
    let values = create::prepare(ctx.plan, ctx.caller, stamps, &item.body, ctx.now)?;
    references::check(conn, ctx.snap, ctx.caller, ctx.plan, &values, ctx.now)?;
    Ok(values)
}

/// The fast path. `None` when the INSERT failed and the batch must run one by one instead.
fn bulk(
    tx: &dyn Db,
    ctx: &Ctx<'_>,
    stamps: &[ScopeEq],
    items: &[Item],
) -> Result<Option<Vec<Result<Json, ApiError>>>, ApiError> {
    let mut prepared = Vec::with_capacity(items.len());
    for item in items {
        let r = prepare(tx, ctx, stamps, item);
        let failed = match &r {
            Err(e) if e.status() == StatusCode::INTERNAL_SERVER_ERROR => return Err(e.clone()),
            r => r.is_err(),
        };
        prepared.push(r);
        // An atomic batch needs only the rows before its first failing record: whether one of
        // them fails in the INSERT decides which record is reported.
        if failed && ctx.atomic {
            break;
        }
    }
    let rows: Vec<&Map<String, Json>> = prepared.iter().filter_map(|r| r.as_ref().ok()).collect();
    let ids = match store::isolated(tx, |c| {
        rows::insert_many(ctx.write_cx(c).writer(), ctx.plan, &rows)
    }) {
        Ok(ids) => ids,
        Err(e) if e.status() == StatusCode::INTERNAL_SERVER_ERROR => return Err(e),
        Err(_) => return Ok(None),
    };
    let mut ids = ids.into_iter();
    let mut out = Vec::with_capacity(prepared.len());
    for (i, r) in prepared.into_iter().enumerate() {
        let r = match r {
            Ok(_) => Ok(ids
                .next()
                .ok_or_else(|| ApiError::internal("bulk insert returned too few ids"))?),
            Err(e) => Err(e),
        };
        out.push(ctx.settle(i, r)?);
    }
    Ok(Some(out))
}

/// The sequential path: each record prepared, checked and inserted in its own savepoint.
fn one_by_one(
    tx: &dyn Db,
    ctx: &Ctx<'_>,
    stamps: &[ScopeEq],
    items: &[Item],
) -> Result<Vec<Result<Json, ApiError>>, ApiError> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let r = triggers::isolated(ctx.write_cx(tx), |cx| {
            let values = prepare(cx.db, ctx, stamps, item)?;
            create::write(cx, ctx.plan, &values).map(|(id, _)| id)
        });
        out.push(ctx.settle(i, r)?);
    }
    Ok(out)
}
