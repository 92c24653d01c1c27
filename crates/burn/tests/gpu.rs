//! The GPU paths, executed: training and every example model's forward pass on a GPU device
//! against the flex CPU backend, from the same weights, with the same batches in the same order.
//! One module per GPU feature: `wgpu` (the first wgpu GPU, else a software adapter such as Mesa's
//! lavapipe) and `cuda` (GPU 0; `scripts/gpu_smoke.sh` runs it on a GPU host). The workspace's
//! tests are built with `wgpu`, but these tests need a device, so they are ignored unless asked
//! for: CI installs lavapipe and runs `cargo test --test gpu -- --ignored wgpu:: --skip imagenet`
//! from the same build. Asked for without the device, a test fails with `nasc devices`'s reason,
//! never silently passes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations
#![cfg(any(feature = "wgpu", feature = "cuda"))]

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use nasc_burn::lower::{Net, RANK, lower};
use nasc_burn::train::data::{DataSource, load_subset};
use nasc_burn::train::{Recipe, train};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn graph_of(file: &Path) -> nasc_core::ir::Graph {
    graph_of_text(&file.display().to_string(), &std::fs::read_to_string(file).unwrap())
}

fn graph_of_text(name: &str, text: &str) -> nasc_core::ir::Graph {
    let c = nasc_core::Compilation::from_source(name, text).unwrap_or_else(|f| panic!("{name}: {}", f.first_message()));
    c.model(None).unwrap().graph.clone()
}

/// The same initial weights every call, in a network of its own: a module's clones share its
/// batch norms' running statistics, so a clone trained on one device would start the other's
/// training from the first one's statistics. `fork`, not `to_device`, moves it: the copy's
/// parameters are then leaves of the other device's graph.
fn initial(g: &nasc_core::ir::Graph) -> Net {
    let cpu = Device::flex().autodiff();
    cpu.seed(5);
    let net = lower(g, &cpu).unwrap();
    // Parameters are initialised when first read, from the device's generator at that moment:
    // read them all now, while it is freshly seeded.
    nasc_burn::interop::weights::tensors(&net);
    net
}

/// Per-epoch training and held-out losses of a model on 256 digits for 2 epochs of batch 32 (16 Adam
/// steps), started from the same weights on both devices.
fn losses(file: &str, g: &nasc_core::ir::Graph, dev: &Device) -> Vec<f64> {
    let data = load_subset(&DataSource::Digits, 0, Some(256)).unwrap();
    let net = initial(g).fork(dev);
    let cfg = Recipe { epochs: 2, batch: 32, ..Recipe::default() }.config(1.0, 7);
    let (_, metrics) = train(net, &data, &cfg, dev, &mut |_, _, _, _| {}).unwrap_or_else(|e| panic!("{file}: {e}"));
    metrics.iter().flat_map(|m| [m.train_loss, m.test_loss]).collect()
}

/// `file`'s model without its dropout: the two devices draw their dropout masks from different
/// random streams, so with it the same seed gives different trainings.
fn without_dropout(file: &str) -> nasc_core::ir::Graph {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    graph_of_text(file, &text.replace(" |> dropout(0.25)", ""))
}

fn training_matches(file: &str, gpu: &Device) {
    let g = without_dropout(file);
    let (want, got) = (losses(file, &g, &Device::flex().autodiff()), losses(file, &g, &gpu.clone().autodiff()));
    println!("{file}: flex {want:?}, {gpu:?} {got:?}");
    for (w, g) in want.iter().zip(&got) {
        // f32 sums in another order over 16 steps: measured within 1e-7 relative on lavapipe.
        assert!((w - g).abs() <= 1e-4 * w.abs().max(1.0), "{file}: flex {want:?}, {gpu:?} {got:?}");
    }
}

