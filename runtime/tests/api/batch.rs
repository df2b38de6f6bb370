#![allow(clippy::unwrap_used)]

//! Batch endpoints (SPEC §5.5) over real HTTP: creates, configuration, body shapes, atomicity.

use crate::batch_support;
use crate::common;

use ward_test_macros::backends;

use batch_support::*;
use common::*;
use serde_json::{Value, json};

#[backends]
async fn create_batch_all_succeed_with_one_timestamp_and_masking() {
    let c = setup().await;
    let r = c
        .batch(
            "POST",
            "items",
            &c.alice,
            json!({"records": [
                {"name": "a", "ssn": "123-45-6789"},
                {"name": "b"},
                {"name": "c", "code": "C"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let j = r.json();
    assert_eq!(
        j["meta"],
        json!({"total": 3, "succeeded": 3, "failed": 0, "atomic": false})
    );
    assert_eq!(j["errors"], json!([]));
    let ok = j["success"].as_array().unwrap();
    assert_eq!(ok.len(), 3);
    assert_eq!(ok[0]["name"], "a");
    assert_eq!(ok[2]["code"], "C");
    assert_eq!(ok[0]["ssn"], "***-**-6789");
    assert!(!r.text.contains("123-45-6789"));
    assert_eq!(ok[0]["org"], "acme", "scope stamped");
    assert_eq!(ok[0]["createdBy"], "alice");
    let at = &ok[0]["createdAt"];
    assert!(
        ok.iter()
            .all(|x| &x["createdAt"] == at && &x["modifiedAt"] == at)
    );
    assert_ne!(ok[0]["id"], ok[1]["id"]);
    assert_eq!(c.names("items", &c.alice).await, ["a", "b", "c"]);
    assert!(c.rows("items", &c.bob).await.is_empty());
}

#[backends]
async fn create_batch_partial_failures_change_exactly_the_successes() {
    let c = setup().await;
    let r = c
        .batch(
            "POST",
            "items",
            &c.alice,
            json!({"records": [
                {"name": "ok1"},
                {"name": "sys", "createdBy": "mallory", "ssn": "987-65-4321"},
                {"name": "scope", "org": "globex"},
                {"name": "way-too-long-name"},
                {"name": "ok2", "bogus": 1},
                {"name": "ok3"},
            ], "options": {"atomic": false}}),
        )
        .await;
    // Six records exceed max=5: nothing is read or written.
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "BATCH_SIZE_EXCEEDED");
    assert_eq!(r.json()["details"], json!({"max": 5, "actual": 6}));
    assert!(c.rows("items", &c.alice).await.is_empty());

    let r = c
        .batch(
            "POST",
            "items",
            &c.alice,
            json!({"records": [
                {"name": "ok1"},
                {"name": "sys", "createdBy": "mallory", "ssn": "987-65-4321"},
                {"name": "scope", "org": "globex"},
                {"name": "way-too-long-name"},
                {"name": "ok2", "bogus": 1},
            ]}),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(
        err_codes(&r),
        [
            (1, "GUARD_SYSTEM_MANAGED".to_string()),
            (2, "GUARD_SYSTEM_MANAGED".to_string()),
            (3, "VALIDATION_LENGTH".to_string()),
            (4, "VALIDATION_UNKNOWN_FIELD".to_string()),
        ]
    );
    let j = r.json();
    assert_eq!(
        j["meta"],
        json!({"total": 5, "succeeded": 1, "failed": 4, "atomic": false})
    );
    assert_eq!(
        j["errors"][0]["error"]["details"]["fields"],
        json!(["createdBy"])
    );
    assert_eq!(j["errors"][1]["error"]["details"]["fields"], json!(["org"]));
    // The failed record is echoed, masked: never the raw value of a masked column.
    assert_eq!(j["errors"][0]["record"]["name"], "sys");
    assert_eq!(j["errors"][0]["record"]["ssn"], "***-**-4321");
    assert!(!r.text.contains("987-65-4321"));
    assert_eq!(c.names("items", &c.alice).await, ["ok1"]);
    assert!(c.rows("items", &c.bob).await.is_empty());
}

#[backends]
async fn unique_conflicts_inside_a_batch_fail_only_the_later_record() {
    let c = setup().await;
    c.s.create("items", &c.alice, json!({"name": "old", "code": "X"}))
        .await;
    let r = c
        .batch(
            "POST",
            "items",
            &c.alice,
            json!({"records": [
                {"name": "n1", "code": "A"},
                {"name": "n2", "code": "A"},
                {"name": "n3", "code": "X"},
                {"name": "n4", "code": "B"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(
        err_codes(&r),
        [
            (1, "UNIQUE_VIOLATION".to_string()),
            (2, "UNIQUE_VIOLATION".to_string())
        ]
    );
    let ok: Vec<String> = r.json()["success"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ok, ["n1", "n4"]);
    assert_eq!(c.names("items", &c.alice).await, ["n1", "n4", "old"]);
}

#[backends]
async fn atomic_batches_roll_back_everything() {
    let c = setup().await;
    c.s.create("items", &c.alice, json!({"name": "keep", "code": "K"}))
        .await;
    // A database failure (unique) after valid records: nothing written, failedAt = that record.
    let r = c
        .batch(
            "POST",
            "items",
            &c.alice,
            json!({"records": [{"name": "a"}, {"name": "b", "code": "K"}, {"name": "c", "nope": 1}],
                   "options": {"atomic": true}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code(), "BATCH_ATOMIC_FAILED");
    let d = &r.json()["details"];
    assert_eq!(d["failedAt"], 1);
    assert_eq!(d["reason"]["code"], "UNIQUE_VIOLATION");
    assert_eq!(r.json()["layer"], "batch");
    assert_eq!(c.names("items", &c.alice).await, ["keep"]);

    // A pipeline failure: the first failing record in order is reported.
    let r = c
        .batch(
            "POST",
            "items",
            &c.alice,
            json!({"records": [{"name": "a"}, {"name": "b", "id": "x"}, {"name": 5}],
                   "options": {"atomic": true}}),
        )
        .await;
    assert_eq!(r.code(), "BATCH_ATOMIC_FAILED");
    assert_eq!(r.json()["details"]["failedAt"], 1);
    assert_eq!(
        r.json()["details"]["reason"]["code"],
        "GUARD_SYSTEM_MANAGED"
    );
    assert_eq!(c.names("items", &c.alice).await, ["keep"]);

    // Updates: the first record's change is undone when the second fails.
    let keep = c.rows("items", &c.alice).await[0]["id"].clone();
    let locked =
        c.s.create("items", &c.alice, json!({"name": "lk", "status": "locked"}))
            .await;
    let r = c
        .batch(
            "PATCH",
            "items",
            &c.alice,
            json!({"records": [{"id": keep, "name": "changed"}, {"id": locked, "name": "x"}],
                   "options": {"atomic": true}}),
        )
        .await;
    assert_eq!(r.code(), "BATCH_ATOMIC_FAILED");
    assert_eq!(
        r.json()["details"]["reason"]["code"],
        "ACCESS_CONDITION_FAILED"
    );
    assert_eq!(c.names("items", &c.alice).await, ["keep", "lk"]);

    // Deletes: nothing deleted.
    let r = c
        .batch(
            "DELETE",
            "items",
            &c.alice,
            json!({"ids": [keep, locked], "options": {"atomic": true}}),
        )
        .await;
    assert_eq!(r.json()["details"]["failedAt"], 1);
    assert_eq!(c.names("items", &c.alice).await, ["keep", "lk"]);

    // All good: committed, meta says atomic.
    let r = c
        .batch(
            "POST",
            "items",
            &c.alice,
            json!({"records": [{"name": "y"}, {"name": "z"}], "options": {"atomic": true}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["meta"]["atomic"], true);
    assert_eq!(c.names("items", &c.alice).await, ["keep", "lk", "y", "z"]);
}

#[backends]
async fn configuration_codes() {
    let c = setup().await;
    for m in ["POST", "PATCH", "PUT", "DELETE"] {
        // Route-level configuration answers before the token is looked at.
        let r =
            c.s.req(m, "/api/frozen/batch", None, Some(json!({"records": []})))
                .await;
        assert_eq!((r.status, r.code()), (400, "BATCH_DISABLED".into()), "{m}");
    }
    let r = c
        .batch(
            "POST",
            "loose",
            &c.alice,
            json!({"records": [{"name": "a"}], "options": {"atomic": true}}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "BATCH_ATOMIC_NOT_ALLOWED".into())
    );
    assert!(c.rows("loose", &c.alice).await.is_empty());
    let r = c
        .batch(
            "POST",
            "loose",
            &c.alice,
            json!({"records": [{"name": "a"}]}),
        )
        .await;
    assert_eq!(r.status, 201);

    // PUT batches need an upsert table.
    let r = c
        .batch("PUT", "loose", &c.alice, json!({"records": [{"id": "x"}]}))
        .await;
    assert_eq!((r.status, r.code()), (405, "UPSERT_NOT_ALLOWED".into()));

    let r = c
        .batch(
            "PATCH",
            "loose",
            &c.alice,
            json!({"records": [{"name": "a"}, {"id": "x", "name": "b"}, {"id": null}]}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "BATCH_MISSING_IDS".into()));
    assert_eq!(r.json()["details"], json!({"indices": [0, 2]}));

    // The size limit is checked before ids or anything else of the records.
    let many: Vec<Value> = (0..11).map(|_| json!({})).collect();
    let r = c
        .batch("PATCH", "loose", &c.alice, json!({"records": many}))
        .await;
    assert_eq!(r.code(), "BATCH_SIZE_EXCEEDED");
    assert_eq!(r.json()["details"], json!({"max": 10, "actual": 11}));

    // An unknown method on the batch path, and a GET, are unknown paths.
    let r = c.s.get("/api/loose/batch", &c.alice).await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND".into()));
}

#[backends]
async fn body_shapes_and_empty_batches() {
    let c = setup().await;
    for body in [
        json!({}),
        json!({"records": {}}),
        json!({"records": [1]}),
        json!({"records": [], "extra": 1}),
        json!({"records": [], "options": []}),
        json!({"records": [], "options": {"atomic": "yes"}}),
        json!({"records": [], "options": {"atomic": true, "x": 1}}),
        json!({"ids": []}),
    ] {
        let r = c.batch("POST", "items", &c.alice, body.clone()).await;
        assert_eq!((r.status, r.code()), (400, "INVALID_JSON".into()), "{body}");
    }
    let r = c
        .batch("DELETE", "items", &c.alice, json!({"ids": [null]}))
        .await;
    assert_eq!(r.code(), "INVALID_JSON");
    let r =
        c.s.client
            .post(format!("{}/api/items/batch", c.s.base))
            .bearer_auth(&c.alice)
            .body("{not json")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 400);

    // An empty batch is a valid no-op.
    let r = c
        .batch("POST", "items", &c.alice, json!({"records": []}))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.json(),
        json!({"success": [], "errors": [],
               "meta": {"total": 0, "succeeded": 0, "failed": 0, "atomic": false}})
    );
    let r = c
        .batch("DELETE", "items", &c.alice, json!({"ids": []}))
        .await;
    assert_eq!(r.status, 200);
}

#[backends]
async fn the_role_check_happens_once_before_the_body() {
    let c = setup().await;
    let viewer = c.s.token("v", &["viewer"], Some("acme"));
    for m in ["POST", "PATCH", "DELETE"] {
        let r =
            c.s.req(m, "/api/items/batch", Some(&viewer), Some(json!("garbage")))
                .await;
        assert_eq!((r.status, r.code()), (403, "ACCESS_ROLE_REQUIRED".into()));
        let r =
            c.s.req(m, "/api/items/batch", None, Some(json!({"records": []})))
                .await;
        assert_eq!((r.status, r.code()), (401, "AUTH_MISSING".into()));
    }
    let no_org = c.s.token("n", &["member"], None);
    let r = c
        .batch(
            "POST",
            "items",
            &no_org,
            json!({"records": [{"name": "a"}]}),
        )
        .await;
    assert_eq!(r.code(), "FIREWALL_SCOPE_MISSING");
}

#[backends]
async fn integer_ids_are_matched_to_their_records() {
    let c = setup().await;
    c.s.create("counters", &c.alice, json!({"name": "first"}))
        .await;
    let records: Vec<Value> = (0..5).map(|i| json!({"name": format!("n{i}")})).collect();
    let r = c
        .batch("POST", "counters", &c.alice, json!({"records": records}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    for (i, row) in r.json()["success"].as_array().unwrap().iter().enumerate() {
        assert_eq!(row["name"], format!("n{i}"));
        let g =
            c.s.get(&format!("/api/counters/{}", row["id"]), &c.alice)
                .await;
        assert_eq!(g.json()["data"]["name"], format!("n{i}"));
    }
    let ids: Vec<Value> = r.json()["success"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].clone())
        .collect();
    let r = c
        .batch(
            "PATCH",
            "counters",
            &c.alice,
            json!({"records": [{"id": ids[0], "name": "x"}, {"id": id_str(&ids[1]), "name": "y"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["success"][1]["name"], "y");
}

#[backends]
async fn a_record_may_reference_one_created_earlier_in_the_batch() {
    let c = setup().await;
    let r = c
        .batch(
            "POST",
            "nodes",
            &c.alice,
            json!({"records": [{"id": "root"}, {"id": "leaf", "up": "root"}, {"id": "bad", "up": "nowhere"}]}),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(err_codes(&r), [(2, "REFERENCE_VIOLATION".to_string())]);
    // Deleting the root soft-deletes the leaf through the cascade; a later id in the same batch
    // sees that, as it would in a sequential run.
    let r = c
        .batch(
            "DELETE",
            "nodes",
            &c.alice,
            json!({"ids": ["root", "leaf"]}),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(err_codes(&r), [(1, "NOT_FOUND".to_string())]);
}

/// SPEC §5.7 for batches: `options.ifMatch` maps record ids to the version each must be at, judged
/// as `If-Match` is on the single-record routes (docs/http-api.md).
#[backends]
async fn batch_records_carry_their_expected_version() {
    let c = setup().await;
    let r = c
        .batch(
            "POST",
            "items",
            &c.alice,
            json!({"records": [{"name": "a"}, {"name": "b"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ids: Vec<String> = r.json()["success"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect();
    let tag = |id: String| {
        let c = &c;
        async move {
            let r = c.s.get(&format!("/api/items/{id}"), &c.alice).await;
            r.headers["etag"].to_str().unwrap().to_owned()
        }
    };
    let (a0, b0) = (tag(ids[0].clone()).await, tag(ids[1].clone()).await);
    let update = |names: [&str; 2], if_match: Value, atomic: bool| {
        json!({
            "records": [{"id": ids[0], "name": names[0]}, {"id": ids[1], "name": names[1]}],
            "options": {"atomic": atomic, "ifMatch": if_match},
        })
    };
    // Both current: written.
    let body = update(["a1", "b1"], json!({&ids[0]: a0, &ids[1]: b0}), true);
    let r = c.batch("PATCH", "items", &c.alice, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // `a` is stale now: the atomic batch writes nothing, a plain one all but `a`.
    let body = update(["a2", "b2"], json!({&ids[0]: a0}), true);
    let r = c.batch("PATCH", "items", &c.alice, body).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.json()["details"]["reason"]["code"],
        "PRECONDITION_FAILED",
        "{}",
        r.text
    );
    assert_eq!(c.names("items", &c.alice).await, ["a1", "b1"]);
    let body = update(["a2", "b2"], json!({&ids[0]: a0}), false);
    let r = c.batch("PATCH", "items", &c.alice, body).await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(err_codes(&r), [(0, "PRECONDITION_FAILED".to_owned())]);
    assert_eq!(c.names("items", &c.alice).await, ["a1", "b2"]);

    // Deletes too; an id the batch does not carry, a malformed tag, or a create batch: 400.
    let a1 = tag(ids[0].clone()).await;
    let body = json!({"ids": [ids[0]], "options": {"ifMatch": {&ids[0]: b0}}});
    let r = c.batch("DELETE", "items", &c.alice, body).await;
    assert_eq!(err_codes(&r), [(0, "PRECONDITION_FAILED".to_owned())]);
    let body = json!({"ids": [ids[0]], "options": {"ifMatch": {&ids[0]: a1}}});
    assert_eq!(c.batch("DELETE", "items", &c.alice, body).await.status, 200);
    for (method, body) in [
        (
            "DELETE",
            json!({"ids": [ids[1]], "options": {"ifMatch": {"nope": "*"}}}),
        ),
        (
            "DELETE",
            json!({"ids": [ids[1]], "options": {"ifMatch": {&ids[1]: "abc"}}}),
        ),
        (
            "POST",
            json!({"records": [{"name": "c"}], "options": {"ifMatch": {&ids[1]: "*"}}}),
        ),
    ] {
        let r = c.batch(method, "items", &c.alice, body).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.json()["code"], "INVALID_JSON");
    }
}
