//! The catalog: one entry per op with its arguments, linearity, role, mixing and rules.

use super::mixing as M;
use super::rules::*;
use super::{ArgKind as K, ArgSpec, Changes, DefaultValue as D, LayoutClass, Linearity as L, OpKind, OpSpec, Role, State, Synth};

const fn arg(name: &'static str, kind: K) -> ArgSpec {
    ArgSpec { name, kind, default: None }
}
const fn opt(name: &'static str, kind: K, default: D) -> ArgSpec {
    ArgSpec { name, kind, default: Some(default) }
}

const X: ArgSpec = arg("x", K::Tensor);
const UNARY: &[ArgSpec] = &[X];
const BINARY: &[ArgSpec] = &[X, arg("y", K::Tensor)];

// ---- the catalog ---------------------------------------------------------------------------

const fn role(state: State, layout: LayoutClass, channels: bool, spatial: bool, synth: Synth) -> Role {
    Role { state, layout, changes: Changes { channels, spatial }, synth }
}

const ACTIVATION: Role = role(State::Stateless, LayoutClass::Elementwise, false, false, Synth::Activation);
/// Stateless and element-wise, synthesized through a class of its own (dropout, scale).
const ELEMENTWISE: Role = role(State::Stateless, LayoutClass::Elementwise, false, false, Synth::Class);
const BINARY_ELEMENTWISE: Role = role(State::Stateless, LayoutClass::Elementwise, false, false, Synth::Boundary);
const POOL: Role = role(State::Stateless, LayoutClass::Spatial, false, true, Synth::Class);
const NORM: Role = role(State::Learned, LayoutClass::Logical, false, false, Synth::Class);
/// Data movement and reductions: boundaries of mutable runs, in the logical layout.
const STRUCTURE: Role = role(State::Stateless, LayoutClass::Logical, false, false, Synth::Boundary);

macro_rules! entry {
    ($kind:ident, $name:literal, $doc:literal, $args:expr, $lin:ident, $role:expr, $mix:expr, $shape:expr, $params:expr, $macs:expr) => {
        OpSpec {
            kind: OpKind::$kind,
            name: $name,
            doc: $doc,
            args: $args,
            linearity: L::$lin,
            role: $role,
            mixing: $mix,
            shape: $shape,
            params: $params,
            macs: $macs,
        }
    };
}

