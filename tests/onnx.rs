//! `--emit onnx`: every example and benchmark model, exported with random weights, runs in
//! tract (a pure-Rust ONNX runtime) and gives burn's outputs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use burn::tensor::{Device, Distribution, Tensor};
use nasc::interop::onnx::export_onnx;
use nasc::lower::{RANK, lower};
use std::path::Path;
use tract_onnx::prelude::*;

/// The model with batch-norm statistics from a few training-mode passes over a random batch:
/// with the initial statistics (mean 0, variance 1) the activations of deep networks fade, and
/// the comparison would mostly see the last layer's bias.
fn calibrated(g: &nasc::ir::Graph) -> nasc::lower::Net {
    use burn::module::Module;
    let dev = Device::flex().autodiff();
    dev.seed(3);
    let net = lower(g, &dev).unwrap();
    let shape: Vec<usize> = g.shape(g.inputs[0]).0.iter().map(|d| d.as_int().map_or(2, |v| v as usize)).collect();
    let mut padded = [1usize; RANK];
    padded[RANK - shape.len()..].copy_from_slice(&shape);
    for _ in 0..8 {
        let x = Tensor::<RANK>::random(padded, Distribution::Normal(0.0, 1.0), &dev);
        let _ = net.forward(vec![x]);
    }
    net.valid()
}

/// Export `file`'s model, run a random batch of 2 through tract and burn; the largest
/// difference over the largest |output|.
fn round_trip(file: &str) -> f32 {
    let c = nasc::compile_file(Path::new(file)).unwrap_or_else(|f| panic!("{file}: {}", f.first_message()));
    let m = c.model(None).unwrap();
    let dev = Device::flex();
    let net = calibrated(m.graph);
    let inputs: Vec<String> = m.input_names();
    let bytes = export_onnx(m.graph, &net, &inputs, None).unwrap_or_else(|e| panic!("{file}: {e}"));
    let shape: Vec<usize> = m.graph.shape(m.graph.inputs[0]).0.iter().map(|d| d.as_int().map_or(2, |v| v as usize)).collect();
    let mut padded = [1usize; RANK];
    padded[RANK - shape.len()..].copy_from_slice(&shape);
    let x = Tensor::<RANK>::random(padded, Distribution::Normal(0.0, 1.0), &dev);
    let values: Vec<f32> = x.clone().into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let want: Vec<f32> = net.forward(vec![x]).remove(0).into_data().convert::<f32>().try_to_vec::<f32>().unwrap();

    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .unwrap_or_else(|e| panic!("{file}: tract reads the model: {e:?}"))
        .with_input_fact(0, f32::fact(&shape).into())
        .unwrap()
        .into_optimized()
        .unwrap_or_else(|e| panic!("{file}: tract optimises the model: {e:?}"))
        .into_runnable()
        .unwrap();
    let input: Tensor_ = tract_ndarray::ArrayD::from_shape_vec(shape.clone(), values).unwrap().into();
    let out = model.run(tvec!(input.into())).unwrap_or_else(|e| panic!("{file}: tract runs the model: {e:?}"));
    let got: Vec<f32> = out[0].to_array_view::<f32>().unwrap().iter().copied().collect();
    assert_eq!(got.len(), want.len(), "{file}: output sizes");
    assert!(got.iter().chain(&want).all(|v| v.is_finite()), "{file}: non-finite outputs");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(scale > 1e-3, "{file}: outputs too small to compare ({scale:e})");
    got.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs())) / scale
}

type Tensor_ = tract_onnx::prelude::Tensor;

#[test]
fn every_example_and_benchmark_model_runs_in_tract_as_in_burn() {
    let mut files: Vec<String> = std::fs::read_dir("examples")
        .unwrap()
        .chain(std::fs::read_dir("benches/models").unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nas"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 19, "{files:?}");
    let mut failed = Vec::new();
    for f in &files {
        let d = round_trip(f);
        println!("{f}: max rel. difference {d:.1e}");
        if d > 1e-4 {
            failed.push(format!("{f}: {d:.1e}"));
        }
    }
    assert!(failed.is_empty(), "{failed:?}");
}

/// Trained weights with their input normalisation: `nasc infer` and the exported ONNX model (in
/// tract) both normalise the raw input the same way.
#[test]
fn exported_models_normalise_their_inputs_as_nasc_infer() {
    let dir = std::env::temp_dir().join(format!("nasc-onnx-norm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let nasc = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nasc")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let run = dir.join("run");
    nasc(&["train", "examples/cnn_digits.nas", "--data", "digits", "--epochs", "1", "--quiet", "--weights-format", "safetensors", "--out", &s(&run)]);
    let w = run.join("weights.safetensors");
    let onnx = dir.join("m.onnx");
    nasc(&["build", "examples/cnn_digits.nas", "--emit", "onnx", "--weights", &s(&w), "-o", &s(&onnx)]);
    let values: Vec<f32> = (0..2 * 64).map(|k| ((k * 29) % 16) as f32 / 16.0).collect();
    let x = dir.join("x.npy");
    std::fs::write(&x, nasc::interop::npy::write_npy(&[2, 8, 8, 1], &values).unwrap()).unwrap();
    let y = dir.join("y.npy");
    let err = nasc(&["infer", "examples/cnn_digits.nas", "--weights", &s(&w), "--input", &s(&x), "-o", &s(&y)]);
    assert!(err.contains("applied the weights' input normalisation"), "{err}");
    let (_, want) = nasc::interop::npy::read_npy(&y).unwrap();
    let model = tract_onnx::onnx()
        .model_for_path(&onnx)
        .unwrap()
        .with_input_fact(0, f32::fact([2, 8, 8, 1]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input: Tensor_ = tract_ndarray::ArrayD::from_shape_vec(vec![2, 8, 8, 1], values).unwrap().into();
    let got: Vec<f32> = model.run(tvec!(input.into())).unwrap()[0].to_array_view::<f32>().unwrap().iter().copied().collect();
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = got.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs())) / scale;
    assert!(diff < 1e-4, "{diff:e}");
    let _ = std::fs::remove_dir_all(&dir);
}
