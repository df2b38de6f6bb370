//! Every diagnostic code defined in `codes.rs` has a UI case and an entry in
//! `docs/diagnostics.md`; `docs/diagnostics.md` is generated from the doc comments in `codes.rs`
//! (`UPDATE_EXPECT=1` regenerates it).

#![allow(clippy::unwrap_used)] // tests may panic on broken fixtures

use std::path::{Path, PathBuf};

struct Code {
    code: String,
    meaning: String,
    why: Vec<String>,
    bad: String,
    fix: String,
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn codes() -> Vec<Code> {
    let text = std::fs::read_to_string(manifest().join("src/diagnostics/codes.rs")).unwrap();
    let mut out = Vec::new();
    let mut doc: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(d) = line.strip_prefix("///") {
            doc.push(d.trim().to_owned());
            continue;
        }
        if line.starts_with("pub fn") {
            let first = doc
                .iter()
                .take_while(|l| !l.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" ");
            let (code, meaning) = first.split_once(": ").unwrap_or(("", ""));
            assert!(
                code.len() == 5 && (code.starts_with("E0") || code.starts_with("W0")),
                "constructor without `CODE: meaning` doc: {line}"
            );
            let field = |p: &str| {
                doc.iter()
                    .find_map(|l| l.strip_prefix(p))
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default()
            };
            let mut why = Vec::new();
            let mut in_why = false;
            for l in &doc {
                if let Some(w) = l.strip_prefix("Why:") {
                    in_why = true;
                    why.push(w.trim().to_owned());
                } else if l.starts_with("Bad:") || l.starts_with("Fix:") || l.is_empty() {
                    in_why = false;
                } else if in_why {
                    why.push(l.clone());
                }
            }
            assert!(
                line.contains(code) || text.contains(&format!("\"{code}\"")),
                "{code} not used"
            );
            out.push(Code {
                code: code.to_owned(),
                meaning: meaning.to_owned(),
                why,
                bad: field("Bad:"),
                fix: field("Fix:"),
            });
        }
        doc.clear();
    }
    out
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.to_string_lossy().ends_with(ext) {
            out.push(p);
        }
    }
}

/// UI cases (relative names) whose expected output contains `code`.
fn cases_for(code: &str) -> Vec<String> {
    let mut stderr = Vec::new();
    files(&manifest().join("tests"), ".stderr", &mut stderr);
    let mut out: Vec<String> = stderr
        .iter()
        .filter(|p| {
            std::fs::read_to_string(p).unwrap().lines().any(|l| {
                let header = l.trim_start();
                header.starts_with(&format!("error[{code}]:"))
                    || header.starts_with(&format!("warning[{code}]:"))
            })
        })
        .map(|p| {
            let rel = p.strip_prefix(manifest().join("tests")).unwrap();
            rel.with_extension("kdl")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    out.sort();
    out
}

fn snippet(s: &str) -> String {
    match s.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        Some(code) if !code.contains('`') => format!("```kdl\n{code}\n```"),
        _ => s.to_owned(),
    }
}

#[test]
fn every_code_has_a_ui_case() {
    let codes = codes();
    assert!(codes.len() > 40);
    let missing: Vec<&str> = codes
        .iter()
        .filter(|c| cases_for(&c.code).is_empty())
        .map(|c| c.code.as_str())
        .collect();
    assert!(missing.is_empty(), "codes without a UI case: {missing:?}");
}

#[test]
fn every_code_is_documented() {
    let docs =
        std::fs::read_to_string(manifest().join("../docs/diagnostics.md")).unwrap_or_default();
    let missing: Vec<String> = codes()
        .into_iter()
        .filter(|c| !docs.contains(&format!("## {}", c.code)))
        .map(|c| c.code)
        .collect();
    assert!(
        missing.is_empty(),
        "codes missing from docs/diagnostics.md: {missing:?}"
    );
}

#[test]
fn diagnostics_md_is_current() {
    let mut md = String::from(
        "# Diagnostics\n\n\
         Every diagnostic of `ward check`, by code. `E` codes are errors (the project does not compile), `W` codes \
         warnings (`--deny-warnings` makes them fatal). Generated from the doc comments in \
         `compiler/src/diagnostics/codes.rs` by `compiler/tests/coverage.rs` (`UPDATE_EXPECT=1 cargo test -p \
         ward-compiler` regenerates it); the rendered output of each case is in `compiler/tests/ui/`.\n\n\
         | code | meaning |\n|---|---|\n",
    );
    let codes = codes();
    for c in &codes {
        md.push_str(&format!(
            "| [{}](#{}) | {} |\n",
            c.code,
            c.code.to_lowercase(),
            c.meaning
        ));
    }
    for c in &codes {
        md.push_str(&format!("\n## {}\n\n{}\n\n", c.code, c.meaning));
        if !c.why.is_empty() {
            md.push_str(&format!("{}\n\n", c.why.join(" ")));
        }
        md.push_str(&format!(
            "Bad:\n\n{}\n\nFixed:\n\n{}\n\n",
            snippet(&c.bad),
            snippet(&c.fix)
        ));
        let cases = cases_for(&c.code);
        md.push_str(&format!(
            "UI cases: {}\n",
            cases
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    expect_test::expect_file![manifest().join("../docs/diagnostics.md")].assert_eq(&md);
}
