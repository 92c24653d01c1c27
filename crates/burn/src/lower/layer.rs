//! The typed layer description: what one node of a checked graph becomes in a backend.
//!
//! `describe` turns a catalog op and its attributes into a [`LayerDesc`] once, with an
//! exhaustive match over the op kinds; the burn module (`mod.rs`) and the emitted Rust
//! (`emit.rs`) are both derived from the description, with exhaustive matches too, so an op the
//! lowering forgot is a compile error, never a silent identity. A new element-wise activation
//! needs a catalog entry (`ops/`), an `OpKind`, and one variant of [`Activation`] here.

use super::LowerError;
use super::cpu::PoolKind;
use burn::tensor::{Tensor, activation};
use nasc_core::ops::{Attrs, OpKind, Padding, normalize_axis, window, window_with};
use nasc_core::shape::Dim;

/// One node of a lowered model.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerDesc {
    Dense {
        inputs: usize,
        features: usize,
        bias: bool,
    },
    Conv(ConvDesc),
    BatchNorm {
        channels: usize,
        eps: f64,
        momentum: f64,
    },
    LayerNorm {
        channels: usize,
        eps: f64,
    },
    GroupNorm {
        groups: usize,
        channels: usize,
        eps: f64,
    },
    Dropout {
        rate: f64,
    },
    Pool(PoolDesc),
    /// A learned tensor of this (logical, concrete) shape.
    Param {
        shape: Vec<usize>,
    },
    Stateless(Stateless),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConvDesc {
    pub channels: usize,
    pub features: usize,
    /// Height, width (as are `stride` and `dilation`).
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub bias: bool,
    /// The language's SAME padding: top, left, bottom, right.
    pub padding: [usize; 4],
}

#[derive(Clone, Debug, PartialEq)]
pub struct PoolDesc {
    pub kind: PoolKind,
    /// Height, width (as is `stride`).
    pub window: [usize; 2],
    pub stride: [usize; 2],
    /// Top, left, bottom, right.
    pub padding: [usize; 4],
    /// An average divides by the window's positions in the padded input, padding included
    /// (PyTorch's `count_include_pad=True`), instead of by those inside the image.
    pub count_pad: bool,
}

/// Ops without learned state. Axes are logical indices (normalised, counted from the front).
#[derive(Clone, Debug, PartialEq)]
pub enum Stateless {
    Activation(Activation),
    Softmax {
        axis: usize,
    },
    Mean {
        axes: Vec<usize>,
    },
    Add,
    Mul,
    Scale(f64),
    /// Stochastic depth: zero whole examples with probability `rate` while training.
    DropPath {
        rate: f64,
    },
    /// `reshape` and `flatten`: to the output's shape.
    Reshape,
    Transpose {
        perm: Vec<usize>,
    },
    Concat {
        axis: usize,
    },
    Split {
        axis: usize,
        parts: usize,
    },
    SplitSizes {
        axis: usize,
        sizes: Vec<usize>,
    },
    /// Positions `start`, `start + step`, ... before `end` (normalised: 0 ≤ start < end ≤ size).
    Slice {
        axis: usize,
        start: usize,
        end: usize,
        step: usize,
    },
    Roll {
        shift: i64,
        axis: usize,
    },
    Gather {
        axis: usize,
        indices: Vec<usize>,
    },
    Matmul,
    Einsum {
        spec: String,
    },
    /// Expand to the output's shape.
    Broadcast,
    Select {
        axis: usize,
        index: usize,
    },
    Identity,
}

/// Element-wise activations: what each one computes in burn and in emitted Rust.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Relu,
    Gelu,
    Silu,
    Sigmoid,
    Tanh,
    HardSwish,
    Relu6,
    HardSigmoid,
    Clamp { min: f64, max: f64 },
}