// One entry per line group, aligned by hand: a table, not code to reflow.
#[rustfmt::skip]
pub static CATALOG: &[OpSpec] = &[
    entry!(Dense, "dense", "A dense layer on the last dim: [.., C] -> [.., features].",
        &[X, arg("features", K::Int), opt("bias", K::Bool, D::Bool(true))],
        Linear, role(State::Learned, LayoutClass::Logical, true, false, Synth::Class), M::last_axis, dense_shape, dense_params, dense_macs),
    entry!(Conv, "conv", "2-D convolution on [B, H, W, C]; `kernel`, `stride` and `dilation` are one int or [height, width]; with `padding: same` (the default) the output is [B, ceil(H/stride), ceil(W/stride), features].",
        &[X, arg("features", K::Int), arg("kernel", K::Window), opt("stride", K::Window, D::Int(1)),
          opt("dilation", K::Window, D::Int(1)), opt("groups", K::Int, D::Int(1)), opt("bias", K::Bool, D::Bool(true)),
          opt("padding", K::Padding, D::SamePadding)],
        Linear, role(State::Learned, LayoutClass::Spatial, true, true, Synth::Class), M::conv_mix, conv_shape, conv_params, conv_macs),
    entry!(Relu, "relu", "ReLU, element-wise.", UNARY, NonLinear, ACTIVATION, M::elementwise, same, no_params, no_macs),
    entry!(Gelu, "gelu", "GELU, element-wise.", UNARY, NonLinear, ACTIVATION, M::elementwise, same, no_params, no_macs),
    entry!(Silu, "silu", "SiLU (swish), element-wise.", UNARY, NonLinear, ACTIVATION, M::elementwise, same, no_params, no_macs),
    entry!(Sigmoid, "sigmoid", "Logistic sigmoid, element-wise.", UNARY, NonLinear, ACTIVATION, M::elementwise, same, no_params, no_macs),
    entry!(Tanh, "tanh", "tanh, element-wise.", UNARY, NonLinear, ACTIVATION, M::elementwise, same, no_params, no_macs),
    entry!(HardSwish, "hard_swish", "Hard swish x * relu6(x + 3) / 6 (MobileNetV3), element-wise.", UNARY, NonLinear, ACTIVATION,
        M::elementwise, same, no_params, no_macs),
    entry!(Relu6, "relu6", "min(max(x, 0), 6) (MobileNetV2), element-wise.", UNARY, NonLinear, ACTIVATION, M::elementwise, same, no_params, no_macs),
    entry!(HardSigmoid, "hard_sigmoid", "relu6(x + 3) / 6 (MobileNetV3), element-wise.", UNARY, NonLinear, ACTIVATION,
        M::elementwise, same, no_params, no_macs),
    entry!(Clamp, "clamp", "Clamp into [min, max], element-wise.", &[X, arg("min", K::Float), arg("max", K::Float)], NonLinear,
        ELEMENTWISE, M::elementwise, clamp_shape, no_params, no_macs),
    entry!(Softmax, "softmax", "Softmax along one axis.", &[X, opt("axis", K::Int, D::Int(-1))],
        NonLinear, role(State::Stateless, LayoutClass::Logical, false, false, Synth::Class), M::softmax, softmax_shape, no_params, no_macs),
    // Norms are linear for depth, as in the αNAS code (abstract/depth.py): at inference they are
    // affine. BatchNorm mixes like an element-wise op at inference (per-channel affine).
    entry!(BatchNorm, "batch_norm", "Batch normalisation over the channel (last) dim; 2*C parameters. `eps` and `momentum` as PyTorch's.",
        &[X, opt("eps", K::Float, D::Float(1e-5)), opt("momentum", K::Float, D::Float(0.1))],
        Linear, role(State::LearnedWithStatistics, LayoutClass::Spatial, false, false, Synth::Class), M::elementwise, norm_shape, norm_params, no_macs),
    entry!(LayerNorm, "layer_norm", "Layer normalisation over the last dim; 2*C parameters.", &[X, opt("eps", K::Float, D::Float(1e-5))],
        Linear, NORM, M::last_axis, norm_shape, norm_params, no_macs),
    entry!(GroupNorm, "group_norm", "Group normalisation; `groups` must divide the channels.",
        &[X, arg("groups", K::Int), opt("eps", K::Float, D::Float(1e-5))], Linear, NORM, M::group_norm_mix, group_norm_shape, norm_params, no_macs),
    entry!(Dropout, "dropout", "Dropout with rate in [0, 1); identity at inference.",
        &[X, arg("rate", K::Float)], Linear, ELEMENTWISE, M::elementwise, dropout_shape, no_params, no_macs),
    entry!(DropPath, "drop_path", "Stochastic depth: drops whole examples with probability `rate` while training; identity at inference.",
        &[X, arg("rate", K::Float)], Linear, ELEMENTWISE, M::elementwise, drop_path_shape, no_params, no_macs),
    entry!(AvgPool, "avg_pool", "Average pooling on [B, H, W, C]; `padding: same` by default. Explicit padding counts in the divisor as in PyTorch (`count_include_pad: true`); `same` padding does not, as in TensorFlow; `count_include_pad` says otherwise.",
        &[X, arg("window", K::Window), opt("stride", K::Window, D::SameAs("window")), opt("padding", K::Padding, D::SamePadding), opt("ceil_mode", K::Bool, D::Bool(false)),
          opt("count_include_pad", K::Bool, D::PaddingIsExplicit)],
        Linear, POOL, M::pool_mix, pool_shape, no_params, no_macs),
    // Max pooling counts as linear for depth, as in the αNAS code; the paper is silent.
    entry!(MaxPool, "max_pool", "Max pooling on [B, H, W, C]; `window` and `stride` are one int or [height, width]; `padding: same` by default.",
        &[X, arg("window", K::Window), opt("stride", K::Window, D::SameAs("window")), opt("padding", K::Padding, D::SamePadding), opt("ceil_mode", K::Bool, D::Bool(false))],
        Linear, POOL, M::pool_mix, pool_shape, no_params, no_macs),
    entry!(Mean, "mean", "Mean over `axes` (global pooling with axes: [1, 2]).",
        &[X, arg("axes", K::Ints), opt("keepdims", K::Bool, D::Bool(false))],
        Linear, STRUCTURE, M::mean_mix, mean_shape, no_params, no_macs),
    entry!(Add, "add", "Element-wise sum with broadcasting; `x + y`.", BINARY, Linear, BINARY_ELEMENTWISE, M::broadcasting, binary_shape, no_params, no_macs),
    entry!(Mul, "mul", "Element-wise product with broadcasting; `x * y`.", BINARY, Linear, BINARY_ELEMENTWISE, M::broadcasting, binary_shape, no_params, no_macs),
    entry!(Scale, "scale", "Multiply by a constant scalar.", &[X, arg("s", K::Float)], Linear, ELEMENTWISE, M::elementwise, same, no_params, no_macs),
    entry!(Reshape, "reshape", "Reshape to `shape` (one dim may be -1).", &[X, arg("shape", K::Ints)],
        Neutral, STRUCTURE, M::reshape_mix, reshape_shape, no_params, no_macs),
    entry!(Flatten, "flatten", "Merge the dims from `start` on into one.", &[X, opt("start", K::Int, D::Int(1))],
        Neutral, STRUCTURE, M::reshape_mix, flatten_shape, no_params, no_macs),
    entry!(Transpose, "transpose", "Permute the axes: output axis k is input axis perm[k].", &[X, arg("perm", K::Ints)],
        Neutral, STRUCTURE, M::transpose, transpose_shape, no_params, no_macs),
    entry!(Concat, "concat", "Concatenate a list of tensors along `axis`.", &[arg("xs", K::Tensors), arg("axis", K::Int)],
        Neutral, STRUCTURE, M::elementwise, concat_shape, no_params, no_macs),
    entry!(Split, "split", "Split along `axis` into `parts` equal pieces or pieces of the given `sizes`; returns a tuple.",
        &[X, opt("parts", K::Int, D::Int(0)), opt("axis", K::Int, D::Int(-1)), opt("sizes", K::Ints, D::NoInts)], Neutral, STRUCTURE, M::split, split_shape, no_params, no_macs),
    entry!(Slice, "slice", "Every `step`-th position from `start` up to (not including) `end` along `axis`; negative start and end count from the end.",
        &[X, arg("axis", K::Int), arg("start", K::Int), arg("end", K::Int), opt("step", K::Int, D::Int(1))], Neutral, STRUCTURE, M::slice_mix, slice_shape, no_params, no_macs),
    entry!(Roll, "roll", "Shift cyclically by `shift` positions along `axis` (torch.roll).",
        &[X, arg("shift", K::Int), arg("axis", K::Int)], Neutral, STRUCTURE, M::elementwise, roll_shape, no_params, no_macs),
    entry!(Gather, "gather", "The positions listed in `indices` (constants, repeats allowed) along `axis`: e.g. a relative-position bias table.",
        &[X, arg("axis", K::Int), arg("indices", K::Ints)], Neutral, STRUCTURE, M::gather_mix, gather_shape, no_params, no_macs),
    entry!(Matmul, "matmul", "Batched matrix product [.., n, k] x [.., k, m] -> [.., n, m].", BINARY,
        Linear, STRUCTURE, M::matmul_mix, matmul_shape, no_params, matmul_macs),
    entry!(Einsum, "einsum", "Einstein summation of two tensors, e.g. spec: \"bnhd,bmhd->bhnm\".",
        &[X, arg("y", K::Tensor), arg("spec", K::Str)], Linear, STRUCTURE, M::einsum_mix, einsum_shape, no_params, einsum_macs),
    entry!(Param, "param", "A learned tensor of the given shape (position embedding, class token).",
        &[arg("shape", K::Ints)], Linear, role(State::Learned, LayoutClass::Logical, false, false, Synth::Boundary), M::source, param_shape, param_params, no_macs),
    entry!(Broadcast, "broadcast", "Repeat dims of size 1 up to `shape`.", &[X, arg("shape", K::Ints)],
        Neutral, STRUCTURE, M::broadcasting, broadcast_shape, no_params, no_macs),
    entry!(Select, "select", "Take one `index` along `axis`, removing that axis.",
        &[X, arg("axis", K::Int), arg("index", K::Int)], Neutral, STRUCTURE, M::select, select_shape, no_params, no_macs),
    entry!(Identity, "identity", "The input, unchanged.", UNARY, Neutral,
        role(State::Stateless, LayoutClass::Elementwise, false, false, Synth::Boundary), M::elementwise, same, no_params, no_macs),
];
