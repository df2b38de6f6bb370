#![allow(clippy::unwrap_used)]

//! `GET /openapi.json` (public) and `GET /api/T/schema` (the table's `list` access): generated
//! from the IR being served, and self-consistent (every `$ref` resolves, every table and view has
//! its routes).

use crate::common;

use common::ir::*;
use common::*;
use serde_json::Value;
use ward_ir::{ColumnType, MaskKind, Operation};
use ward_test_macros::backends;

fn project(hash: &str) -> ward_ir::Ir {
    let notes = table("notes")
        .text("title")
        .col(column("count", ColumnType::Integer))
        .crud("member+")
        .access(Operation::List, rule("public"))
        .createable(&["title", "count"])
        .updatable(&["title"])
        .soft()
        .build();
    let secrets = table("secrets")
        .text("label")
        .text("pin")
        .mask("pin", MaskKind::Hidden, "admin", None)
        .crud("member+")
        .createable(&["label", "pin"])
        .build();
    let mut ir = ir(vec![notes, secrets]);
    ir.hash = hash.into();
    ir
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[backends]
async fn the_document_describes_what_is_served() {
    let s = start(project("v1")).await;
    let r = s.req("GET", "/openapi.json", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/healthz",
        "/api/notes",
        "/api/notes/{id}",
        "/api/notes/{id}/restore",
        "/api/notes/batch",
        "/api/notes/schema",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    // A public list needs no token; a member-only create does.
    assert_eq!(
        doc["paths"]["/api/notes"]["get"]["security"],
        serde_json::json!([{}, {"bearer": []}])
    );
    assert_eq!(
        doc["paths"]["/api/notes"]["post"]["security"],
        serde_json::json!([{"bearer": []}])
    );
    let create = &doc["components"]["schemas"]["notes_create"];
    assert_eq!(create["additionalProperties"], false);
    assert!(create["properties"].get("count").is_some());
    assert!(create["properties"].get("ownerId").is_none());
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} does not resolve"
        );
    }

    let r = s.req("GET", "/api/notes/schema", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let schema = r.json();
    assert_eq!(schema["title"], "notes");
    assert!(schema["properties"].get("count").is_some());
    let r = s.req("GET", "/api/nope/schema", None, None).await;
    assert_eq!(r.code(), "NOT_FOUND");
    let r = s.req("DELETE", "/api/notes/schema", None, None).await;
    assert_eq!(r.code(), "NOT_FOUND");

    // After a reload the new column is in both at once.
    let mut next = project("v2");
    next.tables[0]
        .columns
        .insert(3, column("extra", ColumnType::Boolean));
    s.app.reload(next, false).await.unwrap();
    let doc = s.req("GET", "/openapi.json", None, None).await.json();
    assert!(
        doc["components"]["schemas"]["notes"]["properties"]
            .get("extra")
            .is_some()
    );
    let schema = s.req("GET", "/api/notes/schema", None, None).await.json();
    assert!(schema["properties"].get("extra").is_some());
}

#[backends]
async fn a_schema_needs_list_access_and_leaves_out_hidden_columns() {
    let s = start(project("v1")).await;
    let r = s.req("GET", "/api/secrets/schema", None, None).await;
    assert_eq!(r.code(), "AUTH_MISSING");
    let viewer = s.token("v", &["viewer"], None);
    let r = s.get("/api/secrets/schema", &viewer).await;
    assert_eq!(r.code(), "ACCESS_ROLE_REQUIRED");
    let member = s.token("m", &["member"], None);
    let schema = s.get("/api/secrets/schema", &member).await.json();
    assert!(schema["properties"].get("label").is_some());
    assert!(
        schema["properties"].get("pin").is_none(),
        "hidden from members"
    );
    let admin = s.token("a", &["admin"], None);
    let schema = s.get("/api/secrets/schema", &admin).await.json();
    assert!(schema["properties"].get("pin").is_some());
    let doc = s.req("GET", "/openapi.json", None, None).await.json();
    assert_eq!(
        doc["paths"]["/api/secrets/schema"]["get"]["security"],
        serde_json::json!([{"bearer": []}])
    );
}

