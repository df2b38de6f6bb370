//! `GET /api/T/{id}`: one visible row (with labels, `fields` and `expand`); anything else is the
//! fixed not-found answer.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value as Json;
use ward_ir::Operation;

use super::embed::{self, Ctx};
use super::encode::{self, Answer, Records};
use super::query;
use super::request::{self, Shared};
use crate::error::ApiError;
use crate::mutation::{self, Mutation};
use crate::security::{self, audit, firewall};
use crate::sql::{by_id, dml};
use crate::store::{Db, row};

pub async fn handle(
    State(st): State<Shared>,
    Path((table, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    request::finish(run(st, table, id, q, headers).await)
}

async fn run(
    st: Shared,
    table: String,
    id: String,
    q: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let caller = request::caller(&st, &serving, &headers)?;
    let gate = security::gate(plan, Operation::Read, &caller)?;
    let shape = query::parse_get(plan, q.as_deref())?;
    // The plain record: its ETag is its version (`If-Match`, see `precondition`).
    let strong = shape.fields.is_none() && shape.expand.is_empty();
    let id = request::row_id(plan, &id)?;
    let now = audit::now();
    let stmt = by_id::select_visible(plan, &gate, &caller, &now, &id);
    let oracle = mutation::active(Mutation::FirewallNotFoundOracle)
        .then(|| dml::select(plan, dml::by_id(plan, &id), &[], Some(1), 0));
    // The row and nothing else to read: one statement, its own snapshot, the record written
    // straight from its cells.
    if oracle.is_none() && !embed::reads_database(plan, &shape) {
        let rows = st.store.query_by_key(stmt, row::column_types(plan)).await?;
        let records = Records::new(plan, &caller, shape.fields.as_deref(), &rows);
        let data = records
            .first()
            .ok_or_else(|| firewall::not_found(&plan.def))?;
        let body = encode::to_body(&Answer::data(data))?;
        return Ok(request::with_etag(&headers, body, strong));
    }
    let snap2 = snap.clone();
    let read = move |c: &dyn Db| {
        let plan = request::plan_in(&snap2, &table)?;
        if let Some(o) = &oracle
            && row::first_record(c, plan, &stmt)?.is_none()
            && row::first_record(c, plan, o)?.is_some()
        {
            return Err(ApiError::firewall_not_found());
        }
        let rec =
            row::first_record(c, plan, &stmt)?.ok_or_else(|| firewall::not_found(&plan.def))?;
        let ctx = Ctx {
            conn: c,
            snap: &snap2,
            caller: &caller,
            now: &now,
        };
        let data = embed::render(ctx, plan, vec![rec], &shape)?
            .pop()
            .unwrap_or(Json::Null);
        encode::to_body(&Answer::data(data))
    };
    let body = st.store.read(read).await?;
    Ok(request::with_etag(&headers, body, strong))
}
