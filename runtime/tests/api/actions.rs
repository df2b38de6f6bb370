//! `POST /api/T/{id}/A` (SPEC §2.10): record actions run their steps in one transaction on a row
//! loaded through the firewall; transitions are compare-and-set; protected columns change only
//! through the actions listed for them.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use ward_test_macros::backends;

const PROJECT: &str = r#"
auth { roles member admin }
table rooms {
    column name text required=#true
    column capacity integer default=10
    column status text default=active { one-of active maintenance archived }
    column notes text
    column contactEmail text
    column organizationId text
    firewall { scope organizationId (auth)org-id }
    access {
        list member+
        read member+
        create member+
        update member+
    }
    guards {
        createable name capacity notes contactEmail
        updatable name capacity notes contactEmail
        protected status { actions archive reopen maintain }
    }
    masking { mask contactEmail email show=admin }

    action archive {
        access admin
        input reason text max-length=20
        transition status { from active maintenance; to archived }
        update { set notes (input)reason }
        return record
    }
    action reopen {
        access admin
        transition status { from archived; to active }
    }
    action maintain {
        access member+ { when capacity lte 50 }
        require {
            when notes not-null
            error NOTES_REQUIRED status=409 message="Describe the problem first"
        }
        transition status { from active; to maintenance }
        return {
            field id (record)id
            field status (record)status
            field contact (record)contactEmail
            field by (auth)user-id
        }
    }
}
"#;

async fn server() -> Server {
    start_kdl(PROJECT).await
}

async fn room(s: &Server, token: &str, body: Value) -> String {
    id_str(&s.create("rooms", token, body).await)
}

async fn status_of(s: &Server, token: &str, id: &str) -> Value {
    s.get(&format!("/api/rooms/{id}"), token).await.json()["data"]["status"].clone()
}

