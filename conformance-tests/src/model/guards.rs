//! Layer 5, guards (SPEC §2.6): which raw body keys a client may write, checked before any value
//! is looked at, in the SPEC's precedence; then unknown keys.

use ward_ir::{IdKind, Table, system};

use super::errors::Fail;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Create,
    Update,
}

/// Whether `name` is set by the server: system columns and firewall scope columns.
pub fn managed(table: &Table, name: &str) -> bool {
    table.column(name).is_some_and(|c| c.system) || table.is_scope_column(name)
}

/// The client names the id of an `id text` table on create.
pub fn client_id(table: &Table, kind: Write, name: &str) -> bool {
    kind == Write::Create && table.id == IdKind::Text && name == system::ID
}

pub fn check(table: &Table, kind: Write, keys: &[String]) -> Result<(), Fail> {
    let g = &table.guards;
    let known: Vec<&String> = keys.iter().filter(|k| table.column(k).is_some()).collect();
    let pick = |keep: &dyn Fn(&str) -> bool| -> Vec<String> {
        known
            .iter()
            .filter(|k| keep(k))
            .map(|k| (*k).clone())
            .collect()
    };
    let system_managed = pick(&|k| managed(table, k) && !client_id(table, kind, k));
    if !system_managed.is_empty() {
        return Err(Fail::guard("GUARD_SYSTEM_MANAGED", &system_managed));
    }
    if kind == Write::Update {
        let immutable = pick(&|k| g.immutable.iter().any(|c| c == k));
        if !immutable.is_empty() {
            return Err(Fail::guard("GUARD_FIELD_IMMUTABLE", &immutable));
        }
    }
    let protected = pick(&|k| g.protected.iter().any(|p| p.column == k));
    if !protected.is_empty() {
        return Err(Fail::guard("GUARD_FIELD_PROTECTED", &protected));
    }
    let (allowed, code) = match kind {
        Write::Create => (&g.createable, "GUARD_FIELD_NOT_CREATEABLE"),
        Write::Update => (&g.updatable, "GUARD_FIELD_NOT_UPDATABLE"),
    };
    let denied = pick(&|k| !allowed.iter().any(|c| c == k) && !client_id(table, kind, k));
    if !denied.is_empty() {
        return Err(Fail::guard(code, &denied));
    }
    let unknown: Vec<String> = keys
        .iter()
        .filter(|k| table.column(k).is_none())
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(Fail::unknown_fields(&unknown));
    }
    Ok(())
}
