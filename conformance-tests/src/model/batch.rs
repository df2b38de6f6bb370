//! Batches (SPEC §5.5, docs/decisions.md "Batch …", docs/http-api.md "Batch"): the role part and
//! firewall once, then the body's shape (`options.ifMatch` included) → `BATCH_SIZE_EXCEEDED` →
//! `BATCH_ATOMIC_NOT_ALLOWED` → `BATCH_MISSING_IDS` → an `ifMatch` id no record carries, then
//! each record through exactly its single-record pipeline, its `ifMatch` entry judged as the
//! record's `If-Match`, in order, each seeing what the earlier ones wrote. Non-atomic: a failed
//! record changes nothing (207); atomic: the first failure rolls everything back.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use ward_ir::{IdKind, Operation, Table, system};

use super::access::{self, Residual};
use super::errors::Fail;
use super::firewall::{self, Scopes};
use super::route::object_body;
use super::write::{self, UpsertGates};
use super::{Cx, State, masking, parse_id};
use crate::scenario::Precondition;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Create,
    Update,
    Upsert,
    Delete,
}

enum Gate {
    Create(Scopes),
    Rows(Residual, Scopes),
    Upsert(UpsertGates),
}

struct Item {
    raw: Value,
    body: Map<String, Value>,
    id: Option<Value>,
    /// The record's `options.ifMatch` entry.
    precondition: Option<Precondition>,
}

pub fn batch(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    method: &str,
    body: Option<&str>,
) -> Result<(u16, Value), Fail> {
    let kind = match method {
        "POST" => Kind::Create,
        "PATCH" => Kind::Update,
        "PUT" => Kind::Upsert,
        _ => Kind::Delete,
    };
    let gate = match kind {
        Kind::Create => {
            access::authorize(table, Operation::Create, &cx.who)?;
            Gate::Create(firewall::stamps(table, &cx.who)?)
        }
        Kind::Update | Kind::Delete => {
            let op = if kind == Kind::Update {
                Operation::Update
            } else {
                Operation::Delete
            };
            let residual = access::authorize(table, op, &cx.who)?;
            Gate::Rows(residual, firewall::scopes(table, &cx.who)?)
        }
        Kind::Upsert => Gate::Upsert(write::upsert_gates(table, cx)?),
    };
    let (items, atomic) = parse(table, kind, object_body(body)?)?;
    let mut results: Vec<Result<Value, Fail>> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut trial = st.clone();
        let r = run_one(cx, &mut trial, table, kind, &gate, item);
        match r {
            Ok(id) => {
                *st = trial;
                results.push(Ok(id));
            }
            Err(f) if atomic => return Err(Fail::batch_atomic_failed(i, &f)),
            Err(f) => results.push(Err(f)),
        }
    }
    // Rows are read back once, at the end: an id written twice shows its final row twice.
    let mut success = Vec::new();
    let mut errors = Vec::new();
    for (i, (item, r)) in items.iter().zip(results).enumerate() {
        match r {
            Ok(id) if kind == Kind::Delete => success.push(json!({
                "id": id,
                "deleted": true,
                "deletedAt": cx.now,
                "deletedBy": cx.who.stamp(),
            })),
            Ok(id) => success.push(write::render(cx, st, table, &id)),
            Err(f) => {
                let mut entry = Map::new();
                entry.insert("index".into(), json!(i));
                if kind == Kind::Delete {
                    entry.insert("id".into(), item.raw.clone());
                } else {
                    entry.insert("record".into(), echo(cx, table, &item.raw));
                }
                entry.insert("error".into(), f.expected());
                errors.push(Value::Object(entry));
            }
        }
    }
    let status = match (errors.is_empty(), kind) {
        (false, _) => 207,
        (true, Kind::Create) => 201,
        (true, _) => 200,
    };
    let meta = json!({
        "total": items.len(),
        "succeeded": success.len(),
        "failed": errors.len(),
        "atomic": atomic,
    });
    Ok((
        status,
        json!({ "success": success, "errors": errors, "meta": meta }),
    ))
}

/// A failed record as sent, masked like a stored row without the `owner=` exemption.
fn echo(cx: &Cx<'_>, table: &Table, raw: &Value) -> Value {
    match raw {
        Value::Object(m) => Value::Object(masking::mask(table, &cx.who, m, false)),
        other => other.clone(),
    }
}

