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

use crate::ir::{Graph, NodeKind};
use crate::ops::{Attrs, OpKind};
use crate::shape::Dim;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, GroupNorm, GroupNormConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Distribution, Tensor, activation};

pub use kernels::{RANK, einsum};

/// Why a graph cannot be lowered.
#[derive(Clone, Debug, PartialEq)]
pub struct LowerError(pub String);

impl std::fmt::Display for LowerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The learned part of one node.
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
    Stateless(burn::nn::Identity),
}

/// One node of the plan: what to run and on which values.
#[derive(Clone, Debug)]
pub struct Step {
    pub op: OpKind,
    pub attrs: Attrs,
    pub inputs: Vec<usize>,
    pub outputs: Vec<usize>,
    /// Logical shapes (the batch dim may be symbolic).
    pub in_shapes: Vec<Vec<Dim>>,
    pub out_shapes: Vec<Vec<Dim>>,
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

fn int_attr(a: &Attrs, name: &str) -> Result<usize, LowerError> {
    a.int(name).filter(|v| *v >= 0).map(|v| v as usize).ok_or_else(|| LowerError(format!("`{name}` must be a known integer to lower")))
}

fn concrete_dim(d: &Dim, what: &str) -> Result<usize, LowerError> {
    d.as_int().filter(|v| *v > 0).map(|v| v as usize).ok_or_else(|| LowerError(format!("{what} {d} must be a number to lower")))
}

/// TF-style SAME padding (the language's): (before, after) for one spatial dim.
pub(crate) fn same_padding(n: usize, kernel: usize, stride: usize, dilation: usize) -> (usize, usize) {
    let out = n / stride;
    let total = ((out.saturating_sub(1)) * stride + (kernel - 1) * dilation + 1).saturating_sub(n);
    (total / 2, total - total / 2)
}

fn padding2d(shape: &[Dim], kernel: usize, stride: usize, dilation: usize) -> Result<PaddingConfig2d, LowerError> {
    let h = concrete_dim(&shape[1], "height")?;
    let w = concrete_dim(&shape[2], "width")?;
    let (t, b) = same_padding(h, kernel, stride, dilation);
    let (l, r) = same_padding(w, kernel, stride, dilation);
    Ok(PaddingConfig2d::Explicit(t, l, b, r))
}

fn layer_for(step: &Step, device: &Device) -> Result<Layer, LowerError> {
    let a = &step.attrs;
    let x = step.in_shapes.first().cloned().unwrap_or_default();
    let channels = || x.last().map_or(Err(LowerError("missing input".into())), |d| concrete_dim(d, "channel count"));
    Ok(match step.op {
        OpKind::Dense => {
            Layer::Linear(LinearConfig::new(channels()?, int_attr(a, "features")?).with_bias(a.bool("bias")).init(device))
        }
        OpKind::Conv => {
            let (k, s, d, g) = (int_attr(a, "kernel")?, int_attr(a, "stride")?, int_attr(a, "dilation")?, int_attr(a, "groups")?);
            let cfg = Conv2dConfig::new([channels()?, int_attr(a, "features")?], [k, k])
                .with_stride([s, s])
                .with_dilation([d, d])
                .with_groups(g)
                .with_bias(a.bool("bias"))
                .with_padding(padding2d(&x, k, s, d)?);
            Layer::Conv(cfg.init(device))
        }
        OpKind::BatchNorm => Layer::BatchNorm(BatchNormConfig::new(channels()?).init(device)),
        OpKind::LayerNorm => Layer::LayerNorm(LayerNormConfig::new(channels()?).init(device)),
        OpKind::GroupNorm => Layer::GroupNorm(GroupNormConfig::new(int_attr(a, "groups")?, channels()?).init(device)),
        OpKind::Dropout => Layer::Dropout(DropoutConfig::new(a.float("rate")).init()),
        OpKind::MaxPool | OpKind::AvgPool => {
            let (w, s) = (int_attr(a, "window")?, int_attr(a, "stride")?);
            let pad = padding2d(&x, w, s, 1)?;
            if step.op == OpKind::MaxPool {
                Layer::MaxPool(MaxPool2dConfig::new([w, w]).with_strides([s, s]).with_padding(pad).init())
            } else {
                Layer::AvgPool(AvgPool2dConfig::new([w, w]).with_strides([s, s]).with_padding(pad).with_count_include_pad(false).init())
            }
        }
        OpKind::Param => {
            let dims = padded(&step.out_shapes[0], None)?;
            let t = Tensor::<RANK>::random(dims, Distribution::Normal(0.0, 0.02), device);
            Layer::Param(Param::from_tensor(t))
        }
        OpKind::Relu | OpKind::Gelu | OpKind::Silu | OpKind::Sigmoid | OpKind::Tanh | OpKind::Softmax | OpKind::Mean
        | OpKind::Add | OpKind::Mul | OpKind::Scale | OpKind::Reshape | OpKind::Flatten | OpKind::Transpose | OpKind::Concat
        | OpKind::Split | OpKind::Matmul | OpKind::Einsum | OpKind::Broadcast | OpKind::Select | OpKind::Identity => {
            Layer::Stateless(burn::nn::Identity::new())
        }
    })
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
            _ => concrete_dim(d, "dim")?,
        };
    }
    Ok(out)
}

