//! Deletes and restores (SPEC §2.8, docs/decisions.md "Soft delete honours `restrict`", "The
//! soft-delete cascade is recursive and per-table", "Restore", "Restore cascades", "Restore never
//! revives a dangling row", "`restrict` is checked before any cascade"; hard deletes otherwise
//! follow the foreign keys).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use ward_ir::TriggerEvent::Delete;
use ward_ir::{OnDelete, Operation, Table, TriggerPhase, system};

use super::access::{self, Residual};
use super::errors::Fail;
use super::firewall::{self, Scopes};
use super::write::{find, render, stamp};
use super::{Cx, Row, State, parse_id, triggers};
use crate::scenario::Precondition;

/// `DELETE /api/T/{id}`.
pub fn delete(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    raw_id: &str,
    precondition: Option<Precondition>,
) -> Result<(u16, Value), Fail> {
    let residual = access::authorize(table, Operation::Delete, &cx.who)?;
    let scopes = firewall::scopes(table, &cx.who)?;
    let id = parse_id(table.id, raw_id).ok_or_else(|| firewall::not_found(table))?;
    super::write::expected(cx, st, table, &residual, &scopes, &id, precondition)?;
    delete_one(cx, st, table, &residual, &scopes, &id)?;
    Ok((200, json!({ "data": { "id": id, "deleted": true } })))
}

/// (child table, column) pairs whose column references `parent` with `on_delete`, in IR order.
fn referencing(cx: &Cx<'_>, parent: &str, on_delete: OnDelete) -> Vec<(Table, String)> {
    let mut out = Vec::new();
    for t in &cx.ir.tables {
        for c in &t.columns {
            if c.references
                .as_ref()
                .is_some_and(|r| r.table == parent && r.on_delete == on_delete)
            {
                out.push((t.clone(), c.name.clone()));
            }
        }
    }
    out
}

fn key(table: &str, id: &Value) -> (String, String) {
    (table.to_owned(), id.to_string())
}

/// One delete of a firewall-visible row whose `when` holds.
pub fn delete_one(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    residual: &Residual,
    scopes: &Scopes,
    id: &Value,
) -> Result<(), Fail> {
    let current = find(st, &table.name, id)
        .filter(|r| firewall::visible(r, scopes))
        .cloned()
        .ok_or_else(|| firewall::not_found(table))?;
    if !residual.admits(&current, &cx.who, &cx.clock) {
        return Err(Fail::condition_failed());
    }
    let old = Some(&current);
    triggers::fire(cx, st, table, Delete, TriggerPhase::Before, &current, old)?;
    if firewall::soft(table) {
        soft_delete(cx, st, table, id)?;
    } else {
        let mut seen = BTreeSet::new();
        hard_delete(cx, st, table, id, &mut seen)?;
    }
    triggers::written(cx, st, table, Delete, &current, old)
}

/// One visible row deleted as the table says (soft with its cascade, or hard), without any
/// access rule: what an action's `delete` step does.
pub fn remove(cx: &mut Cx<'_>, st: &mut State, table: &Table, id: &Value) -> Result<(), Fail> {
    if firewall::soft(table) {
        soft_delete(cx, st, table, id)
    } else {
        hard_delete(cx, st, table, id, &mut BTreeSet::new())
    }
}

fn mark_deleted(cx: &Cx<'_>, row: &mut Row) {
    stamp(row, system::DELETED_AT, system::DELETED_BY, cx);
    stamp(row, system::MODIFIED_AT, system::MODIFIED_BY, cx);
}

fn rows_mut<'s>(st: &'s mut State, table: &str) -> impl Iterator<Item = &'s mut Row> {
    st.rows
        .get_mut(table)
        .into_iter()
        .flat_map(|r| r.iter_mut())
}

