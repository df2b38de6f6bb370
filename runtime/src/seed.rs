//! Fixture rows for `ward test` (`seed TABLE as=USER { … }`, SPEC §9.3).
//!
//! A seed is inserted as its owner would own it — scope columns stamped from the owner's claims,
//! audit columns naming the owner, every value validated like a create — but without the owner's
//! access rule or guards: a fixture may hold rows the owner could not create through the API
//! (the SPEC's own example seeds admin-only rooms as a member). Never reachable over HTTP.

use std::sync::Arc;

use serde_json::{Map, Value as Json};
use ward_ir::{IdKind, system};

use crate::State;
use crate::error::ApiError;
use crate::gate::Caller;
use crate::security::guards::WriteKind;
use crate::security::{audit, firewall, validation};
use crate::sql::dml;
use crate::store::row;

pub(crate) async fn seed(
    state: &Arc<State>,
    table: &str,
    owner_claims: &Map<String, Json>,
    values: Map<String, Json>,
) -> Result<Json, String> {
    let serving = state.current();
    let snapshot = serving.snapshot.clone();
    let plan = snapshot
        .table(table)
        .ok_or_else(|| format!("unknown table `{table}`"))?;
    let caller = if owner_claims.is_empty() {
        Caller::anonymous()
    } else {
        serving
            .verifier
            .caller(owner_claims)
            .map_err(|e| format!("the seed's owner is no caller: {}", e.body()))?
    };
    let client_id = plan.def.id == IdKind::Text;
    for key in values.keys() {
        let writable_id = key == system::ID && client_id;
        if plan.column(key).is_none() {
            return Err(format!("`{table}` has no column `{key}`"));
        }
        if plan.is_managed(key) && !writable_id {
            return Err(format!(
                "`{key}` is set by the server (scope and system columns come from the seed's owner)"
            ));
        }
    }
    let stamps = firewall::stamps(&plan.def, &caller).map_err(|e| {
        format!(
            "the owner lacks a claim a firewall scope of `{table}` needs: {}",
            e.body()
        )
    })?;
    let now = audit::now();
    let mut row_values =
        validation::validate(plan, WriteKind::Create, &values, &now).map_err(|e| e.body())?;
    for stamp in stamps {
        row_values.insert(stamp.column, Json::String(stamp.value));
    }
    audit::stamp_create(&mut row_values, &caller, &now);
    if plan.def.id == IdKind::Uuid {
        row_values.insert(
            system::ID.into(),
            Json::String(uuid::Uuid::now_v7().hyphenated().to_string()),
        );
    }
    let table = table.to_owned();
    state
        .store
        .write(move |tx| {
            let plan = snapshot
                .table(&table)
                .ok_or_else(|| ApiError::internal("table vanished"))?;
            let w = crate::engine::Writer {
                db: tx,
                caller: &caller,
                at: &now,
                request: None,
            };
            let id = crate::engine::rows::insert(w, plan, &row_values)?;
            let stmt = dml::select(plan, dml::by_id(plan, &id), &[], Some(1), 0);
            let record = row::first_record(tx, plan, &stmt)?
                .ok_or_else(|| ApiError::internal("seeded row not found"))?;
            Ok(Json::Object(record))
        })
        .await
        .map_err(|e| e.body())
}

/// Every stored row of `table` (soft-deleted ones included), unmasked, in storage order: what the
/// conformance suite compares with its model's state. Read-only; never served over HTTP.
pub(crate) async fn dump(
    state: &Arc<State>,
    table: &str,
) -> Result<Vec<Map<String, Json>>, String> {
    let snapshot = state.current().snapshot.clone();
    if snapshot.table(table).is_none() {
        return Err(format!("unknown table `{table}`"));
    }
    let table = table.to_owned();
    state
        .store
        .read(move |conn| {
            let plan = snapshot
                .table(&table)
                .ok_or_else(|| ApiError::internal("table vanished"))?;
            let stmt = dml::select(plan, sea_query::Cond::all(), &[], None, 0);
            row::records(conn, plan, &stmt)
        })
        .await
        .map_err(|e| e.body())
}
