//! Subgraphs with several inputs for the `alpha` strategy (issue 15; paper §5 and the authors'
//! `GraphSynthesizer`, REFERENCE-CODE §3.5). A junction of a block body — `a + b`, `a * b` or
//! `concat([a, b], axis: -1)` — together with the single-input ops applied to its result
//! (`relu(a + b)`, `(a + b) |> relu |> …`) is one subgraph whose inputs are the junction's two
//! operands. Its properties are inferred per input, mutated, and a new two-input subgraph is
//! synthesized (`synth::graph`: a chain per input, a junction, a tail). With `p_drop_branch` a
//! sum's or product's branch is dropped instead: the kept operand gets a chain that meets its
//! mutated properties, and `let`s left unused are removed.
//!
//! Deviation: the authors keep the junctions of the chosen subgraph fixed and re-synthesize
//! the chains between them; here the junction is re-chosen too (sum or concat), since nasc's
//! graph synthesizer picks one, and the subgraph is the junction with the ops after it (the
//! chains before it are subgraphs of their own, mutated as single-input runs).

use super::source::{stage_op, unpipe};
use nasc_core::check::Checked;
use nasc_core::diag::Span;
use nasc_core::ir::{Graph, Node, NodeKind};
use nasc_core::ops::{OpKind, normalize_axis};
use nasc_core::program::Program;
use nasc_core::props::{Chain, ChainOp, Target, infer_between};
use nasc_core::shape::Shape;
use nasc_core::syntax::ast::{BinOp, Expr, ExprKind, File, Stage, StmtKind};
use nasc_core::syntax::print::print_expr;
use nasc_core::syntax::visit;
use nasc_core::synth::fill::{chain_expr, graph_expr};
use nasc_core::synth::graph::junction_op;

/// A junction in a block body and the ops applied to its result.
#[derive(Clone, Debug)]
pub struct Site {
    pub block: String,
    /// The expression an edit replaces: the junction, or the call or pipe around it.
    pub replace: Span,
    pub junction: OpKind,
    /// The two operand expressions (the subgraph's inputs) and their shapes.
    pub operands: Vec<Expr>,
    pub inputs: Vec<Shape>,
    /// Single-input ops applied to the junction's result, and the stages after them that stay.
    pub tail: Vec<ChainOp>,
    pub rest: Vec<Stage>,
    pub output: Shape,
}

impl Site {
    /// Each input's path through the junction and the tail: the subgraph's inferred properties.
    pub fn paths(&self) -> Option<Vec<Chain>> {
        let op = junction_op(self.junction);
        (0..self.inputs.len()).map(|k| self.tail.iter().try_fold(Chain::identity(&self.inputs[k]).through(&op, &self.inputs, k)?, |c, o| c.then(o))).collect()
    }
}

/// The junction sites of `block`, in source order, each once (with its longest tail).
pub fn sites(prog: &Program, checked: &Checked, block: &str) -> Vec<Site> {
    let (Some(entry), Some(g)) = (prog.block(block), checked.graph(block)) else { return vec![] };
    let mut out: Vec<(Span, Site)> = Vec::new();
    for value in visit::body_values(&entry.def) {
        visit::walk(value, &mut |e| {
            if let Some(site) = site_at(g, block, e) {
                let key = site.operands[0].span;
                match out.iter_mut().find(|(k, _)| k.range() == key.range()) {
                    Some((_, s)) if s.tail.len() < site.tail.len() => *s = site,
                    Some(_) => {}
                    None => out.push((key, site)),
                }
            }
        });
    }
    out.sort_by_key(|(k, _)| k.start);
    out.into_iter().map(|(_, s)| s).collect()
}

/// A site whose replaced expression is `e`: a junction, `op(junction)`, or `junction |> …`.
fn site_at(g: &Graph, block: &str, e: &Expr) -> Option<Site> {
    let (j, tail, rest) = match &e.kind {
        ExprKind::Call { args, .. } if args.len() == 1 && args[0].name.is_none() => {
            let (op, _, _) = call_op(g, e.span)?;
            (&args[0].value, vec![op], vec![])
        }
        ExprKind::Pipe { .. } => {
            let (base, stages) = unpipe(e.clone());
            let n = stages.iter().take_while(|s| stage_op(g, s).is_some()).count();
            let tail: Vec<ChainOp> = stages[..n].iter().filter_map(|s| stage_op(g, s).map(|(op, _, _)| op)).collect();
            return junction(g, block, &base, e.span, tail, stages[n..].to_vec());
        }
        _ => (e, vec![], vec![]),
    };
    junction(g, block, j, e.span, tail, rest)
}

