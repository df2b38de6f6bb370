//! HTTP: the router. One file per verb; this module only wires them together.

pub mod action;
pub mod batch;
mod batch_create;
mod batch_rows;
mod cascade;
pub mod cors;
pub mod create;
pub mod delete;
mod edge;
pub mod embed;
pub mod encode;
pub mod error;
mod file;
pub mod get;
pub mod history;
pub mod list;
pub(crate) mod precondition;
pub mod query;
pub mod references;
pub mod request;
pub mod restore;
mod steps;
mod subscribe;
pub(crate) mod throttle;
pub(crate) mod triggers;
pub mod update;
mod upload;
pub mod upsert;
pub mod view;
mod written;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::error::ApiError;
use request::Shared;

/// The API's routes inside what every request passes through (`edge`): its id, CORS for
/// browsers (a preflight never reaches a route), its log line.
pub(crate) fn router(state: Shared) -> Router {
    let edge = std::sync::Arc::new(edge::Edge {
        cors: cors::layer(state.clone()),
        deadline: state.options.limits.request_deadline,
        failed_auth: state
            .options
            .limits
            .failed_auth
            .map(throttle::FailedAuthLimit::new),
        per_ip: state.options.limits.per_ip.map(throttle::AddressLimit::new),
    });
    routes(state).layer(from_fn_with_state(edge, edge::around))
}

fn routes(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/openapi.json", get(openapi))
        // `schema` is reserved like `batch`: a static segment wins over `{id}`.
        .route("/api/{table}/schema", get(table_schema).fallback(not_found))
        .route("/api/{table}", get(list::handle).post(create::handle))
        // `subscribe` is a reserved table name: these never reach `/api/{table}…`.
        .route("/api/subscribe", get(subscribe::tables).fallback(not_found))
        .route(
            "/api/subscribe/ticket",
            post(subscribe::ticket).fallback(not_found),
        )
        // `subscribe` is reserved like `batch`: a static segment wins over `{id}`.
        .route(
            "/api/{table}/subscribe",
            get(subscribe::table).fallback(not_found),
        )
        // `actions` is a reserved table name: `/api/actions/A` is always a standalone action.
        .route(
            "/api/actions/{action}",
            get(action::standalone)
                .post(action::standalone)
                .fallback(not_found),
        )
        // `batch` is a reserved path segment: a static segment wins over `{id}` in axum's router.
        .route(
            "/api/{table}/batch",
            post(batch::create)
                .patch(batch::update)
                .put(batch::upsert)
                .delete(batch::delete)
                .fallback(not_found),
        )
        .route(
            "/api/{table}/{id}",
            get(get::handle)
                .patch(update::handle)
                .delete(delete::handle)
                .put(upsert::handle),
        )
        // `history` is a reserved action name: the static segment wins over `{action}`.
        .route(
            "/api/{table}/{id}/history",
            get(history::handle).fallback(not_found),
        )
        // `file` is a reserved action name: these never reach `/{id}/{action}`.
        .route(
            "/api/{table}/{id}/file/{column}",
            get(file::download).fallback(not_found),
        )
        .route(
            "/api/{table}/{id}/file/{column}/url",
            post(file::signed_url).fallback(not_found),
        )
        .route(
            "/api/{table}/{id}/restore",
            post(restore::handle).fallback(not_found),
        )
        .route(
            "/api/{table}/{id}/{action}",
            post(action::record).fallback(not_found),
        )
        // `views` is reserved like `batch`: `/api/T/views/V` never reaches `/{id}/restore`.
        .route(
            "/api/{table}/views/{view}",
            get(view::handle).fallback(not_found),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn health(State(st): State<Shared>) -> Response {
    request::json(
        StatusCode::OK,
        &json!({ "status": "ok", "ir": st.current().snapshot.ir.hash }),
    )
}

/// Readiness (SPEC §5.7): the database answers a real query within [`READY_WITHIN`], so a
/// load balancer routes here; `/healthz` says only that the process serves.
async fn ready(State(st): State<Shared>) -> Response {
    match tokio::time::timeout(READY_WITHIN, st.store.ping()).await {
        Ok(Ok(())) => request::json(
            StatusCode::OK,
            &json!({ "status": "ready", "ir": st.current().snapshot.ir.hash }),
        ),
        Ok(Err(e)) if e.status() == StatusCode::SERVICE_UNAVAILABLE => e.into_response(),
        Ok(Err(e)) => ApiError::unavailable(format!("readiness: {}", e.body())).into_response(),
        Err(_) => ApiError::unavailable(format!("readiness: no answer within {READY_WITHIN:?}"))
            .into_response(),
    }
}

/// How long `/readyz` waits for the database.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// The OpenAPI document of the IR being served now.
async fn openapi(State(st): State<Shared>) -> Response {
    request::json(
        StatusCode::OK,
        &crate::openapi::document(&st.current().snapshot.ir),
    )
}

/// The JSON Schema of a table's records as this caller sees them: it needs the table's `list`
/// access (SPEC §5.4), and leaves out the columns hidden from the caller (no owner exemption
/// applies to a schema). An unknown table is the fixed NOT_FOUND.
async fn table_schema(
    State(st): State<Shared>,
    axum::extract::Path(table): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let serving = st.current();
    let answer = (|| {
        let plan = request::plan(&serving.snapshot, &table)?;
        let caller = request::caller(&st, &serving, &headers)?;
        crate::security::access::authorize(&plan.def, ward_ir::Operation::List, &caller)?;
        let mut schema = crate::openapi::table_schema(&serving.snapshot.ir, &plan.def);
        if let Some(props) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) {
            for m in &plan.def.masks {
                if m.kind == ward_ir::MaskKind::Hidden
                    && !crate::security::masking::sees_raw_everywhere(m, &caller)
                {
                    props.remove(&m.column);
                }
            }
        }
        Ok::<_, ApiError>(request::json(StatusCode::OK, &schema))
    })();
    request::finish(answer)
}

async fn not_found() -> Response {
    ApiError::not_found().into_response()
}

/// The error envelope for a method a route does not serve (axum's own 405 has no body).
async fn method_not_allowed() -> Response {
    ApiError::method_not_allowed().into_response()
}
