//! Creates, updates and upserts (SPEC §2.3–§2.6, §5.6, §6 and docs/decisions.md), one record at a
//! time: batches reuse exactly these functions. Order: role part → firewall → (update: load the
//! visible row → `when`) → body → guards → unknown keys → validation → `check` → references →
//! unique constraints → write.

use serde_json::{Map, Value, json};
use ward_ir::TriggerEvent::{Create, Update};
use ward_ir::{ColumnType, IdKind, Operation, Table, TriggerPhase, system};

use super::access::{self, Residual};
use super::errors::Fail;
use super::firewall::{self, Scopes};
use super::guards::{self, Write};
use super::route::object_body;
use super::validation::{self, stored};
use super::{Cx, Row, State, masking, parse_id, triggers};
use crate::scenario::Precondition;

pub use super::delete::{delete, delete_one, restore};

/// PUT is served for tables with client ids whose every column is writable.
pub fn upsert_allowed(table: &Table) -> bool {
    table.id == IdKind::Text && table.guards.open
}

pub fn rows<'s>(st: &'s State, table: &str) -> &'s [Row] {
    st.rows.get(table).map_or(&[], Vec::as_slice)
}

pub fn find<'s>(st: &'s State, table: &str, id: &Value) -> Option<&'s Row> {
    rows(st, table)
        .iter()
        .find(|r| r.get(system::ID) == Some(id))
}

/// The `data` of a write's answer (create, update, upsert, restore, batch successes): the row as
/// the caller reads it, or only `{"id"}` when their `read` rule would not show it, so that a write
/// never serves as a read (docs/decisions.md).
pub fn render(cx: &Cx<'_>, st: &State, table: &Table, id: &Value) -> Value {
    find(st, &table.name, id).map_or(Value::Null, |row| {
        if access::may_read(table, row, &cx.who, &cx.clock) {
            masking::render(cx.ir, &st.rows, table, &cx.who, &cx.clock, row, None)
        } else {
            json!({ "id": id })
        }
    })
}

/// `POST /api/T`.
pub fn create(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    body: Option<&str>,
) -> Result<(u16, Value), Fail> {
    access::authorize(table, Operation::Create, &cx.who)?;
    let stamps = firewall::stamps(table, &cx.who)?;
    let body = object_body(body)?;
    let id = create_one(cx, st, table, &stamps, &body, false)?;
    Ok((201, json!({ "data": render(cx, st, table, &id) })))
}

/// One create: guards, validation, stamps, `check`, references, unique; returns the new id.
/// `upsert` makes a primary-key conflict (a row the caller cannot see) a not-found.
pub fn create_one(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    stamps: &Scopes,
    body: &Map<String, Value>,
    upsert: bool,
) -> Result<Value, Fail> {
    let keys: Vec<String> = body.keys().cloned().collect();
    guards::check(table, Write::Create, &keys)?;
    let values = validation::validate(table, Write::Create, body, &cx.now, &cx.today)?;
    let mut row = full_row(table, values);
    for (col, v) in stamps {
        row.insert(col.clone(), Value::String(v.clone()));
    }
    stamp(&mut row, system::CREATED_AT, system::CREATED_BY, cx);
    stamp(&mut row, system::MODIFIED_AT, system::MODIFIED_BY, cx);
    access::check(table, Operation::Create, &row, &cx.who, &cx.clock)?;
    let id = match table.id {
        IdKind::Text => row.get(system::ID).cloned().unwrap_or(Value::Null),
        IdKind::Uuid | IdKind::Integer => cx.new_id(&table.name),
    };
    row.insert(system::ID.into(), id.clone());
    references(cx, st, table, &row)?;
    // A create runs its `before` triggers ahead of the INSERT that finds a taken id; an upsert
    // looks the id up first (docs/decisions.md). A failure anywhere discards the state.
    if !upsert {
        triggers::fire(cx, st, table, Create, TriggerPhase::Before, &row, None)?;
    }
    if find(st, &table.name, &id).is_some() {
        return Err(if upsert {
            firewall::not_found(table)
        } else {
            Fail::unique_violation()
        });
    }
    if upsert {
        triggers::fire(cx, st, table, Create, TriggerPhase::Before, &row, None)?;
    }
    unique(st, table, &row)?;
    st.rows
        .entry(table.name.clone())
        .or_default()
        .push(row.clone());
    st.created
        .entry(table.name.clone())
        .or_default()
        .push(id.clone());
    triggers::written(cx, st, table, Create, &row, None)?;
    Ok(id)
}

