//! nasc — a compiler for neural-architecture programs.
//!
//! The front end (syntax, checking, properties, synthesis, reports) is the `nasc-core` crate,
//! the burn lowering and training are `nasc-burn`, the evolutionary search is `nasc-evolve`, all
//! re-exported here; this crate adds the language server and the command line.
//!
//! ```
//! let src = "model M(x: [B, 8]) -> [B, 2] { return x |> dense(2) }";
//! let module = nasc::compile("m.nas", src).expect("checks clean");
//! let report = module.report(None).expect("one model");
//! assert_eq!(report.params.as_int(), Some(18));
//! ```

pub use nasc_core::{
    Compilation, Failure, Model, Module, check, compile, compile_file, diag, ir, ops, program, props, report, rewrite, rng, shape, syntax, synth,
};

pub use nasc_burn::{interop, lower, train};
pub use nasc_core::files;
pub use nasc_evolve as evolve;
pub use nasc_native as native;

pub mod cli;
pub mod lsp;
