//! Program properties (paper §3): mixing, depth and shape, inferred abstractly — no tensors run.
//!
//! [`Chain`] is the incremental form used by synthesis: one input, one output, extended one op at
//! a time from the previous step's value. [`infer_graph`] covers any IR graph with several inputs
//! and outputs (one value per (input, output) pair, joined by max where paths meet).

pub mod target;

use crate::ir::{Graph, NodeKind};
use crate::ops::mixing::{Level, Mixing, op_mixing};
use crate::ops::{Attrs, Linearity, OpKind, spec};
use crate::shape::{Dim, Shape};

pub use target::{Distance, Target};

/// Depth as alternations of linear and non-linear ops (paper §3.2), kept per kind of the last
/// op on a path so that extending and joining are exact: the maximum alternation count over
/// paths ending in a linear op, in a non-linear op, and whether an op-free path exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Depth {
    pub ends_linear: Option<u32>,
    pub ends_nonlinear: Option<u32>,
    pub empty_path: bool,
}

impl Depth {
    /// The value at a subgraph input: only the empty path.
    pub fn start() -> Depth {
        Depth { ends_linear: None, ends_nonlinear: None, empty_path: true }
    }
    /// The depth property: the most alternations on any path.
    pub fn value(&self) -> u32 {
        self.ends_linear.max(self.ends_nonlinear).unwrap_or(0)
    }
    pub fn then(&self, lin: Linearity) -> Depth {
        let after = |kind_linear: bool| {
            let from_lin = self.ends_linear.map(|d| d + u32::from(!kind_linear));
            let from_non = self.ends_nonlinear.map(|d| d + u32::from(kind_linear));
            let from_empty = self.empty_path.then_some(0);
            from_lin.max(from_non).max(from_empty)
        };
        match lin {
            Linearity::Neutral => *self,
            Linearity::Linear => Depth { ends_linear: after(true), ends_nonlinear: None, empty_path: false },
            Linearity::NonLinear => Depth { ends_linear: None, ends_nonlinear: after(false), empty_path: false },
        }
    }
    pub fn join(&self, o: &Depth) -> Depth {
        Depth {
            ends_linear: self.ends_linear.max(o.ends_linear),
            ends_nonlinear: self.ends_nonlinear.max(o.ends_nonlinear),
            empty_path: self.empty_path || o.empty_path,
        }
    }
}

/// One op of a synthesized chain: its kind and attributes (the piped input is implicit).
#[derive(Clone, Debug, PartialEq)]
pub struct ChainOp {
    pub op: OpKind,
    pub attrs: Attrs,
}

/// Properties of a single-input, single-output chain of ops, with its resource use.
#[derive(Clone, Debug, PartialEq)]
pub struct Chain {
    pub input: Shape,
    pub mixing: Mixing,
    pub depth: Depth,
    pub shape: Shape,
    pub params: Dim,
    pub macs: Dim,
    pub len: usize,
}

impl Chain {
    /// The empty chain (the identity) on `input`.
    pub fn identity(input: &Shape) -> Chain {
        Chain {
            input: input.clone(),
            mixing: Mixing::identity(input.rank()),
            depth: Depth::start(),
            shape: input.clone(),
            params: Dim::zero(),
            macs: Dim::zero(),
            len: 0,
        }
    }

    /// The chain extended by one op, computed from this chain's value alone; `None` when the op
    /// does not apply to the current shape.
    pub fn then(&self, op: &ChainOp) -> Option<Chain> {
        self.through(op, std::slice::from_ref(&self.shape), 0)
    }

    /// This chain's value carried through input `slot` of a junction `op` (add, concat) whose
    /// inputs have shapes `inputs`: the path from this chain's input to the junction's output.
    /// Params and MACs are this chain's plus the junction's own.
    pub fn through(&self, op: &ChainOp, inputs: &[Shape], slot: usize) -> Option<Chain> {
        let s = spec(op.op);
        let outs = (s.shape)(inputs, &op.attrs).ok()?;
        let [out] = outs.as_slice() else { return None };
        let step = op_mixing(op.op, &op.attrs, inputs, &outs, slot, 0);
        Some(Chain {
            input: self.input.clone(),
            mixing: self.mixing.then(&step),
            depth: self.depth.then(s.linearity),
            shape: out.clone(),
            params: self.params.add(&(s.params)(inputs, &op.attrs).ok()?).ok()?,
            macs: self.macs.add(&(s.macs)(inputs, &op.attrs, &outs).ok()?).ok()?,
            len: self.len + 1,
        })
    }

    /// Properties of a whole op sequence; `None` if some op does not apply.
    pub fn of(input: &Shape, ops: &[ChainOp]) -> Option<Chain> {
        ops.iter().try_fold(Chain::identity(input), |c, op| c.then(op))
    }
}

/// Properties of one (input, output) pair of a graph.
#[derive(Clone, Debug, PartialEq)]
pub struct PairProps {
    pub mixing: Mixing,
    pub depth: Depth,
}

/// Properties of a graph: for each output, for each input, `None` when no path connects them
/// (or a hole lies on every path).
#[derive(Clone, Debug)]
pub struct GraphProps {
    pub pairs: Vec<Vec<Option<PairProps>>>,
    pub output_shapes: Vec<Shape>,
    pub input_shapes: Vec<Shape>,
    /// Holes make the properties through them unknown.
    pub holes: usize,
}

/// Infer mixing and depth for every (input, output) pair of a graph in one topological pass.
pub fn infer_graph(g: &Graph) -> GraphProps {
    GraphProps {
        pairs: infer_between(g, &g.inputs, &g.outputs),
        output_shapes: g.outputs.iter().map(|&t| g.shape(t).clone()).collect(),
        input_shapes: g.inputs.iter().map(|&t| g.shape(t).clone()).collect(),
        holes: g.holes().count(),
    }
}

