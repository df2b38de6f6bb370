//! The generators themselves: generated projects compile, scenarios only name what the IR
//! declares (apart from deliberate unknowns), and the step distribution covers every endpoint and
//! every adversarial category.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;
use ward_compiler::{Sources, compile};
use ward_conformance::scenario::{Body, CallerSpec, IdRef, Route, Scenario, Step, ValueSpec};
use ward_conformance::strategies::{ProjectSpec, callers, project, scenario};
use ward_ir::{Ir, Table};

fn compile_spec(spec: &ProjectSpec) -> Result<Ir, String> {
    let text = spec.kdl();
    let out = compile(&Sources::single("project.kdl", &text));
    match out.ir {
        Some(ir) if !out.has_errors() => Ok(ir),
        _ => Err(format!(
            "generated project does not compile:\n{text}\n{}",
            ward_compiler::render_diagnostics(
                &out.diagnostics,
                &Sources::single("project.kdl", &text),
                false
            )
        )),
    }
}

proptest! {
    #![proptest_config(Config { cases: 300, ..Config::default() })]

    #[test]
    fn generated_projects_compile_deterministically(spec in project()) {
        let ir = compile_spec(&spec).map_err(TestCaseError::fail)?;
        let again = compile_spec(&spec).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&ir, &again);
        prop_assert!(!ir.tables.is_empty() && ir.tables.len() <= 4);
        for t in &ir.tables {
            // Up to six generated columns, the firewall's scopes, and a file column.
            prop_assert!(t.columns.iter().filter(|c| !c.system).count() <= 9);
        }
    }
}

/// Keys a generator puts in bodies on purpose although no table declares them.
const UNKNOWN_KEYS: [&str; 5] = ["bogus", "Title", "_expand", "id2", ""];
const LIST_PARAMS: [&str; 10] = [
    "sort", "order", "limit", "offset", "search", "fields", "total", "deleted", "expand", "cursor",
];
const UNKNOWN_PARAMS: [&str; 4] = ["bogus", "title.regex", "page", "id.between"];

fn check_names(ir: &Ir, sc: &Scenario) -> Result<(), String> {
    for seed in &sc.seeds {
        let t = ir.table(&seed.table).ok_or("seed of an unknown table")?;
        match sc.callers.get(seed.owner) {
            Some(CallerSpec::User(_)) => {}
            _ => return Err(format!("seed owner {} is not a user", seed.owner)),
        }
        for (k, _) in &seed.values {
            t.column(k).ok_or(format!("seed column {k}"))?;
        }
    }
    for s in &sc.steps {
        if s.caller >= sc.callers.len() {
            return Err(format!("caller {} out of range", s.caller));
        }
        if matches!(&s.route, Route::Standalone(a) if a == "nope") {
            continue;
        }
        if let Some(action) = called_action(ir, s)? {
            // An action call names the action's inputs (and, now and then, `bogus`).
            let keys = s.query.iter().chain(records(s).into_iter().flatten());
            for (k, _) in keys {
                if k != "bogus" && !action.inputs.iter().any(|i| i.name == *k) {
                    return Err(format!("input {k} of action {}", action.name));
                }
            }
            continue;
        }
        let t = ir.table(&s.table).ok_or("step on an unknown table")?;
        for (k, _) in &s.query {
            let field = k.split('.').next().unwrap_or(k);
            let view_param = t
                .views
                .iter()
                .any(|v| v.params.iter().any(|p| p.name == *k));
            let ok = LIST_PARAMS.contains(&k.as_str())
                || UNKNOWN_PARAMS.contains(&k.as_str())
                || t.column(field).is_some()
                || view_param;
            if !ok {
                return Err(format!("query parameter {k}"));
            }
        }
        for rec in records(s) {
            for (k, _) in rec {
                if t.column(k).is_none() && !UNKNOWN_KEYS.contains(&k.as_str()) {
                    return Err(format!("body key {k} of {}", t.name));
                }
            }
        }
    }
    Ok(())
}

