//! From a lowered burn model (graph + trained weights) to a plan of kernels over one example.
//!
//! Inference never mixes the examples of a batch (batch norm runs on its running statistics),
//! so the compiled function runs the plan once per example: every tensor keeps the language's
//! logical, channels-last shape with its batch dim set to 1, and lives in one scratch area at
//! an offset chosen by liveness (buffers are reused once their last reader has run). Ops that
//! would mix examples (a reduction, split or transpose over the batch axis, a reshape that
//! folds it) are refused with an error naming the op.
//!
//! The plan is where the exact inference-time rewrites happen: a batch norm after a conv or a
//! dense that nothing else reads is folded into its weights, and a ReLU, ReLU6 or clamp right
//! after a conv, dense or folded norm runs in that kernel's store.

use crate::NativeError;
use burn::tensor::Tensor;
use nasc_burn::lower::cpu::PoolKind;
use nasc_burn::lower::layer::{ConvDesc, PoolDesc};
use nasc_burn::lower::{Activation, Layer, LayerDesc, Net, Stateless, describe};
use nasc_burn::train::data::Normalisation;
use nasc_core::ir::{Graph, NodeKind};
use nasc_core::ops::spec;
use nasc_core::shape::Dim;

mod fuse;
mod pack;
mod place;

pub use pack::taps;
use pack::{pack_conv, padded};

/// Element-wise activations as the kernels compute them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    Relu,
    Relu6,
    Clamp(f32, f32),
    HardSigmoid,
    HardSwish,
    Sigmoid,
    Silu,
    Tanh,
    Gelu,
}

impl Act {
    fn of(a: Activation) -> Act {
        match a {
            Activation::Relu => Act::Relu,
            Activation::Relu6 => Act::Relu6,
            Activation::Clamp { min, max } => Act::Clamp(min as f32, max as f32),
            Activation::HardSigmoid => Act::HardSigmoid,
            Activation::HardSwish => Act::HardSwish,
            Activation::Sigmoid => Act::Sigmoid,
            Activation::Silu => Act::Silu,
            Activation::Tanh => Act::Tanh,
            Activation::Gelu => Act::Gelu,
        }
    }

    /// A clamp: cheap enough to apply in a kernel's store.
    pub fn bounds(self) -> Option<(f32, f32)> {
        match self {
            Act::Relu => Some((0.0, f32::INFINITY)),
            Act::Relu6 => Some((0.0, 6.0)),
            Act::Clamp(lo, hi) => Some((lo, hi)),
            _ => None,
        }
    }
}

/// Where a tensor's floats are: the scratch area, or a constant (weights, params).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buf {
    Scratch,
    Const(usize),
}

/// A tensor of one example: a buffer, an offset in floats, and its logical shape (batch dim 1).
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub buf: Buf,
    pub offset: usize,
    pub shape: Vec<usize>,
}

impl View {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Row-major strides in floats.
    pub fn strides(&self) -> Vec<usize> {
        strides(&self.shape)
    }
}

pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * shape[k + 1];
    }
    s
}

/// What one kernel computes. Constants are indices into [`Plan::consts`].
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// `y = x` (the input into scratch, the result out of it).
    Copy,
    /// Rows of `inputs` → rows of `features`; weights `[inputs][features padded to 4]`.
    Dense {
        inputs: usize,
        features: usize,
        weight: usize,
        bias: Option<usize>,
        clamp: Option<(f32, f32)>,
    },
    /// `[H, W, Cin]` → `[OH, OW, Cout]`. Weights `[group][ky][kx][cin/groups][cout/groups padded to 4]`,
    /// or for a depthwise conv (groups = Cin = Cout) `[ky][kx][C padded to 4]`.
    Conv {
        geom: ConvDesc,
        depthwise: bool,
        weight: usize,
        bias: Option<usize>,
        clamp: Option<(f32, f32)>,
    },
    /// `y = x · scale[c] + shift[c]` over the last axis (batch norm at inference).
    Affine {
        scale: usize,
        shift: usize,
        clamp: Option<(f32, f32)>,
    },
    LayerNorm {
        gamma: usize,
        beta: Option<usize>,
        eps: f32,
    },
    /// Statistics per group of channels over every position.
    GroupNorm {
        groups: usize,
        gamma: Option<usize>,
        beta: Option<usize>,
        eps: f32,
    },
    Pool(PoolDesc),
    Act(Act),
    Softmax {
        axis: usize,
    },
    Mean {
        axes: Vec<usize>,
    },
    Add,
    Mul,
    Scale(f32),
    Transpose {
        perm: Vec<usize>,
    },
    Concat {
        axis: usize,
    },
    /// Each output is the input's slice `[start, start + size)` along `axis`.
    Split {
        axis: usize,
    },
    Slice {
        axis: usize,
        start: usize,
        step: usize,
    },
    Roll {
        axis: usize,
        shift: i64,
    },
    Gather {
        axis: usize,
        indices: Vec<usize>,
    },
    Select {
        axis: usize,
        index: usize,
    },
    Matmul,
    Einsum {
        spec: String,
    },
    Broadcast,
}

