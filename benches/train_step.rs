//! One training step (forward, cross-entropy, backward, SGD update) of the PyTorch-comparison
//! models in `benches/models/`, at batch 64.
//! Run: cargo bench --profile dev --bench train_step  (the dev profile optimises burn and the
//! kernels fully; `-- resnet` selects one model). `NASC_CPU_KERNELS=burn` in front times
//! burn-flex's own convolution, pooling and batch-norm ops instead of nasc's kernels. The ratio
//! against PyTorch is measured by `scripts/compare_torch.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Int, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use nasc::lower::{Net, RANK, lower, padded_dims, unpad};
use std::time::Duration;

fn net(file: &str, dev: &Device) -> Net {
    let module = nasc::compile_file(std::path::Path::new(file)).expect("bench models check");
    let entry = nasc::check::select_model(&module.program, None).expect("one model");
    let graph = module.checked.graph(&entry.def.name.name).expect("the model's graph");
    lower(graph, dev).expect("bench models lower")
}

fn bench(c: &mut Criterion) {
    nasc_burn::train::prepare_process();
    let dev = Device::flex().autodiff();
    let batch = 64;
    let mut g = c.benchmark_group("train step, batch 64");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(10));
    for model in ["cnn_small", "dwsep_cifar", "resnet18_cifar"] {
        let mut net = net(&format!("benches/models/{model}.nas"), &dev);
        let x: Tensor<RANK> = Tensor::random(padded_dims(&[batch, 32, 32, 3]), Distribution::Normal(0.0, 1.0), &dev);
        let y = Tensor::<1, Int>::random([batch], Distribution::Uniform(0.0, 10.0), &dev);
        let loss_fn = CrossEntropyLossConfig::new().init(&dev);
        let mut optim = SgdConfig::new().init();
        g.bench_function(model, |b| {
            b.iter(|| {
                let logits: Tensor<2> = unpad(net.forward(vec![x.clone()]).remove(0));
                let grads = GradientsParams::from_grads(loss_fn.forward(logits, y.clone()).backward(), &net);
                net = optim.step(0.01, net.clone(), grads);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
