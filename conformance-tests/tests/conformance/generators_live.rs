//! Generated scenarios against the real server, with a minimal id resolver (the engine proper
//! lives elsewhere): seeds are always insertable, and enough requests succeed for state to build
//! up. Prints the status distribution per endpoint.

use std::collections::BTreeMap;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value, json};
use ward_compiler::{Sources, compile};
use ward_conformance::request::encode;
use ward_conformance::scenario::{Body, CallerSpec, IdRef, Route, ValueSpec};
use ward_conformance::strategies::{project, scenario};
use ward_conformance::target::Target;
use ward_ir::{IdKind, Ir};

struct Ids {
    rows: BTreeMap<String, Vec<Value>>,
    fresh: u64,
}

impl Ids {
    fn resolve(&mut self, ir: &Ir, table: Option<&str>, id: &IdRef) -> Value {
        let kind = table.and_then(|t| ir.table(t)).map(|t| t.id);
        match id {
            IdRef::Created { table, n } => match self.rows.get(table) {
                Some(ids) if !ids.is_empty() => ids[n % ids.len()].clone(),
                _ => self.resolve(ir, Some(table), &IdRef::Fresh),
            },
            IdRef::Fresh => {
                self.fresh += 1;
                match kind {
                    Some(IdKind::Integer) => json!(1_000_000 + self.fresh),
                    Some(IdKind::Text) => json!(format!("fresh-{}", self.fresh)),
                    _ => json!(uuid::Uuid::new_v4().to_string()),
                }
            }
            IdRef::Literal(s) => json!(s),
        }
    }

    fn value(&mut self, ir: &Ir, table: &str, key: &str, v: &ValueSpec) -> Value {
        match v {
            ValueSpec::Json(v) => v.clone(),
            // A seed's upload is the engine's to store; here the column stays empty.
            ValueSpec::Upload(_) => Value::Null,
            ValueSpec::Id(id) => {
                let target = ir
                    .table(table)
                    .and_then(|t| t.column(key))
                    .and_then(|c| c.references.as_ref())
                    .map_or(table, |r| r.table.as_str());
                self.resolve(ir, Some(target), id)
            }
        }
    }

