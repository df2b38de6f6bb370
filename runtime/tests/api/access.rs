#![allow(clippy::unwrap_used)]

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::json;
use ward_ir::{ColumnDefault, ColumnType, CompareOp, Condition, Literal, Operation, Value};

fn project() -> ward_ir::Ir {
    let not_archived = cmp("status", CompareOp::Ne, vec![lit_text("archived")]);
    let prio_ok = cmp(
        "priority",
        CompareOp::Lte,
        vec![Value::Literal(Literal::Integer(3))],
    );
    let update_when = Condition::Any {
        of: vec![
            Condition::Role {
                roles: roles("admin+"),
            },
            Condition::All {
                of: vec![
                    Condition::Role {
                        roles: roles("member"),
                    },
                    cmp(
                        "ownerId",
                        CompareOp::Eq,
                        vec![Value::Auth("user-id".into())],
                    ),
                ],
            },
        ],
    };
    let rooms = table("rooms")
        .text("name")
        .col(ward_ir::Column {
            default: Some(ColumnDefault::Literal(Literal::Text("active".into()))),
            ..column("status", ColumnType::Text)
        })
        .col(column("priority", ColumnType::Integer))
        .text("ownerId")
        .access(Operation::List, rule_when("member+", not_archived.clone()))
        .access(Operation::Read, rule_when("member+", not_archived))
        .access(Operation::Create, rule_check("admin+", prio_ok.clone()))
        .access(
            Operation::Update,
            ward_ir::AccessRule {
                roles: roles("member+"),
                when: update_when,
                check: Some(prio_ok),
            },
        )
        .access(
            Operation::Delete,
            rule_when(
                "admin+",
                cmp("status", CompareOp::Ne, vec![lit_text("locked")]),
            ),
        )
        .createable(&["name", "status", "priority", "ownerId"])
        .updatable(&["name", "status", "priority"])
        .build();
    let frozen = table("frozen")
        .text("name")
        .access(Operation::Read, rule("viewer+"))
        .access(Operation::Create, rule("admin+"))
        .createable(&["name"])
        .build();
    ir(vec![rooms, frozen])
}

const MISSING: &str = "/api/rooms/01890000-0000-7000-8000-000000000000";

#[backends]
async fn role_is_checked_before_any_read() {
    let s = start(project()).await;
    let viewer = s.token("v", &["viewer"], None);
    let r = s.get(MISSING, &viewer).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], "ACCESS_ROLE_REQUIRED");
    assert_eq!(r.json()["layer"], "access");
    assert_eq!(
        r.json()["details"]["required"],
        json!(["member", "admin", "owner"])
    );
    assert_eq!(r.json()["details"]["current"], json!(["viewer"]));
    assert_eq!(s.get("/api/rooms/garbage", &viewer).await.status, 403);
    assert_eq!(
        s.req("GET", MISSING, None, None).await.json()["code"],
        "AUTH_MISSING"
    );
    // No rule at all: denied, with nothing required that anyone could have.
    let admin = s.token("a", &["owner"], None);
    let r = s
        .delete("/api/frozen/01890000-0000-7000-8000-000000000000", &admin)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["details"]["required"], json!([]));
}

#[backends]
async fn read_conditions_hide_rows_in_list_and_get() {
    let s = start(project()).await;
    let admin = s.token("a", &["admin"], None);
    let member = s.token("m", &["member"], None);
    let live = id_str(
        &s.create("rooms", &admin, json!({"name": "live", "priority": 1}))
            .await,
    );
    let gone = id_str(
        &s.create(
            "rooms",
            &admin,
            json!({"name": "old", "status": "archived", "priority": 1}),
        )
        .await,
    );
    let list = s.get("/api/rooms", &member).await.json();
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["live"]);
    assert_eq!(
        s.get(&format!("/api/rooms/{live}"), &member).await.status,
        200
    );
    let hidden = s.get(&format!("/api/rooms/{gone}"), &member).await;
    assert_eq!(hidden.status, 404);
    assert_eq!(hidden.text, s.get(MISSING, &member).await.text);
}

