//! Batch updates, upserts and deletes: the rows of the whole batch are read with one firewall
//! query (`WHERE id IN (…)` and the scopes), then each record runs the single-record pipeline on
//! its loaded row (`update::apply`, `upsert::apply`, `delete::apply`), in order.
//!
//! The result is the one a sequential run would give: a row written by an earlier record of the
//! batch is read again before a later record uses it, and once a delete may have changed other
//! rows of the same table (through a cascade leading back to it), later records read their row
//! again.
//! An invisible id is not in the loaded rows and answers the same NOT_FOUND as a nonexistent one.

use std::collections::HashMap;

use serde_json::{Value as Json, json};

use super::batch::{Ctx, Item, RowAccess as Access};
use super::embed;
use super::triggers;
use super::written;
use super::{delete, update, upsert};
use crate::error::ApiError;
use crate::mutation::{self, Mutation};
use crate::security::firewall;
use crate::sql::{Stmt, dml, predicate};
use crate::store::Db;
use crate::store::row::{self, Record};

/// Per record, in order: the written row (or, for deletes, the deletion) as the caller sees it,
/// or the record's error.
pub fn run(
    tx: &dyn Db,
    ctx: &Ctx<'_>,
    access: &Access,
    items: &[Item],
) -> Result<Vec<Result<Json, ApiError>>, ApiError> {
    let plan = ctx.plan;
    let ids: Vec<Json> = items.iter().filter_map(|i| i.id.clone()).collect();
    let mut rows: HashMap<String, Record> = HashMap::new();
    for rec in row::records(tx, plan, &load(ctx, access, &ids))? {
        if let Some(id) = rec.get(ward_ir::system::ID) {
            rows.insert(id.to_string(), rec);
        }
    }
    let mut remaining: HashMap<String, usize> = HashMap::new();
    for id in &ids {
        *remaining.entry(id.to_string()).or_default() += 1;
    }
    let cascades_back = matches!(access, Access::Delete(_)) && cascades_back(ctx);
    let mut stale = false;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(id) = &item.id else {
            out.push(ctx.settle(i, Err(firewall::not_found(&plan.def)))?);
            continue;
        };
        let key = id.to_string();
        let later = remaining.get_mut(&key).map_or(0, |n| {
            *n = n.saturating_sub(1);
            *n
        });
        if stale {
            refresh(tx, ctx, access, id, &key, &mut rows)?;
        }
        let current = rows.get(&key);
        let r = triggers::isolated(ctx.write_cx(tx), |cx| {
            apply(cx, ctx, access, item, id, current)
        });
        if r.is_ok() {
            if matches!(access, Access::Delete(_)) {
                rows.remove(&key);
                stale = cascades_back;
            } else if later > 0 {
                refresh(tx, ctx, access, id, &key, &mut rows)?;
            }
        }
        let r = r.map(|()| id.clone());
        out.push(ctx.settle(i, r)?);
    }
    match access {
        Access::Delete(_) => Ok(out
            .into_iter()
            .map(|r| r.map(|id| deleted(ctx, id)))
            .collect()),
        _ => reload(tx, ctx, out),
    }
}

/// Whether deleting a row of the table can change other rows of the same table: some chain of
/// `references=` leads from the table back to itself (cascade and set-null follow those chains).
fn cascades_back(ctx: &Ctx<'_>) -> bool {
    let start = ctx.plan.name();
    let mut seen: Vec<&str> = Vec::new();
    let mut todo = vec![start];
    while let Some(parent) = todo.pop() {
        for child in ctx.snap.tables() {
            if !child.references.iter().any(|(_, t)| t == parent) {
                continue;
            }
            if child.name() == start {
                return true;
            }
            if !seen.contains(&child.name()) {
                seen.push(child.name());
                todo.push(child.name());
            }
        }
    }
    false
}

/// The firewall of the batch's operation: what "this id exists for the caller" means. The
/// `when` residual is not part of it: a visible row failing it answers ACCESS_CONDITION_FAILED.
fn visibility(ctx: &Ctx<'_>, access: &Access) -> sea_query::Condition {
    match access {
        Access::Update(g) | Access::Delete(g) => predicate::firewall(ctx.plan, g),
        Access::Upsert(g) => g.visibility(ctx.plan),
    }
}

