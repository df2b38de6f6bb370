//! The change log (SPEC §11): every committed write to a table with `history` leaves one record
//! per changed row, in the write's transaction, numbered per table in commit order (on SQLite
//! also without gaps); a write that rolls back, or changes nothing, leaves none. Writes of every kind are covered —
//! REST, batches (bulk and one by one), upserts, actions, triggers, soft deletes with their
//! cascade, restores, hard deletes with what their foreign keys remove or set to null.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use ward_test_macros::backends;

const PROJECT: &str = r#"
auth { roles member }
table notes {
    column orgId text
    column body text
    column secret text
    firewall { scope orgId (auth)org-id }
    access {
        list member
        read member
        create member
        update member
        delete member
        restore member
    }
    guards {
        createable body secret
        updatable body secret
    }
    history {
        keep "30d"
        exclude secret
    }
    on update during {
        require {
            when body ne "rollback"
            error NO_ROLLBACK status=409
        }
    }
    on create after {
        insert events {
            set kind "created"
        }
    }
    action shout {
        access member
        update { set body "LOUD" }
        return record
    }
}
table pages {
    column orgId text
    column body text
    firewall { scope orgId (auth)org-id }
    access {
        read member
        create member
        update member
    }
    guards {
        createable body
        updatable body
    }
    history #true
}
table events {
    column orgId text
    column kind text
    firewall { scope orgId (auth)org-id }
    access {
        list member
    }
    history #true
}
table plain {
    column orgId text
    column body text
    firewall { scope orgId (auth)org-id }
    access {
        list member
        create member
    }
    guards { createable body }
}
table projects {
    column orgId text
    column name text
    firewall { scope orgId (auth)org-id }
    access {
        read member
        create member
        delete member
    }
    guards { createable name }
    delete hard
    history #true
}
table tasks {
    column orgId text
    column title text
    column projectId uuid references=projects on-delete=cascade
    firewall { scope orgId (auth)org-id }
    access {
        read member
        create member
    }
    guards { createable title projectId }
    delete hard
    history #true
}
table comments {
    column orgId text
    column text text
    column projectId uuid references=projects on-delete=set-null
    firewall { scope orgId (auth)org-id }
    access {
        read member
        create member
    }
    guards { createable text projectId }
    delete hard
    history #true
}
"#;

/// One expected record, as [`ops`] lists them.
fn op(op: &str, id: &str) -> (String, String) {
    (op.to_owned(), id.to_owned())
}

async fn log(s: &Server, table: &str) -> Vec<Value> {
    s.app.change_log(table).await.unwrap()
}

