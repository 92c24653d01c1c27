//! The compiled forward pass computes what burn's forward computes on the same weights: the
//! shipped examples and benchmark models, and programs of every op kind, with batch norm
//! statistics and norm parameters made random so folding is exercised.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use burn::module::{Module, ModuleMapper, Param, RunningState};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use nasc_burn::lower::{Layer, Net, RANK, lower, padded_dims};
use nasc_core::ir::Graph;
use nasc_core::program::Program;
use nasc_native::plan::plan;
use nasc_native::{Jit, NativeError};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Every vector parameter (norm scales and shifts, biases) replaced by a random one, so no
/// norm is the identity and no bias is 0; weights keep their initialisation, which keeps the
/// activations of deep models finite.
struct Randomize;

impl ModuleMapper for Randomize {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if D != 1 {
            return p;
        }
        p.map(|t| Tensor::random(t.shape(), Distribution::Uniform(0.5, 1.5), &t.device()))
    }
}

/// Batch norm statistics as after training: means around 0, variances between 0.5 and 2.
fn randomize(net: Net) -> Net {
    let mut net = net.map(&mut Randomize);
    for l in &mut net.layers {
        if let Layer::BatchNorm(bn) = l {
            let c = bn.gamma.val().dims()[0];
            let dev = bn.gamma.val().device();
            bn.running_mean = RunningState::new(Tensor::random([c], Distribution::Normal(0.0, 0.3), &dev));
            bn.running_var = RunningState::new(Tensor::random([c], Distribution::Uniform(0.5, 2.0), &dev));
        }
    }
    net
}

fn graph_of(prog: &Program) -> Graph {
    let checked = nasc_core::check::check(prog);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let model = prog.models()[0].def.name.name.clone();
    checked.graph(&model).unwrap().clone()
}

/// Burn's and the compiled outputs for `batch` random examples: (max |difference|, max |burn|).
fn compare(g: &Graph, batch: usize, seed: u64) -> Result<(f32, f32), NativeError> {
    let dev = Device::flex();
    dev.seed(seed);
    let net = randomize(lower(g, &dev).map_err(|e| NativeError(e.0))?);
    let p = plan(g, &net)?;
    let mut shape = p.input.shape.clone();
    shape[0] = batch;
    let n: usize = shape.iter().product();
    let x: Vec<f32> = Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), &dev).into_data().try_to_vec::<f32>().unwrap();
    let xt = Tensor::<RANK>::from_data(TensorData::new(x.clone(), padded_dims(&shape)), &dev);
    let want = net.forward(vec![xt]).remove(0).into_data().try_to_vec::<f32>().unwrap();
    let mut jit = Jit::compile(&p)?;
    let got = jit.run(&x, batch)?;
    assert_eq!(got.len(), want.len());
    let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    let scale = want.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    assert!(got.iter().all(|v| v.is_finite()), "non-finite output");
    Ok((diff, scale))
}

fn check_source(name: &str, src: &str, batch: usize) {
    let prog = Program::from_source(name, src);
    let g = graph_of(&prog);
    let (d, s) = compare(&g, batch, 7).unwrap_or_else(|e| panic!("{name}: {e}"));
    println!("{name}: max |difference| {d:.3e}, largest output {s:.3e}");
    assert!(s > 1e-4, "{name}: a trivial output proves nothing");
    assert!(d <= 1e-4 * s, "{name}: outputs differ by {d} (largest output {s}, relative {})", d / s);
}

fn check_file(file: &str, batch: usize) {
    let path = format!("{ROOT}/{file}");
    let src = std::fs::read_to_string(&path).unwrap();
    check_source(file, &src, batch);
}

#[test]
fn benchmark_models_match_burn() {
    for m in ["mlp_digits", "cnn_small", "dwsep_cifar"] {
        check_file(&format!("benches/models/{m}.nas"), 2);
    }
}

#[test]
fn resnet18_matches_burn() {
    check_file("benches/models/resnet18_cifar.nas", 1);
}

#[test]
fn examples_match_burn() {
    for m in ["cnn_digits", "cnn_mnist", "mlp_digits", "resmlp_digits", "resnet_fashion", "cnn2", "inception_small"] {
        check_file(&format!("examples/{m}.nas"), 3);
    }
}

