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
mod compilation;
pub mod diag;
pub mod files;
pub mod ir;
pub mod ops;
pub mod program;
pub mod props;
pub mod report;
pub mod rewrite;
pub mod rng;
pub mod shape;
pub mod syntax;
pub mod synth;

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::unwrap_used, clippy::expect_used, unused_parens, dead_code)]
    grammar,
    "/nas.rs"
);

pub use compilation::{Compilation, Failure, Model};

/// The name the library has used for a checked program.
pub type Module = Compilation;

/// Parse and check source text. Imports (`use std.resnet`) are resolved from the stdlib and,
/// for other paths, from the current directory.
pub fn compile(name: &str, source: &str) -> Result<Compilation, Failure> {
    Compilation::from_source(name, source)
}

/// Parse and check a file and its imports.
pub fn compile_file(path: &std::path::Path) -> Result<Compilation, Failure> {
    Compilation::load(path)
}
