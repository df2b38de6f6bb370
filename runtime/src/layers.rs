//! Which module may use which (docs/architecture.md), held by a test over the sources: a
//! dependency arrow that points the wrong way (the store knowing HTTP, the policy knowing the
//! store) is a bug even when it compiles.

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::{Path, PathBuf};

    /// `(module directory, modules it must not use)`. `error`, `gate`, `snapshot`, `mutation`
    /// and the IR belong to no layer and may be used by all.
    const FORBIDDEN: &[(&str, &[&str])] = &[
        ("realtime", &["http", "migrate", "openapi"]),
        (
            "files",
            &["http", "realtime", "security", "migrate", "openapi"],
        ),
        (
            "engine",
            &["http", "realtime", "security", "migrate", "openapi"],
        ),
        (
            "security",
            &["http", "realtime", "store", "sql", "migrate", "openapi"],
        ),
        (
            "store",
            &["http", "realtime", "security", "migrate", "openapi"],
        ),
        (
            "sql",
            &[
                "http", "realtime", "security", "store", "migrate", "openapi",
            ],
        ),
        ("openapi", &["http", "realtime", "store", "sql", "migrate"]),
    ];

    /// Statements that change rows of declared tables: rendered only in `sql/` and sent only by
    /// `engine/`, the one place every write passes through (and is recorded in the change log).
    const ROW_WRITES: &[&str] = &["dml::insert", "dml::update", "dml::delete"];

    #[test]
    fn only_the_engine_writes_rows() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &mut files);
        let mut wrong = Vec::new();
        for file in files {
            let shown = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .display()
                .to_string();
            if shown.starts_with("engine/") || shown.starts_with("sql/") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            let production = text.lines().take_while(|l| !l.starts_with("#[cfg(test)]"));
            for (n, line) in production.enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if ROW_WRITES.iter().any(|w| code.contains(w)) {
                    wrong.push(format!("src/{shown}:{}: {}", n + 1, code.trim()));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "row writes outside engine/:\n{}",
            wrong.join("\n")
        );
    }

    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                // Tests may build what they check from any layer.
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                out.push(path);
            }
        }
    }

    #[test]
    fn arrows_point_one_way() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut wrong = Vec::new();
        for (module, forbidden) in FORBIDDEN {
            let mut files = Vec::new();
            sources(&root.join(module), &mut files);
            assert!(!files.is_empty(), "no sources under src/{module}");
            for file in files {
                let text = std::fs::read_to_string(&file).unwrap();
                // A file's own tests come last, after `#[cfg(test)]`, and may use any layer.
                let production = text.lines().take_while(|l| !l.starts_with("#[cfg(test)]"));
                for (n, line) in production.enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    for target in *forbidden {
                        if code.contains(&format!("crate::{target}::"))
                            || code.contains(&format!("crate::{target};"))
                            || code.contains(&format!("crate::{target}}}"))
                            || code.contains(&format!("crate::{{{target}"))
                        {
                            let shown = file.strip_prefix(&root).unwrap_or(&file).display();
                            wrong.push(format!("src/{shown}:{}: {module} uses {target}", n + 1));
                        }
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
