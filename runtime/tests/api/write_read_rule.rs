#![allow(clippy::unwrap_used)]

//! A write answers with the row only to a caller whose `read` rule shows it (role part and row
//! conditions), as PostgREST applies the SELECT policy to RETURNING; otherwise `data` is only
//! `{"id"}`, so that a write never works as a read (docs/decisions.md).

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::{Value, json};
use ward_ir::{ColumnDefault, ColumnType, CompareOp, Literal, Operation};

fn project() -> ward_ir::Ir {
    let not_hidden = || cmp("status", CompareOp::Ne, vec![lit_text("hidden")]);
    // Viewers may write memos but not read them; members read all but hidden ones.
    let memos = table("memos")
        .text("title")
        // A default, so that `status ne hidden` is not unknown on new rows.
        .col(ward_ir::Column {
            default: Some(ColumnDefault::Literal(Literal::Text("open".into()))),
            ..column("status", ColumnType::Text)
        })
        .access(Operation::List, rule_when("member+", not_hidden()))
        .access(Operation::Read, rule_when("member+", not_hidden()))
        .access(Operation::Create, rule("viewer+"))
        .access(Operation::Update, rule("viewer+"))
        .access(Operation::Delete, rule("admin+"))
        .access(Operation::Restore, rule("viewer+"))
        .createable(&["title", "status"])
        .updatable(&["title", "status"])
        .batch(10, true)
        .build();
    let notes = table("notes")
        .id(ward_ir::IdKind::Text)
        .text("body")
        .access(Operation::Read, rule("admin+"))
        .access(Operation::Create, rule("viewer+"))
        .access(Operation::Update, rule("viewer+"))
        .open_guards()
        .build();
    ir(vec![memos, notes])
}

fn id_only(id: &Value) -> Value {
    json!({ "id": id })
}

#[backends]
async fn single_writes_answer_only_what_the_read_rule_shows() {
    let s = start(project()).await;
    let viewer = s.token("v", &["viewer"], None);
    let member = s.token("m", &["member"], None);
    let admin = s.token("a", &["admin"], None);

    // POST: a caller without `read` learns the id only.
    let r = s
        .post("/api/memos", &viewer, json!({"title": "secret plan"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["data"]["id"].clone();
    assert_eq!(r.json()["data"], id_only(&id));
    let path = format!("/api/memos/{}", id_str(&id));

    // PATCH {} must not work as a read for a caller with `update` but not `read`.
    let r = s.patch(&path, &viewer, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"], id_only(&id));
    assert!(!r.text.contains("secret plan"));

    // A reader sees the row, until the write makes it fail the read rule's condition.
    let r = s.patch(&path, &member, json!({})).await;
    assert_eq!(r.json()["data"]["title"], "secret plan");
    let r = s.patch(&path, &member, json!({"status": "hidden"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"], id_only(&id));
    let r = s
        .post(
            "/api/memos",
            &member,
            json!({"title": "x", "status": "hidden"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["data"], id_only(&r.json()["data"]["id"]));

    // Restore.
    assert_eq!(s.delete(&path, &admin).await.status, 200);
    let r = s
        .req("POST", &format!("{path}/restore"), Some(&viewer), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"], id_only(&id));
    let r = s
        .req("POST", &format!("{path}/restore"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 404, "restored once: {}", r.text);

    // The write itself happened.
    let stored = s.get(&path, &admin).await;
    assert_eq!(stored.status, 404, "hidden for admins too: {}", stored.text);

    // PUT, creating then updating.
    let r = s
        .req(
            "PUT",
            "/api/notes/n1",
            Some(&viewer),
            Some(json!({"body": "b"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["data"], json!({"id": "n1"}));
    let r = s
        .req(
            "PUT",
            "/api/notes/n1",
            Some(&viewer),
            Some(json!({"body": "c"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"], json!({"id": "n1"}));
    let r = s
        .req("PUT", "/api/notes/n1", Some(&admin), Some(json!({})))
        .await;
    assert_eq!(r.json()["data"]["body"], "c");
}

#[backends]
async fn batch_successes_answer_only_what_the_read_rule_shows() {
    let s = start(project()).await;
    let viewer = s.token("v", &["viewer"], None);
    let member = s.token("m", &["member"], None);

    let r = s
        .post(
            "/api/memos/batch",
            &member,
            json!({"records": [{"title": "a"}, {"title": "b", "status": "hidden"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ok = r.json()["success"].as_array().unwrap().clone();
    assert_eq!(ok[0]["title"], "a");
    assert_eq!(ok[1], id_only(&ok[1]["id"]));
    let ids: Vec<Value> = ok.iter().map(|e| e["id"].clone()).collect();

    let r = s
        .patch(
            "/api/memos/batch",
            &viewer,
            json!({"records": [{"id": ids[0], "title": "a2"}, {"id": ids[1]}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["success"],
        json!([id_only(&ids[0]), id_only(&ids[1])])
    );

    let r = s
        .patch(
            "/api/memos/batch",
            &member,
            json!({"records": [{"id": ids[0]}, {"id": ids[1], "title": "b2"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["success"][0]["title"], "a2");
    assert_eq!(r.json()["success"][1], id_only(&ids[1]));
}