/// The large examples (ImageNet-sized inputs), one example each.
#[test]
fn large_examples_match_burn() {
    for m in ["resnet34_cifar", "mobilenet_v2", "efficientnet_b0", "convnext_tiny", "densenet121", "resnet50", "vit_s16"] {
        let t = std::time::Instant::now();
        check_file(&format!("examples/{m}.nas"), 1);
        println!("  ({m}: {:.1} s)", t.elapsed().as_secs_f64());
    }
}

#[test]
fn every_op_kind_matches_burn() {
    let cases = [
        (
            "conv variants",
            "model M(x: [B, 9, 7, 6]) -> [B, 5, 4, 12] {\n    return x |> conv(12, kernel: 3, stride: 2, groups: 3) |> batch_norm |> relu6 |> conv(12, kernel: 3, dilation: 2, groups: 12) |> conv(12, kernel: 1, bias: false) |> clamp(min: -0.5, max: 0.5)\n}\n",
        ),
        (
            "depthwise and pools",
            "model M(x: [B, 10, 10, 5]) -> [B, 3, 3, 5] {\n    return x |> conv(5, kernel: 5, groups: 5) |> hard_swish |> max_pool(window: 3, stride: 2) |> avg_pool(window: 2, stride: 2, padding: same) |> hard_sigmoid\n}\n",
        ),
        (
            "activations",
            "model M(x: [B, 6]) -> [B, 7] {\n    return x |> dense(7) |> gelu |> dense(7) |> silu |> dense(7) |> sigmoid |> dense(7) |> tanh |> softmax\n}\n",
        ),
        (
            "rectangular windows",
            "model M(x: [B, 9, 8, 6]) -> [B, 4, 2, 4] {\n    return x |> conv(8, kernel: [1, 3], padding: [0, 1]) |> conv(8, kernel: [3, 1], stride: [2, 1], padding: [1, 0]) |> conv(8, kernel: [3, 5], dilation: [2, 1], groups: 8) |> avg_pool(window: [1, 3], stride: [1, 2], padding: [0, 1]) |> max_pool(window: [3, 2], stride: [1, 1], padding: [1, 1, 0, 1]) |> conv(4, kernel: [2, 3], stride: [1, 1], padding: valid) |> relu\n}\n",
        ),
        (
            "counted padding",
            "model M(x: [B, 7, 6, 3]) -> [B, 4, 3, 3] {\n    return x |> avg_pool(window: 3, stride: 2, padding: 1) |> avg_pool(window: 3, stride: 1, padding: 1, count_include_pad: false) |> avg_pool(window: [3, 1], stride: [1, 1], padding: [1, 1, 0, 0]) |> avg_pool(3, stride: 1)\n}\n",
        ),
        (
            "norms",
            "model M(x: [B, 4, 4, 8]) -> [B, 4, 4, 8] {\n    return x |> layer_norm(eps: 0.001) |> group_norm(groups: 2, eps: 0.01) |> batch_norm(eps: 0.001, momentum: 0.01) |> scale(0.5) |> dropout(0.3) |> drop_path(0.1) |> identity\n}\n",
        ),
        ("means", "model M(x: [B, 4, 6, 8]) -> [B, 6] {\n    let y = x |> mean(axes: [1])\n    return y |> mean(axes: [2])\n}\n"),
        ("broadcast arithmetic", "model M(x: [B, 3, 5]) -> [B, 3, 5] {\n    let p = param([5])\n    let q = param([3, 1])\n    return (x + p) * q\n}\n"),
        (
            "moves",
            "model M(x: [B, 4, 6]) -> [B, 6, 3] {\n    let t = x |> transpose(perm: [0, 2, 1])\n    let (a, b) = t |> split(parts: 2, axis: -1)\n    let c = concat([b, a], axis: -1) |> roll(shift: 1, axis: 1)\n    return c |> slice(axis: 2, start: 1, end: 4)\n}\n",
        ),
        (
            "gather and select",
            "model M(x: [B, 5, 4]) -> [B, 3] {\n    let g = x |> gather(indices: [4, 0, 2], axis: 1)\n    return g |> select(axis: 2, index: 1)\n}\n",
        ),
        (
            "matmul and einsum",
            "model M(x: [B, 4, 6]) -> [B, 4, 4] {\n    let w = param([6, 5])\n    let y = matmul(x, w)\n    let z = einsum(y, y, spec: \"bik,bjk->bij\")\n    return z\n}\n",
        ),
        (
            "reshape and broadcast",
            "model M(x: [B, 2, 3]) -> [B, 4, 6] {\n    let f = x |> flatten |> reshape([B, 6, 1]) |> transpose(perm: [0, 2, 1])\n    return f |> broadcast([B, 4, 6])\n}\n",
        ),
    ];
    let mut covered = std::collections::BTreeSet::new();
    for (name, src) in cases {
        check_source(name, src, 3);
        for n in &graph_of(&Program::from_source(name, src)).nodes {
            if let nasc_core::ir::NodeKind::Op { op, .. } = &n.kind {
                covered.insert(*op);
            }
        }
    }
    // Every op of the catalog is in a case above, so a new op cannot skip native code.
    let missing: Vec<&str> = nasc_core::ops::catalog().iter().filter(|s| !covered.contains(&s.kind)).map(|s| s.name).collect();
    assert!(missing.is_empty(), "no case uses {missing:?}: add one");
}

