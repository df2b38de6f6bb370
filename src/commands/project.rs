//! Loading and compiling a project directory, shared by every command that needs the IR.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use ward_compiler::{Compilation, Sources};

/// A project whose sources were read, compiled, and whose diagnostics were not yet shown.
pub struct Compiled {
    pub sources: Sources,
    pub compilation: Compilation,
}

pub fn compile_dir(dir: &Path) -> anyhow::Result<Compiled> {
    Ok(compile(load(dir)?))
}

/// The project's resource files. A directory without any is an error, not an empty project:
/// it is almost always the wrong directory, and serving it would answer 404 to everything.
pub fn load(dir: &Path) -> anyhow::Result<Sources> {
    if dir.is_file() {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        anyhow::bail!(
            "{} is a file; ward reads a project directory (every .kdl file under it): did you mean {}?",
            dir.display(),
            shell_word(parent)
        );
    }
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    let sources = Sources::load(dir)
        .with_context(|| format!("could not read the project in {}", dir.display()))?;
    if sources.files().is_empty() {
        anyhow::bail!(
            "no .kdl files in {}: a ward project is a directory of resource files (hidden folders and the top-level tests/ are not read)",
            dir.display()
        );
    }
    Ok(sources)
}

pub fn compile(sources: Sources) -> Compiled {
    let compilation = ward_compiler::compile(&sources);
    Compiled {
        sources,
        compilation,
    }
}

/// `path` as one word a shell reads back as the same path: quoted when it holds anything but
/// plain characters, so a printed command can be copied as is.
pub fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%=,".contains(c));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

impl Compiled {
    /// Print every diagnostic to stderr, in colour when stderr is a terminal.
    pub fn print_diagnostics(&self) {
        eprint!("{}", self.rendered_diagnostics());
    }

    /// Every diagnostic as `ward check` prints it (empty when there are none).
    pub fn rendered_diagnostics(&self) -> String {
        let diagnostics = &self.compilation.diagnostics;
        if diagnostics.is_empty() {
            return String::new();
        }
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        ward_compiler::render_diagnostics(diagnostics, &self.sources, color)
    }

    /// The IR when the project compiled; otherwise print the diagnostics and say how many errors.
    pub fn into_ir(self) -> anyhow::Result<ward_ir::Ir> {
        self.print_diagnostics();
        let errors = self.compilation.error_count();
        self.compilation.ir.ok_or_else(|| {
            anyhow::anyhow!("the project has {errors} error(s); run `ward check` for details")
        })
    }
}
