#![allow(clippy::unwrap_used)]

//! Delete modes (SPEC §2.8): the recursive soft-delete cascade under each child's firewall, its
//! cycle guard, `restrict` on soft delete, the foreign keys of hard delete, and unique violations.

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::{Value, json};
use ward_ir::{Column, ColumnType, OnDelete, Operation};

fn scoped(name: &str) -> T {
    table(name)
        .text("org")
        .scope("org", "org-id", "")
        .crud("member+")
        .access(Operation::Restore, rule("admin+"))
}

fn project() -> ward_ir::Ir {
    let projects = scoped("projects")
        .text("name")
        .createable(&["name"])
        .build();
    let tasks = scoped("tasks")
        .text("name")
        .reference("projectId", "projects", OnDelete::Cascade)
        .createable(&["name", "projectId"])
        .build();
    // Subtasks are also scoped to their owner: a member's cascade cannot reach a colleague's rows.
    let subtasks = scoped("subtasks")
        .text("name")
        .text("ownerId")
        .scope("ownerId", "user-id", "admin+")
        .reference("taskId", "tasks", OnDelete::Cascade)
        .createable(&["name", "taskId"])
        .build();
    // A hard-delete child of a soft-delete parent: a soft delete cannot take it along.
    let logs = scoped("logs")
        .text("line")
        .reference("projectId", "projects", OnDelete::Cascade)
        .createable(&["line", "projectId"])
        .hard()
        .build();
    let nodes = table("nodes")
        .text("name")
        .reference("parentId", "nodes", OnDelete::Cascade)
        .crud("member+")
        .createable(&["name", "parentId"])
        .updatable(&["parentId"])
        .build();
    let accounts = table("accounts")
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .build();
    let invoices = table("invoices")
        .reference("accountId", "accounts", OnDelete::Restrict)
        .crud("member+")
        .createable(&["accountId"])
        .build();
    let memos = table("memos")
        .reference("accountId", "accounts", OnDelete::SetNull)
        .crud("member+")
        .createable(&["accountId"])
        .build();
    let kennels = table("kennels")
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .hard()
        .build();
    let dogs = table("dogs")
        .reference("kennelId", "kennels", OnDelete::Restrict)
        .crud("member+")
        .createable(&["kennelId"])
        .hard()
        .build();
    let cats = table("cats")
        .reference("kennelId", "kennels", OnDelete::Cascade)
        .crud("member+")
        .createable(&["kennelId"])
        .hard()
        .build();
    let birds = table("birds")
        .reference("kennelId", "kennels", OnDelete::SetNull)
        .crud("member+")
        .createable(&["kennelId"])
        .hard()
        .build();
    let codes = table("codes")
        .col(Column {
            unique: true,
            ..column("code", ColumnType::Text)
        })
        .crud("member+")
        .createable(&["code"])
        .updatable(&["code"])
        .build();
    ir(vec![
        projects, tasks, subtasks, logs, nodes, accounts, invoices, memos, kennels, dogs, cats,
        birds, codes,
    ])
}

fn rows(v: &Value) -> Vec<Value> {
    v["data"].as_array().cloned().unwrap_or_default()
}

#[backends]
async fn soft_delete_cascades_recursively_under_each_childs_firewall() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let bob = s.token("bob", &["member"], Some("acme"));
    let admin = s.token("ada", &["admin"], Some("acme"));
    let carol = s.token("carol", &["member"], Some("globex"));

    let p = id_str(&s.create("projects", &alice, json!({"name": "P"})).await);
    let t1 = id_str(
        &s.create("tasks", &alice, json!({"name": "T1", "projectId": p}))
            .await,
    );
    let t2 = id_str(
        &s.create("tasks", &alice, json!({"name": "T2", "projectId": p}))
            .await,
    );
    let s1 = id_str(
        &s.create("subtasks", &alice, json!({"name": "S1", "taskId": t1}))
            .await,
    );
    let s2 = id_str(
        &s.create("subtasks", &bob, json!({"name": "S2", "taskId": t1}))
            .await,
    );
    let log = id_str(
        &s.create("logs", &alice, json!({"line": "L", "projectId": p}))
            .await,
    );
    let other = id_str(&s.create("projects", &carol, json!({"name": "G"})).await);

    let d = s.delete(&format!("/api/projects/{p}"), &alice).await;
    assert_eq!(d.status, 200, "{}", d.text);

    for path in [
        format!("/api/projects/{p}"),
        format!("/api/tasks/{t1}"),
        format!("/api/tasks/{t2}"),
        format!("/api/subtasks/{s1}"),
    ] {
        assert_eq!(s.get(&path, &alice).await.status, 404, "{path}");
    }
    // Bob's subtask is outside alice's firewall: her cascade left it alone.
    let kept = s.get(&format!("/api/subtasks/{s2}"), &bob).await;
    assert_eq!(kept.status, 200);
    assert!(kept.json()["data"]["deletedAt"].is_null());
    // The hard-delete child is not soft-deleted with its parent.
    assert_eq!(s.get(&format!("/api/logs/{log}"), &alice).await.status, 200);
    // Another tenant is untouched.
    assert_eq!(
        s.get(&format!("/api/projects/{other}"), &carol)
            .await
            .status,
        200
    );

    // Every cascaded row carries the parent's stamps.
    let parent = rows(&s.get("/api/projects?deleted=only", &admin).await.json());
    assert_eq!(parent.len(), 1);
    let stamp = parent[0]["deletedAt"].clone();
    assert!(stamp.is_string());
    assert_eq!(parent[0]["deletedBy"], "alice");
    let tasks = rows(&s.get("/api/tasks?deleted=only", &admin).await.json());
    let subtasks = rows(&s.get("/api/subtasks?deleted=only", &admin).await.json());
    assert_eq!(tasks.len(), 2);
    assert_eq!(subtasks.len(), 1);
    assert_eq!(subtasks[0]["id"], json!(s1));
    for r in tasks.iter().chain(&subtasks) {
        assert_eq!(r["deletedAt"], stamp);
        assert_eq!(r["deletedBy"], "alice");
        assert_eq!(r["modifiedAt"], stamp);
        assert_eq!(r["modifiedBy"], "alice");
    }
}

