//! `POST /api/T`: insert one row through the whole pipeline.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value as Json, json};
use ward_ir::{IdKind, TriggerEvent, TriggerPhase, system};

use super::request::{self, Shared};
use super::{references, upload};
use super::{triggers, written};
use crate::engine::rows;
use crate::error::ApiError;
use crate::gate::{Caller, ScopeEq};
use crate::security::guards::WriteKind;
use crate::security::{self, audit};
use crate::snapshot::TablePlan;
use crate::store::{Db, row};

pub async fn handle(
    State(st): State<Shared>,
    Path(table): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run(st, table, headers, body).await)
}

async fn run(
    st: Shared,
    table: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let caller = request::caller(&st, &serving, &headers)?;
    let stamps = security::create_gate(plan, &caller)?;
    let (body, uploads) = upload::body(&st, plan, WriteKind::Create, &headers, body).await?;
    let now = audit::now();
    let values = prepare(plan, &caller, &stamps, &body, &now)?;

    // No reference to check and no trigger to run before or during the INSERT: the INSERT
    // (… RETURNING) is the whole write.
    let no_trigger = |phases: &[TriggerPhase]| {
        phases
            .iter()
            .all(|p| plan.def.triggers(TriggerEvent::Create, *p).next().is_none())
    };
    let single =
        plan.references.is_empty() && no_trigger(&[TriggerPhase::Before, TriggerPhase::During]);
    // … and no trigger after it either: nothing to do in a blocking transaction, and no label to
    // read for the answer.
    let alone = single && no_trigger(&[TriggerPhase::After]);
    if alone && let Some(stmt) = rows::lone_insert(plan, &values)? {
        let out = written::alone(&st.store, plan, &caller, &now, stmt)
            .await?
            .ok_or_else(|| ApiError::internal("insert returned no row"))?;
        return Ok(request::json(StatusCode::CREATED, &json!({ "data": out })));
    }
    if alone && plan.files.is_empty() {
        // A table that logs its changes (`lone_insert` declined it): the INSERT and its change
        // record are the whole write.
        let origin = request::origin(&caller, &now, &headers);
        let rec =
            rows::logged_insert_alone(&st.store, snap.clone(), table, &values, origin).await?;
        let out = written::render_unreferenced(plan, &caller, &now, rec);
        return Ok(request::json(StatusCode::CREATED, &json!({ "data": out })));
    }
    let request_id = request::request_id(&headers);
    let snap2 = snap.clone();
    let caller2 = caller.clone();
    let write_all = move |tx: &dyn Db| {
        triggers::collect(tx, &snap2, &caller2, &now, request_id.as_deref(), |cx| {
            let plan = request::plan_in(&snap2, &table)?;
            references::check(tx, &snap2, &caller2, plan, &values, &now)?;
            let (id, row) = write(cx, plan, &values)?;
            // Only what the caller's `read` rule shows (docs/decisions.md).
            written::answer_one(cx.read(), plan, &id, row)
        })
    };
    let (out, after) = if single && !plan.writes_images {
        st.store.write_one(write_all).await?
    } else {
        st.store.write(write_all).await?
    };
    uploads.keep();
    triggers::after(&st, snap, &caller, after).await;
    Ok(request::json(StatusCode::CREATED, &json!({ "data": out })))
}

/// Steps 5–8 of a create (guards, validation, stamps, `check`) plus the server-generated UUID: the
/// row to insert. Shared with batch creates and upsert, which must not fork the pipeline.
pub(crate) fn prepare(
    plan: &TablePlan,
    caller: &Caller,
    stamps: &[ScopeEq],
    body: &Map<String, Json>,
    now: &str,
) -> Result<Map<String, Json>, ApiError> {
    let mut values = security::prepare_create(plan, caller, stamps, body, now)?;
    if plan.def.id == IdKind::Uuid {
        values.insert(
            system::ID.into(),
            Json::String(uuid::Uuid::now_v7().hyphenated().to_string()),
        );
    }
    Ok(values)
}

/// One prepared row written by the REST API: its `before` triggers, the INSERT, then its
/// `during` triggers (and `after` ones queued). Returns the new id and the row written.
pub(crate) fn write(
    cx: triggers::WriteCx<'_>,
    plan: &TablePlan,
    values: &Map<String, Json>,
) -> Result<(Json, written::Row), ApiError> {
    let w = triggers::Write::new(cx, plan, TriggerEvent::Create);
    w.before(values, None)?;
    let rec = rows::insert_returning(cx.writer(), plan, values)?;
    let id = rec
        .get(system::ID)
        .cloned()
        .ok_or_else(|| ApiError::internal("insert returned no id"))?;
    inserted(&w, &rec)?;
    Ok((id, written::Row::after(&w, rec)))
}

/// The `during` (and queued `after`) triggers of `rec`, the row just inserted.
pub(crate) fn inserted(w: &triggers::Write, rec: &row::Record) -> Result<(), ApiError> {
    if w.any(TriggerPhase::During) || w.any(TriggerPhase::After) {
        w.written(rec, None)?;
    }
    Ok(())
}
