//! The op catalog: every primitive's facts in one entry — its arguments, shape rule, whether it
//! is linear, how it mixes dimensions, its parameter count and its MACs.
//!
//! MACs are multiply-accumulates of dense, conv and matmul/einsum only (bias adds, norms,
//! activations, pooling and residual adds are not MACs). They are computed at the real shapes;
//! reports evaluate them at batch 1.

mod catalog;
pub mod mixing;
mod rules;
mod window;

pub use window::{Padding, Window, symbolic_out, window, window_with};

use crate::shape::{Dim, DimError, Shape};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    Dense,
    Conv,
    Relu,
    Gelu,
    Silu,
    Sigmoid,
    Tanh,
    HardSwish,
    Relu6,
    HardSigmoid,
    Clamp,
    DropPath,
    Softmax,
    BatchNorm,
    LayerNorm,
    GroupNorm,
    Dropout,
    AvgPool,
    MaxPool,
    Mean,
    Add,
    Mul,
    Scale,
    Reshape,
    Flatten,
    Transpose,
    Concat,
    Split,
    Slice,
    Roll,
    Gather,
    Matmul,
    Einsum,
    Param,
    Broadcast,
    Select,
    // Keep `Identity` last: `KINDS` counts the variants by it.
    Identity,
}

/// Depth counts alternations of linear and non-linear ops (paper §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linearity {
    Linear,
    NonLinear,
    /// Does not count toward depth (identity, pure data movement).
    Neutral,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    Tensor,
    /// A list of tensors: `concat([a, b], axis: 1)`.
    Tensors,
    Int,
    Float,
    Bool,
    Str,
    Ints,
    /// A sliding window's size, stride or dilation: one int for both spatial dims, or
    /// `[height, width]`.
    Window,
    /// `same`, `valid`, one int for every side, `[h, w]`, or `[top, bottom, left, right]`.
    Padding,
}

impl fmt::Display for ArgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ArgKind::Tensor => "a tensor",
            ArgKind::Tensors => "a list of tensors",
            ArgKind::Int => "an int",
            ArgKind::Float => "a number",
            ArgKind::Bool => "a bool",
            ArgKind::Str => "a string",
            ArgKind::Ints => "a list of ints",
            ArgKind::Window => "an int or a list of 2 ints [height, width]",
            ArgKind::Padding => "`same`, `valid`, an int or a list of 2 or 4 ints",
        };
        write!(f, "{s}")
    }
}

#[derive(Clone, Copy, Debug)]
pub enum DefaultValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    /// The value of another (earlier) argument: `stride` defaults to `window`.
    SameAs(&'static str),
    /// `padding: same`.
    SamePadding,
    /// An empty list.
    NoInts,
    /// Whether the `padding` argument is explicit: an average pool counts explicit padding, as
    /// PyTorch does, and not TensorFlow's `same` (programs and stores from before the argument
    /// keep their meaning).
    PaddingIsExplicit,
}

#[derive(Clone, Copy, Debug)]
pub struct ArgSpec {
    pub name: &'static str,
    pub kind: ArgKind,
    pub default: Option<DefaultValue>,
}

/// A resolved attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Int(Dim),
    Float(f64),
    Bool(bool),
    Str(String),
    Ints(Vec<Dim>),
    Padding(Padding),
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Int(d) => write!(f, "{d}"),
            AttrValue::Float(x) => write!(f, "{x:?}"),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Str(s) => write!(f, "{s:?}"),
            AttrValue::Ints(v) => {
                let s: Vec<String> = v.iter().map(|d| d.to_string()).collect();
                write!(f, "[{}]", s.join(", "))
            }
            AttrValue::Padding(p) => write!(f, "{p}"),
        }
    }
}

/// An op's non-tensor arguments by name, every one present (defaults filled in).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attrs(pub Vec<(&'static str, AttrValue)>);

