//! UI tests: every `tests/ui/**/*.kdl` must produce exactly its `.stderr` (rendered, no color);
//! every `tests/ir/*.kdl` must compile to exactly its `.ir.json` (and its warnings, if any, to
//! its `.stderr`). `UPDATE_EXPECT=1 cargo test -p ward-compiler` re-blesses the goldens.

#![allow(clippy::unwrap_used)] // tests may panic on broken fixtures

use std::path::{Path, PathBuf};

use ward_compiler::{Sources, compile, render_diagnostics};

fn abs(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
    }
}

fn case_name(path: &Path, root: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(root);
    abs(path)
        .strip_prefix(&root)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_else(|_| path.to_string_lossy().into_owned())
}

fn rendered(sources: &Sources, diags: &[ward_compiler::Diagnostic]) -> String {
    let text = render_diagnostics(diags, sources, false);
    let mut out: String = text
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn ui(path: &Path, text: String) -> datatest_stable::Result<()> {
    let sources = Sources::single(&case_name(path, "tests/ui"), &text);
    let result = compile(&sources);
    if result.diagnostics.is_empty() {
        return Err("a UI case must produce diagnostics; valid projects go to tests/ir".into());
    }
    expect_test::expect_file![abs(&path.with_extension("stderr"))]
        .assert_eq(&rendered(&sources, &result.diagnostics));
    Ok(())
}

fn ir(path: &Path, text: String) -> datatest_stable::Result<()> {
    let sources = Sources::single(&case_name(path, "tests/ir"), &text);
    let result = compile(&sources);
    let Some(ir) = &result.ir else {
        return Err(format!(
            "expected a valid project:\n{}",
            rendered(&sources, &result.diagnostics)
        )
        .into());
    };
    let json = serde_json::to_string_pretty(ir)? + "\n";
    let back: ward_ir::Ir = serde_json::from_str(&json)?;
    if &back != ir {
        return Err("the IR does not survive a JSON round trip".into());
    }
    expect_test::expect_file![abs(&path.with_extension("ir.json"))].assert_eq(&json);
    let stderr = abs(&path.with_extension("stderr"));
    if !result.diagnostics.is_empty() || stderr.exists() {
        expect_test::expect_file![stderr].assert_eq(&rendered(&sources, &result.diagnostics));
    }
    Ok(())
}

datatest_stable::harness! {
    { test = ui, root = "tests/ui", pattern = r"\.kdl$" },
    { test = ir, root = "tests/ir", pattern = r"\.kdl$" },
}
