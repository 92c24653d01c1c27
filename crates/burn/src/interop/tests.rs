#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::torch::emit_torch;
use super::weights::*;
use crate::lower::{Net, lower};
use burn::tensor::{Device, Distribution, Tensor};

const SRC: &str = "
model M(x: [B, 6, 6, 2]) -> [B, 3] {
    let a = x |> conv(4, kernel: 3, stride: 2) |> batch_norm |> relu
    let s = param([3, 3, 4])
    let y = (a + s) |> layer_norm |> group_norm(2)
    return y |> avg_pool(2, padding: [0, 0, 1, 1]) |> flatten |> dense(3)
}
";

fn net(seed: u64) -> (nasc_core::Compilation, Net) {
    let c = nasc_core::compile("m.nas", SRC).unwrap();
    let m = c.model(None).unwrap();
    let dev = Device::flex();
    dev.seed(seed);
    let n = lower(m.graph, &dev).unwrap();
    (c, n)
}

fn input() -> Tensor<4> {
    let dev = Device::flex();
    dev.seed(7);
    Tensor::random([2, 6, 6, 2], Distribution::Normal(0.0, 1.0), &dev)
}

fn max_diff(a: Tensor<2>, b: Tensor<2>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

#[test]
fn names_follow_pytorch_in_declaration_order() {
    let (_, n) = net(1);
    let names: Vec<String> = tensors(&n).into_iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "conv_0.weight",
            "conv_0.bias",
            "batch_norm_1.weight",
            "batch_norm_1.bias",
            "batch_norm_1.running_mean",
            "batch_norm_1.running_var",
            "param_3",
            "layer_norm_5.weight",
            "layer_norm_5.bias",
            "group_norm_6.weight",
            "group_norm_6.bias",
            "dense_9.weight",
            "dense_9.bias",
        ]
    );
    let dense = tensors(&n).into_iter().find(|t| t.name == "dense_9.weight").unwrap();
    assert_eq!(dense.shape, [3, 8], "PyTorch's [out, in]");
}

#[test]
fn safetensors_round_trip_gives_the_same_function() {
    let (_, a) = net(1);
    let (_, b) = net(2);
    assert!(max_diff(a.classify(input()), b.classify(input())) > 1e-3, "two seeds differ");
    let bytes = safetensors_bytes(&tensors(&a), &[]).unwrap();
    let path = std::env::temp_dir().join(format!("nasc-interop-{}.safetensors", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let read = read_safetensors(&path).unwrap();
    assert_eq!(read, tensors(&a), "order, names, shapes and values kept");
    let b = load_file(b, &path, MatchBy::Name).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(max_diff(a.classify(input()), b.classify(input())) < 1e-6);
}

#[test]
fn by_position_accepts_other_names_and_squeezed_shapes() {
    let (_, a) = net(1);
    let (_, b) = net(2);
    let renamed: Vec<NamedTensor> = tensors(&a)
        .into_iter()
        .enumerate()
        .map(|(k, mut t)| {
            t.name = format!("other.{k}");
            if t.shape.len() == 1 {
                t.shape.push(1);
            }
            t
        })
        .collect();
    let err = load(net(3).1, renamed.clone(), MatchBy::Name).unwrap_err();
    assert!(err.starts_with("13 of the model's tensors are not in the file: `conv_0.weight`"), "{err}");
    assert!(err.contains("--weights-by position"), "{err}");
    let b = load(b, renamed, MatchBy::Position).unwrap();
    assert!(max_diff(a.classify(input()), b.classify(input())) < 1e-6);
}

#[test]
fn mismatches_are_named() {
    let (_, a) = net(1);
    let mut ts = tensors(&a);
    ts[2].shape = vec![5];
    ts[2].data = vec![0.0; 5];
    let err = load(net(2).1, ts.clone(), MatchBy::Position).unwrap_err();
    assert_eq!(err, "`batch_norm_1.weight` has shape [5], but the model's `batch_norm_1.weight` is [4]");
    ts.remove(0);
    let err = load(net(2).1, ts.clone(), MatchBy::Position).unwrap_err();
    assert!(err.starts_with("the file has 12 tensors and the model 13; the first mismatch is tensor 1: the file's `conv_0.bias` [4]"), "{err}");
    ts.push(NamedTensor { name: "extra".into(), shape: vec![1], data: vec![0.0] });
    let mut full = tensors(&a);
    full.push(NamedTensor { name: "extra".into(), shape: vec![1], data: vec![0.0] });
    let err = load(net(2).1, full, MatchBy::Name).unwrap_err();
    assert!(err.starts_with("the file has 1 tensors the model does not have: `extra`"), "{err}");
}

#[test]
fn broken_files_are_errors() {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("nasc-interop-bad-{}.safetensors", std::process::id()));
    std::fs::write(&path, b"\x10\0\0\0\0\0\0\0{not json at all").unwrap();
    let err = read_safetensors(&path).unwrap_err();
    assert!(err.contains("is not a safetensors file"), "{err}");
    std::fs::write(&path, [0u8; 3]).unwrap();
    assert!(read_safetensors(&path).unwrap_err().contains("is not a safetensors file"));
    let missing = dir.join("nasc-no-such-file.safetensors");
    assert!(read_safetensors(&missing).unwrap_err().starts_with("cannot read"));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn half_precision_is_read() {
    assert_eq!(super::weights::f16_to_f32(0x3c00), 1.0);
    assert_eq!(super::weights::f16_to_f32(0xc000), -2.0);
    assert_eq!(super::weights::f16_to_f32(0x3555), 0.333_251_95);
    assert_eq!(super::weights::f16_to_f32(0x0001), 2f32.powi(-24));
}

#[test]
fn torch_module_names_its_layers_as_the_weights() {
    let (c, n) = net(1);
    let m = c.model(None).unwrap();
    let py = emit_torch(m.graph, &["x".to_string()], "m.nas", Some(0)).unwrap();
    for t in tensors(&n) {
        let layer = t.name.split('.').next().unwrap();
        assert!(py.contains(&format!("self.{layer} = ")), "{layer} in\n{py}");
    }
    assert!(py.contains("t1 = _nhwc(self.conv_0, _pad(t0, (0, 0, 1, 1)))"), "{py}");
    assert!(py.contains("_avg_pool(t7, (2, 2), (2, 2), (0, 1, 0, 1), True)"), "{py}");
    assert!(py.contains("b = x.shape[0]"), "{py}");
    assert!(py.contains("t0 = (x - self.input_mean) / self.input_std"), "{py}");
}
