//! Realtime over Server-Sent Events (SPEC §12): `GET /api/T/subscribe`, `GET /api/subscribe?
//! tables=a,b`, and `POST /api/subscribe/ticket` for browsers. Everything is decided before the
//! stream opens — the table, the caller (header or ticket, never a token in the URL), their
//! `list` access, the filters, the resume point — so a refusal is the usual error envelope; what
//! follows is [`crate::realtime::stream`]'s, written as events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use ward_ir::Operation;

use super::query;
use super::request::{self, Shared};
use crate::error::ApiError;
use crate::gate::Caller;
use crate::realtime::stream::{self, Out, Watch};
use crate::realtime::tickets;
use crate::security;
use crate::sql::filter::{Filter, MAX_FILTERS};

/// A comment line this often keeps proxies from closing an idle stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Tables one multi-table stream may follow.
pub const MAX_TABLES: usize = 32;
/// Events waiting to be written to one client.
const OUT_QUEUE: usize = 64;

/// `GET /api/T/subscribe`: one table, optionally narrowed by list filters.
pub async fn table(
    State(st): State<Shared>,
    Path(table): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    request::finish(open(st, Some(table), q, headers).await)
}

/// `GET /api/subscribe?tables=a,b`: several tables in one stream.
pub async fn tables(
    State(st): State<Shared>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    request::finish(open(st, None, q, headers).await)
}

/// `POST /api/subscribe/ticket`: a single-use ticket standing for the (authenticated) caller.
pub async fn ticket(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let answer = (|| {
        let serving = st.current();
        let authorization = headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        let (caller, expires) = request::caller_until(&st, &serving, authorization)?;
        if !caller.authenticated {
            // Anyone may open a stream without a header; a ticket stands for a token.
            return Err(ApiError::auth_missing());
        }
        let ticket = st
            .tickets
            .issue(&caller, expires)
            .ok_or_else(|| ApiError::rate_limited("unused tickets", 1))?;
        let mut res = request::json(
            StatusCode::CREATED,
            &json!({ "ticket": ticket, "expiresIn": tickets::VALID_FOR.as_secs() }),
        );
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(res)
    })();
    request::finish(answer)
}

/// What the query string of a subscription says.
#[derive(Default)]
struct Asked {
    tables: Option<String>,
    after: Option<String>,
    ticket: Option<String>,
    filters: Vec<(String, String)>,
}

fn asked(raw: Option<&str>) -> Result<Asked, ApiError> {
    let mut asked = Asked::default();
    for (k, v) in query::pairs(raw)? {
        let slot = match k.as_str() {
            "tables" => &mut asked.tables,
            "after" => &mut asked.after,
            "ticket" => &mut asked.ticket,
            // A stream has no page, order or shape: what a list would read as those is refused.
            _ if ward_ir::RESERVED_QUERY_PARAMETERS.contains(&k.as_str()) => {
                return Err(ApiError::bad_query(
                    &k,
                    format!("Unexpected parameter `{k}`"),
                ));
            }
            // `FIELD=V` and `FIELD.OP=V`, checked against the table by the list grammar.
            _ => {
                asked.filters.push((k, v));
                continue;
            }
        };
        if slot.replace(v).is_some() {
            return Err(ApiError::bad_query(&k, format!("`{k}` is given twice")));
        }
    }
    Ok(asked)
}

