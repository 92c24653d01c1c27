//! Lowering: a checked, hole-free graph → a burn module that runs it in topological order.
//!
//! Activations are carried as rank-6 tensors, the language's logical shape right-aligned with
//! leading 1s, so one tensor type serves every rank. The language is channels-last. On the CPU
//! (flex) device, convolutions, pools and batch norms run in nasc's channels-last kernels
//! (`cpu/`), so nothing is permuted; on other devices they run as burn's channels-first modules,
//! permuted around the burn call (and only here). Burn chooses the backend at run time from the
//! `Device`.

pub mod concrete;
pub mod cpu;
pub mod emit;
pub mod kernels;
pub mod layer;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, GroupNorm, GroupNormConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::tensor::{Device, Distribution, Int, Slice, Tensor, activation};
use cpu::PoolKind;
pub use layer::{Activation, LayerDesc, Stateless, describe, same_padding};
use nasc_core::ir::{Graph, NodeKind};
use nasc_core::ops::{LayoutClass, OpKind, State, spec};
use nasc_core::shape::Dim;

pub use kernels::{RANK, einsum};

/// Why a graph cannot be lowered.
#[derive(Clone, Debug, PartialEq)]
pub struct LowerError(pub String);

impl std::fmt::Display for LowerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One node's burn module, built from its [`LayerDesc`]; stateless ops carry their typed
/// description, so running a layer is one exhaustive match.
#[derive(Module, Debug)]
pub enum Layer {
    Linear(Linear),
    Conv(Conv2d),
    BatchNorm(BatchNorm),
    LayerNorm(LayerNorm),
    GroupNorm(GroupNorm),
    Dropout(Dropout),
    MaxPool(MaxPool2d),
    AvgPool(AvgPool2d),
    Param(Param<Tensor<RANK>>),
    Stateless(StatelessLayer),
}

/// A stateless op: nothing to train or save.
#[derive(Module, Debug)]
pub struct StatelessLayer {
    #[module(skip)]
    pub op: Stateless,
}

/// One node of the plan: what to run and on which values.
#[derive(Clone, Debug)]
pub struct Step {
    pub op: OpKind,
    pub inputs: Vec<usize>,
    pub outputs: Vec<usize>,
    /// Logical shapes (the batch dim may be symbolic).
    pub in_shapes: Vec<Vec<Dim>>,
    pub out_shapes: Vec<Vec<Dim>>,
    /// An element-wise op whose inputs have equal shapes: it may run in whatever layout its
    /// inputs share. Decided once here, not at every forward pass.
    pub elementwise: bool,
    /// A batch norm whose only use is a ReLU: the norm applies the ReLU itself (in the same
    /// pass on the CPU kernels) and that ReLU step is `fused_away` (see [`fuse_relus`]).
    pub relu_after: bool,
    /// A ReLU done by the batch norm before it: its output is its input.
    pub fused_away: bool,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub inputs: Vec<usize>,
    pub outputs: Vec<usize>,
    pub input_shapes: Vec<Vec<Dim>>,
    pub output_shapes: Vec<Vec<Dim>>,
    pub tensors: usize,
    pub batch_symbol: Option<String>,
}

/// A lowered model.
#[derive(Module, Debug)]
pub struct Net {
    pub layers: Vec<Layer>,
    #[module(skip)]
    pub plan: Plan,
}

fn explicit(p: [usize; 4]) -> PaddingConfig2d {
    PaddingConfig2d::Explicit(p[0], p[1], p[2], p[3])
}

