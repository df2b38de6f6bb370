//! JSON Schemas of what crosses the wire: column values as written and as answered, records,
//! write bodies, and the envelopes every answer of a kind shares (SPEC §5.2–§5.5).

use serde_json::{Map, Value as Json, json};
use ward_ir::{Column, ColumnType, IdKind, Ir, MaskKind, Table, label_key, system};

pub fn reference(name: &str) -> Json {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

pub fn id_schema(kind: IdKind) -> Json {
    match kind {
        IdKind::Uuid => json!({"type": "string", "format": "uuid"}),
        IdKind::Integer => json!({"type": "integer", "format": "int64"}),
        IdKind::Text => json!({"type": "string"}),
    }
}

/// A value of `ty`.
pub fn type_schema(ty: ColumnType) -> Json {
    match ty {
        ColumnType::Text => json!({"type": "string"}),
        ColumnType::Integer => json!({"type": "integer", "format": "int64"}),
        ColumnType::Float => json!({"type": "number"}),
        ColumnType::Boolean => json!({"type": "boolean"}),
        ColumnType::Uuid => json!({"type": "string", "format": "uuid"}),
        ColumnType::Datetime => json!({"type": "string", "format": "date-time"}),
        ColumnType::Date => json!({"type": "string", "format": "date"}),
        ColumnType::Json => json!({}),
        ColumnType::File => json!({"$ref": "#/components/schemas/FileMetadata"}),
    }
}

/// `s` or `null`: a type list where `s` is one plain type (generators read it as `T | null`),
/// else `anyOf`. The JSON type `{}` already admits null.
pub fn nullable(s: Json) -> Json {
    if s.as_object().is_some_and(Map::is_empty) {
        return s;
    }
    match s.get("type").and_then(Json::as_str) {
        Some(ty) if s.get("$ref").is_none() => {
            let mut s = s.clone();
            s["type"] = json!([ty, "null"]);
            if let Some(values) = s.get_mut("enum").and_then(Json::as_array_mut) {
                values.push(Json::Null);
            }
            s
        }
        _ => json!({"anyOf": [s, {"type": "null"}]}),
    }
}

/// A value written to `c` (a column or an action input), with validation's constraints.
pub fn value_schema(c: &Column) -> Json {
    let mut s = type_schema(c.ty);
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
        let values: Vec<Json> = c.one_of.iter().map(crate::gate::literal_json).collect();
        obj.insert("enum".into(), json!(values));
    }
    if let Some(d) = &c.description {
        obj.insert("description".into(), json!(d));
    }
    s
}

/// A column as a record answers it: the stored type (constraints are for writes; stored rows
/// may predate them), widened by what masking can put there for some caller.
pub fn answered_schema(t: &Table, c: &Column) -> Json {
    let raw = if c.name == system::ID {
        id_schema(t.id)
    } else {
        type_schema(c.ty)
    };
    let mut nullable_value = !c.required;
    let mut s = match t.mask(&c.name).map(|m| m.kind) {
        None | Some(MaskKind::Hidden) => raw,
        // Redaction writes "[REDACTED]" into text and null into any other type.
        Some(MaskKind::Redact) if c.ty == ColumnType::Text => raw,
        Some(MaskKind::Redact) => {
            nullable_value = true;
            raw
        }
        // The other kinds write a string; text-like values lose their format to it.
        Some(_) => match c.ty {
            ColumnType::Text | ColumnType::Uuid | ColumnType::Datetime | ColumnType::Date => {
                json!({"type": "string"})
            }
            ColumnType::Json => raw,
            _ => json!({"anyOf": [raw, {"type": "string"}]}),
        },
    };
    if nullable_value {
        s = nullable(s);
    }
    if let Some(d) = &c.description
        && let Some(obj) = s.as_object_mut()
    {
        obj.insert("description".into(), json!(d));
    }
    s
}

/// The label keys of `t`'s records: reference column → (key, schema of the target's display
/// column as answered, or null when the target is not visible).
pub fn labels(ir: &Ir, t: &Table) -> Vec<(String, Json)> {
    let mut out = Vec::new();
    for l in ir.labels(t) {
        let Some(display) = l.target.column(l.display) else {
            continue;
        };
        let key = l.key;
        let mut shown = answered_schema(l.target, display);
        if let Some(obj) = shown.as_object_mut() {
            obj.remove("description");
        }
        out.push((key, nullable(shown)));
    }
    out
}

