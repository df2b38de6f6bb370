//! What `history` costs a table's writes (SPEC §10: history on keeps ≥ 80% of the write
//! throughput). Two identical tables, one with `history #true`, written through the router
//! in-process on SQLite in the same run: a create, and an update of an existing row. The plain
//! table is the baseline; the ratio of the two is the cost. SQLite runs with
//! `synchronous=NORMAL` here, so the fsync every commit pays at `FULL` does not hide it.

use std::hint::black_box;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;
use ward_runtime::{App, ServeOptions, SqliteSync};

const PROJECT: &str = r#"
table plain {
    column title text
    column done boolean default=#false
    firewall none
    access { create public; update public; }
    guards { createable title done; updatable title done; }
}
table kept {
    column title text
    column done boolean default=#false
    firewall none
    access { create public; update public; }
    guards { createable title done; updatable title done; }
    history #true
}
"#;

fn open(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> App {
    let out = ward_compiler::compile(&ward_compiler::Sources::single("project.kdl", PROJECT));
    let opts = ServeOptions {
        project_dir: dir.to_path_buf(),
        database_url: format!("sqlite://{}", dir.join(".ward/data.db").display()),
        require_secret: false,
        cors: Default::default(),
        limits: Default::default(),
        sqlite_sync: SqliteSync::Normal,
    };
    rt.block_on(App::open(
        out.ir.expect("the bench project compiles"),
        &opts,
    ))
    .expect("the bench project serves")
}

async fn send(
    router: &axum::Router,
    method: &str,
    uri: &str,
    body: &str,
) -> axum::response::Response {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    router.clone().oneshot(req).await.expect("answer")
}

fn history(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let router = open(&rt, dir.path()).router();
    let mut group = c.benchmark_group("history_write_cost");
    group.measurement_time(Duration::from_secs(8));
    for table in ["plain", "kept"] {
        let name = if table == "plain" {
            "baseline_create_plain"
        } else {
            "create_history"
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let r = send(
                        &router,
                        "POST",
                        &format!("/api/{table}"),
                        r#"{"title":"a"}"#,
                    )
                    .await;
                    assert_eq!(r.status(), StatusCode::CREATED);
                    black_box(r)
                })
            });
        });
        let created = rt.block_on(send(
            &router,
            "POST",
            &format!("/api/{table}"),
            r#"{"title":"x"}"#,
        ));
        let bytes = rt
            .block_on(axum::body::to_bytes(created.into_body(), 1 << 20))
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        let id = json["data"]["id"].as_str().expect("id").to_owned();
        let name = if table == "plain" {
            "baseline_update_plain"
        } else {
            "update_history"
        };
        let mut n = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                rt.block_on(async {
                    let body = format!(r#"{{"title":"t{n}"}}"#);
                    let r = send(&router, "PATCH", &format!("/api/{table}/{id}"), &body).await;
                    assert_eq!(r.status(), StatusCode::OK);
                    black_box(r)
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, history);
criterion_main!(benches);
