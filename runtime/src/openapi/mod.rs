//! The OpenAPI 3.1 document of a served IR (`GET /openapi.json`, `ward openapi`), and the JSON
//! Schema of each table's records (`GET /api/T/schema`). Generated from the IR alone, so it
//! always describes exactly what is served (a reload serves the new document at once): every
//! route, every status it can answer and every body, so that a generated client needs no casts
//! (SPEC §5.1). CI replays real answers against it (docs/http-api.md, "OpenAPI").

mod actions;
mod callers;
mod files;
mod parameters;
mod responses;
mod schemas;

use serde_json::{Map, Value as Json, json};
use ward_ir::{ColumnType, DeleteMode, IdKind, Ir, Operation, Table, TriggerEvent, View};

use callers::Shown;
use parameters::{
    id_parameter, list_parameters, precondition_parameters, read_parameters, view_parameters,
};
use responses::{
    BAD_BODY, BAD_QUERY, NOT_ALLOWED, NOT_FOUND, PRECONDITION, Responses, TOO_LARGE, forbidden,
    trigger_steps,
};
use schemas::{
    batch_answer, batch_body, batch_deleted, body_schema, data, deleted, id_only, id_schema, page,
    record_schema, reference, view_record_schema,
};

pub use schemas::table_schema;

/// Who may call: anonymous callers need no token where a `public` rule allows them.
fn security(public: bool) -> Json {
    if public {
        json!([{}, {"bearer": []}])
    } else {
        json!([{"bearer": []}])
    }
}

/// Whether a trigger's steps can answer 409.
fn conflicts(ir: &Ir, steps: &[&ward_ir::Step]) -> bool {
    steps.iter().any(|s| responses::step_conflicts(ir, s))
}

/// `responses`, or only the role check's refusals when no caller may perform any of `ops`.
fn gated(ir: &Ir, t: &Table, ops: &[Operation], responses: Responses) -> Responses {
    if ops.iter().all(|op| callers::nobody(ir, t.access.rule(*op))) {
        let names: Vec<&str> = ops.iter().map(|op| op.name()).collect();
        Responses::refused(&format!("{} {}", names.join(" or "), t.name))
    } else {
        responses
    }
}

fn operation(t: &Table, id: &str, summary: &str, public: bool, responses: Responses) -> Json {
    json!({
        "operationId": format!("{id}_{}", t.name),
        "summary": format!("{summary} {}", t.name),
        "tags": [t.name],
        "security": security(public),
        "responses": responses.build(),
    })
}

fn with_body(mut op: Json, body: Json) -> Json {
    op["requestBody"] =
        json!({"required": true, "content": {"application/json": {"schema": body}}});
    op
}

/// A create or update body of a table with file columns among `fields` may also be a
/// multipart form that uploads them (SPEC §13).
fn with_uploads(mut op: Json, t: &Table, fields: &[String]) -> Json {
    let uploads = fields
        .iter()
        .any(|f| t.column(f).is_some_and(|c| c.ty == ColumnType::File));
    if uploads {
        op["requestBody"]["content"]["multipart/form-data"] =
            json!({"schema": schemas::multipart_schema(t, fields)});
    }
    op
}

/// The errors only an upload answers.
fn upload_errors(t: &Table, r: Responses) -> Responses {
    let files = t.file_columns().next().is_some();
    r.error_if(
        files,
        415,
        "FILE_TYPE_NOT_ALLOWED: an uploaded file's content is none of its column's `types` (details.field, details.type, details.allowed)",
    )
}

fn with_parameters(mut op: Json, parameters: Vec<Json>) -> Json {
    op["parameters"] = json!(parameters);
    op
}

/// What a write of `op` answers about the row: the record, its id alone, or either.
fn written(ir: &Ir, t: &Table, ops: &[Operation]) -> Json {
    let may_write = |roles: &[String]| {
        ops.iter()
            .any(|op| callers::admits(t.access.rule(*op))(roles))
    };
    match callers::shown(ir, t.access.read.as_ref(), &may_write) {
        Shown::Row => reference(&t.name),
        Shown::IdOnly => id_only(t),
        Shown::Either => json!({"anyOf": [reference(&t.name), id_only(t)]}),
    }
}