#[backends]
async fn transitions_move_between_the_listed_states_only() {
    let s = server().await;
    let admin = s.token("ada", &["admin"], Some("acme"));
    let id = room(&s, &admin, json!({"name": "Everest"})).await;
    let r = s
        .post(
            &format!("/api/rooms/{id}/archive"),
            &admin,
            json!({"reason": "flooded"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["status"], "archived");
    assert_eq!(r.json()["data"]["notes"], "flooded");
    assert_eq!(r.json()["data"]["modifiedBy"], "ada");
    // Archived is not among archive's `from` states.
    let r = s
        .post(&format!("/api/rooms/{id}/archive"), &admin, json!({}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.code(), "ACCESS_ACTION_NOT_ALLOWED_FOR_STATE");
    assert_eq!(
        r.json()["details"],
        json!({"field": "status", "current": "archived", "target": "archived",
               "allowedFrom": ["active", "maintenance"]})
    );
    // No body at all is an empty set of inputs.
    let r = s
        .req(
            "POST",
            &format!("/api/rooms/{id}/reopen"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"data": {"ok": true}}), "no return step");
    assert_eq!(status_of(&s, &admin, &id).await, "active");
}

#[backends]
async fn who_may_act_is_decided_before_the_row_and_the_firewall_hides_other_tenants() {
    let s = server().await;
    let admin = s.token("ada", &["admin"], Some("acme"));
    let member = s.token("mia", &["member"], Some("acme"));
    let rival = s.token("gus", &["admin"], Some("globex"));
    let id = room(&s, &admin, json!({"name": "Everest"})).await;
    let path = format!("/api/rooms/{id}/archive");
    let r = s.post(&path, &member, json!({})).await;
    assert_eq!(r.code(), "ACCESS_ROLE_REQUIRED");
    let r = s
        .post(
            "/api/rooms/01900000-0000-7000-8000-000000000000/archive",
            &member,
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "ACCESS_ROLE_REQUIRED", "before any read");
    let r = s.req("POST", &path, None, Some(json!({}))).await;
    assert_eq!(r.code(), "AUTH_MISSING");
    // Another tenant's row answers exactly like a row that does not exist.
    let other = s.post(&path, &rival, json!({})).await;
    let none = s
        .post(
            "/api/rooms/01900000-0000-7000-8000-000000000000/archive",
            &rival,
            json!({}),
        )
        .await;
    assert_eq!(other.status, 404);
    assert_eq!(other.text, none.text);
    // Unknown actions and other methods are the fixed NOT_FOUND too.
    let r = s
        .post(&format!("/api/rooms/{id}/explode"), &admin, json!({}))
        .await;
    assert_eq!(r.text, none.text);
    let r = s.get(&path, &admin).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        status_of(&s, &admin, &id).await,
        "active",
        "nothing changed"
    );
}

#[backends]
async fn conditions_requirements_and_inputs_refuse_without_writing() {
    let s = server().await;
    let admin = s.token("ada", &["admin"], Some("acme"));
    let member = s.token("mia", &["member"], Some("acme"));
    let big = room(&s, &member, json!({"name": "Hall", "capacity": 80})).await;
    let small = room(
        &s,
        &member,
        json!({"name": "Nook", "capacity": 4, "contactEmail": "nook@example.com"}),
    )
    .await;
    // The action's own condition on the row: 409, no details.
    let r = s
        .post(&format!("/api/rooms/{big}/maintain"), &member, json!({}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.code(), "ACCESS_ACTION_NOT_ALLOWED_FOR_STATE");
    // A `require` step's own error, layer `action`.
    let path = format!("/api/rooms/{small}/maintain");
    let r = s.post(&path, &member, json!({})).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json(),
        json!({"error": "Describe the problem first", "layer": "action", "code": "NOTES_REQUIRED"})
    );
    assert_eq!(status_of(&s, &member, &small).await, "active");
    // Inputs: unknown keys and invalid values are 400, and nothing is written.
    let archive = format!("/api/rooms/{small}/archive");
    let r = s.post(&archive, &admin, json!({"why": "x"})).await;
    assert_eq!(r.code(), "VALIDATION_UNKNOWN_FIELD");
    let r = s
        .post(&archive, &admin, json!({"reason": "x".repeat(21)}))
        .await;
    assert_eq!(r.code(), "VALIDATION_LENGTH");
    assert_eq!(status_of(&s, &admin, &small).await, "active");
    // With notes, the member may; the returned object is masked like any read.
    s.patch(
        &format!("/api/rooms/{small}"),
        &member,
        json!({"notes": "leaky tap"}),
    )
    .await;
    let r = s.post(&path, &member, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["data"],
        json!({"id": small, "status": "maintenance", "contact": "n***@e******.com", "by": "mia"})
    );
}

#[backends]
async fn protected_columns_change_through_their_actions_only() {
    let s = server().await;
    let admin = s.token("ada", &["admin"], Some("acme"));
    let id = room(&s, &admin, json!({"name": "Everest"})).await;
    let r = s
        .patch(
            &format!("/api/rooms/{id}"),
            &admin,
            json!({"status": "archived"}),
        )
        .await;
    assert_eq!(r.code(), "GUARD_FIELD_PROTECTED");
    assert_eq!(
        r.json()["details"]["actions"],
        json!(["archive", "reopen", "maintain"])
    );
}

#[backends]
async fn of_racing_transitions_exactly_one_wins() {
    let s = server().await;
    let admin = s.token("ada", &["admin"], Some("acme"));
    let id = room(&s, &admin, json!({"name": "Everest"})).await;
    let path = format!("/api/rooms/{id}/archive");
    let mut racing = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url, token) = (s.client.clone(), format!("{}{path}", s.base), admin.clone());
        racing.spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            (status, body)
        });
    }
    let answers = racing.join_all().await;
    let won = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(won, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
        let code = body["code"].as_str().unwrap_or("");
        let lost = *status == 409
            && matches!(
                code,
                "ACCESS_TRANSITION_LOST" | "ACCESS_ACTION_NOT_ALLOWED_FOR_STATE"
            );
        assert!(lost || code == "DATABASE_BUSY", "{body}");
    }
    assert_eq!(status_of(&s, &admin, &id).await, "archived");
}

