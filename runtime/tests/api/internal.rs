#![allow(clippy::unwrap_used)]

//! A failure the client cannot cause or fix answers 500 `INTERNAL` with a request id, and the
//! envelope carries no SQL, no table internals and no row values.

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::json;

#[backends]
async fn a_broken_database_answers_internal_without_leaking() {
    let t = table("secrets")
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .updatable(&["name"])
        .build();
    let s = start(ir(vec![t])).await;
    let token = s.token("u1", &["member"], None);
    let created = s
        .create("secrets", &token, json!({ "name": "hunter2" }))
        .await;
    let id = id_str(&created);

    // Pull the table out from under the running server, as a failed disk or an operator would.
    s.db.raw("DROP TABLE secrets");

    for r in [
        s.get("/api/secrets", &token).await,
        s.get(&format!("/api/secrets/{id}"), &token).await,
        s.post("/api/secrets", &token, json!({ "name": "x" })).await,
    ] {
        assert_eq!(r.status, 500, "{}", r.text);
        let body = r.json();
        assert_eq!(body["code"], "INTERNAL");
        assert_eq!(body["layer"], "internal");
        let request_id = body["details"]["requestId"].as_str().unwrap_or_default();
        assert!(!request_id.is_empty(), "a request id to quote: {}", r.text);
        let lower = r.text.to_lowercase();
        for leak in [
            "select",
            "insert",
            "no such table",
            "sqlite",
            "postgres",
            "relation",
            "hunter2",
            "secrets",
        ] {
            assert!(!lower.contains(leak), "`{leak}` leaked: {}", r.text);
        }
    }
}
