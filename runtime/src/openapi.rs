//! The OpenAPI 3.1 document of a served IR (`GET /openapi.json`, `ward openapi`), and the JSON
//! Schema of each table's records (`GET /api/T/schema`). Generated from the IR alone, so it
//! always describes exactly what is served (a reload serves the new document at once).

use serde_json::{Map, Value as Json, json};
use ward_ir::{
    Action, ActionMethod, Column, ColumnDefault, ColumnType, DeleteMode, IdKind, Ir, Operation,
    Returned, Step, Table, View, system,
};

/// Statuses every `/api/…` operation can answer with the error envelope.
const ERRORS: [(&str, &str); 6] = [
    (
        "400",
        "Invalid request: bad query, body or value (VALIDATION_*, INVALID_JSON, BATCH_*)",
    ),
    ("401", "No valid token (AUTH_MISSING, AUTH_INVALID_TOKEN)"),
    ("403", "Not allowed (ACCESS_*, GUARD_*, FIREWALL_*)"),
    ("404", "Not found, or not visible (the same fixed body)"),
    ("413", "Body over 1 MiB"),
    ("503", "DATABASE_BUSY: nothing changed, retry"),
];

fn id_schema(kind: IdKind) -> Json {
    match kind {
        IdKind::Uuid => json!({"type": "string", "format": "uuid"}),
        IdKind::Integer => json!({"type": "integer", "format": "int64"}),
        IdKind::Text => json!({"type": "string", "minLength": 1}),
    }
}

/// The JSON Schema of a column's values as they are written (validation's rules).
fn column_schema(t: &Table, c: &Column) -> Json {
    if c.name == system::ID {
        return id_schema(t.id);
    }
    value_schema(c)
}

/// The JSON Schema of a value written to `c` (a column or an action input).
fn value_schema(c: &Column) -> Json {
    let mut s = column_schema_of(c.ty);
    let Some(obj) = s.as_object_mut() else {
        return s;
    };
    let number = |b: &ward_ir::Number| serde_json::to_value(b).unwrap_or(Json::Null);
    if let Some(b) = &c.min {
        obj.insert("minimum".into(), number(b));
    }
    if let Some(b) = &c.max {
        obj.insert("maximum".into(), number(b));
    }
    if let Some(n) = c.min_length {
        obj.insert("minLength".into(), json!(n));
    }
    if let Some(n) = c.max_length {
        obj.insert("maxLength".into(), json!(n));
    }
    if let Some(p) = &c.pattern {
        obj.insert("pattern".into(), json!(p));
    }
    if !c.one_of.is_empty() {
        obj.insert("enum".into(), json!(c.one_of));
    }
    if let Some(d) = &c.description {
        obj.insert("description".into(), json!(d));
    }
    s
}

/// The JSON Schema of a value of `ty`.
fn column_schema_of(ty: ColumnType) -> Json {
    match ty {
        ColumnType::Text => json!({"type": "string"}),
        ColumnType::Integer => json!({"type": "integer", "format": "int64"}),
        ColumnType::Float => json!({"type": "number"}),
        ColumnType::Boolean => json!({"type": "boolean"}),
        ColumnType::Uuid => json!({"type": "string", "format": "uuid"}),
        ColumnType::Datetime => json!({"type": "string", "format": "date-time"}),
        ColumnType::Date => json!({"type": "string", "format": "date"}),
        ColumnType::Json => json!({}),
    }
}

fn nullable(s: Json) -> Json {
    json!({"anyOf": [s, {"type": "null"}]})
}

/// A record as answered: every column may be absent (projection, hidden masks), masked columns
/// may hold a masked string, and labels and expansions add keys.
pub fn record_schema(t: &Table) -> Json {
    let mut props = Map::new();
    for c in &t.columns {
        let mut s = column_schema(t, c);
        if let Some(obj) = s.as_object_mut() {
            // Constraints are for writes; stored rows may predate them.
            for k in [
                "minimum",
                "maximum",
                "minLength",
                "maxLength",
                "pattern",
                "enum",
            ] {
                obj.remove(k);
            }
        }
        if t.masks.iter().any(|m| m.column == c.name) {
            s = json!({"anyOf": [s, {"type": "string"}]});
        }
        if !(c.required || c.name == system::ID) {
            s = nullable(s);
        }
        props.insert(c.name.clone(), s);
    }
    json!({"type": "object", "properties": props, "additionalProperties": true})
}

