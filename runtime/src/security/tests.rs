#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Map, json};
use ward_ir::Operation;

use super::access;
use super::guards::{self, WriteKind};
use super::{firewall, gate};
use crate::gate::Residual;
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

/// An image is inside the caller's scopes exactly when the firewall's `column = value` would
/// select it (history judges stored images with this, in memory): every scope must match, a
/// number matches its digits, and a missing, null or other-typed value matches none.
#[test]
fn firewall_contains_what_its_where_clause_selects() {
    let scope = |column: &str, value: &str| crate::gate::ScopeEq {
        column: column.into(),
        value: value.into(),
    };
    let org = [scope("org", "acme")];
    let both = [scope("org", "acme"), scope("team", "7")];
    let cases = [
        (&org[..], json!({"org": "acme"}), true),
        (&org[..], json!({"org": "other"}), false),
        (&org[..], json!({"org": null}), false),
        (&org[..], json!({}), false),
        (&org[..], json!({"org": true}), false),
        (&both[..], json!({"org": "acme", "team": 7}), true),
        (&both[..], json!({"org": "acme", "team": "7"}), true),
        (&both[..], json!({"org": "acme", "team": 8}), false),
        (&both[..], json!({"org": "other", "team": 7}), false),
        (&[][..], json!({"org": "anything"}), true),
    ];
    for (scopes, image, inside) in cases {
        assert_eq!(
            firewall::contains(scopes, &row(image.clone())),
            inside,
            "{scopes:?} {image}"
        );
    }
}

