//! The reference model on hand-written scenarios, one area of the SPEC per test. Each scenario runs
//! through the engine (server and model side by side, state compared after every step, invariants
//! checked), and the statuses the server answered are asserted too, so each test reads as an
//! executable example of the policy.

use serde_json::{Value, json};
use ward_conformance::cases::TokenKind;
use ward_conformance::scenario::{Body, CallerSpec, IdRef, Route, Seed, Step, ValueSpec};

use crate::common;
use common::*;

const PROJECT: &str = r#"
auth {
    roles member admin
}

table teams {
    id uuid
    column name text required=#true max-length=20 display=#true searchable=#true
    column orgId text
    column email text
    column code text pattern="^[A-Z]+$"
    column size integer min=1 max=10 default=5
    column kind text default=a {
        one-of a b
    }
    firewall {
        scope orgId (auth)org-id
    }
    access {
        list member+
        read member+
        create member+ {
            check size lte 8
        }
        update member+ {
            when kind eq a
        }
        delete admin
        restore admin
    }
    guards {
        createable name email code size kind
        updatable name email code size
    }
    masking {
        mask email email show=admin owner=createdBy
    }
    delete soft
    batch max=3 atomic=#true
}

table players {
    id integer
    column teamId uuid references=teams on-delete=cascade
    column nick text required=#true
    column orgId text
    firewall {
        scope orgId (auth)org-id
    }
    access {
        list member+
        read member+
        create member+
        update member+
        delete member+
        restore member+
    }
    guards open
    delete soft
}

table notes {
    id text
    column body text searchable=#true
    column teamRef uuid references=teams
    firewall none
    access {
        list public
        read public
        create authenticated
        update authenticated
        delete admin
    }
    guards open
    delete hard
}
"#;

// Caller indices.
const ALICE: usize = 0; // admin, org a
const BOB: usize = 1; // member, org a
const CAROL: usize = 2; // member, org b
const DAVE: usize = 3; // no role, org a
const EVE: usize = 4; // member, no org
const ANON: usize = 5;
const EXPIRED: usize = 6;
const FORGED: usize = 7;
const NONE_ALG: usize = 8;
const MALFORMED: usize = 9;

fn callers() -> Vec<CallerSpec> {
    let alice = user("alice", &["admin"], Some("a"));
    vec![
        CallerSpec::User(alice.clone()),
        CallerSpec::User(user("bob", &["member"], Some("a"))),
        CallerSpec::User(user("carol", &["member"], Some("b"))),
        CallerSpec::User(user("dave", &[], Some("a"))),
        CallerSpec::User(user("eve", &["member"], None)),
        CallerSpec::Anonymous,
        CallerSpec::Broken(alice.clone(), TokenKind::Expired),
        CallerSpec::Broken(alice.clone(), TokenKind::Forged),
        CallerSpec::Broken(alice.clone(), TokenKind::AlgNone),
        CallerSpec::Broken(alice, TokenKind::Malformed),
    ]
}

/// Runs the scenario (see `common::run`); returns the statuses.
fn run(seeds: Vec<Seed>, steps: Vec<Step>) -> Vec<u16> {
    statuses(&common::run(PROJECT, callers(), seeds, steps))
}

fn team(name: &str) -> Value {
    json!({ "name": name, "email": "paul@example.com", "code": "AB" })
}

#[test]
fn auth_tokens() {
    let get = |c| req(c, "GET", "teams", Route::Collection);
    let statuses = run(
        vec![],
        vec![
            get(EXPIRED),
            get(FORGED),
            get(NONE_ALG),
            get(MALFORMED),
            get(ANON),
            // Invalid tokens are never downgraded, even on a public operation.
            req(FORGED, "GET", "notes", Route::Collection),
            req(ANON, "GET", "notes", Route::Collection),
        ],
    );
    assert_eq!(statuses, [401, 401, 401, 401, 401, 401, 200]);
}

#[test]
fn access_roles_before_reads() {
    let statuses = run(
        vec![seed("teams", ALICE, team("red"))],
        vec![
            // No role: 403 whether or not the id exists; anonymous: 401.
            req(DAVE, "GET", "teams", Route::Row(row("teams", 0))),
            req(DAVE, "GET", "teams", Route::Row(IdRef::Fresh)),
            req(ANON, "DELETE", "teams", Route::Row(IdRef::Fresh)),
            // Members may not delete (admin only).
            req(BOB, "DELETE", "teams", Route::Row(row("teams", 0))),
            // No rule for notes' restore: denied with empty `required`.
            req(BOB, "POST", "notes", Route::Restore(IdRef::Fresh)),
        ],
    );
    assert_eq!(statuses, [403, 403, 401, 403, 403]);
}

