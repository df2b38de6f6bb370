//! Hot reload latency (SPEC §8: save → serving under 100 ms for a 50-table project, excluding
//! the debounce). "Save → serving" is what `ward dev` does after the debounce: read and compile
//! the project, plan and apply the migration, swap the IR. Measured for a policy-only edit (no
//! migration) and for an added column (an additive migration), on SQLite; compiling alone is
//! measured in the same run as the baseline the reload adds to.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ward_runtime::{App, ServeOptions};

const TABLES: usize = 50;

fn compile_dir(dir: &std::path::Path) -> ward_ir::Ir {
    let sources = ward_compiler::Sources::load(dir).expect("sources");
    ward_compiler::compile(&sources)
        .ir
        .expect("the bench project compiles")
}

fn write(dir: &std::path::Path, variant: u32, extra: bool) {
    std::fs::write(
        dir.join("project.kdl"),
        ward_bench::project(TABLES, variant, extra),
    )
    .expect("write project");
}

fn open(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> App {
    let opts = ServeOptions {
        project_dir: dir.to_path_buf(),
        database_url: format!("sqlite://{}", dir.join(".ward/data.db").display()),
        require_secret: false,
        cors: Default::default(),
        limits: Default::default(),
        sqlite_sync: Default::default(),
    };
    rt.block_on(App::open(compile_dir(dir), &opts))
        .expect("the bench project serves")
}

fn reload(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("reload_50_tables");
    group.measurement_time(Duration::from_secs(10));

    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 0, false);
    group.bench_function("compile_only", |b| {
        b.iter(|| black_box(compile_dir(dir.path())));
    });

    let app = open(&rt, dir.path());
    let mut variant = 0;
    group.bench_function("save_to_serving_policy_edit", |b| {
        b.iter(|| {
            variant += 1;
            write(dir.path(), variant, false);
            let ir = compile_dir(dir.path());
            rt.block_on(app.reload(ir, false)).expect("reload");
        });
    });

    group.bench_function("save_to_serving_added_column", |b| {
        b.iter_batched(
            || {
                let fresh = tempfile::tempdir().expect("tempdir");
                write(fresh.path(), 0, false);
                let app = open(&rt, fresh.path());
                write(fresh.path(), 0, true);
                (fresh, app)
            },
            |(fresh, app)| {
                let ir = compile_dir(fresh.path());
                rt.block_on(app.reload(ir, false)).expect("reload");
                (fresh, app)
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, reload);
criterion_main!(benches);
