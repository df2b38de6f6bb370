//! Actions (SPEC §2.10). `POST /api/T/{id}/A` runs a record action: the role part is decided
//! before any read, the row is loaded through the firewall (404 when invisible), the action's
//! conditions on the row answer 409 `ACCESS_ACTION_NOT_ALLOWED_FOR_STATE`, the inputs are
//! validated, then the steps run. `POST` (or `GET`) `/api/actions/A` runs a standalone action:
//! roles, inputs, steps. Either way the steps run in one transaction, every statement under the
//! firewall of the table it touches, and the result is masked like any read.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::json;
use ward_ir::ActionMethod;

use super::request::{self, Shared};
use super::steps;
use crate::error::ApiError;
use crate::gate::{Caller, Gate};
use crate::security::{self, access, audit, firewall, validation};
use crate::sql::{ddl, predicate};
use crate::store::row;

pub async fn record(
    State(st): State<Shared>,
    Path((table, id, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run_record(st, table, id, action, headers, body).await)
}

pub async fn standalone(
    State(st): State<Shared>,
    Path(action): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run_standalone(st, action, method, query, headers, body).await)
}

/// SPEC §2.10: every invocation by a public caller is written to the audit log
/// (`_ward_audit`: when, the action, its target, the answer's status), in a transaction of its
/// own so that a failed invocation is recorded too. A failure to record is logged, never the
/// caller's problem.
async fn audit_public<T>(
    st: &Shared,
    caller: &Caller,
    action: &str,
    target: String,
    outcome: &Result<T, ApiError>,
) {
    if caller.authenticated {
        return;
    }
    let status = match outcome {
        Ok(_) => 200,
        Err(e) => e.status().as_u16(),
    };
    tracing::info!(target: "ward::audit", action = %action, on = %target, status, "public action invoked");
    let stmt = ddl::insert_audit(st.store.dialect(), &audit::now(), action, &target, status);
    let written = st
        .store
        .write(move |tx| row::execute(tx, &stmt).map(|_| ()))
        .await;
    if let Err(e) = written {
        tracing::warn!(target: "ward::audit", error = %e.code(), "audit record not written");
    }
}

async fn run_record(
    st: Shared,
    table: String,
    id: String,
    name: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    request::addressable(&id)?;
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    // An unknown action answers like an unknown path: the fixed NOT_FOUND, before the token.
    let action = plan
        .def
        .action(&name)
        .ok_or_else(ApiError::not_found)?
        .clone();
    let caller = request::caller(&st, &serving, &headers)?;
    let residual = access::authorize_rule(action.access.as_ref(), &caller)?;
    let gate = Gate {
        scopes: firewall::predicates(&plan.def, &caller)?,
        residual,
    };
    let id = request::row_id(plan, &id)?;
    let type_of = |k: &str| action.inputs.iter().find(|i| i.name == k).map(|i| i.ty);
    let body = request::body_typed(&st.bodies, &type_of, &headers, body, true).await;
    let now = audit::now();
    let target = format!("{table}/{id}");

    let snap2 = snap.clone();
    let caller2 = caller.clone();
    let request_id = request::request_id(&headers);
    let out = st
        .store
        .write(move |tx| {
            let plan = request::plan_in(&snap2, &table)?;
            let record = row::by_id(tx, plan, &id, predicate::firewall(plan, &gate))?
                .ok_or_else(|| firewall::not_found(&plan.def))?;
            if !security::admits(&gate, &caller2, &record, &now) {
                return Err(ApiError::not_allowed_for_state(None));
            }
            let inputs = validation::inputs(&action.inputs, &body?, &now)?;
            let run = steps::Run {
                tx,
                snap: &snap2,
                caller: &caller2,
                now: &now,
                request: request_id.as_deref(),
                inputs: &inputs,
                row: Some(steps::Row {
                    plan,
                    gate: &gate,
                    id: &id,
                }),
                old: None,
            };
            run.run(&action.steps, Some(record))
        })
        .await;
    audit_public(&st, &caller, &name, target, &out).await;
    Ok(request::json(StatusCode::OK, &json!({ "data": out? })))
}

async fn run_standalone(
    st: Shared,
    name: String,
    method: Method,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let action = snap
        .ir
        .action(&name)
        .ok_or_else(ApiError::not_found)?
        .clone();
    let expected = match action.method {
        ActionMethod::Post => Method::POST,
        ActionMethod::Get => Method::GET,
    };
    if method != expected {
        return Err(ApiError::not_found());
    }
    let caller = request::caller(&st, &serving, &headers)?;
    access::authorize_rule(action.access.as_ref(), &caller)?;
    let type_of = |k: &str| action.inputs.iter().find(|i| i.name == k).map(|i| i.ty);
    let body = if method == Method::GET {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
                .map_err(|_| ApiError::bad_query("query", "Malformed query string"))?;
        // As for list parameters: an input given twice is ambiguous, never "the last one wins".
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(seen, _)| seen == k) {
                return Err(ApiError::bad_query(k, format!("`{k}` is given twice")));
            }
        }
        validation::coerce_form(&type_of, pairs)
    } else {
        request::body_typed(&st.bodies, &type_of, &headers, body, true).await?
    };
    let now = audit::now();
    let inputs = validation::inputs(&action.inputs, &body, &now)?;

    let snap2 = snap.clone();
    let caller2 = caller.clone();
    let request_id = request::request_id(&headers);
    let out = st
        .store
        .write(move |tx| {
            let run = steps::Run {
                tx,
                snap: &snap2,
                caller: &caller2,
                now: &now,
                request: request_id.as_deref(),
                inputs: &inputs,
                row: None,
                old: None,
            };
            run.run(&action.steps, None)
        })
        .await;
    audit_public(&st, &caller, &name, "actions".to_owned(), &out).await;
    Ok(request::json(StatusCode::OK, &json!({ "data": out? })))
}
