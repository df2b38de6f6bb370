//! `GET /api/T`: a page of visible rows.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value as Json, json};
use ward_ir::Operation;

use super::error::ApiError;
use super::query::{self, ListQuery};
use super::request::{self, Shared};
use crate::security::{self, audit};
use crate::sql::{dml, filter, predicate};
use crate::store::row;

pub async fn handle(
    State(st): State<Shared>,
    Path(table): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    request::finish(run(st, table, q, headers).await)
}

async fn run(
    st: Shared,
    table: String,
    q: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let snap = st.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let caller = request::caller(&st, &headers)?;
    let gate = security::gate(plan, Operation::List, &caller)?;
    let lq: ListQuery = query::parse_list(plan, &caller, q.as_deref())?;
    let now = audit::now();

    let mut cond = predicate::visibility(plan, &gate, &caller, &now, true)
        .add(filter::filters(plan, &lq.filters));
    if let Some((text, cols)) = &lq.search {
        cond = cond.add(filter::search(cols, text));
    }
    let count_stmt = lq.total.then(|| dml::count(plan, cond.clone()));
    if let Some(after) = &lq.after {
        cond = cond.add(filter::keyset(plan, &lq.sort, after));
    }
    let stmt = dml::select(plan, cond, &lq.sort, Some(lq.limit + 1), lq.offset);

    let snap2 = snap.clone();
    let (mut rows, total) = st
        .store
        .read(move |c| {
            let plan = request::plan_in(&snap2, &table)?;
            let rows = row::records(c, plan, &stmt)?;
            let total = count_stmt.map(|s| row::scalar(c, &s)).transpose()?;
            Ok((rows, total))
        })
        .await?;

    let has_more = rows.len() as u64 > lq.limit;
    rows.truncate(usize::try_from(lq.limit).unwrap_or(usize::MAX));
    let next_cursor = match rows.last() {
        Some(last) if has_more => {
            let values = lq
                .sort
                .iter()
                .map(|k| last.get(&k.column).cloned().unwrap_or(Json::Null))
                .collect();
            Some(query::encode_cursor(&lq.sort, values))
        }
        _ => None,
    };
    let count = rows.len();
    let data: Vec<Json> = rows
        .into_iter()
        .map(|r| request::output(plan, &caller, r, lq.fields.as_deref()))
        .collect();
    let mut pagination = Map::new();
    pagination.insert("limit".into(), json!(lq.limit));
    pagination.insert("offset".into(), json!(lq.offset));
    pagination.insert("count".into(), json!(count));
    pagination.insert("hasMore".into(), json!(has_more));
    if let Some(c) = next_cursor {
        pagination.insert("nextCursor".into(), json!(c));
    }
    if let Some(t) = total {
        pagination.insert("total".into(), json!(t));
    }
    Ok(request::with_etag(
        &headers,
        &json!({ "data": data, "pagination": pagination }),
    ))
}