/// The action a step calls, if it is an action call (`nope` is the one that does not exist).
fn called_action<'i>(ir: &'i Ir, s: &Step) -> Result<Option<&'i ward_ir::Action>, String> {
    match &s.route {
        Route::Standalone(a) if a == "nope" => Ok(None),
        Route::Standalone(a) => ir.action(a).map(Some).ok_or(format!("unknown action {a}")),
        Route::Action(_, a) => ir
            .table(&s.table)
            .and_then(|t| t.action(a))
            .map(Some)
            .ok_or(format!("unknown action {a} on {}", s.table)),
        _ => Ok(None),
    }
}

fn records(s: &Step) -> Vec<&Vec<(String, ValueSpec)>> {
    match &s.body {
        Some(Body::Object(r)) => vec![r],
        Some(Body::Records { records, .. }) => records.iter().collect(),
        _ => Vec::new(),
    }
}

proptest! {
    #![proptest_config(Config { cases: 40, ..Config::default() })]

    #[test]
    fn scenarios_name_only_the_ir(
        (ir, sc) in project()
            .prop_filter_map("compiles", |spec| compile_spec(&spec).ok())
            .prop_flat_map(|ir| (Just(ir.clone()), scenario(&ir, 40)))
    ) {
        check_names(&ir, &sc).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&sc.callers, &callers(&ir));
    }
}

#[test]
fn callers_cover_roles_orgs_missing_claims_and_broken_tokens() {
    let spec_text = RICH;
    let ir = compile(&Sources::single("rich.kdl", spec_text))
        .ir
        .expect("rich project compiles");
    let cs = callers(&ir);
    let users: Vec<_> = cs
        .iter()
        .filter_map(|c| match c {
            CallerSpec::User(u) => Some(u),
            _ => None,
        })
        .collect();
    assert!(users.len() >= 6);
    assert!(users.iter().any(|u| u.roles.is_empty()));
    assert!(users.iter().any(|u| u.roles.len() >= 2));
    let orgs: std::collections::BTreeSet<_> = users
        .iter()
        .filter_map(|u| u.claims.get("org-id"))
        .collect();
    assert_eq!(orgs.len(), 2);
    assert!(users.iter().any(|u| !u.claims.contains_key("org-id")));
    assert!(
        users
            .iter()
            .any(|u| u.claims.contains_key("org-id") && !u.claims.contains_key("team"))
    );
    assert!(cs.contains(&CallerSpec::Anonymous));
    assert_eq!(
        cs.iter()
            .filter(|c| matches!(c, CallerSpec::Broken(..)))
            .count(),
        4
    );
}

/// A project with every feature the request generators react to.
const RICH: &str = r#"
auth {
    roles viewer member admin
    claims { team team_id }
}
table projects {
    id uuid
    column name text required=#true max-length=20 display=#true searchable=#true
    column status text default=active { one-of active archived }
    column priority integer min=1 max=5
    column code text pattern="^[A-Z][0-9]{3}$"
    column contactEmail text
    column orgId text
    relation tasks has-many=tasks via=projectId
    firewall { scope orgId (auth)org-id; error-mode hide }
    access {
        list viewer+
        read viewer+
        create member+
        update member+ { when status ne archived }
        delete admin+
        restore admin+
    }
    guards {
        createable name priority code contactEmail
        updatable name priority contactEmail
        immutable code
        protected status
    }
    masking { mask contactEmail email show=admin+ owner=createdBy; }
    batch max=3 atomic=#true
    history { exclude code; }
    view open {
        fields name priority contactEmail
        where status eq active
        param minPriority integer default=1 { when priority gte (param)minPriority; }
        sort -priority
        filterable name contactEmail
        sortable name priority
        searchable name
    }
}
table tasks {
    id integer
    column title text required=#true
    column projectId uuid references=projects on-delete=cascade
    column ownerId text
    column teamId text
    firewall {
        scope ownerId (auth)user-id { bypass admin+; }
        scope teamId (auth)team
    }
    access {
        list member+
        read member+
        create member+
        update member+
        delete member+
        restore member+
    }
    guards open
    delete soft
    history #true
}
table labels {
    id text
    column label text required=#true unique=#true
    column done boolean default=#false
    firewall none
    access {
        list public
        read public
        create authenticated
        update member+
        delete admin
    }
    guards open
    delete hard
    batch max=2 atomic=#false
}
"#;

