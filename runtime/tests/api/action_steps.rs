//! The action steps that reach other rows (SPEC §2.10): `update TABLE`, `delete [TABLE]` and
//! `query NAME TABLE` with `return NAME`. Each goes through the firewall of the table it
//! touches, and what a query returns is what the caller could read, masked.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use ward_test_macros::backends;

const PROJECT: &str = r#"
auth { roles member admin }
table rooms {
    column name text required=#true
    column organizationId text
    relation bookings has-many=bookings via=roomId
    firewall { scope organizationId (auth)org-id }
    access {
        list member+
        read member+
        create member+
        restore admin
    }
    guards { createable name }

    action close {
        access admin
        update bookings {
            set title "cancelled"
            when roomId eq (record)id
            when title ne "kept"
        }
        delete bookings { when roomId eq (record)id; when title eq "cancelled" }
    }
    action drop {
        access admin
        delete
    }
}
table bookings {
    column roomId uuid references=rooms on-delete=cascade required=#true
    column title text required=#true
    column secret text
    column organizationId text
    firewall { scope organizationId (auth)org-id }
    access {
        list member+
        read member+ { when title ne "hidden" }
        create member+
    }
    guards { createable roomId title secret }
    masking { mask secret redact show=admin }
    delete hard
}
action ping {
    access public
    input note text max-length=5
    return { field pong (input)note }
}
action schedule method=GET {
    access member+
    input roomId uuid required=#true
    query rows bookings {
        when roomId eq (input)roomId
        sort title
        limit 2
    }
    return rows
}
"#;

async fn server() -> Server {
    start_kdl(PROJECT).await
}

async fn booking(s: &Server, token: &str, room: &str, title: &str) -> String {
    let body = json!({"roomId": room, "title": title, "secret": "s3cret"});
    id_str(&s.create("bookings", token, body).await)
}

fn titles(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[backends]
async fn a_query_returns_readable_rows_in_order_masked_and_limited() {
    let s = server().await;
    let member = s.token("mia", &["member"], Some("acme"));
    let other = s.token("oz", &["member"], Some("globex"));
    let admin = s.token("ada", &["admin"], Some("acme"));
    let room = id_str(&s.create("rooms", &member, json!({"name": "Everest"})).await);
    for t in ["c", "hidden", "a", "b"] {
        booking(&s, &member, &room, t).await;
    }
    let path = format!("/api/actions/schedule?roomId={room}");
    let r = s.get(&path, &member).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // `hidden` fails the read rule, the sort is by title, the limit is 2.
    assert_eq!(titles(&r.json()), ["a", "b"]);
    assert_eq!(
        r.json()["data"][0]["secret"],
        "[REDACTED]",
        "masked for members"
    );
    let r = s.get(&path, &admin).await;
    assert_eq!(r.json()["data"][0]["secret"], "s3cret", "admins see it");
    // Another tenant's caller sees none of it.
    let r = s.get(&path, &other).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"], json!([]));
}

#[backends]
async fn update_and_delete_reach_only_matching_rows_inside_the_callers_tenant() {
    let s = server().await;
    let member = s.token("mia", &["member"], Some("acme"));
    let admin = s.token("ada", &["admin"], Some("acme"));
    let other = s.token("oz", &["member"], Some("globex"));
    let room = id_str(&s.create("rooms", &member, json!({"name": "Everest"})).await);
    let spare = id_str(&s.create("rooms", &member, json!({"name": "K2"})).await);
    let kept = booking(&s, &member, &room, "kept").await;
    let standup = booking(&s, &member, &room, "standup").await;
    let elsewhere = booking(&s, &member, &spare, "retro").await;
    let foreign_room = id_str(&s.create("rooms", &other, json!({"name": "Alps"})).await);
    let foreign = booking(&s, &other, &foreign_room, "planning").await;

    let r = s
        .post(&format!("/api/rooms/{room}/close"), &admin, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"data": {"ok": true}}));
    // `standup` was renamed then deleted; `kept` escaped the update, so the delete too.
    assert_eq!(
        s.get(&format!("/api/bookings/{standup}"), &admin)
            .await
            .status,
        404
    );
    let r = s.get(&format!("/api/bookings/{kept}"), &admin).await;
    assert_eq!(r.json()["data"]["title"], "kept");
    assert_eq!(
        s.get(&format!("/api/bookings/{elsewhere}"), &admin)
            .await
            .status,
        200
    );
    let r = s.get(&format!("/api/bookings/{foreign}"), &other).await;
    assert_eq!(
        r.json()["data"]["title"],
        "planning",
        "another tenant untouched"
    );
    // A firewalled action on a foreign room is not found, and changes nothing.
    let r = s
        .post(
            &format!("/api/rooms/{foreign_room}/close"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        s.get(&format!("/api/rooms/{foreign_room}"), &other)
            .await
            .status,
        200
    );
    // `delete` without a table removes the action's own row, soft as the table says.
    let r = s
        .post(&format!("/api/rooms/{room}/drop"), &admin, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        s.get(&format!("/api/rooms/{room}"), &admin).await.status,
        404
    );
    let r = s.get("/api/rooms?deleted=only", &admin).await;
    assert_eq!(r.json()["data"][0]["id"], room, "soft-deleted, restorable");
}

#[backends]
async fn public_invocations_are_written_to_the_audit_log() {
    let s = server().await;
    let member = s.token("mia", &["member"], Some("acme"));
    let audited = |s: &Server| {
        s.db.scalar("SELECT count(*) FROM _ward_audit WHERE action = 'ping'")
    };
    let r = s
        .req(
            "POST",
            "/api/actions/ping",
            None,
            Some(json!({"note": "hi"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"data": {"pong": "hi"}}));
    assert_eq!(audited(&s), 1);
    // A caller with a token is not public: not recorded.
    let r = s.post("/api/actions/ping", &member, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(audited(&s), 1);
    let status =
        s.db.scalar("SELECT status FROM _ward_audit WHERE action = 'ping'");
    assert_eq!(status, 200);
}
