//! The last step: assemble the checked tables and auth into an [`Ir`] and seal it with its hash.
//!
//! Deterministic by construction: every collection is in source or column order, and the hash is
//! the hex SHA-256 of the canonical JSON with `hash` empty and without `sources` (where things were
//! written is not what is served).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use ward_ir::{Action, Auth, IR_VERSION, Ir, SourceLocation, Table};

use crate::Sources;
use crate::sema::names::Symbols;
use crate::sema::sources::Spans;

pub fn finish(
    syms: &Symbols,
    tables: Vec<Table>,
    actions: Vec<Action>,
    sources: BTreeMap<String, SourceLocation>,
) -> Ir {
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
        sources,
        hash: String::new(),
    };
    ir.hash = hash(&ir);
    ir
}

/// Each span as the file's path and 1-based line: each file's line starts found once, each
/// span's line by binary search (a save in `ward dev` compiles every declaration again).
pub fn locate(spans: &Spans, sources: &Sources) -> BTreeMap<String, SourceLocation> {
    let line_starts: Vec<Vec<usize>> = sources
        .files
        .iter()
        .map(|f| {
            let newlines = f.text.bytes().enumerate().filter(|(_, b)| *b == b'\n');
            std::iter::once(0)
                .chain(newlines.map(|(i, _)| i + 1))
                .collect()
        })
        .collect();
    spans
        .0
        .iter()
        .filter_map(|(key, span)| {
            let file = sources.files.get(span.file)?;
            let starts = line_starts.get(span.file)?;
            let line = starts.partition_point(|&start| start <= span.start);
            let location = SourceLocation {
                file: file.name.clone(),
                line: u32::try_from(line).ok()?,
            };
            Some((key.clone(), location))
        })
        .collect()
}

/// Hex SHA-256 of the IR's JSON with `hash` set to "" and no `sources`.
pub fn hash(ir: &Ir) -> String {
    let mut copy = ir.clone();
    copy.hash = String::new();
    copy.sources.clear();
    let json = serde_json::to_string(&copy).unwrap_or_default();
    Sha256::digest(json.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
