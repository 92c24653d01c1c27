//! Parse + check speed: resnet50.nas and a generated 5,000-line program, its blocks independent
//! and nested 25 deep; complete checks (`nasc build`, `nasc props`) and shallow ones (`nasc check`,
//! the language server).
//! Run: cargo bench --bench check

use criterion::{Criterion, criterion_group, criterion_main};
use nasc::check::Checked;
use nasc::program::Program;
use nasc::syntax::generate::nested_program;
use std::hint::black_box;

fn parse_and_check(name: &str, text: &str, check: fn(&Program) -> Checked) -> usize {
    let prog = Program::from_source(name, text);
    let checked = check(&prog);
    assert!(!checked.has_errors());
    checked.graphs.iter().map(|g| g.nodes.len()).sum()
}

fn bench(c: &mut Criterion) {
    let resnet = std::fs::read_to_string("examples/resnet50.nas").expect("run from the package root");
    let mut g = c.benchmark_group("parse+check");
    for (mode, check) in [("complete", nasc::check::check as fn(&Program) -> Checked), ("shallow", nasc::check::check_shallow)] {
        g.bench_function(format!("{mode}/resnet50.nas"), |b| b.iter(|| parse_and_check("resnet50.nas", black_box(&resnet), check)));
        for depth in [1, 25] {
            let big = nested_program(5000, depth);
            let name = format!("{mode}/generated {} lines, blocks nested {depth} deep", big.lines().count());
            g.bench_function(name, |b| b.iter(|| parse_and_check("big.nas", black_box(&big), check)));
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
