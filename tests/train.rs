//! Lowering to burn and training on CPU (burn's flex backend).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Distribution, Int, Tensor};
use nasc::lower::{lower, pad, unpad};
use nasc::train::data::{DataSource, load};
use nasc::train::{Optimizer, Recipe, TrainConfig, train};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn net_for(file: &str, device: &burn::tensor::Device) -> (nasc::lower::Net, i64, Vec<String>) {
    let module = nasc::compile_file(Path::new(file)).unwrap_or_else(|d| panic!("{file}: {d:?}"));
    let report = module.report(None).expect("model");
    let graph = module.checked.graph(&report.model).expect("graph");
    device.seed(0);
    let net = lower(graph, device).expect("lowers");
    (net, report.params.as_int().expect("concrete"), report.outputs.clone())
}

fn run(file: &str, data: DataSource, cfg: &TrainConfig) -> Vec<nasc::train::EpochMetrics> {
    let device = nasc::train::device("cpu").expect("cpu").autodiff();
    let (net, _, _) = net_for(file, &device);
    let data = load(&data, cfg.seed).expect("data");
    let (_, metrics) = train(net, &data, cfg, &device, &mut |_, _, _, _| {}).expect("trains");
    metrics
}

#[test]
fn mlp_digits_reaches_95_percent_and_runs_are_identical() {
    let cfg = TrainConfig { recipe: Recipe { epochs: 20, ..Default::default() }, ..Default::default() };
    let t = Instant::now();
    let a = run("examples/mlp_digits.nas", DataSource::Digits, &cfg);
    println!("mlp_digits: {:.1} s, test accuracy {:.4}", t.elapsed().as_secs_f64(), a.last().expect("epochs").test_accuracy);
    assert!(a.last().expect("epochs").test_accuracy >= 0.95);
}

/// Two `nasc train` runs with the same seed, each its own process. (Inside one test process,
/// parallel tests share burn's per-device RNG, so runs there interleave their random draws.)
#[test]
fn same_seed_same_loss_curve() {
    let losses = |k: usize| {
        let out = std::env::temp_dir().join(format!("nasc-train-det-{}-{k}", std::process::id()));
        let run = Command::new(env!("CARGO_BIN_EXE_nasc"))
            .args(["train", "examples/mlp_digits.nas", "--data", "digits", "--epochs", "8", "--seed", "5", "--quiet", "--out"])
            .arg(&out)
            .output()
            .expect("runs");
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).expect("metrics")).expect("json");
        let _ = std::fs::remove_dir_all(&out);
        m["epochs"].as_array().expect("epochs").iter().map(|e| e["train_loss"].as_f64().expect("loss")).collect::<Vec<_>>()
    };
    let (a, b) = (losses(0), losses(1));
    assert_eq!(a.len(), 8);
    assert_eq!(a, b, "same seed, different loss curve");
}

/// Sparse evaluation (what a search's workers use) evaluates the held-out split after each rung's
/// epoch and the last one only.
#[test]
fn sparse_evaluation_skips_the_epochs_nothing_reads() {
    let rungs = vec![nasc::train::Rung { epoch: 2, min_accuracy: 0.0 }];
    let cfg = TrainConfig { recipe: Recipe { epochs: 5, ..Default::default() }, rungs, eval_epochs: Some(vec![1]), ..Default::default() };
    let m = run("examples/mlp_digits.nas", DataSource::Digits, &cfg);
    let evaluated: Vec<bool> = m.iter().map(|e| e.test_accuracy.is_finite()).collect();
    assert_eq!(evaluated, [true, true, false, false, true]);
    assert!(m.iter().all(|e| e.test_accuracy.is_finite() || e.eval_seconds < 1e-3));
    assert!(m[4].test_accuracy > 0.9, "{}", m[4].test_accuracy);
}

#[test]
fn cnn_digits_reaches_97_percent() {
    let cfg = TrainConfig { recipe: Recipe { epochs: 10, ..Default::default() }, ..Default::default() };
    let t = Instant::now();
    let m = run("examples/cnn_digits.nas", DataSource::Digits, &cfg);
    println!("cnn_digits: {:.1} s, test accuracy {:.4}", t.elapsed().as_secs_f64(), m.last().expect("epochs").test_accuracy);
    assert!(m.last().expect("epochs").test_accuracy >= 0.97);
}

#[test]
fn small_cnn_on_mnist_5k_reaches_95_percent() {
    let cfg = TrainConfig { recipe: Recipe { epochs: 5, ..Default::default() }, ..Default::default() };
    let m = run("examples/cnn_mnist.nas", DataSource::Mnist("data/mnist5k".into()), &cfg);
    println!("cnn_mnist: test accuracy {:.4}", m.last().expect("epochs").test_accuracy);
    assert!(m.last().expect("epochs").test_accuracy >= 0.95);
}

