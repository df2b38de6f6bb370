#![allow(clippy::unwrap_used)]

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::json;
use ward_ir::ColumnType;

fn project() -> ward_ir::Ir {
    let rooms = table("rooms")
        .col(ward_ir::Column {
            required: true,
            ..column("name", ColumnType::Text)
        })
        .text("organizationId")
        .scope("organizationId", "org-id", "")
        .bypass("owner")
        .crud("member+")
        .createable(&["name"])
        .updatable(&["name"])
        .build();
    let notes = table("notes")
        .text("body")
        .text("orgId")
        .text("ownerId")
        .scope("orgId", "org-id", "")
        .scope("ownerId", "user-id", "admin+")
        .reveal()
        .crud("member+")
        .createable(&["body"])
        .updatable(&["body"])
        .build();
    ir(vec![rooms, notes])
}

#[backends]
async fn another_tenants_id_is_byte_identical_to_a_missing_one() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let bob = s.token("bob", &["member"], Some("globex"));
    let id = id_str(&s.create("rooms", &alice, json!({"name": "A"})).await);

    let foreign = s.get(&format!("/api/rooms/{id}"), &bob).await;
    let missing = s
        .get("/api/rooms/01890000-0000-7000-8000-000000000000", &bob)
        .await;
    let malformed = s.get("/api/rooms/not-a-uuid", &bob).await;
    let unknown_table = s.get("/api/nosuch/1", &bob).await;
    assert_eq!(foreign.status, 404);
    assert_eq!(foreign.text, missing.text);
    assert_eq!(foreign.text, malformed.text);
    assert_eq!(foreign.text, unknown_table.text);
    assert_eq!(foreign.json()["code"], "NOT_FOUND");
    assert!(!foreign.text.contains(&id));

    let p = s
        .patch(&format!("/api/rooms/{id}"), &bob, json!({"name": "x"}))
        .await;
    assert_eq!((p.status, p.text.clone()), (404, missing.text.clone()));
    let d = s.delete(&format!("/api/rooms/{id}"), &bob).await;
    assert_eq!((d.status, d.text.clone()), (404, missing.text.clone()));

    let list = s.get("/api/rooms", &bob).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let list = s.get("/api/rooms", &alice).await.json();
    assert_eq!(list["data"][0]["name"], "A");
    // The row is untouched by bob's attempts.
    let mine = s.get(&format!("/api/rooms/{id}"), &alice).await.json();
    assert_eq!(mine["data"]["name"], "A");
    assert!(mine["data"]["deletedAt"].is_null());
}

#[backends]
async fn scope_columns_are_stamped_and_never_client_set() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let r = s.post("/api/rooms", &alice, json!({"name": "A"})).await;
    assert_eq!(r.status, 201);
    let d = &r.json()["data"];
    assert_eq!(d["organizationId"], "acme");
    assert_eq!(d["createdBy"], "alice");
    assert_eq!(d["modifiedBy"], "alice");
    assert!(d["createdAt"].as_str().unwrap().ends_with('Z'));

    let r = s
        .post(
            "/api/rooms",
            &alice,
            json!({"name": "B", "organizationId": "globex"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "GUARD_SYSTEM_MANAGED");
    assert_eq!(r.json()["layer"], "guards");
    assert_eq!(r.json()["details"]["fields"], json!(["organizationId"]));
    let id = id_str(&d["id"]);
    let r = s
        .patch(
            &format!("/api/rooms/{id}"),
            &alice,
            json!({"organizationId": "globex"}),
        )
        .await;
    assert_eq!(r.json()["code"], "GUARD_SYSTEM_MANAGED");
}

#[backends]
async fn missing_scope_claim_is_403_for_every_operation() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let id = id_str(&s.create("rooms", &alice, json!({"name": "A"})).await);
    let noorg = s.token("carol", &["member"], None);
    for r in [
        s.get("/api/rooms", &noorg).await,
        s.get(&format!("/api/rooms/{id}"), &noorg).await,
        s.post("/api/rooms", &noorg, json!({"name": "x"})).await,
        s.patch(&format!("/api/rooms/{id}"), &noorg, json!({"name": "x"}))
            .await,
        s.delete(&format!("/api/rooms/{id}"), &noorg).await,
    ] {
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(r.json()["code"], "FIREWALL_SCOPE_MISSING");
        assert_eq!(r.json()["layer"], "firewall");
    }
}

#[backends]
async fn table_bypass_sees_every_tenant_but_still_needs_the_claim_to_create() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    s.create("rooms", &alice, json!({"name": "A"})).await;
    let boss = s.token("boss", &["owner"], None);
    let list = s.get("/api/rooms", &boss).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json()["data"].as_array().unwrap().len(), 1);
    let r = s.post("/api/rooms", &boss, json!({"name": "B"})).await;
    assert_eq!(r.json()["code"], "FIREWALL_SCOPE_MISSING");
}

