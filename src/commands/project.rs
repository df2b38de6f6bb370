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
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    let sources = Sources::load(dir)
        .with_context(|| format!("could not read the project in {}", dir.display()))?;
    let compilation = ward_compiler::compile(&sources);
    Ok(Compiled {
        sources,
        compilation,
    })
}

impl Compiled {
    /// Print every diagnostic to stderr, in colour when stderr is a terminal.
    pub fn print_diagnostics(&self) {
        let diagnostics = &self.compilation.diagnostics;
        if diagnostics.is_empty() {
            return;
        }
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        eprint!(
            "{}",
            ward_compiler::render_diagnostics(diagnostics, &self.sources, color)
        );
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