fn load(ctx: &Ctx<'_>, access: &Access, ids: &[Json]) -> Stmt {
    let cond = visibility(ctx, access).add(dml::ids_in(ctx.plan, ids));
    dml::select(ctx.plan, cond, &[], None, 0)
}

/// Reads one row again after the batch changed it (or may have).
fn refresh(
    conn: &dyn Db,
    ctx: &Ctx<'_>,
    access: &Access,
    id: &Json,
    key: &str,
    rows: &mut HashMap<String, Record>,
) -> Result<(), ApiError> {
    match row::first_record(conn, ctx.plan, &load(ctx, access, std::slice::from_ref(id)))? {
        Some(rec) => rows.insert(key.to_owned(), rec),
        None => rows.remove(key),
    };
    Ok(())
}

/// One record through its single-record pipeline.
fn apply(
    cx: triggers::WriteCx<'_>,
    ctx: &Ctx<'_>,
    access: &Access,
    item: &Item,
    id: &Json,
    current: Option<&Record>,
) -> Result<(), ApiError> {
    let plan = ctx.plan;
    let not_found = || firewall::not_found(&plan.def);
    // The record's `options.ifMatch`, judged as the single-record routes judge `If-Match`.
    let expected = match &item.precondition {
        Some(_) if mutation::active(Mutation::BatchIfMatchIgnored) => Default::default(),
        Some(p) => p.clone(),
        None => Default::default(),
    };
    match access {
        Access::Update(gate) => {
            let current = current.ok_or_else(not_found)?;
            expected.judge(cx.read(), plan, Some(gate), id, Some(current))?;
            update::apply(cx, plan, gate, id, current, &item.body).map(|_| ())
        }
        Access::Delete(gate) => {
            let current = current.ok_or_else(not_found)?;
            expected.judge(cx.read(), plan, Some(gate), id, Some(current))?;
            delete::apply(cx, plan, gate, id, current)
        }
        Access::Upsert(gates) => {
            gates.judge(&expected, cx.read(), plan, id, current)?;
            upsert::apply(cx, plan, gates, id, current, &item.body).map(|_| ())
        }
    }
}

/// What a batch delete reports per deleted id.
fn deleted(ctx: &Ctx<'_>, id: Json) -> Json {
    json!({
        "id": id,
        "deleted": true,
        "deletedAt": ctx.now,
        "deletedBy": ctx.caller.user_id,
    })
}

/// The written rows, read back with one query and rendered for the caller (masked, with labels,
/// one label query per reference for the whole batch), in record order.
pub fn reload(
    conn: &dyn Db,
    ctx: &Ctx<'_>,
    ids: Vec<Result<Json, ApiError>>,
) -> Result<Vec<Result<Json, ApiError>>, ApiError> {
    let plan = ctx.plan;
    let written: Vec<Json> = ids
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let mut rows: HashMap<String, Record> = HashMap::new();
    if !written.is_empty() {
        let stmt = dml::select(
            plan,
            sea_query::Cond::all().add(dml::ids_in(plan, &written)),
            &[],
            None,
            0,
        );
        for rec in row::records(conn, plan, &stmt)? {
            if let Some(id) = rec.get(ward_ir::system::ID) {
                rows.insert(id.to_string(), rec);
            }
        }
    }
    let records = written
        .iter()
        .map(|id| {
            rows.get(&id.to_string())
                .cloned()
                .ok_or_else(|| ApiError::internal("written row not found"))
        })
        .collect::<Result<Vec<Record>, ApiError>>()?;
    let embed_ctx = embed::Ctx {
        conn,
        snap: ctx.snap,
        caller: ctx.caller,
        now: ctx.now,
    };
    let mut rendered = if mutation::active(Mutation::BatchResponseUnmasked) {
        records.into_iter().map(Json::Object).collect()
    } else {
        // Each success entry shows only what the caller's `read` rule shows (docs/decisions.md).
        written::render(embed_ctx, plan, records)?
    }
    .into_iter();
    ids.into_iter()
        .map(|r| match r {
            Ok(_) => rendered
                .next()
                .map(Ok)
                .ok_or_else(|| ApiError::internal("rendered rows out of step")),
            Err(e) => Ok(Err(e)),
        })
        .collect()
}
