//! Reads (SPEC §5.3, docs/http-api.md): `GET /api/T` with the list grammar, and `GET /api/T/{id}`.
//! Rows are filtered by scanning: the firewall, the rule's residual condition, the filters and
//! the search; sorted with `id` as the final key; then paged.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};
use ward_ir::{
    ColumnType, CompareOp, Condition, IdKind, Literal, Operation, RESERVED_QUERY_PARAMETERS,
    SortKey, Table, Value as CondValue, View, ViewParam, system,
};

use super::access::{self, like, order};
use super::errors::Fail;
use super::validation::{date, datetime, uuid};
use super::{Cx, Row, State, Who, firewall, masking, parse_id};

pub(crate) struct Filter {
    column: String,
    op: CompareOp,
    values: Vec<Value>,
}

struct Query {
    /// A view's params with a value (given or defaulted), typed.
    params: Vec<(String, Literal)>,
    limit: usize,
    offset: usize,
    sort: Vec<(String, bool)>,
    filters: Vec<Filter>,
    search: Option<String>,
    fields: Option<Vec<String>>,
    total: bool,
    deleted_only: bool,
}

/// `GET /api/T`; `None` when the query uses what the model leaves to the invariants (`cursor`,
/// `expand`).
pub fn list(
    cx: &mut Cx<'_>,
    st: &State,
    table: &Table,
    query: &[(String, String)],
) -> Option<Result<(u16, Value), Fail>> {
    if query.iter().any(|(k, _)| k == "cursor" || k == "expand") {
        return None;
    }
    Some(list_page(cx, st, table, query, None))
}

/// `GET /api/T/views/V` (SPEC §2.9): the view's rule instead of `list`, its allow-lists on the
/// query, its `where` and active params on the rows, its fields; firewall, soft delete and
/// masking as for the table. `None` with a cursor, as for lists.
pub fn view(
    cx: &mut Cx<'_>,
    st: &State,
    table: &Table,
    name: &str,
    query: &[(String, String)],
) -> Option<Result<(u16, Value), Fail>> {
    let Some(view) = table.views.iter().find(|v| v.name == name) else {
        return Some(Err(Fail::not_found()));
    };
    if query.iter().any(|(k, _)| k == "cursor") {
        return None;
    }
    Some(list_page(cx, st, table, query, Some(view)))
}

fn list_page(
    cx: &Cx<'_>,
    st: &State,
    table: &Table,
    query: &[(String, String)],
    view: Option<&View>,
) -> Result<(u16, Value), Fail> {
    // `deleted=only` lists what the caller could restore: the `restore` rule governs it.
    // A hard-delete table has no deleted rows: there `list` decides, then the query is refused.
    let deleted = view.is_none()
        && firewall::soft(table)
        && query.iter().any(|(k, v)| k == "deleted" && v == "only");
    let op = if deleted {
        Operation::Restore
    } else {
        Operation::List
    };
    let residual = match view {
        Some(v) => access::authorize_rule(v.access.as_ref(), &cx.who)?,
        None => access::authorize(table, op, &cx.who)?,
    };
    let scopes = firewall::scopes(table, &cx.who)?;
    let mut q = parse(cx, table, query, view)?;
    let fixed: Vec<Condition> = view.map_or_else(Vec::new, |v| fixed(v, &q.params));
    if let Some(v) = view {
        let mut fields = q.fields.take().unwrap_or_else(|| v.fields.clone());
        if !fields.iter().any(|f| f == system::ID) {
            fields.insert(0, system::ID.to_owned());
        }
        q.fields = Some(fields);
    }
    let rows = st.rows.get(&table.name).map_or(&[][..], Vec::as_slice);
    let mut hits: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            let place = if q.deleted_only {
                !firewall::live(r) && firewall::in_scope(r, &scopes)
            } else {
                firewall::visible(r, &scopes)
            };
            place
                && residual.admits(r, &cx.who, &cx.clock)
                && fixed
                    .iter()
                    .all(|c| access::holds(c, r, &cx.who, &cx.clock))
                && q.filters.iter().all(|f| filter_holds(f, r))
                && q.search
                    .as_ref()
                    .is_none_or(|s| searched(cx, table, view, r, s))
        })
        .collect();
    let total = hits.len();
    hits.sort_by(|a, b| compare_rows(&q.sort, a, b));
    let page: Vec<&Row> = hits.iter().skip(q.offset).take(q.limit).copied().collect();
    let has_more = hits.len() > q.offset + q.limit;
    let data: Vec<Value> = page
        .iter()
        .map(|r| {
            masking::render(
                cx.ir,
                &st.rows,
                table,
                &cx.who,
                &cx.clock,
                r,
                q.fields.as_deref(),
            )
        })
        .collect();
    let mut pagination = Map::new();
    pagination.insert("limit".into(), json!(q.limit));
    pagination.insert("offset".into(), json!(q.offset));
    pagination.insert("count".into(), json!(data.len()));
    pagination.insert("hasMore".into(), json!(has_more));
    if has_more {
        // Opaque; cursors themselves are checked by the invariants.
        pagination.insert("nextCursor".into(), json!(super::ANY));
    }
    if q.total {
        pagination.insert("total".into(), json!(total));
    }
    Ok((200, json!({ "data": data, "pagination": pagination })))
}

