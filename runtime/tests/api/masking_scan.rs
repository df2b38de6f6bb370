#![allow(clippy::unwrap_used)]

//! SPEC §9.1 invariant 2, scripted: a member's whole session — reads, searches, filter and sort
//! attempts, labels, expansions, writes, every kind of error, delete and restore attempts — and
//! not one response body contains a raw value of a column masked for members. The values are
//! seeded by an admin, who sees them raw.

use crate::common;

use ward_test_macros::backends;

use base64::Engine;
use common::ir::*;
use common::*;
use serde_json::{Value, json};
use ward_ir::{Column, ColumnType, MaskKind, OnDelete, Operation};

fn project() -> ward_ir::Ir {
    let all = [
        "fullName", "email", "ssn", "phone", "secret", "apiKey", "nickname", "score",
    ];
    let people = table("people")
        .col(Column {
            required: true,
            searchable: true,
            ..column("fullName", ColumnType::Text)
        })
        .col(Column {
            unique: true,
            searchable: true,
            pattern: Some("@".into()),
            ..column("email", ColumnType::Text)
        })
        .col(Column {
            min_length: Some(9),
            max_length: Some(11),
            ..column("ssn", ColumnType::Text)
        })
        .text("phone")
        .text("secret")
        .text("apiKey")
        .col(Column {
            searchable: true,
            ..column("nickname", ColumnType::Text)
        })
        .col(column("score", ColumnType::Integer))
        .text("org")
        .scope("org", "org-id", "")
        .display("fullName")
        .relation("tickets", "tickets", "personId")
        .mask("fullName", MaskKind::Name, "admin+", None)
        .mask("email", MaskKind::Email, "admin+", None)
        .mask("ssn", MaskKind::Ssn, "admin+", None)
        .mask("phone", MaskKind::Phone, "admin+", None)
        .mask("secret", MaskKind::Hidden, "admin+", None)
        .mask("apiKey", MaskKind::Redact, "", None)
        .mask("score", MaskKind::Redact, "admin+", None)
        .crud("member+")
        .access(Operation::Restore, rule("admin+"))
        .createable(&all)
        .updatable(&["nickname", "email", "ssn", "score"])
        .build();
    let tickets = table("tickets")
        .text("title")
        .reference("personId", "people", OnDelete::Cascade)
        .text("contactPhone")
        .text("org")
        .scope("org", "org-id", "")
        .display("title")
        .mask("contactPhone", MaskKind::Phone, "admin+", None)
        .crud("member+")
        .createable(&["title", "personId", "contactPhone"])
        .build();
    ir(vec![people, tickets])
}

/// Raw values, and distinctive fragments of them, that must never reach a member.
const SEEDED: &[&str] = &[
    "Xavier Quartermaine",
    "Xavier",
    "Quartermaine",
    "zebulon.q@privatemail.io",
    "zebulon",
    "privatemail",
    "987-65-4321",
    "987-65",
    "+1 (555) 867-5309",
    "867-5309",
    "s3cr3t-hidden-value",
    "ak_live_0123456789",
    "424242",
    "+44 20 7946 0958",
    "7946 0958",
];
const OWN: &[&str] = &[
    "Yolanda Brightwater",
    "Yolanda",
    "Brightwater",
    "yolanda.b@hushmail.example",
    "hushmail",
    "123-45-6780",
    "m3mb3r-secret",
    "ak_member_999888777",
];

struct Session {
    s: Server,
    token: String,
    seen: Vec<(String, u16, String)>,
}

impl Session {
    async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let r = self.s.req(method, path, Some(&self.token), body).await;
        self.seen
            .push((format!("{method} {path}"), r.status, r.text.clone()));
        // A cursor is opaque to clients but decodable: scan what it carries too.
        if let Some(c) = r.json()["pagination"]["nextCursor"].as_str()
            && let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c)
        {
            let text = String::from_utf8_lossy(&raw).into_owned();
            self.seen
                .push((format!("{method} {path} (cursor)"), r.status, text));
        }
        r
    }
    async fn expect(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Resp {
        let r = self.call(method, path, body).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text);
        r
    }
    async fn expect_code(&mut self, method: &str, path: &str, body: Option<Value>, code: &str) {
        let r = self.call(method, path, body).await;
        assert_eq!(r.code(), code, "{method} {path}: {}", r.text);
    }
}