/// The largest |difference| of one random batch of 2 through `file`'s model on both devices,
/// over the largest |output|.
fn forward_difference(file: &Path, gpu: &Device) -> f32 {
    let g = graph_of(file);
    let cpu = Device::flex().autodiff();
    cpu.seed(3);
    let net = lower(&g, &cpu).unwrap();
    let shape: Vec<usize> = g.shape(g.inputs[0]).0.iter().map(|d| d.as_int().map_or(2, |v| v as usize)).collect();
    let mut padded = [1usize; RANK];
    padded[RANK - shape.len()..].copy_from_slice(&shape);
    // A few training-mode passes give the batch norms statistics that keep deep networks'
    // activations from fading (as in the ONNX test).
    for _ in 0..4 {
        let _ = net.forward(vec![Tensor::<RANK>::random(padded, Distribution::Normal(0.0, 1.0), &cpu)]);
    }
    let net = net.valid();
    let x = Tensor::<RANK>::random(padded, Distribution::Normal(0.0, 1.0), &Device::flex());
    let values = |t: Tensor<RANK>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let want = values(net.forward(vec![x.clone()]).remove(0));
    let got = values(net.to_device(gpu).forward(vec![x.to_device(gpu)]).remove(0));
    assert_eq!(want.len(), got.len());
    assert!(got.iter().all(|v| v.is_finite()), "{}: non-finite outputs on {gpu:?}", file.display());
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    want.iter().zip(&got).fold(0f32, |m, (a, b)| m.max((a - b).abs())) / scale
}

/// The example models whose input is ImageNet-sized (224×224) or not.
fn examples(imagenet: bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(root().join("examples")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "nas")).collect();
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    files.retain(|f| {
        let g = graph_of(f);
        g.shape(g.inputs[0]).0.iter().any(|d| d.as_int() == Some(224)) == imagenet
    });
    files
}

fn examples_match(files: &[PathBuf], dev: &Device) {
    assert!(!files.is_empty());
    let mut failed = Vec::new();
    for f in files {
        let t = std::time::Instant::now();
        let d = forward_difference(f, dev);
        println!("{}: max rel. difference {d:.1e} ({:.1} s)", f.display(), t.elapsed().as_secs_f64());
        if d > 1e-3 {
            failed.push(format!("{}: {d:.1e}", f.display()));
        }
    }
    assert!(failed.is_empty(), "outputs differ: {failed:?}");
}

/// The tests run one at a time: burn's random generator is one per device for the whole
/// process, so a test seeding it and initialising a network while another draws from it would
/// get other weights than the seed says.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The same checks for each GPU device.
macro_rules! gpu_tests {
    ($device:expr) => {
        #[test]
        #[ignore = "needs a GPU device or lavapipe (scripts/install_lavapipe.sh)"]
        fn training_cnn_digits_matches_the_cpu() {
            let _one = super::one_at_a_time();
            super::training_matches("examples/cnn_digits.nas", &$device);
        }

        #[test]
        #[ignore = "needs a GPU device or lavapipe (scripts/install_lavapipe.sh)"]
        fn training_an_mlp_matches_the_cpu() {
            let _one = super::one_at_a_time();
            super::training_matches("examples/mlp_digits.nas", &$device);
        }

        #[test]
        #[ignore = "needs a GPU device or lavapipe (scripts/install_lavapipe.sh)"]
        fn every_small_example_model_computes_what_it_computes_on_the_cpu() {
            let _one = super::one_at_a_time();
            super::examples_match(&super::examples(false), &$device);
        }

        /// The five 224×224 models: 5 of the 8 minutes a cold lavapipe run takes, so CI leaves
        /// them out (`--skip imagenet`); `scripts/gpu_smoke.sh` runs them.
        #[test]
        #[ignore = "needs a GPU device or lavapipe; CI skips it for time"]
        fn every_imagenet_example_model_computes_what_it_computes_on_the_cpu() {
            let _one = super::one_at_a_time();
            super::examples_match(&super::examples(true), &$device);
        }
    };
}

#[cfg(feature = "wgpu")]
mod wgpu {
    /// `wgpu:0` where the machine has a GPU, else its software adapter.
    fn device() -> burn::tensor::Device {
        nasc_burn::train::device("wgpu:0").or_else(|_| nasc_burn::train::device("wgpu:cpu")).unwrap_or_else(|e| panic!("no wgpu adapter: {e}"))
    }

    gpu_tests!(device());

    #[test]
    fn a_missing_adapter_is_a_named_error() {
        let e = nasc_burn::train::device("wgpu:99").unwrap_err();
        assert!(e.contains("there is no wgpu GPU 99") || e.contains("no GPU adapter found"), "{e}");
        let e = nasc_burn::train::device("wgpu:x").unwrap_err();
        assert!(e.starts_with("unknown wgpu device `wgpu:x`"), "{e}");
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    fn device() -> burn::tensor::Device {
        nasc_burn::train::device("cuda").unwrap_or_else(|e| panic!("no usable CUDA device: {e}"))
    }

    gpu_tests!(device());
}
