//! What every handler shares: table lookup, the caller, the body, and response shaping (masking,
//! projection, ETag).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::gate::Caller;
use tokio::sync::Semaphore;

use crate::security::{masking, validation};
use crate::snapshot::{Snapshot, TablePlan};
use crate::store::row::Record;

/// Request bodies above this answer 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The table named in the path; an unknown one answers the fixed NOT_FOUND body.
pub fn plan<'a>(snap: &'a Snapshot, table: &str) -> Result<&'a TablePlan, ApiError> {
    snap.table(table).ok_or_else(ApiError::not_found)
}

/// Segments after `/api/T/` that are routes of their own (`/api/T/batch`, `/api/T/schema`,
/// `/api/T/subscribe`): a row with such a text id is never served at `/api/T/{id}` — those
/// paths answer the fixed NOT_FOUND of an unknown route, before any token is read.
const NOT_IDS: &[&str] = &["batch", "schema", "subscribe"];

/// Every route below `/api/T/{id}` (history, restore, actions, files) answers such an id as
/// `/api/T/{id}` does: the fixed NOT_FOUND, first.
pub fn addressable(id: &str) -> Result<(), ApiError> {
    if NOT_IDS.contains(&id) {
        return Err(ApiError::not_found());
    }
    Ok(())
}

/// The row id a path names, or the table's not-found answer (an id of the wrong shape is one
/// that is not there).
pub fn row_id(plan: &TablePlan, raw: &str) -> Result<Json, ApiError> {
    crate::sql::value::parse_id(plan.def.id, raw)
        .ok_or_else(|| crate::security::firewall::not_found(&plan.def))
}

/// The same lookup inside store closures, where the table is known to exist.
pub fn plan_in<'a>(snap: &'a Snapshot, table: &str) -> Result<&'a TablePlan, ApiError> {
    snap.table(table)
        .ok_or_else(|| ApiError::internal(format!("table `{table}` vanished from the snapshot")))
}

/// The request's caller, once its token is verified; an authenticated caller past its own rate
/// (`rate-limit subject`) is refused here, before any read or write.
pub fn caller(
    state: &crate::State,
    serving: &crate::Serving,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let caller = serving.verifier.authenticate(
        headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    )?;
    within_rate(state, &caller)?;
    Ok(caller)
}

/// [`caller`] from an `Authorization` value, with the moment its token stops being accepted
/// (`exp` plus leeway; `None` without a token): for what outlives the request — a stream, a
/// ticket, a signed URL.
pub fn caller_until(
    state: &crate::State,
    serving: &crate::Serving,
    authorization: Option<&[u8]>,
) -> Result<(Caller, Option<u64>), ApiError> {
    let (caller, until) = serving.verifier.authenticate_until(authorization)?;
    within_rate(state, &caller)?;
    Ok((caller, until))
}

/// An authenticated caller past their own rate (`rate-limit subject`) is refused.
fn within_rate(state: &crate::State, caller: &Caller) -> Result<(), ApiError> {
    if let (Some(limit), Some(user)) = (&state.per_subject, &caller.user_id) {
        limit.take(user, "requests from this user")?;
    }
    Ok(())
}

/// Who writes, when and in which request, owned: for a write that leaves the request's stack
/// ([`crate::store::Store::write_then`]). Made only there, so other writes clone nothing.
pub fn origin(caller: &Caller, now: &str, headers: &HeaderMap) -> crate::engine::Origin {
    crate::engine::Origin {
        caller: caller.clone(),
        at: now.to_owned(),
        request: request_id(headers),
    }
}

/// The request's id, as the edge set it (`x-request-id`), for the change records.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(&super::edge::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The semaphore that bounds the memory of bodies being read: one permit per KiB.
pub(crate) fn body_budget(bytes: usize) -> tokio::sync::Semaphore {
    tokio::sync::Semaphore::new((bytes / 1024).clamp(BODY_LIMIT / 1024, Semaphore::MAX_PERMITS))
}

