#![allow(clippy::unwrap_used)]

//! `ward diff` against an independent judge: for random pairs of projects (one a mutation of the
//! other), `diff` reports a widening iff some concrete token — none, one without roles, one with
//! each role either project declares, one with a role neither declares — gains an operation, a
//! row, a field or a write. The judge decides each rule for each token straight from the IR, as
//! the runtime does (roles exact, undeclared roles ignored), not from `explain`'s matrices.

use std::collections::BTreeSet;

use proptest::prelude::*;
use ward_compiler::policy::{diff, explain};
use ward_ir::{Ir, MaskKind, Operation, Partial};

const OPS: [Operation; 5] = [
    Operation::List,
    Operation::Read,
    Operation::Create,
    Operation::Update,
    Operation::Delete,
];

/// One access rule as KDL, or none.
fn rule_strategy() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("public".to_owned())),
        Just(Some("authenticated".to_owned())),
        Just(Some("member".to_owned())),
        Just(Some("member+".to_owned())),
        Just(Some("admin".to_owned())),
        Just(Some("auditor".to_owned())),
        Just(Some("member+ { when flag eq #true; }".to_owned())),
        Just(Some("member+ { when flag eq #false; }".to_owned())),
        Just(Some("admin { when title eq \"x\"; }".to_owned())),
    ]
}

fn mask_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("unmasked secret".to_owned()),
        Just("mask secret redact".to_owned()),
        Just("mask secret redact show=admin".to_owned()),
        Just("mask secret redact show=member+".to_owned()),
        Just("mask secret hidden show=admin".to_owned()),
        Just("mask secret name show=auditor".to_owned()),
    ]
}

fn fields_strategy() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(vec!["title", "secret", "flag"], 0..=3)
}

#[derive(Debug, Clone)]
struct Spec {
    auditor: bool,
    rules: Vec<Option<String>>,
    mask: String,
    createable: Vec<&'static str>,
    updatable: Vec<&'static str>,
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        proptest::collection::vec(rule_strategy(), OPS.len()),
        mask_strategy(),
        fields_strategy(),
        fields_strategy(),
    )
        .prop_map(|(auditor, rules, mask, createable, updatable)| Spec {
            auditor,
            rules,
            mask,
            createable,
            updatable,
        })
}

/// `spec` with a few of its parts replaced by `other`'s: a plausible edit.
fn mutate(spec: &Spec, other: &Spec, which: &[bool]) -> Spec {
    let pick = |i: usize| which.get(i).copied().unwrap_or(false);
    Spec {
        auditor: if pick(0) { other.auditor } else { spec.auditor },
        rules: spec
            .rules
            .iter()
            .zip(&other.rules)
            .enumerate()
            .map(|(i, (a, b))| if pick(i + 1) { b.clone() } else { a.clone() })
            .collect(),
        mask: if pick(6) {
            other.mask.clone()
        } else {
            spec.mask.clone()
        },
        createable: if pick(7) {
            other.createable.clone()
        } else {
            spec.createable.clone()
        },
        updatable: if pick(8) {
            other.updatable.clone()
        } else {
            spec.updatable.clone()
        },
    }
}

fn kdl(spec: &Spec) -> String {
    let roles = if spec.auditor {
        "member admin auditor"
    } else {
        "member admin"
    };
    let mut access = String::new();
    for (op, rule) in OPS.iter().zip(&spec.rules) {
        if let Some(rule) = rule {
            access.push_str(&format!("        {} {rule}\n", op.name()));
        }
    }
    let guards = if spec.createable.is_empty() && spec.updatable.is_empty() {
        String::new()
    } else {
        let line = |kw: &str, f: &[&str]| {
            if f.is_empty() {
                String::new()
            } else {
                format!("        {kw} {}\n", f.join(" "))
            }
        };
        format!(
            "    guards {{\n{}{}    }}\n",
            line("createable", &spec.createable),
            line("updatable", &spec.updatable)
        )
    };
    format!(
        "auth {{ roles {roles} }}\n\
         table notes {{\n    column title text\n    column secret text\n    column flag boolean\n    \
         firewall none\n    access {{\n{access}    }}\n{guards}    masking {{ {} }}\n    delete hard\n}}\n",
        spec.mask
    )
}

/// The project, when it compiles (a rule naming an undeclared role, or a write without guards,
/// does not).
fn compile(spec: &Spec) -> Option<Ir> {
    ward_compiler::compile(&ward_compiler::Sources::single("p.kdl", &kdl(spec))).ir
}

