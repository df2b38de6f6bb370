//! Actions of generated projects (SPEC §2.10): record actions on a table and standalone ones,
//! over the project's own columns, each with steps the conformance model predicts (an insert is
//! always answered with `return inserted`, so the model learns the id the server chose).

use ward_ir::{ColumnType, IdKind};

use super::Choices;
use super::spec::{
    ActionSpec, ColumnSpec, GuardsSpec, RuleSpec, StepSpec, TableSpec, TriggerSpec, quote,
};
use super::values;

/// Columns an action may write: declared, not a firewall scope, not `protected`.
fn writable(t: &TableSpec) -> Vec<&ColumnSpec> {
    let scopes: Vec<&str> = t
        .firewall
        .iter()
        .flat_map(|f| f.scopes.iter().map(|s| s.column.as_str()))
        .collect();
    let protected: &[String] = match &t.guards {
        GuardsSpec::Lists { protected, .. } => protected,
        GuardsSpec::Open => &[],
    };
    t.columns
        .iter()
        .filter(|c| !scopes.contains(&c.name.as_str()) && !protected.contains(&c.name))
        .collect()
}

/// A literal of the column's type as KDL text, if the generator has one for it (values may still
/// fail the column's bounds or pattern: the answer is a validation error, predicted all the same).
fn literal(d: &mut Choices, c: &ColumnSpec) -> Option<String> {
    if !c.one_of.is_empty() {
        return Some(c.one_of[d.below(c.one_of.len())].clone());
    }
    if c.references.is_some() {
        return None;
    }
    Some(match c.ty {
        ColumnType::Text => quote(["a", "bb", "x y"][d.below(3)]),
        ColumnType::Integer => c
            .min
            .clone()
            .or_else(|| c.max.clone())
            .unwrap_or_else(|| d.range(0, 5).to_string()),
        ColumnType::Float => "1.5".to_owned(),
        ColumnType::Boolean => ["#true", "#false"][d.below(2)].to_owned(),
        _ => return None,
    })
}

/// 0–2 record actions of `t`; `others` are the tables generated so far (`t` among them).
pub(super) fn record_actions(
    d: &mut Choices,
    t: &TableSpec,
    others: &[&TableSpec],
    role: &mut dyn FnMut(&mut Choices) -> String,
    custom: bool,
) -> Vec<ActionSpec> {
    (0..d.weighted(&[4, 3, 1]))
        .map(|k| record_action(d, k, t, others, role, custom))
        .collect()
}

fn record_action(
    d: &mut Choices,
    k: usize,
    t: &TableSpec,
    others: &[&TableSpec],
    role: &mut dyn FnMut(&mut Choices) -> String,
    custom: bool,
) -> ActionSpec {
    let cols = writable(t);
    let mut access = RuleSpec {
        roles: vec![role(d)],
        body: Vec::new(),
        checks: Vec::new(),
    };
    if d.chance(25)
        && let Some(c) = values::condition(d, &t.columns, custom)
    {
        access.body.push(c);
    }
    let mut inputs = Vec::new();
    let mut steps = Vec::new();
    if d.chance(30)
        && let Some(c) = values::condition(d, &t.columns, custom)
    {
        steps.push(StepSpec::Require(c, "STATE".to_owned()));
    }
    let states: Vec<&ColumnSpec> = cols
        .iter()
        .copied()
        .filter(|c| c.one_of.len() >= 2)
        .collect();
    if let Some(c) = d.pick(&states).copied()
        && d.chance(60)
    {
        let from: Vec<String> = c.one_of.iter().filter(|_| d.chance(60)).cloned().collect();
        let from = if from.is_empty() {
            vec![c.one_of[0].clone()]
        } else {
            from
        };
        let to = c.one_of[d.below(c.one_of.len())].clone();
        steps.push(StepSpec::Transition(c.name.clone(), from, to));
    }
    let simple: Vec<&ColumnSpec> = cols
        .iter()
        .copied()
        .filter(|c| {
            c.references.is_none()
                && matches!(
                    c.ty,
                    ColumnType::Text | ColumnType::Integer | ColumnType::Boolean
                )
        })
        .collect();
    if let Some(c) = d.pick(&simple).copied()
        && d.chance(60)
    {
        let value = if d.chance(50) {
            inputs.push(("i0".to_owned(), c.ty, d.chance(50)));
            "(input)i0".to_owned()
        } else {
            literal(d, c).unwrap_or_else(|| "null".to_owned())
        };
        steps.push(StepSpec::Update(None, vec![(c.name.clone(), value)], None));
    }
    if d.chance(20) {
        let other = others[d.below(others.len())];
        let when = values::condition(d, &other.columns, custom);
        let mut sets = Vec::new();
        if let Some(c) = writable(other).into_iter().find(|c| c.references.is_none())
            && let Some(v) = literal(d, c)
        {
            sets.push((c.name.clone(), v));
        }
        if d.chance(50) && !sets.is_empty() {
            steps.push(StepSpec::Update(Some(other.name.clone()), sets, when));
        } else {
            steps.push(StepSpec::Delete(Some(other.name.clone()), when));
        }
    }
    match d.weighted(&[4, 2, 3, 1]) {
        0 => steps.push(StepSpec::Return("record".to_owned())),
        1 => {
            let mut fields = vec![("id".to_owned(), "(record)id".to_owned())];
            if let Some(c) = d.pick(&t.columns) {
                fields.push(("v".to_owned(), format!("(record){}", c.name)));
            }
            steps.push(StepSpec::ReturnFields(fields));
        }
        2 => {}
        _ => steps.push(StepSpec::Delete(None, None)),
    }
    ActionSpec {
        name: format!("a{k}"),
        get: false,
        access,
        inputs,
        steps,
    }
}

