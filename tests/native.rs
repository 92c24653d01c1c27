//! `nasc build --emit object`: a C program compiled with the system `cc` links the object file,
//! runs it on inputs written here, and its outputs equal burn's forward on the same weights.
//! Also the CLI's errors for native code, and `nasc bench --latency`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use burn::module::{Module, ModuleMapper, Param, RunningState};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use nasc::Compilation;
use nasc::lower::{Layer, Net, RANK, lower, padded_dims};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn nasc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nasc"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nasc-native-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Randomize;

impl ModuleMapper for Randomize {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        p.map(|t| Tensor::random(t.shape(), Distribution::Normal(0.0, 0.3), &t.device()))
    }
}

/// The model lowered as `nasc` lowers it, with every weight and batch-norm statistic random.
fn trained_looking(file: &str) -> Net {
    let c = Compilation::load(Path::new(&format!("{ROOT}/{file}"))).unwrap();
    let dev = Device::flex();
    dev.seed(5);
    let mut net = lower(c.model(None).unwrap().graph, &dev).unwrap().map(&mut Randomize);
    for l in &mut net.layers {
        if let Layer::BatchNorm(bn) = l {
            let n = bn.gamma.val().dims()[0];
            bn.running_mean = RunningState::new(Tensor::random([n], Distribution::Normal(0.0, 0.3), &dev));
            bn.running_var = RunningState::new(Tensor::random([n], Distribution::Uniform(0.5, 2.0), &dev));
        }
    }
    net
}

const MAIN_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include "model.h"

/* usage: prog BATCH IN OUT — reads BATCH examples of floats from IN, writes the outputs to OUT. */
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    size_t batch = (size_t)atoi(argv[1]);
    float *in = malloc(sizeof(float) * batch * FORWARD_INPUT_SIZE);
    float *out = malloc(sizeof(float) * batch * FORWARD_OUTPUT_SIZE);
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(in, sizeof(float), batch * FORWARD_INPUT_SIZE, f) != batch * FORWARD_INPUT_SIZE) return 3;
    fclose(f);
    forward(in, out, batch);
    f = fopen(argv[3], "wb");
    if (!f || fwrite(out, sizeof(float), batch * FORWARD_OUTPUT_SIZE, f) != batch * FORWARD_OUTPUT_SIZE) return 4;
    fclose(f);
    return 0;
}
"#;

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[test]
fn a_c_program_linking_the_object_computes_what_burn_computes() {
    for (file, batch) in [("benches/models/dwsep_cifar.nas", 3usize), ("examples/cnn_digits.nas", 5)] {
        let dir = tmp(&file.replace('/', "_"));
        let net = trained_looking(file);
        let weights = dir.join("weights.bpk");
        net.clone().save_file(&weights).unwrap();
        let out =
            nasc().args(["build", file, "--emit", "object", "--weights"]).arg(&weights).arg("-o").arg(dir.join("model.o")).current_dir(ROOT).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let header = std::fs::read_to_string(dir.join("model.h")).unwrap();
        assert!(header.contains("void forward(const float *input, float *output, size_t batch);"), "{header}");
        std::fs::write(dir.join("main.c"), MAIN_C).unwrap();
        let cc = Command::new("cc").args(["-O2", "-o", "prog", "main.c", "model.o"]).current_dir(&dir).output().expect("a C compiler (cc)");
        assert!(cc.status.success(), "cc: {}", String::from_utf8_lossy(&cc.stderr));
        // Inputs written here; the C program's outputs read back.
        let in_shape: Vec<usize> =
            net.plan.input_shapes[0].iter().enumerate().map(|(k, d)| if k == 0 { batch } else { d.as_int().unwrap() as usize }).collect();
        let dev = Device::flex();
        let n: usize = in_shape.iter().product();
        let x: Vec<f32> = Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), &dev).into_data().try_to_vec::<f32>().unwrap();
        std::fs::write(dir.join("in.bin"), x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
        let run = Command::new(dir.join("prog")).args([&batch.to_string(), "in.bin", "out.bin"]).current_dir(&dir).output().unwrap();
        assert!(run.status.success(), "{file}: the C program failed: {:?}", run.status);
        let got = floats(&std::fs::read(dir.join("out.bin")).unwrap());
        let xt = Tensor::<RANK>::from_data(TensorData::new(x, padded_dims(&in_shape)), &dev);
        let want = net.forward(vec![xt]).remove(0).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(got.len(), want.len());
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let diff = got.iter().zip(&want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(scale > 1e-3 && diff <= 1e-4 * scale, "{file}: outputs differ by {diff} (largest {scale})");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn stderr_of(args: &[&str]) -> String {
    let out = nasc().args(args).current_dir(ROOT).output().unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn native_code_errors_are_messages() {
    let dir = tmp("errors");
    let o = dir.join("m.o");
    let o = o.to_str().unwrap();
    let e = stderr_of(&["build", "examples/cnn_digits.nas", "--emit", "object"]);
    assert!(e.contains("--emit object writes a file: give it with -o"), "{e}");
    let e = stderr_of(&["build", "examples/cnn_digits.nas", "-o", o]);
    assert!(e.contains("--weights and -o belong to `--emit object`"), "{e}");
    let e = stderr_of(&["build", "examples/cnn_digits.nas", "--emit", "object", "-o", o, "--symbol", "2fast"]);
    assert!(e.contains("`2fast` is not a C identifier"), "{e}");
    let e = stderr_of(&["build", "examples/cnn_digits.nas", "--emit", "object", "-o", o, "--weights", "nowhere.bpk"]);
    assert!(e.contains("cannot load weights nowhere.bpk"), "{e}");
    // Weights of another model.
    let w = dir.join("mlp.bpk");
    trained_looking("examples/mlp_digits.nas").save_file(&w).unwrap();
    let e = stderr_of(&["build", "examples/cnn_digits.nas", "--emit", "object", "-o", o, "--weights", w.to_str().unwrap()]);
    assert!(e.contains("cannot load weights"), "{e}");
    // An op across the batch.
    let across = dir.join("across.nas");
    std::fs::write(&across, "model M(x: [B, 4]) -> [B, 4] {\n    return x |> softmax(axis: 0)\n}\n").unwrap();
    let e = stderr_of(&["build", across.to_str().unwrap(), "--emit", "object", "-o", o]);
    assert!(e.contains("cannot compile `M` to native code: `softmax` (node 0): it works across the batch axis"), "{e}");
    assert!(!Path::new(o).exists(), "nothing is written on error");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_latency_reports_both_and_the_compile_time() {
    let out = nasc().args(["bench", "--latency", "--runs", "5", "--json", "benches/models/cnn_small.nas"]).current_dir(ROOT).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["native_ms", "burn_ms"] {
        assert!(v[k]["median"].as_f64().is_some_and(|m| m > 0.0) && v[k]["p95"].as_f64() >= v[k]["median"].as_f64(), "{v}");
    }
    assert!(v["compile_ms"].as_f64().is_some_and(|m| m > 0.0), "{v}");
    let e = stderr_of(&["bench", "--weights", "w.bpk", "benches/models/cnn_small.nas"]);
    assert!(e.contains("--latency"), "{e}");
}
