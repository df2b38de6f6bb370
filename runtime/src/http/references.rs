//! `references=` values must point at rows the caller can see (target firewall, soft delete and
//! read access); an invisible target is answered exactly like a missing one, so there is no
//! linking across tenants and no existence oracle.

use serde_json::{Map, Value as Json};
use ward_ir::Operation;

use crate::error::ApiError;
use crate::gate::Caller;
use crate::security;
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::{dml, predicate};
use crate::store::{Db, row};

pub fn check(
    conn: &dyn Db,
    snap: &Snapshot,
    caller: &Caller,
    plan: &TablePlan,
    values: &Map<String, Json>,
    now: &str,
) -> Result<(), ApiError> {
    let mut bad = Vec::new();
    for (col, target) in &plan.references {
        let Some(v) = values.get(col).filter(|v| !v.is_null()) else {
            continue;
        };
        let Some(tplan) = snap.table(target) else {
            bad.push(col.clone());
            continue;
        };
        let Ok(gate) = security::gate(tplan, Operation::Read, caller) else {
            bad.push(col.clone());
            continue;
        };
        let cond = predicate::visibility(tplan, &gate, caller, now, true).add(dml::id_eq(tplan, v));
        if !row::any_row(conn, &dml::exists(tplan, cond))? {
            bad.push(col.clone());
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(ApiError::reference_violation(Some(bad)))
    }
}