/// A write body: the guarded columns, with validation's constraints; `required` for create.
fn body_schema(t: &Table, fields: &[String], create: bool) -> Json {
    let mut props = Map::new();
    let mut required = Vec::new();
    for name in fields {
        let Some(c) = t.column(name) else { continue };
        let s = column_schema(t, c);
        props.insert(c.name.clone(), if c.required { s } else { nullable(s) });
        if create && c.required && c.default.is_none() {
            required.push(c.name.clone());
        }
    }
    let mut s = json!({"type": "object", "properties": props, "additionalProperties": false});
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    s
}

/// `GET /api/T/schema`: the JSON Schema (2020-12) of the table's records.
pub fn table_schema(t: &Table) -> Json {
    let mut s = record_schema(t);
    s["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    s["title"] = json!(t.name);
    if let Some(d) = &t.description {
        s["description"] = json!(d);
    }
    s
}

fn reference(name: &str) -> Json {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_content(schema: Json) -> Json {
    json!({"application/json": {"schema": schema}})
}

fn errors() -> Map<String, Json> {
    ERRORS
        .iter()
        .map(|(status, what)| {
            (
                (*status).to_owned(),
                json!({"description": what, "content": json_content(reference("Error"))}),
            )
        })
        .collect()
}

/// Who may call: anonymous callers need no token where a `public` rule allows them.
fn security(t: &Table, op: Operation) -> Json {
    let public = t
        .access
        .rule(op)
        .is_some_and(|r| r.roles.iter().any(|x| x == "public"));
    if public {
        json!([{}, {"bearer": []}])
    } else {
        json!([{"bearer": []}])
    }
}

fn operation(
    t: &Table,
    op: Operation,
    summary: String,
    parameters: Vec<Json>,
    body: Option<Json>,
    success: (&str, Json),
) -> Json {
    let mut responses = errors();
    responses.insert(
        success.0.to_owned(),
        json!({"description": "Success", "content": json_content(success.1)}),
    );
    let mut o = json!({
        "operationId": format!("{}_{}", summary.replace(' ', "_"), t.name),
        "summary": format!("{summary} {}", t.name),
        "tags": [t.name],
        "security": security(t, op),
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(b) = body {
        o["requestBody"] = json!({"required": true, "content": json_content(b)});
    }
    o
}

fn query(name: &str, schema: Json, description: &str) -> Json {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

/// `limit`, `offset` and `cursor`, shared by lists and views.
fn paging() -> Vec<Json> {
    vec![
        query(
            "limit",
            json!({"type": "integer", "minimum": 0}),
            "page size",
        ),
        query(
            "offset",
            json!({"type": "integer", "minimum": 0}),
            "rows to skip",
        ),
        query(
            "cursor",
            json!({"type": "string"}),
            "`pagination.nextCursor` of the previous page",
        ),
    ]
}

/// The one filter parameter per field: `FIELD=V` and `FIELD.OP=V`.
fn filter_parameter(c: &Column) -> Json {
    query(
        &c.name,
        json!({"type": "string"}),
        "equality filter; `FIELD.OP=V` with eq ne gt gte lt lte like in not-in is",
    )
}

fn list_parameters(t: &Table) -> Vec<Json> {
    let mut out = paging();
    out.extend([
        query("sort", json!({"type": "string"}), "`a,-b,+c`"),
        query(
            "order",
            json!({"type": "string", "enum": ["asc", "desc"]}),
            "for a single unsigned sort field",
        ),
        query(
            "search",
            json!({"type": "string"}),
            "any searchable field contains the text",
        ),
        query("fields", json!({"type": "string"}), "projection: `a,b`"),
        query(
            "total",
            json!({"type": "boolean"}),
            "adds `pagination.total`",
        ),
        query(
            "expand",
            json!({"type": "string"}),
            "references and relations to embed",
        ),
    ]);
    if t.delete == DeleteMode::Soft {
        out.push(query(
            "deleted",
            json!({"type": "string", "enum": ["only"]}),
            "list soft-deleted rows",
        ));
    }
    for c in t.columns.iter().filter(|c| c.ty != ColumnType::Json) {
        out.push(filter_parameter(c));
    }
    out
}

/// `GET /api/T/views/V`: paging, the view's params, and only its allow-listed filters, sorts
/// and search.
fn view_parameters(t: &Table, v: &View) -> Vec<Json> {
    let mut out = paging();
    out.extend([
        query(
            "fields",
            json!({"type": "string"}),
            "projection within the view's fields: `a,b`",
        ),
        query(
            "total",
            json!({"type": "boolean"}),
            "adds `pagination.total`",
        ),
    ]);
    if !v.sortable.is_empty() {
        out.push(query(
            "sort",
            json!({"type": "string"}),
            &format!("`a,-b` over {}", v.sortable.join(", ")),
        ));
        out.push(query(
            "order",
            json!({"type": "string", "enum": ["asc", "desc"]}),
            "for a single unsigned sort field",
        ));
    }
    if !v.searchable.is_empty() {
        out.push(query(
            "search",
            json!({"type": "string"}),
            &format!("any of {} contains the text", v.searchable.join(", ")),
        ));
    }
    for p in &v.params {
        let mut schema = match column_schema_of(p.ty) {
            Json::Object(m) => m,
            _ => Map::new(),
        };
        if let Some(d) = &p.default {
            schema.insert("default".into(), crate::security::access::literal_json(d));
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
        out.push(filter_parameter(c));
    }
    out
}

/// `POST /api/T/{id}/A` (`t` set) or `/api/actions/A`: the inputs as the body (or the query of
/// a GET action), the row or the returned object as the answer, and 409 for a state the action
/// does not accept or its own errors.
/// Whether the action's one `return` is a top-level step (it always runs).
fn is_top_return(a: &Action) -> bool {
    a.steps.iter().any(|s| matches!(s, Step::Return { .. }))
}

fn action_path(t: Option<&Table>, a: &Action) -> Json {
    let mut props = Map::new();
    let mut required = Vec::new();
    for i in &a.inputs {
        let mut s = value_schema(i);
        if let (Some(obj), Some(ColumnDefault::Literal(d))) = (s.as_object_mut(), &i.default) {
            obj.insert("default".into(), crate::security::access::literal_json(d));
        }
        props.insert(i.name.clone(), if i.required { s } else { nullable(s) });
        if i.required && i.default.is_none() {
            required.push(i.name.clone());
        }
    }
    let mut body = json!({"type": "object", "properties": props, "additionalProperties": false});
    if !required.is_empty() {
        body["required"] = json!(required);
    }
    let steps = ward_ir::all_steps(&a.steps);
    let inserted: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Insert { table, .. } => Some(table.as_str()),
            _ => None,
        })
        .collect();
    let returned: Vec<&Returned> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Return { value } => Some(value),
            _ => None,
        })
        .collect();
    let query_table = |name: &str| {
        steps.iter().find_map(|s| match s {
            Step::Query { name: n, table, .. } if n == name => Some(table.as_str()),
            _ => None,
        })
    };
    // Any record a write answers may also be `{"id"}` alone (the read rule), so records are
    // described loosely; their schema is the table's. Several returns (in branches), or one
    // that may not run, leave the answer loosely described.
    let data = match (returned.as_slice(), t, inserted.as_slice()) {
        ([Returned::Record], Some(t), _) if is_top_return(a) => reference(&t.name),
        ([Returned::Inserted], _, [table]) if is_top_return(a) => reference(table),
        ([Returned::Query(q)], _, _) if is_top_return(a) => match query_table(q) {
            Some(table) => json!({"type": "array", "items": reference(table)}),
            None => json!({"type": "array"}),
        },
        ([], _, _) => json!({"type": "object", "properties": {"ok": {"type": "boolean"}}}),
        _ => json!({"type": ["object", "array", "null"]}),
    };
    let mut responses = errors();
    responses.insert(
        "409".into(),
        json!({"description": "Not allowed in the row's state, a lost transition, or the action's own error", "content": json_content(reference("Error"))}),
    );
    responses.insert(
        "200".into(),
        json!({"description": "The action's result", "content": json_content(json!({
            "type": "object", "properties": {"data": data}, "required": ["data"]
        }))}),
    );
    let public = a
        .access
        .as_ref()
        .is_some_and(|r| r.roles.iter().any(|x| x == "public"));
    let (id, tag) = match t {
        Some(t) => (format!("action_{}_{}", t.name, a.name), t.name.as_str()),
        None => (format!("action_{}", a.name), "actions"),
    };
    let mut op = json!({
        "operationId": id,
        "summary": format!("action {}", a.name),
        "tags": [tag],
        "security": if public { json!([{}, {"bearer": []}]) } else { json!([{"bearer": []}]) },
        "responses": responses,
    });
    if let Some(d) = &a.description {
        op["description"] = json!(d);
    }
    if a.method == ActionMethod::Get {
        let params: Vec<Json> = a
            .inputs
            .iter()
            .map(|i| {
                let schema = props.get(&i.name).cloned().unwrap_or(Json::Null);
                let required = i.required && i.default.is_none();
                json!({"name": i.name, "in": "query", "required": required, "schema": schema})
            })
            .collect();
        op["parameters"] = json!(params);
        return json!({ "get": op });
    }
    op["requestBody"] = json!({"required": false, "content": json_content(body)});
    match t {
        Some(t) => json!({"parameters": [id_parameter(t)], "post": op}),
        None => json!({ "post": op }),
    }
}

/// A view's records: the table's record schema, restricted to the view's fields.
fn view_record_schema(t: &Table, v: &View) -> Json {
    let mut s = record_schema(t);
    if let Some(props) = s.get_mut("properties").and_then(Json::as_object_mut) {
        props.retain(|k, _| v.fields.iter().any(|f| f == k));
    }
    s
}

fn id_parameter(t: &Table) -> Json {
    json!({"name": "id", "in": "path", "required": true, "schema": id_schema(t.id)})
}

fn one(name: &str) -> Json {
    json!({"type": "object", "properties": {"data": reference(name)}, "required": ["data"]})
}

fn batch_answer(name: &str) -> Json {
    json!({
        "type": "object",
        "properties": {
            "success": {"type": "array", "items": reference(name)},
            "errors": {"type": "array", "items": {"type": "object"}},
            "meta": {"type": "object"}
        }
    })
}

/// The whole document.
pub fn document(ir: &Ir) -> Json {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "properties": {
                "error": {"type": "string"},
                "layer": {"type": "string"},
                "code": {"type": "string"},
                "details": {},
                "hint": {"type": "string"}
            },
            "required": ["error", "layer", "code"]
        }),
    );
    paths.insert(
        "/healthz".into(),
        json!({"get": {
            "operationId": "healthz",
            "summary": "liveness and the serving IR's hash",
            "security": [{}],
            "responses": {"200": {"description": "Serving", "content": json_content(json!({
                "type": "object",
                "properties": {"status": {"type": "string"}, "ir": {"type": "string"}},
                "required": ["status", "ir"]
            }))}}
        }}),
    );
    for t in &ir.tables {
        let record = t.name.clone();
        let create = format!("{}_create", t.name);
        let update = format!("{}_update", t.name);
        schemas.insert(record.clone(), record_schema(t));
        schemas.insert(create.clone(), body_schema(t, &t.guards.createable, true));
        schemas.insert(update.clone(), body_schema(t, &t.guards.updatable, false));
        let list_answer = json!({
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": reference(&record)},
                "pagination": {"type": "object"}
            },
            "required": ["data", "pagination"]
        });
        let base = format!("/api/{}", t.name);
        paths.insert(
            base.clone(),
            json!({
                "get": operation(t, Operation::List, "list".into(), list_parameters(t), None, ("200", list_answer)),
                "post": operation(t, Operation::Create, "create".into(), vec![], Some(reference(&create)), ("201", one(&record))),
            }),
        );
        let mut item = Map::new();
        let fields = vec![
            query("fields", json!({"type": "string"}), "projection: `a,b`"),
            query(
                "expand",
                json!({"type": "string"}),
                "references and relations to embed",
            ),
        ];
        item.insert(
            "get".into(),
            operation(
                t,
                Operation::Read,
                "read".into(),
                fields,
                None,
                ("200", one(&record)),
            ),
        );
        item.insert(
            "patch".into(),
            operation(
                t,
                Operation::Update,
                "update".into(),
                vec![],
                Some(reference(&update)),
                ("200", one(&record)),
            ),
        );
        item.insert(
            "delete".into(),
            operation(
                t,
                Operation::Delete,
                "delete".into(),
                vec![],
                None,
                ("200", json!({"type": "object"})),
            ),
        );
        if t.id == IdKind::Text && t.guards.open {
            item.insert(
                "put".into(),
                operation(
                    t,
                    Operation::Update,
                    "upsert".into(),
                    vec![],
                    Some(reference(&create)),
                    ("200", one(&record)),
                ),
            );
        }
        item.insert("parameters".into(), json!([id_parameter(t)]));
        paths.insert(format!("{base}/{{id}}"), Json::Object(item));
        if t.delete == DeleteMode::Soft {
            paths.insert(
                format!("{base}/{{id}}/restore"),
                json!({
                    "parameters": [id_parameter(t)],
                    "post": operation(t, Operation::Restore, "restore".into(), vec![], None, ("200", one(&record)))
                }),
            );
        }
        let mut schema_responses = errors();
        schema_responses.insert(
            "200".into(),
            json!({"description": "JSON Schema 2020-12", "content": json_content(json!({"type": "object"}))}),
        );
        paths.insert(
            format!("{base}/schema"),
            json!({"get": {
                "operationId": format!("schema_{}", t.name),
                "summary": format!("JSON Schema of {} records", t.name),
                "tags": [t.name],
                "security": security(t, Operation::List),
                "responses": schema_responses
            }}),
        );
        for a in &t.actions {
            paths.insert(format!("{base}/{{id}}/{}", a.name), action_path(Some(t), a));
        }
        for v in &t.views {
            let name = format!("{}_view_{}", t.name, v.name);
            schemas.insert(name.clone(), view_record_schema(t, v));
            let public = v
                .access
                .as_ref()
                .is_some_and(|r| r.roles.iter().any(|x| x == "public"));
            let mut responses = errors();
            responses.insert(
                "200".into(),
                json!({"description": "Success", "content": json_content(json!({
                    "type": "object",
                    "properties": {
                        "data": {"type": "array", "items": reference(&name)},
                        "pagination": {"type": "object"}
                    },
                    "required": ["data", "pagination"]
                }))}),
            );
            let mut get = json!({
                "operationId": format!("view_{}_{}", t.name, v.name),
                "summary": format!("view {} of {}", v.name, t.name),
                "tags": [t.name],
                "security": if public { json!([{}, {"bearer": []}]) } else { json!([{"bearer": []}]) },
                "parameters": view_parameters(t, v),
                "responses": responses,
            });
            if let Some(d) = &v.description {
                get["description"] = json!(d);
            }
            paths.insert(format!("{base}/views/{}", v.name), json!({ "get": get }));
        }
        if t.batch.enabled {
            let records = |name: &str| {
                json!({"type": "object", "properties": {
                    "records": {"type": "array", "items": reference(name)},
                    "options": {"type": "object", "properties": {"atomic": {"type": "boolean"}}}
                }, "required": ["records"]})
            };
            let mut batch = Map::new();
            batch.insert(
                "post".into(),
                operation(
                    t,
                    Operation::Create,
                    "batch create".into(),
                    vec![],
                    Some(records(&create)),
                    ("201", batch_answer(&record)),
                ),
            );
            batch.insert(
                "patch".into(),
                operation(
                    t,
                    Operation::Update,
                    "batch update".into(),
                    vec![],
                    Some(records(&update)),
                    ("200", batch_answer(&record)),
                ),
            );
            batch.insert(
                "delete".into(),
                operation(
                    t,
                    Operation::Delete,
                    "batch delete".into(),
                    vec![],
                    Some(json!({"type": "object", "properties": {
                        "ids": {"type": "array", "items": id_schema(t.id)},
                        "options": {"type": "object", "properties": {"atomic": {"type": "boolean"}}}
                    }, "required": ["ids"]})),
                    ("200", batch_answer(&record)),
                ),
            );
            paths.insert(format!("{base}/batch"), Json::Object(batch));
        }
    }
    for a in &ir.actions {
        paths.insert(format!("/api/actions/{}", a.name), action_path(None, a));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "ward API",
            "version": ir.hash.get(..12).unwrap_or(&ir.hash),
            "description": "Generated by ward from the project's resources. Errors use the envelope `Error`; see docs/errors.md."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        }
    })
}
