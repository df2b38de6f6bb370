//! `POST /api/T`: insert one row through the whole pipeline.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value as Json, json};
use ward_ir::{IdKind, system};

use super::error::ApiError;
use super::references;
use super::request::{self, Shared};
use crate::security::{self, audit};
use crate::sql::dml;
use crate::store::row;

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
    let snap = st.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let caller = request::caller(&st, &headers)?;
    let stamps = security::create_gate(plan, &caller)?;
    let body = request::body(plan, &headers, body).await?;
    let now = audit::now();
    let mut values = security::prepare_create(plan, &caller, &stamps, &body, &now)?;
    if plan.def.id == IdKind::Uuid {
        values.insert(
            system::ID.into(),
            Json::String(uuid::Uuid::now_v7().hyphenated().to_string()),
        );
    }
    let insert = dml::insert(plan, &values).map_err(ApiError::internal)?;

    let snap2 = snap.clone();
    let caller2 = caller.clone();
    let rec = st
        .store
        .write(move |tx| {
            let plan = request::plan_in(&snap2, &table)?;
            references::check(tx, &snap2, &caller2, plan, &values, &now)?;
            row::execute(tx, &insert)?;
            let id = match values.get(system::ID) {
                Some(id) => id.clone(),
                None => Json::from(tx.last_insert_rowid()),
            };
            let stmt = dml::select(plan, dml::by_id(plan, &id), &[], Some(1), 0);
            row::first_record(tx, plan, &stmt)?
                .ok_or_else(|| ApiError::internal("inserted row not found"))
        })
        .await?;
    let out = request::output(plan, &caller, rec, None);
    Ok(request::json(StatusCode::CREATED, &json!({ "data": out })))
}