#[test]
fn sgd_trains_too() {
    let cfg = TrainConfig { recipe: Recipe { epochs: 10, lr: 0.05, optimizer: Optimizer::Sgd, ..Default::default() }, ..Default::default() };
    let m = run("examples/mlp_digits.nas", DataSource::Digits, &cfg);
    assert!(m.last().expect("epochs").test_accuracy >= 0.9);
}

/// Every example lowers with the reported parameter count, and one forward and backward step at
/// batch 2 gives the checked output shape. So does `tests/generated/new_ops.nas` (newer ops).
#[test]
fn every_example_runs_a_training_step() {
    let device = nasc::train::device("cpu").expect("cpu").autodiff();
    let mut files: Vec<String> = std::fs::read_dir("examples")
        .expect("examples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "nas"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    // The newer ops and padding modes, small enough to train in a test.
    files.push("tests/generated/new_ops.nas".to_string());
    for file in files {
        let t = Instant::now();
        let (net, params, outputs) = net_for(&file, &device);
        assert_eq!(net.trainable_params() as i64, params, "{file}: lowered parameter count differs from the report");
        let shape = &net.plan.input_shapes[0];
        let mut dims: Vec<usize> = shape.iter().map(|d| d.as_int().unwrap_or(2) as usize).collect();
        dims[0] = 2;
        let x = Tensor::random(nasc::lower::padded_dims(&dims), Distribution::Normal(0.0, 1.0), &device);
        let y: Tensor<2> = unpad(net.forward(vec![x]).remove(0));
        let classes = outputs[0].trim_matches(|c| c == '[' || c == ']').split(", ").nth(1).and_then(|s| s.parse::<usize>().ok()).expect("classes");
        assert_eq!(y.dims(), [2, classes], "{file}");
        let target = Tensor::<1, Int>::from_data([0i64, 1], &device);
        let loss = CrossEntropyLossConfig::new().init(&device).forward(y, target);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let mut optim = SgdConfig::new().init();
        let _ = optim.step(0.01, net, grads);
        println!("{file}: {params} params, step in {:.2} s", t.elapsed().as_secs_f64());
    }
}

#[test]
fn padding_round_trips() {
    let device = nasc::train::device("cpu").expect("cpu");
    let x = Tensor::<4>::random([2, 3, 4, 5], Distribution::Default, &device);
    let back: Tensor<4> = unpad(pad(x.clone()));
    assert_eq!(back.dims(), [2, 3, 4, 5]);
}

fn nasc(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nasc")).args(args).output().expect("runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("nasc-train-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

#[test]
fn bad_data_is_a_clear_error() {
    let (code, err) = nasc(&["train", "examples/mlp_digits.nas", "--data", "mnist:/no/such/dir", "--quiet"]);
    assert_eq!(code, 1);
    assert!(err.contains("data directory /no/such/dir does not exist"), "{err}");

    let d = temp_dir("magic");
    std::fs::write(d.join("x-images-idx3-ubyte"), [0u8, 0, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).expect("write");
    std::fs::write(d.join("x-labels-idx1-ubyte"), [0u8, 0, 8, 1, 0, 0, 0, 0]).expect("write");
    let (code, err) = nasc(&["train", "examples/mlp_digits.nas", "--data", &format!("mnist:{}", d.display()), "--quiet"]);
    assert_eq!(code, 1);
    assert!(err.contains("wrong magic number 2049 (IDX image files start with 2051)"), "{err}");

    let d = temp_dir("truncated");
    let mut images = vec![0u8, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 8, 0, 0, 0, 8];
    images.extend([0u8; 100]);
    std::fs::write(d.join("x-images-idx3-ubyte"), images).expect("write");
    std::fs::write(d.join("x-labels-idx1-ubyte"), [0u8, 0, 8, 1, 0, 0, 0, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).expect("write");
    let (code, err) = nasc(&["train", "examples/mlp_digits.nas", "--data", &format!("mnist:{}", d.display()), "--quiet"]);
    assert_eq!(code, 1);
    assert!(err.contains("truncated: header promises 10 images of 8×8"), "{err}");

    let (code, err) = nasc(&["train", "examples/cnn_mnist.nas", "--data", "digits", "--quiet"]);
    assert_eq!(code, 1);
    assert!(err.contains("the data has 8×8×1 images ([B, 8, 8, 1]) but the model takes [B, 28, 28, 1]"), "{err}");

    let d = temp_dir("cifar-trunc");
    std::fs::write(d.join("data_batch_1.bin"), vec![0u8; 3073 * 2 + 5]).expect("write");
    let (code, err) = nasc(&["train", "benches/models/cnn_small.nas", "--data", &format!("cifar10:{}", d.display()), "--quiet"]);
    assert_eq!(code, 1);
    assert!(err.contains("not a multiple of 3073"), "{err}");

    let (code, err) =
        nasc(&["train", "examples/mlp_digits.nas", "--data", "digits", "--lr", "1e6", "--quiet", "--out", temp_dir("div").to_str().expect("utf8")]);
    assert_eq!(code, 1);
    assert!(err.contains("training diverged"), "{err}");
}

#[test]
fn cifar_batches_load_with_augmentation() {
    let d = temp_dir("cifar");
    let mut rec = Vec::new();
    for k in 0..20u8 {
        rec.push(k % 10);
        rec.extend((0..3072).map(|p| (p as u8).wrapping_mul(k)));
    }
    std::fs::write(d.join("data_batch_1.bin"), &rec).expect("write");
    std::fs::write(d.join("test_batch.bin"), &rec[..3073 * 4]).expect("write");
    let data = load(&DataSource::Cifar10(d.clone()), 0).expect("loads");
    assert_eq!((data.shape, data.train.len(), data.test.len(), data.classes), ([32, 32, 3], 20, 4, 10));
    assert!(data.augment);
    let cfg = TrainConfig { recipe: Recipe { epochs: 1, batch: 8, ..Default::default() }, ..Default::default() };
    let m = run("benches/models/cnn_small.nas", DataSource::Cifar10(d), &cfg);
    assert_eq!(m.len(), 1);
}

#[test]
fn train_then_eval_reports_the_same_accuracy() {
    let out = temp_dir("weights");
    let o = Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(["train", "examples/mlp_digits.nas", "--data", "digits", "--epochs", "3", "--quiet", "--out", out.to_str().expect("utf8")])
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let metrics: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).expect("metrics")).expect("json");
    let o = Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(["eval", "examples/mlp_digits.nas", "--data", "digits", "--weights", out.join("weights.bpk").to_str().expect("utf8")])
        .output()
        .expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let (a, b) = (metrics["test_accuracy"].as_f64().expect("acc"), v["test_accuracy"].as_f64().expect("acc"));
    assert!((a - b).abs() < 1e-9, "{a} vs {b}");
}

/// `fashion:DIR` reads the MNIST layout under its own name; `--train-subset` trains on a seeded
/// stratified subset and leaves the test split alone.
#[test]
fn fashion_source_and_training_subset() {
    let out = temp_dir("subset");
    let (code, err) = nasc(&[
        "train",
        "examples/cnn_mnist.nas",
        "--data",
        "fashion:data/mnist5k",
        "--train-subset",
        "300",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("on fashion (300 train / 1000 test images)"), "{err}");
}

/// A batch norm read only by a ReLU runs it fused on the CPU kernels: the same outputs and
/// gradients, bit for bit, as the same net with every fusion turned off. A norm whose output
/// something else reads too (the residual add here) is not fused.
#[test]
fn fused_batch_norm_relu_is_exact() {
    let src = "model M(x: [B, 6, 6, 4]) -> [B, 3] {\n    let y = x |> conv(4, kernel: 3) |> batch_norm |> relu\n    \
               let z = y |> conv(4, kernel: 3) |> batch_norm\n    let w = relu(z) + z\n    \
               return w |> mean(axes: [1, 2]) |> dense(3)\n}\n";
    let module = nasc::compile("m.nas", src).unwrap_or_else(|d| panic!("{d:?}"));
    let device = nasc::train::device("cpu").expect("cpu").autodiff();
    device.seed(3);
    let fused = lower(module.checked.graph("M").expect("graph"), &device).expect("lowers");
    let flags: Vec<bool> = fused.plan.steps.iter().filter(|s| s.op == nasc::ops::OpKind::BatchNorm).map(|s| s.relu_after).collect();
    assert_eq!(flags, [true, false]);
    assert_eq!(fused.plan.steps.iter().filter(|s| s.fused_away).count(), 1);
    let mut plain = fused.clone();
    plain.plan.steps.iter_mut().for_each(|s| (s.relu_after, s.fused_away) = (false, false));
    let x = Tensor::<4>::random([2, 6, 6, 4], Distribution::Normal(0.0, 1.0), &device).require_grad();
    let outputs = |net: &nasc::lower::Net| {
        let y: Tensor<2> = unpad(net.forward(vec![pad(x.clone())]).remove(0));
        let grads = (y.clone() * y.clone()).sum().backward();
        let first_conv = match &net.layers[0] {
            nasc::lower::Layer::Conv(c) => c.weight.val().grad(&grads).expect("conv weight gradient"),
            other => panic!("{other:?}"),
        };
        (
            y.into_data().try_to_vec::<f32>().expect("f32"),
            first_conv.into_data().try_to_vec::<f32>().expect("f32"),
            x.grad(&grads).expect("input gradient").into_data().try_to_vec::<f32>().expect("f32"),
        )
    };
    assert_eq!(outputs(&fused), outputs(&plain));
}