/// Only a soft-delete table's statements leave soft-deleted rows out: a hard-delete table has
/// no `deletedAt` to test.
#[test]
fn only_soft_delete_tables_filter_deleted_rows() {
    let soft = snapshot();
    assert!(crate::sql::predicate::filters_soft_deleted(
        soft.table("rooms").unwrap()
    ));
    let hard = rooms_with(|t| t.delete = ward_ir::DeleteMode::Hard);
    let plan = hard.table("rooms").unwrap();
    assert!(!crate::sql::predicate::filters_soft_deleted(plan));
    let member = caller(Some("m"), &["member"], Some("acme"));
    let g = gate(plan, Operation::List, &member).unwrap();
    let st = crate::sql::dml::count(plan, crate::sql::predicate::firewall(plan, &g));
    assert!(!st.sql.contains("deletedAt"), "{}", st.sql);
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

/// The in-memory evaluator behind `when` and `check` on loaded rows, case by case: it must
/// agree with what the same condition compiled into SQL would select (three-valued logic), or a
/// write could pass a rule its read would not.
mod conditions {
    use serde_json::{Value as Json, json};
    use ward_ir::{CompareOp, Condition, Literal, Value};

    use super::row;
    use crate::security::access::holds;
    use crate::test_support::caller;

    fn cmp(field: &str, op: CompareOp, values: Vec<Value>) -> Condition {
        Condition::Compare {
            field: field.into(),
            op,
            values,
        }
    }

    fn lit(v: Json) -> Value {
        Value::Literal(match v {
            Json::Null => Literal::Null,
            Json::Bool(b) => Literal::Boolean(b),
            Json::Number(n) if n.is_i64() => Literal::Integer(n.as_i64().unwrap()),
            Json::Number(n) => Literal::Float(n.as_f64().unwrap()),
            Json::String(s) => Literal::Text(s),
            other => panic!("no literal for {other}"),
        })
    }

    fn not(c: Condition) -> Condition {
        Condition::Not { of: Box::new(c) }
    }

    /// `(field value, op, right-hand values, holds?)`, each also checked negated: `not` flips a
    /// known answer, and an unknown one (marked `None`) stays unknown, so neither holds.
    #[test]
    fn comparisons_follow_sql() {
        use CompareOp::*;
        let cases: Vec<(Json, CompareOp, Vec<Json>, Option<bool>)> = vec![
            (json!(3), Eq, vec![json!(3)], Some(true)),
            (json!(3), Eq, vec![json!(4)], Some(false)),
            (json!(3), Ne, vec![json!(4)], Some(true)),
            (json!(3), Ne, vec![json!(3)], Some(false)),
            (json!(3), Gt, vec![json!(2)], Some(true)),
            (json!(3), Gt, vec![json!(3)], Some(false)),
            (json!(3), Gte, vec![json!(3)], Some(true)),
            (json!(3), Gte, vec![json!(4)], Some(false)),
            (json!(3), Lt, vec![json!(4)], Some(true)),
            (json!(3), Lt, vec![json!(3)], Some(false)),
            (json!(3), Lte, vec![json!(3)], Some(true)),
            (json!(3), Lte, vec![json!(2)], Some(false)),
            // Integers and floats compare as numbers; large integers exactly.
            (json!(3), Lt, vec![json!(3.5)], Some(true)),
            (json!(2.5), Gt, vec![json!(2)], Some(true)),
            (
                json!(9_007_199_254_740_993_i64),
                Gt,
                vec![json!(9_007_199_254_740_992_i64)],
                Some(true),
            ),
            // Text by bytes, booleans false < true, and a boolean against 0/1.
            (json!("b"), Gt, vec![json!("a")], Some(true)),
            (json!("B"), Gt, vec![json!("a")], Some(false)),
            (json!(true), Gt, vec![json!(false)], Some(true)),
            (json!(true), Eq, vec![json!(1)], Some(true)),
            (json!(false), Lt, vec![json!(1)], Some(true)),
            // Values of kinds that do not compare are unknown, never equal.
            (json!("3"), Eq, vec![json!(3)], None),
            // NULL compares unknown, except with is-null / not-null.
            (Json::Null, Eq, vec![json!(3)], None),
            (Json::Null, Ne, vec![json!(3)], None),
            (Json::Null, IsNull, vec![], Some(true)),
            (json!(0), IsNull, vec![], Some(false)),
            (json!(0), NotNull, vec![], Some(true)),
            (Json::Null, NotNull, vec![], Some(false)),
            // in / not-in.
            (json!("b"), In, vec![json!("a"), json!("b")], Some(true)),
            (json!("c"), In, vec![json!("a"), json!("b")], Some(false)),
            (json!("c"), NotIn, vec![json!("a"), json!("b")], Some(true)),
            (json!("a"), NotIn, vec![json!("a"), json!("b")], Some(false)),
            (Json::Null, In, vec![json!("a")], None),
            (Json::Null, NotIn, vec![json!("a")], None),
            // like is "contains", ASCII case-insensitive; on a non-text value it never holds.
            (json!("Meeting Room"), Like, vec![json!("room")], Some(true)),
            (
                json!("Meeting Room"),
                Like,
                vec![json!("hall")],
                Some(false),
            ),
            (json!("ÄBC"), Like, vec![json!("äbc")], Some(false)),
            (json!(12), Like, vec![json!("1")], Some(false)),
        ];
        let who = caller(Some("u"), &["member"], Some("o"));
        for (left, op, rights, expected) in cases {
            let c = cmp("f", op, rights.into_iter().map(lit).collect());
            let r = row(json!({ "f": left }));
            let label = format!("{left} {} …", op.name());
            assert_eq!(
                holds(&c, &r, &who, "now"),
                expected == Some(true),
                "{label}"
            );
            assert_eq!(
                holds(&not(c), &r, &who, "now"),
                expected == Some(false),
                "not {label}"
            );
        }
    }

    /// A missing field reads as NULL; an auth value the caller lacks makes the comparison
    /// unknown (as SQL NULL would), so neither it nor its negation grants; leftover view
    /// parameters and action inputs match nothing; `(time)now` is the request's time.
    #[test]
    fn missing_values_never_grant() {
        let who = caller(Some("u"), &["member"], None);
        let owner = cmp(
            "ownerId",
            CompareOp::Eq,
            vec![Value::Auth("user-id".into())],
        );
        let org = cmp("org", CompareOp::Eq, vec![Value::Auth("org-id".into())]);
        let mine = row(json!({"ownerId": "u", "org": "o"}));
        assert!(holds(&owner, &mine, &who, "now"));
        assert!(!holds(&not(owner.clone()), &mine, &who, "now"));
        assert!(!holds(&org, &mine, &who, "now"));
        assert!(!holds(&not(org.clone()), &mine, &who, "now"));
        assert!(!holds(&owner, &row(json!({})), &who, "now"));
        for leftover in [
            Value::Param("p".into()),
            Value::Input("i".into()),
            Value::Record("r".into()),
            Value::Old("o".into()),
        ] {
            let c = cmp("ownerId", CompareOp::Ne, vec![leftover]);
            assert!(!holds(&c, &mine, &who, "now"));
            assert!(!holds(&not(c), &mine, &who, "now"));
        }
        let due = cmp("at", CompareOp::Lt, vec![Value::Now]);
        let r = row(json!({"at": "2026-01-01T00:00:00.000Z"}));
        assert!(holds(&due, &r, &who, "2026-06-01T00:00:00.000Z"));
        assert!(!holds(&due, &r, &who, "2025-06-01T00:00:00.000Z"));
    }

    /// `all` and `any` with SQL's unknown: false wins `all`, true wins `any`, otherwise an
    /// unknown child leaves the whole unknown (and its negation unknown too).
    #[test]
    fn all_and_any_are_three_valued() {
        let who = caller(Some("u"), &["member"], None);
        let r = row(json!({"a": 1, "n": null}));
        let yes = cmp("a", CompareOp::Eq, vec![lit(json!(1))]);
        let no = cmp("a", CompareOp::Eq, vec![lit(json!(2))]);
        let unknown = cmp("n", CompareOp::Eq, vec![lit(json!(1))]);
        let all = |of: Vec<Condition>| Condition::All { of };
        let any = |of: Vec<Condition>| Condition::Any { of };
        let both = |c: Condition| (holds(&c, &r, &who, "now"), holds(&not(c), &r, &who, "now"));
        assert_eq!(both(all(vec![yes.clone(), yes.clone()])), (true, false));
        assert_eq!(both(all(vec![yes.clone(), no.clone()])), (false, true));
        assert_eq!(both(all(vec![unknown.clone(), no.clone()])), (false, true));
        assert_eq!(
            both(all(vec![yes.clone(), unknown.clone()])),
            (false, false)
        );
        assert_eq!(both(all(vec![])), (true, false));
        assert_eq!(both(any(vec![no.clone(), yes.clone()])), (true, false));
        assert_eq!(both(any(vec![no.clone(), no.clone()])), (false, true));
        assert_eq!(both(any(vec![unknown.clone(), yes.clone()])), (true, false));
        assert_eq!(both(any(vec![no.clone(), unknown.clone()])), (false, false));
        assert_eq!(both(any(vec![])), (false, true));
        let member = Condition::Role {
            roles: vec!["member".into()],
        };
        let admin = Condition::Role {
            roles: vec!["admin".into()],
        };
        assert_eq!(both(member), (true, false));
        assert_eq!(both(admin), (false, true));
    }
}

/// On a table with client-chosen ids, `id` passes the guards on create (and only `id`): every
/// other key still needs `createable`; on update `id` is a system column like any other.
#[test]
fn client_chosen_ids_pass_the_guards_on_create_only() {
    let snap = rooms_with(|t| {
        t.id = ward_ir::IdKind::Text;
        t.columns[0].ty = ward_ir::ColumnType::Text;
    });
    let plan = snap.table("rooms").unwrap();
    assert!(guards::check(plan, WriteKind::Create, &["id", "status"]).is_ok());
    let e = guards::check(plan, WriteKind::Create, &["id", "ownerId"]).unwrap_err();
    assert_eq!(e.code(), "GUARD_FIELD_NOT_CREATEABLE");
    assert_eq!(e.details().unwrap()["fields"], json!(["ownerId"]));
    let e = guards::check(plan, WriteKind::Create, &["id", "createdBy"]).unwrap_err();
    assert_eq!(e.code(), "GUARD_SYSTEM_MANAGED");
    let e = guards::check(plan, WriteKind::Update, &["id", "status"]).unwrap_err();
    assert_eq!(e.code(), "GUARD_SYSTEM_MANAGED");
    assert_eq!(e.details().unwrap()["fields"], json!(["id"]));
    // With server-made ids `id` is never the client's.
    let plan = snapshot();
    let e = guards::check(plan.table("rooms").unwrap(), WriteKind::Create, &["id"]).unwrap_err();
    assert_eq!(e.code(), "GUARD_SYSTEM_MANAGED");
}

/// The rooms fixture with its rules changed by `edit`.
fn rooms_with(edit: impl FnOnce(&mut ward_ir::Table)) -> crate::snapshot::Snapshot {
    let mut ir = snapshot().ir.clone();
    edit(&mut ir.tables[0]);
    crate::snapshot::Snapshot::build(ir, crate::sql::Dialect::Sqlite).unwrap()
}

fn owner_is(who: ward_ir::Value) -> ward_ir::Condition {
    ward_ir::Condition::Compare {
        field: "ownerId".into(),
        op: ward_ir::CompareOp::Eq,
        values: vec![who],
    }
}

/// A write answers with the whole row only when the caller's `read` rule shows it: no rule, a
/// role it lacks or a row condition that fails all hide it.
#[test]
fn may_read_follows_the_read_rule() {
    let member = caller(Some("m"), &["member"], Some("o"));
    let mine = row(json!({"ownerId": "m"}));
    let theirs = row(json!({"ownerId": "x"}));
    let snap = snapshot();
    let t = &snap.table("rooms").unwrap().def;
    assert!(!access::may_read(t, &member, &mine, "now"), "no read rule");
    let snap = rooms_with(|t| {
        t.access.read = Some(ward_ir::AccessRule {
            roles: vec!["member".into()],
            when: ward_ir::Condition::All {
                of: vec![
                    ward_ir::Condition::Role {
                        roles: vec!["member".into()],
                    },
                    owner_is(ward_ir::Value::Auth("user-id".into())),
                ],
            },
            check: None,
        });
    });
    let t = &snap.table("rooms").unwrap().def;
    assert!(access::may_read(t, &member, &mine, "now"));
    assert!(!access::may_read(t, &member, &theirs, "now"));
    let viewer = caller(Some("m"), &["viewer"], Some("o"));
    assert!(!access::may_read(t, &viewer, &mine, "now"));
}

/// `check` is judged on the row a write would leave: none means nothing to check; a check
/// whose role leaves decide it false fails on every row.
#[test]
fn check_conditions_are_partially_evaluated() {
    let admin = caller(Some("a"), &["admin"], Some("o"));
    let snap = snapshot();
    assert_eq!(
        access::check_condition(&snap.table("rooms").unwrap().def, Operation::Create, &admin),
        None
    );
    let snap = rooms_with(|t| {
        if let Some(rule) = t.access.create.as_mut() {
            rule.check = Some(ward_ir::Condition::Any {
                of: vec![
                    ward_ir::Condition::Role {
                        roles: vec!["owner".into()],
                    },
                    owner_is(ward_ir::Value::Auth("user-id".into())),
                ],
            });
        }
    });
    let t = &snap.table("rooms").unwrap().def;
    let Some(Residual::Rows(c)) = access::check_condition(t, Operation::Create, &admin) else {
        panic!("an admin keeps the row part of the check");
    };
    assert!(access::holds(
        &c,
        &row(json!({"ownerId": "a"})),
        &admin,
        "now"
    ));
    assert!(!access::holds(
        &c,
        &row(json!({"ownerId": "x"})),
        &admin,
        "now"
    ));
    let owner = caller(Some("o"), &["owner"], Some("o"));
    assert_eq!(
        access::check_condition(t, Operation::Create, &owner),
        Some(Residual::True)
    );
    let snap = rooms_with(|t| {
        if let Some(rule) = t.access.create.as_mut() {
            rule.check = Some(ward_ir::Condition::Role {
                roles: vec!["owner".into()],
            });
        }
    });
    let t = &snap.table("rooms").unwrap().def;
    let Some(Residual::Rows(never)) = access::check_condition(t, Operation::Create, &admin) else {
        panic!("a check decided false still checks rows");
    };
    assert!(!access::holds(
        &never,
        &row(json!({"ownerId": "a"})),
        &admin,
        "now"
    ));
}

/// `immutable` columns may be set on create and never changed after.
#[test]
fn immutable_columns_are_set_once() {
    let snap = rooms_with(|t| {
        t.guards.createable = vec!["status".into(), "priority".into()];
        t.guards.immutable = vec!["priority".into()];
    });
    let plan = snap.table("rooms").unwrap();
    assert!(guards::check(plan, WriteKind::Create, &["priority"]).is_ok());
    let e = guards::check(plan, WriteKind::Update, &["priority"]).unwrap_err();
    assert_eq!(e.code(), "GUARD_FIELD_IMMUTABLE");
}