#[backends]
async fn per_scope_bypass_and_reveal_mode() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let bob = s.token("bob", &["member"], Some("acme"));
    let admin = s.token("ada", &["admin"], Some("acme"));
    let other_admin = s.token("eve", &["admin"], Some("globex"));
    let id = id_str(&s.create("notes", &alice, json!({"body": "hi"})).await);

    // Bob shares the org but not the owner scope: reveal mode answers 403 FIREWALL_NOT_FOUND.
    let r = s.get(&format!("/api/notes/{id}"), &bob).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], "FIREWALL_NOT_FOUND");
    let missing = s
        .get("/api/notes/01890000-0000-7000-8000-000000000000", &bob)
        .await;
    assert_eq!(r.text, missing.text);
    // Admins bypass the owner scope only, not the org scope.
    assert_eq!(s.get(&format!("/api/notes/{id}"), &admin).await.status, 200);
    assert_eq!(
        s.get(&format!("/api/notes/{id}"), &other_admin)
            .await
            .status,
        403
    );
    let list = s.get("/api/notes", &bob).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let list = s.get("/api/notes", &admin).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["ownerId"], "alice");
}

#[backends]
async fn soft_deleted_rows_leave_the_firewall() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let id = id_str(&s.create("rooms", &alice, json!({"name": "A"})).await);
    let d = s.delete(&format!("/api/rooms/{id}"), &alice).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.json(), json!({"data": {"id": id, "deleted": true}}));
    let g = s.get(&format!("/api/rooms/{id}"), &alice).await;
    assert_eq!(g.status, 404);
    assert_eq!(
        s.delete(&format!("/api/rooms/{id}"), &alice).await.status,
        404
    );
    assert_eq!(
        s.patch(&format!("/api/rooms/{id}"), &alice, json!({"name": "z"}))
            .await
            .status,
        404
    );
    let list = s.get("/api/rooms", &alice).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
}

const UNIQUES: &str = r#"
auth { roles member }
table codes {
    column code text unique=#true
    column handle text unique=global
    column name text
    column kind text
    column orgId text
    unique name kind
    firewall { scope orgId (auth)org-id }
    access { list member; read member; create member; update member }
    guards { createable code handle name kind; updatable code handle name kind }
    batch max=10 atomic=#true
    delete hard
}
"#;

/// SPEC §5.7: `unique` on a firewalled table holds within the row's scope, so another tenant's
/// value is free to take and never answers 409, by create, update or batch; `unique=global`
/// keeps the table-wide constraint. Composite `unique a b` is scoped the same way.
#[backends]
async fn uniqueness_never_crosses_tenants_unless_global() {
    let s = start_kdl(UNIQUES).await;
    let acme = s.token("alice", &["member"], Some("acme"));
    let globex = s.token("gus", &["member"], Some("globex"));
    let row = |code: &str, handle: &str| json!({"code": code, "handle": handle, "name": code, "kind": "k"});
    s.create("codes", &acme, row("X", "h1")).await;

    // Another tenant takes "X" (and "X"/"k" for the composite) as if acme did not exist.
    let theirs = s.post("/api/codes", &globex, row("X", "h2")).await;
    assert_eq!(theirs.status, 201, "{}", theirs.text);
    // Within one tenant the value stays unique.
    let mine = s.post("/api/codes", &acme, row("X", "h3")).await;
    assert_eq!((mine.status, mine.code()), (409, "UNIQUE_VIOLATION".into()));
    let composite = s
        .post(
            "/api/codes",
            &acme,
            json!({"code": "Y", "name": "X", "kind": "k"}),
        )
        .await;
    assert_eq!(composite.status, 409, "{}", composite.text);

    // An update into another tenant's value, and a batch of them, succeed too.
    let g2 = id_str(&s.create("codes", &globex, row("Z", "h4")).await);
    let moved = s
        .patch(&format!("/api/codes/{g2}"), &globex, json!({"code": "W"}))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let acme_w = s.post("/api/codes", &acme, row("W", "h5")).await;
    assert_eq!(acme_w.status, 201, "{}", acme_w.text);
    let batch = s
        .post(
            "/api/codes/batch",
            &globex,
            json!({"records": [{"code": "Q", "name": "Q"}, {"code": "R", "name": "R"}]}),
        )
        .await;
    assert_eq!(batch.status, 201, "{}", batch.text);
    let batch = s
        .post(
            "/api/codes/batch",
            &acme,
            json!({"records": [{"code": "Q", "name": "Q"}, {"code": "R", "name": "R"}]}),
        )
        .await;
    assert_eq!(batch.status, 201, "{}", batch.text);

    // `unique=global`: another tenant's handle is taken (the oracle W0009 warns of).
    let global = s.post("/api/codes", &globex, row("V", "h1")).await;
    assert_eq!(
        (global.status, global.code()),
        (409, "UNIQUE_VIOLATION".into())
    );
}
