//! Routes (SPEC §5.1, docs/http-api.md): which operation a request is, the route-level answers
//! that come before the token (unknown table, `BATCH_DISABLED`, `UPSERT_NOT_ALLOWED`), and the
//! body limits.

use serde_json::{Map, Value};

use super::errors::Fail;
use ward_ir::Operation;

use super::{Cx, State, access, actions, batch, history, list, write};
use crate::request::ApiRequest;

pub enum Outcome {
    /// The model does not predict this answer.
    Unpredicted,
    /// Only the status is predicted (axum's own 405 for an unrouted method).
    Status(u16),
    Done(Result<(u16, Value), Fail>),
}

/// Bodies above this answer 413.
pub(super) const BODY_LIMIT: usize = 1024 * 1024;

enum Path {
    Collection(String),
    /// `GET /api/T/schema`: the table's JSON Schema (its bytes are not predicted).
    Schema(String),
    Batch(String),
    Row(String, String),
    Restore(String, String),
    /// `GET /api/T/{id}/history`.
    History(String, String),
    /// `GET /api/T/views/V`.
    View(String, String),
    /// `POST /api/T/{id}/A`.
    Action(String, String, String),
    /// `POST|GET /api/actions/A`.
    Standalone(String),
    Unknown,
}

fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Segments after `/api/T/` that are routes of their own, never row ids.
const NOT_IDS: [&str; 3] = ["batch", "schema", "subscribe"];

fn parse_path(path: &str) -> Path {
    let Some(rest) = path.strip_prefix("/api/") else {
        return Path::Unknown;
    };
    let parts: Vec<String> = rest.split('/').map(decode).collect();
    match parts.as_slice() {
        [a, name] if a == "actions" => Path::Standalone(name.clone()),
        [t] => Path::Collection(t.clone()),
        [t, b] if b == "batch" => Path::Batch(t.clone()),
        [t, s] if s == "schema" => Path::Schema(t.clone()),
        [t, id] => Path::Row(t.clone(), id.clone()),
        [t, v, name] if v == "views" => Path::View(t.clone(), name.clone()),
        // `/api/T/batch`, `/api/T/schema` and `/api/T/subscribe` are routes of their own: no
        // route below them reads the segment as an id (the fixed NOT_FOUND, before the token).
        [_, id, _] if NOT_IDS.contains(&id.as_str()) => Path::Unknown,
        [t, id, r] if r == "restore" => Path::Restore(t.clone(), id.clone()),
        [t, id, h] if h == "history" => Path::History(t.clone(), id.clone()),
        [t, id, a] => Path::Action(t.clone(), id.clone(), a.clone()),
        _ => Path::Unknown,
    }
}

/// The request body as a JSON object: 413 over the limit, `INVALID_JSON` otherwise malformed.
pub fn object_body(body: Option<&str>) -> Result<Map<String, Value>, Fail> {
    let text = body.unwrap_or("");
    if text.len() > BODY_LIMIT {
        return Err(Fail::payload_too_large());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Fail::invalid_json()),
    }
}

