#![allow(clippy::unwrap_used)]

//! `POST /api/T/{id}/restore` and `GET /api/T?deleted=only`: the `restore` rule (roles before any
//! read, `when` on the deleted row or in the WHERE), the firewall without its soft-delete filter,
//! and the restore cascade.

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::{Value, json};
use ward_ir::{CompareOp, MaskKind, OnDelete, Operation};

const MISSING: &str = "01890000-0000-7000-8000-000000000000";

fn restore_rule() -> ward_ir::AccessRule {
    rule_when(
        "admin+",
        cmp("status", CompareOp::Ne, vec![lit_text("locked")]),
    )
}

fn project() -> ward_ir::Ir {
    let docs = table("docs")
        .text("title")
        .col(ward_ir::Column {
            default: Some(ward_ir::ColumnDefault::Literal(ward_ir::Literal::Text(
                "open".into(),
            ))),
            ..column("status", ward_ir::ColumnType::Text)
        })
        .text("ssn")
        .text("org")
        .scope("org", "org-id", "")
        .mask("ssn", MaskKind::Ssn, "owner", None)
        .crud("member+")
        .access(Operation::Restore, restore_rule())
        .createable(&["title", "status", "ssn"])
        .updatable(&["status"])
        .build();
    let chapters = table("chapters")
        .text("title")
        .text("org")
        .scope("org", "org-id", "")
        .reference("docId", "docs", OnDelete::Cascade)
        .crud("member+")
        .access(Operation::Restore, rule("admin+"))
        .createable(&["title", "docId"])
        .build();
    // Pages belong to their author; only `owner` sees everyone's.
    let pages = table("pages")
        .text("title")
        .text("org")
        .text("ownerId")
        .scope("org", "org-id", "")
        .scope("ownerId", "user-id", "owner")
        .reference("chapterId", "chapters", OnDelete::Cascade)
        .crud("member+")
        .access(Operation::Restore, rule("admin+"))
        .createable(&["title", "chapterId"])
        .build();
    let hardies = table("hardies")
        .text("title")
        .crud("member+")
        .access(Operation::Restore, rule("admin+"))
        .createable(&["title"])
        .hard()
        .build();
    ir(vec![docs, chapters, pages, hardies])
}

fn titles(v: &Value) -> Vec<String> {
    let mut t: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap_or("").to_string())
        .collect();
    t.sort();
    t
}

async fn restore(s: &Server, path: &str, token: Option<&str>) -> Resp {
    s.req("POST", &format!("{path}/restore"), token, None).await
}

#[backends]
async fn restore_needs_the_role_before_any_read() {
    let s = start(project()).await;
    let member = s.token("m", &["member"], Some("acme"));
    let no_org = s.token("a", &["admin"], None);
    let id = id_str(&s.create("docs", &member, json!({"title": "D"})).await);
    s.delete(&format!("/api/docs/{id}"), &member).await;

    let existing = restore(&s, &format!("/api/docs/{id}"), Some(&member)).await;
    let missing = restore(&s, &format!("/api/docs/{MISSING}"), Some(&member)).await;
    assert_eq!(existing.status, 403);
    assert_eq!(existing.json()["code"], "ACCESS_ROLE_REQUIRED");
    assert_eq!(existing.text, missing.text);
    // Other methods on the restore path are simply not found.
    let get = s.get(&format!("/api/docs/{id}/restore"), &member).await;
    assert_eq!((get.status, get.code()), (404, "NOT_FOUND".into()));
    let anon = restore(&s, &format!("/api/docs/{id}"), None).await;
    assert_eq!((anon.status, anon.code()), (401, "AUTH_MISSING".into()));
    let r = restore(&s, &format!("/api/docs/{id}"), Some(&no_org)).await;
    assert_eq!((r.status, r.code()), (403, "FIREWALL_SCOPE_MISSING".into()));
}

