//! Random scenarios against a compiled project: fixture rows, then a weighted sequence of requests
//! over every endpoint of every table, valid often enough that state builds up and adversarial
//! often enough that every layer of the pipeline is probed.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};
use ward_ir::{Action, ActionMethod, IdKind, Ir, Table};

use super::Choices;
use super::bodies::{self, RAW_BODIES, Record, Write, id_ref, plain_columns, record};
use super::callers::callers;
use super::queries::{get_query, list_query, view_query};
use crate::scenario::{
    BatchPrecondition, Body, CallerSpec, IdRef, Precondition, Route, Scenario, Seed, Step,
    ValueSpec,
};

/// Decisions drawn per step and per seed (unused ones cost nothing).
const STEP_CHOICES: usize = 96;
const SEED_CHOICES: usize = 24;
/// Batch bodies malformed in shape, not in JSON syntax.
const BAD_BATCH_SHAPES: [&str; 5] = [
    "{\"records\": {}}",
    "{\"ids\": [true]}",
    "{\"records\": [1]}",
    "{\"records\": [], \"options\": {\"atomic\": \"yes\"}}",
    "{\"records\": [], \"extra\": 1}",
];

/// Scenarios of up to `max_steps` steps for `ir`, with the callers of [`callers`].
pub fn scenario(ir: &Ir, max_steps: usize) -> impl Strategy<Value = Scenario> + use<> {
    let ir = Arc::new(ir.clone());
    let max_seeds = 3 * ir.tables.len();
    (
        vec(vec(any::<u32>(), SEED_CHOICES), 0..=max_seeds),
        vec(vec(any::<u32>(), STEP_CHOICES), 0..=max_steps),
    )
        .prop_map(move |(seeds, steps)| build(&ir, &seeds, &steps))
}

fn build(ir: &Ir, seeds: &[Vec<u32>], steps: &[Vec<u32>]) -> Scenario {
    let callers = callers(ir);
    let mut out = Scenario {
        callers,
        seeds: Vec::new(),
        steps: Vec::new(),
    };
    if ir.tables.is_empty() {
        return out;
    }
    let mut counts = vec![0usize; ir.tables.len()];
    for (k, raw) in seeds.iter().enumerate() {
        if let Some(s) = seed(ir, &out.callers, &mut counts, k, &mut Choices::new(raw)) {
            out.seeds.push(s);
        }
    }
    for raw in steps {
        let s = step(ir, &out.callers, &mut Choices::new(raw));
        out.steps.push(s);
    }
    out
}

/// A fixture row owned by a user who has every claim the table's scopes stamp; references point
/// only at earlier seeds, so that every seed is insertable.
fn seed(
    ir: &Ir,
    callers: &[CallerSpec],
    counts: &mut [usize],
    k: usize,
    d: &mut Choices,
) -> Option<Seed> {
    let ti = d.below(ir.tables.len());
    let t = &ir.tables[ti];
    let owners: Vec<usize> = callers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c {
            CallerSpec::User(u)
                if t.firewall.scopes.iter().all(|s| {
                    s.auth == ward_ir::CLAIM_USER_ID || u.claims.contains_key(&s.auth)
                }) =>
            {
                Some(i)
            }
            _ => None,
        })
        .collect();
    let owner = *d.pick(&owners)?;
    let mut values = Vec::new();
    if t.id == IdKind::Text {
        values.push(("id".to_owned(), ValueSpec::Json(json!(format!("s{k}")))));
    }
    for c in plain_columns(t) {
        let needed = c.required && c.default.is_none();
        if !needed && !d.chance(70) {
            continue;
        }
        let v = match &c.references {
            Some(r) => {
                let target = ir.tables.iter().position(|x| x.name == r.table)?;
                match counts[target] {
                    0 if needed => return None,
                    0 => continue,
                    n => ValueSpec::Id(IdRef::Created {
                        table: r.table.clone(),
                        n: d.below(n),
                    }),
                }
            }
            // Unique columns get a value of their own per seed so that seeds never collide.
            None if c.unique => match c.ty {
                ward_ir::ColumnType::Text if c.pattern.is_none() && c.one_of.is_empty() => {
                    ValueSpec::Json(json!(format!("u{k}")))
                }
                _ if needed => return None,
                _ => continue,
            },
            // A file arrives by upload, or not at all.
            None if c.ty == ward_ir::ColumnType::File => {
                let fits: Vec<usize> = (0..crate::scenario::FIXTURES.len())
                    .filter(|i| {
                        let (_, _, ty) = crate::scenario::FIXTURES[*i];
                        c.file.as_ref().is_none_or(|f| f.allows(ty))
                    })
                    .collect();
                match d.pick(&fits) {
                    Some(i) if !d.chance(30) => ValueSpec::Upload(*i),
                    _ => continue,
                }
            }
            None => ValueSpec::Json(super::values::valid(d, c)),
        };
        values.push((c.name.clone(), v));
    }
    counts[ti] += 1;
    Some(Seed {
        table: t.name.clone(),
        owner,
        values,
    })
}