pub fn dispatch(cx: &mut Cx<'_>, st: &mut State, req: &ApiRequest, auth: Option<Fail>) -> Outcome {
    let method = req.method.as_str();
    let path = parse_path(&req.path);
    if let Path::Standalone(name) = &path {
        return standalone(cx, st, req, auth, name);
    }
    let table_name = match &path {
        Path::Collection(t)
        | Path::Schema(t)
        | Path::Batch(t)
        | Path::Row(t, _)
        | Path::Restore(t, _)
        | Path::History(t, _)
        | Path::View(t, _)
        | Path::Action(t, _, _) => t.clone(),
        Path::Standalone(_) | Path::Unknown => return Outcome::Done(Err(Fail::not_found())),
    };
    let Some(table) = cx.table(&table_name).cloned() else {
        return Outcome::Done(Err(Fail::not_found()));
    };
    // Route-level answers: they depend on the table alone, so they come before the token.
    match (&path, method) {
        (Path::Collection(_), "GET" | "POST") => {}
        (Path::Schema(_), "GET") => {}
        (Path::Schema(_), _) => return Outcome::Done(Err(Fail::not_found())),
        // An unknown view is the fixed NOT_FOUND, before the token, like an unknown table.
        (Path::View(_, v), "GET") if table.views.iter().any(|x| x.name == *v) => {}
        (Path::View(..), _) => return Outcome::Done(Err(Fail::not_found())),
        (Path::Batch(_), "GET") => return Outcome::Done(Err(Fail::not_found())),
        (Path::Batch(_), "POST" | "PATCH" | "PUT" | "DELETE") => {
            if !table.batch.enabled {
                return Outcome::Done(Err(Fail::batch_disabled()));
            }
            if method == "PUT" && !write::upsert_allowed(&table) {
                return Outcome::Done(Err(Fail::upsert_not_allowed()));
            }
        }
        (Path::Batch(_), _) => return Outcome::Done(Err(Fail::not_found())),
        (Path::Row(..), "PUT") if !write::upsert_allowed(&table) => {
            return Outcome::Done(Err(Fail::upsert_not_allowed()));
        }
        (Path::Row(..), "GET" | "PATCH" | "PUT" | "DELETE") => {}
        (Path::Restore(..), "POST") => {}
        (Path::Restore(..), _) => return Outcome::Done(Err(Fail::not_found())),
        // The route is the table's only with `history`; any other method is not found.
        (Path::History(..), "GET") if table.history.is_some() => {}
        (Path::History(..), _) => return Outcome::Done(Err(Fail::not_found())),
        // An unknown action, or another method, is the fixed NOT_FOUND, before the token.
        (Path::Action(_, _, a), "POST") if table.action(a).is_some() => {}
        (Path::Action(..), _) => return Outcome::Done(Err(Fail::not_found())),
        _ => return Outcome::Status(405),
    }
    if let Some(f) = auth {
        return Outcome::Done(Err(f));
    }
    let body = req.body.as_deref();
    let done = match (&path, method) {
        // The table's `list` access (SPEC §5.4); the schema's bytes are not predicted.
        (Path::Schema(_), _) => {
            return match access::authorize(&table, Operation::List, &cx.who) {
                Ok(_) => Outcome::Status(200),
                Err(f) => Outcome::Done(Err(f)),
            };
        }
        (Path::View(_, v), _) => match list::view(cx, st, &table, v, &req.query) {
            Some(r) => r,
            None => return Outcome::Unpredicted,
        },
        (Path::Collection(_), "GET") => match list::list(cx, st, &table, &req.query) {
            Some(r) => r,
            None => return Outcome::Unpredicted,
        },
        (Path::Collection(_), _) => write::create(cx, st, &table, body),
        (Path::Batch(_), _) => batch::batch(cx, st, &table, method, body),
        (Path::Row(_, id), "GET") => match list::read(cx, st, &table, id, &req.query) {
            Some(r) => r,
            None => return Outcome::Unpredicted,
        },
        (Path::Row(_, id), "PATCH") => write::update(cx, st, &table, id, body, req.precondition),
        (Path::Row(_, id), "PUT") => write::upsert(cx, st, &table, id, body, req.precondition),
        (Path::Row(_, id), _) => write::delete(cx, st, &table, id, req.precondition),
        (Path::Restore(_, id), _) => write::restore(cx, st, &table, id),
        (Path::History(_, id), _) => {
            let log = cx.logs.get(&table.name).map_or(&[][..], Vec::as_slice);
            history::read(cx, st, &table, id, &req.query, log)
        }
        (Path::Action(_, id, a), _) => match table.action(a) {
            Some(action) => actions::record(cx, st, &table, action, id, body),
            None => Err(Fail::not_found()),
        },
        (Path::Standalone(_) | Path::Unknown, _) => Err(Fail::not_found()),
    };
    Outcome::Done(done)
}

/// `/api/actions/A`: an unknown action, or a method it does not take, is the fixed NOT_FOUND
/// before the token.
fn standalone(
    cx: &mut Cx<'_>,
    st: &mut State,
    req: &ApiRequest,
    auth: Option<Fail>,
    name: &str,
) -> Outcome {
    let method = req.method.as_str();
    let Some(action) = cx.ir.action(name).cloned() else {
        return Outcome::Done(Err(Fail::not_found()));
    };
    let takes = match action.method {
        ward_ir::ActionMethod::Get => "GET",
        ward_ir::ActionMethod::Post => "POST",
    };
    if method != takes {
        return Outcome::Done(Err(Fail::not_found()));
    }
    if let Some(f) = auth {
        return Outcome::Done(Err(f));
    }
    Outcome::Done(actions::standalone(
        cx,
        st,
        &action,
        &req.query,
        req.body.as_deref(),
    ))
}