/// `written`, or null when a `during` trigger of `event` may delete the row it just wrote.
fn written_single(ir: &Ir, t: &Table, ops: &[Operation], events: &[TriggerEvent]) -> Json {
    let row = written(ir, t, ops);
    let may_vanish = events.iter().any(|e| {
        t.triggers.iter().any(|tr| {
            tr.event == *e
                && tr.phase == ward_ir::TriggerPhase::During
                && ward_ir::all_steps(&tr.steps)
                    .iter()
                    .any(|s| matches!(s, ward_ir::Step::Delete { .. }))
        })
    });
    if may_vanish {
        schemas::nullable(row)
    } else {
        row
    }
}

/// `GET /api/T` and `POST /api/T`.
fn collection(ir: &Ir, t: &Table) -> Json {
    let list_forbidden = forbidden(ir, t, Operation::List, false)
        || (t.delete == DeleteMode::Soft && forbidden(ir, t, Operation::Restore, false));
    let list = Responses::default()
        .success(200, "A page of records", page(reference(&t.name)))
        .with_etag()
        .api()
        .error(400, BAD_QUERY)
        .error_if(list_forbidden, 403, NOT_ALLOWED);
    let create_steps = trigger_steps(t, TriggerEvent::Create);
    let create = Responses::default()
        .success(
            201,
            "Created: the row as the caller may read it",
            data(written_single(
                ir,
                t,
                &[Operation::Create],
                &[TriggerEvent::Create],
            )),
        )
        .api()
        .error(400, BAD_BODY)
        .error_if(forbidden(ir, t, Operation::Create, false), 403, NOT_ALLOWED)
        .error_if(
            responses::conflicts_on_create(t) || conflicts(ir, &create_steps),
            409,
            "UNIQUE_VIOLATION, REFERENCE_VIOLATION (details.fields)",
        )
        .error(413, TOO_LARGE)
        .custom(&create_steps);
    json!({
        "get": with_parameters(
            operation(
                t,
                "list",
                "list",
                callers::public(t.access.list.as_ref()),
                // `deleted=only` lists under the `restore` rule.
                gated(ir, t, &[Operation::List, Operation::Restore], list),
            ),
            list_parameters(t),
        ),
        "post": with_uploads(
            with_body(
                operation(
                    t,
                    "create",
                    "create",
                    callers::public(t.access.create.as_ref()),
                    gated(ir, t, &[Operation::Create], upload_errors(t, create)),
                ),
                reference(&format!("{}_create", t.name)),
            ),
            t,
            &t.guards.createable,
        ),
    })
}

fn upsert_allowed(t: &Table) -> bool {
    t.id == IdKind::Text && t.guards.open
}

/// Whether a PUT can answer 404: the id is taken by a row the caller cannot see (another
/// tenant's, a soft-deleted one), or the row is missing and the caller may update but not
/// create.
fn upsert_hides(ir: &Ir, t: &Table) -> bool {
    let update_only = callers::callers(ir).iter().any(|roles| {
        !matches!(
            callers::decide(t.access.update.as_ref(), roles),
            ward_ir::Partial::False
        ) && matches!(
            callers::decide(t.access.create.as_ref(), roles),
            ward_ir::Partial::False
        )
    });
    !t.firewall.scopes.is_empty() || t.delete == DeleteMode::Soft || update_only
}

