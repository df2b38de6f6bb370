//! Helpers for hand-written scenarios: each runs server and model side by side through the
//! engine (state compared after every step, the invariants checked), and returns the answers so
//! the test can assert them too — a mistake shared by server and model cannot pass unnoticed.

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use ward_conformance::cases::User;
use ward_conformance::engine::{self, Counts};
use ward_conformance::scenario::{Body, CallerSpec, IdRef, Route, Scenario, Seed, Step, ValueSpec};
use ward_conformance::target::Database;

pub fn user(name: &str, roles: &[&str], org: Option<&str>) -> User {
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

pub fn fields(v: Value) -> Vec<(String, ValueSpec)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), ValueSpec::Json(v.clone())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn seed(table: &str, owner: usize, values: Value) -> Seed {
    Seed {
        table: table.into(),
        owner,
        values: fields(values),
    }
}

pub fn req(caller: usize, method: &str, table: &str, route: Route) -> Step {
    Step {
        caller,
        method: method.into(),
        table: table.into(),
        route,
        query: Vec::new(),
        body: None,
        precondition: None,
    }
}

pub fn with_body(mut s: Step, body: Value) -> Step {
    s.body = Some(Body::Object(fields(body)));
    s
}

pub fn with_query(mut s: Step, query: &[(&str, &str)]) -> Step {
    s.query = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), ValueSpec::Json(json!(v))))
        .collect();
    s
}

pub fn row(table: &str, n: usize) -> IdRef {
    IdRef::Created {
        table: table.into(),
        n,
    }
}

/// The databases every scenario runs on: SQLite, and Postgres when `WARD_TEST_POSTGRES_URL` is
/// set (a notice is printed when it is not).
pub fn databases() -> Vec<Database> {
    let mut out = vec![Database::Sqlite];
    match std::env::var("WARD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => out.push(Database::Postgres { url }),
        _ => eprintln!("skipped on Postgres: WARD_TEST_POSTGRES_URL is not set"),
    }
    out
}

/// Runs the scenario on `project`, on every database of [`databases`]; panics with the
/// transcript on any disagreement between server and model or any broken invariant, or when the
/// backends answer with different statuses; returns each answer's status and body (SQLite's).
pub fn run(
    project: &str,
    callers: Vec<CallerSpec>,
    seeds: Vec<Seed>,
    steps: Vec<Step>,
) -> Vec<(u16, Value)> {
    let ir = ward_conformance::suite::compile(project).expect("the test project compiles");
    let scenario = Scenario {
        callers,
        seeds,
        steps,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut answers: Vec<Vec<(u16, Value)>> = Vec::new();
    for database in databases() {
        let mut counts = Counts::default();
        match rt.block_on(engine::run(&ir, &scenario, &mut counts, &database)) {
            Ok(transcript) => answers.push(
                transcript
                    .lines()
                    .filter_map(|l| l.strip_prefix("< "))
                    .filter_map(|l| {
                        let status = l.get(..3)?.parse().ok()?;
                        let body = l.get(4..).and_then(|b| serde_json::from_str(b).ok());
                        Some((status, body.unwrap_or(Value::Null)))
                    })
                    .collect(),
            ),
            Err(f) => panic!(
                "on {}: {}\n--- transcript ---\n{}",
                database.name(),
                f.message,
                f.transcript
            ),
        }
    }
    if let [first, rest @ ..] = answers.as_slice() {
        for other in rest {
            assert_eq!(
                statuses(first),
                statuses(other),
                "SQLite and Postgres disagree"
            );
        }
    }
    answers.into_iter().next().unwrap_or_default()
}

pub fn statuses(answers: &[(u16, Value)]) -> Vec<u16> {
    answers.iter().map(|(s, _)| *s).collect()
}