fn caller(d: &mut Choices, callers: &[CallerSpec]) -> usize {
    let users: Vec<usize> = (0..callers.len())
        .filter(|i| matches!(callers[*i], CallerSpec::User(_)))
        .collect();
    let others: Vec<usize> = (0..callers.len())
        .filter(|i| !matches!(callers[*i], CallerSpec::User(_)))
        .collect();
    match d.weighted(&[35, 50, 15]) {
        // The first users of each organisation hold the highest role: requests that pass the
        // role check are the ones that reach the deeper layers.
        0 => [0, 4][d.below(2)].min(users.len().saturating_sub(1)),
        2 if !others.is_empty() => others[d.below(others.len())],
        _ => users.get(d.below(users.len())).copied().unwrap_or(0),
    }
}

fn atomic(d: &mut Choices) -> Option<bool> {
    [None, Some(false), Some(true)][d.weighted(&[4, 3, 3])]
}

/// Single-record body: mostly a record, sometimes bytes that are not a JSON object.
fn single_body(d: &mut Choices, t: &Table, op: Write) -> Body {
    if d.chance(6) {
        return Body::Raw(RAW_BODIES[d.below(RAW_BODIES.len())].to_owned());
    }
    Body::Object(record(d, t, op, 35))
}

fn step(ir: &Ir, callers: &[CallerSpec], d: &mut Choices) -> Step {
    let caller = caller(d, callers);
    let kind = d.weighted(&[16, 9, 20, 12, 7, 5, 6, 6, 4, 3, 4, 2, 10, 12]);
    let mut t = &ir.tables[d.below(ir.tables.len())];
    // Upserts mostly go where they are served (`id text` and `guards open`), else nearly all of
    // them would stop at 405.
    let upserts: Vec<&Table> = ir
        .tables
        .iter()
        .filter(|t| t.id == IdKind::Text && t.guards.open)
        .collect();
    if matches!(kind, 6 | 9) && !upserts.is_empty() && !d.chance(25) {
        t = upserts[d.below(upserts.len())];
    }
    let viewed: Vec<&Table> = ir.tables.iter().filter(|t| !t.views.is_empty()).collect();
    if kind == 12 && !viewed.is_empty() {
        t = viewed[d.below(viewed.len())];
    }
    if kind == 13 {
        return action(ir, d, caller);
    }
    let mut s = Step {
        caller,
        method: "GET".to_owned(),
        table: t.name.clone(),
        route: Route::Collection,
        query: Vec::new(),
        body: None,
        precondition: None,
    };
    match kind {
        0 => s.query = list_query(d, t),
        // A row's history, where the table keeps one (SPEC §11).
        1 if t.history.is_some() && d.chance(40) => {
            s.route = Route::History(id_ref(d, t));
            match d.below(6) {
                0 | 1 => {}
                2 => s.query = vec![("limit".into(), ValueSpec::Json(Value::from("x")))],
                3 => s.query = vec![("sort".into(), ValueSpec::Json(Value::from("id")))],
                n => {
                    let limit = Value::from((n - 3).to_string());
                    s.query = vec![("limit".into(), ValueSpec::Json(limit))];
                }
            }
        }
        1 => {
            s.route = Route::Row(id_ref(d, t));
            s.query = get_query(d, t);
        }
        2 => {
            s.method = "POST".into();
            s.body = Some(single_body(d, t, Write::Create));
        }
        3 => {
            s.method = "PATCH".into();
            s.route = Route::Row(id_ref(d, t));
            s.body = Some(single_body(d, t, Write::Update));
            s.precondition = precondition(d, false);
        }
        4 => {
            s.method = "DELETE".into();
            s.route = Route::Row(id_ref(d, t));
            s.precondition = precondition(d, false);
        }
        5 => {
            s.method = "POST".into();
            s.route = Route::Restore(id_ref(d, t));
        }
        6 => {
            upsert(d, t, &mut s);
            s.precondition = precondition(d, true);
        }
        7..=10 => batch(d, t, kind, &mut s),
        12 => {
            // A declared view, or now and then one that does not exist.
            match t.views.get(d.below(t.views.len())) {
                Some(v) if !d.chance(5) => {
                    s.route = Route::View(v.name.clone());
                    s.query = view_query(d, t, v);
                }
                _ => s.route = Route::View("nope".to_owned()),
            }
        }
        _ => {
            // Routes that exist for no method but the ones above.
            let (method, route) = match d.below(3) {
                0 => ("GET", Route::Batch),
                1 => ("GET", Route::Restore(id_ref(d, t))),
                _ => ("DELETE", Route::Restore(id_ref(d, t))),
            };
            s.method = method.into();
            s.route = route;
        }
    }
    s
}

