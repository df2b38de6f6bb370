#![allow(clippy::unwrap_used)]

//! Batch updates and deletes (SPEC §5.5) over real HTTP: one firewall read, the single-record
//! pipeline per record, invisible ids answered like missing ones.

use crate::batch_support;
use crate::common;

use ward_test_macros::backends;

use batch_support::*;
use common::*;
use serde_json::json;

#[backends]
async fn update_batches_apply_the_pipeline_per_record() {
    let c = setup().await;
    let a =
        c.s.create("items", &c.alice, json!({"name": "a", "code": "CA"}))
            .await;
    let b = c.s.create("items", &c.alice, json!({"name": "b"})).await;
    let locked =
        c.s.create("items", &c.alice, json!({"name": "l", "status": "locked"}))
            .await;
    let foreign = c.s.create("items", &c.bob, json!({"name": "bob"})).await;
    let missing = "01890000-0000-7000-8000-000000000000";

    let r = c
        .batch(
            "PATCH",
            "items",
            &c.alice,
            json!({"records": [
                {"id": a, "name": "a2", "ssn": "111-22-3333"},
                {"id": foreign, "name": "stolen"},
                {"id": missing, "name": "ghost"},
                {"id": locked, "name": "l2"},
                {"id": b, "code": "nope"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(
        err_codes(&r),
        [
            (1, "NOT_FOUND".to_string()),
            (2, "NOT_FOUND".to_string()),
            (3, "ACCESS_CONDITION_FAILED".to_string()),
            (4, "GUARD_FIELD_NOT_UPDATABLE".to_string()),
        ]
    );
    let j = r.json();
    // Invisible and nonexistent ids give the identical per-record envelope, equal to the single 404.
    let single = c.s.get(&format!("/api/items/{missing}"), &c.alice).await;
    assert_eq!(j["errors"][0]["error"], j["errors"][1]["error"]);
    assert_eq!(j["errors"][0]["error"].to_string(), single.text);
    assert_eq!(j["errors"][0]["record"]["id"], foreign);
    assert_eq!(j["success"][0]["name"], "a2");
    assert_eq!(j["success"][0]["ssn"], "***-**-3333");
    assert!(!r.text.contains("111-22-3333"));
    assert_eq!(j["success"][0]["modifiedBy"], "alice");
    assert_eq!(c.names("items", &c.alice).await, ["a2", "b", "l"]);
    assert_eq!(c.names("items", &c.bob).await, ["bob"]);

    // All good → 200; the same id twice is applied in order.
    let r = c
        .batch(
            "PATCH",
            "items",
            &c.alice,
            json!({"records": [{"id": a, "name": "a3"}, {"id": b, "status": "locked"},
                               {"id": b, "name": "b2"}]}),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(err_codes(&r), [(2, "ACCESS_CONDITION_FAILED".to_string())]);
    let r = c
        .batch(
            "PATCH",
            "items",
            &c.alice,
            json!({"records": [{"id": a, "name": "a4"}, {"id": a, "ssn": "123-45-6789"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ok = r.json()["success"].as_array().unwrap().clone();
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[1]["name"], "a4");
    assert_eq!(ok[0]["modifiedAt"], ok[1]["modifiedAt"]);
    let admin_view =
        c.s.get(&format!("/api/items/{}", id_str(&a)), &c.admin)
            .await;
    assert_eq!(admin_view.json()["data"]["ssn"], "123-45-6789");
}

#[backends]
async fn delete_batches() {
    let c = setup().await;
    let a = c.s.create("items", &c.alice, json!({"name": "a"})).await;
    let b = c.s.create("items", &c.alice, json!({"name": "b"})).await;
    let foreign = c.s.create("items", &c.bob, json!({"name": "bob"})).await;
    let r = c
        .batch(
            "DELETE",
            "items",
            &c.alice,
            json!({"ids": [a, foreign, "junk", a, b]}),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(
        err_codes(&r),
        [
            (1, "NOT_FOUND".to_string()),
            (2, "NOT_FOUND".to_string()),
            (3, "NOT_FOUND".to_string()),
        ]
    );
    let j = r.json();
    assert_eq!(j["errors"][0]["id"], foreign);
    assert_eq!(j["errors"][1]["id"], "junk");
    assert_eq!(j["errors"][0]["error"], j["errors"][1]["error"]);
    let ok = j["success"].as_array().unwrap();
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[0]["id"], a);
    assert_eq!(ok[0]["deleted"], true);
    assert_eq!(ok[0]["deletedBy"], "alice");
    assert!(ok[0]["deletedAt"].is_string());
    assert_eq!(ok[0]["deletedAt"], ok[1]["deletedAt"]);
    assert!(c.rows("items", &c.alice).await.is_empty());
    assert_eq!(c.names("items", &c.bob).await, ["bob"]);
    let r = c
        .batch("DELETE", "items", &c.bob, json!({"ids": [foreign]}))
        .await;
    assert_eq!(r.status, 200);

    // Hard delete with `restrict`: only the referenced parent fails.
    let p1 = c.s.create("parents", &c.alice, json!({"name": "p1"})).await;
    let p2 = c.s.create("parents", &c.alice, json!({"name": "p2"})).await;
    c.s.create("kids", &c.alice, json!({"parentId": p1})).await;
    let r = c
        .batch("DELETE", "parents", &c.alice, json!({"ids": [p1, p2]}))
        .await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(err_codes(&r), [(0, "REFERENCE_VIOLATION".to_string())]);
    assert_eq!(c.names("parents", &c.alice).await, ["p1"]);
}