#[test]
fn ops_across_the_batch_are_refused_by_name() {
    let src = "model M(x: [B, 4]) -> [B, 4] {\n    return x |> softmax(axis: 0)\n}\n";
    let g = graph_of(&Program::from_source("batch.nas", src));
    let e = compare(&g, 2, 1).unwrap_err();
    assert!(e.0.contains("`softmax`") && e.0.contains("across the batch axis"), "{e}");
}

/// A random well-typed model: a chain of ops drawn from the synthesis space (every class, a
/// random concrete member: kernel sizes, strides, groups, activations, norms, pools), then
/// with even odds a residual sum or a channel concat with the input, and a second chain.
fn random_model(seed: u64) -> Option<String> {
    use nasc_core::props::{Chain, Target};
    use nasc_core::rng::Rng;
    use nasc_core::shape::{Dim, Shape};
    use nasc_core::synth::{members, representatives};
    let mut rng = Rng::new(seed);
    let b = Dim::sym("B");
    let c = Dim::int(*rng.pick(&[3, 4, 6, 8]));
    let input = match rng.below(3) {
        0 => Shape(vec![b, c]),
        1 => Shape(vec![b, Dim::int(*rng.pick(&[3, 5])), c]),
        _ => {
            let hw = Dim::int(*rng.pick(&[5, 6, 8]));
            Shape(vec![b, hw.clone(), hw, c])
        }
    };
    let chain = |rng: &mut Rng, from: &Shape, n: usize| -> (Chain, Vec<String>) {
        let free = Target { shape: None, ..Target::shape_only(from, from) };
        let (mut ch, mut text) = (Chain::identity(from), Vec::new());
        for _ in 0..n {
            let reps = representatives(&ch.shape, &free);
            let rep = rng.pick(&reps).clone();
            let ms = members(&rep, &ch.shape, &free);
            let Some(op) = (!ms.is_empty()).then(|| ms[rng.below(ms.len())].clone()) else { continue };
            if let Some(next) = ch.then(&op) {
                ch = next;
                text.push(nasc_core::syntax::print::print_stage(&nasc_core::synth::fill::op_stage(&op, Default::default())));
            }
        }
        (ch, text)
    };
    let n = 1 + rng.below(5);
    let (first, ops) = chain(&mut rng, &input, n);
    if ops.is_empty() {
        return None;
    }
    let mut body = format!("    let y = x |> {}\n", ops.join(" |> "));
    let mut shape = first.shape.clone();
    let same_lead = first.shape.rank() == input.rank() && first.shape.0[..input.rank() - 1] == input.0[..input.rank() - 1];
    match rng.below(3) {
        0 if first.shape == input => body += "    let z = x + y\n",
        1 if same_lead => {
            body += "    let z = concat([x, y], axis: -1)\n";
            let last = input.rank() - 1;
            shape.0[last] = Dim::int(input.0[last].as_int()? + first.shape.0[last].as_int()?);
        }
        _ => body += "    let z = y\n",
    }
    let n = rng.below(3);
    let (second, ops2) = chain(&mut rng, &shape, n);
    if ops2.is_empty() {
        body += "    return z\n";
    } else {
        body += &format!("    return z |> {}\n", ops2.join(" |> "));
        shape = second.shape;
    }
    Some(format!("model M(x: {input}) -> {shape} {{\n{body}}}\n"))
}