#[backends]
async fn only_soft_deleted_rows_in_scope_can_be_restored() {
    let s = start(project()).await;
    let member = s.token("m", &["member"], Some("acme"));
    let admin = s.token("ada", &["admin"], Some("acme"));
    let other = s.token("gus", &["admin"], Some("globex"));
    let live = id_str(&s.create("docs", &member, json!({"title": "L"})).await);
    let gone = id_str(
        &s.create("docs", &member, json!({"title": "G", "ssn": "123-45-6789"}))
            .await,
    );
    let d = s.delete(&format!("/api/docs/{gone}"), &member).await;
    assert_eq!(d.status, 200);

    let missing = restore(&s, &format!("/api/docs/{MISSING}"), Some(&admin)).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "NOT_FOUND");
    for (path, token) in [
        (format!("/api/docs/{live}"), &admin),
        (format!("/api/docs/{gone}"), &other),
        ("/api/docs/not-a-uuid".to_string(), &admin),
    ] {
        let r = restore(&s, &path, Some(token)).await;
        assert_eq!(
            (r.status, r.text.clone()),
            (404, missing.text.clone()),
            "{path}"
        );
    }

    let r = restore(&s, &format!("/api/docs/{gone}"), Some(&admin)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let data = &r.json()["data"];
    assert_eq!(data["id"], json!(gone));
    assert!(data["deletedAt"].is_null());
    assert!(data["deletedBy"].is_null());
    assert_eq!(data["modifiedBy"], "ada");
    assert_eq!(data["ssn"], "***-**-6789", "the answer is masked");
    assert!(!r.text.contains("123-45-6789"));
    let g = s.get(&format!("/api/docs/{gone}"), &member).await;
    assert_eq!(g.status, 200);
    // Restored once; a second restore finds nothing deleted.
    let again = restore(&s, &format!("/api/docs/{gone}"), Some(&admin)).await;
    assert_eq!(again.text, missing.text);
}

#[backends]
async fn restore_when_condition_is_checked_on_the_deleted_row() {
    let s = start(project()).await;
    let member = s.token("m", &["member"], Some("acme"));
    let admin = s.token("ada", &["admin"], Some("acme"));
    let id = id_str(
        &s.create("docs", &member, json!({"title": "X", "status": "locked"}))
            .await,
    );
    s.delete(&format!("/api/docs/{id}"), &member).await;
    let r = restore(&s, &format!("/api/docs/{id}"), Some(&admin)).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.json()["code"], "ACCESS_CONDITION_FAILED");
    assert_eq!(s.get(&format!("/api/docs/{id}"), &member).await.status, 404);
}

#[backends]
async fn restore_brings_back_what_the_same_cascade_deleted_and_the_caller_can_see() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let boss = s.token("olga", &["owner"], Some("acme"));
    let admin = s.token("ada", &["admin"], Some("acme"));
    let doc = id_str(&s.create("docs", &alice, json!({"title": "D"})).await);
    let c1 = id_str(
        &s.create("chapters", &alice, json!({"title": "C1", "docId": doc}))
            .await,
    );
    let c2 = id_str(
        &s.create("chapters", &alice, json!({"title": "C2", "docId": doc}))
            .await,
    );
    let mine = id_str(
        &s.create("pages", &admin, json!({"title": "P-ada", "chapterId": c1}))
            .await,
    );
    let hers = id_str(
        &s.create(
            "pages",
            &alice,
            json!({"title": "P-alice", "chapterId": c1}),
        )
        .await,
    );
    // C2 was deleted on its own, earlier: not part of the doc's cascade.
    assert_eq!(
        s.delete(&format!("/api/chapters/{c2}"), &alice)
            .await
            .status,
        200
    );
    // The owner bypasses the page scope, so the cascade takes every page.
    assert_eq!(
        s.delete(&format!("/api/docs/{doc}"), &boss).await.status,
        200
    );
    assert_eq!(
        s.get(&format!("/api/pages/{hers}"), &alice).await.status,
        404
    );

    // A child cannot come back while its parent is deleted.
    let r = restore(&s, &format!("/api/chapters/{c1}"), Some(&admin)).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json()["code"], "REFERENCE_VIOLATION");
    assert_eq!(r.json()["details"]["fields"], json!(["docId"]));

    let r = restore(&s, &format!("/api/docs/{doc}"), Some(&admin)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        s.get(&format!("/api/chapters/{c1}"), &alice).await.status,
        200
    );
    assert_eq!(
        s.get(&format!("/api/pages/{mine}"), &admin).await.status,
        200
    );
    // Outside the restorer's firewall: stays deleted; and C2 was never part of this cascade.
    assert_eq!(
        s.get(&format!("/api/pages/{hers}"), &alice).await.status,
        404
    );
    assert_eq!(
        s.get(&format!("/api/chapters/{c2}"), &alice).await.status,
        404
    );
    let c = s.get(&format!("/api/chapters/{c1}"), &alice).await.json();
    assert_eq!(c["data"]["modifiedBy"], "ada");
    assert!(c["data"]["deletedBy"].is_null());
}