fn soft_delete(cx: &Cx<'_>, st: &mut State, table: &Table, id: &Value) -> Result<(), Fail> {
    // The rows the cascade reaches, each level under the child's own firewall (a missing claim
    // leaves the table alone); a hard-delete child cannot be soft-deleted (nor restored).
    let mut seen = BTreeSet::from([key(&table.name, id)]);
    let mut reached: Vec<(String, Vec<Value>)> = vec![(table.name.clone(), vec![id.clone()])];
    let mut at = 0;
    while let Some((parent, ids)) = reached.get(at).cloned() {
        at += 1;
        for (child, column) in referencing(cx, &parent, OnDelete::Cascade) {
            if !firewall::soft(&child) {
                continue;
            }
            let Ok(scopes) = firewall::scopes(&child, &cx.who) else {
                continue;
            };
            let mut found = Vec::new();
            for row in st.rows.get(&child.name).into_iter().flatten() {
                let hit = row.get(&column).is_some_and(|v| ids.contains(v))
                    && firewall::visible(row, &scopes);
                let rid = row.get(system::ID).cloned().unwrap_or(Value::Null);
                if hit && seen.insert(key(&child.name, &rid)) {
                    found.push(rid);
                }
            }
            if !found.is_empty() {
                reached.push((child.name.clone(), found));
            }
        }
    }
    restricted(cx, st, &seen, false)?;
    for (t, rows) in st.rows.iter_mut() {
        for row in rows.iter_mut() {
            if seen.contains(&key(t, row.get(system::ID).unwrap_or(&Value::Null))) {
                mark_deleted(cx, row);
            }
        }
    }
    Ok(())
}

/// `restrict`, checked before any cascade (SQL's RESTRICT, docs/decisions.md): a row that
/// references one of the rows about to go refuses the whole delete, whatever the caller's
/// firewall, even when the cascade would take it too. A row referencing itself does not count.
/// Before a soft delete only live rows count (a soft-deleted one is gone already); before a hard
/// delete every row does, soft-deleted ones too, as the foreign key sees them.
fn restricted(
    cx: &Cx<'_>,
    st: &State,
    going: &BTreeSet<(String, String)>,
    hard: bool,
) -> Result<(), Fail> {
    for t in &cx.ir.tables {
        for c in &t.columns {
            let Some(r) = c
                .references
                .as_ref()
                .filter(|r| r.on_delete == OnDelete::Restrict)
            else {
                continue;
            };
            let blocked = st.rows.get(&t.name).into_iter().flatten().any(|row| {
                let Some(target) = row.get(&c.name).filter(|v| !v.is_null()) else {
                    return false;
                };
                let itself = r.table == t.name && row.get(system::ID) == Some(target);
                going.contains(&key(&r.table, target))
                    && !itself
                    && (hard || !firewall::soft(t) || firewall::live(row))
            });
            if blocked {
                return Err(Fail::reference_violation(None));
            }
        }
    }
    Ok(())
}

/// A real DELETE and what the foreign keys do: `cascade` deletes the children (any row, deleted
/// or not, any tenant), recursively — unless a `restrict` reference points at one of those rows
/// (see [`restricted`]); then `set-null` clears the references of the surviving rows.
fn hard_delete(
    cx: &Cx<'_>,
    st: &mut State,
    table: &Table,
    id: &Value,
    seen: &mut BTreeSet<(String, String)>,
) -> Result<(), Fail> {
    seen.insert(key(&table.name, id));
    let mut queue = vec![(table.name.clone(), id.clone())];
    while let Some((parent, pid)) = queue.pop() {
        for (child, column) in referencing(cx, &parent, OnDelete::Cascade) {
            for r in st.rows.get(&child.name).into_iter().flatten() {
                let rid = r.get(system::ID).cloned().unwrap_or(Value::Null);
                if r.get(&column) == Some(&pid) && seen.insert(key(&child.name, &rid)) {
                    queue.push((child.name.clone(), rid));
                }
            }
        }
    }
    restricted(cx, st, seen, true)?;
    let gone = |t: &str, r: &Row| seen.contains(&key(t, r.get(system::ID).unwrap_or(&Value::Null)));
    for t in &cx.ir.tables {
        for c in &t.columns {
            let Some(r) = c
                .references
                .as_ref()
                .filter(|r| r.on_delete == OnDelete::SetNull)
            else {
                continue;
            };
            let points_at_gone = |row: &Row| {
                row.get(&c.name)
                    .is_some_and(|v| seen.contains(&key(&r.table, v)))
            };
            let hit = st
                .rows
                .get(&t.name)
                .into_iter()
                .flatten()
                .any(|row| !gone(&t.name, row) && points_at_gone(row));
            if !hit {
                continue;
            }
            // NOT NULL refuses the write.
            if c.required {
                return Err(Fail {
                    status: 400,
                    layer: "validation",
                    code: "VALIDATION_REQUIRED".into(),
                    details: None,
                });
            }
            let keys = seen.clone();
            for row in rows_mut(st, &t.name) {
                let rid = row.get(system::ID).cloned().unwrap_or(Value::Null);
                let dead = keys.contains(&key(&t.name, &rid));
                let target = row.get(&c.name).map(|v| key(&r.table, v));
                if !dead && target.is_some_and(|k| keys.contains(&k)) {
                    row.insert(c.name.clone(), Value::Null);
                }
            }
        }
    }
    for (t, rows) in st.rows.iter_mut() {
        rows.retain(|r| !seen.contains(&key(t, r.get(system::ID).unwrap_or(&Value::Null))));
    }
    Ok(())
}

