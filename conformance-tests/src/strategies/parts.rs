//! Column and guard helpers of the project generator.

use ward_ir::ColumnType;

use super::Choices;
use super::project::PATTERNS;
use super::spec::{ColumnSpec, GuardsSpec};

pub(super) fn text_props(c: &mut ColumnSpec, d: &mut Choices) {
    match d.weighted(&[4, 2, 2, 1]) {
        1 => {
            c.one_of = ["active", "archived", "draft"]
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect();
            if d.chance(50) {
                c.default = Some("\"active\"".into());
            }
        }
        2 => {
            c.max_length = Some([3u64, 8, 20][d.below(3)]);
            if d.chance(40) {
                c.min_length = Some(1 + d.below(2) as u64);
            }
        }
        3 => c.pattern = Some(PATTERNS[d.below(PATTERNS.len())].to_owned()),
        _ => {}
    }
    if c.default.is_none() && c.pattern.is_none() && c.one_of.is_empty() && d.chance(15) {
        c.default = Some("\"abc\"".into());
    }
    c.searchable = d.chance(40);
    c.unique = d.chance(8);
    c.unique_global = c.unique && d.chance(25);
}

pub(super) fn guards(d: &mut Choices, writable: &[&ColumnSpec], text_id: bool) -> GuardsSpec {
    if d.chance(if text_id { 60 } else { 25 }) {
        return GuardsSpec::Open;
    }
    let (mut cr, mut up, mut im, mut pr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in writable {
        let mut kind = d.weighted(&[5, 2, 2, 1, 1]);
        // A required column without a default must be createable, or no create could succeed.
        if c.required && c.default.is_none() && kind >= 3 {
            kind = 0;
        }
        let n = c.name.clone();
        match kind {
            0 => {
                cr.push(n.clone());
                up.push(n);
            }
            1 => cr.push(n),
            2 => im.push(n),
            3 => pr.push(n),
            _ => up.push(n),
        }
    }
    if cr.is_empty() && up.is_empty() && im.is_empty() && pr.is_empty() {
        return GuardsSpec::Open;
    }
    GuardsSpec::Lists {
        createable: cr,
        updatable: up,
        immutable: im,
        protected: pr,
    }
}

pub(super) fn plain_column(name: &str) -> ColumnSpec {
    ColumnSpec {
        name: name.to_owned(),
        ty: ColumnType::Text,
        required: false,
        default: None,
        unique: false,
        unique_global: false,
        index: false,
        min: None,
        max: None,
        min_length: None,
        max_length: None,
        pattern: None,
        one_of: Vec::new(),
        references: None,
        searchable: false,
        display: false,
    }
}

pub(super) fn singular(table: &str) -> &str {
    table.strip_suffix('s').unwrap_or(table)
}

pub(super) fn unique_name(base: &str, prev: &[ColumnSpec]) -> String {
    let mut name = base.to_owned();
    let mut k = 2;
    while prev.iter().any(|c| c.name == name) {
        name = format!("{base}{k}");
        k += 1;
    }
    name
}
