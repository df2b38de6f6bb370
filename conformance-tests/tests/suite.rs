//! The conformance suite proper: random projects compiled by the real compiler, and each example
//! project with scenarios aimed at it. Case counts are small by default (the crate's tests must run
//! in well under 90 s in debug); `WARD_CONFORMANCE_CASES=N` raises them, `WARD_CONFORMANCE_SEED=S`
//! replays a reported seed.

use ward_conformance::{Config, Report, check_project, check_random_projects, examples_dir};

fn config(default_cases: u32) -> Config {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    Config {
        cases: env("WARD_CONFORMANCE_CASES").map_or(default_cases, |n| n as u32),
        seed: env("WARD_CONFORMANCE_SEED"),
        max_steps: 20,
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
    assert_passes("random projects", &check_random_projects(&config(128)));
}

#[test]
fn tasks_example_conforms() {
    assert_passes("tasks", &check_project(&example("tasks"), &config(96)));
}

#[test]
fn rooms_example_conforms() {
    assert_passes("rooms", &check_project(&example("rooms"), &config(96)));
}

#[test]
fn pets_example_conforms() {
    assert_passes("pets", &check_project(&example("pets"), &config(96)));
}