impl Kernel {
    /// The constants (weights, statistics) this kernel reads, for the module to define. Every
    /// kernel is listed: one added with weights must say so here or it does not compile.
    pub fn consts(&self) -> Vec<usize> {
        match self {
            Kernel::Dense { weight, bias, .. } | Kernel::Conv { weight, bias, .. } => std::iter::once(*weight).chain(*bias).collect(),
            Kernel::Affine { scale, shift, .. } => vec![*scale, *shift],
            Kernel::LayerNorm { gamma, beta, .. } => std::iter::once(*gamma).chain(*beta).collect(),
            Kernel::GroupNorm { gamma, beta, .. } => gamma.iter().chain(beta.iter()).copied().collect(),
            Kernel::Copy
            | Kernel::Pool(_)
            | Kernel::Act(_)
            | Kernel::Softmax { .. }
            | Kernel::Mean { .. }
            | Kernel::Add
            | Kernel::Mul
            | Kernel::Scale(_)
            | Kernel::Transpose { .. }
            | Kernel::Concat { .. }
            | Kernel::Split { .. }
            | Kernel::Slice { .. }
            | Kernel::Roll { .. }
            | Kernel::Gather { .. }
            | Kernel::Select { .. }
            | Kernel::Matmul
            | Kernel::Einsum { .. }
            | Kernel::Broadcast => Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Step {
    pub kernel: Kernel,
    pub ins: Vec<View>,
    pub outs: Vec<View>,
    /// Scratch the kernel uses while it runs (a conv's zero-padded input).
    pub temps: Vec<View>,
    /// The graph node it comes from (for error messages and tests).
    pub node: usize,
}

/// A model ready to compile: one example's input and output, the steps, the constants.
#[derive(Clone, Debug)]
pub struct Plan {
    pub input: View,
    pub output: View,
    pub steps: Vec<Step>,
    /// Floats of scratch one example needs (input and output copies included).
    pub scratch: usize,
    pub consts: Vec<Vec<f32>>,
}

/// Every scratch buffer is padded to a multiple of this many floats, plus this many: vector
/// kernels may load and store up to three floats past a row's end (the next row overwrites
/// them; the last row's land in the padding).
const PAD: usize = 16;

fn vals(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap_or_default()
}

fn round4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// Which tensors of the graph hold one example's values: the batch symbol as their first dim.
fn per_example(dims: &[Dim], batch: &str) -> Result<(Vec<usize>, bool), String> {
    let batched = dims.first().is_some_and(|d| *d == Dim::sym(batch));
    let shape =
        dims.iter()
            .enumerate()
            .map(|(k, d)| {
                if k == 0 && batched { Ok(1) } else { d.as_int().filter(|v| *v > 0).map(|v| v as usize).ok_or_else(|| format!("the dim {d} is not a number")) }
            })
            .collect::<Result<Vec<usize>, String>>()?;
    Ok((shape, batched))
}

/// Storage: a scratch region, shared by a tensor and its aliases (reshape, identity, dropout).
#[derive(Clone, Debug)]
struct Storage {
    size: usize,
    last_use: usize,
    offset: Option<usize>,
}

struct Builder<'a> {
    g: &'a Graph,
    /// Per graph tensor: its storage (scratch) or constant, and its shape.
    tensors: Vec<Option<(Place, Vec<usize>, bool)>>,
    storages: Vec<Storage>,
    consts: Vec<Vec<f32>>,
    steps: Vec<Pending>,
}

/// A step before buffers are placed: graph tensor ids, and scratch storages used only inside it.
struct Pending {
    kernel: Kernel,
    ins: Vec<usize>,
    outs: Vec<usize>,
    node: usize,
    /// (storage, shape) of buffers the kernel needs while it runs (a zero-padded input).
    temps: Vec<(usize, Vec<usize>)>,
}

#[derive(Clone, Copy, Debug)]
enum Place {
    Storage(usize),
    Const(usize),
}

/// Plan a lowered model whose weights are loaded. The graph must be the one `net` was lowered
/// from.
pub fn plan(g: &Graph, net: &Net) -> Result<Plan, NativeError> {
    plan_normalised(g, net, None)
}

/// [`plan`], with the input normalised first (`(x − mean) / std` per channel, as the model was
/// trained) when `norm` is given: the compiled function then takes pixels as nasc's data loader
/// reads them.
pub fn plan_normalised(g: &Graph, net: &Net, norm: Option<&Normalisation>) -> Result<Plan, NativeError> {
    let batch = g.batch_symbol.clone().ok_or_else(|| NativeError("native code needs the model's batch dim to be a name (e.g. `x: [B, 28, 28, 1]`)".into()))?;
    if g.inputs.len() != 1 || g.outputs.len() != 1 {
        return Err(NativeError(format!("native code supports one input and one output; this model has {} and {}", g.inputs.len(), g.outputs.len())));
    }
    let mut b = Builder { g, tensors: vec![None; g.tensors.len()], storages: Vec::new(), consts: Vec::new(), steps: Vec::new() };
    let (in_shape, in_batched) = per_example(&g.shape(g.inputs[0]).0, &batch).map_err(|e| NativeError(format!("the input: {e}")))?;
    if !in_batched {
        return Err(NativeError("the model's input must have the batch dim first".into()));
    }
    // The caller's input is copied into scratch first (kernels may read past a row's end).
    let input_storage = b.storage(in_shape.iter().product());
    b.tensors[g.inputs[0]] = Some((Place::Storage(input_storage), in_shape.clone(), true));
    // The normalised input is one more tensor, after the graph's; the nodes read it instead.
    let read = match norm.filter(|n| in_shape.last() == Some(&n.mean.len()) && n.std.iter().all(|s| *s > 0.0)) {
        Some(n) => {
            let c = n.mean.len();
            let normalised = b.tensors.len();
            b.tensors.push(Some((Place::Storage(usize::MAX), in_shape.clone(), true)));
            let scale: Vec<f32> = n.std.iter().map(|s| 1.0 / s).collect();
            let shift: Vec<f32> = n.mean.iter().zip(&scale).map(|(m, k)| -m * k).collect();
            let (scale, shift) = (b.constant(padded(scale, c)), b.constant(padded(shift, c)));
            b.push(Kernel::Affine { scale, shift, clamp: None }, &[g.inputs[0]], &[normalised], 0);
            Some(normalised)
        }
        None => None,
    };
    let input = |t: usize| if t == g.inputs[0] { read.unwrap_or(t) } else { t };
    for (k, (n, layer)) in g.nodes.iter().zip(&net.layers).enumerate() {
        let NodeKind::Op { op, attrs } = &n.kind else {
            return Err(NativeError("the model still has a hole; fill it first (`nasc build --emit nas`)".into()));
        };
        let ins: Vec<Vec<Dim>> = n.inputs.iter().map(|&t| g.shape(t).0.clone()).collect();
        let outs: Vec<Vec<Dim>> = n.outputs.iter().map(|&t| g.shape(t).0.clone()).collect();
        let desc = describe(*op, attrs, &ins, &outs).map_err(|e| NativeError(e.0))?;
        let name = spec(*op).name;
        let at = |e: String| NativeError(format!("`{name}` (node {k}): {e}"));
        for &t in &n.outputs {
            let (shape, batched) = per_example(&g.shape(t).0, &batch).map_err(at)?;
            let any_batched = n.inputs.iter().any(|&i| b.tensors[i].as_ref().is_some_and(|x| x.2));
            if any_batched && !batched {
                return Err(at("its result mixes the examples of a batch (the batch dim is not its first dim), which native code does not support".into()));
            }
            b.tensors[t] = Some((Place::Storage(usize::MAX), shape, batched));
        }
        let ins: Vec<usize> = n.inputs.iter().map(|&t| input(t)).collect();
        b.node(k, &desc, layer, &ins, &n.outputs).map_err(at)?;
    }
    b.finish()
}

impl Builder<'_> {
    fn storage(&mut self, size: usize) -> usize {
        self.storages.push(Storage { size, last_use: 0, offset: None });
        self.storages.len() - 1
    }

    fn constant(&mut self, v: Vec<f32>) -> usize {
        self.consts.push(v);
        self.consts.len() - 1
    }

    fn shape(&self, t: usize) -> &[usize] {
        self.tensors[t].as_ref().map_or(&[], |x| &x.1)
    }

    fn batched(&self, t: usize) -> bool {
        self.tensors[t].as_ref().is_some_and(|x| x.2)
    }

    /// The output `t` gets its own storage.
    fn fresh(&mut self, t: usize) {
        let size = self.shape(t).iter().product();
        let s = self.storage(size);
        if let Some(x) = self.tensors[t].as_mut() {
            x.0 = Place::Storage(s);
        }
    }

    /// The output `t` is the input `src` under another shape.
    fn alias(&mut self, t: usize, src: usize) {
        let place = self.tensors[src].as_ref().map_or(Place::Storage(0), |x| x.0);
        if let Some(x) = self.tensors[t].as_mut() {
            x.0 = place;
        }
    }

    fn push(&mut self, kernel: Kernel, ins: &[usize], outs: &[usize], node: usize) {
        for &t in outs {
            self.fresh(t);
        }
        // Convolutions read a zero-padded copy of their input: no bounds checks in the taps.
        let mut temps = Vec::new();
        if let Kernel::Conv { geom, .. } = &kernel
            && geom.padding != [0; 4]
            && let Some(&[b, h, w, c]) = ins.first().map(|&t| self.shape(t))
        {
            let shape = vec![b, h + geom.padding[0] + geom.padding[2], w + geom.padding[1] + geom.padding[3], c];
            temps.push((self.storage(shape.iter().product()), shape));
        }
        self.steps.push(Pending { kernel, ins: ins.to_vec(), outs: outs.to_vec(), node, temps });
    }

    /// Refuse an axis that is the batch axis of a batched tensor.
    fn not_batch_axis(&self, t: usize, axes: &[usize]) -> Result<(), String> {
        if self.batched(t) && axes.contains(&0) {
            return Err("it works across the batch axis, which native code does not support".into());
        }
        Ok(())
    }

    fn node(&mut self, k: usize, desc: &LayerDesc, layer: &Layer, ins: &[usize], outs: &[usize]) -> Result<(), String> {
        let x = ins.first().copied().unwrap_or(0);
        let mismatch = || "its trained state does not match its description (the weights are for another model?)".to_string();
        // One arm per description, each taking the module it needs: a new kind of layer does
        // not compile until it is handled here.
        match desc {
            LayerDesc::Dense { inputs, features, .. } => {
                let Layer::Linear(l) = layer else { return Err(mismatch()) };
                let w = l.weight.val().into_data().try_to_vec::<f32>().map_err(|e| format!("{e:?}"))?;
                let fp = round4(*features);
                let mut packed = vec![0.0f32; inputs * fp + PAD];
                for i in 0..*inputs {
                    packed[i * fp..i * fp + features].copy_from_slice(&w[i * features..(i + 1) * features]);
                }
                let weight = self.constant(packed);
                let bias = l.bias.as_ref().map(|b| padded(vals(b.val()), *features));
                let bias = bias.map(|v| self.constant(v));
                self.push(Kernel::Dense { inputs: *inputs, features: *features, weight, bias, clamp: None }, &[x], outs, k);
            }
            LayerDesc::Conv(c) => {
                let Layer::Conv(conv) = layer else { return Err(mismatch()) };
                let w = conv.weight.val().into_data().try_to_vec::<f32>().map_err(|e| format!("{e:?}"))?;
                let depthwise = c.groups == c.channels && c.features == c.channels && c.groups > 1;
                let weight = self.constant(pack_conv(&w, c, depthwise));
                let bias = conv.bias.as_ref().map(|b| padded(vals(b.val()), c.features));
                let bias = bias.map(|v| self.constant(v));
                self.push(Kernel::Conv { geom: c.clone(), depthwise, weight, bias, clamp: None }, &[x], outs, k);
            }
            LayerDesc::BatchNorm { channels, .. } => {
                let Layer::BatchNorm(bn) = layer else { return Err(mismatch()) };
                let (gamma, beta) = (vals(bn.gamma.val()), vals(bn.beta.val()));
                let (mean, var) = (vals(bn.running_mean.value()), vals(bn.running_var.value()));
                let scale: Vec<f32> = (0..*channels).map(|c| gamma[c] / (var[c] + bn.epsilon as f32).sqrt()).collect();
                let shift: Vec<f32> = (0..*channels).map(|c| beta[c] - mean[c] * scale[c]).collect();
                let (scale, shift) = (self.constant(padded(scale, *channels)), self.constant(padded(shift, *channels)));
                self.push(Kernel::Affine { scale, shift, clamp: None }, &[x], outs, k);
            }
            LayerDesc::LayerNorm { channels, eps } => {
                let Layer::LayerNorm(ln) = layer else { return Err(mismatch()) };
                let gamma = self.constant(padded(vals(ln.gamma.val()), *channels));
                let beta = ln.beta.as_ref().map(|b| padded(vals(b.val()), *channels));
                let beta = beta.map(|v| self.constant(v));
                // From the description: burn's LayerNorm keeps its epsilon private.
                self.push(Kernel::LayerNorm { gamma, beta, eps: *eps as f32 }, &[x], outs, k);
            }
            LayerDesc::GroupNorm { groups, channels, .. } => {
                let Layer::GroupNorm(gn) = layer else { return Err(mismatch()) };
                let gamma = gn.gamma.as_ref().map(|p| padded(vals(p.val()), *channels));
                let beta = gn.beta.as_ref().map(|p| padded(vals(p.val()), *channels));
                let (gamma, beta) = (gamma.map(|v| self.constant(v)), beta.map(|v| self.constant(v)));
                self.push(Kernel::GroupNorm { groups: *groups, gamma, beta, eps: gn.epsilon as f32 }, &[x], outs, k);
            }
            LayerDesc::Dropout { .. } => self.alias(outs[0], x),
            LayerDesc::Pool(p) => {
                if self.shape(x).len() != 4 {
                    return Err("pools need a [B, H, W, C] input".into());
                }
                self.push(Kernel::Pool(p.clone()), &[x], outs, k);
            }
            LayerDesc::Param { shape } => {
                let Layer::Param(p) = layer else { return Err(mismatch()) };
                let v = p.val().into_data().try_to_vec::<f32>().map_err(|e| format!("{e:?}"))?;
                if v.len() != shape.iter().product::<usize>() {
                    return Err("the parameter's size differs from its shape".into());
                }
                let c = self.constant(padded(v.clone(), v.len()));
                if let Some(t) = self.tensors[outs[0]].as_mut() {
                    t.0 = Place::Const(c);
                }
            }
            LayerDesc::Stateless(s) => self.stateless(k, s, ins, outs)?,
        }
        Ok(())
    }

    fn stateless(&mut self, k: usize, s: &Stateless, ins: &[usize], outs: &[usize]) -> Result<(), String> {
        let x = ins.first().copied().unwrap_or(0);
        let kernel = match s {
            Stateless::Activation(a) => Kernel::Act(Act::of(*a)),
            Stateless::Softmax { axis } => {
                self.not_batch_axis(x, &[*axis])?;
                Kernel::Softmax { axis: *axis }
            }
            Stateless::Mean { axes } => {
                self.not_batch_axis(x, axes)?;
                Kernel::Mean { axes: axes.clone() }
            }
            Stateless::Add => Kernel::Add,
            Stateless::Mul => Kernel::Mul,
            Stateless::Scale(v) => Kernel::Scale(*v as f32),
            Stateless::DropPath { .. } | Stateless::Identity => {
                self.alias(outs[0], x);
                return Ok(());
            }
            Stateless::Reshape => {
                if self.batched(x) && self.shape(outs[0]).first() != Some(&1) {
                    return Err("the reshape folds the batch dim, which native code does not support".into());
                }
                self.alias(outs[0], x);
                return Ok(());
            }
            Stateless::Transpose { perm } => {
                if self.batched(x) && perm.first() != Some(&0) {
                    return Err("the transpose moves the batch axis, which native code does not support".into());
                }
                Kernel::Transpose { perm: perm.clone() }
            }
            Stateless::Concat { axis } => {
                for &i in ins {
                    self.not_batch_axis(i, &[*axis])?;
                }
                Kernel::Concat { axis: *axis }
            }
            Stateless::Split { axis, .. } | Stateless::SplitSizes { axis, .. } => {
                self.not_batch_axis(x, &[*axis])?;
                Kernel::Split { axis: *axis }
            }
            Stateless::Slice { axis, start, step, .. } => {
                self.not_batch_axis(x, &[*axis])?;
                Kernel::Slice { axis: *axis, start: *start, step: *step }
            }
            Stateless::Roll { shift, axis } => {
                self.not_batch_axis(x, &[*axis])?;
                Kernel::Roll { axis: *axis, shift: *shift }
            }
            Stateless::Gather { axis, indices } => {
                self.not_batch_axis(x, &[*axis])?;
                Kernel::Gather { axis: *axis, indices: indices.clone() }
            }
            Stateless::Select { axis, index } => {
                self.not_batch_axis(x, &[*axis])?;
                Kernel::Select { axis: *axis, index: *index }
            }
            Stateless::Matmul => Kernel::Matmul,
            Stateless::Einsum { spec } => Kernel::Einsum { spec: spec.clone() },
            Stateless::Broadcast => Kernel::Broadcast,
        };
        self.push(kernel, ins, outs, k);
        Ok(())
    }
}

/// The kind of pool, for kernels (re-exported so the emitter need not name burn's module).
pub fn is_max(p: &PoolDesc) -> bool {
    p.kind == PoolKind::Max
}
