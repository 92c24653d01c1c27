//! Parse + check speed: resnet50.nas and a generated 5,000-line program, its blocks independent
//! and nested 25 deep; complete checks (`nasc build`, `nasc props`) and shallow ones (`nasc check`,
//! the language server); and the hostile shapes of issue 35 that were quadratic (100,000 model
//! parameters, 64,000 lines with trailing comments, 100,000 names unpacked on one line, with
//! their diagnostics rendered).
//! Run: cargo bench --bench check
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

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
    hostile(c);
}

/// Check (and render the diagnostics of) inputs of hostile shapes.
fn hostile(c: &mut Criterion) {
    let params: Vec<String> = (0..100_000).map(|i| format!("p{i}: int = {i}")).collect();
    let comments: String = (0..64_000).map(|_| "    let x = x |> relu // c\n").collect();
    let names: Vec<String> = (0..100_000).map(|i| format!("a{i}")).collect();
    let cases = [
        ("100,000 model parameters", format!("model M(x: [B, 8], {}) -> [B, 8] {{\n    return x\n}}\n", params.join(", "))),
        ("64,000 trailing comments", format!("model M(x: [B, 8]) -> [B, 8] {{\n{comments}    return x\n}}\n")),
        ("100,000 names on one line", format!("model M(x: [B, 8]) -> [B, 8] {{\n    let ({}) = x |> split(100000)\n    return x\n}}\n", names.join(", "))),
    ];
    let mut g = c.benchmark_group("hostile");
    g.sample_size(10);
    for (name, text) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| {
                let prog = Program::from_source("h.nas", black_box(text));
                let checked = nasc::check::check_shallow(&prog);
                nasc::diag::render_all(&checked.diagnostics, &prog.sources, false).len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