impl Layer {
    fn build(desc: LayerDesc, device: &Device) -> Layer {
        match desc {
            LayerDesc::Dense { inputs, features, bias } => Layer::Linear(LinearConfig::new(inputs, features).with_bias(bias).init(device)),
            LayerDesc::Conv(c) => {
                let cfg = Conv2dConfig::new([c.channels, c.features], c.kernel)
                    .with_stride(c.stride)
                    .with_dilation(c.dilation)
                    .with_groups(c.groups)
                    .with_bias(c.bias)
                    .with_padding(explicit(c.padding));
                Layer::Conv(cfg.init(device))
            }
            LayerDesc::BatchNorm { channels, eps, momentum } => {
                Layer::BatchNorm(BatchNormConfig::new(channels).with_epsilon(eps).with_momentum(momentum).init(device))
            }
            LayerDesc::LayerNorm { channels, eps } => Layer::LayerNorm(LayerNormConfig::new(channels).with_epsilon(eps).init(device)),
            LayerDesc::GroupNorm { groups, channels, eps } => Layer::GroupNorm(GroupNormConfig::new(groups, channels).with_epsilon(eps).init(device)),
            LayerDesc::Dropout { rate } => Layer::Dropout(DropoutConfig::new(rate).init()),
            LayerDesc::Pool(p) => {
                let (w, s, pad) = (p.window, p.stride, explicit(p.padding));
                match p.kind {
                    PoolKind::Max => Layer::MaxPool(MaxPool2dConfig::new(w).with_strides(s).with_padding(pad).init()),
                    PoolKind::Avg => Layer::AvgPool(AvgPool2dConfig::new(w).with_strides(s).with_padding(pad).with_count_include_pad(p.count_pad).init()),
                }
            }
            LayerDesc::Param { shape } => {
                let t = Tensor::<RANK>::random(padded_dims(&shape), Distribution::Normal(0.0, 0.02), device);
                Layer::Param(Param::from_tensor(t))
            }
            LayerDesc::Stateless(op) => Layer::Stateless(StatelessLayer { op }),
        }
    }
}

/// A logical shape as a rank-6 shape, with the batch symbol set to `batch`.
fn padded(dims: &[Dim], batch: Option<(&str, usize)>) -> Result<[usize; RANK], LowerError> {
    if dims.len() > RANK {
        return Err(LowerError(format!("tensors of rank {} are not supported (at most {RANK})", dims.len())));
    }
    let mut out = [1usize; RANK];
    let off = RANK - dims.len();
    for (k, d) in dims.iter().enumerate() {
        out[off + k] = match batch {
            Some((sym, b)) if *d == Dim::sym(sym) => b,
            _ => layer::concrete(d, "dim")?,
        };
    }
    Ok(out)
}

/// Lower a checked graph (no holes) to a burn module on `device`.
pub fn lower(g: &Graph, device: &Device) -> Result<Net, LowerError> {
    let (mut steps, mut layers) = (Vec::new(), Vec::new());
    let dims = |t: usize| g.shape(t).0.clone();
    for n in &g.nodes {
        let NodeKind::Op { op, attrs } = &n.kind else {
            return Err(LowerError("the model still has a hole; fill it first (`nasc build --emit nas`)".into()));
        };
        let in_shapes: Vec<Vec<Dim>> = n.inputs.iter().map(|&t| dims(t)).collect();
        let elementwise = spec(*op).role.layout == LayoutClass::Elementwise && in_shapes.windows(2).all(|w| w[0] == w[1]);
        let step = Step {
            op: *op,
            inputs: n.inputs.clone(),
            outputs: n.outputs.clone(),
            in_shapes,
            out_shapes: n.outputs.iter().map(|&t| dims(t)).collect(),
            elementwise,
            relu_after: false,
            fused_away: false,
        };
        layers.push(Layer::build(describe(*op, attrs, &step.in_shapes, &step.out_shapes)?, device));
        steps.push(step);
    }
    fuse_relus(&mut steps, &g.outputs);
    let plan = Plan {
        steps,
        inputs: g.inputs.clone(),
        outputs: g.outputs.clone(),
        input_shapes: g.inputs.iter().map(|&t| dims(t)).collect(),
        output_shapes: g.outputs.iter().map(|&t| dims(t)).collect(),
        tensors: g.tensors.len(),
        batch_symbol: g.batch_symbol.clone(),
    };
    Ok(Net { layers, plan })
}

/// Fuse each ReLU into the batch norm before it where it is the norm's only reader (and the
/// graph does not return the norm's output).
fn fuse_relus(steps: &mut [Step], outputs: &[usize]) {
    let mut readers: std::collections::HashMap<usize, Vec<usize>> = std::collections::HashMap::new();
    for (k, s) in steps.iter().enumerate() {
        for &t in &s.inputs {
            readers.entry(t).or_default().push(k);
        }
    }
    for k in 0..steps.len() {
        let [out] = steps[k].outputs[..] else { continue };
        let Some(&[r]) = readers.get(&out).map(Vec::as_slice) else { continue };
        if steps[k].op == OpKind::BatchNorm && steps[r].op == OpKind::Relu && !outputs.contains(&out) {
            steps[k].relu_after = true;
            steps[r].fused_away = true;
        }
    }
}

