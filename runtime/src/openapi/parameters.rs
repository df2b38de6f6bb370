//! Query and path parameters, typed as the server parses them (SPEC §5.3): every filter a
//! column accepts is its own parameter, `FIELD` and `FIELD.OP`, typed by the column.

use serde_json::{Map, Value as Json, json};
use ward_ir::{Column, ColumnType, DeleteMode, Table, View};

use super::schemas::{id_schema, type_schema};

fn query(name: &str, schema: Json, description: &str) -> Json {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

pub fn id_parameter(t: &Table) -> Json {
    json!({"name": "id", "in": "path", "required": true, "schema": id_schema(t.id)})
}

/// `limit` and `cursor` of a row's history.
pub fn history_paging() -> Json {
    json!([
        query(
            "limit",
            json!({"type": "integer", "minimum": 0}),
            "versions per page, clamped to the table's page bounds",
        ),
        query(
            "cursor",
            json!({"type": "string"}),
            "`pagination.nextCursor` of the previous page",
        ),
    ])
}

/// Where a realtime stream resumes: `after`, and the header `EventSource` sends by itself.
pub fn resume() -> Vec<Json> {
    vec![
        query(
            "after",
            json!({"type": "string"}),
            "resume after this event id (the `Last-Event-ID` header wins)",
        ),
        json!({
            "name": "Last-Event-ID",
            "in": "header",
            "required": false,
            "schema": {"type": "string"},
            "description": "the last event id received: the missed events are replayed first",
        }),
        query(
            "ticket",
            json!({"type": "string"}),
            "a ticket from `POST /api/subscribe/ticket`, instead of an `Authorization` header",
        ),
    ]
}

/// `GET /api/T/subscribe`: where to resume, and the list filters.
pub fn subscribe_parameters(t: &Table) -> Vec<Json> {
    let mut out = resume();
    for c in &t.columns {
        out.extend(filters(t, c));
    }
    out
}

/// `limit`, `offset` and `cursor`, shared by lists and views.
fn paging() -> Vec<Json> {
    vec![
        query(
            "limit",
            json!({"type": "integer", "minimum": 0}),
            "page size, clamped to the table's page bounds",
        ),
        query(
            "offset",
            json!({"type": "integer", "minimum": 0}),
            "rows to skip",
        ),
        query(
            "cursor",
            json!({"type": "string"}),
            "`pagination.nextCursor` of the previous page, with the same sort and filters",
        ),
    ]
}

fn order() -> Json {
    query(
        "order",
        json!({"type": "string", "enum": ["asc", "desc"]}),
        "for a single unsigned sort field",
    )
}

fn total() -> Json {
    query(
        "total",
        json!({"type": "boolean"}),
        "adds `pagination.total`",
    )
}

/// `fields` and `expand` of a read by id.
/// `If-Match` (PATCH, PUT, DELETE) and, for PUT, `If-None-Match` (SPEC §5.7).
pub fn precondition_parameters(put: bool) -> Vec<Json> {
    let header = |name: &str, description: &str| json!({"name": name, "in": "header", "required": false, "schema": {"type": "string"}, "description": description});
    let mut out = vec![header(
        "If-Match",
        "write only if the record's version (the strong ETag of `GET` on it) is one of these quoted tags, or `*`: it exists; else 412",
    )];
    if put {
        out.push(header(
            "If-None-Match",
            "`*`: create only; 412 when the caller can see a record with this id",
        ));
    }
    out
}

pub fn read_parameters() -> Vec<Json> {
    vec![fields(), expand()]
}

fn fields() -> Json {
    query(
        "fields",
        json!({"type": "string"}),
        "projection `a,b`: the answer holds only these keys",
    )
}

fn expand() -> Json {
    query(
        "expand",
        json!({"type": "string"}),
        "references and relations to embed under `_expand`: `a,b`",
    )
}

/// The operators a column of `ty` answers usefully (the server parses a few more, such as
/// `gt` on booleans, which select nothing a client would want).
fn operators(ty: ColumnType) -> &'static [&'static str] {
    match ty {
        ColumnType::Text => &[
            "eq", "ne", "gt", "gte", "lt", "lte", "like", "in", "not-in", "is",
        ],
        ColumnType::Integer | ColumnType::Float | ColumnType::Datetime | ColumnType::Date => {
            &["eq", "ne", "gt", "gte", "lt", "lte", "in", "not-in", "is"]
        }
        ColumnType::Boolean | ColumnType::Uuid => &["eq", "ne", "in", "not-in", "is"],
        ColumnType::Json | ColumnType::File => &["is"],
    }
}

