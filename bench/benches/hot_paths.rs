//! The hot paths of SPEC §10, each next to a baseline measured in the same run (what the path
//! cannot avoid doing), so the report reads as ratios:
//!
//! - compiling a 500-table project (target: `ward check` under 300 ms) against parsing its KDL;
//! - building a list query (role gate, query-string grammar, firewall, filters, search, order,
//!   rendered SQL) against rendering a bare `SELECT` of the same table;
//! - masking a page of 50 records against copying the page;
//! - serialising a page of 50 records as the `{"data": […]}` body, and masking + serialising the
//!   same page straight from its cells (what reads and lists without labels do).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use ward_ir::Operation;
use ward_runtime::bench_internals::{
    self as ward, Answer, Caller, Dialect, Records, Snapshot, Stmt, TablePlan,
};

const PAGE: usize = 50;

fn compile(c: &mut Criterion) {
    let text = ward_bench::project(500, 0, false);
    let mut group = c.benchmark_group("compile_500_tables");
    group
        .measurement_time(Duration::from_secs(10))
        .sample_size(20);
    group.bench_function("baseline_kdl_parse", |b| {
        b.iter(|| black_box(kdl::KdlDocument::parse_v2(&text).expect("parses")));
    });
    group.bench_function("compile", |b| {
        b.iter(|| {
            let sources = ward_compiler::Sources::single("project.kdl", &text);
            black_box(ward_compiler::compile(&sources).ir.expect("compiles"))
        });
    });
    group.finish();
}

fn snapshot() -> Snapshot {
    let text = ward_bench::project(1, 0, false);
    let ir = ward_compiler::compile(&ward_compiler::Sources::single("project.kdl", &text))
        .ir
        .expect("compiles");
    Snapshot::build(ir, Dialect::Sqlite).expect("snapshot")
}

fn member() -> Caller {
    Caller {
        authenticated: true,
        user_id: Some("mia".to_owned()),
        roles: vec!["member".to_owned()],
        auth_values: [
            ("user-id".to_owned(), "mia".to_owned()),
            ("org-id".to_owned(), "acme".to_owned()),
        ]
        .into(),
    }
}

/// What `GET /api/t0?…` builds before it touches the database.
fn list_statement(plan: &TablePlan, caller: &Caller, raw: &str) -> Stmt {
    let gate = ward::gate(plan, Operation::List, caller).expect("members may list");
    let lq = ward::parse_list(plan, caller, Some(raw), None).expect("a valid query");
    let now = "2026-11-22T12:00:00.000Z";
    let mut cond =
        ward::visibility(plan, &gate, caller, now, true).add(ward::filters(plan, &lq.filters));
    if let Some((text, cols)) = &lq.search {
        cond = cond.add(ward::search(plan, cols, text));
    }
    ward::select(plan, cond, &lq.sort, Some(lq.limit + 1), lq.offset)
}

fn list_query(c: &mut Criterion) {
    let snap = snapshot();
    let plan = snap.table("t0").expect("t0");
    let caller = member();
    let raw = "status=open&amount.gte=10&search=report&sort=-amount,name&limit=50";
    let mut group = c.benchmark_group("list_query");
    group.bench_function("baseline_bare_select", |b| {
        b.iter(|| black_box(ward::select(plan, sea_query::Cond::all(), &[], Some(51), 0)));
    });
    group.bench_function("filtered_sorted_page", |b| {
        b.iter(|| black_box(list_statement(plan, &caller, black_box(raw))));
    });
    group.finish();
}

/// A page of stored rows of `t0`, every column set.
fn page() -> Vec<Map<String, Value>> {
    (0..PAGE)
        .map(|i| {
            let row = json!({
                "id": format!("01a20000-0000-7000-8000-{i:012}"),
                "name": format!("Quarterly report {i}"),
                "status": "open",
                "amount": i * 10,
                "ratio": 0.5,
                "active": true,
                "dueOn": "2026-12-01",
                "email": format!("person{i}@example.com"),
                "orgId": "acme",
                "createdAt": "2026-11-22T12:00:00.000Z",
                "createdBy": "mia",
                "modifiedAt": "2026-11-22T12:00:00.000Z",
                "modifiedBy": "mia",
                "deletedAt": null,
                "deletedBy": null,
            });
            match row {
                Value::Object(m) => m,
                _ => Map::new(),
            }
        })
        .collect()
}

fn mask_and_serialise(c: &mut Criterion) {
    let snap = snapshot();
    let plan = snap.table("t0").expect("t0");
    let caller = member();
    let rows = page();
    let mut group = c.benchmark_group("page_of_50");
    group.bench_function(BenchmarkId::new("baseline_copy", PAGE), |b| {
        b.iter(|| black_box(rows.clone()));
    });
    group.bench_function(BenchmarkId::new("copy_and_mask", PAGE), |b| {
        b.iter(|| {
            let mut page = rows.clone();
            for r in &mut page {
                ward::mask_record(plan, &caller, r);
            }
            black_box(page)
        });
    });
    let body = json!({ "data": rows });
    group.bench_function(BenchmarkId::new("serialise", PAGE), |b| {
        b.iter(|| black_box(serde_json::to_vec(&body).expect("serialises")));
    });
    let cells: Vec<Vec<Value>> = rows
        .iter()
        .map(|r| {
            plan.columns()
                .iter()
                .map(|c| r.get(&c.name).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect();
    group.bench_function(BenchmarkId::new("mask_and_serialise_cells", PAGE), |b| {
        b.iter(|| {
            let data = Records::new(plan, &caller, None, &cells);
            black_box(ward::to_body(&Answer::data(data)))
        });
    });
    group.finish();
}

criterion_group!(hot_paths, compile, list_query, mask_and_serialise);
criterion_main!(hot_paths);