#[backends]
async fn views_and_actions_are_documented() {
    let sources = ward_compiler::Sources::single(
        "p.kdl",
        r#"
        auth { roles member }
        table rooms {
            column name text
            column capacity integer
            column notes text
            firewall none
            access { list member }
            action close {
                description "Close a room"
                access member
                input reason text max-length=20
                return record
            }
            view big {
                description "Large rooms"
                fields name capacity
                param min integer default=10 { when capacity gte (param)min }
                filterable name
                sortable capacity
            }
        }
        action lookup method=GET {
            access member
            input q text required=#true
            return { field q (input)q }
        }
        action add {
            access member
            input name text required=#true
            insert rooms { set name (input)name }
            return inserted
        }
        "#,
    );
    let s = start(ward_compiler::compile(&sources).ir.unwrap()).await;
    let doc = s.req("GET", "/openapi.json", None, None).await.json();
    let lookup = &doc["paths"]["/api/actions/lookup"]["get"];
    assert_eq!(lookup["parameters"][0]["name"], "q");
    assert_eq!(lookup["parameters"][0]["required"], true);
    // `rooms` grants no `read`: an insert answers the new row's id alone, and says so.
    let add = &doc["paths"]["/api/actions/add"]["post"];
    let data =
        &add["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"];
    assert_eq!(data["required"], serde_json::json!(["id"]), "{data}");
    assert_eq!(data["additionalProperties"], false);
    let lookup_data =
        &lookup["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"];
    assert_eq!(lookup_data["required"], serde_json::json!(["q"]));
    assert_eq!(lookup_data["properties"]["q"]["type"], "string");
    let op = &doc["paths"]["/api/rooms/views/big"]["get"];
    assert_eq!(op["description"], "Large rooms");
    let params: Vec<&str> = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(params.contains(&"min") && params.contains(&"name") && params.contains(&"sort"));
    assert!(
        !params.contains(&"notes") && !params.contains(&"search") && !params.contains(&"expand")
    );
    let min = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "min")
        .unwrap();
    assert_eq!(min["schema"]["default"], 10);
    let close = &doc["paths"]["/api/rooms/{id}/close"]["post"];
    assert_eq!(close["description"], "Close a room");
    let body = &close["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["additionalProperties"], false);
    assert!(body["properties"].get("reason").is_some());
    // Nothing in `close` can conflict (no condition, no write); a missing row is a 404.
    assert!(close["responses"].get("409").is_none());
    assert!(close["responses"].get("404").is_some());
    let record = &doc["components"]["schemas"]["rooms_view_big"]["properties"];
    let mut keys: Vec<&String> = record.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["capacity", "id", "name"]);
}

/// The parameter `name` of an operation.
fn param<'a>(op: &'a Value, name: &str) -> &'a Value {
    op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
}