#[test]
fn access_conditions_and_checks() {
    let statuses = run(
        vec![
            seed("teams", BOB, team("red")),
            seed("teams", BOB, json!({ "name": "blue", "kind": "b" })),
        ],
        vec![
            with_body(
                req(BOB, "PATCH", "teams", Route::Row(row("teams", 0))),
                json!({ "size": 7 }),
            ),
            // `when kind eq a` fails on a visible row: 403, even with a bad body.
            with_body(
                req(BOB, "PATCH", "teams", Route::Row(row("teams", 1))),
                json!({ "size": 7 }),
            ),
            Step {
                body: Some(Body::Raw("{".into())),
                ..req(BOB, "PATCH", "teams", Route::Row(row("teams", 1)))
            },
            // Invisible (other org) and bad body: not found first.
            Step {
                body: Some(Body::Raw("{".into())),
                ..req(CAROL, "PATCH", "teams", Route::Row(row("teams", 0)))
            },
            // `check size lte 8` after validation: validation wins, then the check.
            with_body(
                req(BOB, "POST", "teams", Route::Collection),
                json!({ "name": "x", "size": 11 }),
            ),
            with_body(
                req(BOB, "POST", "teams", Route::Collection),
                json!({ "name": "x", "size": 9 }),
            ),
            // `check` belongs to create only here: the update passes.
            with_body(
                req(BOB, "PATCH", "teams", Route::Row(row("teams", 0))),
                json!({ "size": 9 }),
            ),
        ],
    );
    assert_eq!(statuses, [200, 403, 403, 404, 400, 403, 200]);
}

#[test]
fn firewall_scopes_and_stamps() {
    let statuses = run(
        vec![seed("teams", BOB, team("red"))],
        vec![
            req(CAROL, "GET", "teams", Route::Row(row("teams", 0))),
            req(CAROL, "GET", "teams", Route::Collection),
            // No org claim: 403 FIREWALL_SCOPE_MISSING, never an empty list.
            req(EVE, "GET", "teams", Route::Collection),
            with_body(req(EVE, "POST", "teams", Route::Collection), team("x")),
            // Scope columns are the server's.
            with_body(
                req(BOB, "POST", "teams", Route::Collection),
                json!({ "name": "x", "orgId": "b" }),
            ),
            with_body(
                req(CAROL, "POST", "teams", Route::Collection),
                team("green"),
            ),
            req(CAROL, "GET", "teams", Route::Collection),
        ],
    );
    assert_eq!(statuses, [404, 200, 403, 403, 400, 201, 200]);
}

#[test]
fn guards_and_validation() {
    let statuses = run(
        vec![seed("teams", BOB, team("red"))],
        vec![
            // System > not-updatable; every offending field of the winning kind is listed.
            with_body(
                req(BOB, "PATCH", "teams", Route::Row(row("teams", 0))),
                json!({ "kind": "b", "createdBy": "x", "id": "y" }),
            ),
            with_body(
                req(BOB, "PATCH", "teams", Route::Row(row("teams", 0))),
                json!({ "kind": "b" }),
            ),
            // Unknown keys after guards, before values.
            with_body(
                req(BOB, "POST", "teams", Route::Collection),
                json!({ "name": 5, "bogus": 1 }),
            ),
            // Every failing field, the first in column order gives the code.
            with_body(
                req(BOB, "POST", "teams", Route::Collection),
                json!({ "code": "ab", "size": 0, "name": "a-very-long-team-name-indeed", "kind": "c" }),
            ),
            with_body(
                req(BOB, "POST", "teams", Route::Collection),
                json!({ "size": "big" }),
            ),
            with_body(
                req(BOB, "POST", "teams", Route::Collection),
                json!({ "name": null }),
            ),
            with_body(
                req(BOB, "POST", "teams", Route::Collection),
                json!({ "name": "ok", "size": 3.0 }),
            ),
        ],
    );
    assert_eq!(statuses, [400, 400, 400, 400, 400, 400, 201]);
}

