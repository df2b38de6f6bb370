//! Request bodies: records for create, update and upsert, valid by default and, often enough,
//! adversarial (system, scope and guarded fields, unknown keys, invalid values).

use serde_json::{Value, json};
use ward_ir::{Action, Column, ColumnType, IdKind, Ir, Table};

use super::Choices;
use super::values;
use crate::scenario::{IdRef, ValueSpec};

pub(super) type Record = Vec<(String, ValueSpec)>;

/// Which single-record operation a record is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Write {
    Create,
    Update,
    Upsert,
}

/// Client-chosen ids of `id text` tables: a small pool, so that upserts and creates collide.
pub(super) const TEXT_IDS: [&str; 6] = ["k0", "k1", "k2", "s0", "s1", "batch"];
/// Path ids that no table's id type accepts, or that only look like ids.
const MALFORMED_IDS: [&str; 7] = [
    "not-an-id",
    "12abc",
    "-1",
    "00000000-0000-0000-0000-00000000000g",
    "' OR 1=1 --",
    "a/b",
    "%41",
];
/// Invalid JSON, and JSON that is not an object.
pub(super) const RAW_BODIES: [&str; 8] =
    ["{", "[]", "null", "42", "\"text\"", "{\"a\":}", "", "[{}]"];

/// An id in a request: mostly rows created so far (anyone's, deleted or not), else fresh,
/// malformed or literal ids of the table's type.
pub(super) fn id_ref(d: &mut Choices, t: &Table) -> IdRef {
    match d.weighted(&[70, 10, 10, 10]) {
        0 => IdRef::Created {
            table: t.name.clone(),
            n: d.below(16),
        },
        1 => IdRef::Fresh,
        2 => IdRef::Literal(MALFORMED_IDS[d.below(MALFORMED_IDS.len())].to_owned()),
        _ => IdRef::Literal(match t.id {
            IdKind::Uuid => values::uuid(d),
            IdKind::Integer => ["1", "2", "999999"][d.below(3)].to_owned(),
            IdKind::Text => TEXT_IDS[d.below(TEXT_IDS.len())].to_owned(),
        }),
    }
}

/// The declared, non-scope columns of `t`.
pub(super) fn plain_columns(t: &Table) -> impl Iterator<Item = &Column> {
    t.columns
        .iter()
        .filter(|c| !c.system && !t.is_scope_column(&c.name))
}

/// A value for `c`: references point at rows created in the target table (possibly invisible to
/// the caller) or, sometimes, at ids that never existed.
pub(super) fn column_value(d: &mut Choices, c: &Column) -> ValueSpec {
    match &c.references {
        Some(r) if d.chance(90) => ValueSpec::Id(IdRef::Created {
            table: r.table.clone(),
            n: d.below(16),
        }),
        Some(_) => ValueSpec::Id(IdRef::Fresh),
        None => ValueSpec::Json(values::valid(d, c)),
    }
}

/// An action's inputs: each required one mostly given, each optional one half the time, values
/// mostly valid; uuid inputs name rows created in some table (or, sometimes, none); now and then
/// an unknown key.
pub(super) fn inputs(d: &mut Choices, ir: &Ir, a: &Action) -> Record {
    let tables: Vec<&Table> = ir.tables.iter().filter(|t| t.id == IdKind::Uuid).collect();
    let mut rec = Record::new();
    for i in &a.inputs {
        let include = if i.required && i.default.is_none() {
            !d.chance(8)
        } else {
            d.chance(50)
        };
        if !include {
            continue;
        }
        let v = match d.pick(&tables) {
            Some(t) if i.ty == ColumnType::Uuid && d.chance(85) => ValueSpec::Id(IdRef::Created {
                table: t.name.clone(),
                n: d.below(16),
            }),
            _ if d.chance(10) => ValueSpec::Json(values::invalid(d, i).0),
            _ => ValueSpec::Json(values::valid(d, i)),
        };
        rec.push((i.name.clone(), v));
    }
    if d.chance(5) {
        rec.push(("bogus".to_owned(), ValueSpec::Json(json!(1))));
    }
    rec
}

/// A record for `op`, adversarial with probability `adversarial`%.
pub(super) fn record(d: &mut Choices, t: &Table, op: Write, adversarial: u32) -> Record {
    let allowed = |c: &Column| match op {
        Write::Create => t.guards.createable.contains(&c.name),
        Write::Update => t.guards.updatable.contains(&c.name),
        Write::Upsert => {
            t.guards.createable.contains(&c.name) || t.guards.updatable.contains(&c.name)
        }
    };
    let mut rec = Record::new();
    if t.id == IdKind::Text && op == Write::Create && !d.chance(8) {
        let id = if d.chance(40) {
            ValueSpec::Id(IdRef::Fresh)
        } else {
            ValueSpec::Json(json!(TEXT_IDS[d.below(TEXT_IDS.len())]))
        };
        rec.push(("id".to_owned(), id));
    }
    for c in plain_columns(t) {
        if !allowed(c) {
            continue;
        }
        let needed = op != Write::Update && c.required && c.default.is_none();
        let include = if needed { !d.chance(5) } else { d.chance(50) };
        if include {
            rec.push((c.name.clone(), column_value(d, c)));
        }
    }
    if d.chance(adversarial) {
        mutate(d, t, op, &mut rec);
    }
    rec
}

/// One adversarial change to a record.
fn mutate(d: &mut Choices, t: &Table, op: Write, rec: &mut Record) {
    let forbidden: Vec<&Column> = plain_columns(t)
        .filter(|c| match op {
            Write::Create => !t.guards.createable.contains(&c.name),
            Write::Update => !t.guards.updatable.contains(&c.name),
            Write::Upsert => false,
        })
        .collect();
    let scopes: Vec<&str> = t
        .firewall
        .scopes
        .iter()
        .map(|s| s.column.as_str())
        .collect();
    let plain: Vec<&Column> = plain_columns(t).collect();
    match d.weighted(&[3, 2, 5, 2, 5]) {
        0 => {
            // A system field: the server manages it.
            let sys: Vec<&Column> = t.columns.iter().filter(|c| c.system).collect();
            if let Some(c) = d.pick(&sys) {
                let v = match c.name.as_str() {
                    "id" => ValueSpec::Id(IdRef::Fresh),
                    "createdBy" | "modifiedBy" | "deletedBy" => ValueSpec::Json(json!("mallory")),
                    _ => ValueSpec::Json(json!(values::DATETIMES[0])),
                };
                set(rec, &c.name, v);
            }
        }
        1 if !scopes.is_empty() => {
            let col = scopes[d.below(scopes.len())];
            set(rec, col, ValueSpec::Json(json!("org-b")));
        }
        2 if !forbidden.is_empty() => {
            let c = forbidden[d.below(forbidden.len())];
            let v = column_value(d, c);
            set(rec, &c.name, v);
        }
        3 => {
            let key = ["bogus", "Title", "_expand", "id2", ""][d.below(5)];
            set(rec, key, ValueSpec::Json(json!("x")));
        }
        _ if !plain.is_empty() => {
            let c = plain[d.below(plain.len())];
            let (v, _) = values::invalid(d, c);
            set(rec, &c.name, ValueSpec::Json(v));
        }
        _ => set(rec, "bogus", ValueSpec::Json(Value::Null)),
    }
}

fn set(rec: &mut Record, key: &str, v: ValueSpec) {
    match rec.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = v,
        None => rec.push((key.to_owned(), v)),
    }
}
