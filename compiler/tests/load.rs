//! `Sources::load`: sorted, recursive, skipping `tests/` and hidden folders; names across files.

#![allow(clippy::unwrap_used)] // tests may panic on broken fixtures

use std::path::PathBuf;

use ward_compiler::{Sources, compile, diagnostics_json};

fn project(files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ward-compiler-load-{}-{}",
        std::process::id(),
        files.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

#[test]
fn loads_sorted_and_skips_tests_and_hidden() {
    let dir = project(&[
        (
            "b/tables.kdl",
            "table rooms {\n    firewall none\n    column typeId uuid references=types\n    access {\n        read public\n    }\n}\n",
        ),
        (
            "a.kdl",
            "table types {\n    firewall none\n    access {\n        read public\n    }\n}\n",
        ),
        ("tests/case.kdl", "this is not ward"),
        (".ward/x.kdl", "neither is this"),
        ("b/.hidden/y.kdl", "nor this"),
        ("notes.txt", "ignored"),
    ]);
    let sources = Sources::load(&dir).unwrap();
    let names: Vec<&str> = sources.files().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a.kdl", "b/tables.kdl"]);
    let c = compile(&sources);
    assert!(c.ir.is_some(), "{:?}", c.diagnostics);
    let ir = c.ir.unwrap();
    assert_eq!(
        ir.tables
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["types", "rooms"]
    );
    assert_eq!(ir.hash.len(), 64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_diagnostics_point_at_the_right_file() {
    let dir = project(&[
        ("a.kdl", "table a {\n    firewall none\n}\n"),
        (
            "z/b.kdl",
            "table b {\n    firewall none\n    column x uuid references=c\n}\n",
        ),
    ]);
    let sources = Sources::load(&dir).unwrap();
    let c = compile(&sources);
    assert!(c.has_errors());
    let json = diagnostics_json(&c.diagnostics, &sources);
    let e = json
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "E0020")
        .unwrap();
    assert_eq!(e["file"], "z/b.kdl");
    assert_eq!(e["line"], 3);
    assert_eq!(e["column"], 19);
    assert_eq!(e["severity"], "error");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hash_ignores_file_names_and_is_stable() {
    let text = "table a {\n    firewall none\n    access {\n        read public\n    }\n}\n";
    let mut a = compile(&Sources::single("one.kdl", text)).ir.unwrap();
    let mut b = compile(&Sources::single("two.kdl", text)).ir.unwrap();
    assert_eq!(a.hash, b.hash);
    // Only where things were written differs.
    assert_eq!(a.sources["a"].file, "one.kdl");
    assert_eq!(b.sources["a"].file, "two.kdl");
    a.sources.clear();
    b.sources.clear();
    assert_eq!(a, b);
}
