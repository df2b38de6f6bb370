//! The list grammar of SPEC §5.3, parsed and checked against the table and the caller. Anything
//! malformed or unknown is a 400 naming the parameter; nothing is silently ignored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value as Json, json};
use ward_ir::{ColumnType, CompareOp, Literal, RESERVED_QUERY_PARAMETERS, View, system, time};

use super::embed::{self, Expand, Shape};
use crate::error::ApiError;
use crate::gate::Caller;
use crate::mutation::{self, Mutation};
use crate::security::masking::queryable;
use crate::snapshot::TablePlan;
use crate::sql::filter::{Filter, MAX_FILTER_VALUES, MAX_FILTERS, MAX_IN_VALUES, SortKey};

/// Most items in one `fields`, `sort` or `expand` list. Each is bounded by the table's columns or
/// relations anyway; the cap refuses an absurd list before any of it is looked up.
pub const MAX_LIST_ITEMS: usize = 100;

/// The comma-separated items of `param`, at most [`MAX_LIST_ITEMS`].
fn items<'v>(param: &str, v: &'v str) -> Result<Vec<&'v str>, ApiError> {
    if v.split(',').nth(MAX_LIST_ITEMS).is_some() {
        return Err(ApiError::bad_query(
            param,
            format!("`{param}` takes at most {MAX_LIST_ITEMS} items"),
        ));
    }
    Ok(v.split(',').map(str::trim).collect())
}

/// A count parameter: ASCII digits only, at most `i64::MAX` (what SQLite can bind), so an
/// oversized value is the client's 400 rather than a failing statement.
pub(crate) fn non_negative(param: &str, v: &str) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::bad_query(
            param,
            format!(
                "`{param}` must be a non-negative integer of at most {}",
                i64::MAX
            ),
        )
    };
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = v.parse().map_err(|_| bad())?;
    u64::try_from(n).map_err(|_| bad())
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub limit: u64,
    pub offset: u64,
    /// Sort values of the last row of the previous page.
    pub after: Option<Vec<Json>>,
    pub sort: Vec<SortKey>,
    pub filters: Vec<Filter>,
    /// The search text and the columns it runs over.
    pub search: Option<(String, Vec<String>)>,
    pub fields: Option<Vec<String>>,
    pub total: bool,
    /// `expand=`: references and relations to embed.
    pub expand: Vec<Expand>,
    /// `deleted=only`: list the soft-deleted rows (under the `restore` rule) instead.
    pub deleted_only: bool,
    /// A view's params that have a value (given or defaulted), typed.
    pub params: Vec<(String, Literal)>,
}

impl ListQuery {
    /// The projection and expansions of the page's records.
    pub fn shape(&self) -> Shape {
        Shape {
            fields: self.fields.clone(),
            expand: self.expand.clone(),
        }
    }
}

pub(crate) fn pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| ApiError::bad_query("query", "Malformed query string"))
}

/// `GET /api/T/{id}` (and other single-record reads): `fields` and `expand`, each at most once.
pub fn parse_get(plan: &TablePlan, raw: Option<&str>) -> Result<Shape, ApiError> {
    let mut shape = Shape::default();
    let mut expand_seen = false;
    for (k, v) in pairs(raw)? {
        match k.as_str() {
            "fields" if shape.fields.is_none() => {
                shape.fields = Some(parse_fields(plan, None, &v)?);
            }
            "expand" if !expand_seen => {
                expand_seen = true;
                items("expand", &v)?;
                shape.expand = embed::parse_expand(plan, &v)?;
            }
            _ => {
                return Err(ApiError::bad_query(
                    &k,
                    format!("Unexpected parameter `{k}`"),
                ));
            }
        }
    }
    Ok(shape)
}

