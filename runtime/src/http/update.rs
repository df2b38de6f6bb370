//! `PATCH /api/T/{id}`: update one visible row; the firewall and the `when` condition are
//! re-applied in the UPDATE's own WHERE.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use ward_ir::Operation;

use super::error::ApiError;
use super::references;
use super::request::{self, Shared};
use crate::security::{self, audit, firewall};
use crate::sql::{dml, predicate, value};
use crate::store::row;

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
    let snap = st.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let caller = request::caller(&st, &headers)?;
    let gate = security::gate(plan, Operation::Update, &caller)?;
    let id = value::parse_id(plan.def.id, &id).ok_or_else(|| firewall::not_found(&plan.def))?;
    let body = request::body(plan, &headers, body).await?;
    let now = audit::now();

    let snap2 = snap.clone();
    let caller2 = caller.clone();
    let rec = st
        .store
        .write(move |tx| {
            let plan = request::plan_in(&snap2, &table)?;
            let visible = predicate::firewall(plan, &gate);
            let load = dml::select(plan, dml::by_id(plan, &id).add(visible), &[], Some(1), 0);
            let current = row::first_record(tx, plan, &load)?
                .ok_or_else(|| firewall::not_found(&plan.def))?;
            let changes = security::prepare_update(plan, &caller2, &gate, &current, &body, &now)?;
            references::check(tx, &snap2, &caller2, plan, &changes, &now)?;
            let cond = predicate::visibility(plan, &gate, &caller2, &now, true);
            if row::execute(tx, &dml::update(plan, &id, &changes, cond))? == 0 {
                return Err(ApiError::condition_failed());
            }
            let reload = dml::select(plan, dml::by_id(plan, &id), &[], Some(1), 0);
            row::first_record(tx, plan, &reload)?
                .ok_or_else(|| ApiError::internal("updated row not found"))
        })
        .await?;
    let out = request::output(plan, &caller, rec, None);
    Ok(request::json(StatusCode::OK, &json!({ "data": out })))
}