#[backends]
async fn hard_delete_tables_have_nothing_to_restore() {
    let s = start(project()).await;
    let admin = s.token("ada", &["admin"], Some("acme"));
    let id = id_str(&s.create("hardies", &admin, json!({"title": "H"})).await);
    s.delete(&format!("/api/hardies/{id}"), &admin).await;
    let r = restore(&s, &format!("/api/hardies/{id}"), Some(&admin)).await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND".into()));
    let r = s.get("/api/hardies?deleted=only", &admin).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "VALIDATION_BAD_QUERY");
    assert_eq!(r.json()["details"]["parameter"], "deleted");
}

#[backends]
async fn deleted_only_lists_deleted_rows_under_the_restore_rule() {
    let s = start(project()).await;
    let member = s.token("m", &["member"], Some("acme"));
    let admin = s.token("ada", &["admin"], Some("acme"));
    let globex = s.token("gus", &["admin"], Some("globex"));
    for (title, status) in [("a", "open"), ("b", "open"), ("c", "locked"), ("d", "open")] {
        let id = id_str(
            &s.create(
                "docs",
                &member,
                json!({"title": title, "status": status, "ssn": "987-65-4321"}),
            )
            .await,
        );
        if title != "d" {
            s.delete(&format!("/api/docs/{id}"), &member).await;
        }
    }
    let g = id_str(&s.create("docs", &globex, json!({"title": "g"})).await);
    s.delete(&format!("/api/docs/{g}"), &globex).await;

    let r = s.get("/api/docs?deleted=only", &member).await;
    assert_eq!((r.status, r.code()), (403, "ACCESS_ROLE_REQUIRED".into()));
    let r = s.req("GET", "/api/docs?deleted=only", None, None).await;
    assert_eq!((r.status, r.code()), (401, "AUTH_MISSING".into()));

    // Only deleted rows, only this org's, and only those the restore `when` allows.
    let r = s.get("/api/docs?deleted=only&total=true", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(titles(&r.json()), ["a", "b"]);
    assert_eq!(r.json()["pagination"]["total"], 2);
    assert!(r.json()["data"][0]["deletedAt"].is_string());
    assert_eq!(r.json()["data"][0]["ssn"], "***-**-4321");
    assert!(!r.text.contains("987-65-4321"));
    let r = s.get("/api/docs?deleted=only&title=b", &admin).await;
    assert_eq!(titles(&r.json()), ["b"]);
    // The plain list still shows only live rows.
    assert_eq!(titles(&s.get("/api/docs", &admin).await.json()), ["d"]);

    let r = s
        .get("/api/docs?deleted=only&ssn=987-65-4321", &admin)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "VALIDATION_FIELD_NOT_QUERYABLE");
    assert!(!r.text.contains("987-65-4321"));
    let r = s.get("/api/docs?deleted=only&sort=ssn", &admin).await;
    assert_eq!(r.json()["code"], "VALIDATION_FIELD_NOT_QUERYABLE");
    for bad in [
        "deleted=all",
        "deleted=",
        "deleted=true",
        "deleted=only&deleted=only",
    ] {
        let r = s.get(&format!("/api/docs?{bad}"), &admin).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["code"], "VALIDATION_BAD_QUERY");
        assert_eq!(r.json()["details"]["parameter"], "deleted");
    }
}