fn sample_steps(ir: &Ir, want: usize) -> Vec<Step> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = scenario(ir, 50);
    let mut out = Vec::new();
    while out.len() < want {
        let tree = strategy.new_tree(&mut runner).expect("a scenario");
        out.extend(tree.current().steps);
    }
    out
}

/// Names each step's endpoint and the adversarial categories it falls in.
fn classify(ir: &Ir, s: &Step, cs: &[CallerSpec], counts: &mut BTreeMap<&'static str, usize>) {
    let mut bump = |k: &'static str| *counts.entry(k).or_default() += 1;
    if let Route::Standalone(_) = s.route {
        bump("action");
        return;
    }
    let t: &Table = ir.table(&s.table).expect("known table");
    bump(match (s.method.as_str(), &s.route) {
        ("GET", Route::Collection) => "list",
        ("GET", Route::Row(_)) => "get",
        ("POST", Route::Collection) => "create",
        ("PATCH", Route::Row(_)) => "update",
        ("DELETE", Route::Row(_)) => "delete",
        ("POST", Route::Restore(_)) => "restore",
        ("GET", Route::History(_)) => "history",
        ("PUT", Route::Row(_)) => "upsert",
        ("POST", Route::Batch) => "batch-create",
        ("PATCH", Route::Batch) => "batch-update",
        ("PUT", Route::Batch) => "batch-upsert",
        ("DELETE", Route::Batch) => "batch-delete",
        ("GET", Route::View(_)) => "view",
        ("POST", Route::Action(..)) => "action",
        _ => "other-route",
    });
    let id = match &s.route {
        Route::Row(id) | Route::Restore(id) | Route::History(id) => Some(id),
        _ => None,
    };
    match id {
        Some(IdRef::Created { .. }) => bump("created-id"),
        Some(IdRef::Fresh) => bump("fresh-id"),
        Some(IdRef::Literal(x)) if x.contains(|c: char| !c.is_ascii_alphanumeric()) => {
            bump("odd-literal-id")
        }
        _ => {}
    }
    if !matches!(cs[s.caller], CallerSpec::User(_)) {
        bump("anonymous-or-broken");
    }
    for rec in records(s) {
        for (k, v) in rec {
            let col = t.column(k);
            match col {
                None => bump("unknown-field"),
                Some(c) if c.system && k != "id" => bump("system-field"),
                Some(_) if t.is_scope_column(k) => bump("scope-field"),
                Some(c) if !c.system => {
                    let allowed = match s.method.as_str() {
                        "POST" => t.guards.createable.contains(k),
                        "PATCH" => t.guards.updatable.contains(k),
                        _ => true,
                    };
                    if !allowed {
                        bump("guarded-field");
                    }
                    if let ValueSpec::Json(v) = v
                        && !valid_for(c, v)
                    {
                        bump("invalid-value");
                    }
                }
                _ => {}
            }
        }
    }
    match &s.body {
        Some(Body::Raw(_)) => bump("raw-body"),
        Some(Body::Ids { if_match, .. }) if !if_match.is_empty() => bump("batch-if-match"),
        Some(Body::Records {
            records,
            atomic,
            if_match,
        }) => {
            if !if_match.is_empty() {
                bump("batch-if-match");
            }
            if records.len() > t.batch.max as usize {
                bump("batch-over-limit");
            }
            if *atomic == Some(true) {
                bump("batch-atomic");
            }
            if s.method != "POST"
                && records.iter().any(|r| {
                    !r.iter()
                        .any(|(k, v)| k == "id" && *v != ValueSpec::Json(Value::Null))
                })
            {
                bump("batch-missing-id");
            }
        }
        _ => {}
    }
    for (k, v) in &s.query {
        let field = k.split('.').next().unwrap_or(k);
        if UNKNOWN_PARAMS.contains(&k.as_str()) {
            bump("unknown-param");
        }
        if t.mask(field).is_some() {
            bump("masked-filter");
        }
        if k.ends_with(".like") {
            bump("like-filter");
        }
        if k.ends_with(".in") || k.ends_with(".not-in") {
            bump("in-filter");
        }
        if k == "deleted" && *v == ValueSpec::Json(Value::from("only")) {
            bump("deleted-only");
        }
        if k == "limit" {
            bump("limit");
        }
    }
}

