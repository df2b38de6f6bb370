//! Scenarios aimed at attacks that random generation reaches only now and then, so that the
//! suite catches them on every run: an upsert onto another tenant's id, an update whose result
//! fails `check`, and a denied write whose error could carry a value masked for the caller. Server and model run side by side (state
//! compared after every step, every invariant checked); the answers are asserted as well.

use serde_json::{Value, json};
use ward_conformance::scenario::{
    BatchPrecondition, Body, CallerSpec, IdRef, Precondition, Route, Seed, Step, ValueSpec,
};

use crate::common;
use common::*;

const PROJECT: &str = r#"
auth {
    roles member admin
}

table notes {
    id text
    column body text
    column contactEmail text
    column locked boolean default=#false
    column orgId text
    firewall {
        scope orgId (auth)org-id
    }
    access {
        list member+
        read member+
        create member+
        update member+ {
            when locked eq #false
            check body ne "forbidden"
        }
        delete member+
    }
    guards open
    masking {
        mask contactEmail email show=admin
    }
}
"#;

const ADA: usize = 0; // admin, org a
const BOB: usize = 1; // member, org a
const GUS: usize = 2; // member, org b

fn callers() -> Vec<CallerSpec> {
    vec![
        CallerSpec::User(user("ada", &["admin"], Some("a"))),
        CallerSpec::User(user("bob", &["member"], Some("a"))),
        CallerSpec::User(user("gus", &["member"], Some("b"))),
    ]
}

fn note(id: &str) -> Route {
    Route::Row(IdRef::Literal(id.into()))
}

fn put(caller: usize, id: &str, body: Value) -> Step {
    with_body(req(caller, "PUT", "notes", note(id)), body)
}

#[test]
fn an_upsert_never_overwrites_another_tenants_row() {
    let seeds = vec![seed(
        "notes",
        ADA,
        json!({"id": "n1", "body": "the original text", "contactEmail": "owner@example.org"}),
    )];
    let answers = run(
        PROJECT,
        callers(),
        seeds,
        vec![
            // Another tenant, with a valid body and the create grant: still only a 404, and the
            // state comparison after the step proves org a's row is untouched.
            put(
                GUS,
                "n1",
                json!({"body": "overwritten", "contactEmail": "gus@example.org"}),
            ),
            // The same tenant updates it; a fresh id is created.
            put(BOB, "n1", json!({"body": "edited"})),
            put(GUS, "n2", json!({"body": "gus's own"})),
            req(ADA, "GET", "notes", note("n1")),
        ],
    );
    assert_eq!(statuses(&answers), vec![404, 200, 201, 200]);
    assert_eq!(answers[0].1["code"], "NOT_FOUND");
    assert_eq!(answers[3].1["data"]["body"], "edited");
    assert_eq!(answers[3].1["data"]["contactEmail"], "owner@example.org");
}

#[test]
fn a_denied_write_carries_no_masked_value() {
    let seeds = vec![seed(
        "notes",
        ADA,
        json!({"id": "n1", "body": "frozen", "contactEmail": "facilities@acme.example", "locked": true}),
    )];
    let answers = run(
        PROJECT,
        callers(),
        seeds,
        vec![
            // Visible to bob, but the update rule's `when` fails on the row: 403, and the masking
            // invariant scans the whole answer for the raw contact address.
            with_body(
                req(BOB, "PATCH", "notes", note("n1")),
                json!({"body": "thawed"}),
            ),
            req(BOB, "GET", "notes", note("n1")),
        ],
    );
    assert_eq!(statuses(&answers), vec![403, 200]);
    assert_eq!(answers[0].1["code"], "ACCESS_CONDITION_FAILED");
    assert_eq!(
        answers[1].1["data"]["contactEmail"],
        "f*********@a***.example"
    );
}

#[test]
fn an_update_whose_result_fails_check_writes_nothing() {
    let seeds = vec![seed("notes", BOB, json!({"id": "n1", "body": "fine"}))];
    let answers = run(
        PROJECT,
        callers(),
        seeds,
        vec![
            with_body(
                req(BOB, "PATCH", "notes", note("n1")),
                json!({"body": "forbidden"}),
            ),
            put(BOB, "n1", json!({"body": "forbidden"})),
            with_body(
                req(BOB, "PATCH", "notes", note("n1")),
                json!({"body": "better"}),
            ),
        ],
    );
    assert_eq!(statuses(&answers), vec![403, 403, 200]);
    assert_eq!(answers[0].1["code"], "ACCESS_CHECK_FAILED");
    assert_eq!(answers[1].1["code"], "ACCESS_CHECK_FAILED");
}

