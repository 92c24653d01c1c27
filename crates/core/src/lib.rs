//! nasc-core — the compiler without a backend: syntax, diagnostics, shapes, the op catalog, the
//! graph IR, the checker, program properties, synthesis and reports. No burn, SQLite or clap;
//! `cargo test -p nasc-core` builds and tests it in seconds.
//!
//! ```
//! let src = "model M(x: [B, 8]) -> [B, 2] { return x |> dense(2) }";
//! let module = nasc_core::compile("m.nas", src).expect("checks clean");
//! let report = module.report(None).expect("one model");
//! assert_eq!(report.params.as_int(), Some(18));
//! ```

pub mod check;
pub mod diag;
pub mod ir;
pub mod ops;
pub mod program;
pub mod props;
pub mod report;
pub mod rng;
pub mod shape;
pub mod syntax;
pub mod synth;

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, unused_parens, dead_code)]
    grammar,
    "/nas.rs"
);

use diag::Diagnostic;
use program::Program;

/// A checked program: its sources, ASTs and one graph per block and model.
#[derive(Clone, Debug)]
pub struct Module {
    pub program: Program,
    pub checked: check::Checked,
}

impl Module {
    /// Warnings found while checking (errors make `compile` fail).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.checked.diagnostics
    }
    /// Params, MACs and shapes of a model (`None`: the only model of the file).
    pub fn report(&self, model: Option<&str>) -> Result<report::Report, Diagnostic> {
        let entry = check::select_model(&self.program, model)?;
        let graph =
            self.checked.graph(&entry.def.name.name).ok_or_else(|| Diagnostic::error(diag::codes::NoModel, "model was not checked", entry.def.name.span))?;
        Ok(report::report(&self.program, graph))
    }
}

/// Parse and check source text. Imports (`use std.resnet`) are resolved from the stdlib and,
/// for other paths, from the current directory.
pub fn compile(name: &str, source: &str) -> Result<Module, Vec<Diagnostic>> {
    finish(Program::from_source(name, source))
}

/// Parse and check a file and its imports.
pub fn compile_file(path: &std::path::Path) -> Result<Module, Vec<Diagnostic>> {
    finish(Program::load(path))
}

fn finish(program: Program) -> Result<Module, Vec<Diagnostic>> {
    let checked = check::check(&program);
    if checked.has_errors() {
        return Err(checked.diagnostics);
    }
    Ok(Module { program, checked })
}
