//! The reference model on scenarios for decisions taken after a security review: a condition on a
//! missing auth value is unknown (never widened by `not`), and a write answers with the row only
//! to a caller whose `read` rule shows it. As in `model_areas.rs`, every scenario runs server and
//! model side by side (state compared after every step, invariants checked), and the answers are
//! asserted too, so a shared mistake cannot pass.

use serde_json::{Value, json};
use ward_conformance::scenario::{Body, CallerSpec, IdRef, Route, Seed, Step};

use crate::common;
use common::*;

const PROJECT: &str = r#"
auth {
    roles member admin
}

table docs {
    id uuid
    column orgId text
    column title text
    firewall none
    access {
        list authenticated {
            not {
                when orgId ne (auth)org-id
            }
        }
        read authenticated {
            not {
                when orgId ne (auth)org-id
            }
        }
        create authenticated
        update authenticated {
            any {
                not {
                    when orgId ne (auth)org-id
                }
            }
        }
        delete authenticated {
            not {
                when orgId ne (auth)org-id
            }
        }
    }
    guards {
        createable orgId title
        updatable title
    }
    delete hard
}

table memos {
    id uuid
    column title text
    column status text default=open
    firewall none
    access {
        list member+ {
            when status ne hidden
        }
        read member+ {
            when status ne hidden
        }
        create authenticated
        update authenticated
        delete admin
        restore authenticated
    }
    guards {
        createable title status
        updatable title status
    }
    delete soft
    batch max=5
}

table notes {
    id text
    column body text
    firewall none
    access {
        read admin
        create authenticated
        update authenticated
    }
    guards open
    delete hard
}

table people {
    id uuid
    column email text
    column fullName text
    firewall none
    access {
        list authenticated
        read authenticated
        create authenticated
    }
    guards open
    masking {
        mask email email show=admin
        mask fullName name show=admin
    }
    delete hard
}
"#;

// Caller indices.
const ANNA: usize = 0; // no role, org a
const NOORG: usize = 1; // no role, no org claim
const MIA: usize = 2; // member, org a
const ADA: usize = 3; // admin, org a

fn callers() -> Vec<CallerSpec> {
    vec![
        CallerSpec::User(user("anna", &[], Some("a"))),
        CallerSpec::User(user("noorg", &[], None)),
        CallerSpec::User(user("mia", &["member"], Some("a"))),
        CallerSpec::User(user("ada", &["admin"], Some("a"))),
    ]
}

#[test]
fn not_around_a_missing_auth_value_grants_nothing() {
    let answers = run(
        vec![
            seed("docs", ANNA, json!({ "orgId": "a", "title": "ours" })),
            seed("docs", ANNA, json!({ "orgId": "b", "title": "theirs" })),
        ],
        vec![
            // With the claim, `not { when orgId ne (auth)org-id }` means "my org".
            req(ANNA, "GET", "docs", Route::Collection),
            req(ANNA, "GET", "docs", Route::Row(row("docs", 1))),
            // Without it the comparison is unknown and so is its negation: nothing is shown,
            // read, updated or deleted.
            req(NOORG, "GET", "docs", Route::Collection),
            req(NOORG, "GET", "docs", Route::Row(row("docs", 0))),
            with_body(
                req(NOORG, "PATCH", "docs", Route::Row(row("docs", 0))),
                json!({ "title": "x" }),
            ),
            req(NOORG, "DELETE", "docs", Route::Row(row("docs", 1))),
        ],
    );
    assert_eq!(statuses(&answers), [200, 404, 200, 404, 403, 403]);
    assert_eq!(answers[0].1["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(answers[2].1["data"], json!([]));
    assert_eq!(answers[4].1["code"], "ACCESS_CONDITION_FAILED");
}

/// `data` is `{"id"}` and nothing else.
/// Runs the scenario (see `common::run`).
fn run(seeds: Vec<Seed>, steps: Vec<Step>) -> Vec<(u16, Value)> {
    common::run(PROJECT, callers(), seeds, steps)
}

fn id_only(data: &Value) -> bool {
    data.as_object()
        .is_some_and(|o| o.len() == 1 && o.get("id").is_some_and(|id| !id.is_null()))
}

#[test]
fn writes_answer_only_what_the_read_rule_shows() {
    let memo = |caller, method: &str| req(caller, method, "memos", Route::Row(row("memos", 0)));
    let put_note = |caller, body: Value| {
        with_body(
            req(
                caller,
                "PUT",
                "notes",
                Route::Row(IdRef::Literal("n1".into())),
            ),
            body,
        )
    };
    let answers = run(
        vec![seed("memos", MIA, json!({ "title": "plan" }))],
        vec![
            // Anna may write memos but not read them: a write must not work as a read.
            with_body(memo(ANNA, "PATCH"), json!({})),
            with_body(memo(MIA, "PATCH"), json!({})),
            // The write makes the row fail Mia's read condition.
            with_body(memo(MIA, "PATCH"), json!({ "status": "hidden" })),
            with_body(memo(MIA, "PATCH"), json!({ "status": "open" })),
            memo(ADA, "DELETE"),
            req(ANNA, "POST", "memos", Route::Restore(row("memos", 0))),
            with_body(
                req(ANNA, "POST", "memos", Route::Collection),
                json!({ "title": "mine" }),
            ),
            Step {
                body: Some(Body::Records {
                    records: vec![
                        fields(json!({ "title": "a" })),
                        fields(json!({ "title": "b", "status": "hidden" })),
                    ],
                    atomic: None,
                    if_match: Vec::new(),
                }),
                ..req(MIA, "POST", "memos", Route::Batch)
            },
            put_note(ANNA, json!({ "body": "x" })),
            put_note(ANNA, json!({ "body": "y" })),
            put_note(ADA, json!({})),
        ],
    );
    assert_eq!(
        statuses(&answers),
        [200, 200, 200, 200, 200, 200, 201, 201, 201, 200, 200]
    );
    let data = |i: usize| &answers[i].1["data"];
    assert!(id_only(data(0)), "{}", answers[0].1);
    assert_eq!(data(1)["title"], "plan");
    assert!(id_only(data(2)), "{}", answers[2].1);
    assert_eq!(data(3)["title"], "plan");
    assert!(id_only(data(5)), "{}", answers[5].1);
    assert!(id_only(data(6)), "{}", answers[6].1);
    let success = &answers[7].1["success"];
    assert_eq!(success[0]["title"], "a");
    assert!(id_only(&success[1]), "{}", answers[7].1);
    assert_eq!(*data(8), json!({ "id": "n1" }));
    assert_eq!(*data(9), json!({ "id": "n1" }));
    assert_eq!(data(10)["body"], "y");
}

#[test]
fn a_value_too_short_to_mask_is_redacted() {
    let answers = run(
        vec![],
        vec![
            with_body(
                req(ANNA, "POST", "people", Route::Collection),
                json!({ "email": "a@b.io", "fullName": "J D" }),
            ),
            req(MIA, "GET", "people", Route::Collection),
            req(ADA, "GET", "people", Route::Collection),
        ],
    );
    assert_eq!(statuses(&answers), [201, 200, 200]);
    // Email and name masks would hide no character here: SPEC §2.7 redacts instead.
    assert_eq!(answers[0].1["data"]["email"], "[REDACTED]");
    assert_eq!(answers[0].1["data"]["fullName"], "[REDACTED]");
    assert_eq!(answers[1].1["data"][0]["email"], "[REDACTED]");
    assert_eq!(answers[2].1["data"][0]["email"], "a@b.io");
}
