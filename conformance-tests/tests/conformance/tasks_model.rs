//! Model-based check of the `tasks` example: random sequences of requests by several users, each
//! answer compared with what a tiny in-memory model of the declared policy predicts.
//!
//! The policy under test (examples/tasks/tasks.kdl): members own their tasks (`ownerId` scoped to
//! the caller's user id), may do everything to their own tasks and nothing to anyone else's; a
//! caller without `member` is refused before any read; anonymous callers get 401.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;
use ward_conformance::cases::User;
use ward_conformance::target::{Database, Target as Served};

const USERS: [&str; 3] = ["alice", "bob", "carol"];

#[derive(Debug, Clone)]
enum Caller {
    Member(usize),
    /// A valid token without the `member` role.
    NoRole,
    Anonymous,
}

#[derive(Debug, Clone)]
enum Target {
    /// The n-th task ever created (modulo the count), whoever owns it, deleted or not.
    Existing(usize),
    /// An id that never existed.
    Fresh,
}

#[derive(Debug, Clone)]
enum Step {
    Create {
        caller: Caller,
        title: String,
    },
    CreateWithOwner {
        caller: usize,
        owner: usize,
    },
    List {
        caller: Caller,
    },
    Get {
        caller: Caller,
        target: Target,
    },
    SetDone {
        caller: Caller,
        target: Target,
        done: bool,
    },
    Delete {
        caller: Caller,
        target: Target,
    },
}

fn caller() -> impl Strategy<Value = Caller> {
    prop_oneof![
        6 => (0..USERS.len()).prop_map(Caller::Member),
        1 => Just(Caller::NoRole),
        1 => Just(Caller::Anonymous),
    ]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![4 => any::<usize>().prop_map(Target::Existing), 1 => Just(Target::Fresh)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (caller(), "[a-z%_\\\\ ]{1,12}").prop_map(|(caller, title)| Step::Create { caller, title }),
        1 => (0..USERS.len(), 0..USERS.len()).prop_map(|(caller, owner)| Step::CreateWithOwner { caller, owner }),
        2 => caller().prop_map(|caller| Step::List { caller }),
        3 => (caller(), target()).prop_map(|(caller, target)| Step::Get { caller, target }),
        2 => (caller(), target(), any::<bool>()).prop_map(|(caller, target, done)| Step::SetDone { caller, target, done }),
        1 => (caller(), target()).prop_map(|(caller, target)| Step::Delete { caller, target }),
    ]
}

#[derive(Debug, Clone)]
struct Task {
    id: String,
    owner: usize,
    title: String,
    done: bool,
    deleted: bool,
}

struct Harness {
    app: axum::Router,
    tokens: BTreeMap<String, String>,
    target: Served,
}

impl Harness {
    /// The tasks example served on a fresh database of `database`'s kind.
    async fn new(database: &Database) -> Harness {
        let sources = ward_compiler::Sources::load(&ward_conformance::examples_dir().join("tasks"))
            .expect("load example");
        let ir = ward_compiler::compile(&sources)
            .ir
            .expect("the tasks example compiles");
        let target = Served::open(&ir, database)
            .await
            .expect("the example serves");
        let user = |name: &str, roles: &[&str]| User {
            name: name.to_owned(),
            sub: name.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            claims: BTreeMap::new(),
        };
        let mut tokens = BTreeMap::new();
        for name in USERS {
            tokens.insert(name.to_string(), target.token(&user(name, &["member"])));
        }
        tokens.insert("norole".to_string(), target.token(&user("dave", &[])));
        Harness {
            app: target.app().router(),
            tokens,
            target,
        }
    }

