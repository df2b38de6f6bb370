//! HTTP: the router. One file per verb; this module only wires them together.

pub mod create;
pub mod delete;
pub mod error;
pub mod get;
pub mod list;
pub mod query;
pub mod references;
pub mod request;
pub mod update;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use error::ApiError;
use request::Shared;

pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/api/{table}", get(list::handle).post(create::handle))
        .route(
            "/api/{table}/{id}",
            get(get::handle)
                .patch(update::handle)
                .delete(delete::handle)
                .put(upsert),
        )
        .fallback(not_found)
        .with_state(state)
}

async fn health(State(st): State<Shared>) -> Response {
    request::json(
        StatusCode::OK,
        &json!({ "status": "ok", "ir": st.snapshot.ir.hash }),
    )
}

/// Upsert needs `id text` and `guards open` (SPEC §5.6); not served yet for any table.
async fn upsert(State(st): State<Shared>, Path((table, _id)): Path<(String, String)>) -> Response {
    match request::plan(&st.snapshot, &table) {
        Ok(_) => ApiError::upsert_not_allowed().into_response(),
        Err(e) => e.into_response(),
    }
}

async fn not_found() -> Response {
    ApiError::not_found().into_response()
}
