//! Native code: `nasc build --emit object` and `nasc bench --latency`.

use crate::Compilation;
use crate::ir::Graph;
use crate::lower::{Net, RANK, lower, padded_dims};
use crate::native::plan::{Plan, plan_normalised};
use crate::native::{header, object, time_runs};
use burn::tensor::{Device, Distribution, Tensor};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

/// A checked, filled model lowered on the CPU, with trained weights when given (else freshly
/// initialised from `seed`).
pub struct Loaded {
    pub graph: Graph,
    pub net: Net,
    pub name: String,
}

pub fn load_model(file: &Path, model: Option<&str>, weights: Option<&Path>, seed: u64, color: bool) -> Result<Loaded, ExitCode> {
    let c = super::train_cmd::filled(file, seed, color)?;
    loaded(&c, model, weights, seed).map_err(|e| e.unwrap_or_else(|f| super::train_cmd::shown(&f, color)))
}

/// The model of a filled compilation, lowered, with its weights. `Err(Ok(code))`: reported.
pub(super) fn loaded(c: &Compilation, model: Option<&str>, weights: Option<&Path>, seed: u64) -> Result<Loaded, Result<ExitCode, crate::Failure>> {
    let m = c.model(model).map_err(Err)?;
    let dev = Device::flex();
    dev.seed(seed);
    let net = lower(m.graph, &dev).map_err(|e| Ok(fail(e)))?;
    let net = match weights {
        Some(w) => crate::interop::weights::load_file(net, w, crate::interop::weights::MatchBy::Name).map_err(|e| Ok(fail(e)))?,
        None => net,
    };
    Ok(Loaded { graph: m.graph.clone(), net, name: m.name().to_string() })
}

/// Where `--emit object` writes, and with which weights and name.
pub struct ObjectOut<'a> {
    pub weights: Option<&'a Path>,
    pub out: Option<&'a Path>,
    pub symbol: &'a str,
}

/// The plan of `l`, normalising its input as the weights were trained (see
/// `interop::weights::normalisation_for`) when `weights` carries that.
fn planned(l: &Loaded, weights: Option<&Path>) -> Result<Plan, ExitCode> {
    let norm = weights.and_then(crate::interop::weights::normalisation_for);
    if let Some(n) = &norm {
        eprintln!("the compiled function normalises its input as the weights were trained (per channel: mean {:?}, std {:?})", n.mean, n.std);
    }
    plan_normalised(&l.graph, &l.net, norm.as_ref()).map_err(|e| fail(format!("cannot compile `{}` to native code: {e}", l.name)))
}

/// `nasc build FILE --emit object -o OUT`: OUT and its C header OUT.h, from the filled `c`.
pub fn emit_object(c: &Compilation, file: &Path, model: Option<&str>, o: &ObjectOut, seed: u64) -> ExitCode {
    let (weights, symbol) = (o.weights, o.symbol);
    let Some(out) = o.out else {
        return fail("--emit object writes a file: give it with -o (e.g. -o model.o; the C header goes beside it as model.h)");
    };
    let l = match loaded(c, model, weights, seed) {
        Ok(l) => l,
        Err(Ok(code)) => return code,
        Err(Err(f)) => return fail(f.first_message()),
    };
    if weights.is_none() {
        eprintln!("warning: no --weights: the object file embeds freshly initialised weights (seed {seed}), not trained ones");
    }
    let p = match planned(&l, weights) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let t0 = Instant::now();
    let bytes = match object(&p, symbol) {
        Ok(b) => b,
        Err(e) => return fail(format!("cannot compile `{}` to native code: {e}", l.name)),
    };
    let h = out.with_extension("h");
    let text = header(&p, symbol, &l.name, &file.display().to_string());
    for (path, data) in [(out, bytes.as_slice()), (h.as_path(), text.as_bytes())] {
        if let Err(e) = crate::files::write_atomic(path, data) {
            return fail(format!("cannot write {}: {e}", path.display()));
        }
    }
    eprintln!(
        "wrote {} ({} bytes, compiled in {:.0} ms) and {}: `void {symbol}(const float *input, float *output, size_t batch)`, needing nothing else at link time",
        out.display(),
        bytes.len(),
        t0.elapsed().as_secs_f64() * 1e3,
        h.display()
    );
    ExitCode::SUCCESS
}