/// Whether the query asks for `deleted=only`, read before anything else: it decides which access
/// rule (`restore` instead of `list`) the role check runs against. Malformed values are left to
/// [`parse_list`], after the role check.
pub fn wants_deleted(raw: Option<&str>) -> bool {
    pairs(raw).is_ok_and(|p| p.iter().any(|(k, v)| k == "deleted" && v == "only"))
}

fn parse_fields(plan: &TablePlan, view: Option<&View>, v: &str) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for f in items("fields", v)? {
        let shown = view.is_none_or(|view| view.fields.iter().any(|x| x == f));
        if plan.column(f).is_none() || !shown {
            return Err(ApiError::bad_query(
                "fields",
                format!("Unknown field `{f}`"),
            ));
        }
        out.push(f.to_owned());
    }
    Ok(out)
}

/// The signature a cursor is bound to.
pub fn sort_signature(sort: &[SortKey]) -> String {
    sort.iter()
        .map(|k| {
            if k.desc {
                format!("-{}", k.column)
            } else {
                k.column.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn encode_cursor(sort: &[SortKey], values: Vec<Json>) -> String {
    let doc = json!({ "s": sort_signature(sort), "v": values });
    URL_SAFE_NO_PAD.encode(doc.to_string())
}

/// The cursor's sort values, each null or a value of its sort column's type: a cursor is client
/// input, and a value of another type could not be bound to the column on Postgres.
fn decode_cursor(plan: &TablePlan, sort: &[SortKey], raw: &str) -> Result<Vec<Json>, ApiError> {
    let bad = || ApiError::bad_query("cursor", "Malformed cursor");
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|_| bad())?;
    let doc: Json = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if doc.get("s").and_then(Json::as_str) != Some(sort_signature(sort).as_str()) {
        return Err(ApiError::bad_query(
            "cursor",
            "The cursor was made for another sort",
        ));
    }
    let values = match doc.get("v") {
        Some(Json::Array(v)) if v.len() == sort.len() => v.clone(),
        _ => return Err(bad()),
    };
    for (key, v) in sort.iter().zip(&values) {
        let ty = crate::sql::predicate::column_type(plan, &key.column);
        if !v.is_null() && crate::security::validation::typed(ty, v).as_ref() != Some(v) {
            return Err(bad());
        }
    }
    Ok(values)
}

/// The list grammar for `GET /api/T` (`view` = None) or a view's `GET /api/T/views/V`, where the
/// client may filter, sort, search and project only within the view's allow-lists, may not
/// expand or list deleted rows, and passes the view's params.
pub fn parse_list(
    plan: &TablePlan,
    caller: &Caller,
    raw: Option<&str>,
    view: Option<&View>,
) -> Result<ListQuery, ApiError> {
    let page = plan.def.page;
    let mut seen: Vec<String> = Vec::new();
    let (mut limit, mut offset, mut total) = (u64::from(page.default), 0, false);
    let (mut sort_raw, mut order, mut cursor, mut search, mut fields) =
        (None, None, None, None, None);
    let (mut expand, mut deleted_only) = (Vec::new(), false);
    let mut filters: Vec<Filter> = Vec::new();
    let mut params: Vec<(String, Literal)> = Vec::new();
    for (k, v) in pairs(raw)? {
        // Reserved by name alone (the compiler rejects columns named like them): whether the
        // table happens to have such a column must never change what a parameter means.
        let scalar = RESERVED_QUERY_PARAMETERS.contains(&k.as_str());
        if scalar && seen.contains(&k) {
            return Err(ApiError::bad_query(&k, format!("`{k}` is given twice")));
        }
        seen.push(k.clone());
        match k.as_str() {
            "limit" => {
                limit = non_negative("limit", &v)?.clamp(1, u64::from(page.max.max(1)));
            }
            "offset" => offset = non_negative("offset", &v)?,
            "total" => {
                total = match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(ApiError::bad_query(
                            "total",
                            "`total` must be true or false",
                        ));
                    }
                }
            }
            "sort" => sort_raw = Some(v),
            "order" => order = Some(v),
            "cursor" => cursor = Some(v),
            "search" => search = Some(v),
            "fields" => fields = Some(parse_fields(plan, view, &v)?),
            "expand" | "deleted" if view.is_some() => {
                return Err(ApiError::bad_query(
                    &k,
                    format!("`{k}` is not available on a view"),
                ));
            }
            "expand" => {
                items("expand", &v)?;
                expand = embed::parse_expand(plan, &v)?;
            }
            "deleted" => deleted_only = parse_deleted(plan, &v)?,
            _ => {
                if let Some(p) = view.and_then(|view| view.params.iter().find(|p| p.name == k)) {
                    if params.iter().any(|(n, _)| *n == k) {
                        return Err(ApiError::bad_query(&k, format!("`{k}` is given twice")));
                    }
                    // A value the client picks is a filter: no probing of masked columns.
                    let fields = p.filter.iter().flat_map(ward_ir::Condition::fields);
                    if let Some(f) = fields.into_iter().find(|f| !queryable(plan, caller, f)) {
                        return Err(ApiError::not_queryable(&k, f));
                    }
                    params.push((k.clone(), param_value(p, &v)?));
                    continue;
                }
                if filters.len() == MAX_FILTERS {
                    return Err(ApiError::bad_query(
                        &k,
                        format!("At most {MAX_FILTERS} filters per request"),
                    ));
                }
                filters.push(parse_filter(plan, caller, view, &k, &v)?);
                // Every value is bound: keep the statement under SQLite's variable limit.
                if filters.iter().map(|f| f.values.len()).sum::<usize>() > MAX_FILTER_VALUES {
                    return Err(ApiError::bad_query(
                        &k,
                        format!("At most {MAX_FILTER_VALUES} filter values per request"),
                    ));
                }
            }
        }
    }
    if let Some(view) = view {
        for p in &view.params {
            if params.iter().any(|(n, _)| *n == p.name) {
                continue;
            }
            match &p.default {
                Some(d) => params.push((p.name.clone(), d.clone())),
                None if p.required => {
                    return Err(ApiError::bad_query(
                        &p.name,
                        format!("`{}` is required", p.name),
                    ));
                }
                None => {}
            }
        }
    }
    let sort = parse_sort(plan, caller, view, sort_raw.as_deref(), order.as_deref())?;
    if cursor.is_some() && offset > 0 {
        return Err(ApiError::bad_query(
            "cursor",
            "`cursor` and `offset` cannot be combined",
        ));
    }
    let after = cursor.map(|c| decode_cursor(plan, &sort, &c)).transpose()?;
    let searchable = match view {
        Some(view) => &view.searchable,
        None => &plan.searchable,
    };
    if search.is_some() && searchable.is_empty() && view.is_some() {
        return Err(ApiError::bad_query(
            "search",
            "`search` is not available on this view",
        ));
    }
    let search = search.map(|s| {
        let cols = searchable
            .iter()
            .filter(|c| queryable(plan, caller, c))
            .cloned()
            .collect();
        (s, cols)
    });
    Ok(ListQuery {
        limit,
        offset,
        after,
        sort,
        filters,
        search,
        fields,
        total,
        expand,
        deleted_only,
        params,
    })
}

/// A view param's value from the query string, typed; the value is not echoed back.
fn param_value(p: &ward_ir::ViewParam, v: &str) -> Result<Literal, ApiError> {
    let bad = || {
        ApiError::bad_query(
            &p.name,
            format!("`{}` must be {}", p.name, type_phrase(p.ty)),
        )
    };
    Ok(match typed(p.ty, v).ok_or_else(bad)? {
        Json::Bool(b) => Literal::Boolean(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Literal::Integer(i),
            None => Literal::Float(n.as_f64().ok_or_else(bad)?),
        },
        Json::String(s) => Literal::Text(s),
        _ => return Err(bad()),
    })
}

fn type_phrase(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Text => "text",
        ColumnType::Integer => "an integer",
        ColumnType::Float => "a number",
        ColumnType::Boolean => "true or false",
        ColumnType::Datetime => "an RFC 3339 date-time",
        ColumnType::Date => "a date (YYYY-MM-DD)",
        ColumnType::Uuid => "a UUID",
        ColumnType::Json => "JSON",
        ColumnType::File => "a file (filtered with `.is=null` or `.is=not-null` only)",
    }
}

