#![allow(clippy::unwrap_used)]

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::json;
use ward_ir::{ColumnType, MaskKind};

fn project() -> ward_ir::Ir {
    let all = [
        "email", "ssn", "phone", "fullName", "apiKey", "pin", "score",
    ];
    let t = table("people")
        .text("email")
        .text("ssn")
        .text("phone")
        .text("fullName")
        .text("apiKey")
        .text("pin")
        .col(column("score", ColumnType::Integer))
        .mask("email", MaskKind::Email, "admin+", Some("createdBy"))
        .mask("ssn", MaskKind::Ssn, "owner", None)
        .mask("phone", MaskKind::Phone, "admin+", None)
        .mask("fullName", MaskKind::Name, "admin+", None)
        .mask("apiKey", MaskKind::Redact, "", None)
        .mask("pin", MaskKind::Hidden, "admin+", None)
        .mask("score", MaskKind::Redact, "admin+", None)
        .crud("member+")
        .createable(&all)
        .updatable(&all)
        .build();
    ir(vec![t])
}

#[backends]
async fn masks_apply_to_every_outgoing_record() {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], None);
    let bob = s.token("bob", &["member"], None);
    let admin = s.token("ada", &["admin"], None);
    let body = json!({"email": "paul@example.com", "ssn": "123-45-6789", "phone": "+1 (555) 123-4567",
                      "fullName": "John Doe", "apiKey": "k-123", "pin": "1234", "score": 7});
    let created = s.post("/api/people", &alice, body).await;
    assert_eq!(created.status, 201);
    let d = &created.json()["data"];
    // The creator owns the email; everything else is masked for a member, even in the 201.
    assert_eq!(d["email"], "paul@example.com");
    assert_eq!(d["ssn"], "***-**-6789");
    assert_eq!(d["phone"], "*******4567");
    assert_eq!(d["fullName"], "J*** D**");
    assert_eq!(d["apiKey"], "[REDACTED]");
    assert!(d.get("pin").is_none());
    assert!(d["score"].is_null());
    assert!(!created.text.contains("123-45-6789"));

    let id = id_str(&d["id"]);
    let b = s.get(&format!("/api/people/{id}"), &bob).await.json();
    assert_eq!(b["data"]["email"], "p***@e******.com");
    let l = s.get("/api/people", &bob).await.json();
    assert_eq!(l["data"][0]["email"], "p***@e******.com");
    let u = s
        .patch(&format!("/api/people/{id}"), &bob, json!({"pin": "9999"}))
        .await
        .json();
    assert!(u["data"].get("pin").is_none());

    let a = s.get(&format!("/api/people/{id}"), &admin).await.json();
    assert_eq!(a["data"]["email"], "paul@example.com");
    assert_eq!(a["data"]["pin"], "9999");
    assert_eq!(a["data"]["score"], 7);
    assert_eq!(a["data"]["ssn"], "***-**-6789", "ssn shows to owner only");
    assert_eq!(a["data"]["apiKey"], "[REDACTED]");

    // Masked for the caller → not queryable, even for the row's owner.
    let r = s.get("/api/people?email.like=paul", &alice).await;
    assert_eq!(r.json()["code"], "VALIDATION_FIELD_NOT_QUERYABLE");
    let r = s.get("/api/people?sort=pin", &bob).await;
    assert_eq!(r.json()["code"], "VALIDATION_FIELD_NOT_QUERYABLE");
    assert_eq!(
        s.get("/api/people?score=7", &admin).await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[backends]
async fn a_value_too_short_to_mask_is_redacted() {
    // SPEC §2.7: masking never reveals a short value whole. These masks would hide no character.
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], None);
    let bob = s.token("bob", &["member"], None);
    let created = s
        .post(
            "/api/people",
            &alice,
            json!({"email": "a@b.io", "fullName": "J D"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    // The owner still sees their own email raw; the name is not theirs to see.
    assert_eq!(created.json()["data"]["email"], "a@b.io");
    assert_eq!(created.json()["data"]["fullName"], "[REDACTED]");
    let id = id_str(&created.json()["data"]["id"]);
    let b = s.get(&format!("/api/people/{id}"), &bob).await.json();
    assert_eq!(b["data"]["email"], "[REDACTED]");
    assert_eq!(b["data"]["fullName"], "[REDACTED]");
}