/// The bounds on one list request (docs/decisions.md, "List requests are bounded").
const MAX_FILTERS: usize = 100;
const MAX_IN_VALUES: usize = 1000;
const MAX_FILTER_VALUES: usize = 10_000;
const MAX_LIST_ITEMS: usize = 100;

/// `limit` and `offset`: plain digits, no sign, at most `i64::MAX`.
fn count(param: &str, v: &str) -> Result<u64, Fail> {
    let n: u64 = v
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| v.parse().ok())
        .flatten()
        .ok_or_else(|| Fail::bad_query(param))?;
    if n > i64::MAX as u64 {
        return Err(Fail::bad_query(param));
    }
    Ok(n)
}

/// The comma-separated items of a `fields`/`sort`/`expand` list, refused past the cap.
fn items<'v>(param: &str, v: &'v str) -> Result<Vec<&'v str>, Fail> {
    let items: Vec<&str> = v.split(',').map(str::trim).collect();
    if items.len() > MAX_LIST_ITEMS {
        return Err(Fail::bad_query(param));
    }
    Ok(items)
}

/// A view's `where` and the conditions of its params that have a value, params bound.
fn fixed(view: &View, params: &[(String, Literal)]) -> Vec<Condition> {
    let active = view
        .params
        .iter()
        .filter(|p| params.iter().any(|(n, _)| *n == p.name))
        .filter_map(|p| p.filter.as_ref());
    view.filter
        .iter()
        .chain(active)
        .map(|c| bind(c, params))
        .collect()
}

fn bind(c: &Condition, params: &[(String, Literal)]) -> Condition {
    let all = |of: &[Condition]| of.iter().map(|x| bind(x, params)).collect();
    match c {
        Condition::All { of } => Condition::All { of: all(of) },
        Condition::Any { of } => Condition::Any { of: all(of) },
        Condition::Not { of } => Condition::Not {
            of: Box::new(bind(of, params)),
        },
        Condition::Role { .. } => c.clone(),
        Condition::Compare { field, op, values } => Condition::Compare {
            field: field.clone(),
            op: *op,
            values: values
                .iter()
                .map(|v| match v {
                    CondValue::Param(n) => params
                        .iter()
                        .find(|(p, _)| p == n)
                        .map_or_else(|| v.clone(), |(_, l)| CondValue::Literal(l.clone())),
                    other => other.clone(),
                })
                .collect(),
        },
    }
}

/// A param's value from the query string, typed like a filter value.
fn param_value(p: &ViewParam, v: &str) -> Result<Literal, Fail> {
    match query_value(p.ty, v).ok_or_else(|| Fail::bad_query(&p.name))? {
        Value::Bool(b) => Ok(Literal::Boolean(b)),
        Value::Number(n) if n.is_i64() => Ok(Literal::Integer(n.as_i64().unwrap_or_default())),
        Value::Number(n) => Ok(Literal::Float(n.as_f64().unwrap_or_default())),
        Value::String(s) => Ok(Literal::Text(s)),
        _ => Err(Fail::bad_query(&p.name)),
    }
}

