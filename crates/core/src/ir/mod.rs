//! The graph IR: ops and holes over tensors with symbolic shapes, in topological order.
//! Block calls are inlined; each node remembers the call (scope) it came from, so reports can
//! be given per block and evolution can find every instance of a block.

use crate::diag::Span;
use crate::ops::{Attrs, OpKind};
use crate::shape::{Dim, Shape};

pub type TensorId = usize;
pub type NodeId = usize;
pub type ScopeId = usize;

#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub shape: Shape,
    /// The node and output index that produced it; `None` for graph inputs.
    pub producer: Option<(NodeId, usize)>,
    /// The expression (or parameter) that made it.
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum NodeKind {
    Op { op: OpKind, attrs: Attrs },
    Hole(HoleSpec),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    pub span: Span,
    pub scope: ScopeId,
}

/// One elaborated block call (scope 0 is the graph's own block).
#[derive(Clone, Debug)]
pub struct Scope {
    pub block: String,
    pub parent: Option<ScopeId>,
    pub call_span: Span,
    pub outputs: Vec<TensorId>,
}

#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub name: String,
    pub nodes: Vec<Node>,
    pub tensors: Vec<TensorInfo>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    pub scopes: Vec<Scope>,
    /// The symbol standing for the batch dim of the first input, when it is symbolic.
    pub batch_symbol: Option<String>,
    /// Where names of tensors appear (bindings and uses), for editor hovers.
    pub bindings: Vec<(Span, TensorId)>,
}

impl Graph {
    pub fn shape(&self, t: TensorId) -> &Shape {
        &self.tensors[t].shape
    }
    pub fn holes(&self) -> impl Iterator<Item = (NodeId, &HoleSpec)> {
        self.nodes.iter().enumerate().filter_map(|(i, n)| match &n.kind {
            NodeKind::Hole(h) => Some((i, h)),
            NodeKind::Op { .. } => None,
        })
    }
    /// Is `scope` equal to or nested in `ancestor`?
    pub fn scope_within(&self, mut scope: ScopeId, ancestor: ScopeId) -> bool {
        loop {
            if scope == ancestor {
                return true;
            }
            match self.scopes.get(scope).and_then(|s| s.parent) {
                Some(p) => scope = p,
                None => return false,
            }
        }
    }
}

/// Lower bound on mixing written in a hole (paper §3.1).
#[derive(Clone, Debug, PartialEq)]
pub enum MixingBound {
    Pointwise,
    Dense,
    Conv,
    Full,
    /// Rows are input dims, columns output dims; entries x < o < m < a.
    Matrix(Vec<Vec<char>>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    AtLeast,
    AtMost,
    Exactly,
}

/// A checked hole constraint.
#[derive(Clone, Debug, PartialEq)]
pub enum HoleConstraint {
    Depth(Bound, i64),
    Mixing(Bound, MixingBound),
    Shape(Shape),
    Params(i64),
    Macs(i64),
    Ops(Vec<OpKind>),
}

#[derive(Clone, Debug)]
pub struct HoleSpec {
    pub constraints: Vec<HoleConstraint>,
    /// The block whose body holds the hole (filled once per block definition).
    pub block: String,
    pub span: Span,
}

/// Params and MACs of one node, evaluated at its shapes; MACs with the batch symbol set to 1.
pub fn node_cost(g: &Graph, n: &Node) -> Result<(Dim, Dim), crate::shape::DimError> {
    let NodeKind::Op { op, attrs } = &n.kind else { return Ok((Dim::zero(), Dim::zero())) };
    let spec = crate::ops::spec(*op);
    let ins: Vec<Shape> = n.inputs.iter().map(|&t| g.shape(t).clone()).collect();
    let outs: Vec<Shape> = n.outputs.iter().map(|&t| g.shape(t).clone()).collect();
    let params = (spec.params)(&ins, attrs)?;
    let macs = (spec.macs)(&ins, attrs, &outs)?;
    let b = g.batch_symbol.clone();
    let at_batch_one = |s: &str| (Some(s) == b.as_deref()).then(Dim::one);
    Ok((params, macs.substitute(&at_batch_one)?))
}