    fn token(&self, caller: &Caller) -> Option<&str> {
        match caller {
            Caller::Member(i) => self.tokens.get(USERS[*i]).map(String::as_str),
            Caller::NoRole => self.tokens.get("norole").map(String::as_str),
            Caller::Anonymous => None,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        caller: &Caller,
        body: Option<Value>,
    ) -> (StatusCode, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = self.token(caller) {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("router is infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 4 << 20)
            .await
            .expect("body");
        (status, bytes.to_vec())
    }
}

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

fn error_code(body: &[u8]) -> Option<String> {
    parse(body)["code"].as_str().map(str::to_string)
}

/// What the policy says about a caller before any row is looked at.
fn refusal(caller: &Caller) -> Option<(StatusCode, &'static str)> {
    match caller {
        Caller::Member(_) => None,
        Caller::NoRole => Some((StatusCode::FORBIDDEN, "ACCESS_ROLE_REQUIRED")),
        Caller::Anonymous => Some((StatusCode::UNAUTHORIZED, "AUTH_MISSING")),
    }
}

/// Runs `steps` on a fresh target of `database`, whose schema is dropped afterwards.
async fn run(steps: Vec<Step>, database: &Database) -> Result<(), TestCaseError> {
    let harness = Harness::new(database).await;
    let outcome = run_on(&harness, steps).await;
    harness.target.close().await.map_err(TestCaseError::fail)?;
    outcome
}

async fn run_on(harness: &Harness, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut tasks: Vec<Task> = Vec::new();
    // The exact bytes of a not-found answer, learned from the first fresh id and then required of
    // every invisible and nonexistent id alike.
    let (status, not_found) = harness
        .call(
            Method::GET,
            &format!("/api/tasks/{}", uuid::Uuid::now_v7()),
            &Caller::Member(0),
            None,
        )
        .await;
    prop_assert_eq!(status, StatusCode::NOT_FOUND);
    prop_assert_eq!(error_code(&not_found), Some("NOT_FOUND".to_string()));

    for step in steps {
        match step {
            Step::Create { caller, title } => {
                let (status, body) = harness
                    .call(
                        Method::POST,
                        "/api/tasks",
                        &caller,
                        Some(json!({ "title": title })),
                    )
                    .await;
                match (refusal(&caller), &caller) {
                    (Some((want, code)), _) => {
                        prop_assert_eq!(status, want);
                        prop_assert_eq!(error_code(&body), Some(code.to_string()));
                    }
                    (None, Caller::Member(owner)) => {
                        prop_assert_eq!(
                            status,
                            StatusCode::CREATED,
                            "{}",
                            String::from_utf8_lossy(&body)
                        );
                        let data = &parse(&body)["data"];
                        prop_assert_eq!(data["ownerId"].as_str(), Some(USERS[*owner]));
                        prop_assert_eq!(data["createdBy"].as_str(), Some(USERS[*owner]));
                        prop_assert_eq!(data["title"].as_str(), Some(title.as_str()));
                        prop_assert_eq!(data["isDone"].as_bool(), Some(false));
                        let id = data["id"].as_str().unwrap_or_default().to_string();
                        prop_assert!(!id.is_empty());
                        tasks.push(Task {
                            id,
                            owner: *owner,
                            title,
                            done: false,
                            deleted: false,
                        });
                    }
                    (None, _) => unreachable!("only members are admitted"),
                }
            }
            Step::CreateWithOwner { caller, owner } => {
                let body = json!({ "title": "sneaky", "ownerId": USERS[owner] });
                let (status, body) = harness
                    .call(
                        Method::POST,
                        "/api/tasks",
                        &Caller::Member(caller),
                        Some(body),
                    )
                    .await;
                prop_assert_eq!(status, StatusCode::BAD_REQUEST);
                prop_assert_eq!(error_code(&body), Some("GUARD_SYSTEM_MANAGED".to_string()));
            }
            Step::List { caller } => {
                let (status, body) = harness
                    .call(
                        Method::GET,
                        "/api/tasks?limit=100&sort=createdAt",
                        &caller,
                        None,
                    )
                    .await;
                if let Some((want, code)) = refusal(&caller) {
                    prop_assert_eq!(status, want);
                    prop_assert_eq!(error_code(&body), Some(code.to_string()));
                    continue;
                }
                let Caller::Member(me) = caller else {
                    unreachable!()
                };
                prop_assert_eq!(status, StatusCode::OK);
                let got: Vec<String> = parse(&body)["data"]
                    .as_array()
                    .map(|rows| {
                        rows.iter()
                            .filter_map(|r| r["id"].as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut want: Vec<String> = tasks
                    .iter()
                    .filter(|t| t.owner == me && !t.deleted)
                    .map(|t| t.id.clone())
                    .collect();
                want.sort();
                let mut got_sorted = got.clone();
                got_sorted.sort();
                prop_assert_eq!(got_sorted, want);
            }
            Step::Get { caller, target } => {
                let (id, visible) = resolve(&tasks, &caller, &target);
                let (status, body) = harness
                    .call(Method::GET, &format!("/api/tasks/{id}"), &caller, None)
                    .await;
                if let Some((want, code)) = refusal(&caller) {
                    prop_assert_eq!(status, want);
                    prop_assert_eq!(error_code(&body), Some(code.to_string()));
                    continue;
                }
                match visible {
                    Some(task) => {
                        prop_assert_eq!(status, StatusCode::OK);
                        let data = &parse(&body)["data"];
                        prop_assert_eq!(data["title"].as_str(), Some(task.title.as_str()));
                        prop_assert_eq!(data["isDone"].as_bool(), Some(task.done));
                    }
                    None => {
                        prop_assert_eq!(status, StatusCode::NOT_FOUND);
                        prop_assert_eq!(
                            &body,
                            &not_found,
                            "invisible and nonexistent ids must answer the same bytes"
                        );
                    }
                }
            }
            Step::SetDone {
                caller,
                target,
                done,
            } => {
                let (id, visible) = resolve(&tasks, &caller, &target);
                let (status, body) = harness
                    .call(
                        Method::PATCH,
                        &format!("/api/tasks/{id}"),
                        &caller,
                        Some(json!({ "isDone": done })),
                    )
                    .await;
                if let Some((want, code)) = refusal(&caller) {
                    prop_assert_eq!(status, want);
                    prop_assert_eq!(error_code(&body), Some(code.to_string()));
                    continue;
                }
                match visible {
                    Some(task) => {
                        prop_assert_eq!(
                            status,
                            StatusCode::OK,
                            "{}",
                            String::from_utf8_lossy(&body)
                        );
                        prop_assert_eq!(parse(&body)["data"]["isDone"].as_bool(), Some(done));
                        let id = task.id.clone();
                        if let Some(t) = tasks.iter_mut().find(|t| t.id == id) {
                            t.done = done;
                        }
                    }
                    None => {
                        prop_assert_eq!(status, StatusCode::NOT_FOUND);
                        prop_assert_eq!(&body, &not_found);
                    }
                }
            }
            Step::Delete { caller, target } => {
                let (id, visible) = resolve(&tasks, &caller, &target);
                let (status, body) = harness
                    .call(Method::DELETE, &format!("/api/tasks/{id}"), &caller, None)
                    .await;
                if let Some((want, code)) = refusal(&caller) {
                    prop_assert_eq!(status, want);
                    prop_assert_eq!(error_code(&body), Some(code.to_string()));
                    continue;
                }
                match visible {
                    Some(task) => {
                        prop_assert_eq!(status, StatusCode::OK);
                        prop_assert_eq!(parse(&body)["data"]["deleted"].as_bool(), Some(true));
                        let id = task.id.clone();
                        if let Some(t) = tasks.iter_mut().find(|t| t.id == id) {
                            t.deleted = true;
                        }
                    }
                    None => {
                        prop_assert_eq!(status, StatusCode::NOT_FOUND);
                        prop_assert_eq!(&body, &not_found);
                    }
                }
            }
        }
    }

    // Final state: each member sees exactly their live tasks, with the model's values.
    for (me, user) in USERS.iter().enumerate() {
        let (status, body) = harness
            .call(
                Method::GET,
                "/api/tasks?limit=100",
                &Caller::Member(me),
                None,
            )
            .await;
        prop_assert_eq!(status, StatusCode::OK);
        let rows = parse(&body)["data"].as_array().cloned().unwrap_or_default();
        let want: Vec<&Task> = tasks
            .iter()
            .filter(|t| t.owner == me && !t.deleted)
            .collect();
        prop_assert_eq!(
            rows.len(),
            want.len(),
            "{} sees a different number of tasks",
            user
        );
        for row in rows {
            prop_assert_eq!(row["ownerId"].as_str(), Some(*user));
            let id = row["id"].as_str().unwrap_or_default();
            let task = want.iter().find(|t| t.id == id);
            prop_assert!(
                task.is_some(),
                "{} sees a task the model does not give them",
                user
            );
            if let Some(task) = task {
                prop_assert_eq!(row["isDone"].as_bool(), Some(task.done));
            }
        }
    }
    Ok(())
}

/// The id a step addresses, and the task when the caller may see it.
fn resolve<'t>(tasks: &'t [Task], caller: &Caller, target: &Target) -> (String, Option<&'t Task>) {
    match target {
        Target::Existing(n) if !tasks.is_empty() => {
            let task = &tasks[n % tasks.len()];
            let visible =
                matches!(caller, Caller::Member(me) if *me == task.owner) && !task.deleted;
            (task.id.clone(), visible.then_some(task))
        }
        _ => (uuid::Uuid::now_v7().to_string(), None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn tasks_policy_matches_the_model(steps in prop::collection::vec(step(), 1..30)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(run(steps.clone(), &Database::Sqlite))?;
        // The same steps on Postgres, when the test database is configured.
        match std::env::var("WARD_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => runtime.block_on(run(steps, &Database::Postgres { url }))?,
            _ => eprintln!("skipped on Postgres: WARD_TEST_POSTGRES_URL is not set"),
        }
    }
}
