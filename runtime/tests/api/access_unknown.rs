#![allow(clippy::unwrap_used)]

//! A condition on an auth value the caller lacks is unknown, never false: `not { … }` around it
//! must not turn it into "every row" (docs/decisions.md).

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::json;
use ward_ir::{CompareOp, Condition, Operation, Value};

/// `not { when orgId ne (auth)org-id }`: "rows of my org", spelled so that a missing claim would
/// widen it under two-valued logic.
fn not_other_org() -> Condition {
    Condition::Not {
        of: Box::new(cmp(
            "orgId",
            CompareOp::Ne,
            vec![Value::Auth("org-id".into())],
        )),
    }
}

fn project() -> ward_ir::Ir {
    let docs = table("docs")
        .text("orgId")
        .text("title")
        .access(Operation::List, rule_when("authenticated", not_other_org()))
        .access(Operation::Read, rule_when("authenticated", not_other_org()))
        .access(Operation::Create, rule("authenticated"))
        .access(
            Operation::Update,
            rule_when(
                "authenticated",
                // `any` with a single unknown branch stays unknown too.
                Condition::Any {
                    of: vec![not_other_org()],
                },
            ),
        )
        .access(
            Operation::Delete,
            rule_when("authenticated", not_other_org()),
        )
        .createable(&["orgId", "title"])
        .updatable(&["title"])
        .build();
    ir(vec![docs])
}

#[backends]
async fn not_around_a_missing_auth_value_never_widens() {
    let s = start(project()).await;
    let in_a = s.token("a1", &[], Some("a"));
    let no_org = s.token("n", &[], None);
    let mine = id_str(
        &s.create("docs", &in_a, json!({"orgId": "a", "title": "ours"}))
            .await,
    );
    let theirs = id_str(
        &s.create("docs", &in_a, json!({"orgId": "b", "title": "theirs"}))
            .await,
    );

    // With the claim the rule means "my org".
    let list = s.get("/api/docs", &in_a).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["data"][0]["id"], json!(mine));
    assert_eq!(
        s.get(&format!("/api/docs/{theirs}"), &in_a).await.status,
        404
    );

    // Without it the comparison is unknown, and so is its negation: nothing is granted.
    let list = s.get("/api/docs?total=true", &no_org).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json()["data"], json!([]), "{}", list.text);
    assert_eq!(list.json()["pagination"]["total"], 0);
    for id in [&mine, &theirs] {
        let path = format!("/api/docs/{id}");
        assert_eq!(s.get(&path, &no_org).await.status, 404);
        let r = s.patch(&path, &no_org, json!({"title": "x"})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(r.json()["code"], "ACCESS_CONDITION_FAILED");
        let r = s.delete(&path, &no_org).await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(r.json()["code"], "ACCESS_CONDITION_FAILED");
    }
    let after = s.get(&format!("/api/docs/{mine}"), &in_a).await.json();
    assert_eq!(after["data"]["title"], "ours");
}
