#![allow(clippy::unwrap_used)]

//! `PUT /api/T/{id}` upsert (SPEC §5.6), single and batch, over real HTTP.

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::{Value, json};
use ward_ir::{Column, ColumnDefault, ColumnType, CompareOp, IdKind, Literal, MaskKind, Operation};

fn not_locked() -> ward_ir::Condition {
    cmp("status", CompareOp::Ne, vec![lit_text("locked")])
}

/// Conditions follow SQL's three-valued logic, so the compared columns get defaults.
fn text_default(name: &str, v: &str) -> Column {
    Column {
        default: Some(ColumnDefault::Literal(Literal::Text(v.into()))),
        ..column(name, ColumnType::Text)
    }
}

fn project() -> ward_ir::Ir {
    let tags = table("tags")
        .id(IdKind::Text)
        .col(Column {
            required: true,
            ..column("label", ColumnType::Text)
        })
        .col(text_default("color", "none"))
        .text("secret")
        .col(text_default("status", "open"))
        .text("org")
        .scope("org", "org-id", "")
        .mask("secret", MaskKind::Redact, "admin+", None)
        .access(Operation::List, rule("member+"))
        .access(Operation::Read, rule("member+"))
        .access(
            Operation::Create,
            rule_check(
                "member+",
                cmp("color", CompareOp::Ne, vec![lit_text("black")]),
            ),
        )
        .access(Operation::Update, rule_when("member+", not_locked()))
        .access(Operation::Delete, rule("member+"))
        .open_guards()
        .build();
    // Members may update but only admins create; viewers may only create.
    let split = table("split")
        .id(IdKind::Text)
        .text("label")
        .access(Operation::List, rule("viewer+"))
        .access(Operation::Read, rule("viewer+"))
        .access(Operation::Create, rule("viewer admin"))
        .access(Operation::Update, rule("member+"))
        .open_guards()
        .build();
    let uuid_open = table("uuid_open")
        .text("label")
        .crud("member+")
        .open_guards()
        .build();
    let text_closed = table("text_closed")
        .id(IdKind::Text)
        .text("label")
        .crud("member+")
        .createable(&["label"])
        .updatable(&["label"])
        .build();
    ir(vec![tags, split, uuid_open, text_closed])
}

async fn put(s: &Server, path: &str, token: &str, body: Value) -> Resp {
    s.req("PUT", path, Some(token), Some(body)).await
}

#[backends]
async fn only_text_id_tables_with_open_guards_serve_put() {
    let s = start(project()).await;
    let t = s.token("alice", &["member"], Some("acme"));
    for path in [
        "/api/uuid_open/01890000-0000-7000-8000-000000000000",
        "/api/text_closed/x",
    ] {
        let r = put(&s, path, &t, json!({"label": "x"})).await;
        assert_eq!((r.status, r.code()), (405, "UPSERT_NOT_ALLOWED".into()));
        assert_eq!(r.json()["layer"], "validation");
        // Decided by the table alone, before the token is looked at.
        let r = s.req("PUT", path, None, Some(json!({}))).await;
        assert_eq!(r.status, 405);
    }
    let r = put(&s, "/api/nosuch/x", &t, json!({})).await;
    assert_eq!(r.code(), "NOT_FOUND");
    assert_eq!(
        s.get("/api/text_closed", &t).await.json()["data"],
        json!([])
    );
}