/// Reads a JSON object (or a form) body, at most [`BODY_LIMIT`] bytes.
pub async fn body(
    budget: &Semaphore,
    plan: &TablePlan,
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Json>, ApiError> {
    body_typed(
        budget,
        &|k| plan.column(k).map(|c| c.ty),
        headers,
        body,
        false,
    )
    .await
}

/// [`body`] with form fields typed by `type_of` (an action's inputs); with `empty_is_object`, no
/// body at all reads as `{}` (an action without inputs is called with a bare POST).
///
/// The body first takes its share of `budget` (its `Content-Length`, or the limit when it has
/// none) and holds it while it is read and parsed: slow or abandoned bodies never hold more
/// than the budget together (SPEC §5.7), and a body that cannot get its share waits within the
/// request's deadline.
pub async fn body_typed(
    budget: &Semaphore,
    type_of: &(dyn Fn(&str) -> Option<ward_ir::ColumnType> + Sync),
    headers: &HeaderMap,
    body: Body,
    empty_is_object: bool,
) -> Result<Map<String, Json>, ApiError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(BODY_LIMIT);
    if announced > BODY_LIMIT {
        return Err(ApiError::payload_too_large());
    }
    let kib = u32::try_from(announced.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let _share = budget
        .acquire_many(kib)
        .await
        .map_err(|_| ApiError::internal("the body budget was closed"))?;
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|e| body_error(&e))?;
    if empty_is_object && bytes.is_empty() {
        return Ok(Map::new());
    }
    let is_form = content_type_is(headers, "application/x-www-form-urlencoded");
    if is_form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| ApiError::invalid_json("The form body could not be parsed"))?;
        return Ok(validation::coerce_form(type_of, pairs));
    }
    match serde_json::from_slice::<Json>(&bytes) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::invalid_json("The body must be a JSON object")),
        Err(_) => Err(ApiError::invalid_json("The body is not valid JSON")),
    }
}

/// Whether the request's `Content-Type` is `media_type`. Media types are case-insensitive
/// (RFC 9110 §8.3.1) and end at the first parameter.
pub fn content_type_is(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case(media_type)
        })
}

/// A body that stalled (see `connections`) is the request's deadline passing; any other failure
/// to read it is its size.
pub(crate) fn body_error(e: &(dyn std::error::Error + 'static)) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::timeout();
        }
        cause = c.source();
    }
    ApiError::payload_too_large()
}

/// A record as it leaves the server: masked for the caller, then projected.
pub fn output(
    plan: &TablePlan,
    caller: &Caller,
    mut rec: Record,
    fields: Option<&[String]>,
) -> Json {
    masking::mask_record(plan, caller, &mut rec);
    if let Some(f) = fields {
        rec.retain(|k, _| f.iter().any(|x| x == k));
    }
    Json::Object(rec)
}

pub fn json(status: StatusCode, v: &Json) -> Response {
    // Serialised straight to bytes: `to_string` goes through `Display` and the formatter.
    let body = serde_json::to_vec(v).unwrap_or_else(|_| v.to_string().into_bytes());
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// A 200 with an ETag, or 304 when `If-None-Match` already has it (weak comparison). `strong`:
/// the body is the record's plain representation, and its tag is the record's version for
/// `If-Match` (see `precondition`); otherwise (a page, a projection, expansions) the tag is
/// weak, good for caching only.
pub fn with_etag(headers: &HeaderMap, body: Vec<u8>, strong: bool) -> Response {
    let strong_tag = strong_tag(&body);
    let tag = if strong {
        strong_tag
    } else {
        format!("W/{strong_tag}")
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|inm| {
            inm.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.trim_start_matches("W/") == tag.trim_start_matches("W/"))
        });
    let mut res = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = (StatusCode::OK, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    if let Ok(h) = HeaderValue::from_str(&tag) {
        res.headers_mut().insert(header::ETAG, h);
    }
    res
}

/// The quoted entity tag of `body`: the first 96 bits of its SHA-256, in hex.
pub fn strong_tag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(26);
    tag.push('"');
    for b in digest.iter().take(12) {
        let _ = write!(tag, "{b:02x}");
    }
    tag.push('"');
    tag
}

/// Turns a handler result into a response.
pub fn finish(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

pub type Shared = Arc<crate::State>;
