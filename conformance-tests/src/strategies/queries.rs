//! Query strings: list filters of every operator, sorting, paging, search, projection, totals,
//! `deleted=only`, expansions, and parameters the server must reject.

use serde_json::json;
use ward_ir::{Column, ColumnType, Table, View};

use super::Choices;
use super::bodies::id_ref;
use super::values;
use crate::scenario::{IdRef, ValueSpec};

type Query = Vec<(String, ValueSpec)>;

/// `like` values: the wildcard and escape characters must be matched literally.
const LIKE_VALUES: [&str; 8] = ["%", "_", "\\", "a%b", "50%", "x_y", "a\\b", "a"];
const SEARCHES: [&str; 6] = ["a", "%", "_", "\\", "50% off", ""];
const LIMITS: [&str; 9] = [
    "2",
    "0",
    "1",
    "5",
    "100",
    "1000",
    "99999999999999999999",
    "-1",
    "abc",
];
const OFFSETS: [&str; 5] = ["1", "0", "3", "1000000", "-5"];
const UNKNOWN_PARAMS: [(&str, &str); 4] = [
    ("bogus", "1"),
    ("title.regex", "x"),
    ("page", "2"),
    ("id.between", "1,2"),
];

fn text(v: &str) -> ValueSpec {
    ValueSpec::Json(json!(v))
}

/// A filter value for `c` with `op`, usually well-formed.
fn filter_value(d: &mut Choices, t: &Table, c: &Column, op: &str) -> ValueSpec {
    if op == "is" {
        return text(["null", "not-null", "nothing"][d.below(3)]);
    }
    if op == "like" {
        return text(LIKE_VALUES[d.below(LIKE_VALUES.len())]);
    }
    if d.chance(8) {
        return text(["abc", "", "1,", "%"][d.below(4)]);
    }
    let one = |d: &mut Choices| -> ValueSpec {
        if c.name == "id" {
            return ValueSpec::Id(id_ref(d, t));
        }
        if let Some(r) = &c.references {
            return ValueSpec::Id(IdRef::Created {
                table: r.table.clone(),
                n: d.below(16),
            });
        }
        text(&values::query_text(&values::valid(d, c)))
    };
    if op == "in" || op == "not-in" {
        // Ids cannot be joined symbolically; lists use literal values.
        let n = 1 + d.below(3);
        let parts: Vec<String> = (0..n)
            .map(|_| values::query_text(&values::valid(d, c)))
            .collect();
        return text(&parts.join(","));
    }
    one(d)
}

/// Columns worth filtering: masked ones are preferred (they must be refused to non-`show` roles).
fn pick_column<'t>(d: &mut Choices, t: &'t Table) -> &'t Column {
    let masked: Vec<&Column> = t.masks.iter().filter_map(|m| t.column(&m.column)).collect();
    if !masked.is_empty() && d.chance(30) {
        return masked[d.below(masked.len())];
    }
    &t.columns[d.below(t.columns.len())]
}

pub(super) fn list_query(d: &mut Choices, t: &Table) -> Query {
    let mut q = Query::new();
    if t.columns.is_empty() {
        return q;
    }
    for _ in 0..d.weighted(&[4, 4, 2]) {
        let c = pick_column(d, t);
        let ops: &[&str] = match c.ty {
            ColumnType::Json | ColumnType::File => &["is", "eq"],
            ColumnType::Text => &[
                "", "eq", "ne", "like", "in", "not-in", "is", "gt", "lt", "gte", "lte",
            ],
            _ => &[
                "", "eq", "ne", "gt", "gte", "lt", "lte", "in", "not-in", "is", "like",
            ],
        };
        let op = ops[d.below(ops.len())];
        let key = if op.is_empty() {
            c.name.clone()
        } else {
            format!("{}.{op}", c.name)
        };
        let v = filter_value(d, t, c, op);
        q.push((key, v));
    }
    if d.chance(35) {
        let n = 1 + d.below(2);
        let mut keys = Vec::new();
        for _ in 0..n {
            let c = pick_column(d, t);
            let sign = ["", "-", "+"][d.below(3)];
            keys.push(format!("{sign}{}", c.name));
        }
        if d.chance(5) {
            keys.push("nope".to_owned());
        }
        q.push(("sort".to_owned(), text(&keys.join(","))));
    }
    if d.chance(12) {
        q.push(("order".to_owned(), text(["asc", "desc", "up"][d.below(3)])));
    }
    if d.chance(30) {
        q.push(("limit".to_owned(), text(LIMITS[d.below(LIMITS.len())])));
    }
    if d.chance(20) {
        q.push(("offset".to_owned(), text(OFFSETS[d.below(OFFSETS.len())])));
    }
    if d.chance(15) {
        q.push(("search".to_owned(), text(SEARCHES[d.below(SEARCHES.len())])));
    }
    if d.chance(15) {
        q.push(("fields".to_owned(), text(&fields(d, t))));
    }
    if d.chance(15) {
        q.push((
            "total".to_owned(),
            text(["true", "false", "yes"][d.below(3)]),
        ));
    }
    if d.chance(12) {
        q.push(("deleted".to_owned(), text(["only", "all"][d.below(2)])));
    }
    if d.chance(10) {
        q.push(("expand".to_owned(), text(&expand(d, t))));
    }
    if d.chance(4) {
        q.push(("cursor".to_owned(), text("not-a-cursor")));
    }
    if d.chance(6) {
        let (k, v) = UNKNOWN_PARAMS[d.below(UNKNOWN_PARAMS.len())];
        q.push((k.to_owned(), text(v)));
    }
    q
}