/// Now and then a precondition header (SPEC §5.7); `If-None-Match: *` only on PUT.
fn precondition(d: &mut Choices, put: bool) -> Option<Precondition> {
    if !d.chance(20) {
        return None;
    }
    Some(match d.below(if put { 3 } else { 2 }) {
        0 => Precondition::IfMatchAny,
        1 => Precondition::IfMatchStale,
        _ => Precondition::IfNoneMatchAny,
    })
}

/// An action call: a record action on some row, or a standalone one, with inputs that are
/// mostly valid; now and then an action that does not exist.
fn action(ir: &Ir, d: &mut Choices, caller: usize) -> Step {
    let record: Vec<(&Table, &Action)> = ir
        .tables
        .iter()
        .flat_map(|t| t.actions.iter().map(move |a| (t, a)))
        .collect();
    let mut s = Step {
        caller,
        method: "POST".to_owned(),
        table: "actions".to_owned(),
        route: Route::Standalone("nope".to_owned()),
        query: Vec::new(),
        body: None,
        precondition: None,
    };
    let standalone = !ir.actions.is_empty() && (record.is_empty() || d.chance(40));
    if d.chance(4) || (record.is_empty() && ir.actions.is_empty()) {
        return s;
    }
    let a = if standalone {
        let a = &ir.actions[d.below(ir.actions.len())];
        s.route = Route::Standalone(a.name.clone());
        a
    } else {
        let (t, a) = record[d.below(record.len())];
        s.table = t.name.clone();
        s.route = Route::Action(id_ref(d, t), a.name.clone());
        a
    };
    let inputs = bodies::inputs(d, ir, a);
    if a.method == ActionMethod::Get {
        s.method = "GET".into();
        s.query = inputs;
    } else if !inputs.is_empty() || d.chance(50) {
        s.body = Some(if d.chance(4) {
            Body::Raw(RAW_BODIES[d.below(RAW_BODIES.len())].to_owned())
        } else {
            Body::Object(inputs)
        });
    }
    s
}