/// One model's latency figures.
pub struct Latency {
    pub compile_ms: f64,
    pub native: (f64, f64),
    pub burn: (f64, f64),
    /// With `profile`: per step of the compiled pass, (what it computes, mean ms per example).
    pub steps: Vec<(String, f64)>,
}

/// JIT-compile `l` once and time batch-1 forward passes of the compiled code and of burn (and,
/// with `profile`, each compiled step).
pub fn measure(l: &Loaded, runs: usize, warmup: usize, cpu: bool, profile: bool) -> Result<Latency, String> {
    let (p, mut jit) = crate::native::compile(&l.graph, &l.net).map_err(|e| format!("cannot compile `{}` to native code: {e}", l.name))?;
    let native = jit.latency(runs, warmup, cpu);
    let dev = Device::flex();
    let xt = Tensor::<RANK>::random(padded_dims(&p.input.shape), Distribution::Normal(0.0, 1.0), &dev);
    let burn = time_runs(runs, warmup, cpu, || {
        let y = l.net.forward(vec![xt.clone()]);
        std::hint::black_box(y.into_iter().next().map(|t| t.into_data()));
    });
    let steps = if profile {
        let x = vec![0.5f32; jit.input_len];
        jit.profile(&x, runs).into_iter().map(|(s, ms)| (s, ms / runs.max(1) as f64)).collect()
    } else {
        vec![]
    };
    Ok(Latency { compile_ms: jit.compile_time.as_secs_f64() * 1e3, native, burn, steps })
}

/// How `nasc bench --latency` measures and reports.
pub struct How {
    pub runs: usize,
    pub cpu: bool,
    pub profile: bool,
    pub json: bool,
}

pub fn latency(files: &[std::path::PathBuf], weights: Option<&Path>, how: &How, color: bool) -> ExitCode {
    let &How { runs, cpu, json, .. } = how;
    if weights.is_some() && files.len() != 1 {
        return fail("--weights belongs to one model: give one file with it");
    }
    for file in files {
        let l = match load_model(file, None, weights, 0, color) {
            Ok(l) => l,
            Err(code) => return code,
        };
        let m = match measure(&l, runs, runs / 10 + 3, cpu, how.profile) {
            Ok(m) => m,
            Err(e) => return fail(e),
        };
        let threads = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse::<usize>().ok());
        let steps = &m.steps;
        if json {
            let v = serde_json::json!({
                "model": l.name, "batch": 1, "runs": runs, "clock": if cpu { "thread cpu" } else { "wall" }, "compile_ms": m.compile_ms,
                "native_ms": {"median": m.native.0, "p95": m.native.1},
                "burn_ms": {"median": m.burn.0, "p95": m.burn.1},
                "burn_threads": threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                "steps": steps.iter().map(|(s, ms)| serde_json::json!({"step": s, "ms": ms})).collect::<Vec<_>>(),
            });
            println!("{v}");
        } else {
            println!(
                "{:<20} native {:>9.3} ms (p95 {:>9.3})   burn {:>9.3} ms (p95 {:>9.3})   {:>5.2}× faster   compiled in {:.0} ms",
                l.name,
                m.native.0,
                m.native.1,
                m.burn.0,
                m.burn.1,
                m.burn.0 / m.native.0.max(1e-9),
                m.compile_ms
            );
            let total: f64 = steps.iter().map(|s| s.1).sum();
            for (s, ms) in steps {
                println!("    {:>6.1} %  {:>8.4} ms  {s}", 100.0 * ms / total.max(1e-12), ms);
            }
        }
    }
    ExitCode::SUCCESS
}
