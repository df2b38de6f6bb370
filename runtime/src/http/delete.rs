//! `DELETE /api/T/{id}`: soft (stamp `deletedAt`, cascading to soft-deletable children) or hard
//! (a real DELETE; foreign keys follow `on-delete`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rusqlite::Connection;
use serde_json::{Map, Value as Json, json};
use ward_ir::{OnDelete, Operation, system};

use super::error::ApiError;
use super::request::{self, Shared};
use crate::security::identity::Caller;
use crate::security::{self, audit, firewall};
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::{dml, filter::Filter, predicate, value};
use crate::store::row;

pub async fn handle(
    State(st): State<Shared>,
    Path((table, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    request::finish(run(st, table, id, headers).await)
}

async fn run(
    st: Shared,
    table: String,
    id: String,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let snap = st.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let caller = request::caller(&st, &headers)?;
    let gate = security::gate(plan, Operation::Delete, &caller)?;
    let id = value::parse_id(plan.def.id, &id).ok_or_else(|| firewall::not_found(&plan.def))?;
    let now = audit::now();

    let snap2 = snap.clone();
    let id2 = id.clone();
    st.store
        .write(move |tx| {
            let plan = request::plan_in(&snap2, &table)?;
            let visible = predicate::firewall(plan, &gate);
            let load = dml::select(plan, dml::by_id(plan, &id2).add(visible), &[], Some(1), 0);
            let current = row::first_record(tx, plan, &load)?
                .ok_or_else(|| firewall::not_found(&plan.def))?;
            let changes = security::prepare_delete(&caller, &gate, &current, &now)?;
            let cond = predicate::visibility(plan, &gate, &caller, &now, true);
            let n = if plan.soft {
                let n = row::execute(tx, &dml::update(plan, &id2, &changes, cond))?;
                cascade(tx, &snap2, &caller, plan, &id2, &changes)?;
                n
            } else {
                row::execute(tx, &dml::delete(plan, &id2, cond))?
            };
            if n == 0 {
                return Err(ApiError::condition_failed());
            }
            Ok(())
        })
        .await?;
    Ok(request::json(
        StatusCode::OK,
        &json!({ "data": { "id": id, "deleted": true } }),
    ))
}

/// Soft delete cascades to the soft-deletable child rows whose reference says `cascade`, each
/// under its own table's firewall (rows the caller cannot see are left alone).
fn cascade(
    tx: &Connection,
    snap: &Snapshot,
    caller: &Caller,
    parent: &TablePlan,
    id: &Json,
    changes: &Map<String, Json>,
) -> Result<(), ApiError> {
    for child in snap.tables() {
        if !child.soft {
            continue;
        }
        let Ok(scopes) = firewall::predicates(&child.def, caller) else {
            continue;
        };
        let gate = security::Gate {
            scopes,
            residual: security::access::Residual::True,
        };
        for c in child.columns() {
            let cascades = c
                .references
                .as_ref()
                .is_some_and(|r| r.table == parent.name() && r.on_delete == OnDelete::Cascade);
            if !cascades {
                continue;
            }
            let by_parent = Filter {
                column: c.name.clone(),
                op: ward_ir::CompareOp::Eq,
                values: vec![id.clone()],
            };
            let cond = predicate::firewall(child, &gate)
                .add(crate::sql::filter::filters(child, &[by_parent]));
            let mut stamp = changes.clone();
            stamp.retain(|k, _| k != system::ID);
            row::execute(tx, &dml::update_where(child, &stamp, cond))?;
        }
    }
    Ok(())
}
