//! A `restrict` reference refuses the delete of the row it points at, from any row that holds
//! it — even one the same delete would remove through a `cascade` reference (SQL's RESTRICT,
//! checked before any cascade; docs/decisions.md). SQLite and Postgres each decide that case by
//! the order the foreign keys were declared in, so ward decides it itself; found by the seed
//! 1796575848673181993 of the random suite, where a batch delete repeated the same id.

use serde_json::{Value, json};
use ward_conformance::scenario::{Body, CallerSpec, IdRef, Route, Step};

use crate::common;
use common::*;

const PROJECT: &str = r#"
auth {
    roles member
}

table projects {
    id text
    column name text
    firewall none
    access {
        list member
        read member
        create member
        delete member
    }
    guards {
        createable name
    }
    delete hard
}

// The restricting reference declared before the cascading ones …
table tasks {
    id text
    column title text
    column reviewId text references=projects on-delete=restrict
    column noteId text references=projects on-delete=set-null
    column projectId text references=projects on-delete=cascade
    column mirrorId text references=projects on-delete=cascade
    firewall none
    access {
        list member
        read member
    }
    delete hard
}

// … and after them: the answer must not depend on it.
table chores {
    id text
    column projectId text references=projects on-delete=cascade
    column reviewId text references=projects on-delete=restrict
    firewall none
    access {
        list member
        read member
    }
    delete hard
}

// A row that references itself never blocks its own delete.
table nodes {
    id text
    column parentId text references=nodes on-delete=restrict
    firewall none
    access {
        list member
        read member
        update member
        delete member
    }
    guards {
        updatable parentId
    }
    delete hard
}

table folders {
    id text
    column name text
    firewall none
    access {
        list member
        read member
        delete member
    }
    delete soft
}

// A soft-deleted row still holds its reference: the foreign key, and so a hard delete, sees it.
table kinds {
    id text
    column name text
    firewall none
    access {
        list member
        read member
        delete member
    }
    delete hard
}

table things {
    id text
    column kindId text references=kinds on-delete=restrict
    firewall none
    access {
        list member
        read member
        delete member
    }
    delete soft
}

table files {
    id text
    column folderId text references=folders on-delete=cascade
    column pinnedId text references=folders on-delete=restrict
    firewall none
    access {
        list member
        read member
    }
    delete soft
}
"#;

fn callers() -> Vec<CallerSpec> {
    vec![CallerSpec::User(user("mia", &["member"], None))]
}

fn delete(table: &str, id: &str) -> Step {
    req(0, "DELETE", table, Route::Row(IdRef::Literal(id.into())))
}

fn batch_delete(table: &str, ids: &[&str]) -> Step {
    let mut s = req(0, "DELETE", table, Route::Batch);
    s.body = Some(Body::Ids {
        ids: ids.iter().map(|i| IdRef::Literal((*i).into())).collect(),
        atomic: None,
        if_match: Vec::new(),
    });
    s
}

fn codes(answer: &Value) -> Vec<String> {
    answer["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["error"]["code"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_row_the_cascade_would_remove_still_restricts() {
    let answers = run(
        PROJECT,
        callers(),
        vec![
            seed("projects", 0, json!({"id": "s0", "name": "zero"})),
            seed("projects", 0, json!({"id": "s1", "name": "one"})),
            seed("projects", 0, json!({"id": "s2", "name": "two"})),
            seed(
                "tasks",
                0,
                json!({"id": "t0", "reviewId": "s0", "noteId": "s0", "projectId": "s0", "mirrorId": "s0"}),
            ),
            seed(
                "tasks",
                0,
                json!({"id": "t1", "noteId": "s1", "projectId": "s1"}),
            ),
            seed(
                "chores",
                0,
                json!({"id": "c0", "projectId": "s2", "reviewId": "s2"}),
            ),
            seed("nodes", 0, json!({"id": "n0"})),
            seed("nodes", 0, json!({"id": "n1", "parentId": "n0"})),
            seed("folders", 0, json!({"id": "f0", "name": "docs"})),
            seed(
                "files",
                0,
                json!({"id": "x0", "folderId": "f0", "pinnedId": "f0"}),
            ),
        ],
        vec![
            // The seed's request: the same id many times. Every copy is refused, nothing goes.
            batch_delete("projects", &["s0", "s0", "s0", "s0"]),
            delete("projects", "s0"),
            // Either declaration order: refused.
            delete("projects", "s2"),
            // Nothing restricts s1: its task goes with it, the set-null reference is gone too.
            delete("projects", "s1"),
            // n1 points at n0: refused; then n1 (pointing at nobody else) goes, then n0.
            delete("nodes", "n0"),
            delete("nodes", "n1"),
            delete("nodes", "n0"),
            // Soft delete judges `restrict` the same way.
            delete("folders", "f0"),
        ],
    );
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses,
        [207, 409, 409, 200, 409, 200, 200, 409],
        "{answers:?}"
    );
    assert_eq!(codes(&answers[0].1), ["REFERENCE_VIOLATION"; 4]);
    assert_eq!(answers[0].1["meta"]["failed"], 4);
    for (_, body) in &answers[1..3] {
        assert_eq!(body["code"], "REFERENCE_VIOLATION");
    }
}

#[test]
fn a_self_reference_never_blocks() {
    let point_at_itself = with_body(
        req(0, "PATCH", "nodes", Route::Row(IdRef::Literal("n0".into()))),
        json!({"parentId": "n0"}),
    );
    let answers = run(
        PROJECT,
        callers(),
        vec![seed("nodes", 0, json!({"id": "n0"}))],
        vec![point_at_itself, delete("nodes", "n0")],
    );
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 200], "{answers:?}");
}

#[test]
fn a_soft_deleted_row_still_restricts_a_hard_delete() {
    let answers = run(
        PROJECT,
        callers(),
        vec![
            seed("kinds", 0, json!({"id": "k0", "name": "desk"})),
            seed("things", 0, json!({"id": "t0", "kindId": "k0"})),
        ],
        vec![delete("things", "t0"), delete("kinds", "k0")],
    );
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 409], "{answers:?}");
}