/// `_expand`: each reference column as its target's record (or null), each relation as a list
/// of child records.
fn expansions(ir: &Ir, t: &Table) -> Option<Json> {
    let mut props = Map::new();
    for c in &t.columns {
        if let Some(r) = &c.references
            && ir.table(&r.table).is_some()
        {
            props.insert(c.name.clone(), nullable(reference(&r.table)));
        }
    }
    for rel in &t.relations {
        props.insert(
            rel.name.clone(),
            json!({"type": "array", "items": reference(&rel.table)}),
        );
    }
    (!props.is_empty()).then(|| {
        json!({
            "type": "object",
            "description": "Only with `expand=`: the referenced row (null when not visible) or up to 100 child rows",
            "properties": props,
            "additionalProperties": false,
        })
    })
}

/// A record as answered. Every key is present except a column hidden from the caller by a
/// `hidden` mask; labels are always present, `_expand` only with `expand=`. A `fields=`
/// projection answers only the keys it names.
pub fn record_schema(ir: &Ir, t: &Table) -> Json {
    let mut props = Map::new();
    let mut required = Vec::new();
    for c in &t.columns {
        props.insert(c.name.clone(), answered_schema(t, c));
        let hideable = t.mask(&c.name).is_some_and(|m| m.kind == MaskKind::Hidden);
        if !hideable {
            required.push(c.name.clone());
        }
    }
    for (key, schema) in labels(ir, t) {
        required.push(key.clone());
        props.insert(key, schema);
    }
    if let Some(expand) = expansions(ir, t) {
        props.insert("_expand".into(), expand);
    }
    let mut s = json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    });
    if let Some(d) = &t.description {
        s["description"] = json!(d);
    }
    s
}

/// The record of a view: the view's fields and the labels of those among them that have one.
pub fn view_record_schema(ir: &Ir, t: &Table, fields: &[String]) -> Json {
    let mut s = record_schema(ir, t);
    let labels: Vec<(String, String)> = t
        .columns
        .iter()
        .map(|c| (c.name.clone(), label_key(&c.name)))
        .collect();
    let keep = |k: &str| {
        fields.iter().any(|f| f == k)
            || labels
                .iter()
                .any(|(col, label)| label == k && fields.contains(col))
    };
    if let Some(props) = s.get_mut("properties").and_then(Json::as_object_mut) {
        props.retain(|k, _| keep(k));
    }
    if let Some(required) = s.get_mut("required").and_then(Json::as_array_mut) {
        required.retain(|k| k.as_str().is_some_and(keep));
    }
    s
}

/// `{"id": …}` alone: what a write answers a caller whose `read` rule does not show the row.
pub fn id_only(t: &Table) -> Json {
    json!({
        "type": "object",
        "description": "The written row's id alone: the caller's `read` rule does not show the row",
        "properties": {"id": id_schema(t.id)},
        "required": ["id"],
        "additionalProperties": false,
    })
}