/// A rough validity check, enough to tell the deliberate misses apart.
fn valid_for(c: &ward_ir::Column, v: &Value) -> bool {
    use ward_ir::ColumnType as T;
    let typed = match c.ty {
        T::Text | T::Uuid | T::Datetime | T::Date => v.is_string(),
        T::Integer => v.is_i64(),
        T::Float => v.is_number(),
        T::Boolean => v.is_boolean(),
        T::Json => true,
        T::File => false,
    };
    let len_ok = v.as_str().is_none_or(|s| {
        let n = s.chars().count() as u64;
        c.max_length.is_none_or(|m| n <= m) && c.min_length.is_none_or(|m| n >= m)
    });
    let enum_ok = c.one_of.is_empty()
        || c.one_of.iter().any(|l| match l {
            ward_ir::Literal::Text(t) => v.as_str() == Some(t.as_str()),
            ward_ir::Literal::Integer(i) => v.as_i64() == Some(*i),
            _ => true,
        });
    let range_ok = v.as_f64().is_none_or(|x| {
        c.min.is_none_or(|m| x >= m.as_f64()) && c.max.is_none_or(|m| x <= m.as_f64())
    });
    (typed || v.is_null() && !c.required) && len_ok && enum_ok && range_ok
}

#[test]
fn step_distribution_covers_every_endpoint_and_attack() {
    let ir = compile(&Sources::single("rich.kdl", RICH))
        .ir
        .expect("rich project compiles");
    let steps = sample_steps(&ir, 600);
    let mut counts = BTreeMap::new();
    let cs = callers(&ir);
    for s in &steps {
        classify(&ir, s, &cs, &mut counts);
    }
    eprintln!("{} steps: {counts:#?}", steps.len());
    let minimums = [
        ("list", 40),
        ("get", 20),
        ("create", 50),
        ("update", 30),
        ("delete", 15),
        ("restore", 8),
        ("history", 6),
        ("upsert", 12),
        ("batch-create", 10),
        ("batch-update", 6),
        ("batch-upsert", 4),
        ("batch-delete", 6),
        ("other-route", 2),
        ("view", 20),
        ("created-id", 80),
        ("fresh-id", 8),
        ("odd-literal-id", 5),
        ("anonymous-or-broken", 30),
        ("unknown-field", 5),
        ("system-field", 5),
        ("scope-field", 3),
        ("guarded-field", 5),
        ("invalid-value", 10),
        ("raw-body", 5),
        ("batch-over-limit", 3),
        ("batch-atomic", 5),
        ("batch-missing-id", 2),
        ("batch-if-match", 2),
        ("unknown-param", 2),
        ("masked-filter", 5),
        ("like-filter", 3),
        ("in-filter", 3),
        ("deleted-only", 3),
        ("limit", 8),
    ];
    for (k, min) in minimums {
        let got = counts.get(k).copied().unwrap_or(0);
        assert!(got >= min, "{k}: {got} < {min} in {} steps", steps.len());
    }
}