fn run_one(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    kind: Kind,
    gate: &Gate,
    item: &Item,
) -> Result<Value, Fail> {
    let not_found = || firewall::not_found(table);
    match (kind, gate) {
        (Kind::Create, Gate::Create(stamps)) => {
            write::create_one(cx, st, table, stamps, &item.body, false)
        }
        (Kind::Update, Gate::Rows(residual, scopes)) => {
            let id = item.id.clone().ok_or_else(not_found)?;
            write::expected(cx, st, table, residual, scopes, &id, item.precondition)?;
            write::update_one(cx, st, table, residual, scopes, &id, &item.body)?;
            Ok(id)
        }
        (Kind::Delete, Gate::Rows(residual, scopes)) => {
            let id = item.id.clone().ok_or_else(not_found)?;
            write::expected(cx, st, table, residual, scopes, &id, item.precondition)?;
            write::delete_one(cx, st, table, residual, scopes, &id)?;
            Ok(id)
        }
        (Kind::Upsert, Gate::Upsert(gates)) => {
            let id = item.id.clone().ok_or_else(not_found)?;
            write::upsert_precondition(cx, st, table, gates, &id, item.precondition)?;
            write::upsert_one(cx, st, table, gates, &id, &item.body)?;
            Ok(id)
        }
        _ => Err(not_found()),
    }
}

/// How an id is named among `options.ifMatch`'s keys: a string as itself, a number in decimal.
fn id_key(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `options.ifMatch`: an object from ids to `*` or quoted tags. No tag the suite sends is ever a
/// record's version, so every quoted one is stale.
fn if_match_option(v: Option<Value>) -> Result<BTreeMap<String, Precondition>, Fail> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(tags) = v else {
        return Err(Fail::invalid_json());
    };
    tags.into_iter()
        .map(|(id, tag)| match tag.as_str() {
            Some("*") => Ok((id, Precondition::IfMatchAny)),
            Some(t) if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') => {
                Ok((id, Precondition::IfMatchStale))
            }
            _ => Err(Fail::invalid_json()),
        })
        .collect()
}

/// The body's shape, size, atomic option and ids, before anything is read.
fn parse(
    table: &Table,
    kind: Kind,
    mut body: Map<String, Value>,
) -> Result<(Vec<Item>, bool), Fail> {
    let list_key = if kind == Kind::Delete {
        "ids"
    } else {
        "records"
    };
    if body.keys().any(|k| k != list_key && k != "options") {
        return Err(Fail::invalid_json());
    }
    let Some(Value::Array(list)) = body.remove(list_key) else {
        return Err(Fail::invalid_json());
    };
    let (atomic, if_match) = match body.remove("options") {
        None => (false, BTreeMap::new()),
        Some(Value::Object(mut o)) => {
            let atomic = match o.remove("atomic") {
                None => false,
                Some(Value::Bool(b)) => b,
                Some(_) => return Err(Fail::invalid_json()),
            };
            let if_match = if_match_option(o.remove("ifMatch"))?;
            if !o.is_empty() {
                return Err(Fail::invalid_json());
            }
            (atomic, if_match)
        }
        Some(_) => return Err(Fail::invalid_json()),
    };
    if kind == Kind::Create && !if_match.is_empty() {
        return Err(Fail::invalid_json());
    }
    let shape_ok = |v: &Value| match kind {
        Kind::Delete => v.is_string() || v.is_number(),
        _ => v.is_object(),
    };
    if !list.iter().all(shape_ok) {
        return Err(Fail::invalid_json());
    }
    if list.len() > table.batch.max as usize {
        return Err(Fail::batch_size_exceeded(table.batch.max, list.len()));
    }
    if atomic && !table.batch.atomic {
        return Err(Fail::batch_atomic_not_allowed());
    }
    let mut items = Vec::new();
    let mut missing = Vec::new();
    let mut named = BTreeSet::new();
    let mut lookup = |id: &Value| {
        let key = id_key(id);
        let found = if_match.get(&key).copied();
        if found.is_some() {
            named.insert(key);
        }
        found
    };
    for (i, raw) in list.into_iter().enumerate() {
        let item = match (kind, &raw) {
            (Kind::Delete, _) => Item {
                id: json_id(table.id, &raw),
                precondition: lookup(&raw),
                body: Map::new(),
                raw,
            },
            (_, Value::Object(m)) => {
                let mut body = m.clone();
                let mut precondition = None;
                let id = if kind == Kind::Create {
                    None
                } else {
                    match body.remove(system::ID) {
                        None | Some(Value::Null) => {
                            missing.push(i);
                            None
                        }
                        Some(v) => {
                            precondition = lookup(&v);
                            json_id(table.id, &v)
                        }
                    }
                };
                Item {
                    raw,
                    body,
                    id,
                    precondition,
                }
            }
            _ => return Err(Fail::invalid_json()),
        };
        items.push(item);
    }
    if !missing.is_empty() {
        return Err(Fail::batch_missing_ids(&missing));
    }
    if if_match.keys().any(|id| !named.contains(id)) {
        return Err(Fail::invalid_json());
    }
    Ok((items, atomic))
}

/// An id in a batch body: strings for every id kind, numbers for `id integer` only; anything
/// else is simply not found.
fn json_id(kind: IdKind, v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => parse_id(kind, s),
        Value::Number(n) if kind == IdKind::Integer => n.as_i64().map(Value::from),
        _ => None,
    }
}
