//! Weights in and out (safetensors, `--init`, `--weights-by`), `nasc infer` and `--emit torch`
//! through the command line. PyTorch itself is exercised by `scripts/check_torch_export.py` and
//! `scripts/check_torchvision_equivalence.py` (they need a venv with torch).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn nasc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nasc")).args(args).output().expect("nasc runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nasc-interop-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A float32 .npy file (format 1.0) of `shape`, written by hand so the test needs no numpy.
fn npy(path: &Path, shape: &[usize], values: &[f32]) {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let tuple = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

fn read_npy(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + len..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn digits_input(path: &Path) {
    let values: Vec<f32> = (0..3 * 64).map(|k| ((k * 37) % 17) as f32 / 17.0).collect();
    npy(path, &[3, 8, 8, 1], &values);
}

#[test]
fn safetensors_weights_train_evaluate_infer_and_initialise() {
    let dir = temp_dir("train");
    let run = dir.join("run");
    let (code, _, err) =
        nasc(&["train", "examples/cnn_digits.nas", "--data", "digits", "--epochs", "1", "--quiet", "--weights-format", "safetensors", "--out", s(&run)]);
    assert_eq!(code, 0, "{err}");
    let weights = run.join("weights.safetensors");
    assert!(weights.exists() && !run.join("weights.bpk").exists(), "{err}");

    let (code, out, err) = nasc(&["eval", "examples/cnn_digits.nas", "--data", "digits", "--weights", s(&weights)]);
    assert_eq!(code, 0, "{err}");
    let trained: serde_json::Value = std::fs::read_to_string(run.join("metrics.json")).unwrap().parse().unwrap();
    let evaluated: serde_json::Value = out.parse().unwrap();
    assert_eq!(evaluated["test_accuracy"], trained["test_accuracy"], "the same weights, the same accuracy");

    let (x, y1, y2) = (dir.join("x.npy"), dir.join("y1.npy"), dir.join("y2.npy"));
    digits_input(&x);
    let (code, _, err) = nasc(&["infer", "examples/cnn_digits.nas", "--weights", s(&weights), "--input", s(&x), "-o", s(&y1)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(read_npy(&y1).len(), 3 * 10);

    // By position, the same weights give the same outputs.
    let (code, _, err) = nasc(&["infer", "examples/cnn_digits.nas", "--weights", s(&weights), "--weights-by", "position", "--input", s(&x), "-o", s(&y2)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(read_npy(&y1), read_npy(&y2));

    // Compiled to native code, the function normalises its input as the weights were trained.
    let (code, _, err) = nasc(&["build", "examples/cnn_digits.nas", "--emit", "object", "--weights", s(&weights), "-o", s(&dir.join("m.o"))]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("the compiled function normalises its input as the weights were trained"), "{err}");

    // --init starts from them: one more epoch at a tiny learning rate stays near their accuracy.
    let again = dir.join("again");
    let args = ["train", "examples/cnn_digits.nas", "--data", "digits", "--epochs", "1", "--quiet", "--lr", "1e-9", "--init", s(&weights), "--out", s(&again)];
    let (code, _, err) = nasc(&args);
    assert_eq!(code, 0, "{err}");
    let resumed: serde_json::Value = std::fs::read_to_string(again.join("metrics.json")).unwrap().parse().unwrap();
    let (a, b) = (resumed["test_accuracy"].as_f64().unwrap(), trained["test_accuracy"].as_f64().unwrap());
    assert!((a - b).abs() < 0.02, "from the trained weights: {a} vs {b}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn weights_of_another_model_are_named_errors() {
    let dir = temp_dir("mismatch");
    let run = dir.join("run");
    let (code, _, err) =
        nasc(&["train", "examples/mlp_digits.nas", "--data", "digits", "--epochs", "1", "--quiet", "--weights-format", "safetensors", "--out", s(&run)]);
    assert_eq!(code, 0, "{err}");
    let w = run.join("weights.safetensors");
    let (code, _, err) =
        nasc(&["train", "examples/cnn_digits.nas", "--data", "digits", "--epochs", "1", "--quiet", "--init", s(&w), "--out", s(&dir.join("x"))]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot load weights") && err.contains("of the model's tensors are not in the file: `conv_0.weight`"), "{err}");
    let (code, _, err) = nasc(&[
        "train",
        "examples/cnn_digits.nas",
        "--data",
        "digits",
        "--epochs",
        "1",
        "--quiet",
        "--init",
        s(&w),
        "--init-by",
        "position",
        "--out",
        s(&dir.join("x")),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("the first mismatch is tensor 1: the file's `dense_1.weight` [128, 64] against the model's `conv_0.weight` [32, 1, 3, 3]"), "{err}");

    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file").unwrap();
    let (code, _, err) = nasc(&["eval", "examples/mlp_digits.nas", "--data", "digits", "--weights", s(&junk)]);
    assert_eq!(code, 1);
    assert!(err.contains("junk.safetensors is not a safetensors file"), "{err}");
    let (code, _, err) = nasc(&["train", "examples/mlp_digits.nas", "--data", "digits", "--init-by", "position"]);
    assert_eq!(code, 2, "--init-by needs --init: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn infer_names_bad_inputs() {
    let dir = temp_dir("infer");
    let (x, y) = (dir.join("x.npy"), dir.join("y.npy"));
    npy(&x, &[2, 8, 8, 3], &[0.0; 2 * 8 * 8 * 3]);
    let (code, _, err) = nasc(&["infer", "examples/cnn_digits.nas", "--input", s(&x), "-o", s(&y)]);
    assert_eq!(code, 1);
    assert!(err.contains("the array is [2, 8, 8, 3] but the model takes [B, 8, 8, 1] (channels last)"), "{err}");
    std::fs::write(&x, b"\x93NUMPY\x01\x00garbage").unwrap();
    let (code, _, err) = nasc(&["infer", "examples/cnn_digits.nas", "--input", s(&x), "-o", s(&y)]);
    assert_eq!(code, 1);
    assert!(err.contains("is not a float32 .npy array"), "{err}");
    // A header that declares far more values than the file holds is refused before reading.
    npy(&x, &[100000, 100000, 8, 1], &[0.0; 4]);
    let (code, _, err) = nasc(&["infer", "examples/cnn_digits.nas", "--input", s(&x), "-o", s(&y)]);
    assert_eq!(code, 1);
    assert!(err.contains("declares more values than the file holds"), "{err}");
    // Without weights: a freshly initialised model, outputs of the model's shape.
    digits_input(&x);
    let (code, _, err) = nasc(&["infer", "examples/cnn_digits.nas", "--input", s(&x), "-o", s(&y)]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("[3, 10]"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn emit_torch_writes_a_module_named_as_the_weights() {
    let (code, py, err) = nasc(&["build", "examples/cnn_digits.nas", "--emit", "torch"]);
    assert_eq!(code, 0, "{err}");
    insta::with_settings!({snapshot_path => "../snapshots/interop", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("cnn_digits_torch", py);
    });
    let (code, _, err) = nasc(&["build", "examples/holes/conv_down_hole.nas", "--emit", "torch"]);
    assert_eq!(code, 0, "holes are filled first: {err}");
}

/// A small `--inherit` search of mlp_digits on the digits into `store`.
fn search_mlp_digits(store: &Path, trials: usize, safetensors: bool) -> (i32, String, String) {
    let trials = trials.to_string();
    let mut args = vec!["evolve", "examples/mlp_digits.nas", "--data", "digits", "--trials", &trials, "--epochs", "1", "--inherit", "--final-epochs", "0"];
    if safetensors {
        args.extend(["--weights-format", "safetensors"]);
    }
    args.extend(["--quiet", "--store", s(store)]);
    nasc(&args)
}

#[test]
fn evolve_exports_the_front_as_torch_modules_with_their_weights() {
    let dir = temp_dir("evolve");
    let store = dir.join("run.sqlite");
    let (code, _, err) = search_mlp_digits(&store, 3, false);
    assert_eq!(code, 0, "{err}");
    let out = dir.join("front");
    let (code, _, err) = nasc(&["evolve", "--export", "torch", "--store", s(&store), "--out", s(&out)]);
    assert_eq!(code, 0, "{err}");
    let (_, front, _) = nasc(&["evolve", "--export", "json", "--store", s(&store)]);
    let front: serde_json::Value = front.parse().unwrap();
    let x = dir.join("x.npy");
    digits_input(&x);
    let mut members = 0;
    for c in front["candidates"].as_array().unwrap() {
        let stem = format!("candidate_{:04}", c["id"].as_i64().unwrap());
        let Ok(py) = std::fs::read_to_string(out.join(format!("{stem}.py"))) else { continue };
        members += 1;
        assert!(py.contains("class MlpDigits(nn.Module)"), "{py}");
        // The exported safetensors are the kept .bpk weights: the same outputs.
        let nas = dir.join(format!("{stem}.nas"));
        std::fs::write(&nas, c["source"].as_str().unwrap()).unwrap();
        let bpk = dir.join("run.weights").join(format!("{}.bpk", c["id"]));
        let (y1, y2) = (dir.join("y1.npy"), dir.join("y2.npy"));
        let st = out.join(format!("{stem}.safetensors"));
        assert_eq!(nasc(&["infer", s(&nas), "--weights", s(&bpk), "--input", s(&x), "-o", s(&y1)]).0, 0);
        assert_eq!(nasc(&["infer", s(&nas), "--weights", s(&st), "--input", s(&x), "-o", s(&y2)]).0, 0);
        assert_eq!(read_npy(&y1), read_npy(&y2), "{stem}");
    }
    assert!(members >= 1, "{err}");
    let onnx = dir.join("onnx");
    let (code, _, err) = nasc(&["evolve", "--export", "onnx", "--store", s(&store), "--out", s(&onnx)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_dir(&onnx).unwrap().count(), members, "one .onnx per front member");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn emit_onnx_writes_a_file_and_needs_one() {
    let dir = temp_dir("onnx");
    let (code, _, err) = nasc(&["build", "examples/cnn_digits.nas", "--emit", "onnx"]);
    assert_eq!(code, 1);
    assert!(err.contains("--emit onnx writes a file: give it with -o"), "{err}");
    let out = dir.join("m.onnx");
    let (code, _, err) = nasc(&["build", "examples/cnn_digits.nas", "--emit", "onnx", "-o", s(&out)]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no --weights") && err.contains("(ONNX opset 17, channels-last input)"), "{err}");
    assert!(std::fs::metadata(&out).unwrap().len() > 29162 * 4, "the weights are in the file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn evolve_keeps_safetensors_weights_and_children_inherit_them() {
    let dir = temp_dir("evolve-st");
    let store = dir.join("run.sqlite");
    let (code, _, err) = search_mlp_digits(&store, 4, true);
    assert_eq!(code, 0, "{err}");
    let kept: Vec<String> = std::fs::read_dir(dir.join("run.weights")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!kept.is_empty() && kept.iter().all(|n| n.ends_with(".safetensors")), "{kept:?}");
    let (_, json, _) = nasc(&["evolve", "--export", "json", "--store", s(&store)]);
    let v: serde_json::Value = json.parse().unwrap();
    let inherited = v["candidates"].as_array().unwrap().iter().filter(|c| c["inherited"].as_i64().is_some_and(|n| n > 0)).count();
    assert!(inherited >= 1, "a child started from its parent's safetensors weights: {json}");
    let _ = std::fs::remove_dir_all(&dir);
}