#[test]
fn oversized_and_malformed_list_queries_are_refused_alike() {
    let list = |query: Vec<(String, String)>| {
        let mut s = req(BOB, "GET", "notes", Route::Collection);
        s.query = query
            .into_iter()
            .map(|(k, v)| (k, ValueSpec::Json(json!(v))))
            .collect();
        s
    };
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let many = |n: usize| vec![pair("body.ne", "x"); n];
    let values = |n: usize| vec!["v"; n].join(",");
    let answers = run(
        PROJECT,
        callers(),
        Vec::new(),
        vec![
            list(vec![pair("limit", "+5")]),
            list(vec![pair("offset", "9223372036854775808")]),
            list(vec![pair("limit", "5"), pair("limit", "6")]),
            list(many(101)),
            list(vec![pair("body.in", &values(1001))]),
            list(vec![pair("fields", &vec!["body"; 101].join(","))]),
            // Within the bounds: a filter may repeat, and 100 filters are fine.
            list(vec![pair("body.ne", "a"), pair("body.ne", "b")]),
            list(many(100)),
            list(vec![
                pair("body.in", &values(1000)),
                pair("offset", "9223372036854775807"),
            ]),
        ],
    );
    assert_eq!(
        statuses(&answers),
        vec![400, 400, 400, 400, 400, 400, 200, 200, 200]
    );
    assert_eq!(answers[0].1["details"]["parameter"], "limit");
    assert_eq!(answers[1].1["details"]["parameter"], "offset");
    assert_eq!(answers[4].1["details"]["parameter"], "body.in");
}

/// SPEC §5.7 preconditions, server and model alike: another tenant's row is the fixed 404 with
/// any `If-Match` (412 would tell it exists); on a visible row a stale tag is 412 after `when`
/// (403) and nothing is written; `If-Match: *` on PUT never creates, `If-None-Match: *` never
/// updates, and on another tenant's id it answers exactly as a plain PUT.
#[test]
fn preconditions_never_reveal_another_tenants_row() {
    let seeds = vec![
        seed("notes", ADA, json!({"id": "n1", "body": "a's"})),
        seed(
            "notes",
            ADA,
            json!({"id": "n2", "body": "frozen", "locked": true}),
        ),
    ];
    let with = |mut s: Step, p: Precondition| {
        s.precondition = Some(p);
        s
    };
    let patch = |caller, id: &str| {
        with_body(
            req(caller, "PATCH", "notes", note(id)),
            json!({"body": "x"}),
        )
    };
    let answers = run(
        PROJECT,
        callers(),
        seeds,
        vec![
            with(patch(GUS, "n1"), Precondition::IfMatchStale),
            with(
                req(GUS, "DELETE", "notes", note("n1")),
                Precondition::IfMatchAny,
            ),
            with(
                put(GUS, "n1", json!({"body": "g"})),
                Precondition::IfMatchAny,
            ),
            with(
                put(GUS, "n1", json!({"body": "g"})),
                Precondition::IfNoneMatchAny,
            ),
            with(patch(BOB, "n2"), Precondition::IfMatchStale),
            with(patch(BOB, "n1"), Precondition::IfMatchStale),
            with(
                req(BOB, "DELETE", "notes", note("n1")),
                Precondition::IfMatchStale,
            ),
            with(
                put(BOB, "n1", json!({"body": "b"})),
                Precondition::IfNoneMatchAny,
            ),
            with(
                put(BOB, "n9", json!({"body": "b"})),
                Precondition::IfMatchAny,
            ),
            with(patch(BOB, "n1"), Precondition::IfMatchAny),
            with(
                put(BOB, "n9", json!({"body": "new"})),
                Precondition::IfNoneMatchAny,
            ),
        ],
    );
    assert_eq!(
        statuses(&answers),
        vec![404, 404, 412, 404, 403, 412, 412, 412, 412, 200, 201]
    );
    assert_eq!(answers[0].1["code"], "NOT_FOUND");
    assert_eq!(answers[5].1["code"], "PRECONDITION_FAILED");
}