/// Validated values as they are stored.
pub(super) fn stored_values(table: &Table, values: Map<String, Value>) -> Row {
    values
        .into_iter()
        .map(|(k, v)| {
            let v = match table.column(&k) {
                Some(c) => stored(c.ty, v),
                None => v,
            };
            (k, v)
        })
        .collect()
}

/// Every column of the table, in column order, `null` where nothing is written.
pub(super) fn full_row(table: &Table, values: Map<String, Value>) -> Row {
    table
        .columns
        .iter()
        .map(|c| {
            let v = values.get(&c.name).cloned().unwrap_or(Value::Null);
            (c.name.clone(), stored(c.ty, v))
        })
        .collect()
}

pub fn stamp(row: &mut Row, at: &str, by: &str, cx: &Cx<'_>) {
    row.insert(at.into(), Value::String(cx.now.clone()));
    row.insert(by.into(), cx.who.stamp());
}

/// Each non-null reference written must point at a row the caller could read: an invisible
/// target is a missing one (SPEC §5.4). `written` holds the columns this write sets.
pub(super) fn references(
    cx: &Cx<'_>,
    st: &State,
    table: &Table,
    written: &Row,
) -> Result<(), Fail> {
    let mut bad = Vec::new();
    for col in &table.columns {
        let (Some(reference), Some(v)) = (&col.references, written.get(&col.name)) else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        let seen = cx
            .table(&reference.table)
            .and_then(|t| masking::readable(&st.rows, t, &cx.who, &cx.clock, v))
            .is_some();
        if !seen {
            bad.push(col.name.clone());
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Fail::reference_violation(Some(&bad)))
    }
}

/// Unique constraints, over every stored row (deleted or not); `NULL`s never collide. On a
/// firewalled table a constraint holds within the row's scope (SPEC §5.7): two rows clash only
/// when they also share every scope value, unless it is `global`.
pub(super) fn unique(st: &State, table: &Table, row: &Row) -> Result<(), Fail> {
    let id = row.get(system::ID);
    for ix in table.indexes.iter().filter(|i| i.unique) {
        let mut set: Vec<&str> = ix.columns.iter().map(String::as_str).collect();
        if !ix.global {
            set.extend(table.firewall.scopes.iter().map(|s| s.column.as_str()));
        }
        let key: Vec<&Value> = set
            .iter()
            .map(|c| row.get(*c).unwrap_or(&Value::Null))
            .collect();
        if key.iter().any(|v| v.is_null()) {
            continue;
        }
        let clash = rows(st, &table.name).iter().any(|other| {
            other.get(system::ID) != id
                && set
                    .iter()
                    .zip(&key)
                    .all(|(c, v)| other.get(*c).unwrap_or(&Value::Null) == *v)
        });
        if clash {
            return Err(Fail::unique_violation());
        }
    }
    Ok(())
}

/// `PATCH /api/T/{id}`.
pub fn update(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    raw_id: &str,
    body: Option<&str>,
    precondition: Option<Precondition>,
) -> Result<(u16, Value), Fail> {
    let residual = access::authorize(table, Operation::Update, &cx.who)?;
    let scopes = firewall::scopes(table, &cx.who)?;
    let id = parse_id(table.id, raw_id).ok_or_else(|| firewall::not_found(table))?;
    // The row, its `when` and the precondition come before the body (docs/errors.md).
    let current = load_visible(st, table, &scopes, &id)?;
    if !residual.admits(&current, &cx.who, &cx.clock) {
        return Err(Fail::condition_failed());
    }
    judge(precondition, Some(&current))?;
    let body = object_body(body)?;
    update_one(cx, st, table, &residual, &scopes, &id, &body)?;
    Ok((200, json!({ "data": render(cx, st, table, &id) })))
}

/// A precondition header (SPEC §5.7) on the row the caller can see (`None`: none), once the
/// firewall and `when` let the write go ahead. A stale tag is no version: it always fails.
pub fn judge(precondition: Option<Precondition>, current: Option<&Row>) -> Result<(), Fail> {
    let exists = current.is_some();
    let holds = match precondition {
        None => true,
        Some(Precondition::IfMatchAny) => exists,
        Some(Precondition::IfMatchStale) => false,
        Some(Precondition::IfNoneMatchAny) => !exists,
    };
    if holds {
        Ok(())
    } else {
        Err(Fail::precondition_failed())
    }
}

