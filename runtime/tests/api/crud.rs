#![allow(clippy::unwrap_used)]

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::json;
use ward_ir::{Column, ColumnType, IdKind, OnDelete, Reference};

fn reference(name: &str, target: &str, on_delete: OnDelete) -> Column {
    Column {
        references: Some(Reference {
            table: target.into(),
            on_delete,
        }),
        ..column(name, ColumnType::Uuid)
    }
}

fn project() -> ward_ir::Ir {
    let all = [
        "name", "code", "count", "ratio", "active", "meta", "day", "at",
    ];
    let items = table("items")
        .text("name")
        .col(Column {
            unique: true,
            ..column("code", ColumnType::Text)
        })
        .col(column("count", ColumnType::Integer))
        .col(column("ratio", ColumnType::Float))
        .col(column("active", ColumnType::Boolean))
        .col(column("meta", ColumnType::Json))
        .col(column("day", ColumnType::Date))
        .col(column("at", ColumnType::Datetime))
        .crud("member+")
        .createable(&all)
        .updatable(&all)
        .build();
    let types = table("types")
        .text("name")
        .text("org")
        .scope("org", "org-id", "")
        .crud("member+")
        .createable(&["name"])
        .hard()
        .build();
    let parts = table("parts")
        .col(reference("typeId", "types", OnDelete::Restrict))
        .text("org")
        .scope("org", "org-id", "")
        .crud("member+")
        .createable(&["typeId"])
        .updatable(&["typeId"])
        .hard()
        .build();
    let counters = table("counters")
        .id(IdKind::Integer)
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .build();
    let slugs = table("slugs")
        .id(IdKind::Text)
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .build();
    ir(vec![items, types, parts, counters, slugs])
}

#[backends]
async fn record_shape_and_round_trip() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    let r = s
        .post(
            "/api/items",
            &t,
            json!({"name": "n", "code": "c1", "count": 3, "ratio": 1.5, "active": true,
                   "meta": {"a": [1, 2]}, "day": "2026-01-02", "at": "2026-01-02T03:04:05+02:00"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let d = r.json()["data"].clone();
    assert_eq!(d["active"], true);
    assert_eq!(d["meta"], json!({"a": [1, 2]}));
    assert_eq!(d["ratio"], 1.5);
    assert_eq!(d["at"], "2026-01-02T01:04:05.000Z");
    let keys: Vec<&String> = d.as_object().unwrap().keys().collect();
    for k in [
        "id",
        "createdAt",
        "createdBy",
        "modifiedAt",
        "modifiedBy",
        "deletedAt",
        "deletedBy",
    ] {
        assert!(keys.iter().any(|x| *x == k), "missing {k}");
    }
    let id = id_str(&d["id"]);
    let g = s
        .get(&format!("/api/items/{id}?fields=name,active"), &t)
        .await;
    assert_eq!(g.json(), json!({"data": {"name": "n", "active": true}}));
    let u = s
        .patch(
            &format!("/api/items/{id}"),
            &t,
            json!({"active": false, "count": null}),
        )
        .await;
    assert_eq!(u.json()["data"]["active"], false);
    assert!(u.json()["data"]["count"].is_null());
    assert!(u.json()["data"]["modifiedAt"].as_str() >= d["modifiedAt"].as_str());
}

#[backends]
async fn bodies_limits_and_json_errors() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    let big = "x".repeat(1024 * 1024 + 10);
    let r = s.post("/api/items", &t, json!({ "name": big })).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(r.json()["layer"], "validation");
    for raw in ["{not json", "[1,2]", "\"str\""] {
        let r = s
            .client
            .post(format!("{}/api/items", s.base))
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["code"], "INVALID_JSON");
    }
    let r = s
        .client
        .post(format!("{}/api/items", s.base))
        .bearer_auth(&t)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=formed&count=7&active=true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (b["data"]["count"].clone(), b["data"]["active"].clone()),
        (json!(7), json!(true))
    );
}

