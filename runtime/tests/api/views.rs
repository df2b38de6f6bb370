//! `GET /api/T/views/V` (SPEC §2.9): a view narrows what its table shows, never widens past the
//! firewall, soft delete or masking, and only admits the callers its `access` names.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use ward_test_macros::backends;

const PROJECT: &str = r#"
auth { roles viewer member admin }
table rooms {
    column name text required=#true searchable=#true
    column capacity integer default=10
    column status text default=active { one-of active archived }
    column organizationId text
    column contactEmail text
    column notes text searchable=#true
    firewall { scope organizationId (auth)org-id }
    access {
        list member+
        read member+
        create member+
        update member+
        delete member+
    }
    guards {
        createable name capacity status contactEmail notes
        updatable name capacity status contactEmail notes
    }
    masking { mask contactEmail email show=admin }

    view available {
        fields name capacity contactEmail
        where status eq active
        param minCapacity integer default=1 {
            when capacity gte (param)minCapacity
        }
        param named text {
            when name eq (param)named
        }
        sort -capacity name
        filterable capacity contactEmail
        sortable name capacity contactEmail
        searchable name
    }
    view directory {
        fields name
        sort name
        access viewer+ widens=#true
    }
    view byEmail {
        fields name contactEmail
        param email text {
            when contactEmail eq (param)email
        }
    }
    view mine {
        fields name capacity
        where createdBy eq (auth)user-id
        param exact integer required=#true {
            when capacity eq (param)exact
        }
    }
}
"#;

async fn server() -> Server {
    start_kdl(PROJECT).await
}

fn names(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Rooms in org `o1` (and one in `o2`), created by `u1`/`u2`.
async fn seed(s: &Server) -> (String, String) {
    let a = s.token("u1", &["member"], Some("o1"));
    let b = s.token("u2", &["member"], Some("o1"));
    let other = s.token("u3", &["member"], Some("o2"));
    for (t, name, cap, status) in [
        (&a, "big", 40, "active"),
        (&a, "small", 4, "active"),
        (&b, "mid", 12, "active"),
        (&b, "old", 30, "archived"),
        (&other, "foreign", 99, "active"),
    ] {
        s.create(
            "rooms",
            t,
            json!({"name": name, "capacity": cap, "status": status, "contactEmail": format!("{name}@example.com")}),
        )
        .await;
    }
    (a, b)
}

#[backends]
async fn a_view_projects_filters_and_orders_within_the_firewall() {
    let s = server().await;
    let (a, _) = seed(&s).await;
    let r = s.get("/api/rooms/views/available", &a).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let body = r.json();
    // `where status eq active` drops `old`; the firewall drops `foreign`; sorted -capacity.
    assert_eq!(names(&body), ["big", "mid", "small"]);
    let first = body["data"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["capacity", "contactEmail", "id", "name"]);
    assert_eq!(
        first["contactEmail"], "b**@e******.com",
        "masked for members"
    );
    // A param with a value adds its condition; the default applied before.
    let r = s
        .get("/api/rooms/views/available?minCapacity=10", &a)
        .await
        .json();
    assert_eq!(names(&r), ["big", "mid"]);
    let r = s
        .get("/api/rooms/views/available?named=mid", &a)
        .await
        .json();
    assert_eq!(names(&r), ["mid"]);
    // Allow-listed filters, sorts and search.
    let r = s
        .get("/api/rooms/views/available?capacity.lt=20&sort=name", &a)
        .await
        .json();
    assert_eq!(names(&r), ["mid", "small"]);
    let r = s
        .get("/api/rooms/views/available?search=SMA", &a)
        .await
        .json();
    assert_eq!(names(&r), ["small"]);
    let r = s
        .get(
            "/api/rooms/views/available?fields=name&limit=1&total=true",
            &a,
        )
        .await
        .json();
    assert_eq!(
        r["data"],
        json!([{"id": r["data"][0]["id"], "name": "big"}])
    );
    assert_eq!(r["pagination"]["total"], 3);
    let cursor = r["pagination"]["nextCursor"].as_str().unwrap().to_owned();
    let r = s
        .get(
            &format!("/api/rooms/views/available?fields=name&limit=1&cursor={cursor}"),
            &a,
        )
        .await
        .json();
    assert_eq!(names(&r), ["mid"]);
}

#[backends]
async fn a_view_refuses_what_its_allow_lists_do_not_name() {
    let s = server().await;
    let (a, _) = seed(&s).await;
    for (query, param) in [
        ("status=active", "status"),         // not filterable
        ("notes.like=x", "notes.like"),      // not filterable
        ("sort=status", "sort"),             // not a field
        ("sort=-createdAt", "sort"),         // not sortable
        ("fields=notes", "fields"),          // not among the view's fields
        ("expand=x", "expand"),              // no expansions on views
        ("deleted=only", "deleted"),         // no deleted listing on views
        ("minCapacity=lots", "minCapacity"), // typed param
        ("minCapacity=1&minCapacity=2", "minCapacity"),
    ] {
        let r = s
            .get(&format!("/api/rooms/views/available?{query}"), &a)
            .await;
        assert_eq!(r.status, 400, "{query}: {}", r.json());
        assert_eq!(r.code(), "VALIDATION_BAD_QUERY", "{query}");
        assert_eq!(r.json()["details"]["parameter"], param, "{query}");
    }
    // A masked column stays unqueryable inside a view, as on the table.
    let r = s
        .get(
            "/api/rooms/views/available?contactEmail=big@example.com",
            &a,
        )
        .await;
    assert_eq!(r.code(), "VALIDATION_FIELD_NOT_QUERYABLE");
    let r = s
        .get("/api/rooms/views/available?sort=contactEmail", &a)
        .await;
    assert_eq!(r.code(), "VALIDATION_FIELD_NOT_QUERYABLE");
    // A param is a filter the client chooses: not on a column masked for them.
    let r = s
        .get("/api/rooms/views/byEmail?email=big@example.com", &a)
        .await;
    assert_eq!(r.code(), "VALIDATION_FIELD_NOT_QUERYABLE");
    let admin = s.token("boss", &["admin"], Some("o1"));
    let r = s
        .get("/api/rooms/views/byEmail?email=big@example.com", &admin)
        .await;
    assert_eq!(names(&r.json()), ["big"]);
    let r = s.get("/api/rooms/views/directory?search=x", &a).await;
    assert_eq!(r.code(), "VALIDATION_BAD_QUERY", "no searchable columns");
    // A required param.
    let r = s.get("/api/rooms/views/mine", &a).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["details"]["parameter"], "exact");
    let r = s.get("/api/rooms/views/mine?exact=40", &a).await.json();
    assert_eq!(names(&r), ["big"], "(auth) in where, createdBy = u1");
    let r = s.get("/api/rooms/views/mine?exact=12", &a).await.json();
    assert_eq!(names(&r), Vec::<String>::new(), "u2's room is not u1's");
}