/// A precondition on a delete, or a batch record's `ifMatch` on an update or delete: the row must
/// be visible, then `when` holds, then the version. Without one nothing is read here.
pub(super) fn expected(
    cx: &Cx<'_>,
    st: &State,
    table: &Table,
    residual: &Residual,
    scopes: &Scopes,
    id: &Value,
    precondition: Option<Precondition>,
) -> Result<(), Fail> {
    if precondition.is_none() {
        return Ok(());
    }
    let current = load_visible(st, table, scopes, id)?;
    if !residual.admits(&current, &cx.who, &cx.clock) {
        return Err(Fail::condition_failed());
    }
    judge(precondition, Some(&current))
}

pub fn load_visible(st: &State, table: &Table, scopes: &Scopes, id: &Value) -> Result<Row, Fail> {
    find(st, &table.name, id)
        .filter(|r| firewall::visible(r, scopes))
        .cloned()
        .ok_or_else(|| firewall::not_found(table))
}

/// One update of a firewall-visible row: `when`, guards, validation, `check`, references, unique.
pub fn update_one(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    residual: &Residual,
    scopes: &Scopes,
    id: &Value,
    body: &Map<String, Value>,
) -> Result<(), Fail> {
    let current = load_visible(st, table, scopes, id)?;
    if !residual.admits(&current, &cx.who, &cx.clock) {
        return Err(Fail::condition_failed());
    }
    let keys: Vec<String> = body.keys().cloned().collect();
    guards::check(table, Write::Update, &keys)?;
    let values = validation::validate(table, Write::Update, body, &cx.now, &cx.today)?;
    let mut changes = stored_values(table, values);
    stamp(&mut changes, system::MODIFIED_AT, system::MODIFIED_BY, cx);
    let mut resulting = current.clone();
    resulting.extend(changes.clone());
    access::check(table, Operation::Update, &resulting, &cx.who, &cx.clock)?;
    references(cx, st, table, &changes)?;
    let old = Some(&current);
    triggers::fire(cx, st, table, Update, TriggerPhase::Before, &resulting, old)?;
    unique(st, table, &resulting)?;
    if let Some(row) = st
        .rows
        .get_mut(&table.name)
        .and_then(|rows| rows.iter_mut().find(|r| r.get(system::ID) == Some(id)))
    {
        *row = resulting.clone();
    }
    triggers::written(cx, st, table, Update, &resulting, old)
}

/// The role part of an upsert, decided before anything is read: each gate may fail on its own;
/// a caller who may do neither gets the update rule's answer at once.
pub struct UpsertGates {
    pub update: Result<(Residual, Scopes), Fail>,
    pub create: Result<Scopes, Fail>,
    pub scopes: Scopes,
}

pub fn upsert_gates(table: &Table, cx: &Cx<'_>) -> Result<UpsertGates, Fail> {
    let update = access::authorize(table, Operation::Update, &cx.who)
        .and_then(|r| Ok((r, firewall::scopes(table, &cx.who)?)));
    let create = access::authorize(table, Operation::Create, &cx.who)
        .and_then(|_| firewall::stamps(table, &cx.who));
    if let (Err(e), Err(_)) = (&update, &create) {
        return Err(e.clone());
    }
    let scopes = firewall::scopes(table, &cx.who)?;
    Ok(UpsertGates {
        update,
        create,
        scopes,
    })
}

/// `PUT /api/T/{id}`.
pub fn upsert(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    raw_id: &str,
    body: Option<&str>,
    precondition: Option<Precondition>,
) -> Result<(u16, Value), Fail> {
    let gates = upsert_gates(table, cx)?;
    let id = parse_id(table.id, raw_id).ok_or_else(|| firewall::not_found(table))?;
    let mut body = object_body(body)?;
    match body.get(system::ID) {
        Some(given) if *given != id => {
            let keys: Vec<String> = body.keys().cloned().collect();
            return Err(guards::check(table, Write::Update, &keys)
                .err()
                .unwrap_or_else(|| Fail::guard("GUARD_SYSTEM_MANAGED", &[system::ID.into()])));
        }
        Some(_) => {
            body.remove(system::ID);
        }
        None => {}
    }
    upsert_precondition(cx, st, table, &gates, &id, precondition)?;
    let created = upsert_one(cx, st, table, &gates, &id, &body)?;
    let status = if created { 201 } else { 200 };
    Ok((status, json!({ "data": render(cx, st, table, &id) })))
}