impl Activation {
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => activation::relu(x),
            Activation::Gelu => activation::gelu(x),
            Activation::Silu => activation::silu(x),
            Activation::Sigmoid => activation::sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::HardSwish => activation::hard_swish(x),
            Activation::Relu6 => activation::relu6(x),
            // PyTorch's: relu6(x + 3) / 6.
            Activation::HardSigmoid => activation::hard_sigmoid(x, 1.0 / 6.0, 0.5),
            Activation::Clamp { min, max } => x.clamp(min, max),
        }
    }

    /// The same computation as Rust source applied to the expression `x`.
    pub fn emit(self, x: &str) -> String {
        match self {
            Activation::Relu => format!("activation::relu({x})"),
            Activation::Gelu => format!("activation::gelu({x})"),
            Activation::Silu => format!("activation::silu({x})"),
            Activation::Sigmoid => format!("activation::sigmoid({x})"),
            Activation::Tanh => format!("{x}.tanh()"),
            Activation::HardSwish => format!("activation::hard_swish({x})"),
            Activation::Relu6 => format!("activation::relu6({x})"),
            Activation::HardSigmoid => format!("activation::hard_sigmoid({x}, 1.0 / 6.0, 0.5)"),
            Activation::Clamp { min, max } => format!("{x}.clamp({min:?}, {max:?})"),
        }
    }
}