/// A concrete logical shape as a rank-6 shape.
pub fn padded_dims(dims: &[usize]) -> [usize; RANK] {
    let mut out = [1usize; RANK];
    let n = dims.len().min(RANK);
    out[RANK - n..].copy_from_slice(&dims[dims.len() - n..]);
    out
}

/// Pad a rank-D tensor to rank 6 with leading 1s.
pub fn pad<const D: usize>(x: Tensor<D>) -> Tensor<RANK> {
    let dims = x.dims();
    let mut out = [1usize; RANK];
    out[RANK - D..].copy_from_slice(&dims);
    x.reshape(out)
}

/// The last `D` dims of a padded tensor.
pub fn unpad<const D: usize>(x: Tensor<RANK>) -> Tensor<D> {
    let dims = x.dims();
    let mut out = [0usize; D];
    out.copy_from_slice(&dims[RANK - D..]);
    x.reshape(out)
}

impl Net {
    /// Trainable parameters, the number reports give. burn's `num_params` also counts batch
    /// norm's running mean and variance (2·C per norm), which are statistics, not parameters.
    pub fn trainable_params(&self) -> usize {
        (0..self.layers.len()).map(|i| self.layer_trainable_params(i)).sum()
    }

    /// Layer `i`'s trainable parameters (without a norm's running statistics).
    pub fn layer_trainable_params(&self, i: usize) -> usize {
        let step = &self.plan.steps[i];
        let running = match spec(step.op).role.state {
            State::LearnedWithStatistics => 2 * step.in_shapes[0].last().and_then(Dim::as_int).unwrap_or(0) as usize,
            _ => 0,
        };
        self.layers[i].num_params().saturating_sub(running)
    }

    /// Run the graph. `inputs` are padded to rank 6 (see [`pad`]); so are the outputs.
    pub fn forward(&self, inputs: Vec<Tensor<RANK>>) -> Vec<Tensor<RANK>> {
        let plan = &self.plan;
        let batch = inputs.first().zip(plan.input_shapes.first()).map_or(1, |(x, s)| x.dims()[RANK - s.len()]);
        let bsym = plan.batch_symbol.as_deref().map(|s| (s, batch));
        let mut vals: Vec<Option<(Tensor<RANK>, Layout)>> = vec![None; plan.tensors];
        for (&t, x) in plan.inputs.iter().zip(inputs) {
            vals[t] = Some((x, Layout::Last));
        }
        for (step, layer) in plan.steps.iter().zip(&self.layers) {
            if step.fused_away {
                vals[step.outputs[0]] = vals[step.inputs[0]].clone();
                continue;
            }
            let ins: Vec<(Tensor<RANK>, Layout)> = step.inputs.iter().filter_map(|&t| vals[t].clone()).collect();
            let outs = step_in_layout(step, layer, ins, bsym);
            for (&t, y) in step.outputs.iter().zip(outs) {
                vals[t] = Some(y);
            }
        }
        plan.outputs.iter().filter_map(|&t| vals[t].clone()).map(|(t, l)| channels_last(t, l)).collect()
    }

    /// A classifier's logits `[B, classes]` for an image batch `[B, H, W, C]`.
    pub fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        let out = self.forward(vec![pad(x)]);
        match out.into_iter().next() {
            Some(y) => unpad(y),
            None => Tensor::zeros([0, 0], &Device::default()),
        }
    }
}

/// How a rank-4 activation is stored. Consecutive convolutions, pools, batch norms and
/// element-wise ops keep burn's channels-first layout, so the permutes (which copy) happen only
/// where an op needs the language's channels-last order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// The logical shape, right-aligned: `[1, 1, B, H, W, C]`.
    Last,
    /// Channels first: `[1, 1, B, C, H, W]`.
    First,
}

fn channels_last(t: Tensor<RANK>, l: Layout) -> Tensor<RANK> {
    match l {
        Layout::Last => t,
        Layout::First => t.permute([0, 1, 2, 4, 5, 3]),
    }
}