/// A filter's value as the query carries it.
fn filter_value(c: &Column, id: Json) -> Json {
    if c.name == ward_ir::system::ID {
        id
    } else {
        type_schema(c.ty)
    }
}

/// Every filter parameter of column `c`: `c` (equality) and `c.OP`.
fn filters(t: &Table, c: &Column) -> Vec<Json> {
    let value = filter_value(c, id_schema(t.id));
    let mut out = Vec::new();
    for op in operators(c.ty) {
        let (name, schema, description) = match *op {
            "eq" if !matches!(c.ty, ColumnType::Json | ColumnType::File) => (
                c.name.clone(),
                value.clone(),
                format!("`{}` equals", c.name),
            ),
            "like" => (
                format!("{}.like", c.name),
                json!({"type": "string"}),
                format!("`{}` contains the text (case-insensitive)", c.name),
            ),
            "in" | "not-in" => (
                format!("{}.{op}", c.name),
                json!({"type": "array", "items": value.clone()}),
                format!("`{}` {op} `a,b,c`", c.name),
            ),
            "is" => (
                format!("{}.is", c.name),
                json!({"type": "string", "enum": ["null", "not-null"]}),
                format!("`{}` is null or not", c.name),
            ),
            _ => (
                format!("{}.{op}", c.name),
                value.clone(),
                format!("`{}` {op}", c.name),
            ),
        };
        let mut p = query(&name, schema, &description);
        if matches!(*op, "in" | "not-in") {
            p["style"] = json!("form");
            p["explode"] = json!(false);
        }
        out.push(p);
        // `FIELD=V` and `FIELD.eq=V` are the same filter; both are served.
        if *op == "eq" && !matches!(c.ty, ColumnType::Json | ColumnType::File) {
            out.push(query(
                &format!("{}.eq", c.name),
                value.clone(),
                &format!("`{}` equals", c.name),
            ));
        }
    }
    out
}

pub fn list_parameters(t: &Table) -> Vec<Json> {
    let mut out = paging();
    out.extend([
        query(
            "sort",
            json!({"type": "string"}),
            "`a,-b`: `-` descending; default `-createdAt`",
        ),
        order(),
        query(
            "search",
            json!({"type": "string"}),
            "any searchable field contains the text",
        ),
        fields(),
        total(),
        expand(),
    ]);
    if t.delete == DeleteMode::Soft {
        out.push(query(
            "deleted",
            json!({"type": "string", "enum": ["only"]}),
            "list soft-deleted rows (needs `restore` access)",
        ));
    }
    for c in &t.columns {
        out.extend(filters(t, c));
    }
    out
}

/// `GET /api/T/views/V`: paging, the view's params, and only its allow-listed filters, sorts
/// and search.
pub fn view_parameters(t: &Table, v: &View) -> Vec<Json> {
    let mut out = paging();
    out.extend([
        query(
            "fields",
            json!({"type": "string"}),
            "projection within the view's fields: `a,b`",
        ),
        total(),
    ]);
    if !v.sortable.is_empty() {
        out.push(query(
            "sort",
            json!({"type": "string"}),
            &format!("`a,-b` over {}", v.sortable.join(", ")),
        ));
        out.push(order());
    }
    if !v.searchable.is_empty() {
        out.push(query(
            "search",
            json!({"type": "string"}),
            &format!("any of {} contains the text", v.searchable.join(", ")),
        ));
    }
    for p in &v.params {
        let mut schema = match type_schema(p.ty) {
            Json::Object(m) => m,
            _ => Map::new(),
        };
        if let Some(d) = &p.default {
            schema.insert("default".into(), crate::gate::literal_json(d));
        }
        out.push(json!({
            "name": p.name,
            "in": "query",
            "required": p.required,
            "schema": schema,
            "description": p.description.clone().unwrap_or_else(|| "view parameter".to_owned()),
        }));
    }
    for c in v.filterable.iter().filter_map(|c| t.column(c)) {
        out.extend(filters(t, c));
    }
    out
}
