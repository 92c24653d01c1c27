//! `nasc build --emit rust`: the generated files in tests/generated/ are what nasc emits today,
//! they compile (as modules of this test), and on the same weights they compute what the
//! lowered module computes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use nasc::lower::{Net, lower};
use nasc::program::Program;
use std::collections::VecDeque;
use std::process::Command;

#[path = "generated/cnn_digits.rs"]
// Compared byte for byte with what nasc emits: never reformatted.
#[rustfmt::skip]
mod cnn_digits;
#[path = "generated/tiny_vit.rs"]
// Compared byte for byte with what nasc emits: never reformatted.
#[rustfmt::skip]
mod tiny_vit;
#[path = "generated/resnet34_cifar.rs"]
// Compared byte for byte with what nasc emits: never reformatted.
#[rustfmt::skip]
mod resnet34_cifar;
#[path = "generated/vit_s16.rs"]
// Compared byte for byte with what nasc emits: never reformatted.
#[rustfmt::skip]
mod vit_s16;
#[path = "generated/new_ops.rs"]
// Compared byte for byte with what nasc emits: never reformatted.
#[rustfmt::skip]
mod new_ops;
#[path = "generated/efficientnet_b0.rs"]
// Compared byte for byte with what nasc emits: never reformatted.
#[rustfmt::skip]
mod efficientnet_b0;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn emit(file: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nasc")).args(["build", file, "--emit", "rust"]).current_dir(ROOT).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn generated_files_are_current() {
    let examples = ["cnn_digits", "resnet34_cifar", "vit_s16", "efficientnet_b0"].map(|m| (format!("examples/{m}.nas"), format!("tests/generated/{m}.rs")));
    let tiny = ["tiny_vit", "new_ops"].map(|m| (format!("tests/generated/{m}.nas"), format!("tests/generated/{m}.rs")));
    for (nas, rs) in examples.iter().chain(&tiny) {
        let committed = std::fs::read_to_string(format!("{ROOT}/{rs}")).unwrap();
        let (nas, rs) = (nas.as_str(), rs.as_str());
        assert!(emit(nas) == committed, "{rs} is stale: regenerate it with `nasc build {nas} --emit rust > {rs}`");
    }
}

/// Every float tensor of a module, in visiting order.
struct Collect(VecDeque<Vec<f32>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push_back(p.val().into_data().try_to_vec::<f32>().unwrap());
    }
}

/// Overwrite every float tensor of a module, in visiting order, keeping each one's shape.
struct Assign(VecDeque<Vec<f32>>);

impl ModuleMapper for Assign {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let values = self.0.pop_front().expect("as many tensors as the lowered module");
        p.map(|t| {
            assert_eq!(values.len(), t.shape().num_elements(), "tensor sizes differ");
            Tensor::from_data(TensorData::new(values, t.shape()), &t.device())
        })
    }
}

fn lowered(file: &str, dev: &Device) -> Net {
    let prog = Program::load(std::path::Path::new(&format!("{ROOT}/{file}")));
    let checked = nasc::check::check(&prog);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let model = prog.models()[0].def.name.name.clone();
    dev.seed(3);
    lower(checked.graph(&model).unwrap(), dev).unwrap()
}

fn weights_of(net: &Net) -> VecDeque<Vec<f32>> {
    let mut c = Collect(VecDeque::new());
    net.visit(&mut c);
    c.0
}

fn max_diff(a: Tensor<2>, b: Tensor<2>) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b).abs().max().into_scalar::<f32>()
}

#[test]
fn generated_cnn_computes_what_the_lowered_module_computes() {
    let dev = Device::flex();
    let net = lowered("examples/cnn_digits.nas", &dev);
    let generated = cnn_digits::CnnDigits::new(&dev);
    assert_eq!(generated.num_params(), net.num_params());
    let w = weights_of(&net);
    let generated = generated.map(&mut Assign(w));
    let x = Tensor::<4>::random([5, 8, 8, 1], Distribution::Normal(0.0, 1.0), &dev);
    let (want, got) = (net.classify(x.clone()), generated.forward(x));
    let d = max_diff(want.clone(), got);
    assert!(d < 1e-4, "outputs differ by {d}");
    assert!(want.abs().max().into_scalar::<f32>() > 1e-3, "a trivial output proves nothing");
}

#[test]
fn generated_vit_computes_what_the_lowered_module_computes() {
    let dev = Device::flex();
    let net = lowered("tests/generated/tiny_vit.nas", &dev);
    let generated = tiny_vit::TinyVit::new(&dev);
    assert_eq!(generated.num_params(), net.num_params());
    let generated = generated.map(&mut Assign(weights_of(&net)));
    let x = Tensor::<4>::random([3, 8, 8, 3], Distribution::Normal(0.0, 1.0), &dev);
    let d = max_diff(net.classify(x.clone()), generated.forward(x));
    assert!(d < 1e-5, "outputs differ by {d}");
}

/// The lowered example and its generated module on the same weights, at batch 1.
fn compare_example<M: Module>(file: &str, new: fn(&Device) -> M, forward: fn(&M, Tensor<4>) -> Tensor<2>, hw: usize, c: usize) -> f32 {
    let dev = Device::flex();
    let net = lowered(file, &dev);
    let generated = new(&dev);
    assert_eq!(generated.num_params(), net.num_params(), "{file}");
    let generated = generated.map(&mut Assign(weights_of(&net)));
    let x = Tensor::<4>::random([1, hw, hw, c], Distribution::Normal(0.0, 1.0), &dev);
    let want = net.classify(x.clone());
    let scale = want.clone().abs().max().into_scalar::<f32>().max(1e-6);
    max_diff(want, forward(&generated, x)) / scale
}

#[test]
fn generated_examples_compute_what_the_lowered_modules_compute() {
    let r = compare_example("examples/resnet34_cifar.nas", resnet34_cifar::ResNet34Cifar::new, |m, x| m.forward(x), 32, 3);
    assert!(r < 1e-4, "resnet34_cifar: relative difference {r}");
    let r = compare_example("examples/efficientnet_b0.nas", efficientnet_b0::EfficientNetB0::new, |m, x| m.forward(x), 224, 3);
    assert!(r < 1e-4, "efficientnet_b0: relative difference {r}");
    let r = compare_example("examples/vit_s16.nas", vit_s16::VitS16::new, |m, x| m.forward(x), 224, 3);
    assert!(r < 1e-4, "vit_s16: relative difference {r}");
}

#[test]
fn models_with_symbolic_sizes_are_an_error_not_a_panic() {
    let dir = std::env::temp_dir().join(format!("nasc-emit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("symbolic.nas");
    std::fs::write(&f, "model M(x: [B, N, 4]) -> [B, N * 4] {\n    return x |> flatten\n}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nasc")).args(["build", f.to_str().unwrap(), "--emit", "rust"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("cannot emit Rust for `M`") && err.contains("N") && err.contains("must be a number"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generated_new_ops_compute_what_the_lowered_module_computes() {
    let dev = Device::flex();
    let net = lowered("tests/generated/new_ops.nas", &dev);
    let generated = new_ops::NewOps::new(&dev);
    assert_eq!(generated.num_params(), net.num_params());
    let generated = generated.map(&mut Assign(weights_of(&net)));
    let x = Tensor::<4>::random([4, 9, 9, 3], Distribution::Normal(0.0, 2.0), &dev);
    let want = net.classify(x.clone());
    let d = max_diff(want.clone(), generated.forward(x));
    assert!(d < 1e-5, "outputs differ by {d}");
    assert!(want.abs().max().into_scalar::<f32>() > 1e-3, "a trivial output proves nothing");
}