fn junction(g: &Graph, block: &str, j: &Expr, replace: Span, tail: Vec<ChainOp>, rest: Vec<Stage>) -> Option<Site> {
    let operands = match &j.kind {
        ExprKind::Binary { op: BinOp::Add | BinOp::Mul, lhs, rhs } => vec![(**lhs).clone(), (**rhs).clone()],
        ExprKind::Call { callee, args } if callee.name == "concat" => match args.first().map(|a| &a.value.kind) {
            Some(ExprKind::List(items)) if items.len() == 2 => items.clone(),
            _ => return None,
        },
        _ => return None,
    };
    let node = node_at(g, j.span)?;
    let NodeKind::Op { op, attrs } = &node.kind else { return None };
    if !matches!(op, OpKind::Add | OpKind::Mul | OpKind::Concat) || node.inputs.len() != 2 {
        return None;
    }
    let inputs: Vec<Shape> = node.inputs.iter().map(|&t| g.shape(t).clone()).collect();
    // Sums and products of equal shapes (no broadcasting), concatenations of channels.
    let rank = inputs[0].rank();
    let fits = match op {
        OpKind::Concat => normalize_axis(&attrs.dim("axis"), rank) == Some(rank - 1),
        _ => inputs[0] == inputs[1],
    };
    let output = tail.iter().try_fold(Chain::identity(g.shape(node.outputs[0])), |c, o| c.then(o))?.shape;
    fits.then(|| Site { block: block.to_string(), replace, junction: *op, operands, inputs, tail, rest, output })
}

fn node_at(g: &Graph, span: Span) -> Option<&Node> {
    g.nodes.iter().find(|n| n.scope == 0 && n.span.range() == span.range() && matches!(n.kind, NodeKind::Op { .. }))
}

/// The single-input mutable op a call expression became.
fn call_op(g: &Graph, span: Span) -> Option<(ChainOp, usize, usize)> {
    let node = node_at(g, span)?;
    let NodeKind::Op { op, attrs } = &node.kind else { return None };
    let single = node.inputs.len() == 1 && node.outputs.len() == 1 && nasc_core::ops::spec(*op).tensor_args() == 1;
    (single && super::source::is_mutable_op(*op)).then(|| (ChainOp { op: *op, attrs: attrs.clone() }, node.inputs[0], node.outputs[0]))
}