/// The description of one node: op `op` with attributes `a` on inputs of shapes `ins`,
/// producing `outs`. Fails when a dim the backend needs is symbolic.
pub fn describe(op: OpKind, a: &Attrs, ins: &[Vec<Dim>], outs: &[Vec<Dim>]) -> Result<LayerDesc, LowerError> {
    let x = ins.first().map_or(&[][..], Vec::as_slice);
    let rank = x.len();
    let channels = || x.last().map_or(Err(LowerError("missing input".into())), |d| concrete(d, "the channel count"));
    let act = |k| Ok(LayerDesc::Stateless(Stateless::Activation(k)));
    let stateless = |s| Ok(LayerDesc::Stateless(s));
    match op {
        OpKind::Dense => Ok(LayerDesc::Dense { inputs: channels()?, features: int(a, "features")?, bias: a.bool("bias") }),
        OpKind::Conv => {
            let (kernel, stride, dilation) = (pair(a, "kernel")?, pair(a, "stride")?, pair(a, "dilation")?);
            Ok(LayerDesc::Conv(ConvDesc {
                channels: channels()?,
                features: int(a, "features")?,
                kernel,
                stride,
                dilation,
                groups: int(a, "groups")?,
                bias: a.bool("bias"),
                padding: padding_2d(x, kernel, stride, dilation, &a.padding(), false)?,
            }))
        }
        OpKind::BatchNorm => Ok(LayerDesc::BatchNorm { channels: channels()?, eps: eps(a), momentum: a.get("momentum").map_or(0.1, |_| a.float("momentum")) }),
        OpKind::LayerNorm => Ok(LayerDesc::LayerNorm { channels: channels()?, eps: eps(a) }),
        OpKind::GroupNorm => Ok(LayerDesc::GroupNorm { groups: int(a, "groups")?, channels: channels()?, eps: eps(a) }),
        OpKind::Dropout => Ok(LayerDesc::Dropout { rate: a.float("rate") }),
        OpKind::MaxPool => pool(PoolKind::Max, a, x),
        OpKind::AvgPool => pool(PoolKind::Avg, a, x),
        OpKind::Param => {
            let shape = outs.first().map_or(&[][..], Vec::as_slice);
            Ok(LayerDesc::Param { shape: shape.iter().map(|d| concrete(d, "a param dim")).collect::<Result<_, _>>()? })
        }
        OpKind::Relu => act(Activation::Relu),
        OpKind::Gelu => act(Activation::Gelu),
        OpKind::Silu => act(Activation::Silu),
        OpKind::Sigmoid => act(Activation::Sigmoid),
        OpKind::Tanh => act(Activation::Tanh),
        OpKind::HardSwish => act(Activation::HardSwish),
        OpKind::Relu6 => act(Activation::Relu6),
        OpKind::HardSigmoid => act(Activation::HardSigmoid),
        OpKind::Clamp => act(Activation::Clamp { min: a.float("min"), max: a.float("max") }),
        OpKind::DropPath => stateless(Stateless::DropPath { rate: a.float("rate") }),
        OpKind::Softmax => stateless(Stateless::Softmax { axis: axis(a, "axis", rank)? }),
        OpKind::Mean => stateless(Stateless::Mean { axes: axes(a, "axes", rank)? }),
        OpKind::Add => stateless(Stateless::Add),
        OpKind::Mul => stateless(Stateless::Mul),
        OpKind::Scale => stateless(Stateless::Scale(a.float("s"))),
        OpKind::Reshape | OpKind::Flatten => stateless(Stateless::Reshape),
        OpKind::Transpose => stateless(Stateless::Transpose { perm: axes(a, "perm", rank)? }),
        OpKind::Concat => stateless(Stateless::Concat { axis: axis(a, "axis", rank)? }),
        OpKind::Split if !a.dims("sizes").is_empty() => {
            let sizes = a.dims("sizes").iter().map(|d| concrete(d, "a split size")).collect::<Result<_, _>>()?;
            stateless(Stateless::SplitSizes { axis: axis(a, "axis", rank)?, sizes })
        }
        OpKind::Split => stateless(Stateless::Split { axis: axis(a, "axis", rank)?, parts: int(a, "parts")?.max(1) }),
        OpKind::Slice => {
            let ax = axis(a, "axis", rank)?;
            let n = x.get(ax).map_or(Err(LowerError("missing input".into())), |d| concrete(d, "the sliced size"))? as i64;
            let from_end = |name: &str| a.int(name).map(|v| if v < 0 { v + n } else { v }).filter(|v| (0..=n).contains(v)).map(|v| v as usize);
            match (from_end("start"), from_end("end")) {
                (Some(start), Some(end)) => stateless(Stateless::Slice { axis: ax, start, end, step: int(a, "step")?.max(1) }),
                _ => Err(LowerError("`start` and `end` must be known positions to lower".into())),
            }
        }
        OpKind::Roll => {
            let shift = a.int("shift").ok_or_else(|| LowerError("`shift` must be a known integer to lower".into()))?;
            stateless(Stateless::Roll { shift, axis: axis(a, "axis", rank)? })
        }
        OpKind::Gather => {
            let indices = a.dims("indices").iter().map(|d| d.as_int().filter(|v| *v >= 0).map(|v| v as usize)).collect::<Option<Vec<_>>>();
            let indices = indices.ok_or_else(|| LowerError("`indices` must be known positions to lower".into()))?;
            stateless(Stateless::Gather { axis: axis(a, "axis", rank)?, indices })
        }
        OpKind::Matmul => stateless(Stateless::Matmul),
        OpKind::Einsum => stateless(Stateless::Einsum { spec: a.str("spec").to_string() }),
        OpKind::Broadcast => stateless(Stateless::Broadcast),
        OpKind::Select => stateless(Stateless::Select { axis: axis(a, "axis", rank)?, index: int(a, "index")? }),
        OpKind::Identity => stateless(Stateless::Identity),
    }
}

fn pool(kind: PoolKind, a: &Attrs, x: &[Dim]) -> Result<LayerDesc, LowerError> {
    let (window, stride) = (pair(a, "window")?, pair(a, "stride")?);
    let padding = padding_2d(x, window, stride, [1, 1], &a.padding(), a.bool("ceil_mode"))?;
    // Max pools never count; an average counts explicit padding unless told otherwise (the
    // catalog's default, applied here too for ops built without it).
    let counts = a.get("count_include_pad").map_or(a.padding_is_explicit(), |_| a.bool("count_include_pad"));
    let count_pad = kind == PoolKind::Avg && counts;
    Ok(LayerDesc::Pool(PoolDesc { kind, window, stride, padding, count_pad }))
}