/// `deleted=only` is the one value; a table that deletes hard keeps no deleted rows to list.
fn parse_deleted(plan: &TablePlan, v: &str) -> Result<bool, ApiError> {
    if v != "only" {
        return Err(ApiError::bad_query(
            "deleted",
            "`deleted` takes the value `only`",
        ));
    }
    if !plan.soft {
        return Err(ApiError::bad_query(
            "deleted",
            "This table deletes rows for good; there are no deleted rows to list",
        ));
    }
    Ok(true)
}

fn parse_sort(
    plan: &TablePlan,
    caller: &Caller,
    view: Option<&View>,
    raw: Option<&str>,
    order: Option<&str>,
) -> Result<Vec<SortKey>, ApiError> {
    if let Some(view) = view
        && raw.is_none()
        && order.is_none()
    {
        return Ok(declared_sort(plan, caller, &view.sort));
    }
    let order_desc = match order {
        None => None,
        Some("asc") => Some(false),
        Some("desc") => Some(true),
        Some(_) => return Err(ApiError::bad_query("order", "`order` must be asc or desc")),
    };
    let mut keys = Vec::new();
    let raw_keys: Vec<&str> = match raw {
        Some(r) => items("sort", r)?,
        None if order_desc.is_some() => vec![system::CREATED_AT],
        None => vec!["-createdAt"],
    };
    for k in &raw_keys {
        let (name, signed_desc) = match k.strip_prefix('-') {
            Some(n) => (n, Some(true)),
            None => match k.strip_prefix('+') {
                Some(n) => (n, Some(false)),
                None => (*k, None),
            },
        };
        let Some(column) = plan.column(name) else {
            return Err(ApiError::bad_query(
                "sort",
                format!("Unknown sort field `{name}`"),
            ));
        };
        if let Some(view) = view
            && !view.sortable.iter().any(|c| c == name)
        {
            return Err(ApiError::bad_query(
                "sort",
                format!("`{name}` is not sortable in this view"),
            ));
        }
        // JSON has no order both backends agree on (SQLite would sort the text).
        if matches!(column.ty, ColumnType::Json | ColumnType::File) {
            return Err(ApiError::bad_query(
                "sort",
                format!(
                    "`{name}` is a {} field and cannot be sorted",
                    column.ty.name()
                ),
            ));
        }
        if !queryable(plan, caller, name) {
            return Err(ApiError::not_queryable("sort", name));
        }
        if keys.iter().any(|x: &SortKey| x.column == name) {
            return Err(ApiError::bad_query(
                "sort",
                format!("`{name}` is sorted twice"),
            ));
        }
        let desc = match (signed_desc, order_desc) {
            (Some(d), None) => d,
            (None, o) if raw_keys.len() == 1 => o.unwrap_or(false),
            (None, None) => false,
            _ => {
                return Err(ApiError::bad_query(
                    "order",
                    "`order` applies to a single sort field without a sign",
                ));
            }
        };
        keys.push(SortKey {
            column: name.to_owned(),
            desc,
        });
    }
    if !keys.iter().any(|k| k.column == system::ID) {
        let desc = keys.last().is_some_and(|k| k.desc);
        keys.push(SortKey {
            column: system::ID.to_owned(),
            desc,
        });
    }
    Ok(keys)
}

