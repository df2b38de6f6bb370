//! Layer 5, guards: which raw body keys a client may write, checked before any type validation.

use serde_json::json;

use crate::error::ApiError;
use crate::mutation::{self, Mutation};
use crate::snapshot::TablePlan;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Create,
    Update,
}

/// Checks the body keys in SPEC §2.6 precedence; then unknown keys.
pub fn check(plan: &TablePlan, kind: WriteKind, keys: &[&str]) -> Result<(), ApiError> {
    let g = &plan.def.guards;
    let known: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| plan.column(k).is_some())
        .collect();
    let client_id = super::validation::client_id(plan, kind);
    let managed: Vec<&str> = known
        .iter()
        .copied()
        .filter(|k| plan.is_managed(k) && !(client_id && *k == ward_ir::system::ID))
        .filter(|k| !planted_pass(plan, kind, k))
        .collect();
    if !managed.is_empty() {
        return Err(ApiError::guard(
            "GUARD_SYSTEM_MANAGED",
            "System and scope columns are set by the server",
            json!({ "fields": managed }),
        ));
    }
    if kind == WriteKind::Update {
        let immutable: Vec<&str> = known
            .iter()
            .copied()
            .filter(|k| g.immutable.iter().any(|c| c == k))
            .collect();
        if !immutable.is_empty() {
            return Err(ApiError::guard(
                "GUARD_FIELD_IMMUTABLE",
                "These fields cannot change after create",
                json!({ "fields": immutable }),
            ));
        }
    }
    let protected: Vec<&ward_ir::Protected> = g
        .protected
        .iter()
        .filter(|p| known.contains(&p.column.as_str()))
        .collect();
    if !protected.is_empty() {
        let fields: Vec<&str> = protected.iter().map(|p| p.column.as_str()).collect();
        let mut actions: Vec<&str> = protected
            .iter()
            .flat_map(|p| p.actions.iter().map(String::as_str))
            .collect();
        actions.dedup();
        return Err(ApiError::guard(
            "GUARD_FIELD_PROTECTED",
            "These fields can only be changed by actions",
            json!({ "fields": fields, "actions": actions }),
        ));
    }
    let (allowed, code, message) = match kind {
        WriteKind::Create => (
            &g.createable,
            "GUARD_FIELD_NOT_CREATEABLE",
            "These fields cannot be set on create",
        ),
        WriteKind::Update => (
            &g.updatable,
            "GUARD_FIELD_NOT_UPDATABLE",
            "These fields cannot be updated",
        ),
    };
    let denied: Vec<&str> = known
        .iter()
        .copied()
        .filter(|k| !(allowed.iter().any(|c| c == k) || (client_id && *k == ward_ir::system::ID)))
        .filter(|k| !planted_pass(plan, kind, k))
        .collect();
    if !denied.is_empty() {
        return Err(ApiError::guard(code, message, json!({ "fields": denied })));
    }
    let unknown: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| plan.column(k).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::validation(
            "VALIDATION_UNKNOWN_FIELD",
            "Unknown fields in body",
            json!({ "fields": unknown }),
        ));
    }
    Ok(())
}

/// Planted bugs (`crate::mutation`): a system or scope key the guards wrongly let through.
fn planted_pass(plan: &TablePlan, kind: WriteKind, key: &str) -> bool {
    mutation::active(Mutation::GuardsCreateSystemField)
        && kind == WriteKind::Create
        && key == ward_ir::system::CREATED_BY
        || mutation::active(Mutation::GuardsUpdateScopeColumn)
            && kind == WriteKind::Update
            && plan.def.is_scope_column(key)
}
