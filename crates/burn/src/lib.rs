//! nasc-burn — a checked graph lowered to a burn module (and to standalone Rust), and its
//! training: data sets, the training loop, devices. Built on `nasc-core`; knows nothing of the
//! evolution, the language server or the command line.

pub mod interop;
pub mod lower;
pub mod train;