/// A declared default order (a view's, a `query` step's) for this caller: without the keys the
/// caller may not query (ordering by a masked column would reveal it, and the cursor carries raw
/// sort values), then `id`, descending when nothing else is left (newest first for uuid and
/// integer ids).
pub(crate) fn declared_sort(plan: &TablePlan, caller: &Caller, sort: &[SortKey]) -> Vec<SortKey> {
    let mut keys: Vec<SortKey> = sort
        .iter()
        .filter(|k| queryable(plan, caller, &k.column))
        .cloned()
        .collect();
    if !keys.iter().any(|k| k.column == system::ID) {
        let desc = keys.last().is_none_or(|k| k.desc);
        keys.push(SortKey {
            column: system::ID.to_owned(),
            desc,
        });
    }
    keys
}

fn parse_op(s: &str) -> Option<CompareOp> {
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
        "is" => CompareOp::IsNull,
        _ => return None,
    })
}

pub(crate) fn parse_filter(
    plan: &TablePlan,
    caller: &Caller,
    view: Option<&View>,
    key: &str,
    v: &str,
) -> Result<Filter, ApiError> {
    let (field, op) = match key.split_once('.') {
        Some((f, o)) => (
            f,
            parse_op(o)
                .ok_or_else(|| ApiError::bad_query(key, format!("Unknown operator `{o}`")))?,
        ),
        None => (key, CompareOp::Eq),
    };
    let unknown = || ApiError::bad_query(key, format!("Unknown parameter or field `{field}`"));
    let col = plan.column(field).ok_or_else(unknown)?;
    if let Some(view) = view
        && !view.filterable.iter().any(|c| c == field)
    {
        return Err(unknown());
    }
    if !queryable(plan, caller, field) && !mutation::active(Mutation::MaskingFilterMaskedColumn) {
        return Err(ApiError::not_queryable(key, field));
    }
    let ty = if field == system::ID {
        crate::sql::value::id_type(plan.def.id)
    } else {
        col.ty
    };
    // The value is not echoed: error bodies never repeat what a query probed for.
    let bad = || ApiError::bad_query(key, format!("Not a valid value for `{field}`"));
    let (op, values) = match op {
        CompareOp::IsNull => match v {
            "null" => (CompareOp::IsNull, Vec::new()),
            "not-null" => (CompareOp::NotNull, Vec::new()),
            _ => return Err(ApiError::bad_query(key, "`is` takes null or not-null")),
        },
        CompareOp::In | CompareOp::NotIn => {
            if v.split(',').nth(MAX_IN_VALUES).is_some() {
                return Err(ApiError::bad_query(
                    key,
                    format!("`{key}` takes at most {MAX_IN_VALUES} values"),
                ));
            }
            let vals = v
                .split(',')
                .map(|x| typed(ty, x).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()?;
            (op, vals)
        }
        CompareOp::Like => {
            if !ty.is_textual() {
                return Err(ApiError::bad_query(
                    key,
                    format!("`like` does not apply to `{field}`"),
                ));
            }
            (op, vec![Json::String(v.to_owned())])
        }
        _ => (op, vec![typed(ty, v).ok_or_else(bad)?]),
    };
    Ok(Filter {
        column: field.to_owned(),
        op,
        values,
    })
}

fn typed(ty: ColumnType, v: &str) -> Option<Json> {
    match ty {
        ColumnType::Text => Some(Json::String(v.to_owned())),
        ColumnType::Integer => v.parse::<i64>().ok().map(Json::from),
        ColumnType::Float => v
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number),
        ColumnType::Boolean => match v {
            "true" => Some(Json::Bool(true)),
            "false" => Some(Json::Bool(false)),
            _ => None,
        },
        ColumnType::Datetime => time::normalize_datetime(v).map(Json::String),
        ColumnType::Date => time::parse_date(v).map(|d| Json::String(time::date_text(d))),
        ColumnType::Uuid => uuid::Uuid::parse_str(v)
            .ok()
            .map(|u| Json::String(u.hyphenated().to_string())),
        ColumnType::Json | ColumnType::File => None,
    }
}