#[test]
fn masking_and_queries() {
    let statuses = run(
        vec![
            seed("teams", BOB, team("red")),
            seed(
                "teams",
                ALICE,
                json!({ "name": "blue", "email": "jo@mail.example.co.uk" }),
            ),
        ],
        vec![
            // Bob sees his own row's email (owner=createdBy), alice's masked; alice sees both.
            req(BOB, "GET", "teams", Route::Collection),
            req(ALICE, "GET", "teams", Route::Collection),
            // A column masked for the caller cannot be filtered or sorted on.
            with_query(
                req(BOB, "GET", "teams", Route::Collection),
                &[("email.like", "paul")],
            ),
            with_query(
                req(BOB, "GET", "teams", Route::Collection),
                &[("sort", "-email")],
            ),
            with_query(
                req(ALICE, "GET", "teams", Route::Collection),
                &[("email.like", "PAUL")],
            ),
            with_query(
                req(BOB, "GET", "teams", Route::Collection),
                &[("search", "ED")],
            ),
            with_query(
                req(BOB, "GET", "teams", Route::Collection),
                &[
                    ("sort", "name"),
                    ("order", "desc"),
                    ("limit", "0"),
                    ("total", "true"),
                ],
            ),
            with_query(
                req(BOB, "GET", "teams", Route::Collection),
                &[("fields", "name,nope")],
            ),
            with_query(
                req(BOB, "GET", "teams", Route::Collection),
                &[("size.in", "5,6"), ("name.ne", "red")],
            ),
            with_query(
                req(BOB, "GET", "teams", Route::Row(row("teams", 1))),
                &[("fields", "id,email")],
            ),
        ],
    );
    assert_eq!(statuses, [200, 200, 400, 400, 200, 200, 200, 400, 200, 200]);
}

#[test]
fn soft_delete_cascade_and_restore() {
    let mut link = req(BOB, "PATCH", "players", Route::Row(row("players", 0)));
    link.body = Some(Body::Object(vec![(
        "teamId".into(),
        ValueSpec::Id(row("teams", 0)),
    )]));
    let statuses = run(
        vec![
            seed("teams", ALICE, team("red")),
            seed("players", BOB, json!({ "nick": "p1" })),
            seed("notes", ALICE, json!({ "id": "n1", "body": "hello" })),
        ],
        vec![
            link,
            // Soft delete cascades to the player (inside alice's firewall).
            req(ALICE, "DELETE", "teams", Route::Row(row("teams", 0))),
            req(BOB, "GET", "players", Route::Row(row("players", 0))),
            // `deleted=only` is governed by `restore`.
            with_query(
                req(ALICE, "GET", "teams", Route::Collection),
                &[("deleted", "only")],
            ),
            with_query(
                req(BOB, "GET", "teams", Route::Collection),
                &[("deleted", "only")],
            ),
            // Restore brings the cascade back.
            req(ALICE, "POST", "teams", Route::Restore(row("teams", 0))),
            req(BOB, "GET", "players", Route::Row(row("players", 0))),
            req(ALICE, "POST", "teams", Route::Restore(row("teams", 0))),
            // Hard delete; no restore rule on notes: the role check answers first.
            req(
                ALICE,
                "DELETE",
                "notes",
                Route::Row(IdRef::Literal("n1".into())),
            ),
            req(
                ALICE,
                "GET",
                "notes",
                Route::Row(IdRef::Literal("n1".into())),
            ),
            req(
                ALICE,
                "POST",
                "notes",
                Route::Restore(IdRef::Literal("n1".into())),
            ),
        ],
    );
    assert_eq!(
        statuses,
        [200, 200, 404, 200, 403, 200, 200, 404, 200, 404, 403]
    );
}

#[test]
fn restrict_blocks_soft_delete() {
    let mut link = req(ALICE, "POST", "notes", Route::Collection);
    link.body = Some(Body::Object(vec![
        ("id".into(), ValueSpec::Json(json!("n2"))),
        ("teamRef".into(), ValueSpec::Id(row("teams", 0))),
    ]));
    let statuses = run(
        vec![seed("teams", ALICE, team("red"))],
        vec![
            link,
            req(ALICE, "DELETE", "teams", Route::Row(row("teams", 0))),
            req(
                ALICE,
                "DELETE",
                "notes",
                Route::Row(IdRef::Literal("n2".into())),
            ),
            req(ALICE, "DELETE", "teams", Route::Row(row("teams", 0))),
        ],
    );
    assert_eq!(statuses, [201, 409, 200, 200]);
}

