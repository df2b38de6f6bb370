//! The conformance suite proper: random projects compiled by the real compiler, and each example
//! project with scenarios aimed at it. Case counts are small by default (the crate's tests must run
//! in well under 90 s in debug); `WARD_CONFORMANCE_CASES=N` raises them, `WARD_CONFORMANCE_SEED=S`
//! replays a reported seed.

use ward_conformance::target::Database;
use ward_conformance::{Config, Report, check_project, check_random_projects, examples_dir};

fn config(default_cases: u32, database: Database) -> Config {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    Config {
        cases: env("WARD_CONFORMANCE_CASES").map_or(default_cases, |n| n as u32),
        seed: env("WARD_CONFORMANCE_SEED"),
        max_steps: 20,
        database,
    }
}

/// The Postgres test database, or `None` with a printed notice when `WARD_TEST_POSTGRES_URL` is
/// unset.
fn postgres() -> Option<Database> {
    match std::env::var("WARD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(Database::Postgres { url }),
        _ => {
            eprintln!(
                "skipped: WARD_TEST_POSTGRES_URL is not set, so the Postgres suite does not run"
            );
            None
        }
    }
}

fn assert_passes(what: &str, report: &Report) {
    println!("{what}: {report}");
    if let Some(failure) = &report.failure {
        panic!("{what} failed:\n{failure}");
    }
    assert!(report.cases_run > 0, "{what}: no case ran");
}

fn example(name: &str) -> ward_ir::Ir {
    let sources = ward_compiler::Sources::load(&examples_dir().join(name)).expect("example loads");
    ward_compiler::compile(&sources)
        .ir
        .expect("example compiles")
}

#[test]
fn random_projects_conform() {
    assert_passes(
        "random projects",
        &check_random_projects(&config(128, Database::Sqlite)),
    );
}

#[test]
fn tasks_example_conforms() {
    let config = config(96, Database::Sqlite);
    assert_passes("tasks", &check_project(&example("tasks"), &config));
}

#[test]
fn rooms_example_conforms() {
    let config = config(96, Database::Sqlite);
    assert_passes("rooms", &check_project(&example("rooms"), &config));
}

#[test]
fn pets_example_conforms() {
    let config = config(96, Database::Sqlite);
    assert_passes("pets", &check_project(&example("pets"), &config));
}

#[test]
fn random_projects_conform_on_postgres() {
    let Some(db) = postgres() else { return };
    assert_passes(
        "random projects on postgres",
        &check_random_projects(&config(128, db)),
    );
}

#[test]
fn examples_conform_on_postgres() {
    let Some(db) = postgres() else { return };
    for name in ["tasks", "rooms", "pets"] {
        let config = config(96, db.clone());
        assert_passes(
            &format!("{name} on postgres"),
            &check_project(&example(name), &config),
        );
    }
}
