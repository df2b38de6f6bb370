//! What travels with a record besides its own columns: reference labels (`STEM_label`, SPEC §5.2)
//! and `?expand=` embeddings (§5.3). Each is resolved with one batched statement per page and per
//! name, under the target table's own firewall, soft-delete filter, access and masking. Whatever
//! the caller may not see becomes `null` (a label or a reference) or is left out (relation rows),
//! never an error: the shape of a response must not tell a hidden row from a missing one.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};
use ward_ir::{Operation, system};

use crate::error::ApiError;
use crate::gate::Caller;
use crate::security::{self, masking};
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::{dml, predicate, related};
use crate::store::Db;
use crate::store::row::{self, Record};

/// Child rows embedded per parent and relation.
pub const RELATION_LIMIT: u64 = 100;
/// The key that holds a record's expansions.
pub const EXPAND_KEY: &str = "_expand";

/// One name of `?expand=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expand {
    /// A `references=` column: the referenced row, or `null`.
    Reference { column: String, table: String },
    /// `relation NAME has-many=TABLE via=COLUMN`: the first child rows.
    Relation {
        name: String,
        table: String,
        via: String,
    },
}

impl Expand {
    pub fn name(&self) -> &str {
        match self {
            Expand::Reference { column, .. } => column,
            Expand::Relation { name, .. } => name,
        }
    }
}

/// How records leave the server beyond masking: the `fields=` projection and the expansions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    pub fields: Option<Vec<String>>,
    pub expand: Vec<Expand>,
}

/// `expand=a,b`: reference columns and relations of `plan`; anything else names `expand`.
pub fn parse_expand(plan: &TablePlan, raw: &str) -> Result<Vec<Expand>, ApiError> {
    let mut out: Vec<Expand> = Vec::new();
    for name in raw.split(',').map(str::trim) {
        let e = if let Some(r) = plan.column(name).and_then(|c| c.references.as_ref()) {
            Expand::Reference {
                column: name.to_owned(),
                table: r.table.clone(),
            }
        } else if let Some(r) = plan.def.relations.iter().find(|r| r.name == name) {
            Expand::Relation {
                name: name.to_owned(),
                table: r.table.clone(),
                via: r.via.clone(),
            }
        } else {
            return Err(ApiError::bad_query(
                "expand",
                format!("`{name}` is neither a reference column nor a relation"),
            ));
        };
        if out.iter().any(|x| x.name() == name) {
            return Err(ApiError::bad_query(
                "expand",
                format!("`{name}` is expanded twice"),
            ));
        }
        out.push(e);
    }
    Ok(out)
}

/// What a request's embeddings read with.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub conn: &'a dyn Db,
    pub snap: &'a Snapshot,
    pub caller: &'a Caller,
    pub now: &'a str,
}

/// Whether [`render`] may read the database for a page of `plan` in this shape (labels of
/// references, expansions). Conservative: any reference counts, displayable or not.
pub fn reads_database(plan: &TablePlan, shape: &Shape) -> bool {
    !plan.references.is_empty() || !shape.expand.is_empty()
}

/// The outgoing JSON of a page of `plan`'s records (raw, as read): masked, projected, with labels
/// and the requested expansions.
pub fn render(
    ctx: Ctx<'_>,
    plan: &TablePlan,
    records: Vec<Record>,
    shape: &Shape,
) -> Result<Vec<Json>, ApiError> {
    let labels = labels(ctx, plan, &records)?;
    let mut expanded: Vec<Map<String, Json>> = vec![Map::new(); records.len()];
    for e in &shape.expand {
        let values = match e {
            Expand::Reference { column, table } => reference(ctx, plan, column, table, &records)?,
            Expand::Relation { table, via, .. } => relation(ctx, table, via, &records)?,
        };
        for (m, v) in expanded.iter_mut().zip(values) {
            m.insert(e.name().to_owned(), v);
        }
    }
    let fields = shape.fields.as_deref();
    let kept = |c: &str| fields.is_none_or(|f| f.iter().any(|x| x == c));
    Ok(records
        .into_iter()
        .zip(labels)
        .zip(expanded)
        .map(|((mut rec, labels), expanded)| {
            masking::mask_record(plan, ctx.caller, &mut rec);
            if let Some(f) = fields {
                rec.retain(|k, _| f.iter().any(|x| x == k));
            }
            for (column, (key, label)) in labels {
                if kept(&column) {
                    rec.insert(key, label);
                }
            }
            if !shape.expand.is_empty() {
                rec.insert(EXPAND_KEY.into(), Json::Object(expanded));
            }
            Json::Object(rec)
        })
        .collect())
}

