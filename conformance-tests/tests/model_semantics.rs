//! The reference model on scenarios for decisions taken after a security review: a condition on a
//! missing auth value is unknown (never widened by `not`), and a write answers with the row only
//! to a caller whose `read` rule shows it. As in `model_areas.rs`, every scenario runs server and
//! model side by side (state compared after every step, invariants checked), and the answers are
//! asserted too, so a shared mistake cannot pass.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use ward_conformance::cases::User;
use ward_conformance::engine::{self, Counts};
use ward_conformance::scenario::{Body, CallerSpec, IdRef, Route, Scenario, Seed, Step, ValueSpec};

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

fn user(name: &str, roles: &[&str], org: Option<&str>) -> User {
    let mut claims = BTreeMap::new();
    if let Some(o) = org {
        claims.insert("org-id".to_owned(), o.to_owned());
    }
    User {
        name: name.into(),
        sub: name.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        claims,
    }
}

fn callers() -> Vec<CallerSpec> {
    vec![
        CallerSpec::User(user("anna", &[], Some("a"))),
        CallerSpec::User(user("noorg", &[], None)),
        CallerSpec::User(user("mia", &["member"], Some("a"))),
        CallerSpec::User(user("ada", &["admin"], Some("a"))),
    ]
}

fn fields(v: Value) -> Vec<(String, ValueSpec)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), ValueSpec::Json(v.clone())))
                .collect()
        })
        .unwrap_or_default()
}

fn seed(table: &str, owner: usize, values: Value) -> Seed {
    Seed {
        table: table.into(),
        owner,
        values: fields(values),
    }
}

fn req(caller: usize, method: &str, table: &str, route: Route) -> Step {
    Step {
        caller,
        method: method.into(),
        table: table.into(),
        route,
        query: Vec::new(),
        body: None,
    }
}

fn with_body(mut s: Step, body: Value) -> Step {
    s.body = Some(Body::Object(fields(body)));
    s
}

fn row(table: &str, n: usize) -> IdRef {
    IdRef::Created {
        table: table.into(),
        n,
    }
}

/// Runs the scenario; panics with the transcript on any disagreement; returns each answer's
/// status and body.
fn run(seeds: Vec<Seed>, steps: Vec<Step>) -> Vec<(u16, Value)> {
    let ir = ward_conformance::suite::compile(PROJECT).expect("the test project compiles");
    let scenario = Scenario {
        callers: callers(),
        seeds,
        steps,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut counts = Counts::default();
    match rt.block_on(engine::run(&ir, &scenario, &mut counts)) {
        Ok(transcript) => transcript
            .lines()
            .filter_map(|l| l.strip_prefix("< "))
            .filter_map(|l| {
                let status = l.get(..3)?.parse().ok()?;
                let body = l.get(4..).and_then(|b| serde_json::from_str(b).ok());
                Some((status, body.unwrap_or(Value::Null)))
            })
            .collect(),
        Err(f) => panic!("{}\n--- transcript ---\n{}", f.message, f.transcript),
    }
}

fn statuses(answers: &[(u16, Value)]) -> Vec<u16> {
    answers.iter().map(|(s, _)| *s).collect()
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