/// What a body may set: `fields` (guarded columns) with validation's constraints, `id` where
/// the client chooses it (`with_id`: required or optional), `required` columns on create.
pub fn body_schema(t: &Table, fields: &[String], create: bool, with_id: Option<bool>) -> Json {
    let mut props = Map::new();
    let mut required = Vec::new();
    if let Some(id_required) = with_id {
        props.insert(system::ID.into(), id_schema(t.id));
        if id_required {
            required.push(system::ID.to_owned());
        }
    }
    for name in fields {
        let Some(c) = t.column(name) else { continue };
        if c.ty == ColumnType::File {
            // JSON carries no file: null removes it; an upload is a multipart part.
            props.insert(
                c.name.clone(),
                json!({"type": "null", "description": "Upload the file as a part of a multipart/form-data body; null removes it"}),
            );
            continue;
        }
        let s = value_schema(c);
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
pub fn table_schema(ir: &Ir, t: &Table) -> Json {
    let mut s = record_schema(ir, t);
    s["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    s["title"] = json!(t.name);
    if let Some(d) = &t.description {
        s["description"] = json!(d);
    }
    s
}

/// The multipart form of a create or update body of a table with file columns: a binary part
/// per file column, every other field as the JSON body types it (sent as form text).
pub fn multipart_schema(t: &Table, fields: &[String]) -> Json {
    let mut props = Map::new();
    for name in fields {
        let Some(c) = t.column(name) else { continue };
        let s = if c.ty == ColumnType::File {
            // OpenAPI 3.1: binary content is described by its media type, not a `string` type.
            let mut part = json!({"contentMediaType": "application/octet-stream"});
            if let Some(rules) = &c.file {
                part["description"] = json!(format!(
                    "At most {} bytes{}; the type is read from the content",
                    rules.max_size,
                    if rules.types.is_empty() {
                        String::new()
                    } else {
                        format!(", one of {}", rules.types.join(", "))
                    }
                ));
            }
            part
        } else {
            value_schema(c)
        };
        props.insert(c.name.clone(), s);
    }
    json!({"type": "object", "properties": props})
}

/// The schemas every document has: the error envelope, pagination, batch meta.
pub fn shared(schemas: &mut Map<String, Json>) {
    schemas.insert(
        "FileMetadata".into(),
        json!({
            "type": "object",
            "description": "A file column's value (SPEC §13); the bytes are at `GET /api/T/{id}/file/COL`",
            "properties": {
                "name": {"type": "string", "description": "The client's filename, as metadata"},
                "size": {"type": "integer", "format": "int64", "minimum": 0},
                "type": {"type": "string", "description": "The media type recognised from the content"},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}
            },
            "required": ["name", "size", "type", "sha256"],
            "additionalProperties": false
        }),
    );
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "description": "Every error, everywhere (SPEC §5.4). `NOT_FOUND` is one fixed body.",
            "properties": {
                "error": {"type": "string", "description": "For humans"},
                "layer": {"type": "string", "enum": [
                    "auth", "firewall", "access", "guards", "validation", "batch", "database",
                    "action", "internal", "server"
                ]},
                "code": {"type": "string", "description": "Stable: what a program branches on"},
                "details": {
                    "type": "object",
                    "description": "Per code (docs/errors.md); the keys below are the common ones",
                    "properties": {
                        "fields": {
                            "description": "VALIDATION_*: each failing field's code and message; GUARD_*: the offending fields",
                            "anyOf": [
                                {"type": "array", "items": {"type": "string"}},
                                {"type": "object", "additionalProperties": {
                                    "type": "object",
                                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                                    "required": ["code", "message"]
                                }}
                            ]
                        },
                        "parameter": {"type": "string", "description": "VALIDATION_BAD_QUERY: the parameter"},
                        "reason": {"description": "AUTH_INVALID_TOKEN: why (a word); BATCH_ATOMIC_FAILED: the failing record's error"},
                        "required": {"type": "array", "items": {"type": "string"}},
                        "current": {},
                        "requestId": {"type": "string"},
                        "max": {"type": "integer"},
                        "actual": {"type": "integer"},
                        "indices": {"type": "array", "items": {"type": "integer"}},
                        "failedAt": {"type": "integer"}
                    },
                    "additionalProperties": true
                },
                "hint": {"type": "string"}
            },
            "required": ["error", "layer", "code"],
            "additionalProperties": false,
        }),
    );
    schemas.insert(
        "Pagination".into(),
        json!({
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "minimum": 1},
                "offset": {"type": "integer", "minimum": 0},
                "count": {"type": "integer", "minimum": 0, "description": "Rows in this page"},
                "hasMore": {"type": "boolean"},
                "nextCursor": {"type": "string", "description": "Present when `hasMore`: pass it as `cursor` with the same sort and filters"},
                "total": {"type": "integer", "minimum": 0, "description": "Present with `total=true`"}
            },
            "required": ["limit", "offset", "count", "hasMore"],
            "additionalProperties": false,
        }),
    );
    schemas.insert(
        "BatchMeta".into(),
        json!({
            "type": "object",
            "properties": {
                "total": {"type": "integer", "minimum": 0},
                "succeeded": {"type": "integer", "minimum": 0},
                "failed": {"type": "integer", "minimum": 0},
                "atomic": {"type": "boolean"}
            },
            "required": ["total", "succeeded", "failed", "atomic"],
            "additionalProperties": false,
        }),
    );
}

