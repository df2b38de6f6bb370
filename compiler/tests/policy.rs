#![allow(clippy::unwrap_used)]

//! `ward explain` and `ward diff` on the rooms example: the rendered policy is a golden file
//! (`UPDATE_EXPECT=1` regenerates it), and each kind of policy change is judged as it must be.

use std::path::PathBuf;

use ward_compiler::policy::render::{Format, render};
use ward_compiler::policy::{Cell, Visibility, diff, explain};
use ward_ir::{Condition, Ir};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rooms() -> Ir {
    let sources = ward_compiler::Sources::load(&manifest().join("../examples/rooms")).unwrap();
    ward_compiler::compile(&sources).ir.unwrap()
}

fn table<'a>(ir: &'a mut Ir, name: &str) -> &'a mut ward_ir::Table {
    ir.tables.iter_mut().find(|t| t.name == name).unwrap()
}

#[test]
fn the_rooms_policy_renders_as_the_golden_files() {
    let e = explain(&rooms());
    expect_test::expect_file![manifest().join("tests/policy/rooms.txt")]
        .assert_eq(&render(&e, Format::Text));
    expect_test::expect_file![manifest().join("tests/policy/rooms.md")]
        .assert_eq(&render(&e, Format::Markdown));
}

#[test]
fn cells_follow_roles_conditions_and_masks() {
    let e = explain(&rooms());
    let member = e.callers.iter().position(|c| c == "member").unwrap();
    let anonymous = e.callers.iter().position(|c| c == "anonymous").unwrap();
    let rooms = e.tables.iter().find(|t| t.table == "rooms").unwrap();
    let update = rooms
        .operations
        .iter()
        .find(|r| r.operation == "update")
        .unwrap();
    assert!(matches!(&update.cells[member], Cell::When(w) if w.contains("capacity lte 50")));
    assert_eq!(update.cells[anonymous], Cell::Denied);
    let email = rooms
        .fields
        .iter()
        .find(|f| f.field == "contactEmail")
        .unwrap();
    assert!(matches!(
        &email.cells[member].visibility,
        Visibility::Masked { kind, owner: true } if kind == "email"
    ));
    assert_eq!(email.cells[anonymous].visibility, Visibility::NoAccess);
}

#[test]
fn identical_policies_have_no_differences() {
    assert!(diff(&explain(&rooms()), &explain(&rooms())).is_empty());
}

