//! Every example project compiles and passes its own declarative cases (`tests/*.kdl`).

use ward_conformance::cases::{load_project_cases, run_files};
use ward_conformance::target::Database;

fn run_example(name: &str) {
    run_example_on(name, &Database::Sqlite);
    match std::env::var("WARD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => run_example_on(name, &Database::Postgres { url }),
        _ => eprintln!("skipped on Postgres: WARD_TEST_POSTGRES_URL is not set"),
    }
}

fn run_example_on(name: &str, database: &Database) {
    let dir = ward_conformance::examples_dir().join(name);
    let sources = ward_compiler::Sources::load(&dir).expect("example readable");
    let ir = ward_compiler::compile(&sources)
        .ir
        .unwrap_or_else(|| panic!("examples/{name} compiles"));
    let files = load_project_cases(&dir).expect("cases parse");
    assert!(!files.is_empty(), "examples/{name} has tests/*.kdl");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcomes = runtime
        .block_on(run_files(&ir, &files, database))
        .expect("targets open");
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &outcomes {
        for case in &file.cases {
            total += 1;
            if let Some(failure) = &case.failure {
                failures.push(format!(
                    "{} on {}:{} `{}`: {failure}\n{}",
                    file.name,
                    database.name(),
                    case.line,
                    case.name,
                    case.transcript
                ));
            }
        }
    }
    assert!(total > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn tasks() {
    run_example("tasks");
}

#[test]
fn rooms() {
    run_example("rooms");
}

#[test]
fn pets() {
    run_example("pets");
}

#[test]
fn board() {
    run_example("board");
}
