//! `POST / PATCH / PUT / DELETE /api/T/batch` (SPEC §5.5): many creates, updates, upserts or
//! deletes in one request and one writer transaction.
//!
//! Before anything is read: the table must allow batches (`BATCH_DISABLED`, and PUT needs upsert),
//! the caller passes the role part and firewall once for the whole batch, and the body's shape,
//! size (`BATCH_SIZE_EXCEEDED`), atomic option and ids are checked. Each record then goes through
//! exactly the single-record pipeline (`create::prepare`, `update::apply`, `upsert::apply`,
//! `delete::apply`); this module only parses, runs and shapes the answer.
//!
//! Atomic batches stop at the first failing record and roll the whole transaction back
//! (`BATCH_ATOMIC_FAILED`). Non-atomic batches run each record's write in its own savepoint of the
//! one transaction, so a record either fully happens or changes nothing, and commit the rest
//! (207 when any failed). An internal error aborts and rolls back either kind.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value as Json, json};
use ward_ir::{IdKind, Operation, system};

use super::precondition::Precondition;
use super::request::{self, Shared};
use super::{batch_create, batch_rows, triggers, upsert};
use crate::error::ApiError;
use crate::gate::{Caller, Gate, ScopeEq};
use crate::mutation::{self, Mutation};
use crate::security::{self, audit, masking};
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::value;

pub async fn create(
    State(st): State<Shared>,
    Path(table): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run(st, table, Kind::Create, headers, body).await)
}

pub async fn update(
    State(st): State<Shared>,
    Path(table): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run(st, table, Kind::Update, headers, body).await)
}

pub async fn upsert(
    State(st): State<Shared>,
    Path(table): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run(st, table, Kind::Upsert, headers, body).await)
}

pub async fn delete(
    State(st): State<Shared>,
    Path(table): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run(st, table, Kind::Delete, headers, body).await)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
    Upsert,
    Delete,
}

/// The role part and firewall of the whole batch, decided once before anything is read.
#[derive(Debug, Clone)]
pub enum Access {
    Create(Vec<ScopeEq>),
    // Boxed: upsert carries two gates, creates only stamps.
    Rows(Box<RowAccess>),
}

/// The same for the operations on existing rows.
#[derive(Debug, Clone)]
pub enum RowAccess {
    Update(Gate),
    Upsert(upsert::Gates),
    Delete(Gate),
}

/// One record (or id) of the batch.
#[derive(Debug, Clone)]
pub struct Item {
    /// What the client sent, echoed (masked) in `errors`.
    pub raw: Json,
    /// The record's fields; without `id` for update and upsert.
    pub body: Map<String, Json>,
    /// The record's id as an id of the table; `None` for creates, and for a malformed id (which is
    /// simply not found, as on the single-record routes).
    pub id: Option<Json>,
    /// The version the client expects the record at (`options.ifMatch`), if any.
    pub precondition: Option<Precondition>,
}

/// What one batch shares while it runs inside the writer transaction.
pub struct Ctx<'a> {
    pub snap: &'a Snapshot,
    pub plan: &'a TablePlan,
    pub caller: &'a Caller,
    pub now: &'a str,
    /// The request's id, for the change records.
    pub request: Option<&'a str>,
    pub atomic: bool,
    /// The transaction's `after` work; a record undone by its savepoint takes its share back.
    pub pending: &'a triggers::Pending,
}

impl<'a> Ctx<'a> {
    /// What the batch's writes on `db` share.
    pub fn write_cx<'b>(&'b self, db: &'b dyn crate::store::Db) -> triggers::WriteCx<'b>
    where
        'a: 'b,
    {
        triggers::WriteCx {
            db,
            snap: self.snap,
            caller: self.caller,
            now: self.now,
            request: self.request,
            pending: self.pending,
        }
    }

    /// A record's outcome, as the batch continues with it: in an atomic batch any failure ends
    /// the batch (and rolls it back); an internal error ends every batch.
    pub fn settle<T>(
        &self,
        index: usize,
        r: Result<T, ApiError>,
    ) -> Result<Result<T, ApiError>, ApiError> {
        match r {
            Err(e) if e.status() == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
            Err(e) if self.atomic && !mutation::active(Mutation::BatchAtomicPartialCommit) => {
                Err(ApiError::batch_atomic_failed(index, &e))
            }
            other => Ok(other),
        }
    }
}