/// A norm's `eps`; PyTorch's 1e-5 when the op was built without one.
fn eps(a: &Attrs) -> f64 {
    a.get("eps").map_or(1e-5, |_| a.float("eps"))
}

/// A window argument as height and width.
fn pair(a: &Attrs, name: &str) -> Result<[usize; 2], LowerError> {
    let known = a.int_pair(name).filter(|p| p.iter().all(|v| *v >= 0));
    known.map(|[h, w]| [h as usize, w as usize]).ok_or_else(|| LowerError(format!("`{name}` must be known integers to lower")))
}

fn int(a: &Attrs, name: &str) -> Result<usize, LowerError> {
    a.int(name).filter(|v| *v >= 0).map(|v| v as usize).ok_or_else(|| LowerError(format!("`{name}` must be a known integer to lower")))
}

pub(super) fn concrete(d: &Dim, what: &str) -> Result<usize, LowerError> {
    d.as_int().filter(|v| *v > 0).map(|v| v as usize).ok_or_else(|| LowerError(format!("{what} {d} must be a number to lower")))
}

fn axis(a: &Attrs, name: &str, rank: usize) -> Result<usize, LowerError> {
    normalize_axis(&a.dim(name), rank).ok_or_else(|| LowerError(format!("`{name}` must be a known axis to lower")))
}

fn axes(a: &Attrs, name: &str, rank: usize) -> Result<Vec<usize>, LowerError> {
    a.dims(name).iter().map(|d| normalize_axis(d, rank).ok_or_else(|| LowerError(format!("`{name}` must list known axes to lower")))).collect()
}

/// SAME padding (the language's default): (before, after) for one spatial dim.
pub fn same_padding(n: usize, kernel: usize, stride: usize, dilation: usize) -> (usize, usize) {
    let as_i64 = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    match window(as_i64(n), as_i64(kernel), as_i64(stride), as_i64(dilation), &Padding::Same, 0) {
        Ok(w) => (w.before as usize, w.after as usize),
        Err(_) => (0, 0),
    }
}