fn parse(
    cx: &Cx<'_>,
    table: &Table,
    query: &[(String, String)],
    view: Option<&View>,
) -> Result<Query, Fail> {
    let mut q = Query {
        params: Vec::new(),
        limit: table.page.default as usize,
        offset: 0,
        sort: Vec::new(),
        filters: Vec::new(),
        search: None,
        fields: None,
        total: false,
        deleted_only: false,
    };
    let (mut sort, mut order_param) = (None, None);
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in query {
        // Parameters are reserved by name; filters on the same field may repeat (they AND).
        let scalar = RESERVED_QUERY_PARAMETERS.contains(&k.as_str());
        if scalar && seen.contains(&k.as_str()) {
            return Err(Fail::bad_query(k));
        }
        seen.push(k);
        match k.as_str() {
            "limit" => {
                let max = u64::from(table.page.max.max(1));
                q.limit = usize::try_from(count("limit", v)?.clamp(1, max)).unwrap_or(1);
            }
            "offset" => q.offset = usize::try_from(count("offset", v)?).unwrap_or(usize::MAX),
            "total" => {
                q.total = match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Fail::bad_query("total")),
                }
            }
            "sort" => sort = Some(v.clone()),
            "order" => order_param = Some(v.clone()),
            "search" => q.search = Some(v.clone()),
            "fields" => q.fields = Some(fields(table, view, v)?),
            "deleted" | "expand" if view.is_some() => return Err(Fail::bad_query(k)),
            "deleted" => {
                if v != "only" || !firewall::soft(table) {
                    return Err(Fail::bad_query("deleted"));
                }
                q.deleted_only = true;
            }
            _ => {
                if let Some(p) = view.and_then(|w| w.params.iter().find(|p| p.name == *k)) {
                    if q.params.iter().any(|(n, _)| n == k) {
                        return Err(Fail::bad_query(k));
                    }
                    for f in p.filter.iter().flat_map(Condition::fields) {
                        if !masking::queryable(table, &cx.who, f) {
                            return Err(Fail::not_queryable(k, f));
                        }
                    }
                    q.params.push((k.clone(), param_value(p, v)?));
                    continue;
                }
                if q.filters.len() == MAX_FILTERS {
                    return Err(Fail::bad_query(k));
                }
                q.filters.push(filter(cx, table, view, k, v)?);
                if q.filters.iter().map(|f| f.values.len()).sum::<usize>() > MAX_FILTER_VALUES {
                    return Err(Fail::bad_query(k));
                }
            }
        }
    }
    if let Some(view) = view {
        for p in &view.params {
            if q.params.iter().any(|(n, _)| *n == p.name) {
                continue;
            }
            match &p.default {
                Some(d) => q.params.push((p.name.clone(), d.clone())),
                None if p.required => return Err(Fail::bad_query(&p.name)),
                None => {}
            }
        }
    }
    q.sort = sort_keys(cx, table, view, sort.as_deref(), order_param.as_deref())?;
    if view.is_some_and(|v| v.searchable.is_empty()) && q.search.is_some() {
        return Err(Fail::bad_query("search"));
    }
    Ok(q)
}

fn fields(table: &Table, view: Option<&View>, v: &str) -> Result<Vec<String>, Fail> {
    items("fields", v)?
        .into_iter()
        .map(|f| {
            let shown = view.is_none_or(|w| w.fields.iter().any(|x| x == f));
            table
                .column(f)
                .filter(|_| shown)
                .map(|_| f.to_owned())
                .ok_or_else(|| Fail::bad_query("fields"))
        })
        .collect()
}

/// A declared order (a view's, a `query` step's) for this caller: less the keys they may not
/// query; `id` last, descending when alone.
pub(super) fn declared_sort(table: &Table, who: &Who, sort: &[SortKey]) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = sort
        .iter()
        .filter(|k| masking::queryable(table, who, &k.column))
        .map(|k| (k.column.clone(), k.desc))
        .collect();
    if !out.iter().any(|(c, _)| c == system::ID) {
        let desc = out.last().is_none_or(|(_, d)| *d);
        out.push((system::ID.to_owned(), desc));
    }
    out
}