/// The replacement of a site: a two-input fill, or one operand's chain (a dropped branch).
pub enum Replacement<'a> {
    Graph(&'a nasc_core::synth::graph::GraphFill),
    Keep { operand: usize, ops: &'a [ChainOp] },
}

/// The new expression (without the stages that stay) and the file with it in place of the
/// site, `let`s it left unused removed.
pub fn rewrite(file: &File, site: &Site, new: Replacement) -> Option<(File, Expr)> {
    let span = site.replace;
    let expr = match new {
        Replacement::Graph(g) => graph_expr(g, &site.operands, span)?,
        Replacement::Keep { operand, ops } => chain_expr(site.operands.get(operand)?.clone(), ops),
    };
    let whole = site.rest.iter().cloned().fold(expr.clone(), |acc, stage| Expr { kind: ExprKind::Pipe { input: Box::new(acc), stage: Box::new(stage) }, span });
    let mut file = file.clone();
    let mut done = false;
    super::source::with_block(&mut file, &site.block, |def| {
        for value in visit::body_values_mut(def) {
            done |= replace_at(value, span, &whole);
        }
        drop_unused_lets(&mut def.body);
    });
    done.then_some((file, expr))
}

fn replace_at(e: &mut Expr, span: Span, new: &Expr) -> bool {
    if e.span.range() == span.range() && !matches!(e.kind, ExprKind::Name(_)) {
        *e = new.clone();
        return true;
    }
    visit::children_mut(e).into_iter().any(|c| replace_at(c, span, new))
}

/// Remove `let`s none of whose names is used, until none is left (a dropped branch's chain).
fn drop_unused_lets(body: &mut Vec<nasc_core::syntax::ast::Stmt>) {
    loop {
        let used = |name: &str, body: &[nasc_core::syntax::ast::Stmt]| {
            body.iter().any(|s| {
                let (StmtKind::Let { value, .. } | StmtKind::Return(value)) = &s.kind;
                visit::find_map(value, &mut |e| matches!(&e.kind, ExprKind::Name(n) if n == name).then_some(())).is_some()
            })
        };
        let dead = body.iter().position(|s| matches!(&s.kind, StmtKind::Let { pat, .. } if pat.names().iter().all(|n| !used(&n.name, body))));
        match dead {
            Some(k) => {
                body.remove(k);
            }
            None => return,
        }
    }
}

/// What a stored child must satisfy: the replacement's expression (printed) in `block`, the
/// ops on each branch and after the junction, and each input's target.
#[derive(Clone, Debug)]
pub struct Check {
    pub block: String,
    pub text: String,
    /// A dropped branch: one chain, `branches[0]` ops long, and no junction.
    pub dropped: bool,
    pub branches: Vec<usize>,
    pub tail: usize,
    pub targets: Vec<Target>,
}

/// Re-infer the replacement's properties from the child's own checked graph: find its
/// expression, the tensors where its inputs enter and where its output leaves, and run the
/// abstract interpretation on the subgraph between them.
pub fn verify(prog: &Program, checked: &Checked, v: &Check) -> bool {
    let (Some(entry), Some(g)) = (prog.block(&v.block), checked.graph(&v.block)) else { return false };
    let found = visit::body_values(&entry.def).find_map(|value| visit::find_map(value, &mut |e| (print_expr(e, 0) == v.text).then(|| e.clone())));
    let Some(e) = found else { return false };
    if v.dropped && v.branches[0] == 0 {
        return v.targets[0].satisfied(&Chain::identity(&v.targets[0].input));
    }
    let Some((inputs, output)) = locate(g, &e, v) else { return false };
    let pairs = infer_between(g, &inputs, &[output]);
    v.targets.iter().enumerate().all(|(k, t)| match &pairs[0][k] {
        Some(p) => {
            let chain = Chain { mixing: p.mixing.clone(), depth: p.depth, shape: g.shape(output).clone(), ..Chain::identity(g.shape(inputs[k])) };
            t.satisfied(&chain)
        }
        None => false,
    })
}

/// Strip `n` pipe stages off `e`, returning the inner expression and the outermost stripped stage.
fn peel(e: &Expr, n: usize) -> Option<(&Expr, Option<&Stage>)> {
    let mut cur = e;
    let mut outer = None;
    for _ in 0..n {
        let ExprKind::Pipe { input, stage } = &cur.kind else { return None };
        outer.get_or_insert(&**stage);
        cur = input;
    }
    Some((cur, outer))
}

/// The output tensor of an expression that is an op (a call, a binary op or a pipe stage).
fn output_of(g: &Graph, e: &Expr, outer: Option<&Stage>) -> Option<usize> {
    let span = outer.map_or(e.span, Stage::span);
    node_at(g, span)?.outputs.first().copied()
}

/// The tensor entering a chain of `n` ops at the end of `e`, or `fallback` when `n` is 0.
fn chain_input(g: &Graph, e: &Expr, n: usize, fallback: Option<usize>) -> Option<usize> {
    if n == 0 {
        return fallback;
    }
    let (inner, _) = peel(e, n - 1)?;
    let ExprKind::Pipe { stage, .. } = &inner.kind else { return None };
    node_at(g, stage.span())?.inputs.first().copied()
}

fn locate(g: &Graph, e: &Expr, v: &Check) -> Option<(Vec<usize>, usize)> {
    let (body, outer) = peel(e, v.tail)?;
    if v.dropped {
        let n = v.branches[0];
        let (_, last) = peel(e, n)?;
        return Some((vec![chain_input(g, e, n, None)?], output_of(g, e, last)?));
    }
    let output = output_of(g, body, outer)?;
    let jnode = node_at(g, body.span)?;
    let operands: Vec<&Expr> = match &body.kind {
        ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
        ExprKind::Call { args, .. } => match &args.first()?.value.kind {
            ExprKind::List(items) => items.iter().collect(),
            _ => return None,
        },
        _ => return None,
    };
    let inputs =
        operands.iter().zip(&v.branches).enumerate().map(|(k, (o, &n))| chain_input(g, o, n, jnode.inputs.get(k).copied())).collect::<Option<Vec<_>>>()?;
    Some((inputs, output))
}
