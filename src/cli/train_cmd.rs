//! `nasc train` and `nasc eval`.

use super::print_diags;
use super::weights_cmd::{WeightsBy, WeightsFormat};
use crate::Compilation;
use crate::interop::weights::load_file;
use crate::lower::{Net, lower};
use crate::synth::SynthConfig;
use crate::train::data::{DataSource, Dataset, load, load_subset};
use crate::train::{Optimizer, Recipe, check_fits, device, evaluate, train as run_train};
use burn::module::Module;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The .nas file.
    pub file: PathBuf,
    /// Data: `digits` (bundled 8×8 digits), `mnist:DIR` (IDX files), `fashion` (the official
    /// Fashion-MNIST installed by Debian's `dataset-fashion-mnist`), `fashion:DIR` (IDX files),
    /// `cifar10:DIR` (binary batches), `npz:FILE` (NumPy's `np.savez` with `x_train`,
    /// `y_train` and optionally `x_test`, `y_test`; uint8 or float32 images) or `images:DIR`
    /// (PNG/JPEG files in `DIR/train/<class>/` and `DIR/test/<class>/`, or `DIR/<class>/`;
    /// resized to the model's input, cached after the first decoding).
    #[arg(long)]
    pub data: DataSource,
    /// The model, when the file has several.
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long, default_value_t = 20, value_parser = super::num::count)]
    pub epochs: usize,
    #[command(flatten)]
    pub train: TrainFlags,
    /// Warm-up epochs before the cosine decay (at most half the training).
    #[arg(long, default_value_t = 1.0, value_parser = super::num::non_negative)]
    pub warmup: f64,
    /// Seed for initialisation, data order, augmentation and hole filling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where metrics.json and the weights go (default runs/<model>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `cpu` (burn's flex backend with nasc's kernels), `cuda` (a build with `--features cuda`),
    /// or `wgpu`, `wgpu:N`, `wgpu:cpu` (a build with `--features wgpu`); `nasc devices` lists
    /// what works here.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Refuse models with more parameters than this (default: what fits in the memory available).
    #[arg(long)]
    pub max_params: Option<u64>,
    /// How the trained weights are written: burn's `weights.bpk`, or `weights.safetensors`
    /// (named and laid out as `nasc build --emit torch`'s module expects).
    #[arg(long, value_enum, default_value = "bpk")]
    pub weights_format: WeightsFormat,
    /// Start from these weights instead of a fresh initialisation: `.bpk` from nasc, or a
    /// `.safetensors` file (see --init-by).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// How --init's safetensors tensors are matched to the model's: by nasc's names, or in
    /// declaration order with equal shapes (weights of the same network from PyTorch).
    #[arg(long, value_enum, default_value = "name", requires = "init")]
    pub init_by: WeightsBy,
}

/// Training settings `nasc train` and `nasc evolve` share.
#[derive(Args, Debug, Clone)]
pub struct TrainFlags {
    /// Train on a seeded, stratified subset of this many training images (the test split is
    /// untouched): a fast run or search on a large data set.
    #[arg(long, value_parser = super::num::count)]
    pub train_subset: Option<usize>,
    #[arg(long, default_value_t = crate::train::DEFAULT_BATCH, value_parser = super::num::count)]
    pub batch: usize,
    /// Peak learning rate (default 3e-3 for adam, 0.05 for sgd).
    #[arg(long, value_parser = super::num::positive)]
    pub lr: Option<f64>,
    #[arg(long, value_enum, default_value = "adam")]
    pub optimizer: OptimizerArg,
    #[arg(long, default_value_t = 1e-4, value_parser = super::num::non_negative)]
    pub weight_decay: f64,
}

impl TrainFlags {
    pub fn optimizer(&self) -> Optimizer {
        match self.optimizer {
            OptimizerArg::Adam => Optimizer::Adam,
            OptimizerArg::Sgd => Optimizer::Sgd,
        }
    }
    /// What to train for `epochs` epochs; the learning rate is the optimizer's default when not
    /// given.
    pub fn recipe(&self, epochs: usize) -> Recipe {
        let optimizer = self.optimizer();
        Recipe { epochs, batch: self.batch, lr: self.lr.unwrap_or(optimizer.default_lr()), optimizer, weight_decay: self.weight_decay }
    }
}

/// `--optimizer` (the training crate has no command-line dependency).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum OptimizerArg {
    /// AdamW.
    Adam,
    /// SGD with momentum 0.9.
    Sgd,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    pub file: PathBuf,
    /// Weights written by `nasc train` (weights.bpk or weights.safetensors), or a safetensors
    /// file of the same network from elsewhere (with --weights-by position).
    #[arg(long)]
    pub weights: PathBuf,
    /// How a safetensors file's tensors are matched to the model's.
    #[arg(long, value_enum, default_value = "name")]
    pub weights_by: WeightsBy,
    #[arg(long)]
    pub data: DataSource,
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `cpu`, `cuda`, `wgpu`, `wgpu:N` or `wgpu:cpu`, as for `nasc train`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