async fn run(
    st: Shared,
    table: String,
    kind: Kind,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    // Route-level configuration, the same for every caller: answered before the token is read.
    if !plan.def.batch.enabled {
        return Err(ApiError::batch_disabled());
    }
    if kind == Kind::Upsert && !upsert::allowed(plan) {
        return Err(ApiError::upsert_not_allowed());
    }
    let caller = request::caller(&st, &serving, &headers)?;
    let access = match kind {
        Kind::Create => Access::Create(security::create_gate(plan, &caller)?),
        Kind::Update => Access::Rows(Box::new(RowAccess::Update(security::gate(
            plan,
            Operation::Update,
            &caller,
        )?))),
        Kind::Upsert => Access::Rows(Box::new(RowAccess::Upsert(upsert::Gates::new(
            plan, &caller,
        )?))),
        Kind::Delete => Access::Rows(Box::new(RowAccess::Delete(security::gate(
            plan,
            Operation::Delete,
            &caller,
        )?))),
    };
    let body = request::body(&st.bodies, plan, &headers, body).await?;
    let (items, atomic) = parse(plan, kind, body)?;
    let now = audit::now();

    let results = if items.is_empty() {
        Vec::new()
    } else {
        let snap2 = snap.clone();
        let caller2 = caller.clone();
        let items2 = items.clone();
        let request_id = request::request_id(&headers);
        let (results, after) = st
            .store
            .write(move |tx| {
                triggers::collect(tx, &snap2, &caller2, &now, request_id.as_deref(), |cx| {
                    let ctx = Ctx {
                        snap: &snap2,
                        plan: request::plan_in(&snap2, &table)?,
                        caller: &caller2,
                        now: &now,
                        request: request_id.as_deref(),
                        atomic,
                        pending: cx.pending,
                    };
                    match &access {
                        Access::Create(stamps) => batch_create::run(tx, &ctx, stamps, &items2),
                        Access::Rows(rows) => batch_rows::run(tx, &ctx, rows, &items2),
                    }
                })
            })
            .await?;
        triggers::after(&st, snap.clone(), &caller, after).await;
        results
    };
    Ok(respond(plan, &caller, kind, atomic, &items, results))
}

/// Checks the body in this order, all before anything is read: its shape (`INVALID_JSON`), its
/// size, the atomic option, and the ids of update and upsert records.
fn parse(
    plan: &TablePlan,
    kind: Kind,
    mut body: Map<String, Json>,
) -> Result<(Vec<Item>, bool), ApiError> {
    let list_key = if kind == Kind::Delete {
        "ids"
    } else {
        "records"
    };
    if let Some(k) = body.keys().find(|k| *k != list_key && *k != "options") {
        return Err(ApiError::invalid_json(&format!(
            "Unknown key `{k}` in a batch body"
        )));
    }
    let Some(Json::Array(list)) = body.remove(list_key) else {
        return Err(ApiError::invalid_json(&format!(
            "A batch body needs `{list_key}`: an array"
        )));
    };
    let Options { atomic, if_match } = options(body.remove("options"))?;
    if kind == Kind::Create && !if_match.is_empty() {
        return Err(ApiError::invalid_json(
            "`options.ifMatch` is for update, upsert and delete batches",
        ));
    }
    // The whole shape comes first (docs/errors.md): a malformed entry is INVALID_JSON even in an
    // oversized batch.
    let well_formed = |v: &Json| match kind {
        Kind::Delete => v.is_string() || v.is_number(),
        _ => v.is_object(),
    };
    if let Some(i) = list.iter().position(|v| !well_formed(v)) {
        return Err(ApiError::invalid_json(&if kind == Kind::Delete {
            format!("ids[{i}] must be a string or a number")
        } else {
            format!("records[{i}] must be a JSON object")
        }));
    }
    let batch = &plan.def.batch;
    if list.len() > batch.max as usize {
        return Err(ApiError::batch_size_exceeded(batch.max, list.len()));
    }
    if atomic && !batch.atomic {
        return Err(ApiError::batch_atomic_not_allowed());
    }
    let mut items = Vec::with_capacity(list.len());
    let mut missing = Vec::new();
    // The ids of `options.ifMatch` some record carries.
    let mut named = BTreeSet::new();
    for (i, raw) in list.into_iter().enumerate() {
        let item = if kind == Kind::Delete {
            if !(raw.is_string() || raw.is_number()) {
                return Err(ApiError::invalid_json(&format!(
                    "ids[{i}] must be a string or a number"
                )));
            }
            Item {
                id: parse_id(plan.def.id, &raw),
                precondition: expected(&if_match, &mut named, &raw),
                body: Map::new(),
                raw,
            }
        } else {
            let Json::Object(mut body) = raw.clone() else {
                return Err(ApiError::invalid_json(&format!(
                    "records[{i}] must be a JSON object"
                )));
            };
            let mut precondition = None;
            let id = if kind == Kind::Create {
                None
            } else {
                match body.remove(system::ID) {
                    None | Some(Json::Null) => {
                        missing.push(i);
                        None
                    }
                    Some(v) => {
                        precondition = expected(&if_match, &mut named, &v);
                        parse_id(plan.def.id, &v)
                    }
                }
            };
            Item {
                raw,
                body,
                id,
                precondition,
            }
        };
        items.push(item);
    }
    if !missing.is_empty() {
        return Err(ApiError::batch_missing_ids(&missing));
    }
    if let Some(id) = if_match.keys().find(|id| !named.contains(*id)) {
        return Err(ApiError::invalid_json(&format!(
            "`options.ifMatch` names `{id}`, which the batch does not carry"
        )));
    }
    Ok((items, atomic))
}