/// [`render`] for one record without projection or expansions, as `GET /api/T/{id}` answers
/// it. The caller's `read` rule is not checked here: the record must come from a statement
/// that applied it (`written::render_one` checks it for a row a write returned).
pub fn render_read(ctx: Ctx<'_>, plan: &TablePlan, record: Record) -> Result<Json, ApiError> {
    Ok(render(ctx, plan, vec![record], &Shape::default())?
        .pop()
        .unwrap_or(Json::Null))
}

/// Embedded rows: masked, with their own labels, without projection or nested expansions.
fn embedded(ctx: Ctx<'_>, plan: &TablePlan, rows: Vec<Record>) -> Result<Vec<Json>, ApiError> {
    render(ctx, plan, rows, &Shape::default())
}

fn key(v: &Json) -> String {
    v.to_string()
}

/// Per record: reference column → (label key, label), for every reference whose target has a
/// `display` column.
type Labels = Vec<Vec<(String, (String, Json))>>;

fn labels(ctx: Ctx<'_>, plan: &TablePlan, records: &[Record]) -> Result<Labels, ApiError> {
    let mut out: Labels = vec![Vec::new(); records.len()];
    for l in ctx.snap.ir.labels(&plan.def) {
        let (column, display, label) = (l.column, l.display, &l.key);
        let target = &l.target.name;
        let tplan = ctx
            .snap
            .table(target)
            .ok_or_else(|| ApiError::internal(format!("unknown reference target `{target}`")))?;
        let targets = visible_by_id(ctx, plan, column, tplan, records)?;
        let shown: HashMap<String, Json> = targets
            .into_iter()
            .map(|(k, mut r)| {
                masking::mask_record(tplan, ctx.caller, &mut r);
                (k, r.remove(display).unwrap_or(Json::Null))
            })
            .collect();
        for (rec, slot) in records.iter().zip(out.iter_mut()) {
            let v = target_key(ctx, plan, column, rec)
                .and_then(|k| shown.get(&k).cloned())
                .unwrap_or(Json::Null);
            slot.push((column.to_owned(), (label.clone(), v)));
        }
    }
    Ok(out)
}

/// The key of the row `rec.column` points at, when it is set and the caller sees it raw.
fn target_key(ctx: Ctx<'_>, plan: &TablePlan, column: &str, rec: &Record) -> Option<String> {
    let v = rec.get(column).filter(|v| !v.is_null())?;
    masking::sees_raw(plan, ctx.caller, column, rec).then(|| key(v))
}

/// The rows of `tplan` the page's `column` values point at that the caller may read (firewall,
/// soft delete, `read` access with its conditions), raw, by id key. One statement per page.
fn visible_by_id(
    ctx: Ctx<'_>,
    plan: &TablePlan,
    column: &str,
    tplan: &TablePlan,
    records: &[Record],
) -> Result<HashMap<String, Record>, ApiError> {
    let mut ids: Vec<Json> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for rec in records {
        if let (Some(k), Some(v)) = (target_key(ctx, plan, column, rec), rec.get(column))
            && seen.insert(k)
        {
            ids.push(v.clone());
        }
    }
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    // A caller who may not read the target (role or missing scope claim) sees no labels.
    let Ok(gate) = security::gate(tplan, Operation::Read, ctx.caller) else {
        return Ok(out);
    };
    for chunk in ids.chunks(related::IN_CHUNK) {
        let cond = predicate::visibility(tplan, &gate, ctx.caller, ctx.now, true)
            .add(related::column_in(tplan, system::ID, chunk));
        let stmt = dml::select(tplan, cond, &[], None, 0);
        for r in row::records(ctx.conn, tplan, &stmt)? {
            let k = key(r.get(system::ID).unwrap_or(&Json::Null));
            out.insert(k, r);
        }
    }
    Ok(out)
}