fn channels_first_layout(t: Tensor<RANK>, l: Layout) -> Tensor<RANK> {
    match l {
        Layout::First => t,
        Layout::Last => t.permute([0, 1, 2, 5, 3, 4]),
    }
}

/// Run one step, in channels-first layout where the op allows it on a rank-4 tensor.
fn step_in_layout(step: &Step, layer: &Layer, ins: Vec<(Tensor<RANK>, Layout)>, bsym: Option<(&str, usize)>) -> Vec<(Tensor<RANK>, Layout)> {
    let rank4 = step.in_shapes.first().is_some_and(|s| s.len() == 4) && step.out_shapes.first().is_some_and(|s| s.len() == 4);
    let first = |ins: Vec<(Tensor<RANK>, Layout)>| -> Vec<Tensor<RANK>> { ins.into_iter().map(|(t, l)| channels_first_layout(t, l)).collect() };
    let spatial = |x: Tensor<RANK>, f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
        let d = x.dims();
        let y = f(x.reshape([d[2], d[3], d[4], d[5]]));
        let [b, c, h, w] = y.dims();
        vec![(y.reshape([1, 1, b, c, h, w]), Layout::First)]
    };
    let nhwc_kernels = rank4 && ins.first().is_some_and(|(t, _)| cpu::runs_here(t));
    if nhwc_kernels && let Some(y) = nhwc_step(step, layer, &ins) {
        return vec![(y, Layout::Last)];
    }
    // Element-wise ops on equal shapes keep whatever layout their inputs share.
    let elementwise = step.elementwise && ins.windows(2).all(|w| w[0].1 == w[1].1);
    match layer {
        Layer::Conv(c) if rank4 => spatial(first(ins).remove(0), &|t| c.forward(t)),
        Layer::MaxPool(p) if rank4 => spatial(first(ins).remove(0), &|t| p.forward(t)),
        Layer::AvgPool(p) if rank4 => spatial(first(ins).remove(0), &|t| p.forward(t)),
        Layer::BatchNorm(bn) if rank4 && !nhwc_kernels => {
            let x = first(ins).remove(0);
            vec![(relu_if(step.relu_after, bn.forward(x.swap_dims(1, 3)).swap_dims(1, 3)), Layout::First)]
        }
        _ if rank4 && elementwise && ins.first().is_some_and(|(_, l)| *l == Layout::First) => {
            run_step(step, layer, ins.into_iter().map(|(t, _)| t).collect(), bsym).into_iter().map(|t| (t, Layout::First)).collect()
        }
        // Everything else runs in the language's logical order.
        _ => {
            let last = ins.into_iter().map(|(t, l)| channels_last(t, l)).collect();
            run_step(step, layer, last, bsym).into_iter().map(|t| (t, Layout::Last)).collect()
        }
    }
}

/// A convolution or pool through nasc's channels-last CPU kernels (`cpu/`); `None` for other
/// ops, which run as before.
fn nhwc_step(step: &Step, layer: &Layer, ins: &[(Tensor<RANK>, Layout)]) -> Option<Tensor<RANK>> {
    if !matches!(layer, Layer::Conv(_) | Layer::MaxPool(_) | Layer::AvgPool(_)) {
        return None;
    }
    let (x, l) = ins.first()?.clone();
    let d = x.dims();
    let input = [d[2], d[3], d[4], d[5]];
    let input = if l == Layout::First { [input[0], input[2], input[3], input[1]] } else { input };
    let x4: Tensor<4> = channels_last(x, l).reshape(input);
    let out = step.out_shapes.first()?;
    let dim = |k: usize| out.get(k).and_then(Dim::as_int).map(|v| v as usize);
    let (oh, ow, oc) = (dim(1)?, dim(2)?, dim(3)?);
    // The geometry is the burn layer's, built once by `layer_for`: both paths run the same conv.
    let (batch, inp) = (input[0], [input[1], input[2], input[3]]);
    let y = match layer {
        Layer::Conv(c) => {
            let geom = cpu::ConvGeom {
                batch,
                input: inp,
                output: [oh, ow, oc],
                kernel: c.kernel_size,
                stride: c.stride,
                dilation: c.dilation,
                pad: top_left(&c.padding)?,
                groups: c.groups,
            };
            cpu::conv2d_nhwc(x4, c.weight.val(), c.bias.as_ref().map(|b| b.val()), geom)
        }
        Layer::MaxPool(p) => {
            let geom =
                cpu::PoolGeom { batch, input: inp, output: [oh, ow], window: p.kernel_size, stride: p.stride, pad: top_left(&p.padding)?, count_pad: None };
            cpu::pool2d_nhwc(x4, geom, cpu::PoolKind::Max)
        }
        Layer::AvgPool(p) => {
            // The padding after includes what ceil mode adds, which PyTorch would not count.
            let count_pad = if p.count_include_pad { Some(bottom_right(&p.padding)?) } else { None };
            let geom = cpu::PoolGeom { batch, input: inp, output: [oh, ow], window: p.kernel_size, stride: p.stride, pad: top_left(&p.padding)?, count_pad };
            cpu::pool2d_nhwc(x4, geom, cpu::PoolKind::Avg)
        }
        _ => return None,
    };
    let [b, h, w, c] = y.dims();
    Some(y.reshape([1, 1, b, h, w, c]))
}