#[backends]
async fn update_when_condition_and_check() {
    let s = start(project()).await;
    let admin = s.token("a", &["admin"], None);
    let mine = s.token("m", &["member"], None);
    let other = s.token("o", &["member"], None);
    let id = id_str(
        &s.create(
            "rooms",
            &admin,
            json!({"name": "r", "priority": 1, "ownerId": "m"}),
        )
        .await,
    );
    let path = format!("/api/rooms/{id}");

    let r = s.patch(&path, &other, json!({"name": "hijack"})).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], "ACCESS_CONDITION_FAILED");
    // A `when` failure wins over guard errors.
    let r = s.patch(&path, &other, json!({"ownerId": "o"})).await;
    assert_eq!(r.json()["code"], "ACCESS_CONDITION_FAILED");

    let r = s.patch(&path, &mine, json!({"name": "renamed"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["name"], "renamed");
    assert_eq!(r.json()["data"]["modifiedBy"], "m");
    assert_eq!(r.json()["data"]["createdBy"], "a");

    let r = s.patch(&path, &mine, json!({"priority": 9})).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], "ACCESS_CHECK_FAILED");
    let after = s.get(&path, &admin).await.json();
    assert_eq!(after["data"]["priority"], 1);
}

#[backends]
async fn create_check_writes_nothing_when_it_fails() {
    let s = start(project()).await;
    let admin = s.token("a", &["admin"], None);
    let r = s
        .post("/api/rooms", &admin, json!({"name": "r", "priority": 5}))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], "ACCESS_CHECK_FAILED");
    let list = s.get("/api/rooms?total=true", &admin).await.json();
    assert_eq!(list["pagination"]["total"], 0);
    // A member may not create at all.
    let member = s.token("m", &["member"], None);
    let r = s.post("/api/rooms", &member, json!({"name": "r"})).await;
    assert_eq!(r.json()["code"], "ACCESS_ROLE_REQUIRED");
}

#[backends]
async fn delete_condition_on_the_loaded_row() {
    let s = start(project()).await;
    let admin = s.token("a", &["admin"], None);
    let id = id_str(
        &s.create(
            "rooms",
            &admin,
            json!({"name": "r", "status": "locked", "priority": 1}),
        )
        .await,
    );
    let r = s.delete(&format!("/api/rooms/{id}"), &admin).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], "ACCESS_CONDITION_FAILED");
    assert_eq!(s.get(&format!("/api/rooms/{id}"), &admin).await.status, 200);
}

/// With nothing to check on the resulting row, an update is its UPDATE alone; what it may not do
/// still answers in the pipeline's order — missing, then `when`, then guards — and writes nothing.
#[backends]
async fn an_update_with_nothing_to_check_after_answers_in_pipeline_order() {
    let mut ir = project();
    for t in &mut ir.tables {
        if let Some(rule) = &mut t.access.update {
            rule.check = None;
        }
    }
    let s = start(ir).await;
    let admin = s.token("a", &["admin"], None);
    let mine = s.token("m", &["member"], None);
    let other = s.token("o", &["member"], None);
    let id = id_str(
        &s.create(
            "rooms",
            &admin,
            json!({"name": "r", "priority": 1, "ownerId": "m"}),
        )
        .await,
    );
    let path = format!("/api/rooms/{id}");

    for body in [json!({"name": "x"}), json!({"ownerId": "o"})] {
        let r = s.patch(MISSING, &mine, body.clone()).await;
        assert_eq!(
            (r.status, r.json()["code"].clone()),
            (404, json!("NOT_FOUND"))
        );
        let r = s.patch(&path, &other, body).await;
        assert_eq!(
            (r.status, r.json()["code"].clone()),
            (403, json!("ACCESS_CONDITION_FAILED"))
        );
    }
    let r = s.patch(&path, &mine, json!({"ownerId": "o"})).await;
    assert_eq!(r.json()["layer"], "guards", "{}", r.text);
    let r = s.patch(&path, &mine, json!({"priority": "high"})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let untouched = s.get(&path, &admin).await.json();
    assert_eq!(
        (&untouched["data"]["name"], &untouched["data"]["priority"]),
        (&json!("r"), &json!(1))
    );

    let r = s.patch(&path, &mine, json!({"priority": 9})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["priority"], 9);
    assert_eq!(r.json()["data"]["modifiedBy"], "m");
    assert_eq!(s.get(&path, &admin).await.json()["data"]["priority"], 9);
}
