//! On a GPU host: one training step of cnn_digits on CUDA against the CPU backend from the same
//! weights. Built only with `--features cuda`; `scripts/gpu_smoke.sh` runs it. Without a usable
//! CUDA device it fails with `nasc devices`'s reason, never silently passes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations
#![cfg(feature = "cuda")]

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Int, Tensor};
use nasc::lower::{RANK, lower, padded_dims, unpad};

struct Collect(Vec<Vec<f32>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push(p.val().into_data().try_to_vec::<f32>().unwrap_or_default());
    }
}

fn params(net: &impl Module) -> Vec<Vec<f32>> {
    let mut c = Collect(Vec::new());
    net.visit(&mut c);
    c.0
}

fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

#[test]
fn one_training_step_on_cuda_matches_the_cpu() {
    if let Err(problems) = nasc::train::devices::cuda_problems() {
        panic!("no usable CUDA device: {}", problems.join("; "));
    }
    let module = nasc::compile_file(std::path::Path::new("examples/cnn_digits.nas")).expect("checks");
    let entry = nasc::check::select_model(&module.program, None).expect("a model");
    let graph = module.checked.graph(&entry.def.name.name).expect("graph");
    let (cpu, gpu) = (Device::flex().autodiff(), Device::cuda(0).autodiff());
    cpu.seed(3);
    let net_cpu = lower(graph, &cpu).expect("lowers");
    let net_gpu = net_cpu.clone().to_device(&gpu);
    let x: Tensor<RANK> = Tensor::random(padded_dims(&[32, 8, 8, 1]), Distribution::Normal(0.0, 1.0), &cpu);
    let y = Tensor::<1, Int>::random([32], Distribution::Uniform(0.0, 10.0), &cpu);
    let before = params(&net_cpu);
    let mut after = Vec::new();
    let mut losses = Vec::new();
    for (net, dev) in [(net_cpu, &cpu), (net_gpu, &gpu)] {
        let loss_fn = CrossEntropyLossConfig::new().init(dev);
        let logits: Tensor<2> = unpad(net.forward(vec![x.clone().to_device(dev)]).remove(0));
        let loss = loss_fn.forward(logits, y.clone().to_device(dev));
        losses.push(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let mut optim = SgdConfig::new().init();
        after.push(params(&optim.step(0.1, net, grads)));
    }
    assert!((losses[0] - losses[1]).abs() < 1e-3 * losses[0].abs().max(1.0), "loss cpu {} vs cuda {}", losses[0], losses[1]);
    for (k, w0) in before.iter().enumerate() {
        // The step's change is -lr·gradient: compare the gradients through it.
        let step = |w: &Vec<f32>| w.iter().zip(w0).map(|(a, b)| a - b).collect::<Vec<f32>>();
        let d = rel_diff(&step(&after[1][k]), &step(&after[0][k]));
        assert!(d < 1e-3, "parameter {k}: gradient relative difference {d}");
    }
}