fn sort_keys(
    cx: &Cx<'_>,
    table: &Table,
    view: Option<&View>,
    raw: Option<&str>,
    order_param: Option<&str>,
) -> Result<Vec<(String, bool)>, Fail> {
    if let (Some(view), None, None) = (view, raw, order_param) {
        return Ok(declared_sort(table, &cx.who, &view.sort));
    }
    let order_desc = match order_param {
        None => None,
        Some("asc") => Some(false),
        Some("desc") => Some(true),
        Some(_) => return Err(Fail::bad_query("order")),
    };
    let keys: Vec<&str> = match raw {
        Some(r) => items("sort", r)?,
        None if order_desc.is_some() => vec![system::CREATED_AT],
        None => vec!["-createdAt"],
    };
    let mut out: Vec<(String, bool)> = Vec::new();
    for k in &keys {
        let (name, signed) = match (k.strip_prefix('-'), k.strip_prefix('+')) {
            (Some(n), _) => (n, Some(true)),
            (None, Some(n)) => (n, Some(false)),
            (None, None) => (*k, None),
        };
        // JSON fields have no order both backends agree on (docs/decisions.md); files none.
        if table
            .column(name)
            .is_none_or(|c| matches!(c.ty, ColumnType::Json | ColumnType::File))
        {
            return Err(Fail::bad_query("sort"));
        }
        if view.is_some_and(|w| !w.sortable.iter().any(|c| c == name)) {
            return Err(Fail::bad_query("sort"));
        }
        if !masking::queryable(table, &cx.who, name) {
            return Err(Fail::not_queryable("sort", name));
        }
        if out.iter().any(|(c, _)| c == name) {
            return Err(Fail::bad_query("sort"));
        }
        // `order` applies to a single unsigned sort field only.
        let desc = match (signed, order_desc) {
            (Some(d), None) => d,
            (None, o) if keys.len() == 1 => o.unwrap_or(false),
            (None, None) => false,
            _ => return Err(Fail::bad_query("order")),
        };
        out.push((name.to_owned(), desc));
    }
    if !out.iter().any(|(c, _)| c == system::ID) {
        let desc = out.last().is_some_and(|(_, d)| *d);
        out.push((system::ID.to_owned(), desc));
    }
    Ok(out)
}

pub(crate) fn filter(
    cx: &Cx<'_>,
    table: &Table,
    view: Option<&View>,
    key: &str,
    v: &str,
) -> Result<Filter, Fail> {
    let (field, op) = match key.split_once('.') {
        Some((f, o)) => (f, operator(o).ok_or_else(|| Fail::bad_query(key))?),
        None => (key, CompareOp::Eq),
    };
    let col = table.column(field).ok_or_else(|| Fail::bad_query(key))?;
    if view.is_some_and(|w| !w.filterable.iter().any(|c| c == field)) {
        return Err(Fail::bad_query(key));
    }
    // Before the value is even looked at: no value oracle through filters on masked columns.
    if !masking::queryable(table, &cx.who, field) {
        return Err(Fail::not_queryable(key, field));
    }
    let ty = if field == system::ID {
        match table.id {
            IdKind::Uuid => ColumnType::Uuid,
            IdKind::Integer => ColumnType::Integer,
            IdKind::Text => ColumnType::Text,
        }
    } else {
        col.ty
    };
    let bad = || Fail::bad_query(key);
    let (op, values) = match op {
        CompareOp::IsNull => match v {
            "null" => (CompareOp::IsNull, Vec::new()),
            "not-null" => (CompareOp::NotNull, Vec::new()),
            _ => return Err(bad()),
        },
        CompareOp::In | CompareOp::NotIn if v.split(',').count() > MAX_IN_VALUES => {
            return Err(bad());
        }
        CompareOp::In | CompareOp::NotIn => (
            op,
            v.split(',')
                .map(|x| query_value(ty, x).ok_or_else(bad))
                .collect::<Result<_, _>>()?,
        ),
        CompareOp::Like if ty.is_textual() => (op, vec![Value::String(v.to_owned())]),
        CompareOp::Like => return Err(bad()),
        _ => (op, vec![query_value(ty, v).ok_or_else(bad)?]),
    };
    Ok(Filter {
        column: field.to_owned(),
        op,
        values,
    })
}

fn operator(s: &str) -> Option<CompareOp> {
    Some(match s {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "gt" => CompareOp::Gt,
        "gte" => CompareOp::Gte,
        "lt" => CompareOp::Lt,
        "lte" => CompareOp::Lte,
        "like" => CompareOp::Like,
        "in" => CompareOp::In,
        "not-in" => CompareOp::NotIn,
        // `is` takes `null` or `not-null`; the value decides.
        "is" => CompareOp::IsNull,
        _ => return None,
    })
}

