#![allow(clippy::unwrap_used)]

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::json;
use ward_ir::{Column, ColumnType, Literal, Number};

fn project() -> ward_ir::Ir {
    let t = table("rooms")
        .col(Column {
            required: true,
            max_length: Some(5),
            min_length: Some(2),
            ..column("name", ColumnType::Text)
        })
        .col(Column {
            min: Some(Number::Integer(1)),
            max: max(10),
            ..column("capacity", ColumnType::Integer)
        })
        .col(Column {
            pattern: Some("^[a-z]+$".into()),
            ..column("slug", ColumnType::Text)
        })
        .col(Column {
            one_of: vec![Literal::Text("a".into()), Literal::Text("b".into())],
            ..column("kind", ColumnType::Text)
        })
        .text("roomTypeId")
        .text("status")
        .text("secretNotes")
        .text("org")
        .scope("org", "org-id", "")
        .crud("member+")
        .createable(&["name", "capacity", "slug", "kind", "roomTypeId"])
        .updatable(&["name", "capacity", "slug", "kind"])
        .immutable(&["roomTypeId"])
        .protected("status", &["archive", "reopen"])
        .build();
    ir(vec![t])
}

fn max(n: i64) -> Option<Number> {
    Some(Number::Integer(n))
}

#[backends]
async fn guard_precedence_and_details() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], Some("o"));
    let post = |b| s.post("/api/rooms", &t, b);
    let r =
        post(json!({"id": "x", "org": "y", "status": "z", "secretNotes": "q", "bogus": 1})).await;
    assert_eq!(r.json()["code"], "GUARD_SYSTEM_MANAGED");
    assert_eq!(r.json()["details"]["fields"], json!(["id", "org"]));
    let r = post(json!({"status": "z", "secretNotes": "q", "bogus": 1})).await;
    assert_eq!(r.json()["code"], "GUARD_FIELD_PROTECTED");
    assert_eq!(
        r.json()["details"],
        json!({"fields": ["status"], "actions": ["archive", "reopen"]})
    );
    let r = post(json!({"secretNotes": "q", "bogus": 1, "name": "ok"})).await;
    assert_eq!(r.json()["code"], "GUARD_FIELD_NOT_CREATEABLE");
    assert_eq!(r.json()["details"]["fields"], json!(["secretNotes"]));
    let r = post(json!({"bogus": 1, "name": 5})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "VALIDATION_UNKNOWN_FIELD");
    assert_eq!(r.json()["details"]["fields"], json!(["bogus"]));

    let id = id_str(
        &s.create("rooms", &t, json!({"name": "ok", "roomTypeId": "rt"}))
            .await,
    );
    let path = format!("/api/rooms/{id}");
    let r = s
        .patch(
            &path,
            &t,
            json!({"roomTypeId": "x", "secretNotes": "y", "status": "z"}),
        )
        .await;
    assert_eq!(r.json()["code"], "GUARD_FIELD_IMMUTABLE");
    assert_eq!(r.json()["details"]["fields"], json!(["roomTypeId"]));
    let r = s.patch(&path, &t, json!({"secretNotes": "y"})).await;
    assert_eq!(r.json()["code"], "GUARD_FIELD_NOT_UPDATABLE");
    let r = s
        .patch(&path, &t, json!({"createdAt": "2020-01-01T00:00:00Z"}))
        .await;
    assert_eq!(r.json()["code"], "GUARD_SYSTEM_MANAGED");
}

#[backends]
async fn validation_codes_and_details() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], Some("o"));
    let post = |b| s.post("/api/rooms", &t, b);
    let r = post(json!({})).await;
    assert_eq!(r.json()["code"], "VALIDATION_REQUIRED");
    assert_eq!(
        r.json()["details"]["fields"]["name"]["code"],
        "VALIDATION_REQUIRED"
    );
    let r = post(json!({"name": 5})).await;
    assert_eq!(r.json()["code"], "VALIDATION_TYPE");
    let r = post(json!({"name": "x"})).await;
    assert_eq!(r.json()["code"], "VALIDATION_LENGTH");
    let r = post(json!({"name": "ok", "capacity": 11})).await;
    assert_eq!(r.json()["code"], "VALIDATION_RANGE");
    let r = post(json!({"name": "ok", "capacity": 2.5})).await;
    assert_eq!(r.json()["code"], "VALIDATION_TYPE");
    let r = post(json!({"name": "ok", "slug": "Not Slug"})).await;
    assert_eq!(r.json()["code"], "VALIDATION_PATTERN");
    let r = post(json!({"name": "ok", "kind": "c"})).await;
    assert_eq!(r.json()["code"], "VALIDATION_ENUM");
    assert_eq!(r.json()["layer"], "validation");
    // Several failures: the code of the first in column order, every field in details.
    let r = post(json!({"name": "toolongname", "capacity": 0, "kind": "z"})).await;
    assert_eq!(r.json()["code"], "VALIDATION_LENGTH");
    let f = &r.json()["details"]["fields"];
    assert_eq!(f["name"]["code"], "VALIDATION_LENGTH");
    assert_eq!(f["capacity"]["code"], "VALIDATION_RANGE");
    assert_eq!(f["kind"]["code"], "VALIDATION_ENUM");
    assert!(f["kind"]["message"].is_string());
    assert_eq!(
        s.get("/api/rooms?total=true", &t).await.json()["pagination"]["total"],
        0
    );
    // Update: null on a required field.
    let id = id_str(&s.create("rooms", &t, json!({"name": "ok"})).await);
    let r = s
        .patch(&format!("/api/rooms/{id}"), &t, json!({"name": null}))
        .await;
    assert_eq!(r.json()["code"], "VALIDATION_REQUIRED");
}