/// The query of a GET by id: projection, expansion, and sometimes a parameter it does not take.
pub(super) fn get_query(d: &mut Choices, t: &Table) -> Query {
    let mut q = Query::new();
    if d.chance(15) {
        q.push(("fields".to_owned(), text(&fields(d, t))));
    }
    if d.chance(10) {
        q.push(("expand".to_owned(), text(&expand(d, t))));
    }
    if d.chance(5) {
        let (k, v) = UNKNOWN_PARAMS[d.below(UNKNOWN_PARAMS.len())];
        q.push((k.to_owned(), text(v)));
    }
    q
}

fn fields(d: &mut Choices, t: &Table) -> String {
    let mut names: Vec<&str> = Vec::new();
    for _ in 0..1 + d.below(3) {
        let c = &t.columns[d.below(t.columns.len())];
        if !names.contains(&c.name.as_str()) {
            names.push(&c.name);
        }
    }
    if d.chance(10) {
        names.push("nope");
    }
    names.join(",")
}

fn expand(d: &mut Choices, t: &Table) -> String {
    let mut names: Vec<&str> = t
        .columns
        .iter()
        .filter(|c| c.references.is_some())
        .map(|c| c.name.as_str())
        .chain(t.relations.iter().map(|r| r.name.as_str()))
        .collect();
    if names.is_empty() || d.chance(15) {
        names.push(["nope", "createdAt", ""][d.below(3)]);
    }
    let i = d.below(names.len());
    names[i].to_owned()
}

/// The query of a view: its params (typed right, mostly), filters and sorts on its allow-lists
/// (and now and then off them, which the server must refuse), paging, search and projection.
pub(crate) fn view_query(d: &mut Choices, t: &Table, v: &View) -> Query {
    let mut q = Query::new();
    for p in &v.params {
        if !d.chance(60) {
            continue;
        }
        let column = p
            .filter
            .as_ref()
            .and_then(|f| f.fields().first().and_then(|c| t.column(c)));
        let value = match column {
            Some(c) if !d.chance(10) => values::query_text(&values::valid(d, c)),
            _ => ["abc", "", "1.5", "not-a-date"][d.below(4)].to_owned(),
        };
        q.push((p.name.clone(), text(&value)));
    }
    for _ in 0..d.weighted(&[5, 3, 1]) {
        // Mostly on the allow-list; a column off it now and then (refused).
        let listed = v.filterable.get(d.below(v.filterable.len().max(1)));
        let c = match listed.and_then(|name| t.column(name)) {
            Some(c) if !d.chance(15) => c,
            _ => pick_column(d, t),
        };
        let ops: &[&str] = match c.ty {
            ColumnType::Json | ColumnType::File => &["is"],
            ColumnType::Text => &["", "eq", "ne", "like", "in", "is"],
            _ => &["", "eq", "gt", "lte", "in", "is"],
        };
        let op = ops[d.below(ops.len())];
        let key = if op.is_empty() {
            c.name.clone()
        } else {
            format!("{}.{op}", c.name)
        };
        let value = filter_value(d, t, c, op);
        q.push((key, value));
    }
    if d.chance(30) {
        let name = match v.sortable.get(d.below(v.sortable.len().max(1))) {
            Some(n) if !d.chance(15) => n.clone(),
            _ => pick_column(d, t).name.clone(),
        };
        let sign = ["", "-"][d.below(2)];
        q.push(("sort".to_owned(), text(&format!("{sign}{name}"))));
    }
    if d.chance(25) {
        q.push(("limit".to_owned(), text(LIMITS[d.below(4)])));
    }
    if d.chance(15) {
        q.push(("offset".to_owned(), text(OFFSETS[d.below(3)])));
    }
    if d.chance(15) {
        q.push(("search".to_owned(), text(SEARCHES[d.below(SEARCHES.len())])));
    }
    if d.chance(15) {
        let shown: Vec<&str> = v
            .fields
            .iter()
            .filter(|_| d.chance(50))
            .map(String::as_str)
            .collect();
        let list = if shown.is_empty() || d.chance(10) {
            fields(d, t)
        } else {
            shown.join(",")
        };
        q.push(("fields".to_owned(), text(&list)));
    }
    if d.chance(10) {
        q.push(("total".to_owned(), text("true")));
    }
    if d.chance(5) {
        let k = ["expand", "deleted"][d.below(2)];
        q.push((k.to_owned(), text("only")));
    }
    q
}