/// `(op, id)` per record, oldest first. The seqs must rise; on SQLite they are 1, 2, 3, …
/// (on Postgres a transaction that took a number and rolled back leaves a gap).
async fn ops(s: &Server, table: &str) -> Vec<(String, String)> {
    let records = log(s, table).await;
    let seqs: Vec<i64> = records.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "rising seqs: {records:#?}"
    );
    if !s.db.is_postgres() {
        let gap_free: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(seqs, gap_free, "gap-free seqs: {records:#?}");
    }
    for r in &records {
        assert_eq!(r["table"], table);
    }
    records
        .iter()
        .map(|r| {
            (
                r["op"].as_str().unwrap().to_owned(),
                r["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[backends]
async fn every_committed_change_is_recorded_once_in_commit_order() {
    let s = start_kdl(PROJECT).await;
    let mia = s.token("mia", &["member"], Some("acme"));
    let r = s
        .req_with(
            "POST",
            "/api/notes",
            Some(&mia),
            Some(json!({"body": "first", "secret": "s1"})),
            &[("x-request-id", "req-create-1")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/notes/{id}");
    assert_eq!(
        s.patch(&path, &mia, json!({"body": "second"})).await.status,
        200
    );
    // The same value again changes nothing but the stamps: not a change.
    assert_eq!(
        s.patch(&path, &mia, json!({"body": "second"})).await.status,
        200
    );
    // Only an excluded column: nothing the log keeps changed.
    assert_eq!(
        s.patch(&path, &mia, json!({"secret": "s2"})).await.status,
        200
    );
    assert_eq!(s.delete(&path, &mia).await.status, 200);
    let r = s.post(&format!("{path}/restore"), &mia, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.post(&format!("{path}/shout"), &mia, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);

    assert_eq!(
        ops(&s, "notes").await,
        [
            op("insert", &id),
            op("update", &id),
            op("soft-delete", &id),
            op("restore", &id),
            op("update", &id),
        ]
    );
    let records = log(&s, "notes").await;
    let first = &records[0];
    assert_eq!(first["actor"], "mia");
    assert_eq!(first["role"], "member");
    assert_eq!(first["request"], "req-create-1");
    assert_eq!(first["before"], Value::Null);
    assert_eq!(first["after"]["body"], "first");
    assert_eq!(first["after"]["orgId"], "acme");
    assert_eq!(first["at"], first["after"]["createdAt"]);
    let update = &records[1];
    assert_eq!(update["before"]["body"], "first");
    assert_eq!(update["after"]["body"], "second");
    // A generated request id is recorded when the client sent none.
    assert!(update["request"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(records[2]["after"]["deletedBy"], "mia");
    assert_eq!(records[4]["after"]["body"], "LOUD");
    for r in &records {
        for image in [&r["before"], &r["after"]] {
            assert!(image.get("secret").is_none(), "excluded column stored: {r}");
        }
    }
    // The after trigger's insert into `events` is a write like any other.
    assert_eq!(ops(&s, "events").await.len(), 1);
    assert_eq!(log(&s, "events").await[0]["after"]["kind"], "created");
    // A table without `history` keeps no log.
    let r = s.post("/api/plain", &mia, json!({"body": "x"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(log(&s, "plain").await.is_empty());
}

#[backends]
async fn a_write_that_rolls_back_leaves_no_record() {
    let s = start_kdl(PROJECT).await;
    let mia = s.token("mia", &["member"], Some("acme"));
    let id = id_str(&s.create("notes", &mia, json!({"body": "a"})).await);
    // Aborted after its UPDATE and its record, before the commit: the trigger refuses.
    let r = s
        .patch(
            &format!("/api/notes/{id}"),
            &mia,
            json!({"body": "rollback"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(ops(&s, "notes").await, [op("insert", &id)]);

    // A batch that is not atomic keeps the records of the rows it kept, and only those; the
    // next write's seq follows (on SQLite without a gap).
    let other = id_str(&s.create("notes", &mia, json!({"body": "b"})).await);
    let r = s
        .req(
            "PATCH",
            "/api/notes/batch",
            Some(&mia),
            Some(json!({"records": [
                {"id": id, "body": "rollback"},
                {"id": other, "body": "b2"},
            ], "options": {"atomic": false}})),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text);
    // An atomic batch with a failing record keeps nothing.
    let r = s
        .req(
            "PATCH",
            "/api/notes/batch",
            Some(&mia),
            Some(json!({"records": [
                {"id": other, "body": "b3"},
                {"id": id, "body": "rollback"},
            ], "options": {"atomic": true}})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code(), "BATCH_ATOMIC_FAILED");
    // Bulk creates record each row.
    let r = s
        .post(
            "/api/notes/batch",
            &mia,
            json!({"records": [{"body": "c"}, {"body": "d"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ops = ops(&s, "notes").await;
    assert_eq!(
        ops[..3],
        [
            op("insert", &id),
            op("insert", &other),
            op("update", &other),
        ]
    );
    assert_eq!(ops.len(), 5, "{ops:?}");
    assert!(ops[3..].iter().all(|(op, _)| op == "insert"));
}

#[backends]
async fn a_hard_delete_records_what_its_foreign_keys_remove_and_set_to_null() {
    let s = start_kdl(PROJECT).await;
    let mia = s.token("mia", &["member"], Some("acme"));
    let project = id_str(&s.create("projects", &mia, json!({"name": "p"})).await);
    let task = id_str(
        &s.create("tasks", &mia, json!({"title": "t", "projectId": project}))
            .await,
    );
    let comment = id_str(
        &s.create("comments", &mia, json!({"text": "c", "projectId": project}))
            .await,
    );
    let r = s.delete(&format!("/api/projects/{project}"), &mia).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        ops(&s, "projects").await,
        [op("insert", &project), op("delete", &project)]
    );
    assert_eq!(
        ops(&s, "tasks").await,
        [op("insert", &task), op("delete", &task)]
    );
    assert_eq!(
        ops(&s, "comments").await,
        [op("insert", &comment), op("update", &comment)]
    );
    let nulled = &log(&s, "comments").await[1];
    assert_eq!(nulled["before"]["projectId"], json!(project));
    assert_eq!(nulled["after"]["projectId"], Value::Null);
    let removed = &log(&s, "tasks").await[1];
    assert_eq!(removed["before"]["title"], "t");
    assert_eq!(removed["after"], Value::Null);
}

#[backends]
async fn upserts_record_an_insert_then_updates() {
    let s = start_kdl(
        r#"
auth { roles member }
table tags {
    id text
    column orgId text
    column body text
    firewall { scope orgId (auth)org-id }
    access {
        read member
        create member
        update member
    }
    guards open
    history #true
}
"#,
    )
    .await;
    let mia = s.token("mia", &["member"], Some("acme"));
    for body in ["one", "two"] {
        let r = s
            .req(
                "PUT",
                "/api/tags/n-1",
                Some(&mia),
                Some(json!({"body": body})),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{}", r.text);
    }
    assert_eq!(
        ops(&s, "tags").await,
        [op("insert", "n-1"), op("update", "n-1")]
    );
}

/// `{"body": body}` sent to `url` as `token`: one request of the racing writers below.
async fn send_body(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: String,
) -> reqwest::Response {
    client
        .request(method, url)
        .bearer_auth(token)
        .json(&json!({ "body": body }))
        .send()
        .await
        .unwrap()
}

#[backends]
async fn concurrent_writers_get_one_rising_sequence() {
    let s = start_kdl(PROJECT).await;
    let mia = s.token("mia", &["member"], Some("acme"));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (client, base, mia) = (s.client.clone(), s.base.clone(), mia.clone());
        writers.spawn(async move {
            let mut ids = Vec::new();
            for i in 0..6 {
                let (url, body) = (format!("{base}/api/notes"), format!("{w}-{i}"));
                let r = send_body(&client, reqwest::Method::POST, url, &mia, body).await;
                assert_eq!(r.status(), 201);
                let body: Value = r.json().await.unwrap();
                ids.push(body["data"]["id"].as_str().unwrap().to_owned());
            }
            ids
        });
    }
    let mut created: Vec<String> = writers.join_all().await.into_iter().flatten().collect();
    let mut logged: Vec<String> = ops(&s, "notes")
        .await
        .into_iter()
        .map(|(op, id)| {
            assert_eq!(op, "insert");
            id
        })
        .collect();
    created.sort();
    logged.sort();
    assert_eq!(
        logged, created,
        "each committed create recorded exactly once"
    );
}

/// Updates of one row racing each other each record the image they changed: every record's
/// `before` is the `after` of the record before it, and the last `after` is the row as it
/// stands. (On Postgres an update alone with its record runs READ COMMITTED: its `before` read
/// must lock the row, or a writer that waited for another would record the image it read before
/// waiting.)
#[backends]
async fn concurrent_updates_of_one_row_chain_their_images() {
    let s = start_kdl(PROJECT).await;
    let mia = s.token("mia", &["member"], Some("acme"));
    let r = s
        .req("POST", "/api/pages", Some(&mia), Some(json!({"body": "0"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (client, base, mia, id) = (s.client.clone(), s.base.clone(), mia.clone(), id.clone());
        writers.spawn(async move {
            for i in 0..5 {
                let (url, body) = (format!("{base}/api/pages/{id}"), format!("{w}-{i}"));
                let r = send_body(&client, reqwest::Method::PATCH, url, &mia, body).await;
                assert_eq!(r.status(), 200);
            }
        });
    }
    writers.join_all().await;

    let records = log(&s, "pages").await;
    assert_eq!(records.len(), 41, "one insert and 40 updates: {records:#?}");
    assert_eq!(records[0]["op"], "insert");
    for pair in records.windows(2) {
        assert_eq!(pair[1]["op"], "update");
        assert_eq!(
            pair[1]["before"], pair[0]["after"],
            "an update's before image is the version before it: {pair:#?}"
        );
    }
    let now = s
        .req("GET", &format!("/api/pages/{id}"), Some(&mia), None)
        .await;
    let last = &records[40]["after"];
    assert_eq!(last["body"], now.json()["data"]["body"], "{last:#?}");
    assert_eq!(
        last["modifiedAt"],
        now.json()["data"]["modifiedAt"],
        "{last:#?}"
    );
}
