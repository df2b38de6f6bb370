//! The side-by-side benchmark end to end, small: ward and the baseline on SQLite (and on Postgres
//! when `WARD_TEST_POSTGRES_URL` is set), seeded, loaded by wrk for a second per workload, and
//! the results written. Fails if more than 1 % of a workload's requests answer an error — the
//! benchmark would otherwise be measuring error pages — or if a ratio is missing. (Not zero: on
//! Postgres, concurrent updates of a small table lose SERIALIZABLE races, and ward answers
//! `DATABASE_BUSY` after its retries, on a fraction of a per cent of them; docs/performance.md.)

use std::process::Command;

use serde_json::Value;

#[test]
fn a_short_run_measures_every_workload_without_errors() {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!(
            "notice: wrk is not installed (apt-get install wrk); the side-by-side smoke run is skipped"
        );
        return;
    }
    let out = tempfile::tempdir().expect("a temporary directory");
    let run = Command::new(env!("CARGO_BIN_EXE_side-by-side"))
        .args([
            "--seconds",
            "1",
            "--rows",
            "1000",
            "--connections",
            "4",
            "--no-pocketbase",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("the driver runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "the driver failed:\n{stderr}");

    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("side-by-side.json")).expect("the JSON result"),
    )
    .expect("valid JSON");
    let backends: &[&str] = if std::env::var_os("WARD_TEST_POSTGRES_URL").is_some() {
        &["sqlite", "postgres"]
    } else {
        eprintln!("notice: WARD_TEST_POSTGRES_URL is not set; the Postgres round is not checked");
        &["sqlite"]
    };
    let results = json["results"].as_array().expect("results");
    for result in results {
        let requests = result["requests"].as_u64().unwrap_or(0);
        let errors = result["errors"].as_u64().unwrap_or(u64::MAX);
        assert!(requests > 0, "{result}");
        assert!(
            errors.saturating_mul(100) <= requests,
            "more than 1 % of the requests failed: {result}\n{stderr}"
        );
    }
    let ratios = json["ratios"].as_array().expect("ratios");
    for backend in backends {
        for workload in ["read", "list", "create", "update", "mix"] {
            let ratio = ratios
                .iter()
                .find(|r| r["backend"] == *backend && r["workload"] == workload)
                .unwrap_or_else(|| panic!("no ratio for {backend}/{workload}"));
            assert!(
                ratio["ward_over_baseline"]
                    .as_f64()
                    .is_some_and(|r| r > 0.0),
                "{ratio}"
            );
            assert!(ratio["ward_over_pocketbase"].is_null(), "{ratio}");
            let floor = ratio["ward_over_floor"].as_f64();
            assert_eq!(
                floor.is_some_and(|r| r > 0.0),
                workload == "read",
                "{ratio}"
            );
            let history = ratio["history_over_ward"].as_f64();
            assert_eq!(
                history.is_some_and(|r| r > 0.0),
                matches!(workload, "create" | "update"),
                "{ratio}"
            );
        }
    }
    let markdown = std::fs::read_to_string(out.path().join("side-by-side.md")).expect("markdown");
    assert!(markdown.contains("| read |"), "{markdown}");
    assert!(markdown.contains("ward over the HTTP floor"), "{markdown}");
    assert!(
        markdown.contains("with `history #true` on items"),
        "{markdown}"
    );
    let chart = std::fs::read_to_string(out.path().join("side-by-side.svg")).expect("chart");
    assert!(chart.starts_with("<svg"));
}
