//! Parse + check speed: resnet50.nas and a generated 5,000-line program.
//! Run: cargo bench --bench check

use criterion::{Criterion, criterion_group, criterion_main};
use nasc::program::Program;
use nasc::syntax::generate::large_program;
use std::hint::black_box;

fn parse_and_check(name: &str, text: &str) -> usize {
    let prog = Program::from_source(name, text);
    let checked = nasc::check::check(&prog);
    assert!(!checked.has_errors());
    checked.graphs.iter().map(|g| g.nodes.len()).sum()
}

fn bench(c: &mut Criterion) {
    let resnet = std::fs::read_to_string("examples/resnet50.nas").expect("run from the package root");
    let big = large_program(5000);
    let mut g = c.benchmark_group("parse+check");
    g.bench_function("resnet50.nas", |b| b.iter(|| parse_and_check("resnet50.nas", black_box(&resnet))));
    g.bench_function(format!("generated {} lines", big.lines().count()), |b| b.iter(|| parse_and_check("big.nas", black_box(&big))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
