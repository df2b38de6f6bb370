//! The security pipeline (SPEC §6). Each layer is a plain function in its own module, testable
//! without HTTP or a database; this module is the one place that fixes their order:
//!
//! 1. auth (`identity`) → 2. access, role part (`access::authorize`, before any read) →
//! 3. firewall (`firewall`: predicates for every statement, stamps for inserts) →
//! 4. access, condition part (SQL for list/read; the loaded row for update/delete/restore) →
//! 5. guards (raw keys) → 6. validation → 7. access `check` on the resulting row →
//! 8. audit stamps → database (firewall re-applied in the write's WHERE) → 9. masking.

pub mod access;
pub mod audit;
pub mod firewall;
pub mod guards;
pub mod identity;
pub mod masking;
pub mod validation;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value as Json};
use ward_ir::Operation;

use crate::error::ApiError;
use crate::gate::{Caller, Gate, Residual, ScopeEq};
use crate::mutation::{self, Mutation};
use crate::snapshot::TablePlan;

use guards::WriteKind;

/// Steps 2–3 for list, read, update and delete: decided before anything is read.
pub fn gate(plan: &TablePlan, op: Operation, caller: &Caller) -> Result<Gate, ApiError> {
    let residual = access::authorize(&plan.def, op, caller)?;
    let mut scopes = firewall::predicates(&plan.def, caller)?;
    if mutation::active(Mutation::FirewallReadNoScope)
        && matches!(op, Operation::List | Operation::Read)
        || mutation::active(Mutation::FirewallWriteNoScope)
            && matches!(op, Operation::Update | Operation::Delete)
    {
        scopes.clear();
    }
    Ok(Gate { scopes, residual })
}

/// Steps 2–3 for a view: its own rule's role part, then the table's firewall, unchanged.
pub fn view_gate(
    plan: &TablePlan,
    view: &ward_ir::View,
    caller: &Caller,
) -> Result<Gate, ApiError> {
    let residual = access::authorize_rule(view.access.as_ref(), caller)?;
    let scopes = firewall::predicates(&plan.def, caller)?;
    Ok(Gate { scopes, residual })
}

/// Steps 2–3 for create: the role part, then the scope stamps (which need every claim).
pub fn create_gate(plan: &TablePlan, caller: &Caller) -> Result<Vec<ScopeEq>, ApiError> {
    access::authorize(&plan.def, Operation::Create, caller)?;
    firewall::stamps(&plan.def, caller)
}

/// Steps 5–8 for create: the full row to insert.
pub fn prepare_create(
    plan: &TablePlan,
    caller: &Caller,
    stamps: &[ScopeEq],
    body: &Map<String, Json>,
    now: &str,
) -> Result<Map<String, Json>, ApiError> {
    let keys: Vec<&str> = body.keys().map(String::as_str).collect();
    guards::check(plan, WriteKind::Create, &keys)?;
    let mut row = validation::validate(plan, WriteKind::Create, body, now)?;
    for s in stamps {
        row.insert(s.column.clone(), Json::String(s.value.clone()));
    }
    audit::stamp_create(&mut row, caller, now);
    if mutation::active(Mutation::GuardsCreateSystemField)
        && let Some(v) = body.get(ward_ir::system::CREATED_BY)
    {
        row.insert(ward_ir::system::CREATED_BY.into(), v.clone());
    }
    check(plan, Operation::Create, caller, &row, now)?;
    Ok(row)
}

/// Steps 4–8 for update on the loaded (firewall-visible) row: the changed columns.
pub fn prepare_update(
    plan: &TablePlan,
    caller: &Caller,
    gate: &Gate,
    current: &Map<String, Json>,
    body: &Map<String, Json>,
    now: &str,
) -> Result<Map<String, Json>, ApiError> {
    when(gate, caller, current, now)?;
    let changes = update_changes(plan, caller, body, now)?;
    let mut resulting = current.clone();
    resulting.extend(changes.clone());
    if !mutation::active(Mutation::AccessUpdateSkipCheck) {
        check(plan, Operation::Update, caller, &resulting, now)?;
    }
    Ok(changes)
}