#[test]
fn each_kind_of_change_is_judged() {
    let old = explain(&rooms());
    let judge = |edit: &dyn Fn(&mut Ir)| {
        let mut ir = rooms();
        edit(&mut ir);
        diff(&old, &explain(&ir))
    };

    // A condition dropped: members may now update every room.
    let d = judge(&|ir| {
        let rule = table(ir, "rooms").access.update.as_mut().unwrap();
        rule.when = Condition::Role {
            roles: rule.roles.clone(),
        };
    });
    assert!(
        d.iter()
            .any(|x| x.widened && x.what.starts_with("update for member: when")),
        "{d:?}"
    );

    // A mask removed.
    let d = judge(&|ir| table(ir, "rooms").masks.clear());
    assert!(
        d.iter()
            .any(|x| x.widened
                && x.what == "`contactEmail` for member: masked:email+owner → visible"),
        "{d:?}"
    );

    // A guard opened.
    let d = judge(&|ir| {
        table(ir, "rooms")
            .guards
            .updatable
            .push("roomTypeId".into())
    });
    assert!(
        d.iter()
            .any(|x| x.widened && x.what == "`roomTypeId` now updatable for member"),
        "{d:?}"
    );

    // The bookings trigger removed (its `require` no longer refuses bookings of closed rooms).
    let d = judge(&|ir| table(ir, "bookings").triggers.clear());
    assert!(
        d.iter().any(
            |x| x.widened && x.what == "trigger `on create before: require` removed or changed"
        ),
        "{d:?}"
    );

    // History turned on widens (old values become readable), and so do keeping versions longer
    // and keeping a column it left out; the reverse narrows.
    let history = |keep_days: Option<u32>, exclude: &[&str]| ward_ir::History {
        keep_days,
        exclude: exclude.iter().map(|c| c.to_string()).collect(),
    };
    let d = judge(&|ir| table(ir, "bookings").history = Some(history(Some(30), &["title"])));
    assert!(
        d.iter().any(|x| x.widened && x.what == "history turned on"),
        "{d:?}"
    );
    assert!(
        d.iter().any(|x| x.widened && x.what == "history added"),
        "the `history` operation is new for callers who may read: {d:?}"
    );
    let mut before = rooms();
    table(&mut before, "bookings").history = Some(history(Some(30), &["title"]));
    let before = explain(&before);
    let judge_from = |edit: &dyn Fn(&mut Ir)| {
        let mut ir = rooms();
        edit(&mut ir);
        diff(&before, &explain(&ir))
    };
    let d = judge_from(&|ir| table(ir, "bookings").history = Some(history(None, &[])));
    assert!(
        d.iter()
            .any(|x| x.widened && x.what == "history kept 30d → until purged"),
        "{d:?}"
    );
    assert!(
        d.iter()
            .any(|x| x.widened && x.what == "history now keeps `title`"),
        "{d:?}"
    );
    let d = judge_from(&|ir| table(ir, "bookings").history = Some(history(Some(7), &["title"])));
    assert!(!d.is_empty() && d.iter().all(|x| !x.widened), "{d:?}");

    // A view's fixed filter dropped widens, a view removed narrows, a view added for viewers
    // widens (and makes its fields visible to them).
    let viewers = |v: &mut ward_ir::View| {
        let roles: Vec<String> = ["viewer", "member", "admin", "owner"]
            .map(String::from)
            .to_vec();
        v.access = Some(ward_ir::AccessRule {
            roles: roles.clone(),
            when: Condition::Role { roles },
            check: None,
        });
    };
    let d = judge(&|ir| {
        let v = &mut table(ir, "rooms").views[0];
        v.filter = None;
    });
    assert!(
        d.iter()
            .any(|x| x.widened && x.what.starts_with("view available for member:")),
        "{d:?}"
    );
    let d = judge(&|ir| table(ir, "bookings").views.clear());
    assert!(
        !d.is_empty() && d.iter().all(|x| !x.widened),
        "a removed view narrows: {d:?}"
    );
    assert!(d.iter().any(|x| x.what == "view upcoming removed"), "{d:?}");
    let d = judge(&|ir| {
        let mut v = table(ir, "bookings").views[0].clone();
        v.name = "titles".into();
        viewers(&mut v);
        table(ir, "bookings").views.push(v);
    });
    assert!(
        d.iter().any(|x| x.widened && x.what == "view titles added"),
        "{d:?}"
    );
    assert!(
        d.iter()
            .any(|x| x.widened && x.what == "`title` for viewer: - → visible"),
        "{d:?}"
    );

    // A standalone action opened to anonymous callers widens; removing one narrows.
    let d = judge(&|ir| {
        let a = &mut ir.actions[0];
        a.access = Some(ward_ir::AccessRule {
            roles: vec!["public".into()],
            when: Condition::Role {
                roles: vec!["public".into()],
            },
            check: None,
        });
    });
    assert!(
        d.iter()
            .any(|x| x.widened && x.what == "action bookRoom for anonymous: denied → allowed"),
        "{d:?}"
    );
    let d = judge(&|ir| ir.actions.clear());
    assert!(
        d.iter()
            .any(|x| !x.widened && x.what == "action bookRoom removed"),
        "{d:?}"
    );

    // A firewall scope removed widens; an operation taken away narrows only.
    let d = judge(&|ir| table(ir, "rooms").firewall.scopes.clear());
    assert!(
        d.iter()
            .any(|x| x.widened && x.what.contains("scope on `organizationId` removed"))
    );
    let d = judge(&|ir| table(ir, "rooms").access.delete = None);
    assert!(!d.is_empty() && d.iter().all(|x| !x.widened), "{d:?}");

    // A new table anyone may use widens; a removed table does not.
    let d = judge(&|ir| {
        let mut copy = table(ir, "rooms").clone();
        copy.name = "annex".into();
        ir.tables.push(copy);
    });
    assert!(d.iter().any(|x| x.widened && x.what == "table added"));
    let d = judge(&|ir| ir.tables.retain(|t| t.name != "bookings"));
    assert!(d.iter().all(|x| !x.widened), "{d:?}");
}
