//! Triggers (SPEC §2.12): `before` may refuse a write, a failing `during` rolls the write back,
//! `after` runs once the write committed and never changes the answer. They fire for single
//! records and batches alike, and see `(record)` and `(old)`.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use ward_test_macros::backends;

const PROJECT: &str = r#"
auth { roles member }
table rooms {
    column name text required=#true
    column organizationId text
    firewall { scope organizationId (auth)org-id }
    access {
        list member
        read member
        create member
        update member
        delete member
    }
    guards {
        createable name
        updatable name
    }
    delete hard
    on create before {
        require {
            when name ne "forbidden"
            error NAME_FORBIDDEN status=422 message="That name is not allowed"
        }
    }
    on create after {
        insert events {
            set kind "created"
            set detail (record)name
        }
        require {
            when name ne "late"
            error TOO_LATE status=409
        }
    }
    on update during {
        insert events {
            set kind "renamed"
            set detail (old)name
        }
        require {
            when name ne "rollback"
            error NO_ROLLBACK status=409 message="Renames to rollback are refused"
        }
    }
    on delete after {
        insert events {
            set kind "deleted"
            set detail (record)name
        }
    }
}
table events {
    column kind text
    column detail text
    column organizationId text
    firewall { scope organizationId (auth)org-id }
    access {
        list member
        read member
    }
}
"#;

async fn server() -> Server {
    start_kdl(PROJECT).await
}

/// Every visible event as `kind detail`, oldest first.
async fn events(s: &Server, token: &str) -> Vec<String> {
    let r = s
        .get("/api/events?sort=createdAt,id&limit=100", token)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut out: Vec<String> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["kind"].as_str().unwrap(),
                e["detail"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

async fn names(s: &Server, token: &str) -> Vec<Value> {
    let r = s.get("/api/rooms?sort=name", token).await;
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect()
}

#[backends]
async fn before_refuses_and_after_runs_after_the_commit_without_changing_the_answer() {
    let s = server().await;
    let mia = s.token("mia", &["member"], Some("acme"));
    let r = s
        .post("/api/rooms", &mia, json!({"name": "forbidden"}))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.code(), "NAME_FORBIDDEN");
    assert_eq!(r.json()["layer"], "action");
    assert!(names(&s, &mia).await.is_empty(), "nothing written");
    assert!(events(&s, &mia).await.is_empty());

    let r = s.post("/api/rooms", &mia, json!({"name": "Everest"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The after trigger failing is logged; the created row stays, its own insert is undone.
    let r = s.post("/api/rooms", &mia, json!({"name": "late"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(names(&s, &mia).await, ["Everest", "late"]);
    assert_eq!(events(&s, &mia).await, ["created Everest"]);
    // The trigger's insert went through the events table's firewall: stamped with acme.
    let oz = s.token("oz", &["member"], Some("globex"));
    assert!(events(&s, &oz).await.is_empty());

    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let r = s.delete(&format!("/api/rooms/{id}"), &mia).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(events(&s, &mia).await, ["created Everest", "deleted late"]);
}

#[backends]
async fn a_failing_during_trigger_rolls_the_write_back() {
    let s = server().await;
    let mia = s.token("mia", &["member"], Some("acme"));
    let id = id_str(&s.create("rooms", &mia, json!({"name": "Everest"})).await);
    let r = s
        .patch(&format!("/api/rooms/{id}"), &mia, json!({"name": "K2"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .patch(
            &format!("/api/rooms/{id}"),
            &mia,
            json!({"name": "rollback"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.code(), "NO_ROLLBACK");
    assert_eq!(names(&s, &mia).await, ["K2"], "the update was rolled back");
    assert_eq!(
        events(&s, &mia).await,
        ["created Everest", "renamed Everest"],
        "and so was the trigger's own insert"
    );
}

#[backends]
async fn batches_fire_triggers_per_record_and_only_for_records_that_stay() {
    let s = server().await;
    let mia = s.token("mia", &["member"], Some("acme"));
    let body = json!({"records": [{"name": "a"}, {"name": "forbidden"}, {"name": "b"}]});
    let r = s
        .req("POST", "/api/rooms/batch", Some(&mia), Some(body))
        .await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(r.json()["errors"][0]["error"]["code"], "NAME_FORBIDDEN");
    assert_eq!(names(&s, &mia).await, ["a", "b"]);
    assert_eq!(events(&s, &mia).await, ["created a", "created b"]);

    // An atomic batch that fails leaves no row and runs no after trigger.
    let body =
        json!({"records": [{"name": "c"}, {"name": "forbidden"}], "options": {"atomic": true}});
    let r = s
        .req("POST", "/api/rooms/batch", Some(&mia), Some(body))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["details"]["reason"]["code"], "NAME_FORBIDDEN");
    assert_eq!(names(&s, &mia).await, ["a", "b"]);
    assert_eq!(events(&s, &mia).await, ["created a", "created b"]);
}

const STAMPING: &str = r#"
auth { roles member }
table notes {
    column title text required=#true
    column state text
    column organizationId text
    firewall { scope organizationId (auth)org-id }
    access {
        read member
        create member
        update member
    }
    guards {
        createable title
        updatable title
    }
    on create during {
        update notes {
            when id eq (record)id
            set state "filed"
        }
    }
    on update during {
        update notes {
            when id eq (record)id
            set state "edited"
        }
    }
}
"#;

/// A write's answer is the row as the whole transaction left it: a `during` trigger that changes
/// the written row itself shows in the answer (the write's own returned row is stale by then).
#[backends]
async fn the_answer_shows_what_during_triggers_did_to_the_row() {
    let s = start_kdl(STAMPING).await;
    let mia = s.token("mia", &["member"], Some("acme"));
    let r = s.post("/api/notes", &mia, json!({"title": "a"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["data"]["state"], "filed", "{}", r.text);
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();

    let r = s
        .patch(&format!("/api/notes/{id}"), &mia, json!({"title": "b"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["title"], "b");
    assert_eq!(r.json()["data"]["state"], "edited", "{}", r.text);
}
