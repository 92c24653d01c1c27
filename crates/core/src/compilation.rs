//! The compilation driver: one program through the pipeline — loaded or from text → checked →
//! holes filled → a model picked → reported. Every shell (the command line, training, evolution
//! and its workers, library users) goes through it, so the stages are written once and a
//! program is parsed and checked once per stage. Lowering (`nasc::lower`) takes a model's graph
//! from [`Compilation::model`].

use crate::check::{Checked, check, select_model};
use crate::diag::{Diagnostic, SourceMap, codes};
use crate::ir::Graph;
use crate::program::{BlockEntry, Program};
use crate::report::{Report, report};
use crate::synth::SynthConfig;
use crate::synth::fill::{HoleFill, fill_holes};
use std::fmt;
use std::path::Path;

/// A program that checked without errors (warnings are kept), possibly with its holes filled.
#[derive(Clone, Debug)]
pub struct Compilation {
    pub program: Program,
    pub checked: Checked,
    /// The holes synthesis filled (empty until [`Compilation::fill`], or when there were none).
    pub fills: Vec<HoleFill>,
    /// The source text of the program after filling; `None` when nothing was filled.
    filled_text: Option<String>,
}

/// Why a compilation stopped: its diagnostics (errors, and the warnings found with them) and
/// the sources they point into, for rendering.
#[derive(Clone, Debug)]
pub struct Failure {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: SourceMap,
}

impl Failure {
    fn new(diagnostics: Vec<Diagnostic>, program: &Program) -> Failure {
        Failure { diagnostics, sources: program.sources.clone() }
    }
    /// The first error's message, for callers that report one line.
    pub fn first_message(&self) -> String {
        self.diagnostics.iter().find(|d| d.is_error()).or(self.diagnostics.first()).map_or_else(|| "compilation failed".into(), |d| d.message.clone())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.diagnostics.iter().map(|d| format!("[{}] {}", d.code, d.message)).collect();
        write!(f, "{}", lines.join("; "))
    }
}

/// A model of a compilation: its definition and its checked graph.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    pub entry: &'a BlockEntry,
    pub graph: &'a Graph,
}

impl Model<'_> {
    pub fn name(&self) -> &str {
        &self.entry.def.name.name
    }

    /// The names of the model's tensor parameters (its inputs), in order.
    pub fn input_names(&self) -> Vec<String> {
        self.entry.def.params.iter().filter(|p| matches!(p.ty, crate::syntax::ast::TypeExpr::Tensor(..))).map(|p| p.name.name.clone()).collect()
    }
}

impl Compilation {
    /// Check a loaded program.
    pub fn check(program: Program) -> Result<Compilation, Failure> {
        let checked = check(&program);
        if checked.has_errors() {
            return Err(Failure::new(checked.diagnostics, &program));
        }
        Ok(Compilation { program, checked, fills: Vec::new(), filled_text: None })
    }

    /// Load, parse and check a file and its imports.
    pub fn load(path: &Path) -> Result<Compilation, Failure> {
        Compilation::check(Program::load(path))
    }

    /// Parse and check source text; `use a.b` resolves from the current directory.
    pub fn from_source(name: &str, text: &str) -> Result<Compilation, Failure> {
        Compilation::check(Program::from_source(name, text))
    }

    /// Warnings found while checking.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.checked.diagnostics
    }

    pub fn has_holes(&self) -> bool {
        self.checked.graphs.iter().any(|g| g.holes().next().is_some())
    }

    /// Fill every hole by synthesis (nothing to do without holes). The filled program is checked
    /// again, from its printed text, as `nasc build --emit nas` would print it.
    pub fn fill(self, cfg: &SynthConfig) -> Result<Compilation, Failure> {
        if !self.has_holes() {
            return Ok(self);
        }
        match fill_holes(&self.program, &self.checked, cfg) {
            Ok(f) => Ok(Compilation { program: f.program, checked: f.checked, fills: f.holes, filled_text: Some(f.text) }),
            Err(d) => Err(Failure::new(d, &self.program)),
        }
    }

    /// The root file's text: the filled program's after [`Compilation::fill`].
    pub fn text(&self) -> String {
        match &self.filled_text {
            Some(t) => t.clone(),
            None => self.program.sources.get(self.program.root).map(|s| s.text.clone()).unwrap_or_default(),
        }
    }

    /// The model called `name`, or the only one of the file.
    pub fn model(&self, name: Option<&str>) -> Result<Model<'_>, Failure> {
        let entry = select_model(&self.program, name).map_err(|d| Failure::new(vec![d], &self.program))?;
        match self.checked.graph(&entry.def.name.name) {
            Some(graph) => Ok(Model { entry, graph }),
            None => Err(Failure::new(vec![Diagnostic::error(codes::NoModel, "model was not checked", entry.def.name.span)], &self.program)),
        }
    }

    /// Params, MACs and shapes of a model (`None`: the only model of the file).
    pub fn report(&self, name: Option<&str>) -> Result<Report, Failure> {
        Ok(report(&self.program, self.model(name)?.graph))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_in_order_and_failures_keep_their_sources() {
        let c = Compilation::from_source("m.nas", "model M(x: [B, 8]) -> [B, 4] { return x |> ?<depth >= 1> }").expect("checks");
        assert!(c.has_holes());
        let filled = c.fill(&SynthConfig::default()).expect("fills");
        assert!(!filled.has_holes() && filled.fills.len() == 1);
        assert!(filled.text().contains("dense"), "{}", filled.text());
        assert_eq!(filled.model(None).expect("one model").name(), "M");
        assert!(filled.report(None).expect("reports").params.as_int().is_some());
        let e = Compilation::from_source("bad.nas", "model M(x: [B, 8]) -> [B, 4] { return x |> nope }").unwrap_err();
        assert_eq!(e.diagnostics[0].code, codes::UnknownCallee);
        assert_eq!(e.sources.get(e.diagnostics[0].primary.span.file).map(|f| f.name.as_str()), Some("bad.nas"));
        let none = Compilation::from_source("b.nas", "block B(x: [N, 2]) -> [N, 2] { return x }").expect("checks");
        assert_eq!(none.model(None).unwrap_err().diagnostics[0].code, codes::NoModel);
    }
}
