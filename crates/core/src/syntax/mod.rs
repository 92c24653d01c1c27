//! Text to AST and back: the logos lexer, the lalrpop parser, comments, the printer.

pub mod ast;
mod comments;
#[cfg(any(test, feature = "generate"))]
pub mod generate;
pub mod lexer;
pub mod parser;
pub mod print;
#[doc(hidden)]
/// Random well-typed programs for property tests, fuzzing and benchmarks.
pub mod visit;

pub use parser::{decode, parse, parse_expr};
pub use print::print_file;
