//! Synthesis time per hole by target depth, progressive vs enumerative on the same holes.
//! Run: cargo bench --bench synth   (medians in target/criterion/synth-depth-*/)
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use nasc::ops::mixing::{Level, Mixing};
use nasc::props::Target;
use nasc::shape::{Dim, Shape};
use nasc::synth::{Mode, SynthConfig, synthesize};
use std::hint::black_box;
use std::time::Duration;

/// The paper's Fig. 1 kind of hole: [B, N, D] → [B, N, D], dense-like mixing, depth >= d.
fn hole(depth: u32) -> Target {
    let input = Shape(vec![Dim::sym("B"), Dim::int(197), Dim::int(384)]);
    let mut m = Mixing::identity(3);
    m.set_row(2, Level::A);
    Target { depth_min: Some(depth), mixing: Some(m), ..Target::shape_only(&input, &input) }
}

fn bench(c: &mut Criterion) {
    for depth in 2..=8u32 {
        let t = hole(depth);
        let mut g = c.benchmark_group(format!("synth-depth-{depth}"));
        g.sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2));
        for mode in [Mode::Progressive, Mode::Greedy, Mode::Enumerative] {
            let mut seed = 0u64;
            g.bench_with_input(BenchmarkId::new(format!("{mode:?}").to_lowercase(), depth), &t, |b, t| {
                b.iter(|| {
                    seed += 1;
                    let cfg = SynthConfig { mode, seed, ..Default::default() };
                    black_box(synthesize(t, &cfg).expect("feasible"))
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