/// The roles a concrete token holds in a rule's terms: unknown roles in a token are simply never
/// named by a rule.
fn held(token: Option<&str>) -> BTreeSet<String> {
    let mut out = BTreeSet::from(["public".to_owned()]);
    if let Some(role) = token {
        out.insert("authenticated".to_owned());
        if !role.is_empty() {
            out.insert(role.to_owned());
        }
    }
    out
}

fn decide(ir: &Ir, op: Operation, roles: &BTreeSet<String>) -> Partial {
    match ir.tables[0].access.rule(op) {
        Some(r) => r
            .when
            .partial(&|wanted| wanted.iter().any(|w| roles.contains(w))),
        None => Partial::False,
    }
}

/// How plainly a token sees `secret`: 0 not at all, 1 hidden, 2 masked (with its kind), 3 raw.
fn sees(ir: &Ir, roles: &BTreeSet<String>) -> (u8, Option<MaskKind>) {
    let reads = [Operation::List, Operation::Read]
        .iter()
        .any(|op| !matches!(decide(ir, *op, roles), Partial::False));
    if !reads {
        return (0, None);
    }
    match ir.tables[0].mask("secret") {
        None => (3, None),
        Some(m) if m.show.iter().any(|r| roles.contains(r)) => (3, None),
        Some(m) if m.kind == MaskKind::Hidden => (1, None),
        Some(m) => (2, Some(m.kind)),
    }
}

fn writes(ir: &Ir, roles: &BTreeSet<String>) -> BTreeSet<String> {
    let t = &ir.tables[0];
    let mut out = BTreeSet::new();
    for (op, fields) in [
        (Operation::Create, &t.guards.createable),
        (Operation::Update, &t.guards.updatable),
    ] {
        if !matches!(decide(ir, op, roles), Partial::False) {
            out.extend(fields.iter().map(|f| format!("{}:{f}", op.name())));
        }
    }
    out
}

/// Whether some concrete token gains anything from `old` to `new`.
fn someone_gains(old: &Ir, new: &Ir) -> bool {
    let mut tokens: Vec<Option<&str>> = vec![None, Some(""), Some("stranger")];
    for r in old.roles.iter().chain(&new.roles) {
        tokens.push(Some(r.as_str()));
    }
    tokens.into_iter().any(|token| {
        let roles = held(token);
        let operation =
            OPS.iter().any(
                |&op| match (decide(old, op, &roles), decide(new, op, &roles)) {
                    (Partial::False, Partial::False) => false,
                    (Partial::False, _) => true,
                    (Partial::Rows(_), Partial::True) => true,
                    (Partial::Rows(a), Partial::Rows(b)) => a != b,
                    _ => false,
                },
            );
        let (before, after) = (sees(old, &roles), sees(new, &roles));
        let field = after.0 > before.0 || (after.0 == before.0 && after != before);
        let write = !writes(new, &roles).is_subset(&writes(old, &roles));
        operation || field || write
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn diff_widens_iff_some_token_gains(
        old in spec_strategy(),
        other in spec_strategy(),
        which in proptest::collection::vec(proptest::bool::weighted(0.25), 9),
    ) {
        let new = mutate(&old, &other, &which);
        let (Some(old_ir), Some(new_ir)) = (compile(&old), compile(&new)) else {
            return Ok(());
        };
        let differences = diff(&explain(&old_ir), &explain(&new_ir));
        let widened = differences.iter().any(|d| d.widened);
        prop_assert_eq!(
            widened,
            someone_gains(&old_ir, &new_ir),
            "old:\n{}\nnew:\n{}\ndiff: {:?}",
            kdl(&old),
            kdl(&new),
            differences
        );
    }
}

/// The widening the newcomer found: `list member` → `list authenticated` lets a token without
/// roles list, and `ward diff` must say so.
#[test]
fn a_list_opened_to_every_token_is_a_widening() {
    let base = Spec {
        auditor: false,
        rules: vec![
            Some("member".into()),
            Some("member".into()),
            None,
            None,
            None,
        ],
        mask: "unmasked secret".into(),
        createable: vec![],
        updatable: vec![],
    };
    let mut wide = base.clone();
    wide.rules[0] = Some("authenticated".into());
    let d = diff(
        &explain(&compile(&base).unwrap()),
        &explain(&compile(&wide).unwrap()),
    );
    assert!(
        d.iter()
            .any(|x| x.widened && x.what == "list for authenticated: denied → allowed"),
        "{d:?}"
    );
}