/// 0–1 standalone action: an insert answered with the row, or a query (sometimes by `GET`).
pub(super) fn standalone(
    d: &mut Choices,
    tables: &[TableSpec],
    role: &mut dyn FnMut(&mut Choices) -> String,
    custom: bool,
) -> Vec<ActionSpec> {
    if tables.is_empty() || !d.chance(60) {
        return Vec::new();
    }
    let access = RuleSpec {
        roles: vec![role(d)],
        body: Vec::new(),
        checks: Vec::new(),
    };
    let insertable: Vec<&TableSpec> = tables.iter().filter(|t| t.id != IdKind::Text).collect();
    let (get, steps) = match d.pick(&insertable).copied() {
        Some(t) if d.chance(50) => {
            let mut sets = Vec::new();
            for c in writable(t) {
                if (c.required || d.chance(40))
                    && let Some(v) = literal(d, c)
                {
                    sets.push((c.name.clone(), v));
                }
            }
            let steps = vec![
                StepSpec::Insert(t.name.clone(), sets),
                StepSpec::Return("inserted".to_owned()),
            ];
            (false, steps)
        }
        _ => {
            let t = &tables[d.below(tables.len())];
            let when = values::condition(d, &t.columns, custom);
            let sort = t
                .columns
                .iter()
                .find(|c| !super::project::unordered(c.ty) && d.chance(50))
                .map(|c| c.name.clone());
            let limit = 1 + d.below(3) as u32;
            let steps = vec![
                StepSpec::Query(t.name.clone(), when, sort, limit),
                StepSpec::Return("q".to_owned()),
            ];
            (d.chance(50), steps)
        }
    };
    vec![ActionSpec {
        name: "s0".to_owned(),
        get,
        access,
        inputs: Vec::new(),
        steps,
    }]
}

/// 0–1 trigger of `t`: a `require` on its row, or a write to another table (an insert, an
/// update or a delete of matching rows), in any phase. Triggers never write their own table
/// here, so the write's answer stays the row it wrote.
pub(super) fn triggers(
    d: &mut Choices,
    t: &TableSpec,
    others: &[&TableSpec],
    custom: bool,
) -> Vec<TriggerSpec> {
    if !d.chance(30) {
        return Vec::new();
    }
    let event = ["create", "update", "delete"][d.below(3)].to_owned();
    let phase = ["before", "during", "after"][d.below(3)].to_owned();
    let mut steps = Vec::new();
    if d.chance(50)
        && let Some(c) = values::condition(d, &t.columns, custom)
    {
        steps.push(StepSpec::Require(c, "TRIGGER".to_owned()));
    }
    let elsewhere: Vec<&TableSpec> = others
        .iter()
        .copied()
        .filter(|o| o.name != t.name)
        .collect();
    if let Some(other) = d.pick(&elsewhere).copied() {
        match d.weighted(&[3, 2, 1]) {
            0 if other.id != IdKind::Text => {
                let mut sets = Vec::new();
                for c in writable(other) {
                    if (c.required || d.chance(40))
                        && let Some(v) = literal(d, c)
                    {
                        sets.push((c.name.clone(), v));
                    }
                }
                steps.push(StepSpec::Insert(other.name.clone(), sets));
            }
            1 => {
                let when = values::condition(d, &other.columns, custom);
                let mut sets = Vec::new();
                if let Some(c) = writable(other).into_iter().find(|c| c.references.is_none())
                    && let Some(v) = literal(d, c)
                {
                    sets.push((c.name.clone(), v));
                }
                if !sets.is_empty() {
                    steps.push(StepSpec::Update(Some(other.name.clone()), sets, when));
                }
            }
            _ => {
                let when = values::condition(d, &other.columns, custom);
                steps.push(StepSpec::Delete(Some(other.name.clone()), when));
            }
        }
    }
    if steps.is_empty() {
        return Vec::new();
    }
    vec![TriggerSpec {
        event,
        phase,
        steps,
    }]
}