/// Lower a checked graph (no holes) to a burn module on `device`.
pub fn lower(g: &Graph, device: &Device) -> Result<Net, LowerError> {
    let mut steps = Vec::new();
    let dims = |t: usize| g.shape(t).0.clone();
    for n in &g.nodes {
        let NodeKind::Op { op, attrs } = &n.kind else {
            return Err(LowerError("the model still has a hole; fill it first (`nasc build --emit nas`)".into()));
        };
        steps.push(Step {
            op: *op,
            attrs: attrs.clone(),
            inputs: n.inputs.clone(),
            outputs: n.outputs.clone(),
            in_shapes: n.inputs.iter().map(|&t| dims(t)).collect(),
            out_shapes: n.outputs.iter().map(|&t| dims(t)).collect(),
        });
    }
    let layers = steps.iter().map(|s| layer_for(s, device)).collect::<Result<Vec<_>, _>>()?;
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
        let running: usize = self
            .layers
            .iter()
            .zip(&self.plan.steps)
            .filter(|(l, _)| matches!(l, Layer::BatchNorm(_)))
            .map(|(_, s)| 2 * s.in_shapes[0].last().and_then(Dim::as_int).unwrap_or(0) as usize)
            .sum();
        self.num_params() - running
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
    let same_layouts = ins.windows(2).all(|w| w[0].1 == w[1].1);
    let same_shapes = step.in_shapes.windows(2).all(|w| w[0] == w[1]);
    let nhwc_kernels = rank4 && ins.first().is_some_and(|(t, _)| cpu::runs_here(t));
    if nhwc_kernels && let Some(y) = nhwc_step(step, layer, &ins) {
        return vec![(y, Layout::Last)];
    }
    match (step.op, layer) {
        (OpKind::Conv, Layer::Conv(c)) if rank4 => spatial(first(ins).remove(0), &|t| c.forward(t)),
        (OpKind::MaxPool, Layer::MaxPool(p)) if rank4 => spatial(first(ins).remove(0), &|t| p.forward(t)),
        (OpKind::AvgPool, Layer::AvgPool(p)) if rank4 => spatial(first(ins).remove(0), &|t| p.forward(t)),
        (OpKind::BatchNorm, Layer::BatchNorm(bn)) if rank4 && !nhwc_kernels => {
            let x = first(ins).remove(0);
            vec![(bn.forward(x.swap_dims(1, 3)).swap_dims(1, 3), Layout::First)]
        }
        (OpKind::Relu | OpKind::Gelu | OpKind::Silu | OpKind::Sigmoid | OpKind::Tanh | OpKind::Dropout | OpKind::Scale | OpKind::Identity, _)
            if rank4 && ins.first().is_some_and(|(_, l)| *l == Layout::First) =>
        {
            let layout = ins[0].1;
            run_step(step, layer, ins.into_iter().map(|(t, _)| t).collect(), bsym).into_iter().map(|t| (t, layout)).collect()
        }
        (OpKind::Add | OpKind::Mul, _) if rank4 && same_layouts && same_shapes && ins.first().is_some_and(|(_, l)| *l == Layout::First) => {
            let mut it = ins.into_iter().map(|(t, _)| t);
            let (a, b) = (it.next(), it.next());
            match (a, b) {
                (Some(a), Some(b)) => vec![(if step.op == OpKind::Add { a + b } else { a * b }, Layout::First)],
                _ => vec![],
            }
        }
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
            let geom = cpu::PoolGeom { batch, input: inp, output: [oh, ow], window: p.kernel_size, stride: p.stride, pad: top_left(&p.padding)? };
            cpu::pool2d_nhwc(x4, geom, cpu::PoolKind::Max)
        }
        Layer::AvgPool(p) => {
            let geom = cpu::PoolGeom { batch, input: inp, output: [oh, ow], window: p.kernel_size, stride: p.stride, pad: top_left(&p.padding)? };
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

fn shape_of(dims: &[Dim], bsym: Option<(&str, usize)>) -> [usize; RANK] {
    // The graph was checked and every dim but the batch is a number; lower() made sure of it.
    padded(dims, bsym).unwrap_or([1; RANK])
}

/// A logical axis as an index into the rank-6 padded tensor.
fn padded_axis(d: &Dim, rank: usize) -> usize {
    RANK - rank + crate::ops::normalize_axis(d, rank).unwrap_or(0)
}

fn axis(a: &Attrs, name: &str, rank: usize) -> usize {
    padded_axis(&a.dim(name), rank)
}

fn run_step(step: &Step, layer: &Layer, mut ins: Vec<Tensor<RANK>>, bsym: Option<(&str, usize)>) -> Vec<Tensor<RANK>> {
    let out_shape = || shape_of(&step.out_shapes[0], bsym);
    let in_rank = step.in_shapes.first().map_or(0, Vec::len);
    let a = &step.attrs;
    if step.op == OpKind::Param {
        if let Layer::Param(p) = layer {
            return vec![p.val()];
        }
    }
    let x = ins.remove(0);
    let y = match (step.op, layer) {
        (OpKind::Dense, Layer::Linear(l)) => l.forward(x),
        (OpKind::Conv, Layer::Conv(c)) => channels_first(x, out_shape(), |t| c.forward(t)),
        (OpKind::MaxPool, Layer::MaxPool(p)) => channels_first(x, out_shape(), |t| p.forward(t)),
        (OpKind::AvgPool, Layer::AvgPool(p)) => channels_first(x, out_shape(), |t| p.forward(t)),
        (OpKind::BatchNorm, Layer::BatchNorm(bn)) if cpu::runs_here(&x) => cpu::batch_norm_nhwc(bn, x),
        (OpKind::BatchNorm, Layer::BatchNorm(bn)) => bn.forward(x.swap_dims(1, RANK - 1)).swap_dims(1, RANK - 1),
        (OpKind::LayerNorm, Layer::LayerNorm(ln)) => ln.forward(x),
        (OpKind::GroupNorm, Layer::GroupNorm(gn)) => {
            let d = x.dims();
            let (b, c) = (d[RANK - in_rank], d[RANK - 1]);
            let m: usize = d[RANK - in_rank + 1..RANK - 1].iter().product();
            let y: Tensor<3> = x.reshape([b, m, c]).swap_dims(1, 2);
            gn.forward(y).swap_dims(1, 2).reshape(d)
        }
        (OpKind::Dropout, Layer::Dropout(dr)) => dr.forward(x),
        (OpKind::Relu, _) => activation::relu(x),
        (OpKind::Gelu, _) => activation::gelu(x),
        (OpKind::Silu, _) => activation::silu(x),
        (OpKind::Sigmoid, _) => activation::sigmoid(x),
        (OpKind::Tanh, _) => x.tanh(),
        (OpKind::Softmax, _) => activation::softmax(x, axis(a, "axis", in_rank)),
        (OpKind::Mean, _) => {
            let mut y = x;
            for d in a.dims("axes") {
                y = y.mean_dim(padded_axis(d, in_rank));
            }
            y.reshape(out_shape())
        }
        (OpKind::Add, _) => x.expand(out_shape()) + ins.remove(0).expand(out_shape()),
        (OpKind::Mul, _) => x.expand(out_shape()) * ins.remove(0).expand(out_shape()),
        (OpKind::Scale, _) => x.mul_scalar(a.float("s")),
        (OpKind::Reshape | OpKind::Flatten, _) => x.reshape(out_shape()),
        (OpKind::Transpose, _) => {
            let off = RANK - in_rank;
            let mut perm: [usize; RANK] = std::array::from_fn(|k| k);
            for (j, p) in a.dims("perm").iter().enumerate() {
                perm[off + j] = padded_axis(p, in_rank);
            }
            x.permute(perm)
        }
        (OpKind::Concat, _) => {
            let mut all = vec![x];
            all.append(&mut ins);
            Tensor::cat(all, axis(a, "axis", in_rank))
        }
        (OpKind::Split, _) => return x.chunk(a.int("parts").unwrap_or(1).max(1) as usize, axis(a, "axis", in_rank)),
        (OpKind::Matmul, _) => {
            let y = ins.remove(0);
            let out = out_shape();
            let (xd, yd) = (x.dims(), y.dims());
            let mut xs = out;
            xs[RANK - 1] = xd[RANK - 1];
            let mut ys = out;
            ys[RANK - 2] = yd[RANK - 2];
            x.expand(xs).matmul(y.expand(ys))
        }
        (OpKind::Einsum, _) => einsum(a.str("spec"), x, ins.remove(0), out_shape()),
        (OpKind::Broadcast, _) => x.expand(out_shape()),
        (OpKind::Select, _) => x.narrow(axis(a, "axis", in_rank), a.int("index").unwrap_or(0).max(0) as usize, 1).reshape(out_shape()),
        (OpKind::Identity, _) => x,
        // A layer that does not match its op cannot be built by `lower`.
        (_, _) => x,
    };
    vec![y]
}

/// Run a channels-first rank-4 burn op on a channels-last logical `[B, H, W, C]`.
fn channels_first(x: Tensor<RANK>, out: [usize; RANK], f: impl Fn(Tensor<4>) -> Tensor<4>) -> Tensor<RANK> {
    let d = x.dims();
    let x4: Tensor<4> = x.reshape([d[RANK - 4], d[RANK - 3], d[RANK - 2], d[RANK - 1]]);
    let y = f(x4.permute([0, 3, 1, 2])).permute([0, 2, 3, 1]);
    y.reshape(out)
}