fn upsert(d: &mut Choices, t: &Table, s: &mut Step) {
    s.method = "PUT".into();
    let id = if t.id == IdKind::Text && d.chance(60) {
        IdRef::Literal(bodies::TEXT_IDS[d.below(bodies::TEXT_IDS.len())].to_owned())
    } else {
        id_ref(d, t)
    };
    let body = match single_body(d, t, Write::Upsert) {
        Body::Object(mut rec) => {
            // The body may repeat the path id (allowed) or name another one (refused).
            match d.weighted(&[8, 1, 1]) {
                1 => rec.insert(0, ("id".to_owned(), ValueSpec::Id(id.clone()))),
                2 => rec.insert(0, ("id".to_owned(), ValueSpec::Id(IdRef::Fresh))),
                _ => {}
            }
            Body::Object(rec)
        }
        raw => raw,
    };
    s.route = Route::Row(id);
    s.body = Some(body);
}

fn batch(d: &mut Choices, t: &Table, kind: usize, s: &mut Step) {
    s.route = Route::Batch;
    s.method = ["POST", "PATCH", "PUT", "DELETE"][kind - 7].to_owned();
    if d.chance(5) {
        s.body = Some(Body::Raw(
            BAD_BATCH_SHAPES[d.below(BAD_BATCH_SHAPES.len())].to_owned(),
        ));
        return;
    }
    let max = t.batch.max as usize;
    let size = match d.weighted(&[6, 1, 2, 2]) {
        0 => 1 + d.below(max.clamp(1, 3)),
        1 => 0,
        2 => max,
        _ => max + 1,
    };
    // Over-limit batches of large tables are refused before any record is read: keep them cheap.
    let cheap = size > 12;
    let atomic = atomic(d);
    if kind == 10 {
        let ids = (0..size).map(|_| id_ref(d, t)).collect();
        let if_match = batch_if_match(d, size, false);
        s.body = Some(Body::Ids {
            ids,
            atomic,
            if_match,
        });
        return;
    }
    let op = [Write::Create, Write::Update, Write::Upsert][kind - 7];
    let mut records: Vec<Record> = Vec::with_capacity(size);
    for _ in 0..size {
        let mut rec = if cheap {
            Record::new()
        } else {
            record(d, t, op, 20)
        };
        if op != Write::Create && !d.chance(8) {
            let id = if op == Write::Upsert && t.id == IdKind::Text && d.chance(60) {
                ValueSpec::Json(json!(bodies::TEXT_IDS[d.below(bodies::TEXT_IDS.len())]))
            } else {
                ValueSpec::Id(id_ref(d, t))
            };
            rec.retain(|(k, _)| k != "id");
            rec.insert(0, ("id".to_owned(), id));
        } else if op != Write::Create && d.chance(50) {
            // A missing id, spelled as `null` rather than absent.
            rec.insert(
                0,
                ("id".to_owned(), ValueSpec::Json(serde_json::Value::Null)),
            );
        }
        records.push(rec);
    }
    let if_match = batch_if_match(d, size, op == Write::Create);
    s.body = Some(Body::Records {
        records,
        atomic,
        if_match,
    });
}

/// A batch's `options.ifMatch`, in about one batch in six: a record's id with `*` or a stale
/// tag, now and then an id the batch does not carry; on a create batch, where no entry is
/// allowed (400), one in fifty.
fn batch_if_match(d: &mut Choices, size: usize, create: bool) -> Vec<BatchPrecondition> {
    if size == 0 || !d.chance(if create { 2 } else { 16 }) {
        return Vec::new();
    }
    (0..1 + d.below(2))
        .map(|_| BatchPrecondition {
            record: (!create && !d.chance(10)).then(|| d.below(size)),
            tag: if d.chance(50) {
                Precondition::IfMatchAny
            } else {
                Precondition::IfMatchStale
            },
        })
        .collect()
}
