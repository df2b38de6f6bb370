//! The last step: assemble the checked tables and auth into an [`Ir`] and seal it with its hash.
//!
//! Deterministic by construction: every collection is in source or column order, and the hash is
//! the hex SHA-256 of the canonical JSON with `hash` empty.

use sha2::{Digest, Sha256};
use ward_ir::{Action, Auth, IR_VERSION, Ir, Table};

use crate::sema::names::Symbols;

pub fn finish(syms: &Symbols, tables: Vec<Table>, actions: Vec<Action>) -> Ir {
    let mut ir = Ir {
        version: IR_VERSION,
        auth: Auth {
            jwt: syms.jwt.clone(),
            claims: syms.claims.clone(),
        },
        roles: syms.roles.clone(),
        tables,
        actions,
        server: syms.server.clone(),
        hash: String::new(),
    };
    ir.hash = hash(&ir);
    ir
}

/// Hex SHA-256 of the IR's JSON with `hash` set to "".
pub fn hash(ir: &Ir) -> String {
    let mut copy = ir.clone();
    copy.hash = String::new();
    let json = serde_json::to_string(&copy).unwrap_or_default();
    Sha256::digest(json.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