#[backends]
async fn cascade_cycles_end() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    let a = id_str(&s.create("nodes", &t, json!({"name": "a"})).await);
    let b = id_str(
        &s.create("nodes", &t, json!({"name": "b", "parentId": a}))
            .await,
    );
    let c = id_str(
        &s.create("nodes", &t, json!({"name": "c", "parentId": b}))
            .await,
    );
    let d = id_str(&s.create("nodes", &t, json!({"name": "d"})).await);
    // Close the loop: a → c → b → a.
    let r = s
        .patch(&format!("/api/nodes/{a}"), &t, json!({"parentId": c}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.delete(&format!("/api/nodes/{b}"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for id in [&a, &b, &c] {
        assert_eq!(s.get(&format!("/api/nodes/{id}"), &t).await.status, 404);
    }
    assert_eq!(s.get(&format!("/api/nodes/{d}"), &t).await.status, 200);
}

#[backends]
async fn soft_delete_honours_restrict_and_leaves_set_null_children() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    let acc = id_str(&s.create("accounts", &t, json!({"name": "A"})).await);
    let inv = id_str(&s.create("invoices", &t, json!({"accountId": acc})).await);
    let memo = id_str(&s.create("memos", &t, json!({"accountId": acc})).await);

    let r = s.delete(&format!("/api/accounts/{acc}"), &t).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json()["code"], "REFERENCE_VIOLATION");
    assert_eq!(r.json()["layer"], "database");
    // Nothing was written.
    let still = s.get(&format!("/api/accounts/{acc}"), &t).await;
    assert_eq!(still.status, 200);
    assert!(still.json()["data"]["deletedAt"].is_null());

    // A soft-deleted referencing row no longer holds the parent.
    assert_eq!(
        s.delete(&format!("/api/invoices/{inv}"), &t).await.status,
        200
    );
    assert_eq!(
        s.delete(&format!("/api/accounts/{acc}"), &t).await.status,
        200
    );
    // set-null children are not rewritten by a soft delete, so a restore loses nothing.
    let m = s.get(&format!("/api/memos/{memo}"), &t).await;
    assert_eq!(m.status, 200);
    assert_eq!(m.json()["data"]["accountId"], json!(acc));
}

#[backends]
async fn hard_delete_follows_the_foreign_keys() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    let k = id_str(&s.create("kennels", &t, json!({"name": "K"})).await);
    let dog = id_str(&s.create("dogs", &t, json!({"kennelId": k})).await);
    let cat = id_str(&s.create("cats", &t, json!({"kennelId": k})).await);
    let bird = id_str(&s.create("birds", &t, json!({"kennelId": k})).await);

    let r = s.delete(&format!("/api/kennels/{k}"), &t).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json()["code"], "REFERENCE_VIOLATION");
    assert_eq!(s.get(&format!("/api/cats/{cat}"), &t).await.status, 200);

    assert_eq!(s.delete(&format!("/api/dogs/{dog}"), &t).await.status, 200);
    let r = s.delete(&format!("/api/kennels/{k}"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"data": {"id": k, "deleted": true}}));
    assert_eq!(s.get(&format!("/api/kennels/{k}"), &t).await.status, 404);
    // cascade: gone with the kennel; set-null: kept, reference cleared.
    assert_eq!(s.get(&format!("/api/cats/{cat}"), &t).await.status, 404);
    let b = s.get(&format!("/api/birds/{bird}"), &t).await;
    assert_eq!(b.status, 200);
    assert!(b.json()["data"]["kennelId"].is_null());
    // Nothing to restore on a hard-delete table.
    let r = s
        .req("POST", &format!("/api/kennels/{k}/restore"), Some(&t), None)
        .await;
    assert_eq!(r.status, 403, "no restore rule: {}", r.text);
}

#[backends]
async fn unique_violation_on_create_and_update() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    s.create("codes", &t, json!({"code": "alpha-7731"})).await;
    let r = s
        .post("/api/codes", &t, json!({"code": "alpha-7731"}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["code"], "UNIQUE_VIOLATION");
    assert_eq!(r.json()["layer"], "database");
    assert!(!r.text.contains("alpha-7731"), "{}", r.text);

    let b = id_str(&s.create("codes", &t, json!({"code": "beta"})).await);
    let r = s
        .patch(
            &format!("/api/codes/{b}"),
            &t,
            json!({"code": "alpha-7731"}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["code"], "UNIQUE_VIOLATION");
    assert!(!r.text.contains("alpha-7731"), "{}", r.text);
    assert_eq!(
        s.get(&format!("/api/codes/{b}"), &t).await.json()["data"]["code"],
        "beta"
    );
}
