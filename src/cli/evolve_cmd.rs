//! `nasc evolve`: start, resume, summarise and export evolutionary searches.

use super::train_cmd::TrainFlags;
use crate::evolve::early_stop::EarlyStop;
use crate::evolve::guidance::{self, Mode as GuidanceMode};
use crate::evolve::mutate::{MutationConfig, Strategy};
use crate::evolve::ray::RaySettings;
use crate::evolve::report::{csv, front_table, json, status_text, write_outputs};
use crate::evolve::select::{Objective, SelectionConfig};
use crate::evolve::store::Status;
use crate::evolve::{Evaluator, Event, Evolution, Finish, Settings, TrainSettings, seed_source};
use crate::train::data::DataSource;
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    Local,
    Ray,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExportFormat {
    /// Every candidate as CSV on stdout.
    Csv,
    /// The settings, every candidate and the final retrainings as JSON on stdout.
    Json,
    /// Every Pareto-front member as a PyTorch module (`candidate_NNNN.py`) with its trained
    /// weights as safetensors when the run kept them (`--inherit`), into --out (default
    /// <store>.pareto/).
    Torch,
    /// Every Pareto-front member as an ONNX model (`candidate_NNNN.onnx`) with its kept
    /// weights (`--inherit`; else freshly initialised ones), into --out.
    Onnx,
}

#[derive(Args, Debug)]
#[command(after_long_help = "Examples:\n  \
    nasc evolve examples/cnn_digits.nas --data digits --trials 30 --epochs 3\n  \
    nasc evolve --resume evolve-cnn_digits.sqlite      # continue a stopped or killed run\n  \
    nasc evolve --status evolve-cnn_digits.sqlite      # summary and Pareto front\n  \
    nasc evolve --export csv --store evolve-cnn_digits.sqlite > candidates.csv\n\n\
    The same seed gives the same store whatever --jobs is and however often the run was \
    killed and resumed (unless --time-budget or the throughput or latency objective is used: those depend on timing).")]