#[backends]
async fn create_then_update() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let r = put(
        &s,
        "/api/tags/red",
        &alice,
        json!({"label": "Red", "secret": "s3cr3t"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let d = r.json()["data"].clone();
    assert_eq!(d["id"], "red");
    assert_eq!(d["org"], "acme");
    assert_eq!(d["createdBy"], "alice");
    assert_eq!(d["secret"], "[REDACTED]");
    assert!(!r.text.contains("s3cr3t"));

    let bob = s.token("bob", &["member"], Some("acme"));
    let r = put(
        &s,
        "/api/tags/red",
        &bob,
        json!({"id": "red", "label": "Crimson"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let u = r.json()["data"].clone();
    assert_eq!(u["label"], "Crimson");
    assert_eq!(u["createdBy"], "alice");
    assert_eq!(u["createdAt"], d["createdAt"]);
    assert_eq!(u["modifiedBy"], "bob");
    assert!(u["modifiedAt"].as_str() >= d["modifiedAt"].as_str());
    let all = s.get("/api/tags", &alice).await.json()["data"].clone();
    assert_eq!(all.as_array().unwrap().len(), 1);
}

#[backends]
async fn another_tenants_row_is_never_overwritten() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let bob = s.token("bob", &["member"], Some("globex"));
    let r = put(&s, "/api/tags/shared", &alice, json!({"label": "mine"})).await;
    assert_eq!(r.status, 201);

    let r = put(&s, "/api/tags/shared", &bob, json!({"label": "yours"})).await;
    let missing = s.get("/api/tags/nothing-here", &bob).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.text, missing.text);
    let g = s.get("/api/tags/shared", &alice).await.json();
    assert_eq!(g["data"]["label"], "mine");
    assert_eq!(g["data"]["modifiedBy"], "alice");
    assert_eq!(
        s.get("/api/tags", &bob).await.json()["data"],
        json!([]),
        "nothing was created for bob"
    );

    // A soft-deleted row is invisible too: 404, and it stays deleted.
    put(&s, "/api/tags/gone", &alice, json!({"label": "g"})).await;
    assert_eq!(s.delete("/api/tags/gone", &alice).await.status, 200);
    let r = put(&s, "/api/tags/gone", &alice, json!({"label": "back"})).await;
    assert_eq!((r.status, r.text.clone()), (404, missing.text.clone()));
    assert_eq!(s.get("/api/tags/gone", &alice).await.status, 404);

    // Batch PUT: the same per record.
    let r = s
        .req(
            "PUT",
            "/api/tags/batch",
            Some(&bob),
            Some(json!({"records": [
                {"id": "shared", "label": "yours"},
                {"id": "fresh", "label": "new"},
            ]})),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text);
    let j = r.json();
    assert_eq!(j["errors"][0]["index"], 0);
    assert_eq!(j["errors"][0]["error"].to_string(), missing.text);
    assert_eq!(j["success"][0]["id"], "fresh");
    assert_eq!(j["success"][0]["org"], "globex");
    let g = s.get("/api/tags/shared", &alice).await.json();
    assert_eq!(g["data"]["label"], "mine");
}

#[backends]
async fn guards_and_conditions() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let r = put(&s, "/api/tags/a", &alice, json!({"id": "b", "label": "x"})).await;
    assert_eq!((r.status, r.code()), (400, "GUARD_SYSTEM_MANAGED".into()));
    assert_eq!(r.json()["details"]["fields"], json!(["id"]));
    let r = put(
        &s,
        "/api/tags/a",
        &alice,
        json!({"label": "x", "org": "globex"}),
    )
    .await;
    assert_eq!(r.code(), "GUARD_SYSTEM_MANAGED");
    assert_eq!(r.json()["details"]["fields"], json!(["org"]));
    let r = put(&s, "/api/tags/a", &alice, json!({"label": "x", "nope": 1})).await;
    assert_eq!(r.code(), "VALIDATION_UNKNOWN_FIELD");
    let r = put(&s, "/api/tags/a", &alice, json!({"color": "red"})).await;
    assert_eq!(r.code(), "VALIDATION_REQUIRED");
    let r = put(
        &s,
        "/api/tags/a",
        &alice,
        json!({"label": "x", "color": "black"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "ACCESS_CHECK_FAILED".into()));
    assert_eq!(s.get("/api/tags/a", &alice).await.status, 404);

    let r = put(
        &s,
        "/api/tags/a",
        &alice,
        json!({"label": "x", "status": "locked"}),
    )
    .await;
    assert_eq!(r.status, 201);
    let r = put(&s, "/api/tags/a", &alice, json!({"label": "y"})).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "ACCESS_CONDITION_FAILED".into())
    );
    assert_eq!(
        s.get("/api/tags/a", &alice).await.json()["data"]["label"],
        "x"
    );
}

#[backends]
async fn create_and_update_grants_are_separate() {
    let s = start(project()).await;
    let admin = s.token("ada", &["admin"], None);
    let member = s.token("m", &["member"], None);
    let viewer = s.token("v", &["viewer"], None);
    let anon_like = s.token("x", &[], None);

    assert_eq!(
        put(&s, "/api/split/one", &admin, json!({"label": "1"}))
            .await
            .status,
        201
    );
    // A member may update an existing row but not create: an unknown id is simply not found.
    let r = put(&s, "/api/split/one", &member, json!({"label": "2"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = put(&s, "/api/split/two", &member, json!({"label": "2"})).await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND".into()));
    // A viewer may create but not update.
    let r = put(&s, "/api/split/three", &viewer, json!({"label": "3"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = put(&s, "/api/split/one", &viewer, json!({"label": "v"})).await;
    assert_eq!((r.status, r.code()), (403, "ACCESS_ROLE_REQUIRED".into()));
    // Neither: refused before anything is read or parsed.
    let r = s
        .req(
            "PUT",
            "/api/split/one",
            Some(&anon_like),
            Some(json!("junk")),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "ACCESS_ROLE_REQUIRED".into()));
    let r = s.req("PUT", "/api/split/one", None, Some(json!({}))).await;
    assert_eq!((r.status, r.code()), (401, "AUTH_MISSING".into()));
    let all = s.get("/api/split?sort=id", &admin).await.json()["data"].clone();
    let labels: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["2", "3"]);
}

#[backends]
async fn batch_upsert_creates_and_updates_in_order() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    put(&s, "/api/tags/old", &alice, json!({"label": "old"})).await;
    let r = s
        .req(
            "PUT",
            "/api/tags/batch",
            Some(&alice),
            Some(json!({"records": [
                {"id": "old", "label": "old2"},
                {"id": "new", "label": "new"},
                {"id": "new", "color": "blue"},
            ]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ok = r.json()["success"].as_array().unwrap().clone();
    assert_eq!(ok[0]["label"], "old2");
    assert_eq!(ok[1]["id"], "new");
    assert_eq!(ok[2]["color"], "blue");
    assert_eq!(ok[0]["modifiedAt"], ok[1]["createdAt"]);

    let r = s
        .req(
            "PUT",
            "/api/tags/batch",
            Some(&alice),
            Some(json!({"records": [{"id": "z", "label": "z"}, {"label": "no id"}]})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "BATCH_MISSING_IDS".into()));
    assert_eq!(r.json()["details"]["indices"], json!([1]));
    let r = s
        .req(
            "PUT",
            "/api/tags/batch",
            Some(&alice),
            Some(json!({"records": [{"id": "z", "label": "z"}, {"id": "w", "color": "black", "label": "w"}],
                        "options": {"atomic": true}})),
        )
        .await;
    assert_eq!(r.code(), "BATCH_ATOMIC_FAILED");
    assert_eq!(r.json()["details"]["failedAt"], 1);
    assert_eq!(s.get("/api/tags/z", &alice).await.status, 404);
}

#[backends]
async fn put_onto_an_invisible_id_is_not_found_even_when_a_unique_value_also_clashes() {
    let codes = table("codes")
        .id(IdKind::Text)
        .col(Column {
            unique: true,
            ..column("code", ColumnType::Text)
        })
        .text("org")
        .scope("org", "org-id", "")
        .crud("member+")
        .open_guards()
        .build();
    let s = start(ir(vec![codes])).await;
    let acme = s.token("alice", &["member"], Some("acme"));
    let globex = s.token("gus", &["member"], Some("globex"));
    let r = put(&s, "/api/codes/k1", &acme, json!({"code": "X"})).await;
    assert_eq!(r.status, 201, "{}", r.text);

    // The same id and the same unique value, from another tenant: the id decides, as it would
    // without the clash; the constraint SQLite happens to check first must not.
    let clash = put(&s, "/api/codes/k1", &globex, json!({"code": "X"})).await;
    let plain = put(&s, "/api/codes/k1", &globex, json!({"code": "Y"})).await;
    assert_eq!((clash.status, clash.code()), (404, "NOT_FOUND".into()));
    assert_eq!(clash.text, plain.text);

    // A fresh id with another tenant's value is created: uniqueness holds within the scope
    // (SPEC §5.7), so nothing tells globex that acme holds "X".
    let fresh = put(&s, "/api/codes/k2", &globex, json!({"code": "X"})).await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    // Within one tenant the value is still unique.
    let again = put(&s, "/api/codes/k3", &globex, json!({"code": "X"})).await;
    assert_eq!(
        (again.status, again.code()),
        (409, "UNIQUE_VIOLATION".into())
    );
    let mine = s.get("/api/codes/k1", &acme).await;
    assert_eq!(mine.json()["data"]["code"], "X", "never overwritten");
}

/// SPEC §5.7: `If-None-Match: *` makes PUT create-only, `If-Match` update-only. An id another
/// tenant holds answers exactly as a free id does, with either header.
#[backends]
async fn put_preconditions_create_only_or_update_only() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let gus = s.token("gus", &["member"], Some("globex"));
    let put_if = |token: &str, path: &str, header: (&'static str, &'static str), label: &str| {
        let (s, token, path, label) = (&s, token.to_owned(), path.to_owned(), label.to_owned());
        async move {
            s.req_with(
                "PUT",
                &path,
                Some(&token),
                Some(json!({"label": label})),
                &[header],
            )
            .await
        }
    };
    let create_only = ("if-none-match", "*");
    let r = put_if(&alice, "/api/tags/red", create_only, "Red").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = put_if(&alice, "/api/tags/red", create_only, "Again").await;
    assert_eq!(r.status, 412, "{}", r.text);
    assert_eq!(r.json()["code"], "PRECONDITION_FAILED");

    let update_only = ("if-match", "*");
    let r = put_if(&alice, "/api/tags/red", update_only, "Crimson").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = put_if(&alice, "/api/tags/blue", update_only, "Blue").await;
    assert_eq!(r.status, 412, "a free id: {}", r.text);
    let r = s.get("/api/tags/blue", &alice).await;
    assert_eq!(r.status, 404, "nothing was created");

    // Another tenant's `red` answers as the free `blue` did; create-only answers as a plain PUT.
    let r = put_if(&gus, "/api/tags/red", update_only, "Mine").await;
    assert_eq!(r.status, 412, "{}", r.text);
    let plain = s
        .req(
            "PUT",
            "/api/tags/red",
            Some(&gus),
            Some(json!({"label": "Mine"})),
        )
        .await;
    let r = put_if(&gus, "/api/tags/red", create_only, "Mine").await;
    assert_eq!((r.status, r.text), (plain.status, plain.text));
    assert_eq!(
        s.get("/api/tags/red", &alice).await.json()["data"]["label"],
        "Crimson"
    );
}
