//! Action routes: the inputs as the body (or the query of a GET action), and the answer typed
//! from the IR — the row, the inserted row, a query's rows, or an object whose every key is
//! known (SPEC §2.10).

use serde_json::{Map, Value as Json, json};
use ward_ir::{
    Action, ActionMethod, Assignment, ColumnDefault, ColumnType, Ir, Literal, Returned, Step,
    Table, Value, all_steps,
};

use super::callers::{self, Shown};
use super::parameters::id_parameter;
use super::responses::{self, Responses};
use super::schemas::{
    answered_schema, data, id_only, nullable, reference, type_schema, value_schema,
};

/// The body of a POST action: its inputs, and whether one is required.
fn inputs_body(a: &Action) -> (Json, Map<String, Json>, bool) {
    let mut props = Map::new();
    let mut required = Vec::new();
    for i in &a.inputs {
        let mut s = value_schema(i);
        if let (Some(obj), Some(ColumnDefault::Literal(d))) = (s.as_object_mut(), &i.default) {
            obj.insert("default".into(), crate::gate::literal_json(d));
        }
        props.insert(i.name.clone(), if i.required { s } else { nullable(s) });
        if i.required && i.default.is_none() {
            required.push(i.name.clone());
        }
    }
    let mut body =
        json!({"type": "object", "properties": props.clone(), "additionalProperties": false});
    let needed = !required.is_empty();
    if needed {
        body["required"] = json!(required);
    }
    (body, props, needed)
}

/// A row of `table` as a write by this action's callers answers it.
fn written_row(ir: &Ir, a: &Action, table: &str) -> Json {
    let Some(t) = ir.table(table) else {
        return json!({"type": "object"});
    };
    let may_run = callers::admits(a.access.as_ref());
    match callers::shown(ir, t.access.read.as_ref(), &may_run) {
        Shown::Row => reference(&t.name),
        Shown::IdOnly => id_only(t),
        Shown::Either => json!({"anyOf": [reference(&t.name), id_only(t)]}),
    }
}

/// The schema of one value a `return { field VALUE }` answers.
fn returned_value(t: Option<&Table>, a: &Action, v: &Value) -> Json {
    match v {
        Value::Literal(Literal::Null) => json!({"type": "null"}),
        Value::Literal(l) => json!({"const": crate::gate::literal_json(l)}),
        Value::Auth(_) => json!({"type": ["string", "null"]}),
        Value::Now => json!({"type": "string", "format": "date-time"}),
        Value::Input(name) => match a.inputs.iter().find(|i| &i.name == name) {
            Some(i) if i.required || i.default.is_some() => type_schema(i.ty),
            Some(i) => nullable(type_schema(i.ty)),
            None => json!({"type": "null"}),
        },
        // The row as the caller sees it, masked; null when the steps removed it.
        Value::Record(c) => match t.and_then(|t| t.column(c).map(|col| (t, col))) {
            Some((t, col)) => {
                let mut s = answered_schema(t, col);
                if let Some(obj) = s.as_object_mut() {
                    obj.remove("description");
                }
                if col.ty == ColumnType::Json {
                    s
                } else {
                    nullable(s)
                }
            }
            None => json!({"type": "null"}),
        },
        Value::Param(_) | Value::Old(_) => json!({"type": "null"}),
    }
}