pub struct EvolveArgs {
    /// The seed architecture (.nas, one model, no holes).
    #[arg(required_unless_present_any = ["resume", "status", "export", "finalize"])]
    pub file: Option<PathBuf>,
    /// Data: `digits`, `mnist:DIR`, `fashion` (the official Fashion-MNIST from Debian's
    /// `dataset-fashion-mnist`), `fashion:DIR`, `cifar10:DIR`, `npz:FILE` or `images:DIR`
    /// (image folders, decoded at the seed model's input size).
    #[arg(long)]
    pub data: Option<DataSource>,
    /// Candidates to create, the seed included.
    #[arg(long, default_value_t = 30, value_parser = super::num::count)]
    pub trials: usize,
    /// Training epochs per candidate (default: 2 on a training set of 20,000 images or more,
    /// where candidates train on a 5,000-image subset unless --train-subset says otherwise;
    /// else 3). That budget ranked a search's candidates as full-fidelity training does
    /// (Spearman 0.90, docs/search.md).
    #[arg(long, value_parser = super::num::count)]
    pub epochs: Option<usize>,
    /// Images of the training set held out (seeded, stratified, fixed for the whole run) as the
    /// validation split that selection and the Pareto front use; drawn before any
    /// --train-subset, so candidates never train on it. Default: 5,000 where the training set
    /// has at least 20,000 images, else a tenth of it. The test split is used only at the end
    /// (see --final-epochs). 0: select on the test split.
    #[arg(long, value_name = "N")]
    pub val_size: Option<usize>,
    /// At the end of the run, the seed and every front member are trained again at full
    /// fidelity — every training image outside the validation split, this many epochs,
    /// --final-seeds seeds — and their mean test accuracy is the front's `test` column.
    /// 0: instead train each front member again exactly as in the search for its test accuracy.
    #[arg(long, value_name = "EPOCHS", default_value_t = 5)]
    pub final_epochs: usize,
    /// Trainings per architecture in the full-fidelity finish (different seeds).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = super::num::count)]
    pub final_seeds: usize,
    /// Weight inheritance: each child starts from its parent's trained weights for every layer
    /// the mutation left unchanged (same place, op, attributes and shapes), fresh
    /// initialisation elsewhere. Trained weights are kept in <store>.weights/ (one .bpk per
    /// candidate, written atomically; at the end only the seed's and the front's); a Ray
    /// cluster must share that directory.
    #[arg(long)]
    pub inherit: bool,
    /// How the kept weights are written (`--inherit`): burn's record, or safetensors named and
    /// laid out as `nasc build --emit torch`'s module expects.
    #[arg(long, value_enum, default_value = "bpk")]
    pub weights_format: super::weights_cmd::WeightsFormat,
    /// Run (or complete) the full-fidelity finish of a stored run whose candidates are all
    /// recorded, with --final-epochs and --final-seeds; resumable like the search.
    #[arg(long, value_name = "STORE", conflicts_with_all = ["file", "resume", "status", "export"])]
    pub finalize: Option<PathBuf>,
    #[command(flatten)]
    pub train: TrainFlags,
    /// Early stopping: after each of these epochs (e.g. `1,3` with --epochs 9), stop a
    /// candidate whose validation accuracy is more than --stop-margin below that of an earlier
    /// candidate no larger in params and MACs at the same epoch. Only candidates at least
    /// --window older count, so the store stays reproducible. Default: no early stopping.
    #[arg(long, value_name = "EPOCHS")]
    pub rungs: Option<String>,
    /// How far below a dominating candidate's accuracy (0–1) a candidate must be to stop.
    #[arg(long, default_value_t = 0.02, requires = "rungs", value_parser = super::num::fraction)]
    pub stop_margin: f64,
    /// Stop each candidate's training after this many seconds (makes the run timing-dependent).
    #[arg(long, value_parser = super::num::positive)]
    pub time_budget: Option<f64>,
    /// Candidates trained at once, each in its own worker process (default: the CPU count).
    #[arg(long, value_parser = super::num::count)]
    pub jobs: Option<usize>,
    /// Compute threads per training.
    #[arg(long, default_value_t = 1, value_parser = super::num::count)]
    pub threads: usize,
    /// Where trainings run: `local` worker processes, or `ray` jobs on a Ray cluster
    /// (`--ray-address`). With Ray, nasc must be installed on every node (`--ray-nasc`); each
    /// candidate is one job whose result comes back in its logs.
    #[arg(long, value_enum, default_value = "local")]
    pub executor: Executor,
    /// The Ray head's dashboard (Jobs API), e.g. http://127.0.0.1:8265.
    #[arg(long, value_name = "URL")]
    pub ray_address: Option<String>,
    /// The nasc executable on the cluster's nodes (default: this one's path).
    #[arg(long, value_name = "PATH")]
    pub ray_nasc: Option<String>,
    /// CPUs and GPUs Ray reserves for each training (default: --threads CPUs, no GPU).
    #[arg(long, value_parser = super::num::positive)]
    pub ray_cpus: Option<f64>,
    #[arg(long, default_value_t = 0.0, value_parser = super::num::non_negative)]
    pub ray_gpus: f64,
    /// Submit a Ray job that failed or was stopped (a node died) again, up to this many times.
    #[arg(long, default_value_t = 2)]
    pub retries: usize,
    /// Stop a Ray job after this many seconds and record its candidate as failed.
    #[arg(long, value_name = "SECS", value_parser = super::num::positive)]
    pub trial_timeout: Option<f64>,
    /// Where candidates train: `cpu`, `cuda` (GPU 0), `wgpu` (the best GPU through Vulkan, Metal
    /// or DX12), `wgpu:N` or `wgpu:cpu` (`nasc devices` lists them). Each worker process opens its
    /// own GPU context, so `--jobs N` puts N trainings on the one GPU at once: GPU memory is the
    /// limit (start with --jobs 2).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// A candidate's parent is chosen among candidates at least this many ids older (1 = the
    /// paper's sequential loop; --jobs above it cannot add parallelism).
    #[arg(long, default_value_t = 4, value_parser = super::num::count)]
    pub window: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_enum, default_value = "alpha")]
    pub strategy: Strategy,
    /// Secondary objectives for Pareto selection (accuracy is primary): params, macs,
    /// throughput (training images/s) or latency (batch-1 latency of each trained candidate
    /// compiled to native code by cranelift, timed on its worker). Throughput and latency are
    /// measured, so a run selecting on them is not exactly reproducible.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "params,macs")]
    pub objectives: Vec<Objective>,
    /// Candidates with more parameters are recorded but not trained (default: 10× the seed's;
    /// 0 for no limit).
    #[arg(long, value_parser = super::num::limit)]
    pub max_params: Option<i64>,
    /// Candidates with more multiply-accumulates per image are recorded but not trained
    /// (default: 10× the seed's; 0 for no limit). A mutation can multiply a block's cost far
    /// more than its parameters (a dense-to-conv rewrite at full resolution), and one such
    /// candidate can take longer than the rest of a search.
    #[arg(long, value_parser = super::num::limit)]
    pub max_macs: Option<i64>,
    /// Candidates below this test accuracy (0–1) are never parents.
    #[arg(long, default_value_t = 0.0, value_parser = super::num::fraction)]
    pub min_accuracy: f64,
    /// Learned guidance: a ridge-regression model of accuracy from op counts, depth, params and
    /// MACs, fitted on the run's candidates at least --window older (so the store stays
    /// reproducible) once 16 have trained. `ops`: synthesis tries ops that raise predicted
    /// accuracy first; `skip`: a child whose predicted accuracy plus --guidance-z leave-one-out
    /// errors is still below an earlier candidate no larger than it is recorded as skipped
    /// (with the prediction) and not trained; `both`. Off by default: on Fashion-MNIST no mode
    /// measurably raised the hypervolume after the same number of trainings (README).
    #[arg(long, value_enum, default_value = "off")]
    pub guidance: GuidanceMode,
    /// How many leave-one-out errors of margin a predicted-dominated child must have to be skipped.
    #[arg(long, default_value_t = 2.0, allow_negative_numbers = true, value_parser = super::num::non_negative)]
    pub guidance_z: f64,
    /// Guidance fits its first model once this many candidates have trained.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub guidance_after: usize,
    /// Set a mutation or selection probability, e.g. `--set p_mixing=0.8` (repeatable). Keys:
    /// p_duplicate p_delete p_grow max_fraction p_depth depth_delta_max p_mixing p_shape
    /// p_random_grow attempts p_drop_branch p_call p_accuracy_only top_fraction min_to_select.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The run's database (default: evolve-<file stem>.sqlite in the current directory).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Continue the run in this store where it stopped.
    #[arg(long, value_name = "STORE", conflicts_with_all = ["file", "status", "export"])]
    pub resume: Option<PathBuf>,
    /// Summarise the run in this store and print its Pareto front.
    #[arg(long, value_name = "STORE", conflicts_with_all = ["file", "export"])]
    pub status: Option<PathBuf>,
    /// Export the store given with --store: every candidate as CSV or JSON on stdout, or the
    /// Pareto front as PyTorch modules and weights (`torch`) or ONNX models (`onnx`), into --out.
    #[arg(long, value_name = "FORMAT", requires = "store", conflicts_with = "file")]
    pub export: Option<ExportFormat>,
    /// Where the Pareto front's .nas files and pareto.svg go (default: <store>.pareto/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar or per-candidate lines.
    #[arg(long)]
    pub quiet: bool,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

