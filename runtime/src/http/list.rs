//! `GET /api/T`: a page of visible rows (or, with `?deleted=only`, of the caller's soft-deleted
//! rows), with labels and expansions.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value as Json, json};
use ward_ir::Operation;

use super::embed::{self, Ctx};
use super::encode::{self, Answer, Records};
use super::query::{self, ListQuery};
use super::request::{self, Shared};
use crate::error::ApiError;
use crate::gate::Caller;
use crate::security::{self, audit};
use crate::snapshot::TablePlan;
use crate::sql::{dml, filter, predicate, related};
use crate::store::{Db, row};

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
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let caller = request::caller(&st, &serving, &headers)?;
    // Deleted rows are governed by the `restore` rule, not `list` (SPEC §5.3). A hard-delete
    // table has none: its `deleted=only` is judged by `list`, then refused as a bad query.
    let op = if plan.soft && query::wants_deleted(q.as_deref()) {
        Operation::Restore
    } else {
        Operation::List
    };
    let gate = security::gate(plan, op, &caller)?;
    let lq: ListQuery = query::parse_list(plan, &caller, q.as_deref(), None)?;
    let now = audit::now();

    let cond = if lq.deleted_only {
        deleted_visibility(plan, &gate, &caller, &now)
    } else {
        predicate::visibility(plan, &gate, &caller, &now, true)
    };
    respond(st, snap.clone(), table, caller, now, cond, lq, &headers).await
}

/// One page of the rows matching `cond` (what the caller may see) and the client's filters,
/// search, order and cursor: the list response shared by `GET /api/T` and views.
#[allow(clippy::too_many_arguments)] // the request's parts, each used once
pub(super) async fn respond(
    st: Shared,
    snap: std::sync::Arc<crate::snapshot::Snapshot>,
    table: String,
    caller: Caller,
    now: String,
    visible: sea_query::Condition,
    lq: ListQuery,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let plan = request::plan(&snap, &table)?;
    let mut cond = visible.add(filter::filters(plan, &lq.filters));
    if let Some((text, cols)) = &lq.search {
        cond = cond.add(filter::search(plan, cols, text));
    }
    let count_stmt = lq.total.then(|| dml::count(plan, cond.clone()));
    if let Some(after) = &lq.after {
        cond = cond.add(filter::keyset(plan, &lq.sort, after));
    }
    let stmt = dml::select(plan, cond, &lq.sort, Some(lq.limit + 1), lq.offset);

    let shape = lq.shape();
    let reads_more = embed::reads_database(plan, &shape);
    // The page and nothing else to read (no total, labels or expansions): one statement, its
    // own snapshot, and the records written straight from the cells.
    if count_stmt.is_none() && !reads_more {
        let rows = st.store.query(stmt, row::column_types(plan)).await?;
        let (rows, pagination) = paginate(plan, rows, None, &lq);
        let data = Records::new(plan, &caller, shape.fields.as_deref(), &rows);
        let body = encode::to_body(&Answer {
            data,
            pagination: Some(pagination),
        })?;
        return Ok(request::with_etag(headers, body, false));
    }
    let snap2 = snap.clone();
    let read = move |c: &dyn Db| {
        let plan = request::plan_in(&snap2, &table)?;
        let rows = row::cells(c, plan, &stmt)?;
        let total = count_stmt.map(|s| row::scalar(c, &s)).transpose()?;
        let (rows, pagination) = paginate(plan, rows, total, &lq);
        let pagination = Some(pagination);
        if !reads_more {
            let data = Records::new(plan, &caller, shape.fields.as_deref(), &rows);
            return encode::to_body(&Answer { data, pagination });
        }
        let ctx = Ctx {
            conn: c,
            snap: &snap2,
            caller: &caller,
            now: &now,
        };
        let data = embed::render(ctx, plan, row::to_records(plan, rows), &shape)?;
        encode::to_body(&Answer { data, pagination })
    };
    let body = st.store.read(read).await?;
    Ok(request::with_etag(headers, body, false))
}

/// The page's rows (the one read past the limit dropped) and its `pagination` object.
fn paginate(
    plan: &TablePlan,
    mut rows: Vec<Vec<Json>>,
    total: Option<i64>,
    lq: &ListQuery,
) -> (Vec<Vec<Json>>, Map<String, Json>) {
    let has_more = rows.len() as u64 > lq.limit;
    rows.truncate(usize::try_from(lq.limit).unwrap_or(usize::MAX));
    let mut pagination = Map::new();
    pagination.insert("limit".into(), json!(lq.limit));
    pagination.insert("offset".into(), json!(lq.offset));
    pagination.insert("count".into(), json!(rows.len()));
    pagination.insert("hasMore".into(), json!(has_more));
    // The cursor holds raw sort values: every sort key is queryable for this caller, so none of
    // them is masked for them.
    if let Some(last) = rows.last().filter(|_| has_more) {
        let values = lq
            .sort
            .iter()
            .map(|k| {
                plan.position(&k.column)
                    .and_then(|at| last.get(at))
                    .cloned()
                    .unwrap_or(Json::Null)
            })
            .collect();
        pagination.insert(
            "nextCursor".into(),
            json!(query::encode_cursor(&lq.sort, values)),
        );
    }
    if let Some(t) = total {
        pagination.insert("total".into(), json!(t));
    }
    (rows, pagination)
}

/// `?deleted=only`: the soft-deleted rows inside the caller's scopes that the `restore` rule's
/// conditions allow.
fn deleted_visibility(
    plan: &TablePlan,
    gate: &crate::gate::Gate,
    caller: &Caller,
    now: &str,
) -> sea_query::Condition {
    let cond = related::deleted_in_scope(plan, gate);
    match gate.residual.condition() {
        Some(r) => cond.add(predicate::condition(plan, r, caller, now)),
        None => cond,
    }
}