impl Attrs {
    pub fn get(&self, name: &str) -> Option<&AttrValue> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
    pub fn dim(&self, name: &str) -> Dim {
        match self.get(name) {
            Some(AttrValue::Int(d)) => d.clone(),
            _ => Dim::zero(),
        }
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        self.dim(name).as_int()
    }
    pub fn float(&self, name: &str) -> f64 {
        match self.get(name) {
            Some(AttrValue::Float(x)) => *x,
            Some(AttrValue::Int(d)) => d.as_int().unwrap_or(0) as f64,
            _ => 0.0,
        }
    }
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Some(AttrValue::Bool(true)))
    }
    pub fn str(&self, name: &str) -> &str {
        match self.get(name) {
            Some(AttrValue::Str(s)) => s,
            _ => "",
        }
    }
    /// A conv's or pool's padding; `same` when not given (ops built by synthesis).
    pub fn padding(&self) -> Padding {
        match self.get("padding") {
            Some(AttrValue::Padding(p)) => p.clone(),
            _ => Padding::Same,
        }
    }
    /// Whether `padding` was given as amounts (not `same` or `valid`).
    pub fn padding_is_explicit(&self) -> bool {
        matches!(self.padding(), Padding::Explicit { .. })
    }
    /// A window argument (`kernel: 3` or `kernel: [1, 7]`) as height and width.
    pub fn pair(&self, name: &str) -> [Dim; 2] {
        match self.get(name) {
            Some(AttrValue::Ints(v)) if v.len() == 2 => [v[0].clone(), v[1].clone()],
            _ => {
                let d = self.dim(name);
                [d.clone(), d]
            }
        }
    }
    /// [`Attrs::pair`] as numbers, when both are known.
    pub fn int_pair(&self, name: &str) -> Option<[i64; 2]> {
        let [h, w] = self.pair(name);
        Some([h.as_int()?, w.as_int()?])
    }
    pub fn dims(&self, name: &str) -> &[Dim] {
        match self.get(name) {
            Some(AttrValue::Ints(v)) => v,
            _ => &[],
        }
    }
}

/// Whether an op has learned state, for the lowerings and the parameter count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Stateless,
    /// Trainable weights (or a learned tensor).
    Learned,
    /// Trainable weights and running statistics that are not parameters (batch norm).
    LearnedWithStatistics,
}

/// How an op depends on the memory order of a rank-4 activation: a lowering may keep a tensor
/// channels-first across `Elementwise` ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutClass {
    /// Acts on each element alone (binary ops: on equal shapes), in any memory order.
    Elementwise,
    /// Mixes space on `[B, H, W, C]` (conv, pooling) or normalises per channel over space.
    Spatial,
    /// Needs the language's logical (channels-last) order.
    Logical,
}

/// Which dims of its input an op can change besides the ones every op keeps, for the
/// feasibility check of a hole's `ops in {..}` vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Changes {
    pub channels: bool,
    pub spatial: bool,
}

/// Where an op stands in synthesis and evolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synth {
    /// Not synthesized and not replaced by mutations: a boundary of mutable runs (reshapes,
    /// binary ops, attention pieces, reductions; paper §5).
    Boundary,
    /// A member of the activation class: every such op acts alike on mixing, depth and shape.
    Activation,
    /// Synthesized through its own class of `synth/space.rs` (dense, conv, norms, pools...).
    Class,
}

/// The facts other phases need about an op, beside its math.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Role {
    pub state: State,
    pub layout: LayoutClass,
    pub changes: Changes,
    pub synth: Synth,
}

impl Role {
    /// Single-input ops the mutation may replace.
    pub fn mutable(&self) -> bool {
        self.synth != Synth::Boundary
    }
}

/// Why an op's shape rule rejected its inputs. The checker adds spans.
#[derive(Clone, Debug, PartialEq)]
pub struct OpError {
    pub code: crate::diag::Code,
    pub message: String,
    /// The tensor input the error is about, when it is about one.
    pub input: Option<usize>,
    pub hint: Option<String>,
}