/// The padding before the first row and column (`layer_for` always pads explicitly).
fn top_left(p: &PaddingConfig2d) -> Option<[usize; 2]> {
    match p {
        PaddingConfig2d::Explicit(top, left, _, _) => Some([*top, *left]),
        _ => None,
    }
}

fn bottom_right(p: &PaddingConfig2d) -> Option<[usize; 2]> {
    match p {
        PaddingConfig2d::Explicit(_, _, bottom, right) => Some([*bottom, *right]),
        _ => None,
    }
}

fn shape_of(dims: &[Dim], bsym: Option<(&str, usize)>) -> [usize; RANK] {
    // The graph was checked and every dim but the batch is a number; lower() made sure of it.
    padded(dims, bsym).unwrap_or([1; RANK])
}

fn run_step(step: &Step, layer: &Layer, ins: Vec<Tensor<RANK>>, bsym: Option<(&str, usize)>) -> Vec<Tensor<RANK>> {
    let out_shape = || shape_of(&step.out_shapes[0], bsym);
    let in_rank = step.in_shapes.first().map_or(0, Vec::len);
    let mut ins = ins.into_iter();
    let x = match (layer, ins.next()) {
        (Layer::Param(p), _) => return vec![p.val()],
        (_, Some(x)) => x,
        // The checker gives every other op its tensor inputs.
        (_, None) => return vec![],
    };
    let y = match layer {
        Layer::Linear(l) => l.forward(x),
        Layer::Conv(c) => channels_first(x, out_shape(), |t| c.forward(t)),
        Layer::MaxPool(p) => channels_first(x, out_shape(), |t| p.forward(t)),
        Layer::AvgPool(p) => channels_first(x, out_shape(), |t| p.forward(t)),
        Layer::BatchNorm(bn) if cpu::runs_here(&x) => cpu::batch_norm_nhwc(bn, x, step.relu_after),
        Layer::BatchNorm(bn) => relu_if(step.relu_after, bn.forward(x.swap_dims(1, RANK - 1)).swap_dims(1, RANK - 1)),
        Layer::LayerNorm(ln) => ln.forward(x),
        Layer::GroupNorm(gn) => {
            let d = x.dims();
            let (b, c) = (d[RANK - in_rank], d[RANK - 1]);
            let m: usize = d[RANK - in_rank + 1..RANK - 1].iter().product();
            let y: Tensor<3> = x.reshape([b, m, c]).swap_dims(1, 2);
            gn.forward(y).swap_dims(1, 2).reshape(d)
        }
        Layer::Dropout(dr) => dr.forward(x),
        Layer::Param(p) => p.val(),
        Layer::Stateless(s) => return run_stateless(&s.op, x, ins.collect(), in_rank, out_shape()),
    };
    vec![y]
}

/// burn's batch norm followed by its fused ReLU, off the CPU kernels.
pub(crate) fn relu_if<const D: usize>(relu: bool, y: Tensor<D>) -> Tensor<D> {
    if relu { activation::relu(y) } else { y }
}