#[backends]
async fn form_bodies_are_detected_by_media_type_case_insensitively() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    for content_type in [
        "Application/X-WWW-Form-Urlencoded",
        "application/x-www-form-urlencoded ; charset=UTF-8",
        "APPLICATION/X-WWW-FORM-URLENCODED;charset=utf-8",
    ] {
        let r = s
            .client
            .post(format!("{}/api/items", s.base))
            .bearer_auth(&t)
            .header("content-type", content_type)
            .body("name=formed&count=7")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{content_type}");
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["data"]["count"], json!(7), "{content_type}");
    }
    // Only the exact media type is a form: a longer one is read as JSON.
    let r = s
        .client
        .post(format!("{}/api/items", s.base))
        .bearer_auth(&t)
        .header("content-type", "application/x-www-form-urlencodedx")
        .body("name=formed")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

#[backends]
async fn etag_and_if_none_match() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    let id = id_str(&s.create("items", &t, json!({"name": "n"})).await);
    let path = format!("/api/items/{id}");
    let r = s.get(&path, &t).await;
    // The plain record's ETag is strong (its version, SPEC §5.7); If-None-Match compares weakly.
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"'), "{etag}");
    let etag = format!("W/{etag}");
    let again = s
        .client
        .get(format!("{}{path}", s.base))
        .bearer_auth(&t)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    let list = s.get("/api/items", &t).await;
    assert!(list.headers["etag"].to_str().unwrap().starts_with("W/\""));
    s.patch(&path, &t, json!({"name": "m"})).await;
    let changed = s
        .client
        .get(format!("{}{path}", s.base))
        .bearer_auth(&t)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status().as_u16(), 200);
}

#[backends]
async fn put_is_not_an_upsert_yet_and_unknown_tables_are_not_found() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    let r = s
        .req("PUT", "/api/items/abc", Some(&t), Some(json!({})))
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["code"], "UPSERT_NOT_ALLOWED");
    let missing = s
        .get("/api/items/01890000-0000-7000-8000-000000000000", &t)
        .await;
    assert_eq!(s.get("/api/nosuch", &t).await.text, missing.text);
    assert_eq!(
        s.req("GET", "/nowhere", None, None).await.text,
        missing.text
    );
}

#[backends]
async fn unique_violation() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    s.create("items", &t, json!({"code": "same"})).await;
    let r = s.post("/api/items", &t, json!({"code": "same"})).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["code"], "UNIQUE_VIOLATION");
    assert_eq!(r.json()["layer"], "database");
}

#[backends]
async fn references_to_missing_or_invisible_rows_are_the_same_violation() {
    let s = start(project()).await;
    let acme = s.token("a", &["member"], Some("acme"));
    let globex = s.token("g", &["member"], Some("globex"));
    let acme_type = id_str(&s.create("types", &acme, json!({"name": "t"})).await);
    let ok = s
        .post("/api/parts", &acme, json!({"typeId": acme_type}))
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    let foreign = s
        .post("/api/parts", &globex, json!({"typeId": acme_type}))
        .await;
    let missing = s
        .post(
            "/api/parts",
            &globex,
            json!({"typeId": "01890000-0000-7000-8000-000000000000"}),
        )
        .await;
    assert_eq!(foreign.status, 409);
    assert_eq!(foreign.json()["code"], "REFERENCE_VIOLATION");
    assert_eq!(foreign.text, missing.text);
    let part = id_str(&ok.json()["data"]["id"]);
    let r = s
        .patch(
            &format!("/api/parts/{part}"),
            &acme,
            json!({"typeId": "01890000-0000-7000-8000-000000000000"}),
        )
        .await;
    assert_eq!(r.json()["code"], "REFERENCE_VIOLATION");

    // Hard delete of a referenced row: the restrict foreign key answers 409.
    let r = s.delete(&format!("/api/types/{acme_type}"), &acme).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json()["code"], "REFERENCE_VIOLATION");
    assert_eq!(
        s.delete(&format!("/api/parts/{part}"), &acme).await.status,
        200
    );
    assert_eq!(
        s.delete(&format!("/api/types/{acme_type}"), &acme)
            .await
            .status,
        200
    );
    // Hard-deleted rows are really gone.
    assert_eq!(
        s.get(&format!("/api/types/{acme_type}"), &acme)
            .await
            .status,
        404
    );
}