async fn open(
    st: Shared,
    table: Option<String>,
    q: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let asked = asked(q.as_deref())?;
    let serving = st.current();
    let multi = table.is_none();
    let names: Vec<String> = match (&table, &asked.tables) {
        (Some(t), None) => vec![t.clone()],
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_query(
                "tables",
                "`tables` is for `/api/subscribe`",
            ));
        }
        (None, None) => return Err(ApiError::bad_query("tables", "`tables` is required")),
        (None, Some(list)) => {
            let mut names: Vec<String> = Vec::new();
            for name in list.split(',').map(str::trim) {
                if names.len() == MAX_TABLES {
                    return Err(ApiError::bad_query(
                        "tables",
                        format!("At most {MAX_TABLES} tables per stream"),
                    ));
                }
                if name.is_empty() || names.iter().any(|n| n == name) {
                    return Err(ApiError::bad_query(
                        "tables",
                        "`tables` names each table once",
                    ));
                }
                names.push(name.to_owned());
            }
            names
        }
    };
    // Every table must exist and stream before anything says who may see it.
    for name in &names {
        let plan = request::plan(&serving.snapshot, name)?;
        if !plan.def.realtime {
            return Err(ApiError::not_found());
        }
    }
    let (caller, expires) = caller(&st, &serving, &headers, asked.ticket.as_deref())?;
    let mut watches = Vec::new();
    for name in &names {
        let plan = request::plan(&serving.snapshot, name)?;
        // As a list would: the rule's roles, then the firewall's claims.
        security::gate(plan, Operation::List, &caller)?;
        let filters = if multi {
            if let Some((k, _)) = asked.filters.first() {
                return Err(ApiError::bad_query(
                    k,
                    "Filters are for single-table streams",
                ));
            }
            Vec::new()
        } else {
            filters(plan, &caller, &asked.filters)?
        };
        watches.push(Watch {
            table: name.clone(),
            filters,
            after: None,
        });
    }
    // A browser's `EventSource` sends `Last-Event-ID` when it reconnects to the same URL, whose
    // `after` is the first connection's: the header is the newer.
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(asked.after);
    if let Some(resume) = resume {
        resume_from(&mut watches, multi, &resume)?;
    }
    let sub = st
        .realtime
        .subscribe(&st, &names, caller.user_id.as_deref())
        .await?;
    let (out, events) = tokio::sync::mpsc::channel(OUT_QUEUE);
    tokio::spawn(stream::run(
        st.clone(),
        caller,
        watches,
        sub,
        multi,
        expires,
        out,
    ));
    let events = futures_util::stream::unfold(events, |mut events| async move {
        let out = events.recv().await?;
        Some((Ok::<_, Infallible>(sse_event(out)), events))
    });
    let mut res = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(res)
}

/// The caller: from a ticket (`?ticket=`), or else from the `Authorization` header. Never both:
/// which one was meant would be a guess.
fn caller(
    st: &crate::State,
    serving: &crate::Serving,
    headers: &HeaderMap,
    ticket: Option<&str>,
) -> Result<(Caller, Option<u64>), ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match (ticket, header) {
        (Some(_), Some(_)) => Err(ApiError::bad_query(
            "ticket",
            "Send a ticket or an `Authorization` header, not both",
        )),
        (Some(t), None) => st
            .tickets
            .take(t)
            .ok_or_else(|| ApiError::auth_invalid("ticket")),
        (None, header) => request::caller_until(st, serving, header),
    }
}

/// List filters for a single-table stream: the list grammar's `FIELD.OP=V`, masked columns
/// refused as on a list.
fn filters(
    plan: &crate::snapshot::TablePlan,
    caller: &Caller,
    raw: &[(String, String)],
) -> Result<Vec<Filter>, ApiError> {
    if let Some((k, _)) = raw.get(MAX_FILTERS) {
        return Err(ApiError::bad_query(
            k,
            format!("At most {MAX_FILTERS} filters per request"),
        ));
    }
    raw.iter()
        .map(|(k, v)| query::parse_filter(plan, caller, None, k, v))
        .collect()
}

/// Sets each watch's resume point from a stream id: the bare `seq` of a single-table stream,
/// or the `table:seq` pairs of a multi-table one (tables it does not name start live).
fn resume_from(watches: &mut [Watch], multi: bool, id: &str) -> Result<(), ApiError> {
    let bad = || ApiError::bad_query("after", "Not an event id of this stream");
    let seq = |s: &str| s.trim().parse::<i64>().ok().filter(|n| *n >= 0);
    if !multi {
        let first = watches.first_mut().ok_or_else(bad)?;
        first.after = Some(seq(id).ok_or_else(bad)?);
        return Ok(());
    }
    for pair in id.split(',') {
        let (table, n) = pair.split_once(':').ok_or_else(bad)?;
        let watch = watches
            .iter_mut()
            .find(|w| w.table == table.trim())
            .ok_or_else(bad)?;
        if watch.after.replace(seq(n).ok_or_else(bad)?).is_some() {
            return Err(bad());
        }
    }
    Ok(())
}

fn sse_event(out: Out) -> Event {
    let event = Event::default().event(out.event).data(out.data.to_string());
    match out.id {
        Some(id) => event.id(id),
        None => event,
    }
}