fn returned_object(t: Option<&Table>, a: &Action, fields: &[Assignment]) -> Json {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in fields {
        props.insert(f.column.clone(), returned_value(t, a, &f.value));
        required.push(f.column.clone());
    }
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

/// Whether a step of `a` deletes the action's own row.
fn deletes_own_row(a: &Action) -> bool {
    all_steps(&a.steps)
        .iter()
        .any(|s| matches!(s, Step::Delete { table: None, .. }))
}

/// What one `return` answers.
fn returned(ir: &Ir, t: Option<&Table>, a: &Action, value: &Returned, top: bool) -> Json {
    let steps = all_steps(&a.steps);
    match value {
        Returned::Record => match t {
            Some(t) => {
                let row = written_row(ir, a, &t.name);
                if deletes_own_row(a) {
                    nullable(row)
                } else {
                    row
                }
            }
            None => json!({"type": "null"}),
        },
        Returned::Inserted => {
            // The last insert that ran; none may have run when inserts sit in branches.
            let mut tables: Vec<&str> = Vec::new();
            for s in &steps {
                if let Step::Insert { table, .. } = s
                    && !tables.contains(&table.as_str())
                {
                    tables.push(table);
                }
            }
            let top_insert = a.steps.iter().any(|s| matches!(s, Step::Insert { .. }));
            let rows: Vec<Json> = tables.iter().map(|tb| written_row(ir, a, tb)).collect();
            let row = match rows.len() {
                0 => json!({"type": "null"}),
                1 => rows.into_iter().next().unwrap_or(Json::Null),
                _ => json!({"anyOf": rows}),
            };
            if top_insert && top {
                row
            } else {
                nullable(row)
            }
        }
        Returned::Query(name) => {
            let table = steps.iter().find_map(|s| match s {
                Step::Query { name: n, table, .. } if n == name => Some(table.as_str()),
                _ => None,
            });
            match table {
                Some(table) => json!({"type": "array", "items": reference(table)}),
                None => json!({"type": "array", "maxItems": 0}),
            }
        }
        Returned::Object(fields) => returned_object(t, a, fields),
    }
}

/// The action's `data`: the value of the last `return` that ran, else `{"ok": true}`.
fn answer(ir: &Ir, t: Option<&Table>, a: &Action) -> Json {
    let top_return = a.steps.iter().find_map(|s| match s {
        Step::Return { value } => Some(value),
        _ => None,
    });
    if let Some(value) = top_return {
        return returned(ir, t, a, value, true);
    }
    let ok = json!({
        "type": "object",
        "properties": {"ok": {"const": true}},
        "required": ["ok"],
        "additionalProperties": false,
    });
    let mut options: Vec<Json> = all_steps(&a.steps)
        .iter()
        .filter_map(|s| match s {
            Step::Return { value } => Some(returned(ir, t, a, value, false)),
            _ => None,
        })
        .collect();
    if options.is_empty() {
        return ok;
    }
    options.push(ok);
    options.dedup();
    json!({"anyOf": options})
}

/// `POST /api/T/{id}/A` (`t` set) or `/api/actions/A`.
pub fn action_path(ir: &Ir, t: Option<&Table>, a: &Action) -> Json {
    let (body, props, body_needed) = inputs_body(a);
    let steps = all_steps(&a.steps);
    let rule = a.access.as_ref();
    let writes_elsewhere = steps.iter().any(|s| match s {
        Step::Insert { table, .. }
        | Step::Update {
            table: Some(table), ..
        }
        | Step::Delete {
            table: Some(table), ..
        } => ir
            .table(table)
            .is_some_and(|target| !target.firewall.scopes.is_empty()),
        _ => false,
    });
    let forbidden = callers::refuses_a_token(ir, rule)
        || writes_elsewhere
        || t.is_some_and(|t| {
            !t.firewall.scopes.is_empty() || t.firewall.error_mode == ward_ir::ErrorMode::Reveal
        });
    let conflict = steps.iter().any(|s| responses::step_conflicts(ir, s))
        || t.is_some_and(|_| callers::has_row_condition(ir, rule));
    let mut r = Responses::default()
        .success(200, "The action's result", data(answer(ir, t, a)))
        .api()
        .error(
            400,
            "Invalid inputs (VALIDATION_*, INVALID_JSON), or a write that fails validation",
        )
        .error_if(forbidden, 403, responses::NOT_ALLOWED)
        .error_if(t.is_some(), 404, responses::NOT_FOUND)
        .error_if(
            conflict,
            409,
            "Conflict: ACCESS_ACTION_NOT_ALLOWED_FOR_STATE, ACCESS_TRANSITION_LOST, UNIQUE_VIOLATION, REFERENCE_VIOLATION",
        )
        .error_if(a.method == ActionMethod::Post, 413, responses::TOO_LARGE)
        .custom(&steps);
    if a.method == ActionMethod::Get {
        r = r.error(400, responses::BAD_QUERY);
    }
    if callers::nobody(ir, rule) {
        r = Responses::refused(&format!("run `{}`", a.name));
    }
    let (id, tag) = match t {
        Some(t) => (format!("action_{}_{}", t.name, a.name), t.name.as_str()),
        None => (format!("action_{}", a.name), "actions"),
    };
    let public = callers::public(rule);
    let mut op = json!({
        "operationId": id,
        "summary": format!("action {}", a.name),
        "tags": [tag],
        "security": if public { json!([{}, {"bearer": []}]) } else { json!([{"bearer": []}]) },
        "responses": r.build(),
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
    // An action without required inputs may be called with no body at all.
    op["requestBody"] =
        json!({"required": body_needed, "content": {"application/json": {"schema": body}}});
    match t {
        Some(t) => json!({"parameters": [id_parameter(t)], "post": op}),
        None => json!({ "post": op }),
    }
}