/// A page of `item`s.
pub fn page(item: Json) -> Json {
    json!({
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": item},
            "pagination": reference("Pagination")
        },
        "required": ["data", "pagination"],
        "additionalProperties": false,
    })
}

/// A page of a row's versions (SPEC §11). An image is an object of the table's columns as the
/// caller may read them today — without the columns `history` excludes, or those added since
/// it was written — or null where the caller could not read it.
pub fn history_page(table: &str) -> Json {
    let image = json!({
        "type": ["object", "null"],
        "description": format!("The {table} row as it was, masked for the caller; null where they could not read it"),
        "additionalProperties": true,
    });
    json!({
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "version": {"type": "integer", "description": "Increases with every change of the table"},
                    "op": {"type": "string", "enum": ["insert", "update", "delete", "soft-delete", "restore"]},
                    "at": {"type": ["string", "null"], "format": "date-time"},
                    "actor": {"type": ["string", "null"], "description": "The writer's token subject"},
                    "before": image.clone(),
                    "after": image,
                },
                "required": ["version", "op", "at", "actor", "before", "after"],
                "additionalProperties": false,
            }},
            "pagination": {
                "type": "object",
                "properties": {
                    "limit": {"type": "integer", "minimum": 1},
                    "count": {"type": "integer", "minimum": 0},
                    "hasMore": {"type": "boolean"},
                    "nextCursor": {"type": "string", "description": "Present when `hasMore`: pass it as `cursor`"}
                },
                "required": ["limit", "count", "hasMore"],
                "additionalProperties": false,
            }
        },
        "required": ["data", "pagination"],
        "additionalProperties": false,
    })
}

/// `{"data": value}`.
pub fn data(value: Json) -> Json {
    json!({
        "type": "object",
        "properties": {"data": value},
        "required": ["data"],
        "additionalProperties": false,
    })
}

/// `{"data": {"id", "deleted": true}}`.
pub fn deleted(t: &Table) -> Json {
    data(json!({
        "type": "object",
        "properties": {"id": id_schema(t.id), "deleted": {"const": true}},
        "required": ["id", "deleted"],
        "additionalProperties": false,
    }))
}

/// A batch delete's success entry.
pub fn batch_deleted(t: &Table) -> Json {
    json!({
        "type": "object",
        "properties": {
            "id": id_schema(t.id),
            "deleted": {"const": true},
            "deletedAt": {"type": "string", "format": "date-time"},
            "deletedBy": {"type": ["string", "null"]}
        },
        "required": ["id", "deleted", "deletedAt", "deletedBy"],
        "additionalProperties": false,
    })
}

/// A batch answer: the successes, the failures (by index, with what was sent), the counts.
/// `sent` is the key naming what was sent (`record` or `id`) and its schema.
pub fn batch_answer(success: Json, sent: (&str, Json)) -> Json {
    let (key, sent) = sent;
    json!({
        "type": "object",
        "properties": {
            "success": {"type": "array", "items": success},
            "errors": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    key: sent,
                    "error": reference("Error")
                },
                "required": ["index", key, "error"],
                "additionalProperties": false,
            }},
            "meta": reference("BatchMeta")
        },
        "required": ["success", "errors", "meta"],
        "additionalProperties": false,
    })
}

/// The body of a batch write: its records (or ids) and options; `versioned` batches (update,
/// upsert, delete) may name the version each record must be at (`options.ifMatch`).
pub fn batch_body(key: &str, items: Json, versioned: bool) -> Json {
    let mut options = json!({"atomic": {"type": "boolean", "default": false}});
    if versioned {
        options["ifMatch"] = json!({
            "type": "object",
            "description": "record id → the `If-Match` value for that record: `*` or quoted strong ETags; a record at another version fails with PRECONDITION_FAILED",
            "additionalProperties": {"type": "string"},
        });
    }
    json!({
        "type": "object",
        "properties": {
            key: {"type": "array", "items": items},
            "options": {
                "type": "object",
                "properties": options,
                "additionalProperties": false,
            }
        },
        "required": [key],
        "additionalProperties": false,
    })
}