const CODES: &str = r#"
auth {
    roles member admin
}

table codes {
    column code text unique=#true
    column handle text unique=global
    column orgId text
    firewall {
        scope orgId (auth)org-id
    }
    access {
        list member+
        read member+
        create member+
        update member+
    }
    guards open
    batch max=5 atomic=#true
}
"#;

/// SPEC §5.7 uniqueness, server and model alike: another tenant's value is free to take by
/// create, update and batch (a 409 would tell the caller it exists); a tenant's own value still
/// clashes; `unique=global` keeps its table-wide constraint.
#[test]
fn unique_values_never_cross_tenants() {
    let seeds = vec![seed("codes", ADA, json!({"code": "X", "handle": "h1"}))];
    let create =
        |caller, body: Value| with_body(req(caller, "POST", "codes", Route::Collection), body);
    let mut batch = req(GUS, "POST", "codes", Route::Batch);
    batch.body = Some(Body::Records {
        records: vec![fields(json!({"code": "Y"})), fields(json!({"code": "Z"}))],
        atomic: Some(true),
        if_match: Vec::new(),
    });
    let answers = run(
        CODES,
        callers(),
        seeds,
        vec![
            create(GUS, json!({"code": "X"})),
            create(BOB, json!({"code": "X"})),
            create(BOB, json!({"code": "Y"})),
            create(BOB, json!({"code": "Z"})),
            batch,
            create(BOB, json!({"code": "W"})),
            // Gus's own row (the second created) takes the value Bob has just taken.
            with_body(
                req(GUS, "PATCH", "codes", Route::Row(row("codes", 1))),
                json!({"code": "W"}),
            ),
            create(GUS, json!({"handle": "h1"})),
        ],
    );
    assert_eq!(
        statuses(&answers),
        vec![201, 409, 201, 201, 201, 201, 200, 409]
    );
    assert_eq!(answers[1].1["code"], "UNIQUE_VIOLATION");
    assert_eq!(answers[7].1["code"], "UNIQUE_VIOLATION");
}

/// SPEC §5.7 preconditions in batches (`options.ifMatch`), server and model alike: each record's
/// entry is judged as its own `If-Match` — another tenant's row is the fixed 404, `when` comes
/// before the version, a stale tag is 412 and writes nothing; an entry naming an id the batch
/// does not carry, or any entry on a create batch, is 400 before anything is read.
#[test]
fn batch_preconditions_are_judged_per_record() {
    let seeds = vec![
        seed("notes", ADA, json!({"id": "n1", "body": "a's"})),
        seed(
            "notes",
            ADA,
            json!({"id": "n2", "body": "frozen", "locked": true}),
        ),
    ];
    let entry = |record, tag| BatchPrecondition { record, tag };
    let records = |rows: Value, atomic, if_match| Body::Records {
        records: rows
            .as_array()
            .map(|a| a.iter().map(|r| fields(r.clone())).collect())
            .unwrap_or_default(),
        atomic,
        if_match,
    };
    let batch = |caller, method: &str, body: Body| Step {
        body: Some(body),
        ..req(caller, method, "notes", Route::Batch)
    };
    let (any, stale) = (Precondition::IfMatchAny, Precondition::IfMatchStale);
    let answers = run(
        PROJECT,
        callers(),
        seeds,
        vec![
            batch(
                GUS,
                "PATCH",
                records(
                    json!([{"id": "n1", "body": "g"}]),
                    None,
                    vec![entry(Some(0), any)],
                ),
            ),
            batch(
                BOB,
                "PATCH",
                records(
                    json!([{"id": "n1", "body": "b"}]),
                    None,
                    vec![entry(Some(0), stale)],
                ),
            ),
            batch(
                BOB,
                "PATCH",
                records(
                    json!([{"id": "n2", "body": "b"}]),
                    None,
                    vec![entry(Some(0), stale)],
                ),
            ),
            batch(
                BOB,
                "PATCH",
                records(
                    json!([{"id": "n1", "body": "z"}]),
                    Some(true),
                    vec![entry(Some(0), any)],
                ),
            ),
            batch(
                BOB,
                "DELETE",
                Body::Ids {
                    ids: vec![IdRef::Literal("n1".into())],
                    atomic: None,
                    if_match: vec![entry(Some(0), stale)],
                },
            ),
            batch(
                BOB,
                "PATCH",
                records(
                    json!([{"id": "n1", "body": "q"}]),
                    None,
                    vec![entry(None, any)],
                ),
            ),
            batch(
                BOB,
                "POST",
                records(
                    json!([{"id": "n5", "body": "c"}]),
                    None,
                    vec![entry(None, any)],
                ),
            ),
            batch(
                BOB,
                "PUT",
                records(
                    json!([{"id": "n9", "body": "new"}]),
                    None,
                    vec![entry(Some(0), any)],
                ),
            ),
        ],
    );
    assert_eq!(
        statuses(&answers),
        vec![207, 207, 207, 200, 207, 400, 400, 207]
    );
    let code = |i: usize| answers[i].1["errors"][0]["error"]["code"].clone();
    assert_eq!(code(0), "NOT_FOUND");
    assert_eq!(code(1), "PRECONDITION_FAILED");
    assert_eq!(code(2), "ACCESS_CONDITION_FAILED");
    assert_eq!(code(4), "PRECONDITION_FAILED");
    assert_eq!(answers[5].1["code"], "INVALID_JSON");
    assert_eq!(code(7), "PRECONDITION_FAILED");
}