/// The padding of a `[B, H, W, C]` input: top, left, bottom, right (burn's order).
fn padding_2d(x: &[Dim], kernel: [usize; 2], stride: [usize; 2], dilation: [usize; 2], padding: &Padding, ceil: bool) -> Result<[usize; 4], LowerError> {
    if x.len() != 4 {
        return Err(LowerError(format!("convolutions and pools need a rank-4 input [B, H, W, C] to lower, found rank {}", x.len())));
    }
    let as_i64 = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    let along = |axis: usize, what: &str| -> Result<(usize, usize), LowerError> {
        let n = concrete(&x[1 + axis], what)?;
        let (k, s, d) = (as_i64(kernel[axis]), as_i64(stride[axis]), as_i64(dilation[axis]));
        let w = window_with(as_i64(n), k, s, d, padding, axis, ceil).map_err(LowerError)?;
        Ok((w.before as usize, w.after as usize))
    };
    let ((t, b), (l, r)) = (along(0, "the height")?, along(1, "the width")?);
    Ok([t, l, b, r])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// Each activation by its textbook formula, one value at a time.
    fn reference(a: Activation, x: f64) -> f64 {
        let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
        match a {
            Activation::Relu => x.max(0.0),
            // burn's gelu is the exact (erf) form; the tanh approximation is within 1e-3.
            Activation::Gelu => 0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh()),
            Activation::Silu => x * sigmoid(x),
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::HardSigmoid => (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Activation::Clamp { min, max } => x.clamp(min, max),
        }
    }

    fn every_activation() -> Vec<Activation> {
        nasc_core::ops::catalog()
            .iter()
            .filter(|s| s.role.synth == nasc_core::ops::Synth::Activation)
            .map(|s| match describe(s.kind, &Attrs::default(), &[vec![Dim::int(4)]], &[vec![Dim::int(4)]]) {
                Ok(LayerDesc::Stateless(Stateless::Activation(a))) => a,
                other => panic!("`{}` has the activation role but lowers to {other:?}", s.name),
            })
            .collect()
    }

    #[test]
    fn activations_compute_their_formula() {
        let xs: Vec<f32> = (-40..=40).map(|k| k as f32 * 0.15).collect();
        let device = Device::default();
        for a in every_activation().into_iter().chain([Activation::Clamp { min: -1.0, max: 2.0 }]) {
            let t = Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &device);
            let ys = a.apply(t).into_data().try_to_vec::<f32>().unwrap_or_default();
            assert_eq!(ys.len(), xs.len(), "{a:?}");
            for (x, y) in xs.iter().zip(&ys) {
                let want = reference(a, f64::from(*x));
                assert!((f64::from(*y) - want).abs() <= 1e-3 * (1.0 + want.abs()), "{a:?}({x}) = {y}, want {want}");
            }
        }
    }

    #[test]
    fn drop_path_drops_whole_examples_while_training_only() {
        let device = Device::default();
        let x = Tensor::<{ super::super::RANK }>::ones([1, 1, 64, 3, 3, 2], &device);
        let same = super::super::drop_path(x, 0.5, 2).into_data().try_to_vec::<f32>().unwrap_or_default();
        assert!(same.iter().all(|v| *v == 1.0), "identity at inference");
        let train = device.autodiff();
        let x = Tensor::<{ super::super::RANK }>::ones([1, 1, 64, 3, 3, 2], &train);
        let y = super::super::drop_path(x, 0.5, 2).into_data().try_to_vec::<f32>().unwrap_or_default();
        let examples: Vec<&[f32]> = y.chunks(18).collect();
        assert_eq!(examples.len(), 64);
        for e in &examples {
            assert!(e.iter().all(|v| *v == e[0]) && (e[0] == 0.0 || e[0] == 2.0), "{e:?}");
        }
        let kept = examples.iter().filter(|e| e[0] == 2.0).count();
        assert!((8..=56).contains(&kept), "{kept} of 64 kept at rate 0.5");
    }

    /// The output of a one-op model on the row [0, 1, 2, 3].
    fn on_a_row(stage: &str, out: usize) -> Vec<f32> {
        let src = format!("model M(x: [B, 4]) -> [B, {out}] {{ return x |> {stage} }}");
        let c = nasc_core::compile("m.nas", &src).unwrap_or_else(|f| panic!("{stage}: {f}"));
        let device = Device::default();
        let net = super::super::lower(c.model(None).expect("model").graph, &device).expect("lowers");
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0, 2.0, 3.0], [1, 4]), &device);
        let y: Tensor<2> = super::super::unpad(net.forward(vec![super::super::pad(x)]).remove(0));
        y.into_data().try_to_vec::<f32>().unwrap_or_default()
    }

    #[test]
    fn slice_roll_and_gather_move_positions_as_torch_does() {
        // torch.roll(x, 1) == [3, 0, 1, 2]; x[1:4:2] == [1, 3]; x[:, [3, 3, 0]] == [3, 3, 0].
        assert_eq!(on_a_row("roll(1, axis: 1)", 4), [3.0, 0.0, 1.0, 2.0]);
        assert_eq!(on_a_row("roll(-1, axis: -1)", 4), [1.0, 2.0, 3.0, 0.0]);
        assert_eq!(on_a_row("slice(axis: 1, start: 1, end: 4, step: 2)", 2), [1.0, 3.0]);
        assert_eq!(on_a_row("slice(axis: 1, start: -3, end: -1)", 2), [1.0, 2.0]);
        assert_eq!(on_a_row("gather(axis: 1, indices: [3, 3, 0])", 3), [3.0, 3.0, 0.0]);
    }

    #[test]
    fn every_activation_emits_a_call_on_its_input() {
        for a in every_activation() {
            let e = a.emit("t3");
            assert!(e.contains("t3") && e != "t3", "{a:?} emits {e:?}");
        }
    }
}