/// `GET`, `PATCH`, `PUT` (upsert tables) and `DELETE` on `/api/T/{id}`.
fn item(ir: &Ir, t: &Table) -> Json {
    let mut item = Map::new();
    let read = Responses::default()
        .success(200, "The record", data(reference(&t.name)))
        .with_etag()
        .api()
        .error(400, BAD_QUERY)
        .error_if(forbidden(ir, t, Operation::Read, true), 403, NOT_ALLOWED)
        .error(404, NOT_FOUND);
    item.insert(
        "get".into(),
        with_parameters(
            operation(
                t,
                "read",
                "read",
                callers::public(t.access.read.as_ref()),
                gated(ir, t, &[Operation::Read], read),
            ),
            read_parameters(),
        ),
    );
    let update_steps = trigger_steps(t, TriggerEvent::Update);
    let update = Responses::default()
        .success(
            200,
            "Updated: the row as the caller may read it",
            data(written_single(
                ir,
                t,
                &[Operation::Update],
                &[TriggerEvent::Update],
            )),
        )
        .api()
        .error(400, BAD_BODY)
        .error_if(forbidden(ir, t, Operation::Update, true), 403, NOT_ALLOWED)
        .error(404, NOT_FOUND)
        .error_if(
            responses::conflicts_on_update(t) || conflicts(ir, &update_steps),
            409,
            "UNIQUE_VIOLATION, REFERENCE_VIOLATION (details.fields)",
        )
        .error(412, PRECONDITION)
        .error(413, TOO_LARGE)
        .custom(&update_steps);
    item.insert(
        "patch".into(),
        with_parameters(
            with_uploads(
                with_body(
                    operation(
                        t,
                        "update",
                        "update",
                        callers::public(t.access.update.as_ref()),
                        gated(ir, t, &[Operation::Update], upload_errors(t, update)),
                    ),
                    reference(&format!("{}_update", t.name)),
                ),
                t,
                &t.guards.updatable,
            ),
            precondition_parameters(false),
        ),
    );
    if upsert_allowed(t) {
        let mut steps = trigger_steps(t, TriggerEvent::Create);
        steps.extend(trigger_steps(t, TriggerEvent::Update));
        let answer = data(written_single(
            ir,
            t,
            &[Operation::Create, Operation::Update],
            &[TriggerEvent::Create, TriggerEvent::Update],
        ));
        let upsert = Responses::default()
            .success(200, "Updated an existing row", answer.clone())
            .success(201, "Created the row with this id", answer)
            .api()
            .error(400, BAD_BODY)
            .error_if(
                forbidden(ir, t, Operation::Update, true)
                    || forbidden(ir, t, Operation::Create, true),
                403,
                NOT_ALLOWED,
            )
            .error_if(upsert_hides(ir, t), 404, NOT_FOUND)
            .error(
                409,
                "UNIQUE_VIOLATION (also two creates of one id racing), REFERENCE_VIOLATION (details.fields)",
            )
            .error(412, PRECONDITION)
            .error(413, TOO_LARGE)
            .custom(&steps);
        let public =
            callers::public(t.access.create.as_ref()) || callers::public(t.access.update.as_ref());
        item.insert(
            "put".into(),
            with_parameters(
                with_body(
                    operation(
                        t,
                        "upsert",
                        "upsert",
                        public,
                        gated(ir, t, &[Operation::Create, Operation::Update], upsert),
                    ),
                    reference(&format!("{}_upsert", t.name)),
                ),
                precondition_parameters(true),
            ),
        );
    }
    let delete_steps = trigger_steps(t, TriggerEvent::Delete);
    let delete = Responses::default()
        .success(200, "Deleted", deleted(t))
        .api()
        .error(
            400,
            if responses::writes(&delete_steps) {
                "VALIDATION_BAD_QUERY: a malformed `If-Match`; or a trigger's write failed validation (VALIDATION_*)"
            } else {
                "VALIDATION_BAD_QUERY: a malformed `If-Match`"
            },
        )
        .error_if(forbidden(ir, t, Operation::Delete, true), 403, NOT_ALLOWED)
        .error(404, NOT_FOUND)
        .error_if(
            responses::restricted(ir, t) || conflicts(ir, &delete_steps),
            409,
            "REFERENCE_VIOLATION: a `restrict` reference still points at the row",
        )
        .error(412, PRECONDITION)
        .custom(&delete_steps);
    item.insert(
        "delete".into(),
        with_parameters(
            operation(
                t,
                "delete",
                "delete",
                callers::public(t.access.delete.as_ref()),
                gated(ir, t, &[Operation::Delete], delete),
            ),
            precondition_parameters(false),
        ),
    );
    item.insert("parameters".into(), json!([id_parameter(t)]));
    Json::Object(item)
}