/// Steps 6–7 of an update, which need no row: guards, validation, then the audit stamps.
pub fn update_changes(
    plan: &TablePlan,
    caller: &Caller,
    body: &Map<String, Json>,
    now: &str,
) -> Result<Map<String, Json>, ApiError> {
    let keys: Vec<&str> = body.keys().map(String::as_str).collect();
    guards::check(plan, WriteKind::Update, &keys)?;
    let mut changes = validation::validate(plan, WriteKind::Update, body, now)?;
    audit::stamp_update(&mut changes, caller, now);
    Ok(changes)
}

/// Whether an update's row-dependent steps are all in its UPDATE's WHERE (firewall, `when`):
/// no `check` on the resulting row for this caller.
pub fn update_checks_nothing_after(plan: &TablePlan, caller: &Caller) -> bool {
    !matches!(
        access::check_condition(&plan.def, Operation::Update, caller),
        Some(Residual::Rows(_))
    )
}

/// Step 4 for delete on the loaded row, then the audit stamps of a soft delete.
pub fn prepare_delete(
    caller: &Caller,
    gate: &Gate,
    current: &Map<String, Json>,
    now: &str,
) -> Result<Map<String, Json>, ApiError> {
    if !mutation::active(Mutation::DeleteSkipWhen) {
        when(gate, caller, current, now)?;
    }
    let mut changes = Map::new();
    audit::stamp_soft_delete(&mut changes, caller, now);
    Ok(changes)
}

/// Step 4 for restore on the loaded soft-deleted row, then the stamps that bring it back.
pub fn prepare_restore(
    caller: &Caller,
    gate: &Gate,
    current: &Map<String, Json>,
    now: &str,
) -> Result<Map<String, Json>, ApiError> {
    when(gate, caller, current, now)?;
    let mut changes = Map::new();
    audit::stamp_restore(&mut changes, caller, now);
    Ok(changes)
}

/// Whether the rule's row condition (`when`) admits `row`, a stored row the firewall showed.
pub fn admits(gate: &Gate, caller: &Caller, row: &Map<String, Json>, now: &str) -> bool {
    gate.residual
        .condition()
        .is_none_or(|c| access::holds(c, row, caller, now))
}

/// Whether the caller could read `row` through `gate` were it stored as it is: inside every scope
/// of the firewall, and passing the rule's `when`. How a past image of a row is judged (SPEC §11):
/// on its own, against today's policy, whatever the row is now.
pub fn could_read(gate: &Gate, caller: &Caller, row: &Map<String, Json>, now: &str) -> bool {
    if mutation::active(Mutation::HistoryImageUnjudged) {
        return true;
    }
    firewall::contains(&gate.scopes, row) && admits(gate, caller, row, now)
}

/// Layer 4 on a loaded row: the rule's `when`, else 403 `ACCESS_CONDITION_FAILED` (which never
/// carries the row). Every write that judges a stored row judges it here.
pub fn when(
    gate: &Gate,
    caller: &Caller,
    row: &Map<String, Json>,
    now: &str,
) -> Result<(), ApiError> {
    if admits(gate, caller, row, now) {
        return Ok(());
    }
    if mutation::active(Mutation::ErrorLeaksStoredRow) {
        let leak = serde_json::json!({ "record": row });
        return Err(ApiError::condition_failed().with_details(leak));
    }
    Err(ApiError::condition_failed())
}

fn check(
    plan: &TablePlan,
    op: Operation,
    caller: &Caller,
    row: &Map<String, Json>,
    now: &str,
) -> Result<(), ApiError> {
    match access::check_condition(&plan.def, op, caller) {
        Some(Residual::Rows(c)) if !access::holds(&c, row, caller, now) => {
            Err(ApiError::check_failed())
        }
        _ => Ok(()),
    }
}