const HISTORY: &str = r#"
auth {
    roles member admin
}

table docs {
    id text
    column body text
    column contactEmail text
    column status text default=draft
    column secret text
    column orgId text
    firewall {
        scope orgId (auth)org-id
    }
    access {
        list member+
        read {
            any {
                role admin
                all {
                    role member
                    when status eq published
                }
            }
        }
        create admin
        update admin
        delete admin
    }
    guards open
    masking {
        mask contactEmail email show=admin
    }
    delete hard
    history {
        exclude secret
    }
}
"#;

/// SPEC §11, server and model alike: each image of a row's history is judged on its own — a
/// member sees the published times only (the draft ones are `null` or not listed), masked for
/// them, never the excluded column; another tenant gets the fixed 404; a hard-deleted row's
/// history stays readable to whoever could read its last image. After every step the change log
/// is checked to chain to the rows the model holds.
#[test]
fn history_images_are_judged_one_by_one() {
    let doc = || Route::History(IdRef::Literal("n1".into()));
    let edit = |body: Value| with_body(req(ADA, "PATCH", "docs", note("n1")), body);
    let answers = run(
        HISTORY,
        callers(),
        Vec::new(),
        vec![
            with_body(
                req(ADA, "PUT", "docs", note("n1")),
                json!({"body": "v1", "contactEmail": "ann@example.org", "secret": "s1"}),
            ),
            edit(json!({"status": "published"})),
            edit(json!({"body": "v2", "contactEmail": "amy@example.org", "secret": "s2"})),
            edit(json!({"status": "draft", "body": "embargoed"})),
            edit(json!({"status": "published", "body": "v3"})),
            req(BOB, "GET", "docs", doc()),
            req(GUS, "GET", "docs", doc()),
            req(ADA, "GET", "docs", doc()),
            req(ADA, "DELETE", "docs", note("n1")),
            with_query(req(BOB, "GET", "docs", doc()), &[("limit", "2")]),
        ],
    );
    assert_eq!(
        statuses(&answers),
        vec![201, 200, 200, 200, 200, 200, 404, 200, 200, 200]
    );
    let bodies = |page: &Value| -> Vec<Value> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| json!([v["before"]["body"], v["after"]["body"]]))
            .collect()
    };
    let member = &answers[5].1;
    assert_eq!(
        bodies(member),
        vec![
            json!([null, "v3"]),
            json!(["v2", null]),
            json!(["v1", "v2"]),
            json!([null, "v1"]),
        ]
    );
    assert!(!member.to_string().contains("embargoed"));
    assert!(!member.to_string().contains("ann@example.org"));
    assert!(!member.to_string().contains("s1"));
    assert_eq!(answers[6].1["code"], "NOT_FOUND");
    // The admin's five versions are the model's prediction, checked in the run (the transcript
    // these answers are read from cuts long bodies).
    let after_delete = &answers[9].1;
    assert_eq!(after_delete["data"][0]["op"], "delete");
    assert_eq!(after_delete["data"][0]["before"]["body"], "v3");
    assert_eq!(after_delete["pagination"]["hasMore"], true);
}