fn restore(ir: &Ir, t: &Table) -> Json {
    let restore = Responses::default()
        .success(
            200,
            "Restored: the row as the caller may read it",
            data(written(ir, t, &[Operation::Restore])),
        )
        .api()
        .error_if(forbidden(ir, t, Operation::Restore, true), 403, NOT_ALLOWED)
        .error(404, NOT_FOUND)
        .error_if(
            responses::may_dangle(ir, t),
            409,
            "REFERENCE_VIOLATION: the row points at a soft-deleted row (details.fields)",
        );
    json!({
        "parameters": [id_parameter(t)],
        "post": operation(
            t,
            "restore",
            "restore",
            callers::public(t.access.restore.as_ref()),
            gated(ir, t, &[Operation::Restore], restore),
        ),
    })
}

/// `GET /api/T/{id}/history` (SPEC §11).
fn history(ir: &Ir, t: &Table) -> Json {
    let answer = Responses::default()
        .success(
            200,
            "The row's versions the caller may read, newest first",
            schemas::history_page(&t.name),
        )
        .api()
        .error(400, "VALIDATION_BAD_QUERY: a malformed `limit` or `cursor`")
        .error_if(forbidden(ir, t, Operation::History, true), 403, NOT_ALLOWED)
        .error(404, NOT_FOUND);
    json!({
        "parameters": [id_parameter(t)],
        "get": operation(
            t,
            "history",
            "versions of a row of",
            callers::public(t.access.rule(Operation::History)),
            gated(ir, t, &[Operation::History], answer),
        )
        .as_object()
        .cloned()
        .map(|mut op| {
            op.insert("parameters".into(), parameters::history_paging());
            Json::Object(op)
        })
        .unwrap_or(Json::Null),
    })
}

/// What a realtime stream's events are (SPEC §12), for the 200s of the subscribe routes.
const EVENTS: &str = "Server-Sent Events until the client leaves: `insert`, `update`, `enter` \
    (`{table, id, record}`, the row as a list masks it), `delete` and `leave` (`{table, id}`), \
    each with `id:` to resume from; `reset` (re-list); and last `overflow`, `gone` or \
    `auth-expired` (`{lastEventId}`)";

/// `GET /api/T/subscribe` (SPEC §12).
fn subscribe(ir: &Ir, t: &Table) -> Json {
    let answer = Responses::default()
        .stream(EVENTS)
        .api()
        .error(400, BAD_QUERY)
        .error_if(forbidden(ir, t, Operation::List, false), 403, NOT_ALLOWED)
        .error(404, NOT_FOUND);
    json!({
        "get": with_parameters(
            operation(
                t,
                "subscribe",
                "follow changes of",
                callers::public(t.access.list.as_ref()),
                gated(ir, t, &[Operation::List], answer),
            ),
            parameters::subscribe_parameters(t),
        ),
    })
}

/// `GET /api/subscribe?tables=…` and `POST /api/subscribe/ticket`, when a table is realtime.
fn subscribe_everywhere(paths: &mut Map<String, Json>) {
    let mut tables = parameters::resume();
    tables.insert(
        0,
        json!({"name": "tables", "in": "query", "required": true, "schema": {"type": "string"},
               "description": "realtime tables, comma-separated (at most 32)"}),
    );
    let answer = Responses::default()
        .stream(EVENTS)
        .api()
        .error(400, BAD_QUERY)
        .error(403, NOT_ALLOWED)
        .error(404, NOT_FOUND);
    paths.insert(
        "/api/subscribe".into(),
        json!({"get": {
            "operationId": "subscribe",
            "summary": "follow changes of several tables",
            "tags": ["realtime"],
            "security": security(true),
            "parameters": tables,
            "responses": answer.build(),
        }}),
    );
    let ticket = json!({"type": "object", "required": ["ticket", "expiresIn"], "properties": {
        "ticket": {"type": "string"},
        "expiresIn": {"type": "integer", "description": "seconds to open a stream with it"},
    }});
    let answer = Responses::default()
        .success(201, "A single-use ticket standing for the caller", ticket)
        .api();
    paths.insert(
        "/api/subscribe/ticket".into(),
        json!({"post": {
            "operationId": "subscribe_ticket",
            "summary": "a ticket for a browser's EventSource",
            "tags": ["realtime"],
            "security": security(false),
            "responses": answer.build(),
        }}),
    );
}

