//! `POST /api/T/{id}/restore`: bring a soft-deleted row back. The `restore` rule's role part is
//! decided before any read; the row must be soft-deleted and inside the caller's firewall scopes
//! (the one operation, with `?deleted=only`, that reaches past the soft-delete filter), else the
//! fixed not-found answer; its `when` runs on the deleted row. A table that deletes hard has
//! nothing to restore: not found.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value as Json, json};
use ward_ir::{Operation, system};

use super::cascade;
use super::embed::Ctx;
use super::request::{self, Shared};
use super::written;
use crate::engine::{Writer, rows};
use crate::error::ApiError;
use crate::security::{self, audit, firewall};
use crate::sql::{predicate, related};
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
    request::addressable(&id)?;
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let caller = request::caller(&st, &serving, &headers)?;
    let gate = security::gate(plan, Operation::Restore, &caller)?;
    if !plan.soft {
        return Err(firewall::not_found(&plan.def));
    }
    let id = request::row_id(plan, &id)?;
    let now = audit::now();

    let snap2 = snap.clone();
    let request_id = request::request_id(&headers);
    let out = st
        .store
        .write(move |tx| {
            let w = Writer {
                db: tx,
                caller: &caller,
                at: &now,
                request: request_id.as_deref(),
            };
            let plan = request::plan_in(&snap2, &table)?;
            let in_scope = related::deleted_in_scope(plan, &gate);
            let current = row::by_id(tx, plan, &id, in_scope)?
                .ok_or_else(|| firewall::not_found(&plan.def))?;
            let changes = security::prepare_restore(&caller, &gate, &current, &now)?;
            // The UPDATE repeats the scopes, the deleted state and the `when` residual.
            let mut cond = related::deleted_in_scope(plan, &gate);
            if let Some(r) = gate.residual.condition() {
                cond = cond.add(predicate::condition(plan, r, &caller, &now));
            }
            if rows::update(w, plan, &id, &changes, cond)? == 0 {
                return Err(ApiError::condition_failed());
            }
            let field = |name: &str| current.get(name).cloned().unwrap_or(Json::Null);
            cascade::restore(
                w,
                &snap2,
                plan,
                &id,
                &field(system::DELETED_AT),
                &field(system::DELETED_BY),
                &changes,
            )?;
            let rec = row::by_id(tx, plan, &id, sea_query::Cond::all())?
                .ok_or_else(|| ApiError::internal("restored row not found"))?;
            let ctx = Ctx {
                conn: tx,
                snap: &snap2,
                caller: &caller,
                now: &now,
            };
            // Only what the caller's `read` rule shows (docs/decisions.md).
            written::render_one(ctx, plan, rec)
        })
        .await?;
    Ok(request::json(StatusCode::OK, &json!({ "data": out })))
}
