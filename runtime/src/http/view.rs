//! `GET /api/T/views/V`: a named list of a table (SPEC §2.9). The view's own rule decides who may
//! call it; the table's firewall, soft-delete filter and masking apply exactly as on `GET /api/T`,
//! and the view's fixed filter and params only ever narrow the rows.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use sea_query::{Cond, Condition as SqlCond};
use ward_ir::{Condition, Literal, Partial, Value, View, system};

use super::list;
use super::query;
use super::request::{self, Shared};
use crate::error::ApiError;
use crate::gate::Caller;
use crate::security::{self, audit};
use crate::snapshot::TablePlan;
use crate::sql::{never, predicate};

pub async fn handle(
    State(st): State<Shared>,
    Path((table, view)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    request::finish(run(st, table, view, q, headers).await)
}

async fn run(
    st: Shared,
    table: String,
    view: String,
    q: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    // An unknown view answers like an unknown table: the same fixed NOT_FOUND.
    let view = plan.def.view(&view).ok_or_else(ApiError::not_found)?;
    let caller = request::caller(&st, &serving, &headers)?;
    let gate = security::view_gate(plan, view, &caller)?;
    let mut lq = query::parse_list(plan, &caller, q.as_deref(), Some(view))?;
    let now = audit::now();
    let visible = predicate::visibility(plan, &gate, &caller, &now, true)
        .add(fixed(plan, view, &lq.params, &caller, &now));
    // A view's records always carry `id` (SPEC §2.9), whatever `fields=` asks for.
    match &mut lq.fields {
        None => lq.fields = Some(view.fields.clone()),
        Some(f) if !f.iter().any(|x| x == system::ID) => f.insert(0, system::ID.to_owned()),
        Some(_) => {}
    }
    list::respond(st, snap.clone(), table, caller, now, visible, lq, &headers).await
}

/// The view's `where` and the conditions of every param that has a value, with the params bound
/// and role leaves decided for the caller.
fn fixed(
    plan: &TablePlan,
    view: &View,
    params: &[(String, Literal)],
    caller: &Caller,
    now: &str,
) -> SqlCond {
    let active = view
        .params
        .iter()
        .filter(|p| params.iter().any(|(n, _)| *n == p.name))
        .filter_map(|p| p.filter.as_ref());
    let mut out = Cond::all();
    for c in view.filter.iter().chain(active) {
        match bind(c, params).partial(&|roles| caller.has_any_role(roles)) {
            Partial::True => {}
            Partial::False => out = out.add(never()),
            Partial::Rows(r) => out = out.add(predicate::condition(plan, &r, caller, now)),
        }
    }
    out
}

/// `c` with every `(param)NAME` replaced by the request's typed value. A param without a value
/// stays as it is and matches nothing (the compiler only lets always-present params appear
/// outside their own block, so this is a second line of defence).
fn bind(c: &Condition, params: &[(String, Literal)]) -> Condition {
    c.map_values(&|v| match v {
        Value::Param(name) => params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| Value::Literal(l.clone())),
        _ => None,
    })
}
