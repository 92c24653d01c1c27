#!/bin/sh
# The CUDA build, type-checked and linted without a GPU or the network beyond the package
# registries (cubecl-llvm is stubbed: crates/cubecl-llvm-stub): about 10 minutes on 2 cores from
# a clean target directory, which is why CI leaves it out. Run it after touching code under
# `#[cfg(feature = "cuda")]` or the GPU dependencies.
set -eu
cd "$(dirname "$0")/.."
cargo clippy -p nasc-burn --features cuda,wgpu --lib --tests -- -D warnings