const BOOKING: &str = r#"
auth { roles member admin }
table rooms {
    column name text required=#true
    column status text default=active { one-of active archived }
    column organizationId text
    firewall { scope organizationId (auth)org-id }
    access {
        list member+
        read member+
        create admin
    }
    guards { createable name status }
}
table bookings {
    column roomId uuid references=rooms required=#true
    column title text required=#true max-length=20
    column done boolean default=#false
    column organizationId text
    firewall { scope organizationId (auth)org-id }
    access {
        list member+
        read member+
    }
    action toggle {
        access member+
        if {
            when done eq #true
            then { update { set done #false; } }
            else { update { set done #true; } }
        }
        return record
    }
}
action bookRoom {
    access member+
    input roomId uuid required=#true
    input title text required=#true
    require {
        exists rooms {
            when id eq (input)roomId
            when status eq active
        }
        error ROOM_UNAVAILABLE status=409 message="Room is not available"
    }
    insert bookings {
        set roomId (input)roomId
        set title (input)title
    }
    return inserted
}
action whoami method=GET {
    access public
    input shout boolean default=#false
    return {
        field user (auth)user-id
        field shout (input)shout
    }
}
"#;

async fn booking_server() -> Server {
    start_kdl(BOOKING).await
}

#[backends]
async fn standalone_actions_check_insert_and_answer_in_one_transaction() {
    let s = booking_server().await;
    let admin = s.token("ada", &["admin"], Some("acme"));
    let mia = s.token("mia", &["member"], Some("acme"));
    let gus = s.token("gus", &["member"], Some("globex"));
    let open = room(&s, &admin, json!({"name": "Everest"})).await;
    let closed = room(&s, &admin, json!({"name": "Attic", "status": "archived"})).await;
    let r = s
        .post(
            "/api/actions/bookRoom",
            &mia,
            json!({"roomId": open, "title": "Standup"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let booking = r.json()["data"].clone();
    assert_eq!(booking["title"], "Standup");
    assert_eq!(booking["organizationId"], "acme", "stamped by the firewall");
    assert_eq!(booking["createdBy"], "mia");
    // `exists` sees only what the caller can read: an archived room, another tenant's room and
    // a room that does not exist all fail the same way, and nothing is inserted.
    for (who, room_id) in [(&mia, closed.as_str()), (&gus, open.as_str())] {
        let r = s
            .post(
                "/api/actions/bookRoom",
                who,
                json!({"roomId": room_id, "title": "x"}),
            )
            .await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(r.code(), "ROOM_UNAVAILABLE");
    }
    // Inputs are validated before any step; an insert that fails validation writes nothing.
    let r = s
        .post("/api/actions/bookRoom", &mia, json!({"roomId": open}))
        .await;
    assert_eq!(r.code(), "VALIDATION_REQUIRED");
    let r = s
        .post(
            "/api/actions/bookRoom",
            &mia,
            json!({"roomId": open, "title": "x".repeat(21)}),
        )
        .await;
    assert_eq!(r.code(), "VALIDATION_LENGTH");
    let list = s.get("/api/bookings", &mia).await.json();
    assert_eq!(list["pagination"]["count"], 1);
    // Roles before anything; unknown actions and the wrong method are the fixed NOT_FOUND.
    let r = s
        .req("POST", "/api/actions/bookRoom", None, Some(json!({})))
        .await;
    assert_eq!(r.code(), "AUTH_MISSING");
    assert_eq!(
        s.post("/api/actions/nope", &mia, json!({})).await.code(),
        "NOT_FOUND"
    );
    assert_eq!(
        s.get("/api/actions/bookRoom", &mia).await.code(),
        "NOT_FOUND"
    );
    // A record action with `if`: toggles.
    let id = booking["id"].as_str().unwrap();
    let path = format!("/api/bookings/{id}/toggle");
    let r = s.post(&path, &mia, json!({})).await;
    assert_eq!(r.json()["data"]["done"], true, "{}", r.text);
    let r = s.post(&path, &mia, json!({})).await;
    assert_eq!(r.json()["data"]["done"], false);
}

#[backends]
async fn a_get_action_takes_its_inputs_from_the_query_string() {
    let s = booking_server().await;
    let r = s
        .req("GET", "/api/actions/whoami?shout=true", None, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"], json!({"user": null, "shout": true}));
    let mia = s.token("mia", &["member"], Some("acme"));
    let r = s.get("/api/actions/whoami", &mia).await;
    assert_eq!(r.json()["data"], json!({"user": "mia", "shout": false}));
    let r = s.get("/api/actions/whoami?loud=1", &mia).await;
    assert_eq!(r.code(), "VALIDATION_UNKNOWN_FIELD");
    let r = s.get("/api/actions/whoami?shout=maybe", &mia).await;
    assert_eq!(r.code(), "VALIDATION_TYPE");
    let r = s.post("/api/actions/whoami", &mia, json!({})).await;
    assert_eq!(r.code(), "NOT_FOUND");
}