fn statuses(op: &Value) -> Vec<String> {
    op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// SPEC §5.1 "The OpenAPI document is exact": typed filters and envelopes, `required` on what is
/// always answered, `id` where the client sends it, every status an operation can answer.
#[tokio::test]
async fn the_document_is_exact_about_types_and_statuses() {
    let sources = ward_compiler::Sources::single(
        "p.kdl",
        r#"
        auth { roles member admin }
        table kinds {
            column label text required=#true display=#true
            firewall none
            access { list member+; read member+; create admin; delete admin }
            guards { createable label }
            delete hard
        }
        table rooms {
            column name text required=#true max-length=20
            column capacity integer min=1
            column open boolean required=#true default=#true
            column kindId uuid references=kinds on-delete=restrict
            column contactEmail text
            firewall none
            access {
                list member+
                read member+
                create member+
                update member+ { when open eq #true }
                delete admin
            }
            guards { createable name capacity open kindId contactEmail; updatable name capacity open; }
            masking { mask contactEmail email show=admin }
        }
        table settings {
            id text
            column value text
            firewall none
            access { list member+; read admin; create member+; update member+ }
            guards open
            delete hard
        }
        "#,
    );
    let s = start(ward_compiler::compile(&sources).ir.unwrap()).await;
    let doc = s.req("GET", "/openapi.json", None, None).await.json();
    assert_eq!(doc["servers"], serde_json::json!([{"url": "/"}]));

    // Filters typed by their column, one parameter per operator.
    let list = &doc["paths"]["/api/rooms"]["get"];
    assert_eq!(param(list, "open")["schema"]["type"], "boolean");
    assert_eq!(param(list, "capacity.gte")["schema"]["type"], "integer");
    assert_eq!(param(list, "name.like")["schema"]["type"], "string");
    let within = param(list, "capacity.in");
    assert_eq!(within["schema"]["type"], "array");
    assert_eq!(within["schema"]["items"]["type"], "integer");
    assert_eq!(within["explode"], false);
    assert_eq!(
        param(list, "kindId.is")["schema"]["enum"],
        serde_json::json!(["null", "not-null"])
    );
    assert!(statuses(list).contains(&"304".to_owned()));
    let page = &list["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(
        page["properties"]["pagination"]["$ref"],
        "#/components/schemas/Pagination"
    );
    let pagination = &doc["components"]["schemas"]["Pagination"];
    assert_eq!(
        pagination["required"],
        serde_json::json!(["limit", "offset", "count", "hasMore"])
    );

    // Records: every column and label is always answered; masked text is a plain string.
    let rooms = &doc["components"]["schemas"]["rooms"];
    let required: Vec<&str> = rooms["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for key in [
        "id",
        "name",
        "capacity",
        "kind_label",
        "createdAt",
        "deletedBy",
    ] {
        assert!(required.contains(&key), "{key} not required: {required:?}");
    }
    assert_eq!(rooms["additionalProperties"], false);
    assert_eq!(
        rooms["properties"]["contactEmail"]["type"],
        serde_json::json!(["string", "null"])
    );
    assert_eq!(
        rooms["properties"]["kind_label"]["type"],
        serde_json::json!(["string", "null"])
    );

    // Statuses: a reference makes create answer 409, a `when` makes update answer 403, a
    // restrict reference makes deleting its target answer 409; no body, no 413.
    let create = &doc["paths"]["/api/rooms"]["post"];
    assert!(statuses(create).contains(&"409".to_owned()));
    let update = &doc["paths"]["/api/rooms/{id}"]["patch"];
    assert!(statuses(update).contains(&"403".to_owned()));
    let delete_kind = &doc["paths"]["/api/kinds/{id}"]["delete"];
    assert!(statuses(delete_kind).contains(&"409".to_owned()));
    assert!(!statuses(delete_kind).contains(&"413".to_owned()));
    let deleted = &delete_kind["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(
        deleted["properties"]["data"]["required"],
        serde_json::json!(["id", "deleted"])
    );
    let batch = &doc["paths"]["/api/rooms/batch"];
    assert!(statuses(&batch["post"]).contains(&"207".to_owned()));
    assert!(batch.get("put").is_none(), "rooms has no upsert");
    let answer = &batch["patch"]["responses"]["207"]["content"]["application/json"]["schema"];
    assert_eq!(
        answer["properties"]["meta"]["$ref"],
        "#/components/schemas/BatchMeta"
    );
    assert_eq!(
        answer["properties"]["errors"]["items"]["required"],
        serde_json::json!(["index", "record", "error"])
    );
    let items = &doc["components"]["schemas"]["rooms_batch_update"];
    assert_eq!(items["required"], serde_json::json!(["id"]));

    // A client-chosen id: required on create, batch upsert served, PUT answers 200 or 201, and
    // members (who may not read settings) get the id alone.
    let create_settings = &doc["components"]["schemas"]["settings_create"];
    assert_eq!(create_settings["required"], serde_json::json!(["id"]));
    let put = &doc["paths"]["/api/settings/{id}"]["put"];
    assert!(statuses(put).contains(&"200".to_owned()));
    assert!(statuses(put).contains(&"201".to_owned()));
    let data =
        &put["responses"]["201"]["content"]["application/json"]["schema"]["properties"]["data"];
    assert_eq!(data["anyOf"].as_array().map(Vec::len), Some(2), "{data}");
    assert!(doc["paths"]["/api/settings/batch"].get("put").is_some());
    let uniques = &doc["paths"]["/api/settings"]["post"];
    assert!(
        statuses(uniques).contains(&"409".to_owned()),
        "an existing id"
    );
}