impl OpError {
    pub fn new(code: crate::diag::Code, message: impl Into<String>) -> OpError {
        OpError { code, message: message.into(), input: None, hint: None }
    }
    pub fn on_input(mut self, i: usize) -> OpError {
        self.input = Some(i);
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> OpError {
        self.hint = Some(h.into());
        self
    }
}

impl From<DimError> for OpError {
    fn from(e: DimError) -> OpError {
        OpError::new(crate::diag::codes::DimArith, e.to_string())
    }
}

/// One catalog entry.
pub struct OpSpec {
    pub kind: OpKind,
    pub name: &'static str,
    pub doc: &'static str,
    pub args: &'static [ArgSpec],
    pub linearity: Linearity,
    pub role: Role,
    /// Mixing matrix from an input slot to an output (paper §3.1).
    pub mixing: mixing::MixingFn,
    /// Output shapes from input shapes and attributes.
    pub shape: fn(&[Shape], &Attrs) -> Result<Vec<Shape>, OpError>,
    /// Trainable parameters (BN running statistics are not parameters).
    pub params: fn(&[Shape], &Attrs) -> Result<Dim, DimError>,
    /// Multiply-accumulates, from input and output shapes.
    pub macs: fn(&[Shape], &Attrs, &[Shape]) -> Result<Dim, DimError>,
}

impl OpSpec {
    /// How many leading arguments are tensors.
    pub fn tensor_args(&self) -> usize {
        self.args.iter().take_while(|a| matches!(a.kind, ArgKind::Tensor | ArgKind::Tensors)).count()
    }
    /// `conv(features, kernel, stride = 1, ...)` — the signature shown in hovers and errors.
    pub fn signature(&self) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| match a.default {
                None => a.name.to_string(),
                Some(DefaultValue::Int(i)) => format!("{}: {i}", a.name),
                Some(DefaultValue::Float(x)) => format!("{}: {x:?}", a.name),
                Some(DefaultValue::Bool(b)) => format!("{}: {b}", a.name),
                Some(DefaultValue::SameAs(o)) => format!("{}: {o}", a.name),
                Some(DefaultValue::SamePadding) => format!("{}: same", a.name),
                Some(DefaultValue::NoInts) => format!("{}: []", a.name),
                Some(DefaultValue::PaddingIsExplicit) => format!("{}: <padding is explicit>", a.name),
            })
            .collect();
        format!("{}({})", self.name, args.join(", "))
    }
}

/// An axis as written (negative counts from the end) as an index into a rank-`rank` shape;
/// `None` when it is symbolic or out of range. The one place axes are normalised.
pub fn normalize_axis(axis: &Dim, rank: usize) -> Option<usize> {
    let v = axis.as_int()?;
    let k = if v < 0 { v + rank as i64 } else { v };
    (0..rank as i64).contains(&k).then_some(k as usize)
}

/// `attrs` with every argument of `kind` that it lacks set to the catalog's default: ops built
/// by synthesis and rewrites mean what the same call written without those arguments means.
pub fn with_defaults(kind: OpKind, mut attrs: Attrs) -> Attrs {
    for a in spec(kind).args {
        if attrs.get(a.name).is_some() {
            continue;
        }
        if let Some(v) = a.default.and_then(|d| default_attr(d, &attrs)) {
            attrs.0.push((a.name, v));
        }
    }
    attrs
}

/// The value a default stands for, given the arguments before it; `None` for `SameAs` an
/// argument that is missing. The one place defaults are resolved (calls and built ops).
pub fn default_attr(d: DefaultValue, attrs: &Attrs) -> Option<AttrValue> {
    Some(match d {
        DefaultValue::Int(i) => AttrValue::Int(Dim::int(i)),
        DefaultValue::Float(x) => AttrValue::Float(x),
        DefaultValue::Bool(b) => AttrValue::Bool(b),
        DefaultValue::SameAs(o) => attrs.get(o)?.clone(),
        DefaultValue::SamePadding => AttrValue::Padding(Padding::Same),
        DefaultValue::NoInts => AttrValue::Ints(Vec::new()),
        DefaultValue::PaddingIsExplicit => AttrValue::Bool(attrs.padding_is_explicit()),
    })
}

pub fn catalog() -> &'static [OpSpec] {
    catalog::CATALOG
}

pub fn lookup(name: &str) -> Option<&'static OpSpec> {
    catalog::CATALOG.iter().find(|s| s.name == name)
}

/// Number of op kinds (`Identity` is the last variant).
const KINDS: usize = OpKind::Identity as usize + 1;

/// Each kind's index in the catalog, built at compile time: a kind without an entry (or a
/// catalog that names a kind twice) does not compile, so `spec` is total.
static BY_KIND: [usize; KINDS] = {
    let mut t = [usize::MAX; KINDS];
    let mut i = 0;
    while i < catalog::CATALOG.len() {
        let k = catalog::CATALOG[i].kind as usize;
        assert!(t[k] == usize::MAX, "an op kind has two catalog entries");
        t[k] = i;
        i += 1;
    }
    let mut k = 0;
    while k < KINDS {
        assert!(t[k] != usize::MAX, "an op kind has no catalog entry");
        k += 1;
    }
    t
};

pub fn spec(kind: OpKind) -> &'static OpSpec {
    &catalog::CATALOG[BY_KIND[kind as usize]]
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", spec(*self).name)
    }
}

#[cfg(test)]
mod tests;