/// `POST`, `PATCH`, `PUT` (upsert tables) and `DELETE` on `/api/T/batch`.
fn batch(ir: &Ir, t: &Table) -> Json {
    let answers = |ops: &[Operation]| {
        Responses::default()
            .api()
            .error(
                400,
                "INVALID_JSON, BATCH_SIZE_EXCEEDED, BATCH_MISSING_IDS, BATCH_ATOMIC_NOT_ALLOWED, BATCH_ATOMIC_FAILED (nothing written)",
            )
            .error_if(
                ops.iter().any(|op| forbidden(ir, t, *op, false)),
                403,
                NOT_ALLOWED,
            )
            .error(413, TOO_LARGE)
    };
    let sent_record = (
        "record",
        json!({"type": "object", "description": "The record as sent (masked)", "additionalProperties": true}),
    );
    let sent_id = ("id", json!({"type": ["string", "integer"]}));
    // Each verb: its rules, its success status, what a success entry is, what a failure echoes.
    let verbs = [
        (
            "post",
            "batch_create",
            "batch create",
            vec![Operation::Create],
            201,
            written(ir, t, &[Operation::Create]),
            sent_record.clone(),
            batch_body("records", reference(&format!("{}_create", t.name)), false),
        ),
        (
            "patch",
            "batch_update",
            "batch update",
            vec![Operation::Update],
            200,
            written(ir, t, &[Operation::Update]),
            sent_record.clone(),
            batch_body(
                "records",
                reference(&format!("{}_batch_update", t.name)),
                true,
            ),
        ),
        (
            "put",
            "batch_upsert",
            "batch upsert",
            vec![Operation::Create, Operation::Update],
            200,
            written(ir, t, &[Operation::Create, Operation::Update]),
            sent_record,
            batch_body(
                "records",
                reference(&format!("{}_batch_upsert", t.name)),
                true,
            ),
        ),
        (
            "delete",
            "batch_delete",
            "batch delete",
            vec![Operation::Delete],
            200,
            batch_deleted(t),
            sent_id,
            batch_body("ids", id_schema(t.id), true),
        ),
    ];
    let mut batch = Map::new();
    for (method, id, summary, ops, ok, success, sent, body) in verbs {
        if method == "put" && !upsert_allowed(t) {
            continue;
        }
        let responses = answers(&ops)
            .success(
                ok,
                "Every record succeeded",
                batch_answer(success.clone(), sent.clone()),
            )
            .success(
                207,
                "Some records failed (not atomic)",
                batch_answer(success, sent),
            );
        let public = ops.iter().any(|op| callers::public(t.access.rule(*op)));
        batch.insert(
            method.into(),
            with_body(
                operation(t, id, summary, public, gated(ir, t, &ops, responses)),
                body,
            ),
        );
    }
    Json::Object(batch)
}

fn view(ir: &Ir, t: &Table, v: &View, record: &str) -> Json {
    let forbidden =
        callers::refuses_a_token(ir, v.access.as_ref()) || !t.firewall.scopes.is_empty();
    let responses = Responses::default()
        .success(200, "A page of the view's records", page(reference(record)))
        .with_etag()
        .api()
        .error(400, BAD_QUERY)
        .error_if(forbidden, 403, NOT_ALLOWED);
    let mut get = json!({
        "operationId": format!("view_{}_{}", t.name, v.name),
        "summary": format!("view {} of {}", v.name, t.name),
        "tags": [t.name],
        "security": security(callers::public(v.access.as_ref())),
        "parameters": view_parameters(t, v),
        "responses": responses.build(),
    });
    if let Some(d) = &v.description {
        get["description"] = json!(d);
    }
    json!({ "get": get })
}

