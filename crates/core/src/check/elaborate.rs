//! Elaboration: AST → graph IR, checking shapes as it goes.
//!
//! A block is elaborated once *generically* (its tensor parameters get their declared symbolic
//! shapes) and again, inlined, at every call with the caller's shapes; a model is elaborated with
//! its declared input shapes. Every failure is a diagnostic; the value that failed becomes
//! `Val::Error`, which later steps accept silently, so one mistake is reported once.
//!
//! The elaborator's methods are split by concern: `env.rs` (bindings), `signature.rs`
//! (parameters, bodies, returns), `expr.rs` (expressions), `call.rs` (op and block calls) and
//! `hole.rs` (holes and their constraints).

use super::env::Env;
use super::summary::Summaries;
use crate::diag::{Diagnostic, SourceMap, Span};
use crate::ir::{Graph, NodeKind, Scope, ScopeId, TensorId, TensorInfo};
use crate::program::{BlockEntry, Program};
use crate::shape::{Dim, Shape};
use crate::syntax::ast::{Expr, ExprKind, Stage};
use std::rc::Rc;

/// The most dims a tensor may have. Mixing matrices are rank × rank, so a rank of 10^5 asked for
/// 10 GB; PyTorch itself stops at 64 dims.
pub const MAX_RANK: usize = 64;

/// The most times `|> f * n` may repeat a stage.
pub(super) const MAX_REPEAT: i64 = 1000;

/// The most op nodes one check may inline to, over all its entries. Repeats and block calls
/// multiply (`R * 1000` of a block that repeats `* 1000`, or blocks calling the next twice), so
/// without a budget a short file can ask for billions of nodes (each costs about 1 KB). The
/// largest shipped example (ViT-S/16) has under 2,000.
pub const MAX_NODES: usize = 200_000;

#[derive(Clone, Debug)]
pub enum Val {
    Tensor(TensorId),
    Int(Dim),
    Float(f64),
    Bool(bool),
    Str(String),
    List(Vec<Val>),
    Tuple(Vec<Val>),
    /// A float parameter of a block checked generically: known only at its calls.
    AnyFloat,
    /// Something already reported as an error.
    Error,
}

impl Val {
    pub(super) fn describe(&self) -> &'static str {
        match self {
            Val::Tensor(_) => "a tensor",
            Val::Int(_) => "an int",
            Val::Float(_) | Val::AnyFloat => "a float",
            Val::Bool(_) => "a bool",
            Val::Str(_) => "a string",
            Val::List(_) => "a list",
            Val::Tuple(_) => "a tuple",
            Val::Error => "an error",
        }
    }
}

/// When to give up checking early: the result is no longer wanted (the language server got a
/// newer version of the document) or a time budget ran out. The default never stops.
#[derive(Clone, Copy, Default)]
pub struct Stop<'a> {
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
    pub deadline: Option<std::time::Instant>,
}

impl Stop<'_> {
    pub fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    }
    pub fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| std::time::Instant::now() > d)
    }
}

/// Elaborates one entry (a model or a block checked generically) into one graph.
pub struct Elaborator<'p> {
    pub(super) prog: &'p Program,
    pub graph: Graph,
    pub diags: Vec<Diagnostic>,
    /// Blocks being elaborated, outermost first, with the span of each call.
    pub(super) stack: Vec<(String, Span)>,
    pub(super) scope: ScopeId,
    /// Nodes this entry may still add (see `MAX_NODES`).
    pub(super) budget: usize,
    pub(super) stop: Stop<'p>,
    /// Set once the node budget is spent; every later call is then an error already reported.
    pub(super) over_budget: bool,
    /// Unknown-name suggestions made so far (see `MAX_NAME_SUGGESTIONS`).
    pub(super) suggestions: usize,
    /// Set for a shallow check of a block: calls that only rename symbols take their outputs from
    /// the callee's generic check (see `summary.rs`).
    pub(super) summaries: Option<Rc<Summaries<'p>>>,
}