/// A batch's `options`.
struct Options {
    atomic: bool,
    /// Record id → the version it must be at (SPEC §5.7, docs/http-api.md).
    if_match: BTreeMap<String, Precondition>,
}

/// `options` is an object with the boolean `atomic` (default `false`) and `ifMatch`, an object
/// from record ids to an `If-Match` value for that record.
fn options(options: Option<Json>) -> Result<Options, ApiError> {
    let Some(options) = options else {
        return Ok(Options {
            atomic: false,
            if_match: BTreeMap::new(),
        });
    };
    let Json::Object(mut o) = options else {
        return Err(ApiError::invalid_json("`options` must be an object"));
    };
    let atomic = match o.remove("atomic") {
        None => false,
        Some(Json::Bool(b)) => b,
        Some(_) => return Err(ApiError::invalid_json("`options.atomic` must be a boolean")),
    };
    let mut if_match = BTreeMap::new();
    match o.remove("ifMatch") {
        None => {}
        Some(Json::Object(tags)) => {
            for (id, tag) in tags {
                let precondition =
                    tag.as_str()
                        .and_then(Precondition::if_match)
                        .ok_or_else(|| {
                            ApiError::invalid_json(&format!(
                                "`options.ifMatch.{id}` must be `*` or quoted entity tags"
                            ))
                        })?;
                if_match.insert(id, precondition);
            }
        }
        Some(_) => {
            return Err(ApiError::invalid_json(
                "`options.ifMatch` must be an object from ids to entity tags",
            ));
        }
    }
    if let Some(k) = o.keys().next() {
        return Err(ApiError::invalid_json(&format!(
            "Unknown key `options.{k}` in a batch body"
        )));
    }
    Ok(Options { atomic, if_match })
}

/// The precondition `options.ifMatch` sets for the record with this raw id, noting it named.
fn expected(
    if_match: &BTreeMap<String, Precondition>,
    named: &mut BTreeSet<String>,
    id: &Json,
) -> Option<Precondition> {
    let key = id_key(id);
    let found = if_match.get(&key).cloned();
    if found.is_some() {
        named.insert(key);
    }
    found
}

/// How an id is named among `options.ifMatch`'s keys: a string id as itself, a number in
/// decimal.
fn id_key(id: &Json) -> String {
    match id {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON id as an id of the table: strings for every kind, numbers only for `id integer`.
fn parse_id(kind: IdKind, v: &Json) -> Option<Json> {
    match v {
        Json::String(s) => value::parse_id(kind, s),
        Json::Number(n) if kind == IdKind::Integer => n.as_i64().map(Json::from),
        _ => None,
    }
}

/// The batch answer: 201/200 when every record succeeded, 207 otherwise.
fn respond(
    plan: &TablePlan,
    caller: &Caller,
    kind: Kind,
    atomic: bool,
    items: &[Item],
    results: Vec<Result<Json, ApiError>>,
) -> Response {
    let mut success = Vec::new();
    let mut errors = Vec::new();
    for (i, (item, r)) in items.iter().zip(results).enumerate() {
        match r {
            Ok(out) => success.push(out),
            Err(e) => {
                let mut entry = Map::new();
                entry.insert("index".into(), json!(i));
                if kind == Kind::Delete {
                    entry.insert("id".into(), item.raw.clone());
                } else {
                    entry.insert("record".into(), masked_input(plan, caller, &item.raw));
                }
                entry.insert("error".into(), e.envelope());
                errors.push(Json::Object(entry));
            }
        }
    }
    let status = match (errors.is_empty(), kind) {
        (false, _) => StatusCode::MULTI_STATUS,
        (true, Kind::Create) => StatusCode::CREATED,
        (true, _) => StatusCode::OK,
    };
    let meta = json!({
        "total": items.len(),
        "succeeded": success.len(),
        "failed": errors.len(),
        "atomic": atomic,
    });
    request::json(
        status,
        &json!({ "success": success, "errors": errors, "meta": meta }),
    )
}

/// A failed record as the client sent it, masked like a stored row would be for this caller. The
/// `owner=` exemption is not applied: the record's owner column is whatever the client wrote.
fn masked_input(plan: &TablePlan, caller: &Caller, raw: &Json) -> Json {
    let Json::Object(rec) = raw else {
        return raw.clone();
    };
    let mut rec = rec.clone();
    let mut owners = Vec::new();
    for m in &plan.def.masks {
        // Several masks may share an owner column: keep its value as sent, taken once.
        if let Some(col) = &m.owner
            && !owners.iter().any(|(c, _): &(String, Json)| c == col)
            && let Some(v) = rec.get_mut(col)
        {
            owners.push((col.clone(), std::mem::replace(v, Json::Null)));
        }
    }
    masking::mask_record(plan, caller, &mut rec);
    for (col, v) in owners {
        // An owner column that is masked itself stays as masking left it.
        if plan.def.mask(&col).is_none()
            && let Some(slot) = rec.get_mut(&col)
        {
            *slot = v;
        }
    }
    Json::Object(rec)
}
