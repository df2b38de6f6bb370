#![allow(clippy::unwrap_used, dead_code)]

//! The project and helpers shared by the batch tests.

use serde_json::Value;
use ward_ir::{
    Column, ColumnDefault, ColumnType, CompareOp, IdKind, Literal, MaskKind, OnDelete, Operation,
};

use crate::common::ir::*;
use crate::common::*;

pub fn project() -> ward_ir::Ir {
    let items = table("items")
        .col(Column {
            required: true,
            max_length: Some(10),
            ..column("name", ColumnType::Text)
        })
        .text("ssn")
        .col(Column {
            unique: true,
            ..column("code", ColumnType::Text)
        })
        .col(Column {
            default: Some(ColumnDefault::Literal(Literal::Text("open".into()))),
            ..column("status", ColumnType::Text)
        })
        .text("org")
        .scope("org", "org-id", "")
        .mask("ssn", MaskKind::Ssn, "admin+", None)
        .access(Operation::List, rule("member+"))
        .access(Operation::Read, rule("member+"))
        .access(Operation::Create, rule("member+"))
        .access(
            Operation::Update,
            rule_when(
                "member+",
                cmp("status", CompareOp::Ne, vec![lit_text("locked")]),
            ),
        )
        .access(
            Operation::Delete,
            rule_when(
                "member+",
                cmp("status", CompareOp::Ne, vec![lit_text("locked")]),
            ),
        )
        .createable(&["name", "ssn", "code", "status"])
        .updatable(&["name", "ssn", "status"])
        .batch(5, true)
        .build();
    let counters = table("counters")
        .id(IdKind::Integer)
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .updatable(&["name"])
        .build();
    let frozen = table("frozen")
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .updatable(&["name"])
        .batch_off()
        .build();
    let loose = table("loose")
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .updatable(&["name"])
        .batch(10, false)
        .build();
    let parents = table("parents")
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .hard()
        .build();
    let kids = table("kids")
        .reference("parentId", "parents", OnDelete::Restrict)
        .crud("member+")
        .createable(&["parentId"])
        .hard()
        .build();
    let nodes = table("nodes")
        .id(IdKind::Text)
        .reference_typed("up", "nodes", OnDelete::Cascade, ColumnType::Text)
        .crud("member+")
        .createable(&["up"])
        .build();
    ir(vec![items, counters, frozen, loose, parents, kids, nodes])
}

pub struct Ctx {
    pub s: Server,
    pub alice: String,
    pub bob: String,
    pub admin: String,
}

pub async fn setup() -> Ctx {
    let s = start(project()).await;
    let alice = s.token("alice", &["member"], Some("acme"));
    let bob = s.token("bob", &["member"], Some("globex"));
    let admin = s.token("ada", &["admin"], Some("acme"));
    Ctx {
        s,
        alice,
        bob,
        admin,
    }
}

impl Ctx {
    pub async fn batch(&self, method: &str, table: &str, token: &str, body: Value) -> Resp {
        self.s
            .req(
                method,
                &format!("/api/{table}/batch"),
                Some(token),
                Some(body),
            )
            .await
    }

    /// Every visible row of `table`, as `name` → row, via the list endpoint.
    pub async fn rows(&self, table: &str, token: &str) -> Vec<Value> {
        let r = self.s.get(&format!("/api/{table}?limit=100"), token).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["data"].as_array().unwrap().clone()
    }

    pub async fn names(&self, table: &str, token: &str) -> Vec<String> {
        let mut n: Vec<String> = self
            .rows(table, token)
            .await
            .iter()
            .map(|r| r["name"].as_str().unwrap_or("").to_string())
            .collect();
        n.sort();
        n
    }
}

pub fn err_codes(r: &Resp) -> Vec<(u64, String)> {
    r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["error"]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
