//! What changed between two IRs, a short phrase per change, for the one line `ward dev` prints
//! per reload. The database side of a change is the migration plan's; this names the policy side
//! too (access, firewall, guards, masks, …), which the database never sees.

use std::collections::BTreeSet;

use ward_ir::{Ir, Table};

/// Phrases in table order: `+table t`, `-table t`, `t: +column c, -column d, access, masks`.
pub fn describe(old: &Ir, new: &Ir) -> Vec<String> {
    let mut out = Vec::new();
    if old.auth != new.auth {
        out.push("auth".to_owned());
    }
    if old.roles != new.roles {
        out.push("roles".to_owned());
    }
    let names =
        |ir: &Ir| -> BTreeSet<String> { ir.tables.iter().map(|t| t.name.clone()).collect() };
    let (before, after) = (names(old), names(new));
    for t in &new.tables {
        match old.tables.iter().find(|o| o.name == t.name) {
            None => out.push(format!("+table {}", t.name)),
            Some(o) => {
                let parts = table_changes(o, t);
                if !parts.is_empty() {
                    out.push(format!("{}: {}", t.name, parts.join(", ")));
                }
            }
        }
    }
    for gone in before.difference(&after) {
        out.push(format!("-table {gone}"));
    }
    out
}

fn table_changes(old: &Table, new: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for c in &new.columns {
        match old.columns.iter().find(|o| o.name == c.name) {
            None => match c.was.as_deref().filter(|w| old.column(w).is_some()) {
                Some(was) => out.push(format!("{was} → {}", c.name)),
                None => out.push(format!("+column {}", c.name)),
            },
            Some(o) if o != c => out.push(format!("~column {}", c.name)),
            Some(_) => {}
        }
    }
    for o in &old.columns {
        let kept = new
            .columns
            .iter()
            .any(|c| c.name == o.name || c.was.as_deref() == Some(o.name.as_str()));
        if !kept {
            out.push(format!("-column {}", o.name));
        }
    }
    let parts: [(&str, bool); 11] = [
        ("firewall", old.firewall != new.firewall),
        ("access", old.access != new.access),
        ("guards", old.guards != new.guards),
        ("masks", old.masks != new.masks),
        ("delete", old.delete != new.delete),
        ("batch", old.batch != new.batch),
        ("page", old.page != new.page),
        ("relations", old.relations != new.relations),
        ("indexes", old.indexes != new.indexes),
        ("history", old.history != new.history),
        ("realtime", old.realtime != new.realtime),
    ];
    out.extend(
        parts
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(p, _)| (*p).to_owned()),
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::describe;
    use crate::test_support::snapshot;

    #[test]
    fn names_added_columns_policy_parts_and_tables() {
        let old = snapshot().ir.clone();
        let mut new = old.clone();
        assert!(describe(&old, &new).is_empty());
        let mut extra = new.tables[0].columns[1].clone();
        extra.name = "extra".into();
        new.tables[0].columns.push(extra);
        new.tables[0].page.default += 1;
        new.tables[0].history = Some(ward_ir::History {
            keep_days: Some(30),
            exclude: Vec::new(),
        });
        let mut other = new.tables[0].clone();
        other.name = "others".into();
        new.tables.push(other);
        assert_eq!(
            describe(&old, &new),
            vec![
                "rooms: +column extra, page, history".to_owned(),
                "+table others".to_owned()
            ]
        );
    }
}
