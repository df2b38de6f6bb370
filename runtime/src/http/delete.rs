//! `DELETE /api/T/{id}`: soft (stamp `deletedAt`, cascading recursively to soft-deletable
//! children, refused while a live row references it with `restrict`; see `cascade`) or hard (a
//! real DELETE; foreign keys follow `on-delete`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value as Json, json};
use ward_ir::{Operation, TriggerEvent};

use super::precondition::Precondition;
use super::request::{self, Shared};
use super::{cascade, triggers};
use crate::engine::rows;
use crate::error::ApiError;
use crate::mutation::{self, Mutation};
use crate::security::{self, audit, firewall};
use crate::snapshot::TablePlan;
use crate::sql::{dml, predicate};
use crate::store::row;

pub async fn handle(
    State(st): State<Shared>,
    Path((table, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    request::finish(run(st, table, id, headers).await)
}

async fn run(
    st: Shared,
    table: String,
    id: String,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let caller = request::caller(&st, &serving, &headers)?;
    let gate = security::gate(plan, Operation::Delete, &caller)?;
    let precondition = Precondition::from_headers(&headers)?;
    let id = request::row_id(plan, &id)?;
    let now = audit::now();

    let snap2 = snap.clone();
    let id2 = id.clone();
    let caller2 = caller.clone();
    let request_id = request::request_id(&headers);
    let ((), after) = st
        .store
        .write(move |tx| {
            triggers::collect(tx, &snap2, &caller2, &now, request_id.as_deref(), |cx| {
                let plan = request::plan_in(&snap2, &table)?;
                let visible = predicate::firewall(plan, &gate);
                let load = dml::select(plan, dml::by_id(plan, &id2).add(visible), &[], Some(1), 0);
                let current = row::first_record(tx, plan, &load)?
                    .ok_or_else(|| firewall::not_found(&plan.def))?;
                precondition.judge(cx.read(), plan, Some(&gate), &id2, Some(&current))?;
                apply(cx, plan, &gate, &id2, &current)
            })
        })
        .await?;
    triggers::after(&st, snap, &caller, after).await;
    Ok(request::json(
        StatusCode::OK,
        &json!({ "data": { "id": id, "deleted": true } }),
    ))
}

/// Step 4 and the write for one loaded, firewall-visible row: `when`, then the soft delete (with
/// its cascade) or the hard DELETE, each repeating the firewall and `when` in its WHERE. Shared
/// with batch deletes, which must not fork the pipeline.
pub(crate) fn apply(
    cx: triggers::WriteCx<'_>,
    plan: &TablePlan,
    gate: &crate::gate::Gate,
    id: &Json,
    current: &Map<String, Json>,
) -> Result<(), ApiError> {
    let (snap, caller, now) = (cx.snap, cx.caller, cx.now);
    let changes = security::prepare_delete(caller, gate, current, now)?;
    let w = triggers::Write::new(cx, plan, TriggerEvent::Delete);
    w.before(current, Some(current))?;
    let with_when = !mutation::active(Mutation::DeleteSkipWhen);
    let cond = predicate::visibility(plan, gate, caller, now, with_when);
    let n = if plan.soft {
        rows::update(cx.writer(), plan, id, &changes, cond)?
    } else {
        cascade::hard_delete(cx.writer(), snap, plan, id, cond)?
    };
    if n == 0 {
        return Err(ApiError::condition_failed());
    }
    if plan.soft {
        cascade::soft_delete(cx.writer(), snap, plan, id, &changes)?;
    }
    w.written(current, Some(current))
}