/// Check, fill holes, pick the model, lower it: the network, its parameter count and name.
fn build(
    file: &Path,
    model: Option<&str>,
    seed: u64,
    max_params: Option<u64>,
    dev: &burn::tensor::Device,
    color: bool,
) -> Result<(Net, i64, String), ExitCode> {
    let c = filled(file, seed, color)?;
    let m = c.model(model).map_err(|f| shown(&f, color))?;
    let params = crate::report::report(&c.program, m.graph).params.as_int().unwrap_or(-1);
    crate::train::check_param_budget(params, max_params).map_err(fail)?;
    dev.seed(seed);
    let net = lower(m.graph, dev).map_err(fail)?;
    Ok((net, params, m.name().to_string()))
}

/// Print a failure's diagnostics.
pub(super) fn shown(f: &crate::Failure, color: bool) -> ExitCode {
    print_diags(&f.diagnostics, &f.sources, color);
    ExitCode::FAILURE
}

/// A file checked (warnings printed) with its holes filled from `seed`.
pub(super) fn filled(file: &Path, seed: u64, color: bool) -> Result<Compilation, ExitCode> {
    let c = Compilation::load(file).map_err(|f| shown(&f, color))?;
    print_diags(c.warnings(), &c.program.sources, color);
    c.fill(&SynthConfig { seed, ..Default::default() }).map_err(|f| shown(&f, color))
}

/// Image folders are decoded at the model's input size.
fn sized(src: &DataSource, net: &Net) -> DataSource {
    net.plan.input_shapes.first().map_or_else(|| src.clone(), |s| src.sized_for(s))
}

fn load_data(src: &DataSource, seed: u64) -> Result<Dataset, ExitCode> {
    load(src, seed).map_err(fail)
}

pub fn train(a: &TrainArgs, color: bool) -> ExitCode {
    let dev = match device(&a.device) {
        Ok(d) => d.autodiff(),
        Err(e) => return fail(e),
    };
    let (net, params, name) = match build(&a.file, a.model.as_deref(), a.seed, a.max_params, &dev, color) {
        Ok(x) => x,
        Err(code) => return code,
    };
    // Fail now, not after the whole run, if the results cannot be written.
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(&name));
    if let Err(e) = crate::files::ensure_writable_dir(&out) {
        return fail(e);
    }
    let source = sized(&a.data, &net);
    let data = match load_subset(&source, a.seed, a.train.train_subset) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    if let Err(e) = check_fits(&net, &data) {
        return fail(e);
    }
    let net = match &a.init {
        Some(w) => match load_file(net, w, a.init_by.into()) {
            Ok(n) => n,
            Err(e) => return fail(e),
        },
        None => net,
    };
    let lowered = net.trainable_params() as i64;
    if lowered != params {
        eprintln!("warning: the lowered module has {lowered} parameters, the report says {params}");
    }
    let cfg = a.train.recipe(a.epochs).config(a.warmup, a.seed);
    eprintln!(
        "training {name} ({params} parameters) on {} ({} train / {} test images) for {} epochs",
        data.name,
        data.train.len(),
        data.test.len(),
        cfg.recipe.epochs
    );
    let bar = indicatif::ProgressBar::new((cfg.recipe.epochs * data.train.len().div_ceil(cfg.recipe.batch.max(1))) as u64);
    if a.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    let mut on_step = |epoch: usize, _: usize, _: usize, loss: f64| {
        bar.inc(1);
        bar.set_message(format!("epoch {} loss {loss:.4}", epoch + 1));
    };
    let (net, metrics) = match nasc_burn::train::on_workers(|| run_train(net, &data, &cfg, &dev, &mut on_step)) {
        Ok(x) => x,
        Err(e) => {
            bar.abandon();
            return fail(e);
        }
    };
    bar.finish_and_clear();
    for m in &metrics {
        eprintln!(
            "epoch {:>3}  loss {:.4}  train acc {:.4}  test loss {:.4}  test acc {:.4}  {:.0} images/s",
            m.epoch, m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy, m.images_per_sec
        );
    }
    let report = serde_json::json!({
        "model": name, "file": a.file.display().to_string(), "data": source.to_string(), "classes": data.class_names, "normalisation": data.normalisation,
        "params": params, "config": cfg, "epochs": metrics,
        "test_accuracy": metrics.last().map(|m| m.test_accuracy),
    });
    let metrics_path = out.join("metrics.json");
    if let Err(e) = crate::files::write_atomic(&metrics_path, serde_json::to_string_pretty(&report).unwrap_or_default().as_bytes()) {
        return fail(format!("cannot write {}: {e}", metrics_path.display()));
    }
    let weights = out.join(a.weights_format.file_name());
    let meta = [("model", name.clone()), ("classes", serde_json::to_string(&data.class_names).unwrap_or_default())];
    if let Err(e) = super::weights_cmd::save(&net.valid(), &weights, a.weights_format, &data.normalisation, &meta) {
        return fail(e);
    }
    eprintln!("wrote {} and {}", metrics_path.display(), weights.display());
    println!("{}", serde_json::to_string(&report["test_accuracy"]).unwrap_or_default());
    ExitCode::SUCCESS
}