#[backends]
async fn no_response_of_a_member_session_carries_a_masked_value() {
    let s = start(project()).await;
    let admin = s.token("ada", &["admin"], Some("acme"));
    let seeded = s
        .post(
            "/api/people",
            &admin,
            json!({"fullName": "Xavier Quartermaine", "email": "zebulon.q@privatemail.io",
                   "ssn": "987-65-4321", "phone": "+1 (555) 867-5309",
                   "secret": "s3cr3t-hidden-value", "apiKey": "ak_live_0123456789",
                   "nickname": "nick-x", "score": 424242}),
        )
        .await;
    assert_eq!(seeded.status, 201, "{}", seeded.text);
    let x = id_str(&seeded.json()["data"]["id"]);
    // The admin sees the raw values: the seeding worked and the scan below means something.
    let raw = s.get(&format!("/api/people/{x}"), &admin).await;
    for v in [
        "Xavier Quartermaine",
        "zebulon.q@privatemail.io",
        "987-65-4321",
        "s3cr3t",
    ] {
        assert!(raw.text.contains(v), "{v}: {}", raw.text);
    }
    let t = s
        .post(
            "/api/tickets",
            &admin,
            json!({"title": "seeded ticket", "personId": x, "contactPhone": "+44 20 7946 0958"}),
        )
        .await;
    assert_eq!(t.status, 201, "{}", t.text);
    let ticket = id_str(&t.json()["data"]["id"]);

    let token = s.token("mo", &["member"], Some("acme"));
    let mut m = Session {
        s,
        token,
        seen: Vec::new(),
    };
    let people = "/api/people";

    // Writes of the member's own sensitive values: masked in the answer too.
    let own = m
        .expect(
            "POST",
            people,
            Some(
                json!({"fullName": "Yolanda Brightwater", "email": "yolanda.b@hushmail.example",
                        "ssn": "123-45-6780", "secret": "m3mb3r-secret",
                        "apiKey": "ak_member_999888777", "nickname": "nick-y"}),
            ),
            201,
        )
        .await;
    let y = id_str(&own.json()["data"]["id"]);
    m.expect(
        "POST",
        "/api/tickets",
        Some(json!({"title": "mine", "personId": x, "contactPhone": "+44 20 7946 0958"})),
        201,
    )
    .await;

    // Reads, projections, pages and cursors.
    for path in [
        people.to_string(),
        format!("{people}?total=true&limit=1"),
        format!("{people}?fields=id,fullName,email,secret"),
        format!("{people}/{x}"),
        format!("{people}/{x}?fields=fullName,ssn,phone"),
        "/api/tickets".to_string(),
        format!("/api/tickets/{ticket}"),
        format!("{people}?nickname=nick-x"),
        format!("{people}?nickname.like=nick"),
        format!("{people}?sort=nickname&limit=1"),
    ] {
        m.expect("GET", &path, None, 200).await;
    }
    // Labels and expansions, both directions.
    let l = m.expect("GET", "/api/tickets", None, 200).await;
    assert_eq!(l.json()["data"][0]["person_label"], "X***** Q***********");
    for path in [
        "/api/tickets?expand=personId".to_string(),
        format!("/api/tickets/{ticket}?expand=personId"),
        format!("{people}?expand=tickets"),
        format!("{people}/{x}?expand=tickets"),
    ] {
        m.expect("GET", &path, None, 200).await;
    }

    // Search skips masked columns: no value oracle, not even a row count.
    for q in ["zebulon", "Xavier", "privatemail", "yolanda"] {
        let r = m
            .expect("GET", &format!("{people}?search={q}&total=true"), None, 200)
            .await;
        assert_eq!(r.json()["pagination"]["total"], 0, "search={q}");
    }
    let r = m
        .expect("GET", &format!("{people}?search=nick"), None, 200)
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 2);

    // Filters and sorts on masked columns, with the raw values as bait.
    for q in [
        "email=zebulon.q%40privatemail.io",
        "email.like=zebulon",
        "ssn.in=987-65-4321,123-45-6780",
        "fullName.eq=Xavier%20Quartermaine",
        "phone.like=867-5309",
        "secret=s3cr3t-hidden-value",
        "apiKey=ak_live_0123456789",
        "score.gt=424241",
        "score=424242",
        "sort=email",
        "sort=-score",
        "deleted=only&ssn=987-65-4321",
    ] {
        let path = format!("{people}?{q}");
        let r = m.call("GET", &path, None).await;
        assert_eq!(
            r.status,
            if q.starts_with("deleted") { 403 } else { 400 },
            "{q}: {}",
            r.text
        );
    }
    // Malformed values on queryable columns are not echoed either.
    m.expect_code(
        "GET",
        &format!("{people}?createdAt=987-65-4321"),
        None,
        "VALIDATION_BAD_QUERY",
    )
    .await;
    m.expect_code(
        "GET",
        &format!("{people}?nickname.is=zebulon.q%40privatemail.io"),
        None,
        "VALIDATION_BAD_QUERY",
    )
    .await;
    m.expect_code(
        "GET",
        "/api/tickets?personId=987-65-4321",
        None,
        "VALIDATION_BAD_QUERY",
    )
    .await;
    m.expect_code(
        "GET",
        &format!("{people}?expand=nosuch"),
        None,
        "VALIDATION_BAD_QUERY",
    )
    .await;

    // Updates, and the errors of updates.
    let u = m
        .expect(
            "PATCH",
            &format!("{people}/{x}"),
            Some(json!({"nickname": "renamed"})),
            200,
        )
        .await;
    assert!(u.json()["data"].get("secret").is_none());
    let path_y = format!("{people}/{y}");
    m.expect_code(
        "PATCH",
        &path_y,
        Some(json!({"email": "zebulon.q@privatemail.io"})),
        "UNIQUE_VIOLATION",
    )
    .await;
    m.expect_code(
        "PATCH",
        &path_y,
        Some(json!({"ssn": "987-65"})),
        "VALIDATION_LENGTH",
    )
    .await;
    m.expect_code(
        "PATCH",
        &path_y,
        Some(json!({"score": "987-65-4321", "email": "zebulon-at-privatemail"})),
        "VALIDATION_PATTERN",
    )
    .await;
    m.expect_code(
        "PATCH",
        &path_y,
        Some(json!({"score": "987-65-4321"})),
        "VALIDATION_TYPE",
    )
    .await;
    m.expect_code(
        "PATCH",
        &path_y,
        Some(json!({"secret": "s3cr3t-hidden-value", "fullName": "Xavier Quartermaine"})),
        "GUARD_FIELD_NOT_UPDATABLE",
    )
    .await;
    m.expect_code(
        "PATCH",
        &path_y,
        Some(json!({"org": "zebulon.q@privatemail.io"})),
        "GUARD_SYSTEM_MANAGED",
    )
    .await;

    // Creates that fail: unique, required, types, references.
    m.expect_code(
        "POST",
        people,
        Some(json!({"fullName": "Xavier Quartermaine", "email": "zebulon.q@privatemail.io"})),
        "UNIQUE_VIOLATION",
    )
    .await;
    m.expect_code(
        "POST",
        people,
        Some(json!({"email": "zebulon.q@privatemail.io", "ssn": "987-65-4321"})),
        "VALIDATION_REQUIRED",
    )
    .await;
    m.expect_code(
        "POST",
        people,
        Some(json!({"fullName": ["Xavier Quartermaine"], "score": "424242"})),
        "VALIDATION_TYPE",
    )
    .await;
    m.expect_code(
        "POST",
        "/api/tickets",
        Some(
            json!({"title": "t", "personId": "01890000-0000-7000-8000-000000000000",
                    "contactPhone": "+1 (555) 867-5309"}),
        ),
        "REFERENCE_VIOLATION",
    )
    .await;

    // Delete (cascading to the member's ticket), then what a member may not do with deleted rows.
    let mine = m
        .expect(
            "POST",
            "/api/tickets",
            Some(json!({"title": "doomed", "personId": y, "contactPhone": "+44 20 7946 0958"})),
            201,
        )
        .await;
    let doomed = id_str(&mine.json()["data"]["id"]);
    m.expect("DELETE", &path_y, None, 200).await;
    m.expect("GET", &path_y, None, 404).await;
    m.expect("GET", &format!("/api/tickets/{doomed}"), None, 404)
        .await;
    m.expect_code(
        "POST",
        &format!("{path_y}/restore"),
        None,
        "ACCESS_ROLE_REQUIRED",
    )
    .await;
    m.expect_code(
        "GET",
        &format!("{people}?deleted=only"),
        None,
        "ACCESS_ROLE_REQUIRED",
    )
    .await;
    m.expect_code(
        "PATCH",
        &path_y,
        Some(json!({"nickname": "ghost"})),
        "NOT_FOUND",
    )
    .await;

    assert!(m.seen.len() > 40, "the script ran: {}", m.seen.len());
    for (what, status, text) in &m.seen {
        for v in SEEDED.iter().chain(OWN) {
            assert!(
                !text.contains(v),
                "`{v}` leaked in {what} ({status}): {text}"
            );
        }
    }
}