/// A stateless op on padded tensors; `out` is the padded output shape.
fn run_stateless(op: &Stateless, x: Tensor<RANK>, mut rest: Vec<Tensor<RANK>>, in_rank: usize, out: [usize; RANK]) -> Vec<Tensor<RANK>> {
    // A logical axis as an index into the rank-6 padded tensor.
    let padded = |axis: usize| RANK - in_rank + axis;
    let mut second = || if rest.is_empty() { None } else { Some(rest.remove(0)) };
    let y = match op {
        Stateless::Activation(a) => a.apply(x),
        Stateless::Softmax { axis } => activation::softmax(x, padded(*axis)),
        Stateless::Mean { axes } => axes.iter().fold(x, |y, &a| y.mean_dim(padded(a))).reshape(out),
        Stateless::Add | Stateless::Mul => {
            let Some(y) = second() else { return vec![] };
            // Equal shapes need no expansion, which keeps this right in either layout.
            let (x, y) = if x.dims() == y.dims() { (x, y) } else { (x.expand(out), y.expand(out)) };
            if *op == Stateless::Add { x + y } else { x * y }
        }
        Stateless::Scale(s) => x.mul_scalar(*s),
        Stateless::DropPath { rate } => drop_path(x, *rate, RANK - in_rank),
        Stateless::Reshape => x.reshape(out),
        Stateless::Transpose { perm } => {
            let mut full: [usize; RANK] = std::array::from_fn(|k| k);
            for (j, &p) in perm.iter().enumerate() {
                full[padded(j)] = padded(p);
            }
            x.permute(full)
        }
        Stateless::Concat { axis } => {
            let mut all = vec![x];
            all.append(&mut rest);
            Tensor::cat(all, padded(*axis))
        }
        Stateless::Split { axis, parts } => return x.chunk(*parts, padded(*axis)),
        Stateless::SplitSizes { axis, sizes } => return x.split_with_sizes(sizes.clone(), padded(*axis)),
        Stateless::Slice { axis, start, end, step } => x.slice_dim(padded(*axis), Slice::new(*start as isize, Some(*end as isize), *step as isize)),
        Stateless::Roll { shift, axis } => x.roll_dim(*shift, padded(*axis)),
        Stateless::Gather { axis, indices } => {
            let device = x.device();
            let at: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
            x.select(padded(*axis), Tensor::<1, Int>::from_ints(at.as_slice(), &device))
        }
        Stateless::Matmul => {
            let Some(y) = second() else { return vec![] };
            let (xd, yd) = (x.dims(), y.dims());
            let (mut xs, mut ys) = (out, out);
            xs[RANK - 1] = xd[RANK - 1];
            ys[RANK - 2] = yd[RANK - 2];
            x.expand(xs).matmul(y.expand(ys))
        }
        Stateless::Einsum { spec } => {
            let Some(y) = second() else { return vec![] };
            einsum(spec, x, y, out)
        }
        Stateless::Broadcast => x.expand(out),
        Stateless::Select { axis, index } => x.narrow(padded(*axis), *index, 1).reshape(out),
        Stateless::Identity => x,
    };
    vec![y]
}

/// Stochastic depth: while training (on an autodiff device), each example along `batch_axis` is
/// zeroed with probability `rate` and the rest scaled by 1/(1 - rate); identity otherwise.
fn drop_path(x: Tensor<RANK>, rate: f64, batch_axis: usize) -> Tensor<RANK> {
    if rate == 0.0 || !x.device().is_autodiff() {
        return x;
    }
    let keep = 1.0 - rate;
    let dims = x.dims();
    let mut per_example = [1usize; RANK];
    per_example[batch_axis] = dims[batch_axis];
    let mask = Tensor::<RANK>::random(per_example, Distribution::Bernoulli(keep), &x.device());
    x * mask.expand(dims) / keep
}

/// Run a channels-first rank-4 burn op on a channels-last logical `[B, H, W, C]`.
fn channels_first(x: Tensor<RANK>, out: [usize; RANK], f: impl Fn(Tensor<4>) -> Tensor<4>) -> Tensor<RANK> {
    let d = x.dims();
    let x4: Tensor<4> = x.reshape([d[RANK - 4], d[RANK - 3], d[RANK - 2], d[RANK - 1]]);
    let y = f(x4.permute([0, 3, 1, 2])).permute([0, 2, 3, 1]);
    y.reshape(out)
}
