//! Controller overhead per candidate in `nasc evolve`: select a parent (Algorithm 2) from a
//! population of 200, mutate it (alpha: infer, mutate properties, synthesize, check), size the
//! child, and write it to the SQLite store in one transaction.
//! Run: cargo bench --bench evolve   (medians in target/criterion/evolve-controller/)
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use nasc::evolve::mutate::{MutationConfig, Strategy, mutate};
use nasc::evolve::report::size;
use nasc::evolve::seed_source;
use nasc::evolve::select::{Individual, SelectionConfig, select_parent};
use nasc::evolve::store::{Record, Store};
use nasc::rng::Rng;
use std::path::Path;
use std::time::Duration;

fn record(id: i64, source: &str, mutation: &str) -> Record {
    Record { seed: id, ..Record::new(id, Some(0), "alpha", mutation, source.into(), String::new(), "{}".into()) }
}

fn bench(c: &mut Criterion) {
    let pop: Vec<Individual> = (0..200)
        .map(|i| Individual {
            id: i,
            accuracy: 0.5 + (i % 13) as f64 / 30.0,
            params: 1e4 + (i * 7919 % 1000) as f64 * 100.0,
            macs: 1e6,
            throughput: 0.0,
            latency: 1.0,
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("nasc-bench-evolve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut g = c.benchmark_group("evolve-controller");
    g.sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(4));
    for name in ["cnn_digits", "resnet34_cifar"] {
        let parent = seed_source(Path::new(&format!("examples/{name}.nas"))).expect("the example checks");
        let mut store = Store::create(&dir.join(format!("{name}.sqlite")), "{}").expect("a fresh store");
        let (mut k, cfg, sel) = (0i64, MutationConfig::default(), SelectionConfig::default());
        g.bench_with_input(BenchmarkId::new("select+mutate+size+store", name), &parent, |b, parent| {
            b.iter(|| {
                k += 1;
                let mut rng = Rng::new(k as u64);
                let _ = select_parent(&pop, &sel, &mut rng);
                let (text, what) = match mutate(parent, Strategy::Alpha, &cfg, &mut rng) {
                    Ok(m) => (m.text, m.description),
                    Err(e) => (parent.clone(), e.0),
                };
                let _ = size(&text);
                store.insert(&record(k, &text, &what)).expect("insert");
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