/// A query-string value as a value of `ty`; json columns take no values (only `is`).
fn query_value(ty: ColumnType, v: &str) -> Option<Value> {
    match ty {
        ColumnType::Text => Some(Value::String(v.to_owned())),
        ColumnType::Integer => v.parse::<i64>().ok().map(Value::from),
        ColumnType::Float => v
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        ColumnType::Boolean => match v {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        ColumnType::Datetime => datetime(v).map(Value::String),
        ColumnType::Date => date(v).map(Value::String),
        ColumnType::Uuid => uuid(v).map(Value::String),
        ColumnType::Json | ColumnType::File => None,
    }
}

/// A filter on a stored row, as SQL evaluates it (a `NULL` cell matches only `is`).
pub(crate) fn filter_holds(f: &Filter, row: &Row) -> bool {
    let cell = row.get(&f.column).unwrap_or(&Value::Null);
    match f.op {
        CompareOp::IsNull => return cell.is_null(),
        CompareOp::NotNull => return !cell.is_null(),
        _ if cell.is_null() => return false,
        _ => {}
    }
    let first = f.values.first().unwrap_or(&Value::Null);
    let ord = order(cell, first);
    let found = f
        .values
        .iter()
        .any(|v| order(cell, v) == Some(Ordering::Equal));
    match f.op {
        CompareOp::Eq => ord == Some(Ordering::Equal),
        CompareOp::Ne => ord.is_some_and(Ordering::is_ne),
        CompareOp::Gt => ord.is_some_and(Ordering::is_gt),
        CompareOp::Gte => ord.is_some_and(Ordering::is_ge),
        CompareOp::Lt => ord.is_some_and(Ordering::is_lt),
        CompareOp::Lte => ord.is_some_and(Ordering::is_le),
        CompareOp::In => found,
        CompareOp::NotIn => !found,
        CompareOp::Like => like(cell, first),
        CompareOp::IsNull | CompareOp::NotNull => false,
    }
}

/// `search=`: any searchable column the caller may query contains the text; with none, nothing
/// matches (an empty OR is false).
fn searched(cx: &Cx<'_>, table: &Table, view: Option<&View>, row: &Row, text: &str) -> bool {
    let pattern = Value::String(text.to_owned());
    table.columns.iter().any(|c| {
        let searchable = match view {
            Some(w) => w.searchable.contains(&c.name),
            None => c.searchable,
        };
        searchable
            && masking::queryable(table, &cx.who, &c.name)
            && row.get(&c.name).is_some_and(|v| like(v, &pattern))
    })
}

/// List order: `NULL` first ascending (last descending). Json fields are never sort keys.
pub(super) fn compare_rows(keys: &[(String, bool)], a: &Row, b: &Row) -> Ordering {
    for (col, desc) in keys {
        let (x, y) = (
            a.get(col).unwrap_or(&Value::Null),
            b.get(col).unwrap_or(&Value::Null),
        );
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => order(x, y).unwrap_or(Ordering::Equal),
        };
        let ord = if *desc { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// `GET /api/T/{id}`; `None` with `expand`.
pub fn read(
    cx: &mut Cx<'_>,
    st: &State,
    table: &Table,
    raw_id: &str,
    query: &[(String, String)],
) -> Option<Result<(u16, Value), Fail>> {
    if query.iter().any(|(k, _)| k == "expand") {
        return None;
    }
    Some(read_one(cx, st, table, raw_id, query))
}

fn read_one(
    cx: &Cx<'_>,
    st: &State,
    table: &Table,
    raw_id: &str,
    query: &[(String, String)],
) -> Result<(u16, Value), Fail> {
    let residual = access::authorize(table, Operation::Read, &cx.who)?;
    let scopes = firewall::scopes(table, &cx.who)?;
    let mut projection = None;
    for (k, v) in query {
        match k.as_str() {
            "fields" if projection.is_none() => projection = Some(fields(table, None, v)?),
            _ => return Err(Fail::bad_query(k)),
        }
    }
    let id = parse_id(table.id, raw_id).ok_or_else(|| firewall::not_found(table))?;
    let rows = st.rows.get(&table.name).map_or(&[][..], Vec::as_slice);
    let row = rows
        .iter()
        .find(|r| {
            r.get(system::ID) == Some(&id)
                && firewall::visible(r, &scopes)
                && residual.admits(r, &cx.who, &cx.clock)
        })
        .ok_or_else(|| firewall::not_found(table))?;
    let data = masking::render(
        cx.ir,
        &st.rows,
        table,
        &cx.who,
        &cx.clock,
        row,
        projection.as_deref(),
    );
    Ok((200, json!({ "data": data })))
}