pub fn eval(a: &EvalArgs, color: bool) -> ExitCode {
    let dev = match device(&a.device) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let (net, _, name) = match build(&a.file, a.model.as_deref(), a.seed, None, &dev, color) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let net = match load_file(net, &a.weights, a.weights_by.into()) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let data = match load_data(&sized(&a.data, &net), a.seed) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if let Err(e) = check_fits(&net, &data) {
        return fail(e);
    }
    let (loss, acc) = evaluate(&net, &data.test, &data, crate::train::EVAL_BATCH, &dev);
    println!("{}", serde_json::json!({ "model": name, "test_loss": loss, "test_accuracy": acc, "images": data.test.len() }));
    ExitCode::SUCCESS
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// .nas files of the models to time.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[arg(long, default_value_t = crate::train::DEFAULT_BATCH, value_parser = super::num::count)]
    pub batch: usize,
    #[arg(long, default_value_t = 30, value_parser = super::num::count)]
    pub steps: usize,
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
    /// `cpu`, `cuda`, `wgpu`, `wgpu:N` or `wgpu:cpu`, as for `nasc train`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Time inference instead: batch-1 latency (median and p95) of the model compiled to native
    /// code (cranelift JIT) and of burn's forward, and the compile time. Set RAYON_NUM_THREADS=1
    /// for single-threaded burn (the compiled code always runs on one thread).
    #[arg(long)]
    pub latency: bool,
    /// Trained weights for --latency (default: freshly initialised, which times the same).
    #[arg(long, requires = "latency")]
    pub weights: Option<PathBuf>,
    /// Timed forward passes per model for --latency.
    #[arg(long, default_value_t = 200, requires = "latency", value_parser = super::num::count)]
    pub runs: usize,
    /// One JSON object per model (--latency).
    #[arg(long, requires = "latency")]
    pub json: bool,
    /// Time --latency with the thread's CPU clock instead of the wall clock: steadier on a busy
    /// machine, but it misses burn's work on other threads (use RAYON_NUM_THREADS=1).
    #[arg(long, requires = "latency")]
    pub cpu_time: bool,
    /// With --latency: also where the compiled forward pass spends its time, step by step.
    #[arg(long, requires = "latency")]
    pub profile: bool,
}

/// Training steps per second on random data, as `../shared/bench/torch_reference.py` measures:
/// forward, cross-entropy, backward, SGD (momentum 0.9) update.
pub fn bench(a: &BenchArgs, color: bool) -> ExitCode {
    if a.latency {
        let how = super::native_cmd::How { runs: a.runs, cpu: a.cpu_time, profile: a.profile, json: a.json };
        return super::native_cmd::latency(&a.files, a.weights.as_deref(), &how, color);
    }
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::optim::{GradientsParams, SgdConfig, momentum::MomentumConfig};
    use burn::tensor::{Distribution, Int, Tensor};
    let dev = match device(&a.device) {
        Ok(d) => d.autodiff(),
        Err(e) => return fail(e),
    };
    for file in &a.files {
        let (mut net, params, name) = match build(file, None, 0, None, &dev, color) {
            Ok(x) => x,
            Err(code) => return code,
        };
        let Some(shape) = net.plan.input_shapes.first().cloned() else { return fail("the model has no input") };
        let mut dims: Vec<usize> = shape.iter().map(|d| d.as_int().unwrap_or(a.batch as i64) as usize).collect();
        dims[0] = a.batch;
        let x: Tensor<{ crate::lower::RANK }> = Tensor::random(crate::lower::padded_dims(&dims), Distribution::Normal(0.0, 1.0), &dev);
        let y = Tensor::<1, Int>::random([a.batch], Distribution::Uniform(0.0, 10.0), &dev);
        let loss_fn = CrossEntropyLossConfig::new().init(&dev);
        let mut optim = SgdConfig::new().with_momentum(Some(MomentumConfig::new().with_dampening(0.0))).init();
        let dt = nasc_burn::train::on_workers(|| {
            let mut t0 = std::time::Instant::now();
            for i in 0..a.warmup + a.steps {
                if i == a.warmup {
                    t0 = std::time::Instant::now();
                }
                let logits: Tensor<2> = crate::lower::unpad(net.forward(vec![x.clone()]).remove(0));
                let loss = loss_fn.forward(logits, y.clone());
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = optim.step(0.01, net, grads);
            }
            let _ = dev.sync();
            t0.elapsed().as_secs_f64()
        });
        let framework = if a.device == "cpu" { "nasc/burn-flex".to_string() } else { format!("nasc/burn-{}", a.device) };
        println!(
            "{}",
            serde_json::json!({
                "model": name, "framework": framework, "device": a.device, "batch": a.batch, "steps": a.steps, "params": params,
                "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                "images_per_sec": (a.batch * a.steps) as f64 / dt, "ms_per_step": 1e3 * dt / a.steps as f64,
            })
        );
    }
    ExitCode::SUCCESS
}