#[test]
fn references_to_invisible_rows() {
    let mut foreign = req(CAROL, "POST", "players", Route::Collection);
    foreign.body = Some(Body::Object(vec![
        ("nick".into(), ValueSpec::Json(json!("spy"))),
        ("teamId".into(), ValueSpec::Id(row("teams", 0))),
    ]));
    let mut own = foreign.clone();
    own.caller = BOB;
    let statuses = run(vec![seed("teams", BOB, team("red"))], vec![foreign, own]);
    assert_eq!(statuses, [409, 201]);
}

#[test]
fn batches() {
    let records = |n: usize, atomic: Option<bool>| Body::Records {
        records: (0..n)
            .map(|i| {
                fields(json!({ "name": format!("t{i}"), "size": if i == 1 { 99 } else { 2 } }))
            })
            .collect(),
        atomic,
        if_match: Vec::new(),
    };
    let batch = |caller, method: &str, body: Body| Step {
        body: Some(body),
        ..req(caller, method, "teams", Route::Batch)
    };
    let statuses = run(
        vec![seed("teams", BOB, team("red"))],
        vec![
            batch(BOB, "POST", records(1, None)),
            // Record 1 fails validation: 207, the others written.
            batch(BOB, "POST", records(3, Some(false))),
            // Atomic: nothing written.
            batch(BOB, "POST", records(3, Some(true))),
            // Over `batch max=3`.
            batch(BOB, "POST", records(4, None)),
            // Shape before size: a non-object record in an oversized batch is INVALID_JSON.
            batch(BOB, "POST", Body::Raw(r#"{"records":[1,{},{},{}]}"#.into())),
            batch(
                BOB,
                "PATCH",
                Body::Records {
                    records: vec![fields(json!({ "name": "x" }))],
                    atomic: None,
                    if_match: Vec::new(),
                },
            ),
            batch(
                BOB,
                "PATCH",
                Body::Records {
                    records: vec![vec![
                        ("id".into(), ValueSpec::Id(row("teams", 0))),
                        ("name".into(), ValueSpec::Json(json!("renamed"))),
                    ]],
                    atomic: None,
                    if_match: Vec::new(),
                },
            ),
            batch(
                ALICE,
                "DELETE",
                Body::Ids {
                    ids: vec![row("teams", 0), IdRef::Fresh, IdRef::Literal("nope".into())],
                    atomic: None,
                    if_match: Vec::new(),
                },
            ),
            batch(BOB, "PUT", records(1, None)),
        ],
    );
    assert_eq!(statuses, [201, 207, 400, 400, 400, 400, 200, 207, 405]);
}

#[test]
fn upserts() {
    let put = |caller, id: &str, body: Value| {
        with_body(
            req(
                caller,
                "PUT",
                "notes",
                Route::Row(IdRef::Literal(id.into())),
            ),
            body,
        )
    };
    let statuses = run(
        vec![],
        vec![
            put(BOB, "n1", json!({ "body": "first" })),
            put(BOB, "n1", json!({ "body": "second" })),
            put(BOB, "n1", json!({ "id": "other" })),
            put(BOB, "n1", json!({ "id": "n1", "body": "third" })),
            put(ANON, "n2", json!({ "body": "x" })),
            req(ANON, "GET", "notes", Route::Collection),
            with_body(
                req(BOB, "PUT", "teams", Route::Row(IdRef::Fresh)),
                json!({}),
            ),
        ],
    );
    assert_eq!(statuses, [201, 200, 400, 200, 401, 200, 405]);
}

#[test]
fn integer_ids_and_paging() {
    let create = |nick: &str| {
        with_body(
            req(BOB, "POST", "players", Route::Collection),
            json!({ "nick": nick }),
        )
    };
    let statuses = run(
        vec![],
        vec![
            create("a"),
            create("b"),
            create("c"),
            with_query(
                req(BOB, "GET", "players", Route::Collection),
                &[("sort", "nick"), ("limit", "2"), ("offset", "1")],
            ),
            with_query(
                req(BOB, "GET", "players", Route::Collection),
                &[("id.gt", "1"), ("nick.like", "%")],
            ),
            with_query(
                req(BOB, "GET", "players", Route::Collection),
                &[("limit", "x")],
            ),
            req(
                BOB,
                "GET",
                "players",
                Route::Row(IdRef::Literal("not-a-number".into())),
            ),
            req(CAROL, "GET", "players", Route::Row(row("players", 0))),
        ],
    );
    assert_eq!(statuses, [201, 201, 201, 200, 200, 400, 404, 404]);
}