#[backends]
async fn view_access_is_its_own_rule_and_the_firewall_still_applies() {
    let s = server().await;
    seed(&s).await;
    let viewer = s.token("v", &["viewer"], Some("o1"));
    // The table's list rule (member+) governs `available`; viewers are refused before any read.
    let r = s.get("/api/rooms/views/available", &viewer).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "ACCESS_ROLE_REQUIRED");
    let r = s.get("/api/rooms", &viewer).await;
    assert_eq!(r.code(), "ACCESS_ROLE_REQUIRED");
    // `directory` widens on purpose: viewers see names, of their own organisation only.
    let r = s.get("/api/rooms/views/directory", &viewer).await;
    assert_eq!(r.status, 200);
    assert_eq!(names(&r.json()), ["big", "mid", "old", "small"]);
    let other = s.token("w", &["viewer"], Some("o2"));
    assert_eq!(
        names(&s.get("/api/rooms/views/directory", &other).await.json()),
        ["foreign"]
    );
    // No token, no claim: the usual answers.
    let r = s.req("GET", "/api/rooms/views/directory", None, None).await;
    assert_eq!(r.code(), "AUTH_MISSING");
    let r = s
        .get(
            "/api/rooms/views/directory",
            &s.token("v", &["viewer"], None),
        )
        .await;
    assert_eq!(r.code(), "FIREWALL_SCOPE_MISSING");
    // Unknown views and tables are the one fixed NOT_FOUND.
    let unknown_view = s.get("/api/rooms/views/nope", &viewer).await;
    let unknown_table = s.get("/api/nope/views/directory", &viewer).await;
    assert_eq!(unknown_view.status, 404);
    assert_eq!(unknown_view.text, unknown_table.text);
}

#[backends]
async fn soft_deleted_rows_leave_views_and_admins_see_unmasked() {
    let s = server().await;
    let (a, _) = seed(&s).await;
    let rows = s
        .get("/api/rooms/views/available?named=big", &a)
        .await
        .json();
    let id = rows["data"][0]["id"].as_str().unwrap().to_owned();
    let admin = s.token("boss", &["admin"], Some("o1"));
    let r = s
        .get("/api/rooms/views/available?named=big", &admin)
        .await
        .json();
    assert_eq!(r["data"][0]["contactEmail"], "big@example.com");
    let r = s
        .get(
            "/api/rooms/views/available?contactEmail=big@example.com",
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "admins may filter on what they see whole");
    assert_eq!(s.delete(&format!("/api/rooms/{id}"), &a).await.status, 200);
    let r = s.get("/api/rooms/views/available", &a).await.json();
    assert_eq!(names(&r), ["mid", "small"]);
}
