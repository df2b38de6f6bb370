//! The reference model must stay independent of the runtime it judges: a bug it shared with the
//! server would be invisible. No file under `src/model/` may mention the runtime crate.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/model").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_model_never_uses_the_runtime() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/model");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(
        files.len() >= 10,
        "the model's files were not found in {}",
        dir.display()
    );
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read a model file");
        for needle in ["ward_runtime", "ward-runtime"] {
            assert!(
                !text.contains(needle),
                "{} mentions `{needle}`: the model must not depend on the runtime",
                file.display()
            );
        }
    }
}
