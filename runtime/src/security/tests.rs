#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Map, json};
use ward_ir::Operation;

use super::access::{self, Residual};
use super::guards::{self, WriteKind};
use super::{firewall, gate};
use crate::test_support::{caller, snapshot};

fn row(v: serde_json::Value) -> Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[test]
fn role_part_is_decided_without_rows() {
    let snap = snapshot();
    let t = &snap.table("rooms").unwrap().def;
    let anon = caller(None, &[], None);
    assert_eq!(
        access::authorize(t, Operation::List, &anon)
            .unwrap_err()
            .code(),
        "AUTH_MISSING"
    );
    let viewer = caller(Some("v"), &["viewer"], Some("o"));
    let e = access::authorize(t, Operation::List, &viewer).unwrap_err();
    assert_eq!(e.code(), "ACCESS_ROLE_REQUIRED");
    assert_eq!(e.details().unwrap()["required"], json!(["member"]));
    assert_eq!(e.details().unwrap()["current"], json!(["viewer"]));
    // No rule: denied with nothing required.
    let e = access::authorize(t, Operation::Read, &viewer).unwrap_err();
    assert_eq!(e.details().unwrap()["required"], json!([]));
    let admin = caller(Some("a"), &["admin"], Some("o"));
    assert_eq!(
        access::authorize(t, Operation::Update, &admin).unwrap(),
        Residual::True
    );
    let member = caller(Some("m"), &["member"], Some("o"));
    let Residual::Rows(c) = access::authorize(t, Operation::Update, &member).unwrap() else {
        panic!("member keeps a row condition");
    };
    assert!(access::holds(
        &c,
        &row(json!({"ownerId": "m"})),
        &member,
        "now"
    ));
    assert!(!access::holds(
        &c,
        &row(json!({"ownerId": "x"})),
        &member,
        "now"
    ));
    assert!(!access::holds(
        &c,
        &row(json!({"ownerId": null})),
        &member,
        "now"
    ));
    // A caller without the auth value never matches.
    let nouser = caller(None, &["member"], None);
    assert!(!access::holds(
        &c,
        &row(json!({"ownerId": "m"})),
        &nouser,
        "now"
    ));
}

#[test]
fn firewall_predicates_bypass_and_stamps() {
    let snap = snapshot();
    let t = &snap.table("rooms").unwrap().def;
    let m = caller(Some("m"), &["member"], Some("acme"));
    let p = firewall::predicates(t, &m).unwrap();
    assert_eq!((p[0].column.as_str(), p[0].value.as_str()), ("org", "acme"));
    let owner = caller(Some("o"), &["owner"], None);
    assert!(firewall::predicates(t, &owner).unwrap().is_empty());
    assert_eq!(
        firewall::stamps(t, &owner).unwrap_err().code(),
        "FIREWALL_SCOPE_MISSING"
    );
    let noorg = caller(Some("n"), &["member"], None);
    assert_eq!(
        gate(snap.table("rooms").unwrap(), Operation::List, &noorg)
            .unwrap_err()
            .code(),
        "FIREWALL_SCOPE_MISSING"
    );
}

#[test]
fn guard_precedence() {
    let snap = snapshot();
    let plan = snap.table("rooms").unwrap();
    let e = guards::check(
        plan,
        WriteKind::Update,
        &["priority", "org", "createdAt", "zzz"],
    )
    .unwrap_err();
    assert_eq!(e.code(), "GUARD_SYSTEM_MANAGED");
    assert_eq!(e.details().unwrap()["fields"], json!(["org", "createdAt"]));
    let e = guards::check(plan, WriteKind::Update, &["priority", "zzz"]).unwrap_err();
    assert_eq!(e.code(), "GUARD_FIELD_NOT_UPDATABLE");
    let e = guards::check(plan, WriteKind::Create, &["zzz", "status"]).unwrap_err();
    assert_eq!(e.code(), "VALIDATION_UNKNOWN_FIELD");
    assert!(guards::check(plan, WriteKind::Create, &["status", "priority"]).is_ok());
}