/// An upsert's precondition (its header, or a batch record's `ifMatch`). A visible row the
/// caller may not update answers as without it; for one they may, `when` comes first.
pub fn upsert_precondition(
    cx: &Cx<'_>,
    st: &State,
    table: &Table,
    gates: &UpsertGates,
    id: &Value,
    precondition: Option<Precondition>,
) -> Result<(), Fail> {
    let current = find(st, &table.name, id).filter(|r| firewall::visible(r, &gates.scopes));
    match (current, &gates.update) {
        (Some(_), Err(_)) => Ok(()),
        (Some(row), Ok((residual, _))) => {
            if precondition.is_some() && !residual.admits(row, &cx.who, &cx.clock) {
                return Err(Fail::condition_failed());
            }
            judge(precondition, Some(row))
        }
        (None, _) => judge(precondition, None),
    }
}

/// One upsert (the body without `id`): an update of a firewall-visible row, else a create with
/// this id. Returns whether it created.
pub fn upsert_one(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    gates: &UpsertGates,
    id: &Value,
    body: &Map<String, Value>,
) -> Result<bool, Fail> {
    let visible = find(st, &table.name, id).is_some_and(|r| firewall::visible(r, &gates.scopes));
    if visible {
        let (residual, scopes) = gates.update.clone()?;
        update_one(cx, st, table, &residual, &scopes, id, body)?;
        return Ok(false);
    }
    // With update only, an id the caller cannot see is not found, as PATCH would answer.
    let stamps = gates
        .create
        .clone()
        .map_err(|_| firewall::not_found(table))?;
    let mut with_id = Map::new();
    with_id.insert(system::ID.into(), id.clone());
    with_id.extend(body.clone());
    create_one(cx, st, table, &stamps, &with_id, true)?;
    Ok(true)
}

/// A fixture row as `App::seed` writes it (no access rule or guards; FK and unique constraints
/// still hold, without the caller's firewall).
pub fn seed(
    cx: &mut Cx<'_>,
    st: &mut State,
    table_name: &str,
    values: &Map<String, Value>,
) -> Result<Row, String> {
    let table = cx
        .table(table_name)
        .cloned()
        .ok_or_else(|| format!("unknown table `{table_name}`"))?;
    for key in values.keys() {
        if table.column(key).is_none() {
            return Err(format!("`{table_name}` has no column `{key}`"));
        }
        if guards::managed(&table, key) && !guards::client_id(&table, Write::Create, key) {
            return Err(format!("`{key}` is set by the server"));
        }
    }
    let stamps = firewall::stamps(&table, &cx.who).map_err(|f| f.code.to_string())?;
    // A seed's file is an upload the server stored: its metadata is the column's value, which
    // no client could write as JSON (validation refuses every file value but null).
    let is_upload = |k: &str, v: &Value| {
        v.is_object() && table.column(k).is_some_and(|c| c.ty == ColumnType::File)
    };
    let written: Map<String, Value> = values
        .iter()
        .filter(|(k, v)| !is_upload(k, v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let valid = validation::validate(&table, Write::Create, &written, &cx.now, &cx.today)
        .map_err(|f| f.code.to_string())?;
    let mut row = full_row(&table, valid);
    row.extend(
        values
            .iter()
            .filter(|(k, v)| is_upload(k, v))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    for (col, v) in stamps {
        row.insert(col, Value::String(v));
    }
    stamp(&mut row, system::CREATED_AT, system::CREATED_BY, cx);
    stamp(&mut row, system::MODIFIED_AT, system::MODIFIED_BY, cx);
    let id = match table.id {
        IdKind::Text => row.get(system::ID).cloned().unwrap_or(Value::Null),
        _ => cx.new_id(&table.name),
    };
    row.insert(system::ID.into(), id.clone());
    for col in &table.columns {
        if let (Some(r), Some(v)) = (&col.references, row.get(&col.name))
            && !v.is_null()
            && find(st, &r.table, v).is_none()
        {
            return Err(format!("`{}` points at no row", col.name));
        }
    }
    if find(st, table_name, &id).is_some() {
        return Err("UNIQUE_VIOLATION".into());
    }
    unique(st, &table, &row).map_err(|f| f.code.to_string())?;
    st.rows
        .entry(table.name.clone())
        .or_default()
        .push(row.clone());
    st.created.entry(table.name.clone()).or_default().push(id);
    Ok(row)
}