    fn object(&mut self, ir: &Ir, table: &str, rec: &[(String, ValueSpec)]) -> Map<String, Value> {
        rec.iter()
            .map(|(k, v)| (k.clone(), self.value(ir, table, k, v)))
            .collect()
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn scenarios_run_against_the_server() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[3; 32]),
    );
    let mut statuses: BTreeMap<String, BTreeMap<u16, usize>> = BTreeMap::new();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut seeds = 0;
    for _ in 0..32 {
        let spec = project().new_tree(&mut runner).expect("project").current();
        let ir = compile(&Sources::single("p.kdl", &spec.kdl()))
            .ir
            .expect("compiles");
        let sc = scenario(&ir, 40)
            .new_tree(&mut runner)
            .expect("scenario")
            .current();
        let target = Target::open(&ir, &ward_conformance::target::Database::Sqlite)
            .await
            .expect("target");
        let mut ids = Ids {
            rows: BTreeMap::new(),
            fresh: 0,
        };
        for seed in &sc.seeds {
            let CallerSpec::User(owner) = &sc.callers[seed.owner] else {
                panic!("seed owner is not a user");
            };
            let values = ids.object(&ir, &seed.table, &seed.values);
            let row = target
                .seed(&seed.table, Some(owner), values)
                .await
                .unwrap_or_else(|e| panic!("seed {seed:?} failed: {e}\n{}", spec.kdl()));
            ids.rows
                .entry(seed.table.clone())
                .or_default()
                .push(row["id"].clone());
            seeds += 1;
        }
        for s in &sc.steps {
            let mut path = format!("/api/{}", s.table);
            let kind = match &s.route {
                Route::Collection => String::new(),
                Route::Batch => {
                    path.push_str("/batch");
                    "batch".to_owned()
                }
                Route::Row(id) => {
                    let id = ids.resolve(&ir, Some(&s.table), id);
                    path.push_str(&format!("/{}", encode(&text(&id))));
                    "row".to_owned()
                }
                Route::Restore(id) => {
                    let id = ids.resolve(&ir, Some(&s.table), id);
                    path.push_str(&format!("/{}/restore", encode(&text(&id))));
                    "restore".to_owned()
                }
                Route::History(id) => {
                    let id = ids.resolve(&ir, Some(&s.table), id);
                    path.push_str(&format!("/{}/history", encode(&text(&id))));
                    "history".to_owned()
                }
                Route::View(v) => {
                    path.push_str(&format!("/views/{}", encode(v)));
                    "view".to_owned()
                }
                Route::Action(id, a) => {
                    let id = ids.resolve(&ir, Some(&s.table), id);
                    path.push_str(&format!("/{}/{}", encode(&text(&id)), encode(a)));
                    "action".to_owned()
                }
                // The step's table is `actions`: the path is already `/api/actions`.
                Route::Standalone(a) => {
                    path.push_str(&format!("/{}", encode(a)));
                    "action".to_owned()
                }
            };
            let query: Vec<String> = s
                .query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        encode(k),
                        encode(&text(&ids.value(&ir, &s.table, k, v)))
                    )
                })
                .collect();
            if !query.is_empty() {
                path = format!("{path}?{}", query.join("&"));
            }
            let body = s.body.as_ref().map(|b| match b {
                Body::Object(rec) => Value::Object(ids.object(&ir, &s.table, rec)).to_string(),
                Body::Records {
                    records, atomic, ..
                } => {
                    let records: Vec<Value> = records
                        .iter()
                        .map(|r| Value::Object(ids.object(&ir, &s.table, r)))
                        .collect();
                    let mut o = json!({ "records": records });
                    if let Some(a) = atomic {
                        o["options"] = json!({ "atomic": a });
                    }
                    o.to_string()
                }
                Body::Ids {
                    ids: list, atomic, ..
                } => {
                    let list: Vec<Value> = list
                        .iter()
                        .map(|i| ids.resolve(&ir, Some(&s.table), i))
                        .collect();
                    let mut o = json!({ "ids": list });
                    if let Some(a) = atomic {
                        o["options"] = json!({ "atomic": a });
                    }
                    o.to_string()
                }
                Body::Raw(t) => t.clone(),
            });
            let token = match &sc.callers[s.caller] {
                CallerSpec::Anonymous => None,
                CallerSpec::User(u) => Some(target.token(u)),
                CallerSpec::Broken(u, k) => Some(target.token_of_kind(u, *k)),
            };
            let ex = target.call(&s.method, &path, token.as_deref(), body).await;
            assert_ne!(
                ex.status,
                500,
                "{} {path}: {}\n{}",
                s.method,
                ex.text,
                spec.kdl()
            );
            // Created rows become addressable by later steps.
            if ex.status == 201 || (ex.status == 200 && s.method == "PUT") {
                let created: Vec<&Value> = match &ex.json["data"] {
                    Value::Object(_) => vec![&ex.json["data"]],
                    _ => ex.json["success"]
                        .as_array()
                        .map(|a| a.iter().collect())
                        .unwrap_or_default(),
                };
                for row in created {
                    ids.rows
                        .entry(s.table.clone())
                        .or_default()
                        .push(row["id"].clone());
                }
            }
            if let Some(code) = ex.json["code"].as_str() {
                *codes.entry(code.to_owned()).or_default() += 1;
            }
            let key = format!("{} {kind}", s.method);
            *statuses
                .entry(key)
                .or_default()
                .entry(ex.status)
                .or_default() += 1;
        }
    }
    eprintln!("seeds inserted: {seeds}\n{statuses:#?}\n{codes:#?}");
    let created = statuses
        .get("POST ")
        .and_then(|m| m.get(&201))
        .copied()
        .unwrap_or(0);
    assert!(created >= 10, "too few successful creates: {created}");
    let listed = statuses
        .get("GET ")
        .and_then(|m| m.get(&200))
        .copied()
        .unwrap_or(0);
    assert!(listed >= 10, "too few successful lists: {listed}");
    let viewed = statuses
        .get("GET view")
        .and_then(|m| m.get(&200))
        .copied()
        .unwrap_or(0);
    assert!(viewed >= 5, "too few successful views: {viewed}");
    let acted: usize = ["POST action", "GET action"]
        .iter()
        .filter_map(|k| statuses.get(*k).and_then(|m| m.get(&200)))
        .sum();
    assert!(acted >= 8, "too few successful action calls: {acted}");
}
