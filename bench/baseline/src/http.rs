//! The four routes the benchmark calls, with ward's paths and answer shapes.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use crate::{postgres, sqlite};

pub enum Store {
    Sqlite(sqlite::Store),
    Postgres(postgres::Store),
}

/// Who is calling, from the token: the tenant every statement is scoped to and the user the audit
/// columns name.
pub struct Caller {
    pub user: String,
    pub org: String,
}

/// The client-writable columns of a create or update body; absent keys are `None`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fields {
    pub name: Option<String>,
    pub status: Option<String>,
    pub amount: Option<i64>,
    pub ratio: Option<f64>,
    pub active: Option<bool>,
    pub due_on: Option<String>,
    pub email: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    status: String,
    limit: Option<u64>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    org_id: String,
}

struct Server {
    store: Store,
    key: DecodingKey,
    validation: Validation,
}

pub fn router(store: Store, secret: &[u8]) -> Router {
    let server = Server {
        store,
        key: DecodingKey::from_secret(secret),
        validation: Validation::new(Algorithm::HS256),
    };
    Router::new()
        .route("/api/items", get(list).post(create))
        .route("/api/items/{id}", get(read).patch(update))
        .with_state(Arc::new(server))
}

/// The floor's one answer: an item shaped and sized as ward answers a read of it (the seeded
/// items' columns, the audit stamps, a masked email).
const FLOOR_BODY: &str = r#"{"data":{"id":"019af3c2-6a7e-7c41-9d2a-5b8e4f1c2d3a","name":"item 4821","status":"open","amount":4821,"ratio":0.4821,"active":true,"dueOn":"2026-12-31","email":"u***@example.com","orgId":"org-a","createdAt":"2026-11-23T00:06:12.345Z","createdBy":"user-a","modifiedAt":"2026-11-23T00:06:12.345Z","modifiedBy":"user-a","deletedAt":null}}"#;

/// The HTTP floor: what axum and hyper cost one read, with nothing of ward or of a database.
pub fn floor() -> Router {
    Router::new().route(
        "/api/items/{id}",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], FLOOR_BODY) }),
    )
}

type Answer = Result<Response, Failure>;

/// An error answer: its status and message.
pub struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": {"message": self.1}}))).into_response()
    }
}

fn error(status: StatusCode, message: &str) -> Failure {
    Failure(status, message.to_owned())
}

pub fn internal(e: impl std::fmt::Display) -> Failure {
    Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn not_found() -> Failure {
    error(StatusCode::NOT_FOUND, "not found")
}

impl Server {
    fn caller(&self, headers: &HeaderMap) -> Result<Caller, Failure> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "no token"))?;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|_| error(StatusCode::UNAUTHORIZED, "bad token"))?
            .claims;
        Ok(Caller {
            user: claims.sub,
            org: claims.org_id,
        })
    }
}

async fn read(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let caller = server.caller(&headers)?;
    let row = match &server.store {
        Store::Sqlite(s) => s.read(id, caller.org).await?,
        Store::Postgres(s) => s.read(&id, &caller.org).await?,
    };
    let row = row.ok_or_else(not_found)?;
    Ok(Json(json!({ "data": row })).into_response())
}

async fn list(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Answer {
    let caller = server.caller(&headers)?;
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    // One row more than the page tells whether there is a next page, as ward does.
    let mut rows = match &server.store {
        Store::Sqlite(s) => s.list(caller.org, query.status, limit + 1).await?,
        Store::Postgres(s) => s.list(&caller.org, &query.status, limit + 1).await?,
    };
    let has_more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let count = rows.len();
    Ok(Json(json!({
        "data": rows,
        "pagination": {"limit": limit, "offset": 0, "count": count, "hasMore": has_more},
    }))
    .into_response())
}

async fn create(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Json(fields): Json<Fields>,
) -> Answer {
    let caller = server.caller(&headers)?;
    if fields.name.is_none() {
        return Err(error(StatusCode::BAD_REQUEST, "name is required"));
    }
    let row = match &server.store {
        Store::Sqlite(s) => s.create(caller, fields).await?,
        Store::Postgres(s) => s.create(&caller, &fields).await?,
    };
    Ok((StatusCode::CREATED, Json(json!({ "data": row }))).into_response())
}

async fn update(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(fields): Json<Fields>,
) -> Answer {
    let caller = server.caller(&headers)?;
    let row = match &server.store {
        Store::Sqlite(s) => s.update(id, caller, fields).await?,
        Store::Postgres(s) => s.update(&id, &caller, &fields).await?,
    };
    let row = row.ok_or_else(not_found)?;
    Ok(Json(json!({ "data": row })).into_response())
}

/// The request's timestamp as ward stamps it: RFC 3339, UTC, milliseconds.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

pub fn timestamp_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An `items` record as a hand-written server would type it; serialised by its derived
/// `Serialize`, keys in column order.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub amount: Option<i64>,
    pub ratio: Option<f64>,
    pub active: Option<bool>,
    pub due_on: Option<String>,
    pub email: Option<String>,
    pub org_id: Option<String>,
    pub created_at: Option<String>,
    pub created_by: Option<String>,
    pub modified_at: Option<String>,
    pub modified_by: Option<String>,
    pub deleted_at: Option<String>,
    pub deleted_by: Option<String>,
}