/// Mixing and depth for every (input, output) pair of the subgraph of `g` between the tensors
/// `inputs` and `outputs`: paths start at the inputs and are cut there (an input computed from
/// another input starts afresh, so only paths inside the subgraph count).
pub fn infer_between(g: &Graph, inputs: &[usize], outputs: &[usize]) -> Vec<Vec<Option<PairProps>>> {
    let n_in = inputs.len();
    // per tensor, per subgraph input
    let mut at: Vec<Vec<Option<PairProps>>> = vec![vec![None; n_in]; g.tensors.len()];
    for (k, &t) in inputs.iter().enumerate() {
        let r = g.shape(t).rank();
        at[t][k] = Some(PairProps { mixing: Mixing::identity(r), depth: Depth::start() });
    }
    for n in &g.nodes {
        let NodeKind::Op { op, attrs } = &n.kind else { continue };
        let s = spec(*op);
        let ins: Vec<Shape> = n.inputs.iter().map(|&t| g.shape(t).clone()).collect();
        let outs: Vec<Shape> = n.outputs.iter().map(|&t| g.shape(t).clone()).collect();
        for (o, &out_t) in n.outputs.iter().enumerate().filter(|(_, t)| !inputs.contains(t)) {
            for k in 0..n_in {
                let mut acc: Option<PairProps> = None;
                for (slot, &in_t) in n.inputs.iter().enumerate() {
                    let Some(p) = &at[in_t][k] else { continue };
                    let step = op_mixing(*op, attrs, &ins, &outs, slot, o);
                    let next = PairProps { mixing: p.mixing.then(&step), depth: p.depth.then(s.linearity) };
                    acc = Some(match acc {
                        None => next,
                        Some(a) => PairProps { mixing: a.mixing.join(&next.mixing), depth: a.depth.join(&next.depth) },
                    });
                }
                at[out_t][k] = acc;
            }
        }
    }
    outputs.iter().map(|&t| at[t].clone()).collect()
}

/// Render a mixing matrix as a table with dim names on both axes.
pub fn mixing_table(m: &Mixing, rows: &[String], cols: &[String]) -> String {
    let w = rows.iter().chain(cols).map(String::len).max().unwrap_or(1).max(1);
    let first = rows.iter().map(String::len).max().unwrap_or(0).max(6);
    let mut out = format!("{:>first$}  ", "in\\out");
    for c in cols {
        out.push_str(&format!("{c:>w$} "));
    }
    out.push('\n');
    for (i, r) in rows.iter().enumerate().take(m.rows) {
        out.push_str(&format!("{r:>first$}  "));
        for j in 0..m.cols {
            out.push_str(&format!("{:>w$} ", m.get(i, j).letter()));
        }
        out.push('\n');
    }
    out
}

/// The named mixing bounds of hole constraints, for a rank-`r` tensor (batch first, channels
/// last): `pointwise` (every dim one-to-one), `dense` (+ channels all-to-one into every dim),
/// `conv` (+ spatial many-to-one), `full` (everything all-to-one).
pub fn named_mixing(name: &crate::ir::MixingBound, r: usize) -> Option<Mixing> {
    use crate::ir::MixingBound as MB;
    let mut m = Mixing::identity(r);
    match name {
        MB::Pointwise => {}
        MB::Dense => {
            if r > 0 {
                m.set_row(r - 1, Level::A);
            }
        }
        MB::Conv => {
            if r > 0 {
                m.set_row(r - 1, Level::A);
            }
            for i in 1..r.saturating_sub(1) {
                m.set(i, i, Level::M);
            }
        }
        MB::Full => m = Mixing::filled(r, r, Level::A),
        MB::Matrix(rows) => {
            if rows.len() != r || rows.iter().any(|row| row.len() != r) {
                return None;
            }
            for (i, row) in rows.iter().enumerate() {
                for (j, ch) in row.iter().enumerate() {
                    m.set(i, j, Level::from_letter(*ch)?);
                }
            }
        }
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::AttrValue;

    fn shape(d: &[i64]) -> Shape {
        Shape(d.iter().map(|&x| Dim::int(x)).collect())
    }

    fn op(kind: OpKind, attrs: &[(&'static str, AttrValue)]) -> ChainOp {
        ChainOp { op: kind, attrs: Attrs(attrs.to_vec()) }
    }

    #[test]
    fn depth_counts_alternations() {
        let d = Depth::start().then(Linearity::Linear).then(Linearity::NonLinear).then(Linearity::Linear);
        assert_eq!(d.value(), 2);
        let relu_only = Depth::start().then(Linearity::NonLinear);
        assert_eq!(relu_only.value(), 0);
        assert_eq!(d.join(&relu_only).then(Linearity::NonLinear).value(), 3);
    }

    #[test]
    fn mlp_chain_properties() {
        let f = |n: i64| AttrValue::Int(Dim::int(n));
        let ops = [
            op(OpKind::Dense, &[("features", f(32)), ("bias", AttrValue::Bool(true))]),
            op(OpKind::Gelu, &[]),
            op(OpKind::Dense, &[("features", f(8)), ("bias", AttrValue::Bool(true))]),
        ];
        let c = Chain::of(&shape(&[2, 5, 8]), &ops).expect("applies");
        assert_eq!(c.depth.value(), 2);
        assert_eq!(c.shape, shape(&[2, 5, 8]));
        assert_eq!(c.params.as_int(), Some(8 * 32 + 32 + 32 * 8 + 8));
        assert_eq!(format!("{:?}", c.mixing), "[oxx/xox/aaa]");
    }
}
