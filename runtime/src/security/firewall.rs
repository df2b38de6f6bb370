//! Layer 3, firewall: the `column = caller value` predicates every statement on a table carries,
//! and the values stamped into scope columns on insert.

use ward_ir::{ColumnType, Table};

use crate::error::ApiError;
use crate::gate::{Caller, ScopeEq};

fn bypasses(caller: &Caller, roles: &[String]) -> bool {
    !roles.is_empty() && caller.roles.iter().any(|r| roles.contains(r))
}

/// The predicates for reads, updates and deletes. A caller who needs a claim they lack gets 403
/// `FIREWALL_SCOPE_MISSING`, never a silently empty result.
pub fn predicates(table: &Table, caller: &Caller) -> Result<Vec<ScopeEq>, ApiError> {
    let mut out = Vec::new();
    if bypasses(caller, &table.firewall.bypass) {
        return Ok(out);
    }
    for s in &table.firewall.scopes {
        if bypasses(caller, &s.bypass) {
            continue;
        }
        out.push(ScopeEq {
            column: s.column.clone(),
            value: scope_value(table, &s.column, &s.auth, caller)?,
        });
    }
    Ok(out)
}

/// The values stamped into scope columns on insert: every scope, bypass or not, since a row must
/// belong somewhere.
pub fn stamps(table: &Table, caller: &Caller) -> Result<Vec<ScopeEq>, ApiError> {
    table
        .firewall
        .scopes
        .iter()
        .map(|s| {
            Ok(ScopeEq {
                column: s.column.clone(),
                value: scope_value(table, &s.column, &s.auth, caller)?,
            })
        })
        .collect()
}

/// The caller's value for a scope column. A uuid column takes the claim as a canonical UUID; a
/// claim that is no UUID cannot name a row there, so it counts as missing (docs/decisions.md).
fn scope_value(
    table: &Table,
    column: &str,
    auth: &str,
    caller: &Caller,
) -> Result<String, ApiError> {
    let missing = || ApiError::scope_missing(auth);
    let value = caller.auth_value(auth).ok_or_else(missing)?;
    let is_uuid = table
        .columns
        .iter()
        .any(|c| c.name == column && c.ty == ColumnType::Uuid);
    if !is_uuid {
        return Ok(value.to_owned());
    }
    uuid::Uuid::parse_str(value)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| missing())
}

/// Whether `row` lies inside every scope, as the firewall's `column = value` would select it: a
/// missing or null value is in none.
pub fn contains(scopes: &[ScopeEq], row: &serde_json::Map<String, serde_json::Value>) -> bool {
    use serde_json::Value as Json;
    scopes.iter().all(|s| match row.get(&s.column) {
        Some(Json::String(v)) => *v == s.value,
        Some(Json::Number(n)) => n.to_string() == s.value,
        _ => false,
    })
}

/// The error for an id the caller cannot see, per the table's error mode.
pub fn not_found(table: &Table) -> ApiError {
    match table.firewall.error_mode {
        ward_ir::ErrorMode::Hide => ApiError::not_found(),
        ward_ir::ErrorMode::Reveal => ApiError::firewall_not_found(),
    }
}
