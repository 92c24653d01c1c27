//! Training one candidate, in this process or in a worker process (`nasc evolve-worker`).
//! Workers isolate candidates from each other and from the controller: burn seeds one RNG per
//! device for the whole process, so trainings sharing a process would share it; a crash or
//! out-of-memory kills only the worker, which the run records as a failed candidate.

use super::store::Outcome;
use super::{Error, TrainFailure, TrainSettings};
use burn::module::Module;
use nasc_burn::lower::lower;
use nasc_burn::train::data::{DataSource, Dataset, Split, load_subset, load_validated, validation_split};
use nasc_burn::train::{Rung, TrainConfig, device, evaluate, stopped_at, train};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;

/// One training job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub source: String,
    pub data: String,
    /// Seed of the train/test split: the run's, so every candidate sees the same split.
    pub data_seed: u64,
    /// Seed of initialisation, data order and dropout: the candidate's.
    pub seed: u64,
    pub train: TrainSettings,
    /// Also measure the test accuracy after training (for the final front only).
    #[serde(default)]
    pub measure_test: bool,
    /// Early-stopping bars, fixed when the job is made.
    #[serde(default)]
    pub rungs: Vec<Rung>,
    /// Also time the trained model compiled to native code (`--objectives latency`).
    #[serde(default)]
    pub measure_latency: bool,
    /// Start from the parent's trained weights where the layers are unchanged (`--inherit`).
    #[serde(default)]
    pub inherit: Option<super::inherit::Inheritance>,
    /// Save the trained weights here (written beside and renamed), for children to inherit.
    #[serde(default)]
    pub save_weights: Option<PathBuf>,
    /// Epochs after which the validation split is evaluated besides the last: the run's rung
    /// epochs, whose accuracies early stopping and guidance read.
    #[serde(default)]
    pub eval_epochs: Vec<usize>,
    /// A full-fidelity retraining: (candidate id, seed index). Names its Ray job.
    #[serde(default)]
    pub final_of: Option<(i64, i64)>,
}

/// What became of a candidate's training.
#[derive(Debug)]
pub enum Verdict {
    Result(Result<Outcome, TrainFailure>),
    /// The cluster could not be asked: the run ends, the candidate stays pending.
    Unreachable(String),
}

/// A caller's own evaluation of a candidate (e.g. another training loop or data set).
pub type EvalFn = dyn Fn(&Job) -> Result<Outcome, TrainFailure> + Send + Sync;

pub enum Evaluator {
    /// Train in the calling thread, one candidate at a time.
    InProcess,
    /// Call this function in the calling thread, one candidate at a time.
    Custom(std::sync::Arc<EvalFn>),
    /// Train each candidate in a child process running this executable's `evolve-worker`.
    Subprocess(PathBuf),
    /// Train each candidate as a job on a Ray cluster.
    Ray(super::ray::RaySettings),
}

/// Set by the command line's SIGTERM / SIGINT handler: the run stops at its next step, its
/// in-flight trainings left pending for `--resume`.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Ask a running search to stop (async-signal-safe: one atomic store).
pub fn request_stop() {
    STOP.store(true, std::sync::atomic::Ordering::SeqCst);
}

pub fn stop_requested() -> bool {
    STOP.load(std::sync::atomic::Ordering::SeqCst)
}

/// The next training result, or an error once a stop was asked for (the trainings in flight
/// stay pending in the store; their workers end with this process).
pub(super) fn next_verdict<T>(rx: &std::sync::mpsc::Receiver<(T, Verdict)>, in_flight: usize) -> Result<(T, Verdict), Error> {
    use std::sync::mpsc::RecvTimeoutError;
    loop {
        if stop_requested() {
            return Err(Error::Stopped(format!("stopped by a signal: {in_flight} training(s) in flight stay pending")));
        }
        match rx.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(v) => return Ok(v),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Err(Error::Stopped("a training worker vanished".to_string())),
        }
    }
}

