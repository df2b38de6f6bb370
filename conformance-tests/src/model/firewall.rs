//! Layer 3, firewall (SPEC §2.4, docs/decisions.md): the scope equalities a caller's statements
//! carry, the values stamped on insert, and what "visible" means for each operation.

use serde_json::Value;
use ward_ir::{ColumnType, DeleteMode, ErrorMode, Table, system};

use super::Row;
use super::auth::Who;
use super::errors::Fail;

/// `column = value` equalities every statement of the caller on the table carries.
pub type Scopes = Vec<(String, String)>;

fn bypasses(who: &Who, roles: &[String]) -> bool {
    !roles.is_empty() && who.has_any(roles)
}

/// The scopes for reads, updates, deletes and restores; 403 `FIREWALL_SCOPE_MISSING` when a
/// scope the caller does not bypass needs a claim they lack.
pub fn scopes(table: &Table, who: &Who) -> Result<Scopes, Fail> {
    let mut out = Vec::new();
    if bypasses(who, &table.firewall.bypass) {
        return Ok(out);
    }
    for s in &table.firewall.scopes {
        if bypasses(who, &s.bypass) {
            continue;
        }
        out.push((
            s.column.clone(),
            scope_value(table, &s.column, &s.auth, who)?,
        ));
    }
    Ok(out)
}

/// The values stamped on insert: every scope, bypassed or not (a row must belong somewhere).
pub fn stamps(table: &Table, who: &Who) -> Result<Scopes, Fail> {
    table
        .firewall
        .scopes
        .iter()
        .map(|s| {
            Ok((
                s.column.clone(),
                scope_value(table, &s.column, &s.auth, who)?,
            ))
        })
        .collect()
}

/// The caller's value for a scope column; on a uuid column the claim must be a UUID (stored in
/// canonical form), else it counts as missing.
fn scope_value(table: &Table, column: &str, auth: &str, who: &Who) -> Result<String, Fail> {
    let v = who.value(auth).ok_or_else(|| Fail::scope_missing(auth))?;
    if table
        .column(column)
        .is_some_and(|c| c.ty == ColumnType::Uuid)
    {
        return super::validation::uuid(v).ok_or_else(|| Fail::scope_missing(auth));
    }
    Ok(v.to_owned())
}

pub fn in_scope(row: &Row, scopes: &Scopes) -> bool {
    scopes
        .iter()
        .all(|(c, v)| row.get(c).and_then(Value::as_str) == Some(v.as_str()))
}

/// Not soft-deleted.
pub fn live(row: &Row) -> bool {
    row.get(system::DELETED_AT).is_none_or(Value::is_null)
}

/// Inside the firewall: in scope and not soft-deleted.
pub fn visible(row: &Row, scopes: &Scopes) -> bool {
    live(row) && in_scope(row, scopes)
}

pub fn soft(table: &Table) -> bool {
    table.delete == DeleteMode::Soft
}

/// The answer for an id the caller cannot see, per the table's error mode.
pub fn not_found(table: &Table) -> Fail {
    match table.firewall.error_mode {
        ErrorMode::Hide => Fail::not_found(),
        ErrorMode::Reveal => Fail::firewall_not_found(),
    }
}