/// `expand=column`: per record, the referenced row (masked, with its labels) or `null`.
fn reference(
    ctx: Ctx<'_>,
    plan: &TablePlan,
    column: &str,
    target: &str,
    records: &[Record],
) -> Result<Vec<Json>, ApiError> {
    let tplan = ctx
        .snap
        .table(target)
        .ok_or_else(|| ApiError::internal(format!("unknown reference target `{target}`")))?;
    let (keys, rows): (Vec<String>, Vec<Record>) =
        visible_by_id(ctx, plan, column, tplan, records)?
            .into_iter()
            .unzip();
    let shown: HashMap<String, Json> = keys.into_iter().zip(embedded(ctx, tplan, rows)?).collect();
    Ok(records
        .iter()
        .map(|rec| {
            target_key(ctx, plan, column, rec)
                .and_then(|k| shown.get(&k).cloned())
                .unwrap_or(Json::Null)
        })
        .collect())
}

/// `expand=relation`: per record, its first [`RELATION_LIMIT`] child rows the caller may `list`,
/// newest first, masked, with their labels. One statement for the whole page.
fn relation(
    ctx: Ctx<'_>,
    table: &str,
    via: &str,
    records: &[Record],
) -> Result<Vec<Json>, ApiError> {
    let child = ctx
        .snap
        .table(table)
        .ok_or_else(|| ApiError::internal(format!("unknown relation table `{table}`")))?;
    let parent_key = |r: &Record| key(r.get(system::ID).unwrap_or(&Json::Null));
    let parents: Vec<Json> = records
        .iter()
        .filter_map(|r| r.get(system::ID).cloned())
        .collect();
    let mut groups: HashMap<String, Vec<Json>> = HashMap::new();
    // Grouping children by `via` filters on it: a caller who may not query a masked `via` would
    // learn from the groups which children belong to which parent. They get only the rows whose
    // `via` they see raw — their own under an `owner=` exemption, else none.
    let owned_only = match child.def.mask(via) {
        Some(mask) if !masking::queryable(child, ctx.caller, via) => {
            match (&mask.owner, &ctx.caller.user_id) {
                (Some(owner), Some(uid)) => {
                    Some(related::column_eq(child, owner, &Json::String(uid.clone())))
                }
                _ => return Ok(vec![Json::Array(Vec::new()); records.len()]),
            }
        }
        _ => None,
    };
    if let (false, Ok(gate)) = (
        parents.is_empty(),
        security::gate(child, Operation::List, ctx.caller),
    ) {
        for chunk in parents.chunks(related::IN_CHUNK) {
            let mut cond = predicate::visibility(child, &gate, ctx.caller, ctx.now, true)
                .add(related::column_in(child, via, chunk));
            if let Some(owned) = &owned_only {
                cond = cond.add(owned.clone());
            }
            let stmt = related::first_children(child, via, cond, RELATION_LIMIT);
            let rows = row::records(ctx.conn, child, &stmt)?;
            let owners: Vec<String> = rows
                .iter()
                .map(|r| key(r.get(via).unwrap_or(&Json::Null)))
                .collect();
            for (owner, row) in owners.into_iter().zip(embedded(ctx, child, rows)?) {
                groups.entry(owner).or_default().push(row);
            }
        }
    }
    Ok(records
        .iter()
        .map(|r| Json::Array(groups.get(&parent_key(r)).cloned().unwrap_or_default()))
        .collect())
}
