//! ward's compiler: KDL resource files → a checked, fully resolved [`ward_ir::Ir`].
//!
//! Pipeline: `syntax` (KDL v2 → typed AST with spans) → `sema` (names → types → policies, all
//! errors collected) → `lower_ir` (deterministic IR with its hash). The only I/O is reading the
//! project's files in [`Sources::load`].

#![forbid(unsafe_code)]

pub mod diagnostics;
mod lower_ir;
pub mod origin;
pub mod policy;
mod sema;
mod syntax;

use std::path::Path;

pub use diagnostics::render::{diagnostics_json, render_diagnostics};
pub use diagnostics::{Diagnostic, Label, Severity, Span};

/// One source file: its path relative to the project directory, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// The source files of a project, in sorted path order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub(crate) files: Vec<SourceFile>,
}

impl Sources {
    /// Every `*.kdl` under `dir`, recursively, in sorted path order, except the top-level
    /// `tests/` folder and hidden folders (`.ward/`, `.git/`, …).
    pub fn load(dir: &Path) -> std::io::Result<Sources> {
        let mut paths = Vec::new();
        walk(dir, dir, &mut paths)?;
        paths.sort();
        let mut files = Vec::new();
        for rel in paths {
            let bytes = std::fs::read(dir.join(&rel))?;
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push(SourceFile {
                name,
                text: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        Ok(Sources { files })
    }

    /// One in-memory file (tests, editors).
    pub fn single(name: &str, text: &str) -> Sources {
        Sources {
            files: vec![SourceFile {
                name: name.to_owned(),
                text: text.to_owned(),
            }],
        }
    }

    /// Several in-memory files, kept in the given order.
    pub fn from_files(files: Vec<SourceFile>) -> Sources {
        Sources { files }
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        let file_type = e.file_type()?;
        if file_type.is_dir() {
            if name.starts_with('.') || (dir == root && name == "tests") {
                continue;
            }
            walk(root, &path, out)?;
        } else if path.extension().is_some_and(|x| x == "kdl")
            && let Ok(rel) = path.strip_prefix(root)
        {
            out.push(rel.to_path_buf());
        }
    }
    Ok(())
}

/// The result of a compile: the IR when there are no errors, and every diagnostic.
#[derive(Debug, Clone)]
pub struct Compilation {
    pub ir: Option<ward_ir::Ir>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| !d.is_error()).count()
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

/// Compile a project. Never panics; reports every error it can find.
pub fn compile(sources: &Sources) -> Compilation {
    let mut diags = diagnostics::Diags::default();
    let mut project = syntax::ast::Project::default();
    for (i, f) in sources.files.iter().enumerate() {
        syntax::parse::parse_file(i, &f.text, &mut diags, &mut project);
    }
    let (syms, tables, actions, spans) = sema::check(&project, &mut diags);
    let ir = (!diags.has_errors())
        .then(|| lower_ir::finish(&syms, tables, actions, lower_ir::locate(&spans, sources)));
    Compilation {
        ir,
        diagnostics: diags.finish(),
    }
}