#[backends]
async fn integer_and_text_ids() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    let a = s.create("counters", &t, json!({"name": "a"})).await;
    let b = s.create("counters", &t, json!({"name": "b"})).await;
    assert_eq!((a.clone(), b), (json!(1), json!(2)));
    assert_eq!(
        s.get("/api/counters/1", &t).await.json()["data"]["name"],
        "a"
    );
    assert_eq!(s.get("/api/counters/x", &t).await.status, 404);
    let r = s.post("/api/slugs", &t, json!({"name": "n"})).await;
    assert_eq!(r.json()["code"], "VALIDATION_REQUIRED");
    let r = s
        .post("/api/slugs", &t, json!({"id": "hello", "name": "n"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        s.get("/api/slugs/hello", &t).await.json()["data"]["name"],
        "n"
    );
    assert_eq!(
        s.post("/api/slugs", &t, json!({"id": "hello"}))
            .await
            .json()["code"],
        "UNIQUE_VIOLATION"
    );
}

/// The ETag of `GET /api/T/{id}`: strong, the record's version.
async fn version(s: &Server, path: &str, token: &str) -> (String, serde_json::Value) {
    let r = s.get(path, token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let tag = r.headers["etag"].to_str().unwrap().to_owned();
    assert!(
        tag.starts_with('"'),
        "a plain record's ETag is strong: {tag}"
    );
    (tag, r.json()["data"].clone())
}

/// SPEC §5.7: `If-Match` on PATCH and DELETE is judged against the record's current version
/// inside the write; a stale or weak tag answers 412 `PRECONDITION_FAILED` and writes nothing.
#[backends]
async fn if_match_writes_only_the_version_it_names() {
    let s = start(project()).await;
    let t = s.token("u1", &["member"], Some("acme"));
    let id = id_str(
        &s.create("items", &t, json!({"name": "a", "count": 1}))
            .await,
    );
    let path = format!("/api/items/{id}");
    let (v1, _) = version(&s, &path, &t).await;

    let patch = |tag: &str, count: i64| {
        let (s, t, path, tag) = (&s, t.clone(), path.clone(), tag.to_owned());
        async move {
            s.req_with(
                "PATCH",
                &path,
                Some(&t),
                Some(json!({"count": count})),
                &[("if-match", &tag)],
            )
            .await
        }
    };
    let r = patch(&v1, 2).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (v2, row) = version(&s, &path, &t).await;
    assert_ne!(v1, v2);
    assert_eq!(row["count"], 2);

    let r = patch(&v1, 3).await;
    assert_eq!(r.status, 412, "{}", r.text);
    assert_eq!(r.json()["code"], "PRECONDITION_FAILED");
    let weak = format!("W/{v2}");
    assert_eq!(
        patch(&weak, 3).await.status,
        412,
        "If-Match compares strongly"
    );
    assert_eq!(
        version(&s, &path, &t).await.1["count"],
        2,
        "nothing written"
    );
    assert_eq!(
        patch(&format!("\"x\", {v2}"), 3).await.status,
        200,
        "any tag of a list"
    );
    assert_eq!(patch("*", 4).await.status, 200);
    assert_eq!(patch("not-a-tag", 5).await.status, 400);

    // A projection answers a weak ETag, for caching only.
    let r = s.get(&format!("{path}?fields=name"), &t).await;
    assert!(r.headers["etag"].to_str().unwrap().starts_with("W/"));

    let (v4, _) = version(&s, &path, &t).await;
    let r = s
        .req_with("DELETE", &path, Some(&t), None, &[("if-match", &v1)])
        .await;
    assert_eq!(r.status, 412, "{}", r.text);
    let r = s
        .req_with("DELETE", &path, Some(&t), None, &[("if-match", &v4)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Another tenant's row is the fixed NOT_FOUND whatever the precondition: 412 would tell it
/// exists.
#[backends]
async fn a_precondition_on_an_invisible_row_is_not_found() {
    let s = start(project()).await;
    let acme = s.token("u1", &["member"], Some("acme"));
    let globex = s.token("u2", &["member"], Some("globex"));
    let id = id_str(&s.create("types", &acme, json!({"name": "a"})).await);
    for method in ["PATCH", "DELETE"] {
        for tag in ["*", "\"00\""] {
            let body = (method == "PATCH").then(|| json!({"name": "b"}));
            let r = s
                .req_with(
                    method,
                    &format!("/api/types/{id}"),
                    Some(&globex),
                    body,
                    &[("if-match", tag)],
                )
                .await;
            assert_eq!(r.status, 404, "{method} If-Match {tag}: {}", r.text);
            assert_eq!(r.text, ward_runtime::NOT_FOUND_BODY);
        }
    }
}

/// The lost-update race of the attack report (50 concurrent read-modify-write increments ended
/// at 3 on SQLite and 1 on Postgres): with `If-Match` and a retry on 412, every increment counts.
#[backends]
async fn concurrent_increments_with_if_match_lose_nothing() {
    let s = std::sync::Arc::new(start(project()).await);
    let t = s.token("u1", &["member"], Some("acme"));
    let id = id_str(
        &s.create("items", &t, json!({"name": "n", "count": 0}))
            .await,
    );
    let path = format!("/api/items/{id}");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (s, t, path) = (s.clone(), t.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let (tag, row) = version(&s, &path, &t).await;
                let next = row["count"].as_i64().unwrap() + 1;
                let r = s
                    .req_with(
                        "PATCH",
                        &path,
                        Some(&t),
                        Some(json!({"count": next})),
                        &[("if-match", &tag)],
                    )
                    .await;
                match r.status {
                    200 => return,
                    412 | 503 => continue,
                    other => panic!("{other}: {}", r.text),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(version(&s, &path, &t).await.1["count"], 20);
}

/// Ids that are routes of their own after `/api/T/` (`batch`, `schema`, `subscribe`): a row with
/// such a text id is served by lists and batches only, and every route below `/api/T/{id}`
/// answers it as `/api/T/{id}` does: the fixed NOT_FOUND, whoever asks.
#[backends]
async fn ids_that_are_routes_answer_as_missing_ids_on_every_route_by_id() {
    let s = start_kdl(
        r#"
auth { roles member }
table tags {
    id text
    column body text
    column photo file
    firewall none
    access {
        list member
        read member
        create member
        update member
        delete member
        restore member
    }
    guards open
    delete soft
    history #true
    action touch {
        access member
        update {
            set body "touched"
        }
        return record
    }
}
"#,
    )
    .await;
    let t = s.token("mia", &["member"], None);
    let routes = |id: &str| {
        [
            ("GET", format!("/api/tags/{id}/history")),
            ("POST", format!("/api/tags/{id}/touch")),
            ("GET", format!("/api/tags/{id}/file/photo")),
            ("POST", format!("/api/tags/{id}/file/photo/url")),
        ]
    };
    let reserved = ["batch", "schema", "subscribe"];
    for id in reserved.iter().chain(&["plain"]) {
        let body = json!({"id": id, "body": "x"});
        let r = s.req("POST", "/api/tags", Some(&t), Some(body)).await;
        assert_eq!(r.status, 201, "{id}: {}", r.text);
    }
    let listed = s.req("GET", "/api/tags", Some(&t), None).await;
    assert_eq!(listed.json()["data"].as_array().unwrap().len(), 4);
    let answers = async |id: &str| {
        let mut out = Vec::new();
        for (method, path) in routes(id) {
            let r = s.req(method, &path, Some(&t), None).await;
            out.push((r.status, r.text));
        }
        out
    };
    let missing = answers("nope").await;
    assert!(
        missing.iter().all(|(status, _)| *status == 404),
        "{missing:?}"
    );
    for id in reserved {
        assert_eq!(answers(id).await, missing, "{id}");
    }
    // Without a token too: the fixed NOT_FOUND of a route that is not there, before the token
    // is read (as `GET /api/T/batch` answers).
    let read = s.req("GET", "/api/tags/batch", None, None).await;
    assert_eq!(
        (read.status, read.text.as_str()),
        (404, ward_runtime::NOT_FOUND_BODY)
    );
    for id in reserved {
        for (method, path) in routes(id) {
            let r = s.req(method, &path, None, None).await;
            assert_eq!((r.status, &r.text), (read.status, &read.text), "{path}");
        }
    }
    // The control: an ordinary id is served on the same routes.
    let plain = answers("plain").await;
    assert_eq!((plain[0].0, plain[1].0), (200, 200), "{plain:?}");

    let ids = json!({"ids": ["batch", "schema", "subscribe", "plain"]});
    let r = s
        .req("DELETE", "/api/tags/batch", Some(&t), Some(ids))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let restore = async |id: &str| {
        let r = s
            .req("POST", &format!("/api/tags/{id}/restore"), Some(&t), None)
            .await;
        (r.status, r.text)
    };
    let missing = restore("nope").await;
    assert_eq!(missing.0, 404);
    for id in reserved {
        assert_eq!(restore(id).await, missing, "{id}");
    }
    assert_eq!(restore("plain").await.0, 200);
}