#[test]
fn random_programs_match_burn() {
    let (mut compared, mut worst) = (0, 0.0f32);
    for seed in 0..400u64 {
        let Some(src) = random_model(seed) else { continue };
        let prog = Program::from_source("random.nas", &src);
        let checked = nasc_core::check::check(&prog);
        assert!(!checked.has_errors(), "seed {seed}: the generator made a program that does not check:\n{src}\n{:?}", checked.diagnostics);
        let g = checked.graph("M").unwrap().clone();
        let (d, s) = compare(&g, 2, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{src}"));
        // Outputs near zero everywhere (a softmax of one element, a norm of constants) still
        // compare in absolute terms.
        let rel = d / s.max(1e-3);
        assert!(rel <= 1e-4, "seed {seed}: outputs differ by {d} (largest {s})\n{src}");
        worst = worst.max(rel);
        compared += 1;
        if compared == 250 {
            break;
        }
    }
    println!("{compared} random programs, worst relative difference {worst:.2e}");
    assert!(compared >= 200, "only {compared} random programs");
}

/// The transcendental activations, element by element over −20..20 (tiny and large values
/// included): within 2e-6 relative (1e-7 absolute near zero) of burn's.
#[test]
fn activations_match_burn_element_by_element() {
    let mut xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 / 100.0).collect();
    xs.extend([1e-6, -1e-6, 3e-4, -3e-4, 0.2499, 0.2501, -0.2501, 87.0, -87.0, 100.0, -100.0]);
    xs.resize(xs.len().div_ceil(4) * 4, 0.0);
    let n = xs.len();
    for act in ["gelu", "silu", "sigmoid", "tanh", "softmax"] {
        let src = format!("model M(x: [B, {n}]) -> [B, {n}] {{\n    return x |> {act}\n}}\n");
        let g = graph_of(&Program::from_source("act.nas", &src));
        let dev = Device::flex();
        let net = lower(&g, &dev).unwrap();
        let p = plan(&g, &net).unwrap();
        let xt = Tensor::<RANK>::from_data(TensorData::new(xs.clone(), padded_dims(&[1, n])), &dev);
        let want = net.forward(vec![xt]).remove(0).into_data().try_to_vec::<f32>().unwrap();
        let got = Jit::compile(&p).unwrap().run(&xs, 1).unwrap();
        let mut worst = (0.0f32, 0.0f32, 0.0f32);
        for ((&x, &a), &b) in xs.iter().zip(&got).zip(&want) {
            let err = (a - b).abs() / (b.abs() * 2e-6 + 1e-7);
            if err > worst.0 {
                worst = (err, x, a - b);
            }
        }
        println!("{act}: worst error {:.2} of the tolerance (at x = {}, difference {:e})", worst.0, worst.1, worst.2);
        assert!(worst.0 <= 1.0, "{act} at x = {}: differs from burn by {:e}", worst.1, worst.2);
    }
}

/// With the training set's normalisation compiled in, the function takes raw pixels: the same
/// outputs as burn's forward on the normalised pixels.
#[test]
fn compiled_normalisation_matches_normalising_first() {
    use nasc_burn::train::data::Normalisation;
    let src = std::fs::read_to_string(format!("{ROOT}/examples/resnet_fashion.nas")).unwrap();
    let c = nasc_core::compile("resnet_fashion.nas", &src).unwrap();
    let g = c.model(None).unwrap().graph.clone();
    let dev = Device::flex();
    dev.seed(5);
    let net = randomize(lower(&g, &dev).unwrap());
    let norm = Normalisation { mean: vec![0.29], std: vec![0.35] };
    let p = nasc_native::plan::plan_normalised(&g, &net, Some(&norm)).unwrap();
    let shape = [2, 28, 28, 1];
    let raw: Vec<f32> = (0..shape.iter().product::<usize>()).map(|k| ((k * 37) % 255) as f32 / 255.0).collect();
    let normalised: Vec<f32> = raw.iter().map(|v| (v - 0.29) / 0.35).collect();
    let xt = Tensor::<RANK>::from_data(TensorData::new(normalised, padded_dims(&shape)), &dev);
    let want = net.forward(vec![xt]).remove(0).into_data().try_to_vec::<f32>().unwrap();
    let got = Jit::compile(&p).unwrap().run(&raw, 2).unwrap();
    let scale = want.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(diff <= 1e-4 * scale.max(1.0), "{diff} of {scale}");
}