pub fn run(a: &EvolveArgs) -> ExitCode {
    if let (Some(fmt), Some(path)) = (a.export, &a.store) {
        return export(fmt, path, a.out.as_deref());
    }
    if let Some(path) = &a.status {
        return match Evolution::inspect(path) {
            Ok(ev) => {
                print!("{}", status_text(&ev));
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    // Fail now, not after the whole search, if the Pareto front cannot be written.
    if let Some(Err(e)) = a.out.as_deref().map(crate::files::ensure_writable_dir) {
        return fail(e);
    }
    let (ev, store) = match (&a.resume, &a.finalize) {
        (Some(path), _) | (_, Some(path)) => (Evolution::resume(path).map_err(String::from), path.clone()),
        _ => match start(a) {
            Ok(x) => x,
            Err(e) => return fail(e),
        },
    };
    let mut ev = match ev {
        Ok(ev) => ev,
        Err(e) => return fail(e),
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return fail(format!("cannot find the nasc executable for the training workers: {e}")),
    };
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rungs = ev.settings.early_stop.as_ref().map_or(String::new(), |es| {
        let r: Vec<String> = es.rungs.iter().map(usize::to_string).collect();
        format!(" (early stopping after epoch {})", r.join(", "))
    });
    eprintln!(
        "evolving {} with {} on {}: {} trials, {} epochs each{rungs}, {} at a time; store {}",
        ev.settings.file,
        ev.settings.strategy.name(),
        ev.settings.data,
        ev.settings.trials,
        ev.settings.train.recipe.epochs,
        jobs,
        store.display()
    );
    if jobs > ev.settings.window {
        eprintln!("note: --window {} lets at most {0} candidates train at once; a larger --window allows more", ev.settings.window);
    }
    let eval = match &ev.settings.ray {
        Some(ray) => {
            match crate::evolve::ray::Client::new(&ray.address).version() {
                Ok(v) => eprintln!("training on the Ray cluster at {} (Ray {v}), run id {}", ray.address, ray.run_id),
                Err(e) => {
                    return fail(format!(
                        "{e}\nstart the head (`ray start --head`) or pass the dashboard's address with --ray-address; then `nasc evolve --resume {}`",
                        store.display()
                    ));
                }
            }
            Evaluator::Ray(ray.clone())
        }
        None => Evaluator::Subprocess(exe),
    };
    stop_on_signals();
    let result = match a.finalize {
        Some(_) => finalize(&mut ev, a, jobs, &eval),
        None => drive(&mut ev, jobs, &eval, a.quiet),
    };
    if let Err(e) = result {
        return fail(format!("{e}\nthe store keeps every finished candidate: `nasc evolve --resume {}`", store.display()));
    }
    print!("\nPareto front (accuracy vs params):\n{}", front_table(ev.records()));
    let out = a.out.clone().unwrap_or_else(|| store.with_extension("pareto"));
    match write_outputs(ev.records(), &out) {
        Ok(files) => eprintln!("wrote {} Pareto-optimal architectures and pareto.svg to {}", files.len().saturating_sub(1), out.display()),
        Err(e) => return fail(e),
    }
    ExitCode::SUCCESS
}

fn start(a: &EvolveArgs) -> Result<(Result<Evolution, String>, PathBuf), String> {
    let file = a.file.as_ref().ok_or("give a seed .nas file, or --resume STORE")?;
    let data = a.data.clone().ok_or("--data is required: `digits`, `mnist:DIR`, `fashion`, `fashion:DIR`, `cifar10:DIR`, `npz:FILE` or `images:DIR`")?;
    let seed_source = seed_source(file)?;
    let data = data.locate().map_err(|e| e.to_string())?.sized_for(&seed_input(&seed_source));
    let pool = crate::train::data::training_pool_size(&data).map_err(|e| e.to_string())?;
    let val_size = validation_size(&data, pool, a.val_size)?;
    let (train_subset, epochs) = budget(pool, a);
    // Checked here so a missing GPU is one clear error, not a failure per candidate.
    crate::train::device(&a.device)?;
    let (seed_params, seed_macs) = crate::evolve::report::size(&seed_source)?;
    let limit = |asked: Option<i64>, seed: i64| match asked {
        Some(0) => None,
        Some(n) => Some(n),
        None => Some(seed.saturating_mul(10)),
    };
    let (max_params, max_macs) = (limit(a.max_params, seed_params), limit(a.max_macs, seed_macs));
    let mut mutation = MutationConfig::default();
    let mut selection = SelectionConfig { objectives: a.objectives.clone(), min_accuracy: a.min_accuracy, ..SelectionConfig::default() };
    for kv in &a.set {
        apply_setting(kv, &mut mutation, &mut selection)?;
    }
    mutation.validate().and_then(|_| selection.validate()).map_err(|e| format!("`--set`: {e}"))?;
    let settings = Settings {
        file: file.display().to_string(),
        seed_source,
        data: data.to_string(),
        trials: a.trials,
        seed: a.seed,
        strategy: a.strategy,
        window: a.window.max(1),
        max_params,
        max_macs,
        train: TrainSettings {
            recipe: a.train.recipe(epochs),
            time_budget: a.time_budget,
            threads: a.threads.max(1),
            device: a.device.clone(),
            train_subset,
            val_fraction: 0.0,
            val_size,
        },
        mutation,
        selection,
        early_stop: a.rungs.as_deref().map(|r| EarlyStop::parse(r, a.stop_margin, epochs)).transpose()?,
        ray: ray_settings(a)?,
        guidance: guidance_settings(a)?,
        finish: (a.final_epochs > 0).then_some(Finish { epochs: a.final_epochs, seeds: a.final_seeds }),
        inherit: a.inherit,
        weights_safetensors: a.weights_format == super::weights_cmd::WeightsFormat::Safetensors,
    };
    let store = a.store.clone().unwrap_or_else(|| {
        let stem = file.file_stem().map_or("run".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("evolve-{stem}.sqlite"))
    });
    Ok((Evolution::start(&store, settings).map_err(String::from), store))
}

/// `--guidance` and its margin.
fn guidance_settings(a: &EvolveArgs) -> Result<guidance::Settings, String> {
    if a.guidance_after < 3 {
        return Err(format!(
            "--guidance-after must be at least 3 trained candidates (a model needs some to fit and to measure its error); found {}",
            a.guidance_after
        ));
    }
    Ok(guidance::Settings { mode: a.guidance, z: a.guidance_z, min_samples: a.guidance_after, ..guidance::Settings::default() })
}

/// `--executor ray`: where the cluster is and what each training may use.
fn ray_settings(a: &EvolveArgs) -> Result<Option<RaySettings>, String> {
    if a.executor == Executor::Local {
        if a.ray_address.is_some() {
            return Err("--ray-address needs --executor ray".into());
        }
        return Ok(None);
    }
    let address = a.ray_address.clone().ok_or("--executor ray needs --ray-address, the head's dashboard (e.g. http://127.0.0.1:8265)")?;
    let nasc = match &a.ray_nasc {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(|e| format!("cannot find this nasc executable for the Ray jobs (pass --ray-nasc): {e}"))?.display().to_string(),
    };
    // Checked before the store is created: one clear error, nothing to clean up.
    crate::evolve::ray::Client::new(&address).version().map_err(|e| format!("{e}\nstart the head (`ray start --head`) or pass the dashboard's address"))?;
    // Unique per run, so two runs on one cluster never share a submission id.
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let run_id = format!("{:x}", (stamp as u64) ^ (std::process::id() as u64) << 40);
    Ok(Some(RaySettings {
        address,
        nasc,
        run_id,
        cpus: a.ray_cpus.unwrap_or(a.threads.max(1) as f64),
        gpus: a.ray_gpus,
        retries: a.retries,
        timeout: a.trial_timeout,
    }))
}

/// The seed model's input shape (mutations keep it): the size image folders are decoded at.
fn seed_input(source: &str) -> Vec<crate::shape::Dim> {
    let Ok(c) = crate::Compilation::from_source("seed.nas", source) else { return Vec::new() };
    let Ok(m) = c.model(None) else { return Vec::new() };
    m.graph.inputs.first().map(|&t| m.graph.shape(t).0.clone()).unwrap_or_default()
}

/// A training set this large gets the 5,000-image validation split and search budget.
const LARGE_POOL: usize = 20_000;

/// `--val-size`, or its default: 5,000 images where the training pool has at least 20,000
/// (a standard error of about ±0.4 points at 90 %), else a tenth of it.
fn validation_size(data: &DataSource, pool: usize, asked: Option<usize>) -> Result<Option<usize>, String> {
    let n = asked.unwrap_or(if pool >= LARGE_POOL { 5_000 } else { (pool / 10).max(1) });
    if n == 0 {
        return Ok(None);
    }
    if n >= pool {
        return Err(format!("--val-size {n} leaves none of the {pool} training images of {data} to train on"));
    }
    Ok(Some(n))
}

/// Each candidate's training subset and epochs: as asked, else the cheapest budget that ranked
/// candidates as full-fidelity training does in the fidelity study (docs/search.md: 5,000
/// images × 2 epochs from scratch, Spearman 0.90 over 30 candidates of a Fashion-MNIST search)
/// on a training set of 20,000 images or more, and every training image × 3 epochs below that.
fn budget(pool: usize, a: &EvolveArgs) -> (Option<usize>, usize) {
    let large = pool >= LARGE_POOL;
    let subset = a.train.train_subset.or(large.then_some(5_000));
    let epochs = a.epochs.unwrap_or(if large && a.train.train_subset.is_none() { 2 } else { 3 });
    (subset, epochs.max(1))
}

/// `--finalize STORE`: the full-fidelity finish of a complete run, with a progress bar.
fn finalize(ev: &mut Evolution, a: &EvolveArgs, jobs: usize, eval: &Evaluator) -> Result<(), String> {
    if a.final_epochs == 0 {
        return Err("--finalize needs --final-epochs of at least 1".into());
    }
    ev.set_finish(Finish { epochs: a.final_epochs, seeds: a.final_seeds })?;
    let n = ev.finished_members().len() * a.final_seeds;
    eprintln!("full-fidelity finish: {n} trainings ({} epochs on every training image outside the validation split)", a.final_epochs);
    let bar = progress_bar(n as u64, "final training {pos}/{len}", a.quiet);
    bar.set_position(ev.finals().len() as u64);
    let mut on_event = |ev: &Evolution, e: Event| report_event(ev, e, &bar, a.quiet);
    let r = ev.finalize(jobs, eval, &mut on_event);
    bar.finish_and_clear();
    Ok(r?)
}

/// `KEY=VALUE` onto the mutation or selection settings, through their JSON form.
fn apply_setting(kv: &str, m: &mut MutationConfig, s: &mut SelectionConfig) -> Result<(), String> {
    let (k, v) = kv.split_once('=').ok_or_else(|| format!("`--set {kv}`: expected KEY=VALUE"))?;
    let value: serde_json::Value = serde_json::from_str(v.trim()).map_err(|_| format!("`--set {kv}`: `{v}` is not a number"))?;
    let try_set = |mut j: serde_json::Value| -> Option<serde_json::Value> {
        let obj = j.as_object_mut()?;
        obj.get(k.trim())?;
        obj.insert(k.trim().to_string(), value.clone());
        Some(j)
    };
    let bad = |e: serde_json::Error| format!("`--set {kv}`: {e}");
    if let Some(j) = try_set(serde_json::to_value(&*m).map_err(bad)?) {
        *m = serde_json::from_value(j).map_err(bad)?;
        return Ok(());
    }
    if let Some(j) = try_set(serde_json::to_value(&*s).map_err(bad)?).filter(|_| k.trim() != "objectives") {
        *s = serde_json::from_value(j).map_err(bad)?;
        return Ok(());
    }
    Err(format!("`--set {kv}`: unknown key `{}`; see `nasc evolve --help`", k.trim()))
}

fn progress_bar(len: u64, what: &str, quiet: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!("{{bar:30}} {what}  {{msg}}  [{{elapsed_precise}}]"))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// SIGTERM and SIGINT (Ctrl-C) end a run at its next step instead of mid-write: the store is
/// released, in-flight candidates stay pending and their workers exit with this process.
fn stop_on_signals() {
    extern "C" fn on_signal(_: libc::c_int) {
        crate::evolve::request_stop();
    }
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler does one atomic store, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
}

/// Run with a progress bar and one line per finished candidate.
pub fn drive(ev: &mut Evolution, jobs: usize, eval: &Evaluator, quiet: bool) -> Result<(), String> {
    let bar = progress_bar(ev.settings.trials as u64, "trial {pos}/{len}", quiet);
    bar.set_position(finished(ev));
    let mut on_event = |ev: &Evolution, e: Event| report_event(ev, e, &bar, quiet);
    let r = ev.run(jobs, eval, &mut on_event);
    bar.finish_and_clear();
    Ok(r?)
}

fn finished(ev: &Evolution) -> u64 {
    ev.records().iter().filter(|r| r.status != Status::Pending).count() as u64
}

/// One line per finished candidate, front member tested or final training; the bar follows.
fn report_event(ev: &Evolution, e: Event, bar: &indicatif::ProgressBar, quiet: bool) {
    let r = match e {
        Event::Created(r) if r.status == Status::Pending => return,
        Event::Created(r) | Event::Finished(r) => r,
        Event::Tested(r) => {
            if !quiet {
                let note = r.error.as_deref().map_or(String::new(), |e| format!(" ({e})"));
                let what = if ev.settings.finish.is_some() { "mean test accuracy at full fidelity" } else { "test accuracy" };
                bar.suspend(|| eprintln!("#{:<4} front member: {what} {:.2} %{note}", r.id, r.test_accuracy.unwrap_or(0.0) * 100.0));
            }
            return;
        }
        Event::Final(f) => {
            bar.set_position(ev.finals().len() as u64);
            if !quiet {
                let what = match (&f.error, f.test_accuracy) {
                    (Some(e), _) => format!("failed: {e}"),
                    (None, t) => format!("validation {:.2} %, test {:.2} %", f.accuracy.unwrap_or(0.0) * 100.0, t.unwrap_or(0.0) * 100.0),
                };
                bar.suspend(|| eprintln!("#{:<4} full-fidelity training {}: {what}", f.id, f.k + 1));
            }
            return;
        }
    };
    bar.set_position(finished(ev));
    let best = crate::evolve::report::evaluated(ev.records()).iter().filter_map(|r| r.accuracy).fold(0.0, f64::max);
    bar.set_message(format!("best {:.2} %  front {}", best * 100.0, crate::evolve::report::pareto(ev.records()).len()));
    if quiet {
        return;
    }
    let what = match r.status {
        Status::Done => format!("{:.2} %  {} params", r.accuracy.unwrap_or(0.0) * 100.0, r.params.unwrap_or(0)),
        Status::Stopped => {
            format!("{:.2} % after epoch {} (stopped)  {} params", r.accuracy.unwrap_or(0.0) * 100.0, r.stopped_at.unwrap_or(0), r.params.unwrap_or(0))
        }
        Status::Reused => format!("same as #{}", r.reused_from.unwrap_or(0)),
        Status::Failed => format!("failed: {}", r.error.as_deref().unwrap_or("")),
        Status::Skipped => format!("not trained: {}", r.error.as_deref().unwrap_or("")),
        Status::Pending => String::new(),
    };
    let parent = r.parent.map_or(String::new(), |p| format!(" ← #{p}"));
    bar.suspend(|| eprintln!("#{:<4} {what}{parent}: {}", r.id, r.mutation));
}

/// `nasc compare`: the comparison of several runs, as text or JSON, and an SVG of their fronts.
pub fn compare(stores: &[PathBuf], svg: Option<&Path>, json: bool, trainings: Option<usize>) -> ExitCode {
    let paths: Vec<&Path> = stores.iter().map(PathBuf::as_path).collect();
    if trainings == Some(0) {
        return fail("--trainings must be at least 1");
    }
    let c = match crate::evolve::compare::compare(&paths, trainings) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Some(path) = svg
        && let Err(e) = crate::evolve::compare::svg(&c, path)
    {
        return fail(format!("cannot draw `{}`: {e}", path.display()));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
    } else {
        print!("{}", crate::evolve::compare::text(&c));
    }
    ExitCode::SUCCESS
}

fn export(fmt: ExportFormat, path: &Path, out: Option<&Path>) -> ExitCode {
    let ev = match Evolution::inspect(path) {
        Ok(ev) => ev,
        Err(e) => return fail(e),
    };
    match fmt {
        ExportFormat::Csv => print!("{}", csv(ev.records())),
        ExportFormat::Json => println!("{}", serde_json::to_string_pretty(&json(&ev)).unwrap_or_default()),
        ExportFormat::Torch | ExportFormat::Onnx => {
            let dir = out.map_or_else(|| path.with_extension("pareto"), Path::to_path_buf);
            let format = if matches!(fmt, ExportFormat::Torch) { crate::evolve::export::Format::Torch } else { crate::evolve::export::Format::Onnx };
            match crate::evolve::export::export(&ev, &dir, format) {
                Ok(files) => eprintln!("wrote {} files to {}", files.len(), dir.display()),
                Err(e) => return fail(e),
            }
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
#[path = "evolve_cmd_tests.rs"]
mod tests;
