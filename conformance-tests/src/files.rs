//! File columns in the suite (SPEC §13): what a client may see of a stored file value, which
//! objects the rows name, and the check that the store holds exactly those.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use ward_ir::Ir;

use crate::model::Row;

/// The fields of a stored file value only the server may see.
const PRIVATE: [&str; 2] = ["key", "seal"];

/// A file value as a client sees it: its metadata, without the store key (or a seal).
pub fn public(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !PRIVATE.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What the server's masking does to every file value it shows: the store key goes.
pub fn without_key(v: &Value) -> Value {
    match v {
        Value::Object(o) if o.contains_key("key") => Value::Object(
            o.iter()
                .filter(|(k, _)| k.as_str() != "key")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn file_columns<'i>(ir: &'i Ir, table: &str) -> Vec<&'i str> {
    ir.table(table)
        .map(|t| t.file_columns().map(|c| c.name.as_str()).collect())
        .unwrap_or_default()
}

/// A stored row with its file columns as a client sees them.
pub fn public_row(ir: &Ir, table: &str, mut row: Value) -> Value {
    if let Value::Object(o) = &mut row {
        for c in file_columns(ir, table) {
            if let Some(v) = o.get_mut(c) {
                *v = public(v);
            }
        }
    }
    row
}

/// Every table's rows, file columns as a client sees them.
pub fn public_dump(ir: &Ir, dump: BTreeMap<String, Vec<Row>>) -> BTreeMap<String, Vec<Row>> {
    dump.into_iter()
        .map(|(table, rows)| {
            let files = file_columns(ir, &table);
            let rows = rows
                .into_iter()
                .map(|mut r: Map<String, Value>| {
                    for c in &files {
                        if let Some(v) = r.get_mut(*c) {
                            *v = public(v);
                        }
                    }
                    r
                })
                .collect();
            (table, rows)
        })
        .collect()
}

/// The store keys every stored row names, soft-deleted rows included.
pub fn named_keys(ir: &Ir, raw: &BTreeMap<String, Vec<Row>>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (table, rows) in raw {
        for c in file_columns(ir, table) {
            out.extend(
                rows.iter()
                    .filter_map(|r| r.get(c)?.get("key")?.as_str().map(str::to_owned)),
            );
        }
    }
    out
}

/// Invariant 12: the store holds exactly the objects the rows name.
pub fn store_matches(stored: &[String], named: &BTreeSet<String>) -> Result<(), String> {
    let stored: BTreeSet<&String> = stored.iter().collect();
    let orphans: Vec<&&String> = stored.iter().filter(|k| !named.contains(**k)).collect();
    let missing: Vec<&String> = named.iter().filter(|k| !stored.contains(k)).collect();
    match (orphans.is_empty(), missing.is_empty()) {
        (true, true) => Ok(()),
        (false, _) => Err(format!(
            "objects no row names are still stored after collection: {orphans:?}"
        )),
        (true, false) => Err(format!(
            "rows name objects the store no longer holds: {missing:?}"
        )),
    }
}

/// Lower-case hex SHA-256 of `bytes`, as the server writes it in a file's metadata.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