fn schema_route(ir: &Ir, t: &Table) -> Json {
    let responses = Responses::default()
        .success(
            200,
            "JSON Schema 2020-12 of the records, as this caller sees them",
            json!({
                "type": "object",
                "properties": {
                    "$schema": {"type": "string"},
                    "title": {"type": "string"},
                    "type": {"const": "object"},
                    "properties": {"type": "object", "additionalProperties": true},
                    "required": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["$schema", "title", "type", "properties"],
                "additionalProperties": true,
            }),
        )
        .error(401, "No valid token")
        .error_if(
            callers::refuses_a_token(ir, t.access.list.as_ref()),
            403,
            NOT_ALLOWED,
        );
    json!({"get": {
        "operationId": format!("schema_{}", t.name),
        "summary": format!("JSON Schema of {} records", t.name),
        "tags": [t.name],
        "security": security(callers::public(t.access.list.as_ref())),
        "responses": responses.build(),
    }})
}

/// The whole document.
pub fn document(ir: &Ir) -> Json {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas::shared(&mut schemas);
    paths.insert(
        "/healthz".into(),
        json!({"get": {
            "operationId": "healthz",
            "summary": "liveness and the serving IR's hash",
            "security": [{}],
            "responses": Responses::default().success(200, "Serving", json!({
                "type": "object",
                "properties": {"status": {"const": "ok"}, "ir": {"type": "string"}},
                "required": ["status", "ir"],
                "additionalProperties": false,
            })).build()
        }}),
    );
    paths.insert(
        "/readyz".into(),
        json!({"get": {
            "operationId": "readyz",
            "summary": "readiness: the database answers a real query",
            "security": [{}],
            "responses": Responses::default().success(200, "Ready", json!({
                "type": "object",
                "properties": {"status": {"const": "ready"}, "ir": {"type": "string"}},
                "required": ["status", "ir"],
                "additionalProperties": false,
            })).error(503, "DATABASE_UNAVAILABLE: the database does not answer").build()
        }}),
    );
    for t in &ir.tables {
        let name = &t.name;
        let text_id = (t.id == IdKind::Text).then_some(true);
        schemas.insert(name.clone(), record_schema(ir, t));
        schemas.insert(
            format!("{name}_create"),
            body_schema(t, &t.guards.createable, true, text_id),
        );
        schemas.insert(
            format!("{name}_update"),
            body_schema(t, &t.guards.updatable, false, None),
        );
        schemas.insert(
            format!("{name}_batch_update"),
            body_schema(t, &t.guards.updatable, false, Some(true)),
        );
        if upsert_allowed(t) {
            // The update path takes a partial body; the create path's required columns are
            // checked by validation (400), not by the schema.
            schemas.insert(
                format!("{name}_upsert"),
                body_schema(t, &t.guards.createable, false, Some(false)),
            );
            schemas.insert(
                format!("{name}_batch_upsert"),
                body_schema(t, &t.guards.createable, false, Some(true)),
            );
        }
        let base = format!("/api/{name}");
        paths.insert(base.clone(), collection(ir, t));
        paths.insert(format!("{base}/{{id}}"), item(ir, t));
        if t.delete == DeleteMode::Soft {
            paths.insert(format!("{base}/{{id}}/restore"), restore(ir, t));
        }
        if t.history.is_some() {
            paths.insert(format!("{base}/{{id}}/history"), history(ir, t));
        }
        if t.realtime {
            paths.insert(format!("{base}/subscribe"), subscribe(ir, t));
        }
        for c in t.file_columns() {
            let (download, url) = files::paths(ir, t, c);
            paths.insert(format!("{base}/{{id}}/file/{}", c.name), download);
            paths.insert(format!("{base}/{{id}}/file/{}/url", c.name), url);
        }
        paths.insert(format!("{base}/schema"), schema_route(ir, t));
        for a in &t.actions {
            paths.insert(
                format!("{base}/{{id}}/{}", a.name),
                actions::action_path(ir, Some(t), a),
            );
        }
        for v in &t.views {
            let record = format!("{name}_view_{}", v.name);
            schemas.insert(record.clone(), view_record_schema(ir, t, &v.fields));
            paths.insert(format!("{base}/views/{}", v.name), view(ir, t, v, &record));
        }
        if t.batch.enabled {
            paths.insert(format!("{base}/batch"), batch(ir, t));
        }
    }
    for a in &ir.actions {
        paths.insert(
            format!("/api/actions/{}", a.name),
            actions::action_path(ir, None, a),
        );
    }
    if ir.tables.iter().any(|t| t.realtime) {
        subscribe_everywhere(&mut paths);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "ward API",
            "version": ir.hash.get(..12).unwrap_or(&ir.hash),
            "description": "Generated by ward from the project's resources. Every error is the `Error` envelope: `code` is stable, `layer` says which check refused. `?fields=` answers only the keys it names."
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        }
    })
}
