//! Training and evaluation of lowered models: SGD with momentum or AdamW from burn, linear
//! warm-up then cosine learning rate, weight decay, gradient clipping, per-epoch metrics.
//! Divergence (a NaN or infinite loss) stops the run with an error.

pub mod data;
pub mod devices;
#[cfg(feature = "wgpu")]
pub mod wgpu;

use crate::lower::{Net, pad, unpad};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsParams, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use data::Dataset;
use nasc_core::rng::Rng;
use serde::Serialize;
use std::time::Instant;

/// Stack for each of rayon's worker threads, which run whole training loops (`on_workers`):
/// autodiff over a deep network recurses deeper than rayon's default 2 MiB allows for. Virtual
/// memory: pages are only committed as they are touched.
const WORKER_STACK_BYTES: usize = 256 << 20;

/// Process set-up for training, before any other thread starts: [`keep_freed_memory`], and
/// rayon's global pool with room on its stacks for [`on_workers`]. The thread count is rayon's
/// default (`RAYON_NUM_THREADS`, else one per CPU). Calling it twice is harmless.
pub fn prepare_process() {
    keep_freed_memory();
    // Fails only when the global pool already exists, which then keeps its settings.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(WORKER_STACK_BYTES).build_global();
}

/// Makes glibc's allocator keep freed memory for reuse instead of returning it to the system.
/// Every training step allocates its activations and gradients afresh (burn's tensors own their
/// buffers), and glibc serves blocks over its mmap threshold with fresh pages: each step then
/// page-faults and zeroes every large buffer again, on the calling thread while the others wait
/// (cnn_small at batch 64: 3,361 → 4,563 images/s, sys time 0.46 → 0.13 s). Call it once, before
/// other threads start; process-wide, so the `nasc` binary does and an embedding program may.
/// Allocator settings the user gave in `GLIBC_TUNABLES` (`glibc.malloc.*`) are left as they are,
/// which is also how to time glibc's defaults (e.g. `glibc.malloc.arena_max=8`).
pub fn keep_freed_memory() {
    if std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.")) {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before other threads allocate.
    unsafe {
        // 32 MiB is the largest mmap threshold glibc accepts on 64-bit; larger blocks are rare
        // (a 64-image batch of 32×32×64 activations is 16 MiB).
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        // One arena for all threads: a worker thread's own arena lives in 64 MiB heaps that glibc
        // unmaps whenever one falls empty, whatever the trim threshold, and maps again on the
        // next step (cnn_small at batch 256: ~4,300 → ~5,000 images/s). The few, large
        // allocations of training hardly contend for its lock.
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Runs `f` (a training loop) on one of rayon's worker threads, blocking the caller. The kernels'
/// parallel loops then split work from inside the pool instead of waking it from outside and
/// sleeping until it finishes: one thread fewer handing off at every parallel region
/// (cnn_small at batch 64: 1.05× → 1.27× PyTorch's images/s, ResNet-18 0.72× → 0.82×).
///
/// For one training per process (the `nasc` commands, evolve's worker processes): a worker that
/// waits inside its own parallel loop may pick up another training injected meanwhile and finish
/// that one first, so concurrent trainings in one process should not each call this.
pub fn on_workers<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}

/// The device for `--device`: burn's `flex` CPU backend, CUDA when built with `--features cuda`,
/// a wgpu adapter when built with `--features wgpu`.
pub fn device(name: &str) -> Result<Device, String> {
    match name {
        "cpu" => Ok(Device::flex()),
        // Checked first: cudarc panics when the driver or NVRTC cannot be loaded.
        #[cfg(feature = "cuda")]
        "cuda" => match devices::cuda_problems() {
            Ok(_) => Ok(Device::cuda(0)),
            Err(problems) => Err(format!("cannot use CUDA here: {} (`nasc devices` lists what works)", problems.join("; "))),
        },
        #[cfg(not(feature = "cuda"))]
        "cuda" => Err("this nasc was built without CUDA: build it with `cargo build --release --features cuda` (`nasc devices` lists what works)".into()),
        #[cfg(feature = "wgpu")]
        "wgpu" => wgpu::device(None),
        #[cfg(feature = "wgpu")]
        other if other.starts_with("wgpu:") => wgpu::device(other.strip_prefix("wgpu:")),
        #[cfg(not(feature = "wgpu"))]
        other if other == "wgpu" || other.starts_with("wgpu:") => {
            Err("this nasc was built without wgpu: build it with `cargo build --release --features wgpu` (`nasc devices` lists what works)".into())
        }
        other => Err(format!("unknown device `{other}`: use `cpu`, `cuda`, `wgpu` (the best GPU), `wgpu:N` or `wgpu:cpu` (`nasc devices` lists them)")),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// SGD with momentum 0.9.
    Sgd,
    /// AdamW.
    Adam,
}

impl Optimizer {
    /// The peak learning rate used when none is given.
    pub fn default_lr(self) -> f64 {
        match self {
            Optimizer::Adam => 3e-3,
            Optimizer::Sgd => 0.05,
        }
    }
}

/// The training batch when none is given (`nasc train`, `bench`, `evolve`).
pub const DEFAULT_BATCH: usize = 64;

/// The batch of a forward-only evaluation pass: larger than training's, as it keeps no gradients.
pub const EVAL_BATCH: usize = 256;

/// The warm-up of a training of `epochs` epochs when `asked` epochs were asked for: at most half
/// the training, so even a one-epoch training decays (one rule for `nasc train` and every search
/// candidate).
pub fn warmup_epochs(asked: f64, epochs: usize) -> f64 {
    asked.min(epochs as f64 / 2.0).max(0.0)
}

/// What a training is asked to do, shared by `nasc train`, a search's settings (stored with the
/// run) and each candidate's training: one type, one set of defaults.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Recipe {
    pub epochs: usize,
    pub batch: usize,
    /// The peak learning rate.
    pub lr: f64,
    pub optimizer: Optimizer,
    pub weight_decay: f64,
}

impl Default for Recipe {
    fn default() -> Recipe {
        Recipe { epochs: 10, batch: DEFAULT_BATCH, lr: Optimizer::Adam.default_lr(), optimizer: Optimizer::Adam, weight_decay: 1e-4 }
    }
}

impl Recipe {
    /// The training of this recipe with `warmup` epochs of warm-up asked for (the shared rule of
    /// [`warmup_epochs`] applies) and the given seed; no budget, rungs or sparse evaluation.
    pub fn config(&self, warmup: f64, seed: u64) -> TrainConfig {
        TrainConfig { recipe: self.clone(), warmup_epochs: warmup_epochs(warmup, self.epochs), seed, ..TrainConfig::default() }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct TrainConfig {
    #[serde(flatten)]
    pub recipe: Recipe,
    /// Linear warm-up, in epochs (may be fractional), then cosine decay to 0.
    pub warmup_epochs: f64,
    /// Clip the gradient norm to this value.
    pub clip: Option<f32>,
    pub seed: u64,
    /// Stop after this many seconds (checked between steps).
    pub time_budget: Option<f64>,
    /// Early-stopping rungs: after a rung's epoch, stop unless the held-out accuracy reached its bar.
    pub rungs: Vec<Rung>,
    /// Sparse evaluation: `Some(epochs)` evaluates the held-out split only after these epochs
    /// (1-based), each rung's, the last and one that ends the training early; other epochs'
    /// metrics carry NaN for it. A search reads nothing else, so this saves most of its
    /// evaluation. `None`: after every epoch.
    pub eval_epochs: Option<Vec<usize>>,
}

/// An early-stopping decision point of one training.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Rung {
    /// After this epoch (1-based) ...
    pub epoch: usize,
    /// ... the training stops if its held-out accuracy is below this.
    pub min_accuracy: f64,
}

/// The epoch at which `rungs` stopped a training with these per-epoch metrics, if they did.
pub fn stopped_at(rungs: &[Rung], metrics: &[EpochMetrics]) -> Option<usize> {
    metrics.iter().find(|m| rungs.iter().any(|r| r.epoch == m.epoch && m.test_accuracy < r.min_accuracy)).map(|m| m.epoch)
}

impl Default for TrainConfig {
    fn default() -> TrainConfig {
        TrainConfig { recipe: Recipe::default(), warmup_epochs: 1.0, clip: Some(1.0), seed: 0, time_budget: None, rungs: Vec::new(), eval_epochs: None }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
    pub images_per_sec: f64,
    pub seconds: f64,
    /// Seconds the evaluation on the test (or validation) split took after the epoch.
    pub eval_seconds: f64,
    pub lr: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrainError(pub String);

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Bytes of memory training needs per parameter: the weight, its gradient and Adam's two moments.
const TRAIN_BYTES_PER_PARAM: u64 = 16;

/// Refuse a model before allocating it when its parameters cannot fit: more than `max` (the
/// user's `--max-params`) or, without one, more than the memory available now allows.
/// `params` is the report's count; negative means it overflowed or is unknown.
pub fn check_param_budget(params: i64, max: Option<u64>) -> Result<(), TrainError> {
    let Ok(n) = u64::try_from(params) else {
        return Err(TrainError("the model's parameter count is unknown or does not fit in 64 bits".into()));
    };
    if let Some(max) = max {
        if n > max {
            return Err(TrainError(format!("the model has {n} parameters, more than --max-params {max}")));
        }
        return Ok(());
    }
    match available_memory() {
        Some(avail) if n.saturating_mul(TRAIN_BYTES_PER_PARAM) > avail => Err(TrainError(format!(
            "the model has {n} parameters: training needs about {} GiB ({TRAIN_BYTES_PER_PARAM} bytes each) but {} GiB are available; \
             pass --max-params to override",
            n.saturating_mul(TRAIN_BYTES_PER_PARAM) >> 30,
            avail >> 30
        ))),
        _ => Ok(()),
    }
}

/// `MemAvailable` from /proc/meminfo, in bytes (`None` off Linux).
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Check that the model takes the data's images and has an output per class.
pub fn check_fits(net: &Net, data: &Dataset) -> Result<(), TrainError> {
    let plan = &net.plan;
    let [h, w, c] = data.shape;
    let want = format!("[B, {h}, {w}, {c}]");
    let inp = plan.input_shapes.first().map(|s| nasc_core::shape::Shape(s.clone()));
    let fits = inp.as_ref().is_some_and(|s| s.rank() == 4 && s.0[1..].iter().zip([h, w, c]).all(|(d, n)| d.as_int() == Some(n as i64)));
    if plan.input_shapes.len() != 1 || !fits {
        let got = inp.map(|s| s.to_string()).unwrap_or_else(|| "no input".into());
        return Err(TrainError(format!("the data has {h}×{w}×{c} images ({want}) but the model takes {got}")));
    }
    let out = plan.output_shapes.first().map(|s| nasc_core::shape::Shape(s.clone()));
    let classes = out.as_ref().filter(|s| s.rank() == 2).and_then(|s| s.0[1].as_int());
    match classes {
        Some(k) if k as usize >= data.classes => Ok(()),
        _ => Err(TrainError(format!(
            "the data has {} classes but the model's output is {}; a classifier returns [B, classes]",
            data.classes,
            out.map(|s| s.to_string()).unwrap_or_default()
        ))),
    }
}

fn lr_at(cfg: &TrainConfig, step: usize, steps_per_epoch: usize) -> f64 {
    let total = (cfg.recipe.epochs * steps_per_epoch).max(1) as f64;
    let warm = (cfg.warmup_epochs * steps_per_epoch as f64).max(0.0);
    let s = step as f64;
    if s < warm {
        cfg.recipe.lr * (s + 1.0) / warm
    } else {
        let t = ((s - warm) / (total - warm).max(1.0)).min(1.0);
        cfg.recipe.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

fn batch_tensors(split: &data::Split, idx: &[usize], data: &Dataset, rng: Option<&mut Rng>, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let len = data.image_len();
    let mut images = Vec::with_capacity(idx.len() * len);
    for &i in idx {
        images.extend_from_slice(&split.images[i * len..(i + 1) * len]);
    }
    if let Some(rng) = rng {
        for img in images.chunks_mut(len) {
            data::augment(img, data.shape, rng);
        }
    }
    let [h, w, c] = data.shape;
    let x = Tensor::<4>::from_data(TensorData::new(images, [idx.len(), h, w, c]), device);
    let labels: Vec<i64> = idx.iter().map(|&i| split.labels[i] as i64).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [idx.len()]), device);
    (x, y)
}

/// Loss and accuracy of a model (in eval mode) on a split.
pub fn evaluate(net: &Net, split: &data::Split, data: &Dataset, batch: usize, device: &Device) -> (f64, f64) {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let (mut loss, mut correct) = (0.0, 0usize);
    let order: Vec<usize> = (0..split.len()).collect();
    for idx in order.chunks(batch.max(1)) {
        let (x, y) = batch_tensors(split, idx, data, None, device);
        let logits: Tensor<2> = unpad(net.forward(vec![pad(x)]).remove(0));
        let l: f32 = loss_fn.forward(logits.clone(), y.clone()).into_scalar();
        loss += l as f64 * idx.len() as f64;
        correct += logits.argmax(1).flatten::<1>(0, 1).equal(y).int().sum().into_scalar::<i64>() as usize;
    }
    let n = split.len().max(1) as f64;
    (loss / n, correct as f64 / n)
}

/// Train `net` (built on an autodiff device) and return it with per-epoch metrics.
/// `progress(epoch, step, steps, loss)` is called after every step.
pub fn train(
    mut net: Net,
    data: &Dataset,
    cfg: &TrainConfig,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize, usize, f64),
) -> Result<(Net, Vec<EpochMetrics>), TrainError> {
    check_fits(&net, data)?;
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let clip = cfg.clip.map(GradientClippingConfig::Norm);
    let mut optim = match cfg.recipe.optimizer {
        Optimizer::Sgd => SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
            .with_weight_decay((cfg.recipe.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.recipe.weight_decay as f32)))
            .with_gradient_clipping(clip)
            .init(),
        Optimizer::Adam => AdamWConfig::new().with_weight_decay(cfg.recipe.weight_decay as f32).with_grad_clipping(clip).init(),
    };
    let n = data.train.len();
    let batch = cfg.recipe.batch.clamp(1, n.max(1));
    let steps = n.div_ceil(batch);
    let start = Instant::now();
    let mut metrics = Vec::new();
    let mut step = 0;
    for epoch in 0..cfg.recipe.epochs {
        let t0 = Instant::now();
        let mut rng = Rng::new(cfg.seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64));
        let order = data::permutation(n, &mut rng);
        let (mut loss_sum, mut correct) = (0.0, 0usize);
        let mut lr = cfg.recipe.lr;
        for (k, idx) in order.chunks(batch).enumerate() {
            let aug = if data.augment { Some(&mut rng) } else { None };
            let (x, y) = batch_tensors(&data.train, idx, data, aug, device);
            let logits: Tensor<2> = unpad(net.forward(vec![pad(x)]).remove(0));
            let loss = loss_fn.forward(logits.clone(), y.clone());
            let l: f32 = loss.clone().into_scalar();
            if !l.is_finite() {
                return Err(TrainError(format!("training diverged: the loss is {l} at epoch {}, step {}; lower the learning rate (--lr)", epoch + 1, k + 1)));
            }
            correct += logits.argmax(1).flatten::<1>(0, 1).equal(y).int().sum().into_scalar::<i64>() as usize;
            loss_sum += l as f64 * idx.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            lr = lr_at(cfg, step, steps);
            net = optim.step(lr, net, grads);
            step += 1;
            progress(epoch, k + 1, steps, l as f64);
            if cfg.time_budget.is_some_and(|b| start.elapsed().as_secs_f64() > b) {
                break;
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        let over_time = cfg.time_budget.is_some_and(|b| start.elapsed().as_secs_f64() > b);
        let e = epoch + 1;
        let wanted = cfg.eval_epochs.as_ref().is_none_or(|at| at.contains(&e)) || over_time || e == cfg.recipe.epochs || cfg.rungs.iter().any(|r| r.epoch == e);
        let t1 = Instant::now();
        let (test_loss, test_accuracy) =
            if wanted { evaluate(&net.valid(), &data.test, data, EVAL_BATCH, &device.clone().inner()) } else { (f64::NAN, f64::NAN) };
        let eval_seconds = t1.elapsed().as_secs_f64();
        metrics.push(EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / n as f64,
            train_accuracy: correct as f64 / n as f64,
            test_loss,
            test_accuracy,
            images_per_sec: n as f64 / seconds.max(1e-9),
            seconds,
            eval_seconds,
            lr,
        });
        if over_time || stopped_at(&cfg.rungs, &metrics[metrics.len() - 1..]).is_some() {
            break;
        }
    }
    Ok((net, metrics))
}

#[cfg(test)]
mod budget_tests {
    use super::check_param_budget;

    #[test]
    fn parameter_budget() {
        assert!(check_param_budget(1000, None).is_ok());
        assert_eq!(check_param_budget(5000, Some(4000)).unwrap_err().0, "the model has 5000 parameters, more than --max-params 4000");
        assert!(check_param_budget(-1, None).unwrap_err().0.contains("unknown"));
        let e = check_param_budget(i64::MAX, None).unwrap_err().0;
        assert!(e.contains("GiB are available"), "{e}");
    }
}

#[cfg(test)]
mod warmup_tests {
    use super::warmup_epochs;

    /// `nasc train` and evolve's workers warm up alike: as asked, but at most half the training.
    #[test]
    fn the_warm_up_is_at_most_half_the_training() {
        assert_eq!(warmup_epochs(1.0, 20), 1.0);
        assert_eq!(warmup_epochs(1.0, 1), 0.5);
        assert_eq!(warmup_epochs(3.0, 4), 2.0);
        assert_eq!(warmup_epochs(0.0, 5), 0.0);
    }
}
