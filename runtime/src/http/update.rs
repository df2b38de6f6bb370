//! `PATCH /api/T/{id}`: update one visible row; the firewall and the `when` condition are
//! re-applied in the UPDATE's own WHERE.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value as Json, json};
use ward_ir::{Operation, TriggerEvent, TriggerPhase};

use super::precondition::Precondition;
use super::request::{self, Shared};
use super::{references, upload};
use super::{triggers, written};
use crate::engine::rows;
use crate::error::ApiError;
use crate::gate::{Caller, Gate};
use crate::mutation::{self, Mutation};
use crate::security::guards::WriteKind;
use crate::security::{self, audit, firewall};
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::predicate;
use crate::store::row::{self, Record};

pub async fn handle(
    State(st): State<Shared>,
    Path((table, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run(st, table, id, headers, body).await)
}

async fn run(
    st: Shared,
    table: String,
    id: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let caller = request::caller(&st, &serving, &headers)?;
    let gate = security::gate(plan, Operation::Update, &caller)?;
    let precondition = Precondition::from_headers(&headers)?;
    let id = request::row_id(plan, &id)?;
    // Read now, judged after the row: an unparsable body to an invisible id is still not found,
    // and a row failing `when` still answers 403 (docs/errors.md, order of checks).
    let (body, uploads) = match upload::body(&st, plan, WriteKind::Update, &headers, body).await {
        Ok((body, uploads)) => (Ok(body), uploads),
        Err(e) => (Err(e), upload::Uploads::none(&st.files)),
    };
    let now = audit::now();
    let author = Author {
        caller: &caller,
        now: &now,
        headers: &headers,
    };
    if let Ok(body) = &body
        && precondition.is_empty()
        && let Some(out) = update_alone(&st, &snap, plan, &gate, &id, body, author).await?
    {
        return Ok(request::json(StatusCode::OK, &json!({ "data": out })));
    }

    let snap2 = snap.clone();
    let caller2 = caller.clone();
    let request_id = request::request_id(&headers);
    let (out, after) = st
        .store
        .write(move |tx| {
            triggers::collect(tx, &snap2, &caller2, &now, request_id.as_deref(), |cx| {
                let plan = request::plan_in(&snap2, &table)?;
                let Some(current) = row::by_id(tx, plan, &id, predicate::firewall(plan, &gate))?
                else {
                    if !precondition.is_empty()
                        && mutation::active(Mutation::PreconditionBeforeFirewall)
                        && row::by_id(tx, plan, &id, sea_query::Cond::all())?.is_some()
                    {
                        return Err(ApiError::precondition_failed());
                    }
                    return Err(firewall::not_found(&plan.def));
                };
                precondition.judge(cx.read(), plan, Some(&gate), &id, Some(&current))?;
                if body.is_err() {
                    security::when(&gate, &caller2, &current, &now)?;
                }
                let body = body?;
                let row = apply(cx, plan, &gate, &id, &current, &body)?;
                // Only what the caller's `read` rule shows (docs/decisions.md).
                written::answer_one(cx.read(), plan, &id, row)
            })
        })
        .await?;
    uploads.keep();
    triggers::after(&st, snap, &caller, after).await;
    Ok(request::json(StatusCode::OK, &json!({ "data": out })))
}

/// Who updates, when and in which request, as [`run`] holds them.
#[derive(Clone, Copy)]
struct Author<'a> {
    caller: &'a Caller,
    now: &'a str,
    headers: &'a HeaderMap,
}

/// The update as its UPDATE … RETURNING alone, when every step that needs the stored row is in
/// that statement's WHERE (firewall, `when`) and nothing else reads or writes around it: no
/// `check`, no reference, no trigger. Guards and validation run first, on the body; its answer
/// is the row as the caller may see it. When they refuse, or the UPDATE finds no row (hidden,
/// missing, or `when` not holding), the answer is `None` and the full path runs, which tells
/// those apart in the pipeline's order and changes nothing this attempt did not.
async fn update_alone(
    st: &Shared,
    snap: &Arc<Snapshot>,
    plan: &TablePlan,
    gate: &Gate,
    id: &Json,
    body: &Map<String, Json>,
    author: Author<'_>,
) -> Result<Option<Json>, ApiError> {
    let (caller, now) = (author.caller, author.now);
    let alone = plan.references.is_empty()
        && !plan
            .def
            .triggers
            .iter()
            .any(|t| t.event == TriggerEvent::Update)
        && security::update_checks_nothing_after(plan, caller);
    if !alone {
        return Ok(None);
    }
    let Ok(changes) = security::update_changes(plan, caller, body, now) else {
        return Ok(None);
    };
    let cond = predicate::visibility(plan, gate, caller, now, true);
    if plan.writes_images && plan.files.is_empty() {
        // A table that logs its changes: the UPDATE, the read of its `before` image and its
        // change record are the whole write.
        let origin = request::origin(caller, now, author.headers);
        let (store, table) = (&st.store, plan.name().to_owned());
        let updated =
            rows::logged_update_alone(store, snap.clone(), table, id, &changes, cond, origin)
                .await?;
        return Ok(updated.map(|rec| written::render_unreferenced(plan, caller, now, rec)));
    }
    let Some(stmt) = rows::lone_update(plan, id, &changes, cond) else {
        return Ok(None);
    };
    written::alone(&st.store, plan, caller, now, stmt).await
}

/// Steps 4–8 and the write for one loaded, firewall-visible row: `when`, guards, validation,
/// `check`, references, then the UPDATE (which repeats the firewall and `when` in its WHERE).
/// Shared with batch updates and upsert, which must not fork the pipeline. Returns the row as it
/// stands after the write ([`written::Row`]).
pub(crate) fn apply(
    cx: triggers::WriteCx<'_>,
    plan: &TablePlan,
    gate: &Gate,
    id: &Json,
    current: &Record,
    body: &Map<String, Json>,
) -> Result<written::Row, ApiError> {
    let (conn, snap, caller, now) = (cx.db, cx.snap, cx.caller, cx.now);
    let changes = security::prepare_update(plan, caller, gate, current, body, now)?;
    references::check(conn, snap, caller, plan, &changes, now)?;
    let w = triggers::Write::new(cx, plan, TriggerEvent::Update);
    if w.any(TriggerPhase::Before) {
        let mut incoming = current.clone();
        incoming.extend(changes.clone());
        w.before(&incoming, Some(current))?;
    }
    let cond = predicate::visibility(plan, gate, caller, now, true);
    let rec = rows::update_returning(cx.writer(), plan, id, &changes, cond)?
        .ok_or_else(ApiError::condition_failed)?;
    if w.any(TriggerPhase::During) || w.any(TriggerPhase::After) {
        w.written(&rec, Some(current))?;
    }
    Ok(written::Row::after(&w, rec))
}