impl Evaluator {
    /// Start training candidate `id`; its result arrives on `tx`.
    pub fn spawn(&self, id: i64, job: Job, tx: Sender<(i64, Verdict)>) {
        match self {
            Evaluator::InProcess => {
                let r = std::panic::catch_unwind(|| train_job(&job)).unwrap_or_else(|p| Err(panic_text(&p)));
                let _ = tx.send((id, Verdict::Result(r)));
            }
            Evaluator::Custom(f) => {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&job))).unwrap_or_else(|p| Err(panic_text(&p)));
                let _ = tx.send((id, Verdict::Result(r)));
            }
            Evaluator::Subprocess(exe) => {
                let exe = exe.clone();
                std::thread::spawn(move || {
                    let _ = tx.send((id, Verdict::Result(run_worker(&exe, &job))));
                });
            }
            Evaluator::Ray(cfg) => {
                let cfg = cfg.clone();
                std::thread::spawn(move || {
                    let _ = tx.send((id, super::ray::train(&cfg, id, &job, std::time::Duration::from_millis(500))));
                });
            }
        }
    }

    /// Trainings in separate processes or machines can run several at once.
    pub fn parallel(&self) -> bool {
        matches!(self, Evaluator::Subprocess(_) | Evaluator::Ray(_))
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> TrainFailure {
    let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
    TrainFailure(format!("training panicked: {}", msg.unwrap_or_default()))
}

fn run_worker(exe: &PathBuf, job: &Job) -> Result<Outcome, TrainFailure> {
    let mut child = Command::new(exe)
        .arg("evolve-worker")
        .env("RAYON_NUM_THREADS", job.train.threads.max(1).to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start a worker ({}): {e}", exe.display()))?;
    // Keep stdin open while the worker trains: it exits when the pipe closes, i.e. when this
    // controller dies, so a killed run leaves no orphaned trainings behind.
    let mut stdin = child.stdin.take().ok_or("no worker stdin")?;
    let line = serde_json::to_string(job).map_err(|e| e.to_string())? + "\n";
    stdin.write_all(line.as_bytes()).map_err(|e| format!("cannot talk to the worker: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("worker: {e}"))?;
    drop(stdin);
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().last().map(serde_json::from_str::<Result<Outcome, TrainFailure>>) {
        Some(Ok(r)) => r,
        _ => {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(3).collect();
            Err(TrainFailure(format!("the worker died ({}): {}", out.status, tail.into_iter().rev().collect::<Vec<_>>().join(" / "))))
        }
    }
}

/// The worker process: train one job, print the result as one JSON line. The job comes as
/// base64 JSON on the command line (a Ray job's entrypoint), or as one line on stdin (a local
/// worker, which then also exits when the controller dies and closes the pipe).
pub fn worker_main(job_arg: Option<&str>) -> std::process::ExitCode {
    let line = match job_arg {
        Some(b64) => match super::ray::unbase64(b64).map(String::from_utf8) {
            Ok(Ok(text)) => text,
            _ => {
                println!("{}", serde_json::to_string(&Err::<Outcome, _>(TrainFailure("bad job: --job is not base64 UTF-8".into()))).unwrap_or_default());
                return std::process::ExitCode::FAILURE;
            }
        },
        None => {
            let mut line = String::new();
            let mut stdin = std::io::stdin().lock();
            if stdin.read_line(&mut line).is_err() {
                return std::process::ExitCode::FAILURE;
            }
            drop(stdin);
            std::thread::spawn(|| {
                let mut rest = Vec::new();
                let _ = std::io::stdin().read_to_end(&mut rest);
                std::process::exit(3);
            });
            line
        }
    };
    let result = match serde_json::from_str::<Job>(&line) {
        Ok(job) => train_job(&job),
        Err(e) => Err(TrainFailure(format!("bad job: {e}"))),
    };
    println!("{}", serde_json::to_string(&result).unwrap_or_default());
    std::process::ExitCode::SUCCESS
}

/// Train one candidate and measure it.
pub fn train_job(job: &Job) -> Result<Outcome, TrainFailure> {
    let started_at = super::store::now();
    let c = super::source::compile(&job.source).map_err(|f| format!("the candidate does not check: {}", f.first_message()))?;
    let graph = c.model(None).map_err(|f| f.first_message())?.graph;
    let (data, test) = job_data(job).map_err(|e| e.to_string())?;
    let dev = device(&job.train.device)?.autodiff();
    dev.seed(job.seed);
    let mut net = lower(graph, &dev).map_err(|e| e.to_string())?;
    let inherited = match &job.inherit {
        Some(from) => Some(super::inherit::inherit(&mut net, graph, from, &dev)? as i64),
        None => None,
    };
    let t = &job.train;
    // One epoch of warm-up asked, as `nasc train`'s default.
    let cfg =
        TrainConfig { time_budget: t.time_budget, rungs: job.rungs.clone(), eval_epochs: Some(job.eval_epochs.clone()), ..t.recipe.config(1.0, job.seed) };
    let start = std::time::Instant::now();
    // One training per worker process, so running it on rayon's workers is safe (see `on_workers`).
    let (net, metrics) = nasc_burn::train::on_workers(|| train(net, &data, &cfg, &dev, &mut |_, _, _, _| {})).map_err(|e| e.to_string())?;
    if let Some(path) = &job.save_weights {
        save_weights(&net.valid(), path, &data.normalisation)?;
    }
    let test_accuracy =
        test.as_ref().filter(|_| job.measure_test).map(|t| evaluate(&net.valid(), t, &data, nasc_burn::train::EVAL_BATCH, &dev.clone().inner()).1);
    let last = metrics.last().ok_or("no epoch ran")?;
    let mut speeds: Vec<f64> = metrics.iter().skip(usize::from(metrics.len() > 1)).map(|m| m.images_per_sec).collect();
    speeds.sort_by(f64::total_cmp);
    let accuracy_key = if test.is_some() { "val_accuracy" } else { "test_accuracy" };
    // Epochs that were not evaluated (see `eval_epochs`) have no accuracy in the curve.
    let curve: Vec<serde_json::Value> = metrics
        .iter()
        .map(|m| match m.test_accuracy {
            a if a.is_nan() => serde_json::json!({ "epoch": m.epoch, "train_loss": m.train_loss }),
            a => serde_json::json!({ "epoch": m.epoch, "train_loss": m.train_loss, accuracy_key: a }),
        })
        .collect();
    Ok(Outcome {
        accuracy: last.test_accuracy,
        test_accuracy,
        stopped_at: stopped_at(&job.rungs, &metrics),
        curve: serde_json::to_string(&curve).unwrap_or_default(),
        throughput: speeds[speeds.len() / 2],
        train_seconds: start.elapsed().as_secs_f64(),
        started_at: Some(started_at),
        eval_seconds: Some(metrics.iter().map(|m| m.eval_seconds).sum()),
        inherited,
        latency_ms: if job.measure_latency { Some(compiled_latency(graph, &net)?) } else { None },
    })
}

/// The data a job trains on (its `test` split is the validation split where the run has one)
/// and the real test split beside it.
fn job_data(job: &Job) -> Result<(Dataset, Option<Split>), TrainFailure> {
    let src: DataSource = job.data.parse()?;
    let t = &job.train;
    if let Some(n) = t.val_size {
        let (d, test) = load_validated(&src, job.data_seed, t.train_subset, n).map_err(|e| e.to_string())?;
        return Ok((d, Some(test)));
    }
    // Stores from before `val_size`: the validation split is a share of the training subset.
    let data = load_subset(&src, job.data_seed, t.train_subset).map_err(|e| e.to_string())?;
    if t.val_fraction > 0.0 {
        let (d, test) = validation_split(data, t.val_fraction, job.data_seed).map_err(|e| e.to_string())?;
        return Ok((d, Some(test)));
    }
    Ok((data, None))
}

/// Median batch-1 latency (ms) of the model compiled by cranelift, on this worker's thread.
fn compiled_latency(graph: &nasc_core::ir::Graph, net: &nasc_burn::lower::Net) -> Result<f64, TrainFailure> {
    let (_, mut jit) = nasc_native::compile(graph, net).map_err(|e| format!("cannot compile the candidate to native code for its latency: {e}"))?;
    Ok(jit.latency(50, 5, false).0)
}

/// A candidate's trained weights, atomically: safetensors (with the input normalisation) when
/// the path says so, else burn's record.
fn save_weights(net: &nasc_burn::lower::Net, path: &std::path::Path, norm: &nasc_burn::train::data::Normalisation) -> Result<(), TrainFailure> {
    use nasc_burn::interop::weights;
    let written = if weights::is_safetensors(path) {
        let mut ts = weights::tensors(net);
        ts.extend(weights::normalisation_tensors(norm));
        weights::safetensors_bytes(&ts, &[]).and_then(|b| crate::files::write_atomic(path, &b).map_err(|e| e.to_string()))
    } else {
        crate::files::replace_via_temp(path, |tmp| net.clone().save_file(tmp).map_err(|e| std::io::Error::other(e.to_string()))).map_err(|e| e.to_string())
    };
    written.map_err(|e| TrainFailure(format!("cannot save the trained weights to {}: {e}", path.display())))
}