/// Elaborate `entry`: a model with its declared shapes, or a block generically, adding at most
/// `budget` op nodes (an error says so when it runs out).
pub fn elaborate<'p>(prog: &'p Program, entry: &BlockEntry, budget: usize, stop: Stop<'p>) -> (Graph, Vec<Diagnostic>) {
    let (graph, diags, _, _) = elaborate_with(prog, entry, budget, stop, None);
    (graph, diags)
}

/// `elaborate`, shallow when `summaries` is given; also returns each parameter's value and the
/// output value.
pub(super) fn elaborate_with<'p>(
    prog: &'p Program,
    entry: &BlockEntry,
    budget: usize,
    stop: Stop<'p>,
    summaries: Option<Rc<Summaries<'p>>>,
) -> (Graph, Vec<Diagnostic>, Vec<Val>, Val) {
    let mut e = Elaborator {
        prog,
        graph: Graph::default(),
        diags: Vec::new(),
        stack: Vec::new(),
        scope: 0,
        budget,
        stop,
        over_budget: false,
        suggestions: 0,
        summaries,
    };
    e.graph.name = entry.def.name.name.clone();
    e.graph.scopes.push(Scope { block: e.graph.name.clone(), parent: None, call_span: entry.def.name.span, outputs: vec![] });
    e.stack.push((entry.def.name.name.clone(), entry.def.name.span));
    let mut env = Env::default();
    let params = e.bind_generic_params(&entry.def, &mut env);
    e.graph.inputs = params.iter().filter_map(|v| if let Val::Tensor(t) = v { Some(*t) } else { None }).collect();
    e.graph.batch_symbol = e.graph.inputs.first().and_then(|&t| e.graph.tensors[t].shape.0.first()).and_then(|d| {
        let syms = d.symbols();
        (syms.len() == 1 && *d == Dim::sym(&syms[0])).then(|| syms[0].clone())
    });
    let out = e.body(&entry.def, &mut env);
    e.graph.outputs = tensors_of(&out);
    e.unused_warnings(&env);
    (e.graph, e.diags, params, out)
}

/// Is the value of `e` made by a hole (`?(x)` or `x |> ?`)?
pub(super) fn ends_in_hole(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Hole(_) => true,
        ExprKind::Pipe { stage, .. } => matches!(**stage, Stage::Hole(_)),
        _ => false,
    }
}

pub(super) fn tensors_of(v: &Val) -> Vec<TensorId> {
    match v {
        Val::Tensor(t) => vec![*t],
        Val::Tuple(vs) | Val::List(vs) => vs.iter().flat_map(tensors_of).collect(),
        _ => vec![],
    }
}

/// Unknown names get a suggestion each up to this many per entry: each one compares the name
/// with every name in scope, so 8,000 unknown names in a long block took seconds.
pub(super) const MAX_NAME_SUGGESTIONS: usize = 100;

impl<'p> Elaborator<'p> {
    pub(super) fn sources(&self) -> &SourceMap {
        &self.prog.sources
    }

    pub(super) fn error(&mut self, d: Diagnostic) -> Val {
        self.diags.push(d);
        Val::Error
    }

    pub(super) fn line_of(&self, span: Span) -> usize {
        self.sources().line_col(span.file, span.start).0
    }

    pub(super) fn new_tensor(&mut self, shape: Shape, producer: Option<(usize, usize)>, span: Span) -> TensorId {
        self.graph.tensors.push(TensorInfo { shape, producer, span });
        self.graph.tensors.len() - 1
    }

    /// "[B, 16, 16, 64] comes from `conv` on line 5".
    pub(super) fn origin_note(&self, t: TensorId) -> Option<String> {
        let info = self.graph.tensors.get(t)?;
        let (node, _) = info.producer?;
        let n = &self.graph.nodes[node];
        let what = match &n.kind {
            NodeKind::Op { op, .. } => format!("`{op}`"),
            NodeKind::Hole(_) => "a hole".to_string(),
        };
        let file = self.sources().get(n.span.file).map(|f| f.name.clone()).unwrap_or_default();
        Some(format!("{} comes from {what} at {file}:{}", info.shape, self.line_of(n.span)))
    }
}
