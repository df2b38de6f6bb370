//! The project generator covers the language: every feature it promises appears in a sample.

use std::collections::BTreeMap;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use ward_compiler::{Sources, compile};
use ward_conformance::strategies::{ProjectSpec, project};
use ward_ir::Ir;

fn compile_spec(spec: &ProjectSpec) -> Result<Ir, String> {
    let text = spec.kdl();
    let out = compile(&Sources::single("project.kdl", &text));
    match out.ir {
        Some(ir) if !out.has_errors() => Ok(ir),
        _ => Err(format!("generated project does not compile:\n{text}")),
    }
}

/// Every language feature the project generator promises shows up in a sample of projects.
#[test]
fn generated_projects_cover_the_language() {
    use ward_ir::{Condition, DeleteMode, IdKind, MaskKind, OnDelete, Value as V};
    fn walk(c: &Condition, seen: &mut BTreeMap<String, usize>) {
        let mut bump = |k: &str| *seen.entry(k.to_owned()).or_default() += 1;
        match c {
            Condition::Any { of } => {
                bump("any");
                of.iter().for_each(|x| walk(x, seen));
            }
            Condition::All { of } => of.iter().for_each(|x| walk(x, seen)),
            Condition::Not { of } => {
                bump("not");
                walk(of, seen);
            }
            Condition::Role { .. } => {}
            Condition::Compare { op, values, .. } => {
                bump(op.name());
                for v in values {
                    match v {
                        V::Auth(name) => bump(&format!("(auth){name}")),
                        V::Now => bump("(time)now"),
                        V::Param(_) => bump("(param)"),
                        V::Input(_) | V::Record(_) | V::Old(_) => bump("(action value)"),
                        V::Literal(_) => {}
                    }
                }
            }
        }
    }
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[5; 32]),
    );
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..200 {
        let spec = project()
            .new_tree(&mut runner)
            .expect("a project")
            .current();
        let ir = compile_spec(&spec).expect("compiles");
        let mut conds: Vec<Condition> = Vec::new();
        let mut bump = |k: String| *seen.entry(k).or_default() += 1;
        for t in &ir.tables {
            bump(format!("id {:?}", t.id));
            bump(format!("delete-mode={:?}", t.delete));
            bump(format!("scopes {}", t.firewall.scopes.len()));
            if t.firewall.scopes.iter().any(|s| !s.bypass.is_empty()) {
                bump("scope bypass".into());
            }
            if !t.firewall.bypass.is_empty() {
                bump("table bypass".into());
            }
            bump(format!("error-mode {:?}", t.firewall.error_mode));
            if t.guards.open {
                bump("guards open".into());
            }
            if !t.guards.immutable.is_empty() {
                bump("immutable".into());
            }
            if !t.guards.protected.is_empty() {
                bump("protected".into());
            }
            for m in &t.masks {
                bump(format!("mask {}", m.kind.name()));
                if m.auto {
                    bump("auto mask".into());
                }
                if m.owner.is_some() {
                    bump("mask owner".into());
                }
                if !m.show.is_empty() {
                    bump("mask show".into());
                }
            }
            if !t.batch.enabled {
                bump("batch off".into());
            } else if !t.batch.atomic {
                bump("batch atomic false".into());
            }
            if t.batch.max < 100 {
                bump("batch max".into());
            }
            if t.page.max != 100 {
                bump("page".into());
            }
            if t.display.is_some() {
                bump("display".into());
            }
            if !t.relations.is_empty() {
                bump("relation".into());
            }
            for c in &t.columns {
                bump(format!("type {}", c.ty.name()));
                if let Some(r) = &c.references {
                    bump(format!("on-delete={:?}", r.on_delete));
                }
                if c.pattern.is_some() {
                    bump("pattern".into());
                }
                if !c.one_of.is_empty() {
                    bump("one-of".into());
                }
            }
            let steps = t
                .actions
                .iter()
                .flat_map(|a| ward_ir::all_steps(&a.steps))
                .chain(
                    t.triggers
                        .iter()
                        .flat_map(|tr| ward_ir::all_steps(&tr.steps)),
                );
            for s in steps {
                bump(format!("step {}", step_kind(s)));
            }
            for tr in &t.triggers {
                bump(format!("on {} {}", tr.event.name(), tr.phase.name()));
            }
            for op in ward_ir::Operation::ALL {
                if let Some(rule) = t.access.rule(op) {
                    conds.push(rule.when.clone());
                    if let Some(check) = &rule.check {
                        conds.push(check.clone());
                        bump("check".into());
                    }
                }
            }
        }
        for a in &ir.actions {
            bump(format!("standalone {:?}", a.method));
            for s in ward_ir::all_steps(&a.steps) {
                bump(format!("step {}", step_kind(s)));
            }
        }
        for c in &conds {
            walk(c, &mut seen);
        }
    }
    let _ = (
        IdKind::Uuid,
        DeleteMode::Soft,
        MaskKind::Email,
        OnDelete::Restrict,
    );
    let expected = [
        "step require",
        "step transition",
        "step update",
        "step delete",
        "step insert",
        "step query",
        "step return",
        "standalone Post",
        "standalone Get",
        "on create before",
        "on update during",
        "on delete after",
        "id Uuid",
        "id Integer",
        "id Text",
        "delete-mode=Soft",
        "delete-mode=Hard",
        "scopes 0",
        "scopes 1",
        "scopes 2",
        "scope bypass",
        "table bypass",
        "error-mode Hide",
        "error-mode Reveal",
        "guards open",
        "immutable",
        "protected",
        "mask email",
        "mask phone",
        "mask ssn",
        "mask credit-card",
        "mask name",
        "mask redact",
        "mask hidden",
        "auto mask",
        "mask owner",
        "mask show",
        "batch off",
        "batch atomic false",
        "batch max",
        "page",
        "display",
        "relation",
        "on-delete=Restrict",
        "on-delete=Cascade",
        "on-delete=SetNull",
        "pattern",
        "one-of",
        "type text",
        "type integer",
        "type float",
        "type boolean",
        "type datetime",
        "type date",
        "type uuid",
        "type json",
        "any",
        "not",
        "check",
        "eq",
        "ne",
        "gt",
        "lt",
        "like",
        "in",
        "not-in",
        "is-null",
        "not-null",
        "(auth)user-id",
        "(auth)org-id",
        "(auth)team",
        "(time)now",
    ];
    for k in expected {
        assert!(
            seen.get(k).copied().unwrap_or(0) > 0,
            "{k} never generated: {seen:#?}"
        );
    }
}

fn step_kind(s: &ward_ir::Step) -> &'static str {
    match s {
        ward_ir::Step::Require { .. } => "require",
        ward_ir::Step::Transition { .. } => "transition",
        ward_ir::Step::Update { .. } => "update",
        ward_ir::Step::Delete { .. } => "delete",
        ward_ir::Step::Insert { .. } => "insert",
        ward_ir::Step::Query { .. } => "query",
        ward_ir::Step::If { .. } => "if",
        ward_ir::Step::Return { .. } => "return",
    }
}