const REALTIME: &str = r#"
auth {
    roles member admin
}

table feed {
    id text
    column body text
    column contactEmail text
    column status text default="draft"
    column orgId text
    firewall {
        scope orgId (auth)org-id
    }
    access {
        list {
            any {
                role admin
                all {
                    role member
                    when status eq published
                }
            }
        }
        read member+
        create admin
        update admin
        delete admin
    }
    guards open
    masking {
        mask contactEmail email show=admin
    }
    delete hard
    realtime #true
}
"#;

/// SPEC §12, server and model alike: each caller follows `feed` from the start, and once the
/// scenario is done must have received exactly the model's events — the admin every change with
/// emails raw; the member only published times, masked, an `enter` when a row is published and a
/// `leave` (its id only) when it is drafted again, a `delete` only for a row they could list;
/// the other tenant nothing at all, deletes included.
#[test]
fn realtime_streams_follow_each_subscribers_list_policy() {
    let edit = |id: &str, body: Value| with_body(req(ADA, "PATCH", "feed", note(id)), body);
    let answers = run(
        REALTIME,
        callers(),
        Vec::new(),
        vec![
            with_body(
                req(ADA, "PUT", "feed", note("n1")),
                json!({"body": "v1", "contactEmail": "ann@example.org", "status": "published"}),
            ),
            with_body(
                req(ADA, "PUT", "feed", note("n2")),
                json!({"body": "draft only", "contactEmail": "bo@example.org"}),
            ),
            edit("n1", json!({"status": "draft", "body": "embargoed"})),
            edit("n1", json!({"status": "published", "body": "v2"})),
            edit("n1", json!({"contactEmail": "amy@example.org"})),
            req(ADA, "DELETE", "feed", note("n2")),
            req(ADA, "DELETE", "feed", note("n1")),
        ],
    );
    assert_eq!(statuses(&answers), vec![201, 201, 200, 200, 200, 200, 200]);
}

const FILES: &str = r#"
auth {
    roles member admin
}

table docs {
    id text
    column title text
    column status text default="draft"
    column scan file
    column secretScan file
    column orgId text
    firewall {
        scope orgId (auth)org-id
    }
    access {
        list member+
        read {
            any {
                role admin
                all {
                    role member
                    when status eq published
                }
            }
        }
        create member+
        update member+
        delete admin
    }
    guards open
    masking {
        mask secretScan hidden show=admin
    }
    delete hard
}
"#;

fn doc(id: &str) -> Route {
    Route::Row(IdRef::Literal(id.into()))
}

fn upload_seed(id: &str, status: &str) -> Seed {
    Seed {
        table: "docs".into(),
        owner: ADA,
        values: vec![
            ("id".into(), ValueSpec::Json(json!(id))),
            ("status".into(), ValueSpec::Json(json!(status))),
            ("scan".into(), ValueSpec::Upload(0)),
            ("secretScan".into(), ValueSpec::Upload(1)),
        ],
    }
}

/// SPEC §13, server and model alike: every caller reads every row and downloads each of its
/// files (invariant 11, after the seeds and after the steps) — the admin both files, the member
/// of the tenant only the unhidden one of a published row, the other tenant nothing — and the
/// store holds exactly the objects the rows name after every write (invariant 12): a file set
/// to null, and a row hard-deleted, take their objects with them.
#[test]
fn files_download_as_reads_and_leave_with_their_rows() {
    let answers = run(
        FILES,
        callers(),
        vec![upload_seed("d1", "published"), upload_seed("d2", "draft")],
        vec![
            req(BOB, "GET", "docs", doc("d1")),
            req(GUS, "GET", "docs", doc("d1")),
            with_body(req(BOB, "PATCH", "docs", doc("d1")), json!({"scan": null})),
            with_body(
                req(ADA, "PATCH", "docs", doc("d2")),
                json!({"status": "published"}),
            ),
            req(ADA, "DELETE", "docs", doc("d1")),
        ],
    );
    assert_eq!(statuses(&answers), vec![200, 404, 200, 200, 200]);
}
