//! `GET /api/T/{id}/history` (SPEC §11): a row's versions from the change log, newest first,
//! under the `history` rule (the `read` rule unless the table states its own).
//!
//! Each image of a version is judged on its own, against today's policy: the caller sees it only
//! if they could read that image (firewall scopes and `when`, evaluated on it), masked for them
//! as a read would mask it. An image they could not read is `null`; a version with neither
//! readable, or whose readable images look the same to them (only masked or hidden columns
//! changed), is left out — so a row that moved between tenants, or was hidden for a while, shows
//! nothing of those times, and no version tells a masked column's change. `actor` and `at` follow
//! the masks of `modifiedBy` and `modifiedAt`. An id with no version for the caller that they
//! cannot read now either answers the one NOT_FOUND body.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value as Json, json};
use ward_ir::{Operation, system};

use super::query;
use super::request::{self, Shared};
use crate::engine::journal::{self, Change};
use crate::error::ApiError;
use crate::gate::{Caller, Gate};
use crate::mutation::{self, Mutation};
use crate::security::{self, audit, firewall, masking};
use crate::snapshot::TablePlan;
use crate::sql::{changes, predicate};
use crate::store::row::{self, Record};

/// Change records read per statement while a page fills.
const CHUNK: u64 = 100;

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
    request::addressable(&id)?;
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    if plan.def.history.is_none() {
        return Err(ApiError::not_found());
    }
    let caller = request::caller(&st, &serving, &headers)?;
    let gate = security::gate(plan, Operation::History, &caller)?;
    let page = Page::parse(plan, q.as_deref())?;
    let id = request::row_id(plan, &id)?;
    let now = audit::now();
    journal::settle(&st.store).await?;
    let snap2 = snap.clone();
    let answer = st
        .store
        .read(move |db| {
            let plan = request::plan_in(&snap2, &table)?;
            let key = journal::id_key(&id);
            let mut shown = Vec::new();
            let mut below = page.below;
            let mut more = false;
            'pages: loop {
                let stmt = changes::versions(plan.dialect, plan.name(), &key, below, CHUNK);
                let batch = journal::read(db, &stmt)?;
                let read = batch.len() as u64;
                for change in batch {
                    let Some(version) = version(plan, &gate, &caller, &now, &change) else {
                        below = Some(change.seq);
                        continue;
                    };
                    if shown.len() as u64 == page.limit {
                        more = true;
                        break 'pages;
                    }
                    below = Some(change.seq);
                    shown.push(version);
                }
                if read < CHUNK {
                    break;
                }
            }
            if shown.is_empty() {
                let visible = predicate::visibility(plan, &gate, &caller, &now, true);
                if row::by_id(db, plan, &id, visible)?.is_none() {
                    return Err(firewall::not_found(&plan.def));
                }
            }
            let mut pagination = Map::new();
            pagination.insert("limit".into(), json!(page.limit));
            pagination.insert("count".into(), json!(shown.len()));
            pagination.insert("hasMore".into(), json!(more));
            if more && let Some(seq) = below {
                pagination.insert("nextCursor".into(), json!(encode_cursor(seq)));
            }
            Ok(json!({ "data": shown, "pagination": pagination }))
        })
        .await?;
    Ok(request::json(StatusCode::OK, &answer))
}

/// One version as the caller may see it, or `None` when they see nothing of it.
fn version(
    plan: &TablePlan,
    gate: &Gate,
    caller: &Caller,
    now: &str,
    change: &Change,
) -> Option<Json> {
    let readable = |r: &&Record| security::could_read(gate, caller, r, now);
    let (before, after) = (
        change.before.as_ref().filter(readable),
        change.after.as_ref().filter(readable),
    );
    let shown = after.or(before)?;
    let (seen_before, seen_after) = (
        before.map(|r| image(plan, caller, r)),
        after.map(|r| image(plan, caller, r)),
    );
    if let (Some(b), Some(a)) = (&seen_before, &seen_after)
        && !journal::differ(b, a, &[])
    {
        return None;
    }
    let raw = |column: &str, value: Json| {
        if masking::sees_raw(plan, caller, column, shown) {
            value
        } else {
            Json::Null
        }
    };
    Some(json!({
        "version": change.seq,
        "op": change.op.name(),
        "at": raw(system::MODIFIED_AT, json!(change.at)),
        "actor": raw(system::MODIFIED_BY, json!(change.actor)),
        "before": seen_before.map_or(Json::Null, Json::Object),
        "after": seen_after.map_or(Json::Null, Json::Object),
    }))
}

/// A stored image as a read would show it today: the table's current columns only, masked.
fn image(plan: &TablePlan, caller: &Caller, stored: &Record) -> Record {
    let masked = !mutation::active(Mutation::HistoryMaskSkipped);
    masking::shown_today(plan, caller, stored, masked)
}

/// `?limit=&cursor=`.
struct Page {
    limit: u64,
    /// Versions older than this one (the cursor's).
    below: Option<i64>,
}

impl Page {
    fn parse(plan: &TablePlan, raw: Option<&str>) -> Result<Page, ApiError> {
        let mut page = Page {
            limit: u64::from(plan.def.page.default),
            below: None,
        };
        for (k, v) in query::pairs(raw)? {
            match k.as_str() {
                "limit" => {
                    page.limit =
                        query::non_negative("limit", &v)?.clamp(1, u64::from(plan.def.page.max));
                }
                "cursor" => page.below = Some(decode_cursor(&v)?),
                _ => {
                    return Err(ApiError::bad_query(
                        &k,
                        format!("Unexpected parameter `{k}`"),
                    ));
                }
            }
        }
        Ok(page)
    }
}

fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v{seq}"))
}

fn decode_cursor(raw: &str) -> Result<i64, ApiError> {
    URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix('v')?.parse().ok())
        .ok_or_else(|| ApiError::bad_query("cursor", "Malformed cursor"))
}