/// `POST /api/T/{id}/restore`.
pub fn restore(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    raw_id: &str,
) -> Result<(u16, Value), Fail> {
    let residual = access::authorize(table, Operation::Restore, &cx.who)?;
    let scopes = firewall::scopes(table, &cx.who)?;
    if !firewall::soft(table) {
        return Err(firewall::not_found(table));
    }
    let id = parse_id(table.id, raw_id).ok_or_else(|| firewall::not_found(table))?;
    let current = find(st, &table.name, &id)
        .filter(|r| !firewall::live(r) && firewall::in_scope(r, &scopes))
        .cloned()
        .ok_or_else(|| firewall::not_found(table))?;
    if !residual.admits(&current, &cx.who, &cx.clock) {
        return Err(Fail::condition_failed());
    }
    for row in rows_mut(st, &table.name).filter(|r| r.get(system::ID) == Some(&id)) {
        mark_restored(cx, row);
    }
    let deleted_at = current
        .get(system::DELETED_AT)
        .cloned()
        .unwrap_or(Value::Null);
    let deleted_by = current
        .get(system::DELETED_BY)
        .cloned()
        .unwrap_or(Value::Null);
    let mut seen = BTreeSet::from([key(&table.name, &id)]);
    let mut queue = vec![(table.name.clone(), vec![id.clone()])];
    let mut at = 0;
    while let Some((parent, ids)) = queue.get(at).cloned() {
        at += 1;
        for (child, column) in referencing(cx, &parent, OnDelete::Cascade) {
            if !firewall::soft(&child) {
                continue;
            }
            let Ok(child_scopes) = firewall::scopes(&child, &cx.who) else {
                continue;
            };
            // The rows this same soft delete took along.
            let candidates: Vec<Value> = st
                .rows
                .get(&child.name)
                .into_iter()
                .flatten()
                .filter(|r| {
                    !firewall::live(r)
                        && firewall::in_scope(r, &child_scopes)
                        && r.get(&column).is_some_and(|v| ids.contains(v))
                        && r.get(system::DELETED_AT) == Some(&deleted_at)
                        && r.get(system::DELETED_BY) == Some(&deleted_by)
                })
                .filter_map(|r| r.get(system::ID).cloned())
                .filter(|rid| !seen.contains(&key(&child.name, rid)))
                .collect();
            // A child that would point at a soft-deleted row stays deleted.
            let revived: Vec<Value> = candidates
                .into_iter()
                .filter(|rid| {
                    find(st, &child.name, rid)
                        .is_none_or(|r| dangling(cx, st, &child, r).is_empty())
                })
                .collect();
            if revived.is_empty() {
                continue;
            }
            for row in rows_mut(st, &child.name) {
                if row.get(system::ID).is_some_and(|rid| revived.contains(rid)) {
                    mark_restored(cx, row);
                }
            }
            for rid in &revived {
                seen.insert(key(&child.name, rid));
            }
            queue.push((child.name.clone(), revived));
        }
    }
    let root = find(st, &table.name, &id).cloned().unwrap_or_default();
    let columns = dangling(cx, st, table, &root);
    if !columns.is_empty() {
        return Err(Fail::reference_violation(Some(&columns)));
    }
    Ok((200, json!({ "data": render(cx, st, table, &id) })))
}

fn mark_restored(cx: &Cx<'_>, row: &mut Row) {
    row.insert(system::DELETED_AT.into(), Value::Null);
    row.insert(system::DELETED_BY.into(), Value::Null);
    stamp(row, system::MODIFIED_AT, system::MODIFIED_BY, cx);
}

/// The reference columns of `row` that point at a soft-deleted row.
fn dangling(cx: &Cx<'_>, st: &State, table: &Table, row: &Row) -> Vec<String> {
    table
        .columns
        .iter()
        .filter(|c| {
            let Some(r) = &c.references else {
                return false;
            };
            let target_soft = cx.table(&r.table).is_some_and(firewall::soft);
            target_soft
                && row
                    .get(&c.name)
                    .filter(|v| !v.is_null())
                    .and_then(|v| find(st, &r.table, v))
                    .is_some_and(|t| !firewall::live(t))
        })
        .map(|c| c.name.clone())
        .collect()
}
